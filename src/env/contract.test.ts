/**
 * The Env contract (src/env/types.ts), checked against both implementations with the same
 * code: what passes in the simulator must mean the same thing on a real machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { isTesseraError, type TesseraError } from '../util/errors.js';
import { realEnv } from './real/index.js';
import { SimWorld } from './sim/index.js';
import type { Connection, Env } from './types.js';

interface Harness {
  readonly env: Env;
  /** Drives the world until `p` settles (the simulator) or just awaits it (real). */
  run<T>(p: Promise<T>): Promise<T>;
  cleanup(): void;
}

const harnesses: Record<string, () => Harness> = {
  real: () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-contract-'));
    return {
      env: realEnv({ name: 'real', root, seed: 1 }),
      run: (p) => p,
      cleanup: () => rmSync(root, { recursive: true, force: true }),
    };
  },
  sim: () => {
    const world = new SimWorld({ seed: 1 });
    const node = world.addNode('n1');
    return {
      env: node.env,
      run: (p) => world.settle(p, { timeoutMs: 30_000 }),
      cleanup: () => {},
    };
  },
};

async function codeOf(h: Harness, p: Promise<unknown>): Promise<string> {
  try {
    await h.run(p);
    return 'ok';
  } catch (err) {
    return isTesseraError(err) ? err.code : `foreign ${String(err)}`;
  }
}

describe.each(Object.keys(harnesses))('Env contract: %s', (kind) => {
  let h: Harness;
  afterEach(() => h?.cleanup());
  const make = () => (h = harnesses[kind]!());

  it('files: create, write, append, read, size, truncate, and the error codes', async () => {
    const { env } = make();
    expect(await codeOf(h, env.fs.open('/missing'))).toBe('NOT_FOUND');
    await h.run(env.fs.mkdir('/d/e', { recursive: true }));
    const f = await h.run(env.fs.open('/d/e/f', { create: true }));
    expect(await codeOf(h, env.fs.open('/d/e/f', { create: true, exclusive: true }))).toBe(
      'ALREADY_EXISTS',
    );
    expect(await h.run(f.append(utf8('hello ')))).toBe(0);
    expect(await h.run(f.append(utf8('world')))).toBe(6);
    await h.run(f.write(13, utf8('!')));
    expect(await h.run(f.size())).toBe(14);
    const all = await h.run(f.read(0, 100));
    expect(fromUtf8(all.subarray(0, 11))).toBe('hello world');
    expect([...all.subarray(11, 13)]).toEqual([0, 0]); // the gap is zero-filled
    expect((await h.run(f.read(100, 10))).length).toBe(0);
    await h.run(f.truncate(5));
    await h.run(f.sync());
    expect(fromUtf8(await h.run(f.read(0, 100)))).toBe('hello');
    await h.run(f.close());
    expect(await codeOf(h, env.fs.open('/d/e/f/g', { create: true }))).toMatch(
      /NOT_DIRECTORY|NOT_FOUND/,
    );
  });

  it('files: rename replaces, list is sorted, remove and exists, stat', async () => {
    const { env } = make();
    await h.run(env.fs.mkdir('/x'));
    await h.run(env.fs.writeFile('/x/b', utf8('B'), { sync: true }));
    await h.run(env.fs.writeFile('/x/a', utf8('A')));
    await h.run(env.fs.writeFile('/x/c.tmp', utf8('C2')));
    await h.run(env.fs.rename('/x/c.tmp', '/x/b'));
    expect(await h.run(env.fs.list('/x'))).toEqual(['a', 'b']);
    expect(fromUtf8(await h.run(env.fs.readFile('/x/b')))).toBe('C2');
    await h.run(env.fs.syncDir('/x'));
    expect(await h.run(env.fs.stat('/x/b'))).toEqual({ size: 2, isDirectory: false });
    expect((await h.run(env.fs.stat('/x'))).isDirectory).toBe(true);
    expect(await codeOf(h, env.fs.remove('/x'))).toBe('IO_ERROR'); // not empty
    await h.run(env.fs.remove('/x/a'));
    expect(await h.run(env.fs.exists('/x/a'))).toBe(false);
    expect(await codeOf(h, env.fs.remove('/x/a'))).toBe('NOT_FOUND');
    await h.run(env.fs.remove('/x', { recursive: true }));
    expect(await h.run(env.fs.exists('/x'))).toBe(false);
  });

  it('timers fire in order of their delays, and a cancelled one never fires', async () => {
    const { env } = make();
    const fired: string[] = [];
    env.timers.after(30, () => fired.push('30'));
    env.timers.after(10, () => fired.push('10'));
    env.timers.after(20, () => fired.push('20')).cancel();
    env.timers.defer(() => fired.push('defer'));
    const t0 = env.clock.monoMicros();
    await h.run(env.timers.sleep(50));
    expect(fired).toEqual(['defer', '10', '30']);
    expect(env.clock.monoMicros() - t0).toBeGreaterThanOrEqual(49_000);
    expect(env.clock.nowMicros()).toBeGreaterThan(1.7e15); // after 2023, in microseconds
  });

  it('streams: echo, orderly end, and the closed flag', async () => {
    const { env } = make();
    const serverSide: Connection[] = [];
    const listener = await h.run(
      env.net.listen({ host: '127.0.0.1', port: 0 }, (conn) => {
        serverSide.push(conn);
        conn.setHandlers({
          onData: (chunk) => conn.write(new Uint8Array(chunk)),
          onClose: () => conn.end(),
        });
      }),
    );
    expect(listener.address.port).toBeGreaterThan(0);
    const conn = await h.run(env.net.connect(listener.address, { timeoutMs: 5_000 }));
    let received = '';
    let closedWith: TesseraError | undefined | 'open' = 'open';
    const closed = new Promise<void>((resolve) =>
      conn.setHandlers({
        onData: (chunk) => (received += fromUtf8(chunk)),
        onClose: (err) => {
          closedWith = err;
          resolve();
        },
      }),
    );
    for (let i = 0; i < 50; i++) conn.write(utf8(`m${i};`));
    const expected = Array.from({ length: 50 }, (_, i) => `m${i};`).join('');
    await h.run(
      (async () => {
        while (received.length < expected.length) await env.timers.sleep(1);
      })(),
    );
    expect(received).toBe(expected);
    expect(conn.closed).toBe(false);
    conn.end();
    expect(conn.closed).toBe(true);
    await h.run(closed);
    expect(closedWith).toBeUndefined();
    await h.run(listener.close());
  });

  it('streams: destroy resets the peer; refused and expired connects have their codes', async () => {
    const { env } = make();
    let peerError: TesseraError | undefined | 'open' = 'open';
    let peerClosed!: () => void;
    const peerGone = new Promise<void>((r) => (peerClosed = r));
    const listener = await h.run(
      env.net.listen({ host: '127.0.0.1', port: 0 }, (conn) =>
        conn.setHandlers({
          onData: () => {},
          onClose: (err) => {
            peerError = err;
            peerClosed();
          },
        }),
      ),
    );
    const conn = await h.run(env.net.connect(listener.address));
    conn.setHandlers({ onData: () => {}, onClose: () => {} });
    conn.write(utf8('x'));
    await h.run(env.timers.sleep(20));
    conn.destroy();
    await h.run(peerGone);
    expect(peerError).toMatchObject({ code: 'CONNECTION_CLOSED' });
    const port = listener.address.port;
    await h.run(listener.close());
    expect(await codeOf(h, env.net.connect({ host: '127.0.0.1', port }))).toBe(
      'CONNECTION_REFUSED',
    );
    expect(await codeOf(h, env.net.connect({ host: '127.0.0.1', port }, { timeoutMs: 0 }))).toBe(
      'DEADLINE_EXCEEDED',
    );
  });

  it('datagrams: a message sent to a bound socket arrives with its sender', async () => {
    const { env } = make();
    const a = await h.run(env.net.bindDatagram({ host: '127.0.0.1', port: 0 }));
    const b = await h.run(env.net.bindDatagram({ host: '127.0.0.1', port: 0 }));
    const got = new Promise<[string, number]>((resolve) =>
      b.setHandler((data, from) => resolve([fromUtf8(data), from.port])),
    );
    a.send(b.address, utf8('hi'));
    expect(await h.run(got)).toEqual(['hi', a.address.port]);
    await h.run(a.close());
    await h.run(b.close());
  });

  it('random: a seeded generator is reproducible through fork()', () => {
    const { env } = make();
    const x = env.random.fork();
    const v = x.int(1000);
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThan(1000);
    expect(env.random.bytes(16)).toHaveLength(16);
  });
});
