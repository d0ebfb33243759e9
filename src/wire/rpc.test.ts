/**
 * RpcServer and RpcClient over the real network (127.0.0.1, real sockets and timers).
 */
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { Address, Env, Listener } from '../env/types.js';
import { realEnv } from '../env/real/index.js';
import { TesseraError } from '../util/errors.js';
import { encodeFrames } from './frame.js';
import { FrameKind, FRAME_BYTES_MIN } from './format.js';
import { RpcClient, RpcServer, type CallContext, type RpcServerOptions } from './index.js';
import { RawPeer } from './testdata/raw-peer.js';

const env: Env = realEnv({ name: 'wire-test', root: tmpdir() });
const LOCALHOST: Address = { host: '127.0.0.1', port: 0 };

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startServer(
  options: RpcServerOptions = {},
  setup?: (s: RpcServer) => void,
): Promise<{ server: RpcServer; address: Address }> {
  const server = new RpcServer(env, options);
  server.handle('echo', (args) => args);
  setup?.(server);
  const address = await server.listen(LOCALHOST);
  cleanups.push(() => server.close({ drainTimeoutMs: 0 }));
  return { server, address };
}

async function connect(address: Address, options = {}): Promise<RpcClient> {
  const client = await RpcClient.connect(env, address, options);
  cleanups.push(() => client.close());
  return client;
}

function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    (v) => `resolved ${JSON.stringify(v)}`,
    (e: unknown) => (e instanceof TesseraError ? e.code : `non-Tessera ${String(e)}`),
  );
}

/** A promise with its resolve exposed. */
function gate<T = void>(): { promise: Promise<T>; open: (v: T) => void } {
  let open!: (v: T) => void;
  const promise = new Promise<T>((r) => (open = r));
  return { promise, open };
}

/** Resolves when the signal fires, with its reason's code. */
function abortCode(signal: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    const done = () => resolve((signal.reason as TesseraError).code);
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
  });
}

describe('calls', () => {
  it('echo round trip, handshake facts, ping', async () => {
    const { address } = await startServer();
    const client = await connect(address);
    expect(client.version).toBe(1);
    expect(client.peerMaxFrameBytes).toBe(16 * 1024 * 1024);
    await expect(client.call('echo', { a: [1, 'x'], b: new Uint8Array([1]) })).resolves.toEqual({
      a: [1, 'x'],
      // A plain Uint8Array, not a Node Buffer (codec.ts): toEqual tells the two apart.
      b: new Uint8Array([1]),
    });
    const rtt = await client.ping({ timeoutMs: 1000 });
    expect(rtt).toBeGreaterThan(0);
    expect(rtt).toBeLessThan(1_000_000);
  });

  it('many concurrent calls multiplexed on one connection, answered out of order', async () => {
    const { address, server } = await startServer({ inFlightPerConnectionMax: 4096 }, (s) =>
      s.handle('slow-echo', async (args, ctx) => {
        const { v, delay } = args as { v: number; delay: number };
        await env.timers.sleep(delay);
        return { v, id: ctx.requestId };
      }),
    );
    const client = await connect(address);
    const n = 2000;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        client.call('slow-echo', { v: i, delay: (i * 7919) % 20 }, { timeoutMs: 10_000 }),
      ),
    );
    const ids = new Set<number>();
    results.forEach((r, i) => {
      const { v, id } = r as { v: number; id: number };
      expect(v).toBe(i);
      ids.add(id);
    });
    expect(ids.size).toBe(n);
    expect(client.inFlight).toBe(0);
    expect(server.stats().requestsStarted).toBe(n);
  });

  it('the handler sees method, request id, remote address, deadline', async () => {
    let seen: CallContext | undefined;
    let before = 0;
    const { address } = await startServer({}, (s) =>
      s.handle('ctx', (_args, ctx) => {
        seen = ctx;
        return null;
      }),
    );
    const client = await connect(address);
    before = env.clock.monoMicros();
    await client.call('ctx', null, { timeoutMs: 2000 });
    expect(seen!.method).toBe('ctx');
    expect(seen!.requestId).toBeGreaterThan(0);
    expect(seen!.remote).toEqual({ host: '127.0.0.1', port: client.local.port });
    expect(seen!.deadlineMonoMicros).toBeGreaterThan(before + 1_900_000);
    expect(seen!.deadlineMonoMicros).toBeLessThan(env.clock.monoMicros() + 2_000_000);
    await client.call('ctx', null);
    expect(seen!.deadlineMonoMicros).toBe(Number.POSITIVE_INFINITY);
    expect(seen!.signal.aborted).toBe(false);
  });

  it('handler errors keep their codes; anything else is INTERNAL', async () => {
    const { address } = await startServer({}, (s) => {
      s.handle('not-found', () => {
        throw new TesseraError('NOT_FOUND', 'no such row', { row: 'k1' });
      });
      s.handle('async-invalid', async () => {
        await env.timers.sleep(1);
        throw new TesseraError('INVALID_ARGUMENT', 'bad');
      });
      s.handle('type-error', () => {
        throw new TypeError('oops');
      });
      s.handle('throws-string', () => {
        throw 'a string';
      });
      s.handle('unencodable', () => Symbol('s'));
    });
    const client = await connect(address);
    const err = await client.call('not-found').catch((e: unknown) => e as TesseraError);
    expect(err).toBeInstanceOf(TesseraError);
    expect(err).toMatchObject({
      code: 'NOT_FOUND',
      message: 'no such row',
      details: { row: 'k1' },
    });
    expect(await codeOf(client.call('async-invalid'))).toBe('INVALID_ARGUMENT');
    const internal = await client.call('type-error').catch((e: unknown) => e as TesseraError);
    expect(internal).toMatchObject({ code: 'INTERNAL', message: 'oops' });
    expect(await codeOf(client.call('throws-string'))).toBe('INTERNAL');
    expect(await codeOf(client.call('unencodable'))).toBe('INTERNAL');
    // The connection survives all of it.
    await expect(client.call('echo', 1)).resolves.toBe(1);
  });

  it('unknown method → UNKNOWN_METHOD; the connection stays open', async () => {
    const { address } = await startServer();
    const client = await connect(address);
    const e = await client.call('nope', 1).catch((x: unknown) => x as TesseraError);
    expect(e).toMatchObject({ code: 'UNKNOWN_METHOD', details: { method: 'nope' } });
    await expect(client.call('echo', 2)).resolves.toBe(2);
  });

  it('bad calls are refused locally: method name, unencodable args, timeout <= 0', async () => {
    const { address } = await startServer();
    const client = await connect(address);
    expect(await codeOf(client.call('bad name', 1))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(client.call('echo', 2n ** 70n))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(client.call('echo', 1, { timeoutMs: 0 }))).toBe('DEADLINE_EXCEEDED');
    expect(await codeOf(client.call('echo', 1, { timeoutMs: -5 }))).toBe('DEADLINE_EXCEEDED');
    expect(client.inFlight).toBe(0);
    await expect(client.call('echo', 3)).resolves.toBe(3);
  });
});

describe('deadlines and cancellation', () => {
  it('client deadline: rejects DEADLINE_EXCEEDED on time, server handler is told', async () => {
    const started = gate<AbortSignal>();
    const { address, server } = await startServer({}, (s) =>
      s.handle('hang', (_a, ctx) => {
        started.open(ctx.signal);
        return new Promise(() => undefined);
      }),
    );
    const client = await connect(address);
    const t0 = env.clock.monoMicros();
    const call = codeOf(client.call('hang', null, { timeoutMs: 80 }));
    const signal = await started.promise;
    expect(await call).toBe('DEADLINE_EXCEEDED');
    const elapsedMs = (env.clock.monoMicros() - t0) / 1000;
    expect(elapsedMs).toBeGreaterThanOrEqual(79);
    expect(elapsedMs).toBeLessThan(1000);
    // The client's CANCEL or the server's own deadline, whichever lands first.
    expect(['CANCELLED', 'DEADLINE_EXCEEDED']).toContain(await abortCode(signal));
    expect(client.inFlight).toBe(0);
    await expect(client.call('echo', 'after')).resolves.toBe('after');
    expect(server.stats().requestsStarted).toBe(2);
  });

  it('mixed timeouts expire in deadline order, others still complete', async () => {
    const { address } = await startServer({}, (s) =>
      s.handle('sleep', async (args) => {
        await env.timers.sleep(args as number);
        return args;
      }),
    );
    const client = await connect(address);
    const order: number[] = [];
    const calls = [300, 40, 150, 80, 10].map((t) =>
      client.call('sleep', 5000, { timeoutMs: t }).catch(() => order.push(t)),
    );
    const quick = client.call('sleep', 20, { timeoutMs: 5000 });
    await Promise.all(calls);
    expect(order).toEqual([10, 40, 80, 150, 300]);
    await expect(quick).resolves.toBe(20);
  });

  it('server deadline: a request whose caller never cancels is answered DEADLINE_EXCEEDED', async () => {
    const started = gate<CallContext>();
    const { address, server } = await startServer({}, (s) =>
      s.handle('hang', (_a, ctx) => {
        started.open(ctx);
        return new Promise(() => undefined);
      }),
    );
    const peer = await RawPeer.open(env, address);
    cleanups.push(() => peer.destroy());
    const t0 = env.clock.monoMicros();
    peer.send(
      encodeFrames([
        { kind: FrameKind.REQUEST, requestId: 7, timeoutMs: 60, method: 'hang', args: null },
      ]),
    );
    const ctx = await started.promise;
    expect(ctx.deadlineMonoMicros - t0).toBeGreaterThan(55_000);
    expect(ctx.deadlineMonoMicros - t0).toBeLessThan(1_000_000);
    await peer.until(() => peer.frames.length > 0);
    expect(peer.frames[0]).toMatchObject({
      kind: FrameKind.ERROR,
      requestId: 7,
      error: { code: 'DEADLINE_EXCEEDED' },
    });
    expect((env.clock.monoMicros() - t0) / 1000).toBeGreaterThanOrEqual(59);
    expect(await abortCode(ctx.signal)).toBe('DEADLINE_EXCEEDED');
    expect(server.stats().deadlinesExceeded).toBe(1);
    expect(peer.closed).toBe(false);
  });

  it('AbortSignal: CANCELLED at once, CANCEL reaches the handler', async () => {
    const started = gate<AbortSignal>();
    const { address, server } = await startServer({}, (s) =>
      s.handle('hang', (_a, ctx) => {
        started.open(ctx.signal);
        return new Promise(() => undefined);
      }),
    );
    const client = await connect(address);
    const controller = new AbortController();
    const call = codeOf(client.call('hang', null, { signal: controller.signal }));
    const signal = await started.promise;
    controller.abort();
    expect(await call).toBe('CANCELLED');
    expect(await abortCode(signal)).toBe('CANCELLED');
    expect(server.stats().cancelsReceived).toBe(1);
    // An already-aborted signal never sends the request.
    expect(await codeOf(client.call('echo', 1, { signal: controller.signal }))).toBe('CANCELLED');
    expect(server.stats().requestsStarted).toBe(1);
  });

  it('a late response for a finished call is ignored', async () => {
    // A fake server that answers request 1 only after the client has given up on it.
    const peers: RawPeer[] = [];
    const listener: Listener = await env.net.listen(LOCALHOST, (conn) =>
      peers.push(RawPeer.wrap(conn)),
    );
    cleanups.push(() => listener.close());
    const clientP = RpcClient.connect(env, listener.address);
    while (peers.length === 0) await env.timers.sleep(1);
    const server = peers[0]!;
    cleanups.push(() => server.destroy());
    await server.until(() => server.frames.length === 1);
    server.send(
      encodeFrames([
        {
          kind: FrameKind.HELLO_ACK,
          requestId: 0,
          version: 1,
          features: 0,
          maxFrameBytes: 1 << 20,
        },
      ]),
    );
    const client = await clientP;
    cleanups.push(() => client.close());
    expect(await codeOf(client.call('x', 1, { timeoutMs: 30 }))).toBe('DEADLINE_EXCEEDED');
    await server.until(() => server.frames.some((f) => f.kind === FrameKind.CANCEL));
    const second = client.call('y', 2);
    await server.until(
      () => server.frames.filter((f) => f.kind === FrameKind.REQUEST).length === 2,
    );
    server.send(
      encodeFrames([
        { kind: FrameKind.RESPONSE, requestId: 1, result: 'late' },
        { kind: FrameKind.ERROR, requestId: 1, error: new TesseraError('INTERNAL', 'late too') },
        { kind: FrameKind.RESPONSE, requestId: 999, result: 'never asked' },
        { kind: FrameKind.RESPONSE, requestId: 2, result: 'on time' },
      ]),
    );
    await expect(second).resolves.toBe('on time');
    expect(client.closed).toBe(false);
  });
});

describe('limits', () => {
  it('OVERLOADED beyond inFlightPerConnectionMax, per connection', async () => {
    const release = gate();
    const { address } = await startServer({ inFlightPerConnectionMax: 4 }, (s) =>
      s.handle('wait', () => release.promise.then(() => 'done')),
    );
    const client = await connect(address);
    const other = await connect(address);
    const held = Array.from({ length: 4 }, () => client.call('wait'));
    const e = await client.call('wait').catch((x: unknown) => x as TesseraError);
    expect(e).toMatchObject({ code: 'OVERLOADED', details: { inFlightMax: 4 } });
    // Another connection has its own budget.
    await expect(other.call('echo', 'ok')).resolves.toBe('ok');
    release.open();
    await expect(Promise.all(held)).resolves.toEqual(['done', 'done', 'done', 'done']);
    await expect(client.call('wait')).resolves.toBe('done');
  });

  it('client inFlightMax refuses locally', async () => {
    const { address } = await startServer({}, (s) =>
      s.handle('hang', () => new Promise(() => undefined)),
    );
    const client = await connect(address, { inFlightMax: 2 });
    void client.call('hang').catch(() => undefined);
    void client.call('hang').catch(() => undefined);
    expect(await codeOf(client.call('echo', 1))).toBe('OVERLOADED');
  });

  it('frames over the limits: request refused locally, response replaced by an error', async () => {
    const { address } = await startServer({ maxFrameBytes: 64 * 1024 }, (s) =>
      s.handle('big', (n) => new Uint8Array(n as number)),
    );
    const client = await connect(address, { maxFrameBytes: 32 * 1024 });
    expect(client.peerMaxFrameBytes).toBe(64 * 1024);
    const tooBig = await client
      .call('echo', new Uint8Array(70_000))
      .catch((e: unknown) => e as TesseraError);
    expect(tooBig).toMatchObject({ code: 'FRAME_TOO_LARGE' });
    const bigAnswer = await client.call('big', 40_000).catch((e: unknown) => e as TesseraError);
    expect(bigAnswer).toMatchObject({
      code: 'FRAME_TOO_LARGE',
      details: { maxFrameBytes: 32 * 1024 },
    });
    await expect(client.call('big', 30_000)).resolves.toHaveLength(30_000);
    // The server takes 60 000 bytes, but cannot send them back to this client.
    expect(await codeOf(client.call('echo', new Uint8Array(60_000)))).toBe('FRAME_TOO_LARGE');
    await expect(client.call('echo', new Uint8Array(20_000))).resolves.toHaveLength(20_000);
    expect(client.closed).toBe(false);
  });

  it('connectionsMax: one more connection is refused with OVERLOADED', async () => {
    const { address, server } = await startServer({ connectionsMax: 2 });
    await connect(address);
    await connect(address);
    expect(await codeOf(RpcClient.connect(env, address))).toBe('OVERLOADED');
    expect(server.stats().connectionsRefused).toBe(1);
  });

  it('a connection that never says HELLO is closed after handshakeTimeoutMs', async () => {
    const { address } = await startServer({ handshakeTimeoutMs: 50 });
    const peer = await RawPeer.connect(env, address);
    await peer.untilClosed();
    expect(peer.errors()[0]).toMatchObject({ requestId: 0, error: { code: 'DEADLINE_EXCEEDED' } });
  });

  it('back-pressure: the server stops reading from a client that does not read its answers', async () => {
    const { address, server } = await startServer({}, (s) =>
      s.handle('mega', () => new Uint8Array(1 << 20)),
    );
    const peer = await RawPeer.open(env, address);
    cleanups.push(() => peer.destroy());
    peer.conn.pause();
    const total = 100;
    for (let i = 1; i <= total; i++) {
      peer.send(
        encodeFrames([
          { kind: FrameKind.REQUEST, requestId: i, timeoutMs: 0, method: 'mega', args: null },
        ]),
      );
      await env.timers.sleep(1);
    }
    await env.timers.sleep(50);
    const started = server.stats().requestsStarted;
    expect(started).toBeGreaterThan(0);
    expect(started).toBeLessThan(total / 2);
    peer.conn.resume();
    await peer.until(() => peer.frames.length === total);
    expect(peer.frames.every((f) => f.kind === FrameKind.RESPONSE)).toBe(true);
    expect(server.stats().requestsStarted).toBe(total);
  });

  it('large values in both directions, spanning many chunks', async () => {
    const { address } = await startServer();
    const client = await connect(address);
    const big = new Uint8Array(5 * 1024 * 1024).map((_, i) => i % 251);
    const back = (await client.call('echo', big)) as Uint8Array;
    expect(back.length).toBe(big.length);
    expect(Buffer.compare(back, big)).toBe(0);
  });
});

describe('closing', () => {
  it('server close drains in-flight calls, refuses new ones, then closes connections', async () => {
    const release = gate();
    const started = gate();
    const { address, server } = await startServer({}, (s) =>
      s.handle('wait', () => {
        started.open();
        return release.promise.then(() => 'finished');
      }),
    );
    const client = await connect(address);
    const inFlight = client.call('wait');
    await started.promise;
    const closing = server.close({ drainTimeoutMs: 5000 });
    // GOAWAY arrives: new calls are refused, locally or by the server.
    await env.timers.sleep(20);
    expect(await codeOf(client.call('echo', 1))).toBe('SHUTTING_DOWN');
    release.open();
    await expect(inFlight).resolves.toBe('finished');
    await closing;
    expect(await client.whenClosed).toMatchObject({ code: 'CONNECTION_CLOSED' });
    expect(await codeOf(RpcClient.connect(env, address, { timeoutMs: 1000 }))).toBe(
      'CONNECTION_REFUSED',
    );
  });

  it('after the drain time, unfinished calls get SHUTTING_DOWN and handlers are told', async () => {
    const started = gate<AbortSignal>();
    const { address, server } = await startServer({}, (s) =>
      s.handle('hang', (_a, ctx) => {
        started.open(ctx.signal);
        return new Promise(() => undefined);
      }),
    );
    const client = await connect(address);
    const call = codeOf(client.call('hang'));
    const signal = await started.promise;
    const t0 = env.clock.monoMicros();
    await server.close({ drainTimeoutMs: 100 });
    expect((env.clock.monoMicros() - t0) / 1000).toBeGreaterThanOrEqual(99);
    expect(await call).toBe('SHUTTING_DOWN');
    expect(await abortCode(signal)).toBe('SHUTTING_DOWN');
  });

  it('connection loss rejects every pending call with CONNECTION_CLOSED', async () => {
    const peers: RawPeer[] = [];
    const listener = await env.net.listen(LOCALHOST, (conn) => peers.push(RawPeer.wrap(conn)));
    cleanups.push(() => listener.close());
    const clientP = RpcClient.connect(env, listener.address);
    while (peers.length === 0) await env.timers.sleep(1);
    const server = peers[0]!;
    await server.until(() => server.frames.length === 1);
    server.send(
      encodeFrames([
        {
          kind: FrameKind.HELLO_ACK,
          requestId: 0,
          version: 1,
          features: 0,
          maxFrameBytes: 1 << 20,
        },
      ]),
    );
    const client = await clientP;
    const calls = Array.from({ length: 10 }, (_, i) => codeOf(client.call('x', i)));
    await server.until(() => server.frames.length === 11);
    server.destroy();
    expect(await Promise.all(calls)).toEqual(Array(10).fill('CONNECTION_CLOSED'));
    expect(client.closed).toBe(true);
    expect(await codeOf(client.call('x'))).toBe('CONNECTION_CLOSED');
    await client.whenClosed;
  });

  it('client close rejects its pending calls and the server drops their handlers', async () => {
    const started = gate<AbortSignal>();
    const { address, server } = await startServer({}, (s) =>
      s.handle('hang', (_a, ctx) => {
        started.open(ctx.signal);
        return new Promise(() => undefined);
      }),
    );
    const client = await RpcClient.connect(env, address);
    const call = codeOf(client.call('hang'));
    const signal = await started.promise;
    await client.close();
    expect(await call).toBe('CONNECTION_CLOSED');
    expect(await abortCode(signal)).toBe('CONNECTION_CLOSED');
    while (server.stats().connectionsOpen > 0) await env.timers.sleep(1);
  });

  it('keep-alive: a silent server is detected; a live one is not', async () => {
    const { address } = await startServer();
    const live = await connect(address, { keepAliveMs: 15 });
    await env.timers.sleep(120);
    expect(live.closed).toBe(false);
    await expect(live.call('echo', 'alive')).resolves.toBe('alive');

    // A fake server that completes the handshake and then never says anything again.
    const peers: RawPeer[] = [];
    const listener = await env.net.listen(LOCALHOST, (conn) => peers.push(RawPeer.wrap(conn)));
    cleanups.push(() => listener.close());
    const clientP = RpcClient.connect(env, listener.address, { keepAliveMs: 20 });
    while (peers.length === 0) await env.timers.sleep(1);
    const silent = peers[0]!;
    cleanups.push(() => silent.destroy());
    await silent.until(() => silent.frames.length === 1);
    silent.send(
      encodeFrames([
        {
          kind: FrameKind.HELLO_ACK,
          requestId: 0,
          version: 1,
          features: 0,
          maxFrameBytes: 1 << 20,
        },
      ]),
    );
    const client = await clientP;
    const t0 = env.clock.monoMicros();
    const pending = codeOf(client.call('anything'));
    expect(await client.whenClosed).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    const ms = (env.clock.monoMicros() - t0) / 1000;
    expect(ms).toBeGreaterThanOrEqual(35);
    expect(ms).toBeLessThan(1000);
    expect(await pending).toBe('CONNECTION_CLOSED');
    expect(silent.frames.some((f) => f.kind === FrameKind.PING)).toBe(true);
  });

  it('handshake failures: version the client cannot speak, ERROR instead of HELLO_ACK', async () => {
    const peers: RawPeer[] = [];
    const listener = await env.net.listen(LOCALHOST, (conn) => peers.push(RawPeer.wrap(conn)));
    cleanups.push(() => listener.close());
    const answers = [
      encodeFrames([
        {
          kind: FrameKind.HELLO_ACK,
          requestId: 0,
          version: 99,
          features: 0,
          maxFrameBytes: 1 << 20,
        },
      ]),
      encodeFrames([
        { kind: FrameKind.ERROR, requestId: 0, error: new TesseraError('VERSION_MISMATCH', 'no') },
      ]),
      encodeFrames([
        {
          kind: FrameKind.HELLO_ACK,
          requestId: 0,
          version: 1,
          features: 0,
          maxFrameBytes: FRAME_BYTES_MIN - 1,
        },
      ]),
      new TextEncoder().encode('HTTP/1.1 400 Bad Request\r\n\r\n'),
    ];
    const expected = ['VERSION_MISMATCH', 'VERSION_MISMATCH', 'PROTOCOL_ERROR', 'PROTOCOL_ERROR'];
    for (let i = 0; i < answers.length; i++) {
      const clientP = codeOf(RpcClient.connect(env, listener.address, { timeoutMs: 2000 }));
      while (peers.length <= i) await env.timers.sleep(1);
      const server = peers[i]!;
      await server.until(() => server.frames.length === 1);
      expect(server.frames[0]).toMatchObject({ kind: FrameKind.HELLO, version: 1 });
      server.send(answers[i]!);
      expect(await clientP).toBe(expected[i]);
      server.destroy();
    }
    // A server that never answers: DEADLINE_EXCEEDED after timeoutMs.
    expect(await codeOf(RpcClient.connect(env, listener.address, { timeoutMs: 100 }))).toBe(
      'DEADLINE_EXCEEDED',
    );
  });
});
