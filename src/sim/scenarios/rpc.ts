/**
 * The RPC scenario: clients call servers over the simulated network while a nemesis delays,
 * loses and resets traffic, partitions the network and crashes servers. Checkers outside the
 * nodes verify, over the whole history:
 *
 * 1. every reply matches its request (echo returns exactly what was sent, add returns the sum,
 *    a planned error arrives with its code and message) — no cross-talk between multiplexed
 *    requests, no corrupted bodies;
 * 2. every call settles exactly once, and no later than its deadline (plus a small slack for
 *    clock drift and timer granularity) — client-side deadlines fire;
 * 3. a call whose handler cannot finish before the deadline never succeeds, and the server-side
 *    handler is aborted by its own deadline — server-side deadlines fire;
 * 4. liveness: once every fault is healed and every server restarted, each client completes
 *    calls again within a bounded time.
 */
import type { Address, Env } from '../../env/index.js';
import type { SimWorld } from '../../env/sim/index.js';
import { TesseraError, isTesseraError } from '../../util/errors.js';
import type { Prng } from '../../util/prng.js';
import { RpcClient, RpcServer } from '../../wire/index.js';
import type { Scenario, ScenarioContext, ScenarioResult } from '../scenario.js';

const SERVERS = ['s1', 's2', 's3'] as const;
const CLIENTS = ['c1', 'c2', 'c3', 'c4'] as const;
const PORT = 7000;
const safetyPhaseMs = 6_000;
const livenessPhaseMs = 3_000;
const settlePhaseMs = 3_000;
const livenessCallsMin = 5;
const callTimeoutMsMin = 5;
const callTimeoutMsMax = 400;
const batchCallsMax = 8;
/** Clock drift is at most ±clockDriftPpmMax on every node. */
const clockDriftPpmMax = 200;
/** Allowed lateness of a deadline: drift of both clocks plus one millisecond of granularity. */
function deadlineSlackMicros(timeoutMs: number): number {
  return timeoutMs * 1000 * ((4 * clockDriftPpmMax) / 1e6) + 1000;
}

type CallKind = 'echo' | 'add' | 'fail' | 'slow';

export interface CallRecord {
  readonly id: number;
  readonly client: string;
  readonly server: string;
  readonly kind: CallKind;
  readonly timeoutMs: number;
  readonly args: unknown;
  readonly issuedMicros: number;
  settledMicros?: number;
  settleCount: number;
  outcome?: { ok: true; value: unknown } | { ok: false; code: string; message: string };
  inLiveness: boolean;
}

export interface HandlerAbort {
  readonly callId: number;
  readonly timeoutMs: number;
  readonly receivedMicros: number;
  readonly abortedMicros: number;
  readonly reason: string;
}

/**
 * Bugs a test can plant to prove the checkers catch them (a checker that cannot fail is no
 * checker): `swapReplies` answers some echo calls with another call's arguments.
 */
export interface RpcScenarioBugs {
  readonly swapReplies?: boolean;
}

export function makeRpcScenario(bugs: RpcScenarioBugs = {}): Scenario {
  return {
    name: 'rpc',
    description:
      'clients call servers under loss, delay, resets, partitions and crashes; replies match requests, deadlines fire',
    run: (ctx) => runRpcScenario(ctx, bugs),
  };
}

export const rpcScenario: Scenario = makeRpcScenario();

async function runRpcScenario(
  { world, log }: ScenarioContext,
  bugs: RpcScenarioBugs,
): Promise<ScenarioResult> {
  const rng = world.random.fork();
  const calls: CallRecord[] = [];
  const aborts: HandlerAbort[] = [];
  const violations: string[] = [];
  let nextCallId = 1;
  let phase: 'safety' | 'liveness' | 'settle' = 'safety';
  let faults = 0;

  for (const name of SERVERS) {
    world.addNode(name, nodeClock(rng)).start((env) => serve(env, world, aborts, bugs));
  }
  for (const name of CLIENTS) {
    world.addNode(name, nodeClock(rng)).start((env) =>
      clientLoop(env, world, rng.fork(), {
        record: (c) => calls.push(c),
        nextId: () => nextCallId++,
        phase: () => phase,
      }),
    );
  }

  // Safety phase: faults on. The nemesis acts every 100–800 ms of virtual time.
  world.setNetworkFaults({
    meanDelayMs: 0.5 + rng.float() * 5,
    maxDelayMs: 50,
    lossRate: rng.float() * 0.05,
    resetRate: rng.float() * 0.002,
    splitRate: 0.5,
  });
  const safetyEnd = world.nowMs() + safetyPhaseMs;
  while (world.nowMs() < safetyEnd) {
    await world.runFor(100 + rng.int(700));
    faults += nemesis(world, rng, log);
  }

  // Liveness phase: heal everything, restart crashed servers, faults off.
  phase = 'liveness';
  world.heal();
  world.setNetworkFaults({ lossRate: 0, resetRate: 0, meanDelayMs: 1, maxDelayMs: 5 });
  for (const s of SERVERS) if (!world.node(s).alive) world.restart(s);
  world.trace('phase liveness');
  await world.runFor(livenessPhaseMs);

  // Settle: clients stop issuing; everything in flight must finish by its deadline.
  phase = 'settle';
  world.trace('phase settle');
  await world.runFor(settlePhaseMs);

  checkHistory(calls, aborts, violations);
  for (const c of CLIENTS) {
    const ok = calls.filter((r) => r.client === c && r.inLiveness && r.outcome?.ok === true);
    if (ok.length < livenessCallsMin) {
      violations.push(
        `liveness: ${c} completed ${ok.length} calls after heal (< ${livenessCallsMin})`,
      );
    }
  }
  for (const e of world.nodeErrors) {
    violations.push(`node ${e.node} threw: ${String((e.error as Error)?.message ?? e.error)}`);
  }
  const okCount = calls.filter((c) => c.outcome?.ok).length;
  const byCode = new Map<string, number>();
  for (const c of calls) {
    if (c.outcome && !c.outcome.ok)
      byCode.set(c.outcome.code, (byCode.get(c.outcome.code) ?? 0) + 1);
  }
  const errors = [...byCode].map(([k, v]) => `${k}=${v}`).join(' ');
  return {
    violations,
    summary: `${calls.length} calls: ${okCount} ok, ${errors || 'no errors'}; ${faults} faults; ${aborts.length} server-side aborts`,
  };
}

function nodeClock(rng: Prng) {
  return {
    clockOffsetMicros: rng.between(0, 2_000_000) - 1_000_000,
    clockDriftPpm: rng.between(-clockDriftPpmMax, clockDriftPpmMax),
  };
}

/** One fault action; returns 1 when it did something. */
function nemesis(world: SimWorld, rng: Prng, log: (line: string) => void): number {
  const roll = rng.int(10);
  const shuffled = rng.shuffle([...SERVERS, ...CLIENTS]);
  const cut = 1 + rng.int(shuffled.length - 1);
  if (roll < 2) {
    world.partition(shuffled.slice(0, cut), shuffled.slice(cut));
    log(`t=${world.nowMs()} partition ${shuffled.slice(0, cut)} | ${shuffled.slice(cut)}`);
  } else if (roll < 3) {
    world.partitionOneWay(shuffled.slice(0, cut), shuffled.slice(cut));
    log(`t=${world.nowMs()} one-way ${shuffled.slice(0, cut)} -> ${shuffled.slice(cut)}`);
  } else if (roll < 5) {
    world.heal();
    log(`t=${world.nowMs()} heal`);
  } else if (roll < 7) {
    const alive = SERVERS.filter((s) => world.node(s).alive);
    if (alive.length === 0) return 0;
    const victim = rng.pick(alive);
    world.crash(victim);
    log(`t=${world.nowMs()} crash ${victim}`);
  } else if (roll < 9) {
    const dead = SERVERS.filter((s) => !world.node(s).alive);
    if (dead.length === 0) return 0;
    const s = rng.pick(dead);
    world.restart(s);
    log(`t=${world.nowMs()} restart ${s}`);
  } else {
    world.setNetworkFaults({ meanDelayMs: 0.5 + rng.float() * 10, lossRate: rng.float() * 0.1 });
    log(`t=${world.nowMs()} network faults changed`);
  }
  return 1;
}

/** A server process: echo, add, a planned failure, and a slow call that watches its deadline. */
async function serve(
  env: Env,
  world: SimWorld,
  aborts: HandlerAbort[],
  bugs: RpcScenarioBugs,
): Promise<void> {
  const server = new RpcServer(env);
  let previous: unknown = null;
  server.handle('echo', (args) => {
    if (!bugs.swapReplies) return args;
    const reply = env.random.chance(0.05) && previous !== null ? previous : args;
    previous = args;
    return reply;
  });
  server.handle('add', (args) => {
    const { a, b } = args as { a: number; b: number };
    return a + b;
  });
  server.handle('fail', (args) => {
    throw new TesseraError('NOT_FOUND', `planned failure ${(args as { id: number }).id}`);
  });
  server.handle('slow', (args, ctx) => {
    const { id, ms, timeoutMs } = args as { id: number; ms: number; timeoutMs: number };
    const receivedMicros = world.nowMicros();
    return new Promise((resolve, reject) => {
      const timer = env.timers.after(ms, () => resolve({ id, slept: ms }));
      ctx.signal.addEventListener('abort', () => {
        timer.cancel();
        const reason = ctx.signal.reason as TesseraError;
        aborts.push({
          callId: id,
          timeoutMs,
          receivedMicros,
          abortedMicros: world.nowMicros(),
          reason: reason.code,
        });
        reject(reason);
      });
    });
  });
  await server.listen({ host: env.name, port: PORT });
}

interface ClientHooks {
  record(c: CallRecord): void;
  nextId(): number;
  phase(): 'safety' | 'liveness' | 'settle';
}

/** A client process: connects to a random server and issues batches of concurrent calls. */
async function clientLoop(env: Env, world: SimWorld, rng: Prng, hooks: ClientHooks): Promise<void> {
  while (hooks.phase() !== 'settle') {
    const server = rng.pick(SERVERS);
    const address: Address = { host: server, port: PORT };
    let client: RpcClient;
    try {
      client = await RpcClient.connect(env, address, { timeoutMs: 500 });
    } catch (err) {
      if (!isTesseraError(err)) throw err;
      await env.timers.sleep(20 + rng.int(50));
      continue;
    }
    const batches = 1 + rng.int(20);
    for (let b = 0; b < batches && hooks.phase() !== 'settle'; b++) {
      const n = 1 + rng.int(batchCallsMax);
      const results = await Promise.all(
        Array.from({ length: n }, () => oneCall(env, world, rng, client, server, hooks)),
      );
      // A connection whose every call failed is presumed dead (a real client's keepalive would
      // say the same): reconnect, possibly elsewhere.
      if (results.some((code) => code === 'CONNECTION_CLOSED')) break;
      if (results.every((code) => code !== 'ok' && code !== 'NOT_FOUND')) break;
      await env.timers.sleep(rng.int(30));
    }
    await client.close();
  }
}

async function oneCall(
  _env: Env,
  world: SimWorld,
  rng: Prng,
  client: RpcClient,
  server: string,
  hooks: ClientHooks,
): Promise<string> {
  const id = hooks.nextId();
  const kind = rng.pick(['echo', 'echo', 'add', 'fail', 'slow'] as const);
  const timeoutMs = rng.between(callTimeoutMsMin, callTimeoutMsMax);
  const args =
    kind === 'echo'
      ? { id, blob: rng.bytes(rng.int(2000)), text: `call-${id}`, n: rng.uint32() }
      : kind === 'add'
        ? { id, a: rng.int(1_000_000), b: rng.int(1_000_000) }
        : kind === 'slow'
          ? { id, ms: rng.between(1, 2 * callTimeoutMsMax), timeoutMs }
          : { id };
  const record: CallRecord = {
    id,
    client: _env.name,
    server,
    kind,
    timeoutMs,
    args,
    issuedMicros: world.nowMicros(),
    settleCount: 0,
    inLiveness: hooks.phase() === 'liveness',
  };
  hooks.record(record);
  try {
    const value = await client.call(kind, args, { timeoutMs });
    record.settleCount++;
    record.settledMicros = world.nowMicros();
    record.outcome = { ok: true, value };
    return 'ok';
  } catch (err) {
    record.settleCount++;
    record.settledMicros = world.nowMicros();
    const e = err as TesseraError;
    record.outcome = { ok: false, code: e.code ?? 'NONE', message: e.message };
    return e.code;
  }
}

export function checkHistory(
  calls: readonly CallRecord[],
  aborts: readonly HandlerAbort[],
  out: string[],
): void {
  const add = (msg: string) => {
    if (out.length < 20) out.push(msg);
  };
  for (const c of calls) {
    if (c.settleCount !== 1 || c.outcome === undefined || c.settledMicros === undefined) {
      add(`call ${c.id} (${c.kind}) settled ${c.settleCount} times`);
      continue;
    }
    const elapsed = c.settledMicros - c.issuedMicros;
    if (elapsed > c.timeoutMs * 1000 + deadlineSlackMicros(c.timeoutMs)) {
      add(
        `call ${c.id} (${c.kind}) settled after ${elapsed}µs, past its ${c.timeoutMs}ms deadline`,
      );
    }
    const o = c.outcome;
    if (o.ok) {
      const expected = expectedReply(c);
      if (!deepEqual(o.value, expected)) {
        add(`call ${c.id} (${c.kind}) got a reply that does not match its request`);
      }
      if (c.kind === 'fail') add(`call ${c.id} (fail) succeeded`);
    } else if (
      c.kind === 'fail' &&
      o.code === 'NOT_FOUND' &&
      o.message !== `planned failure ${c.id}`
    ) {
      add(`call ${c.id} (fail) got another call's error: ${o.message}`);
    } else if (!ALLOWED_ERRORS[c.kind].has(o.code)) {
      add(`call ${c.id} (${c.kind}) failed with unexpected ${o.code}: ${o.message}`);
    }
  }
  for (const a of aborts) {
    if (a.reason !== 'DEADLINE_EXCEEDED') continue;
    const late = a.abortedMicros - a.receivedMicros - a.timeoutMs * 1000;
    if (late > deadlineSlackMicros(a.timeoutMs)) {
      add(`server aborted slow call ${a.callId} ${late}µs after its deadline`);
    }
    if (late < -deadlineSlackMicros(a.timeoutMs) - a.timeoutMs * 1000) {
      add(`server aborted slow call ${a.callId} before it arrived`);
    }
  }
}

const transportErrors = ['DEADLINE_EXCEEDED', 'CONNECTION_CLOSED'];
const ALLOWED_ERRORS: Record<CallKind, ReadonlySet<string>> = {
  echo: new Set(transportErrors),
  add: new Set(transportErrors),
  slow: new Set(transportErrors),
  fail: new Set([...transportErrors, 'NOT_FOUND']),
};

function expectedReply(c: CallRecord): unknown {
  const a = c.args as { id: number; a: number; b: number; ms: number };
  switch (c.kind) {
    case 'echo':
      return c.args;
    case 'add':
      return a.a + a.b;
    case 'slow':
      return { id: a.id, slept: a.ms };
    case 'fail':
      return undefined;
  }
}

function deepEqual(x: unknown, y: unknown): boolean {
  if (x instanceof Uint8Array && y instanceof Uint8Array) {
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  if (typeof x === 'object' && x !== null && typeof y === 'object' && y !== null) {
    const kx = Object.keys(x);
    const ky = Object.keys(y);
    return (
      kx.length === ky.length &&
      kx.every((k) =>
        deepEqual((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k]),
      )
    );
  }
  return Object.is(x, y);
}
