/**
 * The coordinator: any ring node answers any request for a hashed table by asking the row's
 * replicas and waiting for as many as the consistency level requires (Dynamo's design).
 *
 * Writes. The coordinator stamps every cell of the mutation with one timestamp (its
 * TimestampOracle: wall clock, strictly increasing on this node), so that every replica
 * stores identical cells and replicas reconcile by timestamp alone: last write wins, deletes
 * win ties. It sends the mutation to every live replica of the row and answers once `required`
 * of them acknowledged. While the ring changes, coordinators do not all see the change at once,
 * and a coordinator that has not seen it reads from the replicas of the ring before it. So a
 * write must then meet its level on every replica set in play: the pending ring's (a node
 * joining or leaving: the replicas it will have) and, for a ring delay after this coordinator
 * saw a change, the previous ring's (the replicas others may still read from). A read at R
 * from either view then meets a write at W with R + W > RF (a joint quorum, as in Raft's joint
 * consensus; Cassandra counts pending replicas alike). When fewer live replicas than required remain, the write fails at once with
 * REPLICAS_UNAVAILABLE and nothing is sent. When the level is not met within the timeout, or
 * too many replicas failed for it still to be met, it fails with REPLICA_TIMEOUT: the write may
 * have reached some replicas, and it may yet become visible (as in Cassandra).
 *
 * Hinted handoff. Every replica that is down, fails or does not answer in time gets a hint:
 * the stamped mutation, kept durably by this node (hint-store.ts) and replayed when the
 * replica is seen alive again. A hint does not count towards the level — unless the table
 * allows a sloppy quorum (`placement.hashed.sloppyQuorum`): then, for each counting replica
 * that is down, the next live node along the ring past the row's replicas holds the hint
 * durably and its acknowledgement counts, so writes stay possible with most replicas down
 * (Dynamo's sloppy quorum; reads of such a write find it only once the hints are delivered).
 *
 * Reads. The coordinator asks `required` live replicas, itself first when it is one: the first
 * for its answer, the others for a digest of theirs (ring.read with `digest`). When every
 * digest matches, that answer is the read's. On a mismatch (or with a filter, which may hide
 * one) it fetches the same number of replicas' raw rows (puts and tombstones), resolves their
 * union by timestamp (model/replica-read.ts), and writes back to each answering replica what
 * it lacked before answering — blocking read repair, so a later read at the same level cannot
 * see older data than this one did. Reads below every replica also repair the row on every
 * live replica in the background with probability `readRepairChance` (default 0.1). A read at
 * R and a write at W with R + W > RF share at least one replica, so a read sees every write
 * acknowledged before it started.
 */
import type { Env } from '../env/index.js';
import {
  type ConsistencyLevel,
  type GetSpec,
  Mutation,
  type MutationOp,
  readPlan,
  readReplicatedRow,
  type TableSchema,
  TimestampOracle,
  type WireCells,
  wireCells,
} from '../model/index.js';
import type { RawEntry } from '../storage/index.js';
import { equalBytes, toHex } from '../util/bytes.js';
import { TesseraError, toTesseraError } from '../util/errors.js';
import { countingReplicas, requirementFor } from './consistency.js';
import type { Membership } from './membership.js';
import { digest16 } from './merkle.js';
import { murmur3Token } from './murmur3.js';
import { QuorumTracker, unavailableError } from './quorum.js';
import { mutationsOf } from './range-data.js';
import { missingEntries } from './read-repair.js';
import { replicasFor, type ReplicationStrategy } from './replication.js';
import type { TokenRing } from './token-ring.js';

/** Cassandra's write_request_timeout and read_request_timeout: 2 s and 5 s. */
export const WRITE_TIMEOUT_MS_DEFAULT = 2000;
export const READ_TIMEOUT_MS_DEFAULT = 5000;
/** Cassandra's max_hint_window: 3 hours. */
export const HINT_WINDOW_MS_DEFAULT = 3 * 60 * 60 * 1000;
/** Cassandra's old (dclocal_)read_repair_chance default. */
export const READ_REPAIR_CHANCE_DEFAULT = 0.1;

/** How a coordinator reaches a replica: in-process for itself, RPC for the others. */
export interface ReplicaTransport {
  write(endpoint: string, table: string, mutation: Mutation, timeoutMs: number): Promise<void>;
  /** The replica's raw row: every put and tombstone. */
  read(endpoint: string, table: string, row: Uint8Array, timeoutMs: number): Promise<RawEntry[]>;
  /** The replica's own answer to the get, in wire form. */
  readCells(
    endpoint: string,
    table: string,
    row: Uint8Array,
    spec: GetSpec,
    timeoutMs: number,
  ): Promise<WireCells>;
  /** The digest (cellsDigest) of the replica's own answer to the get. */
  readDigest(
    endpoint: string,
    table: string,
    row: Uint8Array,
    spec: GetSpec,
    timeoutMs: number,
  ): Promise<Uint8Array>;
  /** Keeps a hint for `target` on this node, durably; false when it was dropped. */
  hint(target: string, table: string, mutation: Mutation): Promise<boolean>;
  /** Asks `holder` to keep a hint for `target` durably (sloppy quorum). */
  handOff(
    holder: string,
    target: string,
    table: string,
    mutation: Mutation,
    timeoutMs: number,
  ): Promise<void>;
}

export interface CoordinatorOptions {
  readonly writeTimeoutMs?: number;
  readonly readTimeoutMs?: number;
  /** Chance in [0, 1] that a read below every replica repairs the row in the background. */
  readonly readRepairChance?: number;
  /**
   * No hints are written for a replica silent longer than this (Cassandra's max_hint_window):
   * they would expire before it could take them, and a node gone for good would fill the disk
   * with them. Default 3 h.
   */
  readonly hintWindowMs?: number;
}

/** What the coordinator did to heal replicas, for metrics and tests. */
export interface CoordinatorStats {
  hintsStored: number;
  /** Hints not written: their replica had been silent longer than the hint window. */
  hintsSkipped: number;
  hintsHandedOff: number;
  readRepairs: number;
  backgroundReadRepairs: number;
  /** Replicas written back to by read repair. */
  replicasRepaired: number;
}

/** The replication strategy of a hashed table's placement. */
export function strategyOf(schema: TableSchema): ReplicationStrategy {
  const p = schema.placement;
  if (p.kind !== 'hashed') throw new Error(`table '${schema.name}' is not hashed`);
  return p.datacenters === undefined
    ? { kind: 'simple', replicationFactor: p.replicationFactor }
    : { kind: 'network', datacenters: p.datacenters };
}

/** The mutation with every op's timestamp set: `timestamp` where the client gave none. */
export function stampMutation(m: Mutation, timestamp: number): Mutation {
  const out = new Mutation(m.row);
  for (const op of m.ops) {
    out.ops.push(op.timestamp !== undefined ? op : ({ ...op, timestamp } as MutationOp));
  }
  return out;
}

/** The 16-byte digest of an answer in wire form, as replicas compute it for digest reads. */
export function cellsDigest(cells: WireCells): Uint8Array {
  const parts: Uint8Array[] = [];
  let n = 0;
  const enc = new TextEncoder();
  for (const c of cells) {
    const b =
      c instanceof Uint8Array ? c : typeof c === 'string' ? enc.encode(c) : enc.encode(String(c));
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, b.length, true);
    parts.push(len, b);
    n += 4 + b.length;
  }
  const all = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return digest16(all);
}

interface Plan {
  readonly level: ConsistencyLevel;
  readonly required: number;
  /** Every replica of the row, in preference order. */
  readonly replicas: readonly string[];
  /** Live replicas, the coordinator first when it is one. */
  readonly alive: readonly string[];
  /** Live replicas that count towards the level. */
  readonly counting: ReadonlySet<string>;
  /** Counting replicas that are down. */
  readonly down: readonly string[];
  /** Live nodes past the replicas that may hold hints for `down` (sloppy quorum only). */
  readonly fallbacks: readonly string[];
}

export class Coordinator {
  private readonly oracle: TimestampOracle;
  private readonly writeTimeoutMs: number;
  private readonly readTimeoutMs: number;
  private readonly readRepairChance: number;
  private readonly hintWindowMs: number;
  readonly stats: CoordinatorStats = {
    hintsStored: 0,
    hintsSkipped: 0,
    hintsHandedOff: 0,
    readRepairs: 0,
    backgroundReadRepairs: 0,
    replicasRepaired: 0,
  };

  constructor(
    private readonly env: Env,
    private readonly membership: Membership,
    private readonly transport: ReplicaTransport,
    options: CoordinatorOptions = {},
  ) {
    this.oracle = new TimestampOracle(env.clock);
    this.writeTimeoutMs = options.writeTimeoutMs ?? WRITE_TIMEOUT_MS_DEFAULT;
    this.readTimeoutMs = options.readTimeoutMs ?? READ_TIMEOUT_MS_DEFAULT;
    this.readRepairChance = options.readRepairChance ?? READ_REPAIR_CHANCE_DEFAULT;
    this.hintWindowMs = options.hintWindowMs ?? HINT_WINDOW_MS_DEFAULT;
  }

  /** The row's replicas in preference order (live or not). */
  replicasOf(schema: TableSchema, row: Uint8Array): readonly string[] {
    return replicasFor(this.membership.ring, murmur3Token(row), strategyOf(schema));
  }

  private plan(
    schema: TableSchema,
    row: Uint8Array,
    level: ConsistencyLevel,
    what: () => string,
    sloppy = false,
  ): Plan {
    const strategy = strategyOf(schema);
    const self = this.membership.self;
    if (!this.membership.ready) {
      throw new TesseraError(
        'REPLICAS_UNAVAILABLE',
        `Unavailable: ${what()} at ${level}: ${self} has not yet heard from any other ring node, ` +
          'so it does not know where the row lives',
        { consistency: level },
      );
    }
    const requirement = requirementFor(level, strategy, this.membership.local.datacenter);
    const now = this.env.clock.monoMicros();
    const ring = this.membership.ring;
    const replicas = replicasFor(ring, murmur3Token(row), strategy);
    const infos = replicas.map((id) => ({
      id,
      datacenter: this.membership.datacenterOf(id),
      alive: this.membership.isAlive(id, now),
    }));
    const counting = countingReplicas(infos, requirement);
    const countingAlive = counting.filter((r) => r.alive).map((r) => r.id);
    const down = counting.filter((r) => !r.alive).map((r) => r.id);
    let fallbacks: string[] = [];
    if (sloppy && down.length > 0) {
      fallbacks = this.fallbacksFor(ring, row, replicas, requirement.datacenter, now);
    }
    const holders = Math.min(down.length, fallbacks.length);
    if (countingAlive.length + holders < requirement.required) {
      throw unavailableError(what(), level, requirement.required, countingAlive, down);
    }
    const alive = infos.filter((r) => r.alive).map((r) => r.id);
    const selfAt = alive.indexOf(self);
    if (selfAt > 0) alive.unshift(...alive.splice(selfAt, 1));
    return {
      level,
      required: requirement.required,
      replicas,
      alive,
      counting: new Set(countingAlive),
      down,
      fallbacks,
    };
  }

  /** Live nodes along the ring past the row's replicas, nearest first (Dynamo's fallbacks). */
  private fallbacksFor(
    ring: TokenRing,
    row: Uint8Array,
    replicas: readonly string[],
    datacenter: string | undefined,
    now: number,
  ): string[] {
    const all = replicasFor(ring, murmur3Token(row), {
      kind: 'simple',
      replicationFactor: ring.endpoints.length,
    });
    return all.filter(
      (id) =>
        !replicas.includes(id) &&
        this.membership.isAlive(id, now) &&
        (datacenter === undefined || this.membership.datacenterOf(id) === datacenter),
    );
  }

  /**
   * The row's other replica sets while the ring changes (see header): the pending ring's (a
   * node joining or leaving) and, for a ring delay after a change, the previous ring's, each
   * with what the level requires of it. Empty when the ring is steady.
   */
  private transitionSets(
    schema: TableSchema,
    row: Uint8Array,
    plan: Plan,
    level: ConsistencyLevel,
    what: () => string,
  ): { readonly replicas: readonly string[]; readonly tracker: QuorumTracker }[] {
    const now = this.env.clock.monoMicros();
    const pending = this.membership.pendingRing;
    const previous = this.membership.previousRing(now);
    // The steady ring, nearly always: nothing more to compute per write.
    if (pending === this.membership.ring && previous === undefined) return [];
    const rings = [pending, previous];
    const strategy = strategyOf(schema);
    const token = murmur3Token(row);
    const out: { replicas: readonly string[]; tracker: QuorumTracker }[] = [];
    const seen = [[...plan.replicas].sort().join(',')];
    for (const ring of rings) {
      if (ring === undefined || ring === this.membership.ring || ring.size === 0) continue;
      const replicas = replicasFor(ring, token, strategy);
      const key = [...replicas].sort().join(',');
      if (seen.includes(key)) continue;
      seen.push(key);
      const requirement = requirementFor(level, strategy, this.membership.local.datacenter);
      const infos = replicas.map((id) => ({
        id,
        datacenter: this.membership.datacenterOf(id),
        alive: this.membership.isAlive(id, now),
      }));
      const counting = countingReplicas(infos, requirement);
      // A ring smaller than the replication factor (one still forming) has fewer replicas.
      const required = Math.min(requirement.required, counting.length);
      if (required === 0) continue;
      const countingAlive = counting.filter((r) => r.alive).map((r) => r.id);
      if (countingAlive.length < required) {
        const down = counting.filter((r) => !r.alive).map((r) => r.id);
        throw unavailableError(
          `${what()} (its replicas while the ring changes)`,
          level,
          required,
          countingAlive,
          down,
        );
      }
      out.push({ replicas, tracker: new QuorumTracker(required, new Set(countingAlive)) });
    }
    return out;
  }

  /** Stores a hint for `target` here; a hint that cannot be stored is counted, not thrown. */
  private hintLocally(target: string, table: string, mutation: Mutation): void {
    const silent = this.membership.silentFor(target, this.env.clock.monoMicros());
    if (silent > this.hintWindowMs * 1000) {
      this.stats.hintsSkipped++;
      return;
    }
    this.transport.hint(target, table, mutation).then(
      (stored) => {
        if (stored) this.stats.hintsStored++;
      },
      () => undefined, // a full or failing hint store: repair heals what the hint would have
    );
  }

  /** Writes the mutation at `level`; resolves to the timestamp its cells got. */
  async write(
    schema: TableSchema,
    mutation: Mutation,
    level: ConsistencyLevel,
  ): Promise<{ timestamp: number }> {
    // Built only for an error: hex-encoding every row cost ~1% of a node's CPU.
    const what = () => `write of row ${toHex(mutation.row).slice(0, 64)} in '${schema.name}'`;
    const sloppy = schema.placement.kind === 'hashed' && schema.placement.sloppyQuorum === true;
    const plan = this.plan(schema, mutation.row, level, what, sloppy);
    const timestamp = this.oracle.next();
    const stamped = stampMutation(mutation, timestamp);
    const table = schema.name;
    // With a sloppy quorum each down counting replica may be stood in for by one fallback.
    const standIns = new Map<string, string>();
    if (sloppy)
      plan.down.forEach(
        (id, i) => i < plan.fallbacks.length && standIns.set(id, plan.fallbacks[i]!),
      );
    const counting = new Set([...plan.counting, ...standIns.keys()]);
    const tracker = new QuorumTracker(plan.required, counting);
    // While the ring changes the level must be met on every replica set in play (see header).
    const others = this.transitionSets(schema, mutation.row, plan, level, what);
    const trackers = [tracker, ...others.map((o) => o.tracker)];
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      // The first tracker that is not met says why the write failed.
      const unmet = () => trackers.find((t) => t.verdict !== 'met') ?? tracker;
      const timer = this.env.timers.after(this.writeTimeoutMs, () => {
        if (settled) return;
        settled = true;
        reject(unmet().timeoutError(what(), level, this.writeTimeoutMs));
      });
      const settle = () => {
        if (settled) return;
        const verdicts = trackers.map((t) => t.verdict);
        if (verdicts.includes('impossible')) {
          settled = true;
          timer.cancel();
          reject(trackers[verdicts.indexOf('impossible')]!.timeoutError(what(), level, undefined));
        } else if (verdicts.every((v) => v === 'met')) {
          settled = true;
          timer.cancel();
          resolve();
        }
      };
      const acked = (id: string) => {
        for (const t of trackers) t.success(id);
        settle();
      };
      const failed = (id: string, code: string) => {
        for (const t of trackers) t.failure(id, code);
        settle();
      };
      const targets = new Set(plan.alive);
      const now = this.env.clock.monoMicros();
      for (const o of others) {
        for (const id of o.replicas) {
          if (this.membership.isAlive(id, now)) targets.add(id);
        }
      }
      for (const id of targets) {
        this.transport.write(id, table, stamped, this.writeTimeoutMs).then(
          () => acked(id),
          (err: unknown) => {
            this.hintLocally(id, table, stamped);
            failed(id, toTesseraError(err).code);
          },
        );
      }
      for (const id of plan.replicas) {
        if (plan.alive.includes(id)) continue;
        const holder = standIns.get(id);
        if (holder === undefined) {
          this.hintLocally(id, table, stamped);
          continue;
        }
        this.transport.handOff(holder, id, table, stamped, this.writeTimeoutMs).then(
          () => {
            this.stats.hintsHandedOff++;
            tracker.success(id);
            settle();
          },
          (err: unknown) => {
            this.hintLocally(id, table, stamped);
            tracker.failure(id, toTesseraError(err).code);
            settle();
          },
        );
      }
    });
    return { timestamp };
  }

  /**
   * Reads the row at `level`: the cells `spec` selects, reconciled across replicas, in wire form.
   *
   * First one replica answers the read itself (its resolved cells, as a local get would) and
   * the others a digest of theirs. When the digests all match — the common case — that is the
   * answer: if every replica's answer is the same set of cells, resolving the union of their
   * entries gives that set too, since a cell one replica returns is masked by none of the
   * other's tombstones (or that one would not return it) and a newer visible cell in either
   * would be in its answer. Only when they differ, or the read has a filter (which may hide a
   * difference), does the coordinator fetch the replicas' raw rows, resolve them together and
   * repair the replicas that lacked something.
   */
  async read(
    schema: TableSchema,
    row: Uint8Array,
    spec: GetSpec,
    level: ConsistencyLevel,
  ): Promise<WireCells> {
    const what = () => `read of row ${toHex(row).slice(0, 64)} in '${schema.name}'`;
    readPlan(spec, schema); // INVALID_ARGUMENT for a bad spec before any replica is asked
    const plan = this.plan(schema, row, level, what);
    if (plan.required < plan.replicas.length && this.env.random.float() < this.readRepairChance) {
      this.repairInBackground(schema, row, plan.alive);
    }
    const self = this.membership.self;
    if (plan.required === 1 && plan.counting.has(self)) {
      // One answer needed and this node holds a replica: no network, no bookkeeping.
      try {
        return await this.transport.readCells(self, schema.name, row, spec, this.readTimeoutMs);
      } catch {
        // The other replicas are asked below.
      }
    }
    // With one answer there is nothing to reconcile, filter or not.
    if (plan.required === 1 || spec.filter === undefined) {
      let full: WireCells | undefined;
      const answers = await this.gather(plan, level, what, (id, first) =>
        first
          ? this.transport.readCells(id, schema.name, row, spec, this.readTimeoutMs).then((c) => {
              full = c;
              return undefined;
            })
          : this.transport.readDigest(id, schema.name, row, spec, this.readTimeoutMs),
      );
      if (full !== undefined) {
        const d = answers.length > 1 ? cellsDigest(full) : undefined;
        if (answers.every((a) => a.answer === undefined || equalBytes(a.answer, d!))) return full;
      }
    }
    const raws = await this.gather(plan, level, what, (id) =>
      this.transport.read(id, schema.name, row, this.readTimeoutMs),
    );
    if ((await this.repairReplicas(schema.name, row, raws)) > 0) this.stats.readRepairs++;
    const entries: RawEntry[] = [];
    for (const r of raws) for (const e of r.answer) entries.push(e);
    return wireCells(readReplicatedRow(schema, row, spec, entries, this.env.clock.nowMicros()));
  }

  /**
   * Writes back to each answering replica what it lacks of the union of the answers (blocking
   * read repair). A replica that does not take it is left for hints and anti-entropy: the read
   * has its answer already. Resolves with how many replicas lacked something.
   */
  private async repairReplicas(
    table: string,
    row: Uint8Array,
    raws: readonly { readonly id: string; readonly answer: readonly RawEntry[] }[],
  ): Promise<number> {
    const fixes = missingEntries(raws.map((r) => ({ id: r.id, entries: r.answer })));
    if (fixes.length === 0) return 0;
    await Promise.all(
      fixes.map(async (f) => {
        try {
          for (const m of mutationsOf(row, f.missing)) {
            await this.transport.write(f.id, table, m, this.writeTimeoutMs);
          }
          this.stats.replicasRepaired++;
        } catch {
          // See above.
        }
      }),
    );
    return fixes.length;
  }

  /** Reads the row's raw entries from every live replica and repairs those that lack some. */
  private repairInBackground(schema: TableSchema, row: Uint8Array, alive: readonly string[]): void {
    const table = schema.name;
    void Promise.all(
      alive.map((id) =>
        this.transport.read(id, table, row, this.readTimeoutMs).then(
          (answer) => ({ id, answer }),
          () => undefined,
        ),
      ),
    )
      .then((got) => {
        const raws = got.filter((g) => g !== undefined);
        if (raws.length < 2) return;
        return this.repairReplicas(table, row, raws).then((fixed) => {
          if (fixed > 0) this.stats.backgroundReadRepairs++;
        });
      })
      .catch(() => undefined);
  }

  /**
   * Asks `required` counting live replicas (the coordinator first), taking the next one when
   * one fails, and resolves with the answers once `required` answered; REPLICA_TIMEOUT when
   * that cannot happen in time. `first` is true for the first replica asked only.
   */
  private gather<T>(
    plan: Plan,
    level: ConsistencyLevel,
    what: () => string,
    ask: (id: string, first: boolean) => Promise<T>,
  ): Promise<{ readonly id: string; readonly answer: T }[]> {
    // Only counting replicas are asked: for LOCAL levels, the local datacenter's.
    const candidates = plan.alive.filter((id) => plan.counting.has(id));
    const tracker = new QuorumTracker(plan.required, plan.counting);
    const answers: { id: string; answer: T }[] = [];
    return new Promise((resolve, reject) => {
      let settled = false;
      let next = 0;
      const timer = this.env.timers.after(this.readTimeoutMs, () => {
        if (settled) return;
        settled = true;
        reject(tracker.timeoutError(what(), level, this.readTimeoutMs));
      });
      const askNext = (): void => {
        const at = next++;
        const id = candidates[at];
        if (id === undefined) return;
        ask(id, at === 0).then(
          (answer) => {
            if (settled) return;
            answers.push({ id, answer });
            if (tracker.success(id) === 'met') {
              settled = true;
              timer.cancel();
              resolve(answers);
            }
          },
          (err: unknown) => {
            if (settled) return;
            if (tracker.failure(id, toTesseraError(err).code) === 'impossible') {
              settled = true;
              timer.cancel();
              reject(tracker.timeoutError(what(), level, undefined));
            } else askNext(); // the next live replica takes the failed one's place
          },
        );
      };
      for (let i = 0; i < plan.required; i++) askNext();
    });
  }
}

/** Whether two answers in wire form hold the same cells. */
export function sameCells(a: WireCells, b: WireCells): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x instanceof Uint8Array) {
      if (!(y instanceof Uint8Array) || !equalBytes(x, y)) return false;
    } else if (x !== y) return false;
  }
  return true;
}
