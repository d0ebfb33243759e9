/**
 * The lock scenario: the replicated lock service (src/lock) end to end under faults.
 *
 * The seed chooses 3 or 5 LockReplicas, each on its own simulated machine with its own disk and
 * clock (Raft over datagrams, clients over the `lock.*` RPC methods of registerLockService on
 * simulated TCP), and 2–4 client machines. Every clock starts with its own skew (within ±O,
 * O = 0–600 ms per seed) and drift (±200 ppm).
 *
 * Workload: one client creates the paths /k0../k2 atomically (lock.multi); then every client
 * reads (lock.get), writes (lock.set) and compares-and-sets (lock.set with expectedVersion,
 * after a read) them, following NOT_LEADER redirects, and takes the exclusive lock /lock:
 * open a session, keep it alive, acquire, hold it 0–40 ms, release. A quarter of the operations
 * start at a random replica instead of the last known leader. A call that times out (the seed
 * picks a timeout of 150–1000 ms) or loses its connection is indeterminate (`info`): the client
 * goes on as a fresh process, Jepsen-style, and abandons (closes) the session an indeterminate
 * lock call was made in.
 *
 * Faults during the safety phase (a nemesis step every 100–500 ms): crashes of a replica — the
 * leader half the time — restarted from its disk 50–800 ms later (at most a minority down);
 * isolation of the leader or of a random replica; partitions of the leader and some clients
 * from the rest, and random two-sided partitions of replicas and clients; clock jumps and drift changes (always within ±O); changes of datagram loss,
 * duplication and reordering and of stream delay and loss. Then every fault is healed, every
 * replica restarted, and the liveness phase runs.
 *
 * Checked from outside the nodes:
 * 1. Linearizability of the get/set/cas history, per path, against a versioned register (a
 *    read sees [version, value]; an acknowledged set or cas reports the version it made).
 * 2. Sequencers: a grant whose acquire began after another grant was acknowledged has a larger
 *    token (unless it is the same session's same grant, returned again).
 * 3. Mutual exclusion: two sessions never hold /lock at once. A session certainly holds the
 *    lock from the acknowledgement of its grant until it calls release, or until its session
 *    may have expired: the last acknowledged renewal's invocation + ttl − 2·O − slack (expiry
 *    is decided on replica clocks, which may be 2·O apart). Those intervals never overlap.
 * 4. Liveness: after the heal every client completes LIVENESS_OPS more operations, then
 *    finishes its last one.
 * 5. No node errors, no failed Raft node.
 *
 * Planted bugs (`makeLockScenario(bugs)`) prove the checkers catch what they claim to:
 * `followerReads` has every replica, leader or not, answer lock.get from its own applied state
 * without a Raft read index; `cachedReads` is a client that sometimes answers a get from its own cache;
 * `useAfterRelease` is a client that goes on using the lock 300 ms after it released it.
 */
import type { Env } from '../../env/index.js';
import { LockReplica, registerLockService, type LockPeer } from '../../lock/index.js';
import { fromUtf8, utf8 } from '../../util/bytes.js';
import type { Prng } from '../../util/prng.js';
import { RpcServer } from '../../wire/index.js';
import {
  buildOperations,
  checkLinearizability,
  formatOperation,
  type HistoryEvent,
  versionedRegisterModel,
} from '../checker/index.js';
import type { Scenario, ScenarioContext, ScenarioResult } from '../scenario.js';
import { LockTestClient, Refused } from './lock-client.js';

const RAFT_PORT = 7000;
const RPC_PORT = 7100;
const KEYS = ['/k0', '/k1', '/k2'] as const;
const LOCK_PATH = '/lock';
const safetyPhaseMs = 4_000;
const livenessTimeoutMs = 20_000;
/** A client's call timeout is chosen per seed in this range. */
const callTimeoutMsMin = 150;
const callTimeoutMsMax = 1_000;
/** Operations each client must complete after the heal. */
const livenessOps = 3;
const sessionTtlMs = 3_000;
/** A session is renewed before an acquire when its last renewal is older than this. */
const renewEveryMs = 500;
const clockOffsetMsMax = 600;
const clockDriftPpmMax = 200;
/** Drift over a whole run (< 30 s at ±200 ppm on both clocks) and millisecond stamps. */
const expirySlackMs = 25;
const violationsMax = 20;

/** Error replies that are bugs whatever the faults. */
const unexpectedCodes = ['INTERNAL', 'ASSERTION_FAILED', 'INVALID_ARGUMENT', 'CORRUPTION'];

/** Bugs a test plants to prove the checkers catch them (see the file comment). */
export interface LockScenarioBugs {
  readonly followerReads?: boolean;
  readonly cachedReads?: boolean;
  readonly useAfterRelease?: boolean;
}

export function makeLockScenario(bugs: LockScenarioBugs = {}): Scenario {
  return {
    name: 'lock',
    description:
      'lock service replicas under loss, partitions, crashes and clock skew; linearizable paths, sequencers, mutual exclusion',
    run: (ctx) => runLockScenario(ctx, bugs),
  };
}

export const lockScenario: Scenario = makeLockScenario();

// ---------------------------------------------------------------------------------------------
// The history

/** One acknowledged grant of /lock, with the interval its session certainly held it. */
export interface GrantRecord {
  readonly client: string;
  readonly session: number;
  readonly token: number;
  readonly invokedMs: number;
  readonly ackedMs: number;
  /** The end of the certain hold: release called, or the session may have expired. */
  endMs: number;
}

// ---------------------------------------------------------------------------------------------
// One run

interface ReplicaView {
  readonly incarnation: number;
  replica: LockReplica | undefined;
}

async function runLockScenario(
  { world, log }: ScenarioContext,
  bugs: LockScenarioBugs,
): Promise<ScenarioResult> {
  const rng = world.random.fork();
  const replicaCount = rng.chance(0.35) ? 5 : 3;
  const clientCount = rng.between(2, 4);
  const callTimeoutMs = rng.between(callTimeoutMsMin, callTimeoutMsMax);
  const offsetMaxMs = rng.chance(0.2) ? 0 : rng.between(1, clockOffsetMsMax);
  const ids = Array.from({ length: replicaCount }, (_, i) => i + 1);
  const replicaNames = ids.map((id) => `n${id}`);
  const clientNames = Array.from({ length: clientCount }, (_, i) => `c${i + 1}`);
  const peers: readonly LockPeer[] = ids.map((id) => ({
    id,
    raft: { host: `n${id}`, port: RAFT_PORT },
    client: { host: `n${id}`, port: RPC_PORT },
  }));
  const violations: string[] = [];
  const fail = (what: string): void => {
    if (violations.length < violationsMax) violations.push(what);
    else if (violations.length === violationsMax) violations.push('… more violations');
  };
  const clock = (): { offsetMicros: number; driftPpm: number } => ({
    offsetMicros: rng.between(-offsetMaxMs * 1000, offsetMaxMs * 1000),
    driftPpm: rng.between(-clockDriftPpmMax, clockDriftPpmMax),
  });
  log(
    `${replicaCount} replicas, ${clientCount} clients, clock skew within ±${offsetMaxMs}ms, ` +
      `call timeout ${callTimeoutMs}ms`,
  );
  world.trace(`lock: ${replicaCount} replicas ${clientCount} clients skew ${offsetMaxMs}ms`);

  // ---- replicas ----
  const views = new Map<number, ReplicaView>();
  const replicas: LockReplica[] = [];
  for (const id of ids) {
    const name = `n${id}`;
    const c = clock();
    world
      .addNode(name, { clockOffsetMicros: c.offsetMicros, clockDriftPpm: c.driftPpm })
      .start(async (env) => {
        const view: ReplicaView = { incarnation: world.node(name).incarnation, replica: undefined };
        views.set(id, view);
        const replica = await LockReplica.start({
          env,
          id,
          peers,
          dir: '/lock',
          tickMs: 10,
          requestTimeoutMs: 1_000,
          snapshotEntries: 24,
          // Snapshots of a few nodes a step: writes land while one is being written.
          snapshotSlice: { nodes: 3, bytes: 4096 },
          expireEveryMs: 100,
        });
        replicas.push(replica);
        const server = new RpcServer(env);
        const localReads = bugs.followerReads === true;
        if (localReads) plantLocalReads(server, replica);
        registerLockService(localReads ? skipRegistered(server) : server, replica);
        await server.listen({ host: env.name, port: RPC_PORT });
        view.replica = replica;
      });
  }
  const live = (): { id: number; replica: LockReplica }[] => {
    const out = [];
    for (const id of ids) {
      const v = views.get(id);
      const sim = world.node(`n${id}`);
      if (v?.replica && sim.alive && sim.incarnation === v.incarnation) {
        out.push({ id, replica: v.replica });
      }
    }
    return out;
  };
  const leaderName = (): string | undefined => {
    let best: number | undefined;
    let bestTerm = -1;
    for (const n of live()) {
      const s = n.replica.status();
      if (s.role === 'leader' && s.term > bestTerm) [best, bestTerm] = [n.id, s.term];
    }
    return best === undefined ? undefined : `n${best}`;
  };

  // ---- clients ----
  const events: HistoryEvent[] = [];
  const grants: GrantRecord[] = [];
  const clients: LockTestClient[] = [];
  let nextProcess = 0;
  let nextValue = 1;
  let keysCreated = false;
  let stopping = false;
  let healed = false;
  const doneAfterHeal = new Map<string, number>();
  const finished = new Set<string>();
  const counts = { ok: 0, fail: 0, info: 0, sessions: 0, queued: 0, abandoned: 0 };
  /** Safe hold: renewal invocation + ttl − this. */
  const expiryMarginMs = 2 * offsetMaxMs + expirySlackMs;

  const runClient =
    (name: string, index: number, crng: Prng) =>
    async (env: Env): Promise<void> => {
      const client = new LockTestClient(env, peers, crng, callTimeoutMs, index);
      clients.push(client);
      let process = nextProcess++;
      const cache = new Map<string, [number, number | null]>();
      const op = async <T>(
        f: string,
        key: string,
        input: unknown,
        run: () => Promise<T>,
        output: (r: T) => unknown,
      ): Promise<T | undefined> => {
        events.push({ process, type: 'invoke', f, key, value: input });
        try {
          const r = await run();
          events.push({ process, type: 'ok', f, key, value: output(r) });
          counts.ok++;
          if (healed) doneAfterHeal.set(name, (doneAfterHeal.get(name) ?? 0) + 1);
          return r;
        } catch (err) {
          if (err instanceof Refused) {
            events.push({ process, type: 'fail', f, key, value: input });
            counts.fail++;
          } else {
            events.push({ process, type: 'info', f, key, value: input });
            counts.info++;
            process = nextProcess++;
          }
          return undefined;
        }
      };
      const readOutput = (r: unknown): [number, number | null] => {
        const { data, stat } = r as { data: Uint8Array; stat: { version: number } };
        return [stat.version, data.length === 0 ? null : Number(fromUtf8(data))];
      };
      const read = (key: string): Promise<unknown> =>
        op(
          'read',
          key,
          null,
          async () => {
            const cached = cache.get(key);
            if (bugs.cachedReads === true && cached !== undefined && crng.chance(0.5)) {
              await env.timers.sleep(1);
              return { cached };
            }
            const r = await client.call('lock.get', { path: key });
            cache.set(key, readOutput(r));
            return r;
          },
          (r) => {
            const c = (r as { cached?: [number, number | null] }).cached;
            return c ?? readOutput(r);
          },
        );

      if (index === 0) {
        // Setup: create the paths atomically, retrying until it is certain they exist.
        while (!keysCreated) {
          try {
            await client.call('lock.multi', {
              ops: KEYS.map((path) => ({ type: 'create', path, data: new Uint8Array(0) })),
            });
            keysCreated = true;
          } catch (err) {
            if (err instanceof Refused && err.code === 'ALREADY_EXISTS') keysCreated = true;
            else await env.timers.sleep(50);
          }
        }
      }
      while (!keysCreated) await env.timers.sleep(20);

      // The lock: a session, renewed before acquiring, and the grant it holds.
      let session = 0;
      let renewedMs = 0;
      const abandon = async (): Promise<void> => {
        counts.abandoned++;
        const s = session;
        session = 0;
        await client.call('lock.closeSession', { session: s }).catch(() => undefined);
      };
      const lockStep = async (): Promise<void> => {
        const now = world.nowMs();
        if (session === 0) {
          try {
            const r = (await client.call('lock.openSession', { ttlMs: sessionTtlMs })) as {
              session: number;
            };
            session = r.session;
            renewedMs = now;
            counts.sessions++;
          } catch {
            // Unknown: a session may be left behind; it holds nothing and expires.
          }
          return;
        }
        if (now - renewedMs > renewEveryMs) {
          try {
            await client.call('lock.keepAlive', { session });
            renewedMs = now;
          } catch (err) {
            if (err instanceof Refused) session = 0;
            else await abandon();
          }
          return;
        }
        let r: { granted: boolean; token?: number };
        try {
          r = (await client.call('lock.acquire', {
            path: LOCK_PATH,
            session,
            mode: 'exclusive',
          })) as { granted: boolean; token?: number };
        } catch (err) {
          if (err instanceof Refused) session = 0;
          else await abandon();
          return;
        }
        if (!r.granted) {
          counts.queued++;
          return;
        }
        const grant: GrantRecord = {
          client: name,
          session,
          token: r.token!,
          invokedMs: now,
          ackedMs: world.nowMs(),
          endMs: renewedMs + sessionTtlMs - expiryMarginMs,
        };
        grants.push(grant);
        await env.timers.sleep(crng.int(40));
        grant.endMs = Math.min(grant.endMs, world.nowMs());
        try {
          await client.call('lock.release', { path: LOCK_PATH, session });
          if (bugs.useAfterRelease === true) {
            grant.endMs = world.nowMs() + 300;
          }
        } catch (err) {
          if (err instanceof Refused) session = 0;
          else await abandon();
        }
      };

      while (!stopping) {
        const key = KEYS[crng.int(KEYS.length)]!;
        if (crng.chance(0.25)) client.wander();
        const dice = crng.float();
        if (dice < 0.2) {
          await lockStep();
        } else if (dice < 0.45) {
          await read(key);
        } else if (dice < 0.8) {
          const value = nextValue++;
          await op(
            'write',
            key,
            value,
            () => client.call('lock.set', { path: key, data: utf8(String(value)) }),
            (r) => {
              const version = (r as { stat: { version: number } }).stat.version;
              cache.set(key, [version, value]);
              return version;
            },
          );
        } else {
          const r = await read(key);
          if (r === undefined) continue;
          const cached = (r as { cached?: [number, number | null] }).cached;
          const version = cached?.[0] ?? (r as { stat: { version: number } }).stat.version;
          const value = nextValue++;
          await op(
            'cas',
            key,
            [version, value],
            () =>
              client.call('lock.set', {
                path: key,
                data: utf8(String(value)),
                expectedVersion: version,
              }),
            (r) => {
              const v = (r as { stat: { version: number } }).stat.version;
              cache.set(key, [v, value]);
              return v;
            },
          );
        }
        await env.timers.sleep(crng.between(1, 20));
      }
      if (session !== 0) {
        await client.call('lock.closeSession', { session }).catch(() => undefined);
      }
      client.close();
      finished.add(name);
    };
  clientNames.forEach((name, i) => {
    const c = clock();
    world
      .addNode(name, { clockOffsetMicros: c.offsetMicros, clockDriftPpm: c.driftPpm })
      .start(runClient(name, i, rng.fork()));
  });

  // ---- safety phase: the nemesis ----
  const faults = { crashes: 0, leaderCrashes: 0, isolations: 0, partitions: 0, clocks: 0 };
  const minority = (replicaCount - 1) / 2;
  const setNetwork = (): void => {
    world.setNetworkFaults({
      meanDelayMs: 0.5 + rng.float() * 3,
      maxDelayMs: 20,
      lossRate: rng.float() * 0.05,
      duplicateRate: rng.float() * 0.05,
      reorderRate: rng.float() * 0.1,
      splitRate: 0.3,
    });
  };
  setNetwork();
  const safetyEnd = world.nowMs() + safetyPhaseMs;
  await world.runFor(rng.between(200, 500));
  while (world.nowMs() < safetyEnd) {
    const roll = rng.int(12);
    const t = world.nowMs();
    if (roll < 4) {
      const down = replicaNames.filter((n) => !world.node(n).alive).length;
      const leader = leaderName();
      const victim = rng.chance(0.5) && leader !== undefined ? leader : rng.pick(replicaNames);
      if (down < minority && world.node(victim).alive) {
        faults.crashes++;
        if (victim === leader) faults.leaderCrashes++;
        world.crash(victim);
        log(`t=${t} crash ${victim}${victim === leader ? ' (leader)' : ''}`);
        world.after(
          rng.between(50, 800),
          () => {
            if (!world.node(victim).alive) world.restart(victim);
          },
          `restart ${victim}`,
        );
      }
    } else if (roll < 6) {
      const leader = leaderName();
      const victim = rng.chance(0.7) && leader !== undefined ? leader : rng.pick(replicaNames);
      faults.isolations++;
      world.isolate(victim);
      log(`t=${t} isolate ${victim}${victim === leader ? ' (leader)' : ''}`);
      world.after(rng.between(100, 800), () => world.heal(), 'heal');
    } else if (roll < 8 && rng.chance(0.5) && leaderName() !== undefined) {
      // The leader, with some clients, cut off from the majority.
      const leader = leaderName()!;
      const shuffled = rng.shuffle([...clientNames]);
      const cut = 1 + rng.int(shuffled.length - 1);
      const side = [leader, ...shuffled.slice(0, cut)];
      const rest = [...replicaNames.filter((n) => n !== leader), ...shuffled.slice(cut)];
      faults.partitions++;
      world.partition(side, rest);
      log(`t=${t} partition ${side} (leader) | ${rest}`);
      world.after(rng.between(100, 800), () => world.heal(), 'heal');
    } else if (roll < 8) {
      const all = rng.shuffle([...replicaNames, ...clientNames]);
      const cut = 1 + rng.int(all.length - 1);
      faults.partitions++;
      world.partition(all.slice(0, cut), all.slice(cut));
      log(`t=${t} partition ${all.slice(0, cut)} | ${all.slice(cut)}`);
      world.after(rng.between(100, 800), () => world.heal(), 'heal');
    } else if (roll < 10) {
      const n = rng.pick([...replicaNames, ...clientNames]);
      faults.clocks++;
      world.node(n).setClock(clock());
    } else {
      setNetwork();
      log(`t=${t} network faults changed`);
    }
    await world.runFor(rng.between(100, 500));
  }

  // ---- liveness phase ----
  world.trace('phase liveness');
  world.heal();
  world.setNetworkFaults({ lossRate: 0, duplicateRate: 0, reorderRate: 0, meanDelayMs: 1 });
  for (const n of replicaNames) if (!world.node(n).alive) world.restart(n);
  healed = true;
  const progressed = await world.runUntil(
    () => clientNames.every((c) => (doneAfterHeal.get(c) ?? 0) >= livenessOps),
    { timeoutMs: livenessTimeoutMs },
  );
  if (!progressed) {
    fail(
      `liveness: within ${livenessTimeoutMs}ms of the heal not every client completed ` +
        `${livenessOps} operations: ${clientNames.map((c) => `${c}=${doneAfterHeal.get(c) ?? 0}`).join(' ')}`,
    );
  }
  stopping = true;
  const stopped = await world.runUntil(() => finished.size === clientNames.length, {
    timeoutMs: livenessTimeoutMs,
  });
  if (!stopped) {
    fail(
      `liveness: clients ${clientNames.filter((c) => !finished.has(c)).join(',')} did not finish their last operation`,
    );
  }
  world.trace('phase check');

  // ---- checks ----
  const ops = buildOperations(events);
  const result = checkLinearizability(versionedRegisterModel, ops);
  if (result.verdict !== 'linearizable') {
    const w = result.failure;
    fail(
      `history ${result.verdict}` +
        (w
          ? ` on ${w.partition}: ${formatOperation(w.failed)} after state ${w.stateAfterPrefix}; ` +
            `window: ${w.window.map(formatOperation).join(' | ')}`
          : ` (budget exhausted in ${String(result.exhaustedIn)})`),
    );
  }
  for (const v of checkGrants(grants)) fail(v);
  const errorCodes = new Map<string, number>();
  for (const c of clients) {
    for (const [code, n] of c.errorCodes) errorCodes.set(code, (errorCodes.get(code) ?? 0) + n);
  }
  for (const code of unexpectedCodes) {
    if (errorCodes.has(code))
      fail(`the service answered ${errorCodes.get(code)} calls with ${code}`);
  }
  for (const r of replicas) {
    if (r.failure !== undefined) fail(`replica ${r.id} failed: ${String(r.failure)}`);
  }
  for (const e of world.nodeErrors) {
    fail(
      `node ${e.node}#${e.incarnation} threw: ${String((e.error as Error)?.message ?? e.error)}`,
    );
  }

  const f = faults;
  return {
    violations,
    summary:
      `${replicaCount} replicas, ${clientCount} clients, skew ±${offsetMaxMs}ms; ` +
      `${ops.length} ops: ${counts.ok} ok, ${counts.fail} failed, ${counts.info} indeterminate; ` +
      `${grants.length} grants, ${counts.queued} queued, ${counts.sessions} sessions ` +
      `(${counts.abandoned} abandoned); ${f.crashes} crashes (${f.leaderCrashes} leader), ` +
      `${f.isolations} isolations, ${f.partitions} partitions, ${f.clocks} clock changes; ` +
      `${result.steps} check steps; errors ${[...errorCodes].map(([k, v]) => `${k}=${v}`).join(' ') || 'none'}`,
  };
}

/**
 * Sequencers and mutual exclusion over the acknowledged grants (see the file comment).
 * Exported for tests.
 */
export function checkGrants(grants: readonly GrantRecord[]): string[] {
  const out: string[] = [];
  const describe = (g: GrantRecord): string =>
    `${g.client} session ${g.session} token ${g.token} (acquire t=${g.invokedMs}..${g.ackedMs}ms)`;
  grants.forEach((g, i) => {
    grants.forEach((h, j) => {
      if (out.length >= 5) return;
      const same = h.token === g.token && h.session === g.session;
      if (h.ackedMs < g.invokedMs && h.token >= g.token && !same) {
        out.push(`sequencer: ${describe(g)} was granted after ${describe(h)} was acknowledged`);
      }
      if (
        i < j &&
        h.session !== g.session &&
        h.ackedMs < h.endMs &&
        g.ackedMs < g.endMs &&
        g.ackedMs < h.endMs &&
        h.ackedMs < g.endMs
      ) {
        out.push(
          `mutual exclusion: ${describe(g)} held until t=${g.endMs}ms overlaps ` +
            `${describe(h)} held until t=${h.endMs}ms`,
        );
      }
    });
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// The planted server-side bug: lock.get served by any replica from its applied state, without a
// read index. (Serving it only on a replica that believes it is the leader, still without a read
// index, went uncaught in 300 seeds: check-quorum makes a deposed leader step down within about
// two election timeouts, and no client reached it with a fresher write in between.)

function plantLocalReads(server: RpcServer, replica: LockReplica): void {
  server.handle('lock.get', (args) => {
    const { data, stat } = replica.stateMachine.get((args as { path: string }).path);
    return { data, stat };
  });
}

/** A view of `server` whose handle() leaves methods that already have a handler alone. */
function skipRegistered(server: RpcServer): RpcServer {
  const taken = new Set(['lock.get']);
  return new Proxy(server, {
    get(target, prop, receiver) {
      if (prop === 'handle') {
        return (method: string, handler: Parameters<RpcServer['handle']>[1]) =>
          taken.has(method) ? receiver : target.handle(method, handler);
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}
