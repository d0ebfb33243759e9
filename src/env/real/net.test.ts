import { afterEach, describe, expect, it } from 'vitest';
import { concatBytes, fromUtf8, utf8 } from '../../util/bytes.js';
import { isTesseraError, type TesseraError } from '../../util/errors.js';
import type { Address, Connection, Listener } from '../types.js';
import { DATAGRAM_BYTES_MAX } from './datagram.js';
import { RealNetwork } from './net.js';

const net = new RealNetwork();
const LOCALHOST = '127.0.0.1';
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Records what a connection delivers. */
class Sink {
  readonly chunks: Uint8Array[] = [];
  bytes = 0;
  closed: { error: TesseraError | undefined } | undefined;
  closeCount = 0;
  drains = 0;
  private waiters: (() => void)[] = [];

  constructor(conn: Connection) {
    conn.setHandlers({
      onData: (chunk) => {
        this.chunks.push(chunk);
        this.bytes += chunk.length;
        this.wake();
      },
      onClose: (error) => {
        this.closed = { error };
        this.closeCount++;
        this.wake();
      },
      onDrain: () => {
        this.drains++;
        this.wake();
      },
    });
  }

  text(): string {
    return fromUtf8(concatBytes(this.chunks));
  }

  async until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Listens on 127.0.0.1 with port 0; resolves accepted connections in order. */
async function listen(): Promise<{ listener: Listener; accepted: () => Promise<Connection> }> {
  const queue: Connection[] = [];
  const waiting: ((c: Connection) => void)[] = [];
  const listener = await net.listen({ host: LOCALHOST, port: 0 }, (conn) => {
    cleanups.push(() => conn.destroy());
    const w = waiting.shift();
    if (w) w(conn);
    else queue.push(conn);
  });
  cleanups.push(() => listener.close());
  const accepted = (): Promise<Connection> => {
    const c = queue.shift();
    return c ? Promise.resolve(c) : new Promise((resolve) => waiting.push(resolve));
  };
  return { listener, accepted };
}

async function connect(address: Address): Promise<Connection> {
  const conn = await net.connect(address, { timeoutMs: 5000 });
  cleanups.push(() => conn.destroy());
  return conn;
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('RealNetwork streams', () => {
  it('listens on port 0, reports the bound address and echoes', async () => {
    const { listener, accepted } = await listen();
    expect(listener.address.host).toBe(LOCALHOST);
    expect(listener.address.port).toBeGreaterThan(0);
    const client = await connect(listener.address);
    const server = await accepted();
    expect(client.remote).toEqual(listener.address);
    expect(server.remote).toEqual(client.local);
    server.setHandlers({ onData: (chunk) => server.write(chunk), onClose: () => {} });
    const sink = new Sink(client);
    expect(client.write(utf8('hello, '))).toBe(true);
    client.write(utf8('world'));
    await sink.until(() => sink.bytes === 12, 'echo');
    expect(sink.text()).toBe('hello, world');
  });

  it('delivers many chunks in order', async () => {
    const { listener, accepted } = await listen();
    const client = await connect(listener.address);
    const sink = new Sink(await accepted());
    const parts: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const part = `${i},`;
      parts.push(part);
      client.write(utf8(part));
    }
    const expected = parts.join('');
    await sink.until(() => sink.bytes === expected.length, 'all chunks');
    expect(sink.text()).toBe(expected);
  });

  it('buffers data that arrives before setHandlers', async () => {
    const { listener, accepted } = await listen();
    const client = await connect(listener.address);
    const server = await accepted();
    client.write(utf8('early'));
    client.end();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const sink = new Sink(server);
    await sink.until(() => sink.closed !== undefined, 'close');
    expect(sink.text()).toBe('early');
    expect(sink.closed?.error).toBeUndefined();
  });

  it('applies back-pressure: write says false, pause holds data, drain follows resume', async () => {
    const { listener, accepted } = await listen();
    const client = await connect(listener.address);
    const server = await accepted();
    server.pause();
    const sink = new Sink(server);
    const clientSink = new Sink(client);
    const big = new Uint8Array(64 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
    expect(client.write(big)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sink.bytes).toBe(0);
    expect(clientSink.drains).toBe(0);
    server.resume();
    await sink.until(() => sink.bytes === big.length, 'all bytes', 30_000);
    await clientSink.until(() => clientSink.drains > 0, 'drain');
    // Not toEqual: deep equality walks 64 MiB element by element.
    expect(Buffer.compare(concatBytes(sink.chunks), big)).toBe(0);
  });

  it('pause and resume after data has started flowing', async () => {
    const { listener, accepted } = await listen();
    const client = await connect(listener.address);
    const server = await accepted();
    const sink = new Sink(server);
    client.write(utf8('one'));
    await sink.until(() => sink.bytes === 3, 'first write');
    server.pause();
    client.write(utf8('two'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sink.bytes).toBe(3);
    server.resume();
    await sink.until(() => sink.bytes === 6, 'second write');
    expect(sink.text()).toBe('onetwo');
  });

  it('end closes both sides in order, with no error', async () => {
    const { listener, accepted } = await listen();
    const client = await connect(listener.address);
    const server = await accepted();
    const serverSink = new Sink(server);
    const clientSink = new Sink(client);
    client.write(utf8('last words'));
    client.end();
    expect(client.closed).toBe(true);
    expect(client.write(utf8('too late'))).toBe(false);
    await serverSink.until(() => serverSink.closed !== undefined, 'server close');
    await clientSink.until(() => clientSink.closed !== undefined, 'client close');
    expect(serverSink.text()).toBe('last words');
    expect(serverSink.closed?.error).toBeUndefined();
    expect(clientSink.closed?.error).toBeUndefined();
    expect(server.closed).toBe(true);
  });

  it('destroy resets: the peer sees CONNECTION_CLOSED, each side is told once', async () => {
    const { listener, accepted } = await listen();
    const client = await connect(listener.address);
    const server = await accepted();
    const serverSink = new Sink(server);
    const clientSink = new Sink(client);
    server.destroy();
    server.destroy();
    await clientSink.until(() => clientSink.closed !== undefined, 'client close');
    await serverSink.until(() => serverSink.closed !== undefined, 'server close');
    expect(isTesseraError(clientSink.closed?.error, 'CONNECTION_CLOSED')).toBe(true);
    expect(serverSink.closed?.error).toBeUndefined();
    client.destroy();
    client.end();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(clientSink.closeCount).toBe(1);
    expect(serverSink.closeCount).toBe(1);
  });

  it('reports a close that happened before setHandlers', async () => {
    const { listener, accepted } = await listen();
    const client = await connect(listener.address);
    const server = await accepted();
    client.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const sink = new Sink(server);
    await sink.until(() => sink.closed !== undefined, 'close');
    expect(isTesseraError(sink.closed?.error, 'CONNECTION_CLOSED')).toBe(true);
  });

  it('fails CONNECTION_REFUSED on a closed port', async () => {
    const { listener } = await listen();
    const address = listener.address;
    await listener.close();
    const err = await failure(net.connect(address, { timeoutMs: 5000 }));
    expect(isTesseraError(err, 'CONNECTION_REFUSED'), String(err)).toBe(true);
  });

  it('fails DEADLINE_EXCEEDED at once for a deadline already passed', async () => {
    const { listener } = await listen();
    const err = await failure(net.connect(listener.address, { timeoutMs: 0 }));
    expect(isTesseraError(err, 'DEADLINE_EXCEEDED')).toBe(true);
  });

  it('fails ADDRESS_IN_USE for a taken port', async () => {
    const { listener } = await listen();
    const err = await failure(net.listen(listener.address, () => {}));
    expect(isTesseraError(err, 'ADDRESS_IN_USE')).toBe(true);
  });

  it('a closed listener keeps accepted connections open', async () => {
    const { listener, accepted } = await listen();
    const client = await connect(listener.address);
    const server = await accepted();
    await listener.close();
    await listener.close();
    const sink = new Sink(server);
    client.write(utf8('still here'));
    await sink.until(() => sink.bytes === 10, 'data after listener close');
    expect(sink.closed).toBeUndefined();
  });
});

describe('RealNetwork datagrams', () => {
  it('round-trips datagrams on 127.0.0.1', async () => {
    const a = await net.bindDatagram({ host: LOCALHOST, port: 0 });
    const b = await net.bindDatagram({ host: LOCALHOST, port: 0 });
    cleanups.push(
      () => a.close(),
      () => b.close(),
    );
    expect(a.address.port).toBeGreaterThan(0);
    b.setHandler((data, from) => b.send(from, concatBytes([utf8('re: '), data])));
    const replies: { text: string; from: Address }[] = [];
    a.setHandler((data, from) => replies.push({ text: fromUtf8(data), from }));
    a.send(b.address, utf8('ping'));
    const deadline = Date.now() + 5000;
    while (replies.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(replies).toEqual([{ text: 're: ping', from: b.address }]);
  });

  it('refuses oversized datagrams, and a taken port', async () => {
    const a = await net.bindDatagram({ host: LOCALHOST, port: 0 });
    cleanups.push(() => a.close());
    expect(() => a.send(a.address, new Uint8Array(DATAGRAM_BYTES_MAX + 1))).toThrow(/exceeds/);
    const err = await failure(net.bindDatagram(a.address));
    expect(isTesseraError(err, 'ADDRESS_IN_USE')).toBe(true);
    await a.close();
    a.send(a.address, utf8('after close is dropped'));
  });
});
