/**
 * The ring scenario: hashed tables (src/ring, the Dynamo/Cassandra ring) end to end under
 * faults, through the public client, checked for what R + W > RF promises.
 *
 * The seed chooses 3–7 ring nodes n1..nN, each on its own simulated machine with its own disk
 * and clock, each taking 8–32 tokens (vnodes) on its first start, with n1 and n2 as seeds; and
 * 2–4 client machines, each running `workersPerClient` workers. Every node is a real node
 * service (startNodeService with a ring, over Database.open, as `tessera node --ring` wires it).
 * The scenario waits until gossip has converged (every node sees every node alive), one client
 * creates two hashed tables with RF 3 at a random node (the second holds the blind rows of
 * check 6), and the scenario waits for every node to agree on the schema.
 *
 * Workload: each worker loops over a few rows (`ROWS`, so each row takes many writes): it puts
 * a unique value (`c2-17`), deletes the row, or reads it, at QUORUM mostly, at ONE or ALL
 * sometimes, each request at a coordinator picked at random (a client machine holds one
 * connected Database per ring node). A quarter of the client machines use the client's
 * token-aware routing, which hands a request to a live replica of its row instead. The history
 * records each call's invocation and completion (virtual time), its outcome — ok; failed for
 * certain (REPLICAS_UNAVAILABLE: the coordinator sent nothing); or indeterminate (anything else:
 * REPLICA_TIMEOUT, a lost connection, a client deadline) — the timestamp an acknowledged write
 * reports, and the value and cell timestamp a read returns (or none).
 *
 * Hints: half of the seeds keep hints for 1 s only (`hintWindowMs`), so a replica down or cut
 * off for longer gets none and check 6's repair has the work to do.
 *
 * Clocks: half of the seeds run exact clocks (no skew, no drift, no clock faults); the other
 * half start every clock within ±O (O = 1–500 ms per seed) with ±100 ppm drift, and jump clocks
 * within ±O during the safety phase. Coordinators stamp writes from their wall clocks, so under
 * skew a write invoked after another may get the older timestamp and lose (last write wins):
 * Dynamo's behaviour, not a bug. The checks below are stated in timestamp order, which holds
 * whatever the clocks; the real-time form of check 1 (1b) runs only with exact clocks.
 *
 * Faults during the safety phase (a nemesis step every 150–600 ms): a crash of one ring node,
 * restarted from its disk 0.2–2.5 s later; isolation of one ring node from everything, or from
 * the other ring nodes only (clients still reach it: a coordinator on the minority side); clock
 * jumps (skewed seeds); changes of stream delay, loss (retransmission delays) and connection
 * resets. At most one ring node is impaired (down or cut off) at a time, so every replica set
 * of three keeps a majority. Then every fault is healed, every node restarted, and the liveness
 * phase runs; last, a checker machine reads every row at QUORUM and at ALL.
 *
 * Checked from outside the nodes:
 * 1. Reads see acknowledged writes when R + W > RF (QUORUM and QUORUM, ONE and ALL, …):
 *    (a) a read's value comes from a put to that row that was invoked before the read
 *        completed, did not fail for certain, and — when acknowledged — has the timestamp the
 *        read reports; (b) let T be the newest timestamp of the acknowledged writes to the
 *        row, at levels W with R + W > RF, that completed before the read began: the read
 *        returns a cell stamped at or after T (after, if T is a delete's: deletes win ties), or
 *        none when a delete stamped at or after every such put may have won.
 *    1b. With exact clocks, in real time: an acknowledged write's timestamp falls within its
 *        call, and a read returns no value of a write that completed before the latest such
 *        write W* began (nor none, unless some delete did not complete before W* began).
 * 2. No lost acknowledged writes: after the heal, each row's QUORUM read and ALL read obey
 *    check 1 — the ALL read against every acknowledged write, ONE included — and succeed.
 * 3. Gossip converges: within `convergeTimeoutMs` of the heal every node sees every node
 *    alive, in status normal, with the tokens and generation that node gives itself, and every
 *    node gossips the same schema digest.
 * 4. No unexpected errors (INTERNAL, ASSERTION_FAILED, INVALID_ARGUMENT, CORRUPTION, or a thrown
 *    value that is no TesseraError) and no node errors.
 * 5. Liveness: once gossip has converged after the heal, every client completes
 *    `livenessOps` QUORUM writes and as many QUORUM reads.
 * 6. Replicas converge: once the clients have stopped, every hint is delivered within
 *    `healTimeoutMs`, and one anti-entropy repair (`ring.repair`, every range, at a random
 *    node) finishes complete; then every replica of every row holds identical data — the same
 *    cells, versions and timestamps, read from each node's own store — and the replicas of
 *    each replica set have equal Merkle roots over their shared ranges, in both tables. Part of
 *    the workload writes "blind" rows, in their own table, that nobody reads before this
 *    point, so read repair cannot have healed them: only hints and the repair can. The final
 *    reads (check 2) come after it.
 * 7. Growth: in 40% of the seeds one more node starts with `bootstrap` during the safety phase
 *    (it is never a fault's victim, but the faults go on around it). As soon as a first node
 *    sees it normal, every write acknowledged at QUORUM or ALL that completed before it
 *    started must be held by a quorum of its row's new replicas (read from their stores; a
 *    replica that is down counts as holding it), and the checks above then cover the larger
 *    ring.
 *
 * The scenario found restarted nodes coordinating on a ring of themselves alone, before gossip
 * had told them of their peers: at ONE they acknowledged writes stored on no replica of the
 * row, and on a ring of two they met QUORUM with the wrong nodes. A restarted node now starts
 * from the ring it last knew (src/ring's peers.json).
 *
 * Planted bugs (`makeRingScenario(bugs)`) prove the checks can fail: `writesAtOne` is a client
 * that writes at ONE but records QUORUM; `readsAtOne` one that reads at ONE but records QUORUM
 * (check 1); `noHealing` runs nodes whose hints all expire, skips the repair and turns read
 * repair off (check 6); `joinWithoutStreaming` starts the joiner without `bootstrap`, serving
 * its ranges empty at once (check 7).
 */
import { startNodeService, type RunningNode } from '../../api/index.js';
import { connect, type Database as ClientDatabase } from '../../client/index.js';
import type { Env, Timer } from '../../env/index.js';
import { Database, type ConsistencyLevel } from '../../model/index.js';
import { resolveRawEntries } from '../../storage/index.js';
import { familyOptionsLookup } from '../../model/index.js';
import {
  buildLeaves,
  type EndpointInfo,
  groupByReplicas,
  MerkleTree,
  murmur3Token,
  rangeIntervals,
  replicaRanges,
  replicasFor,
  type RingNode,
  tokenIntervals,
} from '../../ring/index.js';
import { toHex, utf8 } from '../../util/bytes.js';
import { isTesseraError, toTesseraError } from '../../util/errors.js';
import type { Prng } from '../../util/prng.js';
import type { Scenario, ScenarioContext, ScenarioResult } from '../scenario.js';

const RING_PORT = 7100;
const TABLE = 'kv';
/** The blind rows' table: check 6 covers every table, so there are two. */
const BLIND_TABLE = 'blind';
const tableOf = (row: string): string => (BLIND_ROWS.includes(row) ? BLIND_TABLE : TABLE);
const FAMILY = 'f';
const COLUMN = 'f:v';
const ROWS = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7'] as const;
/** Share of seeds in which a node bootstraps into the ring during the safety phase. */
const joinShare = 0.4;
/** Rows only written (put or deleted) until the convergence check: see check 6. */
const BLIND_ROWS = Array.from({ length: 24 }, (_, i) => `b${i}`);
/** Share of workload operations that write a blind row. */
const blindShare = 0.25;
/** Hints must be delivered, and the repair finish, within this after the clients stop. */
const healTimeoutMs = 60_000;
/** Merkle tree depth of the convergence check (small rings, few rows). */
const checkTreeDepth = 8;
const replicationFactor = 3;
const ringNodesMin = 3;
const ringNodesMax = 7;
const vnodesMin = 8;
const vnodesMax = 32;
const clientsMin = 2;
const clientsMax = 4;
const workersPerClient = 2;
/** Gossip must converge within this, at the start and after the heal. */
const convergeTimeoutMs = 30_000;
const safetyPhaseMs = 5_000;
const nemesisStepMsMin = 150;
const nemesisStepMsMax = 600;
const downtimeMsMin = 200;
const downtimeMsMax = 2_500;
/** Longer than the 3 s pause phi tolerates: peers mark an isolated node down, and back up. */
const isolationMsMin = 200;
const isolationMsMax = 5_000;
const clockOffsetMsMax = 500;
const clockDriftPpmMax = 100;
/** A client's call timeout is chosen per seed in this range (coordinators wait 2 s / 5 s). */
const callTimeoutMsMin = 300;
const callTimeoutMsMax = 6_000;
/** Attempts of one client call (the client retries reads, and writes never sent). */
const callAttemptsMax = 3;
const opPauseMsMax = 20;
/** QUORUM writes and QUORUM reads each client completes after the heal. */
const livenessOps = 3;
const livenessTimeoutMs = 20_000;
/**
 * A final read is tried this often, this far apart: a peer connection opened during a partition
 * may keep failing for a while after the heal (its SYN waits for a retransmission).
 */
const finalReadAttemptsMax = 10;
const finalReadPauseMs = 500;
/** Share of client machines whose client routes each request to a replica of its row. */
const tokenAwareShare = 0.25;
const violationsMax = 20;

/** What the history records for a call that threw something other than a TesseraError. */
const NOT_A_TESSERA_ERROR = 'NOT_A_TESSERA_ERROR';
/** Errors that are bugs whatever the faults. */
const unexpectedCodes = [
  'INTERNAL',
  'ASSERTION_FAILED',
  'INVALID_ARGUMENT',
  'CORRUPTION',
  NOT_A_TESSERA_ERROR,
];

/** Bugs a test plants to prove the checkers catch them (see the file comment). */
export interface RingScenarioBugs {
  readonly writesAtOne?: boolean;
  readonly readsAtOne?: boolean;
  readonly noHealing?: boolean;
  /** The joiner takes random tokens and serves at once, streaming nothing (no --bootstrap). */
  readonly joinWithoutStreaming?: boolean;
}

export function makeRingScenario(bugs: RingScenarioBugs = {}): Scenario {
  return {
    name: 'ring',
    description:
      'hashed-table ring under crashes, isolation, loss and clock skew; reads see acknowledged writes (R + W > RF), gossip converges',
    run: (ctx) => runRingScenario(ctx, bugs),
  };
}

export const ringScenario: Scenario = makeRingScenario();

// ---------------------------------------------------------------------------------------------
// The history

/** One client call on a row; times are virtual microseconds, timestamps the cells'. */
export interface RingOp {
  readonly client: string;
  /** The node the call went to: its coordinator, unless the client routes by token. */
  readonly node: string;
  readonly kind: 'put' | 'delete' | 'get';
  /** The client routes by token: the call may have gone to a replica instead (any node). */
  readonly routed?: boolean;
  readonly row: string;
  /** The level the history claims (a planted bug sends another). */
  readonly level: ConsistencyLevel;
  /** A put's value (unique per put). */
  readonly value?: string;
  readonly invokedMicros: number;
  completedMicros?: number;
  /** ok; fail (certainly had no effect); info (indeterminate). */
  outcome?: 'ok' | 'fail' | 'info';
  /** An acknowledged write's timestamp; an ok read's cell timestamp (absent for none). */
  timestamp?: number;
  /** An ok read's value, null for none. */
  read?: string | null;
  code?: string;
  /** The error's message, kept for the final reads' reports. */
  message?: string;
  /** A read of the final check (check 2). */
  final?: boolean;
}

export interface RingCheckOptions {
  readonly replicationFactor: number;
  /** Exact clocks: also check real-time order (check 1b). */
  readonly exactClocks: boolean;
  /** Wall time at virtual time zero, for 1b's timestamps. */
  readonly startWallMicros: number;
}

/** Replicas a level needs (simple strategy: LOCAL levels are the plain ones). */
export function replicasNeeded(level: ConsistencyLevel, rf: number): number {
  switch (level) {
    case 'ONE':
    case 'LOCAL_ONE':
      return 1;
    case 'TWO':
      return 2;
    case 'THREE':
      return 3;
    case 'QUORUM':
    case 'LOCAL_QUORUM':
      return Math.floor(rf / 2) + 1;
    case 'ALL':
      return rf;
  }
}

/** One call as violations print it: who, what, level, node, [invoked..completed outcome], ts. */
export function formatOp(op: RingOp): string {
  const ms = (micros: number | undefined): string =>
    micros === undefined ? '?' : (micros / 1000).toFixed(3);
  const what =
    op.kind === 'put'
      ? `put ${op.row}=${op.value}`
      : op.kind === 'delete'
        ? `delete ${op.row}`
        : `get ${op.row}` +
          (op.outcome === 'ok'
            ? ` -> ${op.read ?? 'none'}${op.timestamp === undefined ? '' : `@${op.timestamp}`}`
            : '');
  const ts = op.kind !== 'get' && op.timestamp !== undefined ? ` ts=${op.timestamp}` : '';
  return (
    `${op.final === true ? 'final ' : ''}${op.client} ${what} at ${op.level} ` +
    `via ${op.node}${op.routed === true ? ' (token-aware)' : ''} ` +
    `[${ms(op.invokedMicros)}..${ms(op.completedMicros)}ms ${op.outcome ?? 'pending'}` +
    `${op.code === undefined ? '' : ` ${op.code}`}]${ts}`
  );
}

/** Checks 1, 1b and 2 over a history (see the file comment); one line per violation. */
export function checkRingHistory(ops: readonly RingOp[], options: RingCheckOptions): string[] {
  const out: string[] = [];
  const rf = options.replicationFactor;
  const writesByRow = new Map<string, RingOp[]>();
  const putsByValue = new Map<string, RingOp>();
  for (const op of ops) {
    if (op.kind === 'get') continue;
    const list = writesByRow.get(op.row) ?? [];
    list.push(op);
    writesByRow.set(op.row, list);
    if (op.kind === 'put' && op.value !== undefined) putsByValue.set(op.value, op);
  }
  const completed = (op: RingOp): number => op.completedMicros ?? Infinity;
  // Until when a write may still take effect: unknown (never) for an indeterminate one.
  const effectEnd = (op: RingOp): number => (op.outcome === 'ok' ? completed(op) : Infinity);

  if (options.exactClocks) {
    for (const w of ops) {
      if (w.kind === 'get' || w.outcome !== 'ok' || w.timestamp === undefined) continue;
      const t = w.timestamp - options.startWallMicros;
      if (t < w.invokedMicros || t > completed(w)) {
        out.push(`timestamp outside its call (exact clocks): ${formatOp(w)}`);
      }
    }
  }

  for (const r of ops) {
    if (r.kind !== 'get' || r.outcome !== 'ok') continue;
    const writes = writesByRow.get(r.row) ?? [];
    // (a) Where the value came from.
    let source: RingOp | undefined;
    if (r.read !== null && r.read !== undefined) {
      source = putsByValue.get(r.read);
      if (source === undefined || source.row !== r.row) {
        out.push(`read of a value never written to ${r.row}: ${formatOp(r)}`);
        continue;
      }
      if (source.invokedMicros > completed(r)) {
        out.push(`read of a value written later: ${formatOp(r)} ← ${formatOp(source)}`);
      }
      if (source.outcome === 'fail') {
        out.push(
          `read of a value whose write certainly failed: ${formatOp(r)} ← ${formatOp(source)}`,
        );
      }
      if (source.outcome === 'ok' && source.timestamp !== r.timestamp) {
        out.push(`read timestamp differs from the write's: ${formatOp(r)} ← ${formatOp(source)}`);
      }
    }
    // (b) Freshness in timestamp order, over the acknowledged writes this read must see.
    const needed = replicasNeeded(r.level, rf);
    const seen = writes.filter(
      (w) =>
        w.outcome === 'ok' &&
        w.timestamp !== undefined &&
        completed(w) < r.invokedMicros &&
        replicasNeeded(w.level, rf) + needed > rf,
    );
    if (seen.length === 0) continue;
    const newest = (kind: RingOp['kind']): RingOp | undefined => {
      let best: RingOp | undefined;
      for (const w of seen)
        if (w.kind === kind && (best === undefined || w.timestamp! > best.timestamp!)) best = w;
      return best;
    };
    const put = newest('put');
    const del = newest('delete');
    const prefix = r.final === true ? 'lost acknowledged write' : 'stale read';
    const stale = (missed: RingOp): void => {
      out.push(`${prefix}: ${formatOp(r)} though ${formatOp(missed)} was acknowledged before it`);
    };
    const before = out.length;
    if (source !== undefined) {
      const ts = r.timestamp ?? -Infinity;
      if (put !== undefined && ts < put.timestamp!) stale(put);
      else if (del !== undefined && ts <= del.timestamp!) stale(del);
    } else if (put !== undefined) {
      const masked = writes.some(
        (d) =>
          d.kind === 'delete' &&
          d.invokedMicros < completed(r) &&
          (d.outcome === 'info' || (d.outcome === 'ok' && d.timestamp! >= put.timestamp!)),
      );
      if (!masked) stale(put);
    }
    // 1b. Real time, where (b) found nothing: no value of a write that ended before the latest
    // such write began.
    if (!options.exactClocks || out.length > before) continue;
    let latest = seen[0]!;
    for (const w of seen) if (w.invokedMicros > latest.invokedMicros) latest = w;
    if (source !== undefined) {
      if (source !== latest && effectEnd(source) < latest.invokedMicros) {
        out.push(
          `real-time order: ${formatOp(r)} ← ${formatOp(source)}, which ended before ` +
            `${formatOp(latest)} began`,
        );
      }
    } else if (latest.kind === 'put') {
      const masked = writes.some(
        (d) =>
          d.kind === 'delete' &&
          d.outcome !== 'fail' &&
          d.invokedMicros < completed(r) &&
          effectEnd(d) > latest.invokedMicros,
      );
      if (!masked) {
        out.push(
          `real-time order: ${formatOp(r)} though ${formatOp(latest)} was acknowledged before it`,
        );
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One run

interface NodeView {
  readonly incarnation: number;
  running: RunningNode | undefined;
}

async function runRingScenario(
  { world, log }: ScenarioContext,
  bugs: RingScenarioBugs,
): Promise<ScenarioResult> {
  const rng = world.random.fork();
  const nodeCount = rng.between(ringNodesMin, ringNodesMax);
  const vnodes = rng.between(vnodesMin, vnodesMax);
  const clientCount = rng.between(clientsMin, clientsMax);
  const exactClocks = rng.chance(0.5);
  const offsetMaxMs = exactClocks ? 0 : rng.between(1, clockOffsetMsMax);
  const callTimeoutMs = rng.between(callTimeoutMsMin, callTimeoutMsMax);
  const nodeNames = Array.from({ length: nodeCount }, (_, i) => `n${i + 1}`);
  // In some seeds one more node bootstraps into the ring during the safety phase (check 7).
  // Half the seeds keep hints for 1 s only, so replicas down longer are left for the repair.
  const shortHints = rng.chance(0.5);
  const joinerName = `n${nodeCount + 1}`;
  const joins = rng.chance(joinShare);
  let joined = false;
  /** When the joiner was started (virtual µs), and whether check 7 ran. */
  let joinStartedMicros = 0;
  let joinChecked = false;
  /** The ring's nodes: the first ones, and the joiner once it was started. */
  const ringNames = (): string[] => (joined ? [...nodeNames, joinerName] : nodeNames);
  const clientNames = Array.from({ length: clientCount }, (_, i) => `c${i + 1}`);
  const seeds = nodeNames.slice(0, 2).map((name) => `${name}:${RING_PORT}`);
  const violations: string[] = [];
  const fail = (what: string): void => {
    if (violations.length < violationsMax) violations.push(what);
    else if (violations.length === violationsMax) violations.push('… more violations');
  };
  const clock = (): { offsetMicros: number; driftPpm: number } =>
    exactClocks
      ? { offsetMicros: 0, driftPpm: 0 }
      : {
          offsetMicros: rng.between(-offsetMaxMs * 1000, offsetMaxMs * 1000),
          driftPpm: rng.between(-clockDriftPpmMax, clockDriftPpmMax),
        };
  const setup =
    `${nodeCount} nodes (${vnodes} vnodes), ${clientCount} clients, ` +
    (exactClocks ? 'exact clocks' : `skew ±${offsetMaxMs}ms`) +
    `, call timeout ${callTimeoutMs}ms` +
    (shortHints ? ', hints kept 1 s' : '');
  log(setup);
  world.trace(`ring: ${setup}`);

  // ---- ring nodes ----
  const views = new Map<string, NodeView>();
  const startRingNode = (name: string, bootstrap: boolean): void => {
    const c = clock();
    world
      .addNode(name, { clockOffsetMicros: c.offsetMicros, clockDriftPpm: c.driftPpm })
      .start(async (env) => {
        const view: NodeView = { incarnation: world.node(name).incarnation, running: undefined };
        views.set(name, view);
        const database = await Database.open(env, { dir: '/db' });
        view.running = await startNodeService(env, {
          name,
          listen: { host: name, port: RING_PORT },
          database,
          ring: {
            name,
            dir: '/ring',
            seeds,
            vnodes,
            bootstrap,
            ...(shortHints ? { hintWindowMs: 1000 } : {}),
            ...(bugs.noHealing === true
              ? { hintWindowMs: 1, coordinator: { readRepairChance: 0 } }
              : {}),
          },
        }).catch(async (err: unknown) => {
          await database.close().catch(() => undefined);
          throw err;
        });
      });
  };
  for (const name of nodeNames) startRingNode(name, false);
  /** The running node service of each ring node that is up (its current incarnation). */
  const live = (): Map<string, RunningNode> => {
    const out = new Map<string, RunningNode>();
    for (const name of ringNames()) {
      const v = views.get(name);
      const sim = world.node(name);
      if (v?.running !== undefined && sim.alive && sim.incarnation === v.incarnation) {
        out.set(name, v.running);
      }
    }
    return out;
  };
  /** Why gossip has not converged (check 3), or undefined when it has. */
  const unconverged = (): string | undefined => {
    const running = live();
    const seen = new Map<string, EndpointInfo[]>();
    const self = new Map<string, EndpointInfo>();
    const names = ringNames();
    const count = names.length;
    // Cheap tests first: this runs before every event while the scenario waits.
    for (const name of names) {
      const ring = running.get(name)?.ring;
      if (ring === undefined) return `${name} is not running`;
      const m = ring.membership;
      if (m.ring.endpoints.length !== count) return `${name} has a partial ring`;
      const now = ring.env.clock.monoMicros();
      const down = m.ring.endpoints.find((e) => !m.isAlive(e.id, now));
      if (down !== undefined) return `${name} sees ${down.id} down`;
    }
    for (const name of names) {
      const ring = running.get(name)!.ring!;
      const endpoints = ring.membership.endpoints(ring.env.clock.monoMicros());
      seen.set(name, endpoints);
      const me = endpoints.find((e) => e.id === ring.id);
      if (me === undefined) return `${name} does not know itself`;
      self.set(me.id, me);
    }
    const schemas = new Set([...self.values()].map((e) => e.schema));
    if (schemas.size !== 1) return `schema digests differ: ${[...schemas].join(' ')}`;
    for (const [name, endpoints] of seen) {
      if (endpoints.length !== count) {
        return `${name} knows ${endpoints.map((e) => e.id).join(',')}`;
      }
      for (const e of endpoints) {
        const truth = self.get(e.id);
        if (truth === undefined) return `${name} knows a stranger ${e.id}`;
        if (!e.alive) return `${name} sees ${e.id} down`;
        if (e.status !== 'normal') return `${name} sees ${e.id} ${e.status}`;
        if (e.generation !== truth.generation) {
          return `${name} sees ${e.id} at generation ${e.generation}, not ${truth.generation}`;
        }
        if (e.tokens.join(',') !== truth.tokens.join(',')) {
          return `${name} sees other tokens of ${e.id}`;
        }
        if (e.schema !== truth.schema) return `${name} sees an old schema of ${e.id}`;
      }
    }
    return undefined;
  };

  /**
   * Check 6: waits for every hint to be delivered, runs one repair of every range at a random
   * node, and compares every replica of every row, and the Merkle roots of every replica set.
   * Returns what it did, for the summary.
   */
  const converge = async (): Promise<string> => {
    const rings = (): RingNode[] => [...live().values()].map((r) => r.ring!);
    const hintsHeld = (): number =>
      rings().reduce((n, r) => n + r.hints.stats().reduce((m, s) => m + s.hints, 0), 0);
    const held = hintsHeld();
    if (bugs.noHealing !== true) {
      const drained = await world.runUntil(() => hintsHeld() === 0, { timeoutMs: healTimeoutMs });
      if (!drained) fail(`${hintsHeld()} hints were not delivered within ${healTimeoutMs}ms`);
    }
    let repaired = 'no repair';
    if (bugs.noHealing !== true) {
      const at = live().get(rng.pick(nodeNames))?.ring;
      if (at === undefined) {
        fail('no node to run the repair at');
        return 'no repair';
      }
      const id = at.startRepair(undefined, 'all');
      const session = () => at.describe().repairs?.find((r) => r.id === id);
      const over = await world.runUntil(() => session()?.state !== 'running', {
        timeoutMs: healTimeoutMs,
      });
      const info = session();
      if (!over || info === undefined) {
        fail(`the repair did not finish within ${healTimeoutMs}ms`);
        return 'repair unfinished';
      }
      if (info.state !== 'done') {
        fail(`the repair ended ${info.state}: ${info.stats.errors.join('; ')}`);
      }
      repaired =
        `repair at ${at.id}: ${info.stats.leavesDiffering} of ${info.stats.leavesCompared} ` +
        `leaves differed, ${info.stats.rowsStreamed} rows streamed`;
    }
    // Every replica of every row, read from the node's own store.
    const running = live();
    if (running.size !== ringNames().length) {
      fail('a node is down at the convergence check');
      return repaired;
    }
    const someRing = running.get(nodeNames[0]!)!.ring!;
    const strategy = { kind: 'simple', replicationFactor } as const;
    const ringNow = someRing.membership.ring;
    let sets = 0;
    for (const [table, tableRows] of [
      [TABLE, ROWS],
      [BLIND_TABLE, BLIND_ROWS],
    ] as const) {
      const contents = new Map<string, Map<string, string>>();
      for (const [name, node] of running) {
        const tablet = node.ring!.replicaTablet(table);
        const lookup = familyOptionsLookup(tablet.schema);
        const rows = new Map<string, string>();
        const gen = tablet.rawScanBatches();
        for (;;) {
          const step = await world.settle(gen.next());
          if (step.done === true) break;
          for (const r of step.value) {
            const cells = resolveRawEntries(r.row, r.entries, { now: 0 }, lookup);
            if (cells.length === 0) continue;
            rows.set(
              toHex(r.row),
              cells.map((c) => `${toHex(c.qualifier)}@${c.timestamp}=${toHex(c.value)}`).join(','),
            );
          }
        }
        contents.set(`${name}:${RING_PORT}`, rows);
      }
      let differing = 0;
      for (const row of tableRows) {
        const key = toHex(utf8(row));
        const replicas = replicasFor(ringNow, murmur3Token(utf8(row)), strategy);
        const seen = replicas.map((id) => `${id}=${contents.get(id)?.get(key) ?? '(none)'}`);
        if (new Set(seen.map((v) => v.slice(v.indexOf('=')))).size > 1) {
          differing++;
          fail(`replicas of ${row} differ after the repair: ${seen.join(' | ')}`);
        }
      }
      // Merkle roots per replica set, over the ranges the set shares.
      for (const group of groupByReplicas(replicaRanges(ringNow, strategy)).values()) {
        sets++;
        const iv = tokenIntervals(rangeIntervals(group.ranges));
        const roots = new Set<string>();
        for (const id of group.replicas) {
          const tablet = running.get(id.split(':')[0]!)!.ring!.replicaTablet(table);
          const leaves = await world.settle(
            buildLeaves(tablet, tablet.schema, iv, 1, checkTreeDepth, 0),
          );
          roots.add(toHex(MerkleTree.fromLeaves(checkTreeDepth, leaves.leaves[0]!).root));
        }
        if (roots.size > 1 && differing === 0) {
          fail(
            `replicas ${group.replicas.join(',')} of ${table} have different Merkle roots after the repair`,
          );
        }
      }
    }
    return `${held} hints held at the stop; ${repaired}; ${sets} replica sets of 2 tables identical`;
  };

  /**
   * Check 7, once the joiner serves as normal: every write acknowledged at QUORUM or ALL that
   * completed before it started is held by a quorum of its row's new replicas — the joiner
   * took the copy of the replica it replaced (or the union of the old ones). Stores are read
   * directly; a replica that is down counts as holding it (its disk cannot be read here).
   */
  const checkJoin = async (): Promise<void> => {
    const running = live();
    const joiner = running.get(joinerName)?.ring;
    if (joinChecked || joiner === undefined || joiner.membership.status !== 'normal') return;
    // The new ring as a first node sees it once the joiner is normal there.
    const witness = nodeNames
      .map((n) => running.get(n)?.ring)
      .find((r) => r?.membership.ring.endpoints.some((e) => e.id === joiner.id));
    if (witness === undefined) return;
    joinChecked = true;
    const ringNow = witness.membership.ring;
    const strategy = { kind: 'simple', replicationFactor } as const;
    for (const row of [...ROWS, ...BLIND_ROWS]) {
      let newest: RingOp | undefined;
      for (const op of ops) {
        if (
          op.row === row &&
          op.kind !== 'get' &&
          op.outcome === 'ok' &&
          (op.level === 'QUORUM' || op.level === 'ALL') &&
          op.completedMicros! < joinStartedMicros &&
          op.timestamp !== undefined &&
          (newest === undefined || op.timestamp > newest.timestamp!)
        ) {
          newest = op;
        }
      }
      if (newest === undefined) continue;
      let holders = 0;
      for (const id of replicasFor(ringNow, murmur3Token(utf8(row)), strategy)) {
        const node = running.get(id.split(':')[0]!)?.ring;
        if (node === undefined) {
          holders++;
          continue;
        }
        let entries: readonly { readonly timestamp: number }[] = [];
        try {
          entries = await world.settle(node.replicaTablet(tableOf(row)).rawRow(utf8(row)));
        } catch (err) {
          // A node that does not know the table yet holds none of its rows.
          if (!isTesseraError(err, 'NOT_FOUND')) throw err;
        }
        if (entries.some((e) => e.timestamp >= newest.timestamp!)) holders++;
      }
      if (holders < 2) {
        fail(
          `after ${joinerName} joined, ${formatOp(newest)} is held by ${holders} of the row's ` +
            'new replicas',
        );
      }
    }
  };

  const counts = { puts: 0, deletes: 0, gets: 0, ok: 0, fail: 0, info: 0 };
  const summary = (extra: string): ScenarioResult => ({
    violations,
    summary: `${setup}; ${extra}`,
  });
  const startConverged = await world.runUntil(() => unconverged() === undefined, {
    timeoutMs: convergeTimeoutMs,
  });
  if (!startConverged) {
    fail(`gossip did not converge within ${convergeTimeoutMs}ms of the start: ${unconverged()}`);
    return summary('no workload');
  }
  const convergedAtMs = world.nowMs();
  world.trace('phase setup');

  // ---- clients ----
  const ops: RingOp[] = [];
  const errorCodes = new Map<string, number>();
  let tableCreated = false;
  let workloadOn = false;
  let stopping = false;
  let livenessOn = false;
  let finalOn = false;
  const livenessDone = new Map<string, { puts: number; gets: number }>();
  const finished = new Set<string>();
  let finalDone = false;

  const call = async (
    op: RingOp,
    run: () => Promise<{ timestamp?: number; read?: string | null }>,
  ): Promise<boolean> => {
    ops.push(op);
    if (op.kind === 'get') counts.gets++;
    else if (op.kind === 'put') counts.puts++;
    else counts.deletes++;
    try {
      const r = await run();
      op.completedMicros = world.nowMicros();
      op.outcome = 'ok';
      if (r.timestamp !== undefined) op.timestamp = r.timestamp;
      if (r.read !== undefined) op.read = r.read;
      counts.ok++;
      return true;
    } catch (err) {
      op.completedMicros = world.nowMicros();
      const code = isTesseraError(err) ? err.code : NOT_A_TESSERA_ERROR;
      op.code = code;
      if (op.final === true) op.message = toTesseraError(err).message;
      errorCodes.set(code, (errorCodes.get(code) ?? 0) + 1);
      // Only an unavailable coordinator certainly sent nothing.
      op.outcome = code === 'REPLICAS_UNAVAILABLE' ? 'fail' : 'info';
      if (op.outcome === 'fail') counts.fail++;
      else counts.info++;
      return false;
    }
  };
  const connectAll = async (
    env: Env,
    tokenAware: boolean,
  ): Promise<Map<string, ClientDatabase>> => {
    const dbs = new Map<string, ClientDatabase>();
    for (const n of nodeNames) {
      for (;;) {
        try {
          dbs.set(
            n,
            await connect(env, [{ host: n, port: RING_PORT }], {
              consistency: 'QUORUM',
              timeoutMs: callTimeoutMs,
              attemptsMax: callAttemptsMax,
              tokenAware,
            }),
          );
          break;
        } catch {
          await env.timers.sleep(50);
        }
      }
    }
    return dbs;
  };
  const get = async (
    db: ClientDatabase,
    row: string,
    level: ConsistencyLevel,
  ): Promise<{ timestamp?: number; read: string | null }> => {
    const r = await db.table(tableOf(row)).get(row, { consistency: level, columns: [COLUMN] });
    const cell = r?.cells[0];
    if (r === undefined || cell === undefined) return { read: null };
    return { timestamp: cell.timestamp, read: r.text(COLUMN) ?? null };
  };

  const worker = async (
    env: Env,
    client: string,
    crng: Prng,
    dbs: Map<string, ClientDatabase>,
    nextValue: () => string,
    routed: boolean,
  ): Promise<void> => {
    while (!workloadOn) await env.timers.sleep(20);
    while (!stopping) {
      const blind = !livenessOn && crng.chance(blindShare);
      const row = blind ? crng.pick(BLIND_ROWS) : crng.pick(ROWS);
      const node = crng.pick(nodeNames);
      const db = dbs.get(node)!;
      const liveness = livenessOn;
      const levelDice = crng.float();
      const level: ConsistencyLevel = liveness
        ? 'QUORUM'
        : levelDice < 0.7
          ? 'QUORUM'
          : levelDice < 0.9
            ? 'ONE'
            : 'ALL';
      // Blind rows are written only: 85% puts, 15% deletes.
      const dice = blind ? crng.float() * 0.55 : crng.float();
      const base = { client, node, routed, row, level, invokedMicros: world.nowMicros() };
      if (dice < 0.45) {
        const value = nextValue();
        const sent = bugs.writesAtOne === true ? 'ONE' : level;
        const ok = await call({ ...base, kind: 'put', value }, () =>
          db.table(tableOf(row)).put(row, { [COLUMN]: value }, { consistency: sent }),
        );
        if (ok && liveness) livenessDone.get(client)!.puts++;
      } else if (dice < 0.55) {
        const sent = bugs.writesAtOne === true ? 'ONE' : level;
        await call({ ...base, kind: 'delete' }, () =>
          db.table(tableOf(row)).delete(row, { consistency: sent }),
        );
      } else {
        const sent = bugs.readsAtOne === true ? 'ONE' : level;
        const ok = await call({ ...base, kind: 'get' }, () => get(db, row, sent));
        if (ok && liveness) livenessDone.get(client)!.gets++;
      }
      await env.timers.sleep(crng.between(1, opPauseMsMax));
    }
  };

  let routedClients = 0;
  clientNames.forEach((client, index) => {
    const c = clock();
    const crng = rng.fork();
    const tokenAware = rng.chance(tokenAwareShare);
    if (tokenAware) routedClients++;
    livenessDone.set(client, { puts: 0, gets: 0 });
    world
      .addNode(client, { clockOffsetMicros: c.offsetMicros, clockDriftPpm: c.driftPpm })
      .start(async (env) => {
        const dbs = await connectAll(env, tokenAware);
        if (index === 0) {
          const db = dbs.get(crng.pick(nodeNames))!;
          for (const name of [TABLE, BLIND_TABLE]) {
            for (;;) {
              try {
                await db.createTable({
                  name,
                  families: [{ name: FAMILY }],
                  placement: { hashed: { replicationFactor } },
                });
                break;
              } catch (err) {
                if (isTesseraError(err, 'ALREADY_EXISTS')) break;
                await env.timers.sleep(50);
              }
            }
          }
          tableCreated = true;
        }
        let seq = 0;
        const nextValue = (): string => `${client}-${++seq}`;
        const workers = Array.from({ length: workersPerClient }, () =>
          worker(env, client, crng.fork(), dbs, nextValue, tokenAware),
        );
        await Promise.all(workers);
        finished.add(client);
      });
  });

  // The checker's machine: after the liveness phase, each row at QUORUM and at ALL (check 2).
  const checkRng = rng.fork();
  world.addNode('check').start(async (env) => {
    const crng = checkRng;
    const dbs = await connectAll(env, false);
    while (!finalOn) await env.timers.sleep(20);
    for (const row of [...ROWS, ...BLIND_ROWS]) {
      for (const level of ['QUORUM', 'ALL'] as const) {
        let ok = false;
        const codes: string[] = [];
        for (let attempt = 0; attempt < finalReadAttemptsMax && !ok; attempt++) {
          const node = crng.pick(nodeNames);
          const op: RingOp = {
            client: 'check',
            node,
            kind: 'get',
            row,
            level,
            invokedMicros: world.nowMicros(),
            final: true,
          };
          ok = await call(op, () => get(dbs.get(node)!, row, level));
          log(formatOp(op));
          if (!ok) {
            codes.push(
              `${op.code} via ${node}${op.message === undefined ? '' : ` (${op.message})`}`,
            );
            await env.timers.sleep(finalReadPauseMs);
          }
        }
        if (!ok) {
          fail(
            `final ${level} read of ${row} failed ${finalReadAttemptsMax} times: ${codes.join('; ')}`,
          );
        }
      }
    }
    finalDone = true;
  });

  const schemaAgreed = await world.runUntil(() => tableCreated && unconverged() === undefined, {
    timeoutMs: convergeTimeoutMs,
  });
  if (!schemaAgreed) {
    fail(`the table was not created and agreed on within ${convergeTimeoutMs}ms: ${unconverged()}`);
    return summary('no workload');
  }
  workloadOn = true;

  // ---- safety phase: the nemesis ----
  world.trace('phase safety');
  const faults = { crashes: 0, isolations: 0, ringCuts: 0, clocks: 0, networks: 0 };
  let impaired: string | undefined;
  let restore: Timer | undefined;
  const restoreAfter = (victim: string, ms: number): void => {
    restore = world.after(
      ms,
      () => {
        if (!world.node(victim).alive) world.restart(victim);
        world.heal();
        log(`t=${world.nowMs()} ${victim} back`);
        impaired = undefined;
      },
      `restore ${victim}`,
    );
  };
  const setNetwork = (): void => {
    faults.networks++;
    world.setNetworkFaults({
      meanDelayMs: 0.5 + rng.float() * 3,
      maxDelayMs: 20,
      lossRate: rng.float() * 0.03,
      resetRate: rng.float() * 0.001,
      splitRate: 0.3,
    });
  };
  setNetwork();
  const safetyEnd = world.nowMs() + safetyPhaseMs;
  const joinAtMs = joins ? world.nowMs() + rng.between(0, safetyPhaseMs / 2) : Infinity;
  while (world.nowMs() < safetyEnd) {
    const t = world.nowMs();
    if (!joined && t >= joinAtMs) {
      joined = true;
      joinStartedMicros = world.nowMicros();
      startRingNode(joinerName, bugs.joinWithoutStreaming !== true);
      log(`t=${t} ${joinerName} starts and bootstraps`);
    }
    const roll = rng.int(10);
    if (roll < 5 && impaired === undefined) {
      const victim = rng.pick(nodeNames);
      impaired = victim;
      if (roll < 2) {
        faults.crashes++;
        world.crash(victim);
        restoreAfter(victim, rng.between(downtimeMsMin, downtimeMsMax));
        log(`t=${t} crash ${victim}`);
      } else if (roll < 3) {
        faults.isolations++;
        world.isolate(victim);
        restoreAfter(victim, rng.between(isolationMsMin, isolationMsMax));
        log(`t=${t} isolate ${victim}`);
      } else {
        // Cut off from the other ring nodes only: clients still reach it as a coordinator.
        faults.ringCuts++;
        world.partition(
          [victim],
          ringNames().filter((n) => n !== victim),
        );
        restoreAfter(victim, rng.between(isolationMsMin, isolationMsMax));
        log(`t=${t} cut ${victim} from the ring`);
      }
    } else if (roll < 7 && !exactClocks) {
      const n = rng.pick([...nodeNames, ...clientNames]);
      faults.clocks++;
      world.node(n).setClock(clock());
    } else if (roll < 9) {
      setNetwork();
      log(`t=${t} network faults changed`);
    }
    await world.runFor(rng.between(nemesisStepMsMin, nemesisStepMsMax));
    if (joined) await checkJoin();
  }

  // ---- liveness phase ----
  world.trace('phase liveness');
  restore?.cancel();
  world.heal();
  world.setNetworkFaults({ lossRate: 0, resetRate: 0, meanDelayMs: 1, maxDelayMs: 5 });
  for (const n of ringNames()) if (!world.node(n).alive) world.restart(n);
  const healedMs = world.nowMs();
  const reconverged = await world.runUntil(() => unconverged() === undefined, {
    timeoutMs: convergeTimeoutMs,
  });
  if (!reconverged) {
    fail(`gossip did not converge within ${convergeTimeoutMs}ms of the heal: ${unconverged()}`);
  }
  const reconvergeMs = world.nowMs() - healedMs;
  if (joined) {
    await checkJoin();
    if (!joinChecked) fail(`${joinerName} was not serving as normal after the heal`);
  }
  livenessOn = true;
  const progressed = await world.runUntil(
    () =>
      clientNames.every((c) => {
        const d = livenessDone.get(c)!;
        return d.puts >= livenessOps && d.gets >= livenessOps;
      }),
    { timeoutMs: livenessTimeoutMs },
  );
  if (!progressed) {
    fail(
      `liveness: within ${livenessTimeoutMs}ms of convergence not every client completed ` +
        `${livenessOps} QUORUM writes and reads: ` +
        clientNames.map((c) => `${c}=${JSON.stringify(livenessDone.get(c))}`).join(' '),
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

  // ---- convergence: hints, one repair, identical replicas (check 6) ----
  world.trace('phase converge');
  const healing = await converge();

  // ---- final reads ----
  world.trace('phase final');
  finalOn = true;
  if (!(await world.runUntil(() => finalDone, { timeoutMs: livenessTimeoutMs }))) {
    fail('the final reads did not finish');
  }
  world.trace('phase check');

  // ---- checks ----
  const pending = ops.filter((op) => op.outcome === undefined);
  if (pending.length > 0)
    fail(`${pending.length} calls never settled, e.g. ${formatOp(pending[0]!)}`);
  for (const v of checkRingHistory(ops, {
    replicationFactor,
    exactClocks,
    startWallMicros: world.node(nodeNames[0]!).clock.nowMicros() - world.nowMicros(),
  })) {
    fail(v);
  }
  for (const code of unexpectedCodes) {
    if (errorCodes.has(code)) fail(`${errorCodes.get(code)} calls ended in ${code}`);
  }
  for (const e of world.nodeErrors) {
    const err = toTesseraError(e.error);
    fail(`node ${e.node}#${e.incarnation} threw ${err.code}: ${err.message}`);
  }

  const f = faults;
  return summary(
    `converged in ${Math.round(convergedAtMs)}ms; ` +
      `${routedClients} of ${clientCount} clients token-aware; ` +
      `${ops.length} ops (${counts.puts} puts, ` +
      `${counts.deletes} deletes, ${counts.gets} gets): ${counts.ok} ok, ${counts.fail} failed, ` +
      `${counts.info} indeterminate; ${f.crashes} crashes, ${f.isolations} isolations, ` +
      `${f.ringCuts} ring cuts, ${f.clocks} clock changes, ${f.networks} network changes; ` +
      `reconverged in ${Math.round(reconvergeMs)}ms; ` +
      (joined ? `${joinerName} bootstrapped; ` : '') +
      `${healing}; ` +
      `errors ` +
      `${[...errorCodes].map(([k, v]) => `${k}=${v}`).join(' ') || 'none'}`,
  );
}
