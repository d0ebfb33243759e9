/**
 * RpcServerOptions.observer: told once per request, with its method, duration and outcome.
 */
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import type { Address, Env } from '../env/types.js';
import { realEnv } from '../env/real/index.js';
import { TesseraError } from '../util/errors.js';
import {
  RpcClient,
  RpcServer,
  UNKNOWN_METHOD_LABEL,
  type RpcObserver,
  type RpcOutcome,
} from './index.js';

const env: Env = realEnv({ name: 'wire-observer-test', root: tmpdir() });
const LOCALHOST: Address = { host: '127.0.0.1', port: 0 };

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Seen {
  readonly method: string;
  readonly micros: number;
  readonly outcome: RpcOutcome;
}

/** A promise with its resolve exposed. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

async function setup(): Promise<{
  server: RpcServer;
  client: RpcClient;
  seen: Seen[];
  hang: { started: Promise<void>; release: () => void };
}> {
  const seen: Seen[] = [];
  const observer: RpcObserver = {
    onCall: (method, micros, outcome) => seen.push({ method, micros, outcome }),
  };
  const server = new RpcServer(env, { observer, inFlightPerConnectionMax: 2 });
  const started = gate();
  const release = gate();
  server.handle('echo', (args) => args);
  server.handle('fail', () => {
    throw new TesseraError('INVALID_ARGUMENT', 'no');
  });
  server.handle('sleep', async (ms) => {
    await new Promise<void>((r) => env.timers.after(ms as number, r));
    return ms;
  });
  server.handle('hang', async (_args, ctx) => {
    started.open();
    await Promise.race([
      release.promise,
      new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r())),
    ]);
    return 'released';
  });
  const address = await server.listen(LOCALHOST);
  cleanups.push(() => server.close({ drainTimeoutMs: 0 }));
  const client = await RpcClient.connect(env, address);
  cleanups.push(() => client.close());
  return { server, client, seen, hang: { started: started.promise, release: release.open } };
}

/** Waits (real time) until `n` calls were observed. */
async function until(seen: readonly Seen[], n: number): Promise<void> {
  for (let i = 0; i < 200 && seen.length < n; i++) {
    await new Promise<void>((r) => env.timers.after(5, r));
  }
  expect(seen.length).toBe(n);
}

describe('RpcServer observer', () => {
  it('hears ok and error answers with the method and a duration', async () => {
    const { client, seen } = await setup();
    await client.call('echo', 1);
    await client.call('fail').catch(() => undefined);
    await client.call('sleep', 30);
    await until(seen, 3);
    expect(seen.map((s) => [s.method, s.outcome])).toEqual([
      ['echo', 'ok'],
      ['fail', 'INVALID_ARGUMENT'],
      ['sleep', 'ok'],
    ]);
    for (const s of seen) expect(s.micros).toBeGreaterThanOrEqual(0);
    expect(seen[2]!.micros).toBeGreaterThanOrEqual(25_000);
  });

  it('labels unknown methods with one name, whatever the caller sent', async () => {
    const { client, seen } = await setup();
    await client.call('no-such-method-1').catch(() => undefined);
    await client.call('no-such-method-2').catch(() => undefined);
    await until(seen, 2);
    expect(seen.map((s) => [s.method, s.outcome])).toEqual([
      [UNKNOWN_METHOD_LABEL, 'UNKNOWN_METHOD'],
      [UNKNOWN_METHOD_LABEL, 'UNKNOWN_METHOD'],
    ]);
  });

  it('hears cancellations, deadlines and overload', async () => {
    const { client, seen, hang } = await setup();
    const ac = new AbortController();
    const cancelled = client.call('hang', null, { signal: ac.signal }).catch(() => undefined);
    await hang.started;
    const expired = client.call('sleep', 2000, { timeoutMs: 40 }).catch(() => undefined);
    // Two handlers run on this connection: a third is refused OVERLOADED.
    await client.call('echo', 3).catch(() => undefined);
    await until(seen, 1);
    ac.abort();
    await cancelled;
    await expired;
    await until(seen, 3);
    expect(seen.map((s) => [s.method, s.outcome])).toEqual([
      ['echo', 'OVERLOADED'],
      ['hang', 'CANCELLED'],
      ['sleep', 'DEADLINE_EXCEEDED'],
    ]);
  });

  it('hears requests cut off by the server stopping, once each', async () => {
    const { server, client, seen, hang } = await setup();
    const pending = client.call('hang').catch((e: TesseraError) => e.code);
    await hang.started;
    await server.close({ drainTimeoutMs: 0 });
    expect(await pending).toBe('SHUTTING_DOWN');
    await until(seen, 1);
    expect(seen[0]).toMatchObject({ method: 'hang', outcome: 'SHUTTING_DOWN' });
  });

  it('counts every request exactly once under concurrency', async () => {
    const { client, seen } = await setup();
    const calls = [];
    for (let i = 0; i < 50; i++) calls.push(client.call('echo', i).catch(() => undefined));
    await Promise.all(calls);
    await until(seen, 50);
    const ok = seen.filter((s) => s.outcome === 'ok').length;
    const overloaded = seen.filter((s) => s.outcome === 'OVERLOADED').length;
    expect(ok + overloaded).toBe(50);
  });
});
