/**
 * The coordinator: any ring node answers any request for a hashed table by asking the row's
 * replicas and waiting for as many as the consistency level requires (Dynamo's design).
 *
 * Writes. The coordinator stamps every cell of the mutation with one timestamp (its
 * TimestampOracle: wall clock, strictly increasing on this node), so that every replica
 * stores identical cells and replicas reconcile by timestamp alone: last write wins, deletes
 * win ties. It sends the mutation to every live replica of the row and answers once `required`
 * of them acknowledged. Replicas that are down (phi above threshold) are skipped; when fewer
 * live replicas than required remain, the write fails at once with REPLICAS_UNAVAILABLE and
 * nothing is sent. When the level is not met within the timeout, or too many replicas failed
 * for it still to be met, it fails with REPLICA_TIMEOUT: the write may have reached some
 * replicas, and it may yet become visible (as in Cassandra). Hinted handoff and read repair,
 * which heal such replicas, are part 2 of the hashed-table work.
 *
 * Reads. The coordinator asks `required` live replicas, itself first when it is one (no
 * network), for the row's raw entries (puts and tombstones), asks the next live replica when
 * one fails, and resolves the union once (model/replica-read.ts). A read at R and a write at W
 * with R + W > RF share at least one replica, so a read sees every write acknowledged before it
 * started.
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
import { murmur3Token } from './murmur3.js';
import { QuorumTracker, unavailableError } from './quorum.js';
import { replicasFor, type ReplicationStrategy } from './replication.js';

/** Cassandra's write_request_timeout and read_request_timeout: 2 s and 5 s. */
export const WRITE_TIMEOUT_MS_DEFAULT = 2000;
export const READ_TIMEOUT_MS_DEFAULT = 5000;

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
}

export interface CoordinatorOptions {
  readonly writeTimeoutMs?: number;
  readonly readTimeoutMs?: number;
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

interface Plan {
  readonly level: ConsistencyLevel;
  readonly required: number;
  /** Live replicas, the coordinator first when it is one. */
  readonly alive: readonly string[];
  /** Live replicas that count towards the level. */
  readonly counting: ReadonlySet<string>;
}

export class Coordinator {
  private readonly oracle: TimestampOracle;
  private readonly writeTimeoutMs: number;
  private readonly readTimeoutMs: number;

  constructor(
    private readonly env: Env,
    private readonly membership: Membership,
    private readonly transport: ReplicaTransport,
    options: CoordinatorOptions = {},
  ) {
    this.oracle = new TimestampOracle(env.clock);
    this.writeTimeoutMs = options.writeTimeoutMs ?? WRITE_TIMEOUT_MS_DEFAULT;
    this.readTimeoutMs = options.readTimeoutMs ?? READ_TIMEOUT_MS_DEFAULT;
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
    const replicas = replicasFor(this.membership.ring, murmur3Token(row), strategy);
    const infos = replicas.map((id) => ({
      id,
      datacenter: this.membership.datacenterOf(id),
      alive: this.membership.isAlive(id, now),
    }));
    const counting = countingReplicas(infos, requirement);
    const countingAlive = counting.filter((r) => r.alive).map((r) => r.id);
    if (countingAlive.length < requirement.required) {
      const down = counting.filter((r) => !r.alive).map((r) => r.id);
      throw unavailableError(what(), level, requirement.required, countingAlive, down);
    }
    const alive = infos.filter((r) => r.alive).map((r) => r.id);
    const selfAt = alive.indexOf(self);
    if (selfAt > 0) alive.unshift(...alive.splice(selfAt, 1));
    return { level, required: requirement.required, alive, counting: new Set(countingAlive) };
  }

  /** Writes the mutation at `level`; resolves to the timestamp its cells got. */
  async write(
    schema: TableSchema,
    mutation: Mutation,
    level: ConsistencyLevel,
  ): Promise<{ timestamp: number }> {
    // Built only for an error: hex-encoding every row cost ~1% of a node's CPU.
    const what = () => `write of row ${toHex(mutation.row).slice(0, 64)} in '${schema.name}'`;
    const plan = this.plan(schema, mutation.row, level, what);
    const timestamp = this.oracle.next();
    const stamped = stampMutation(mutation, timestamp);
    const tracker = new QuorumTracker(plan.required, plan.counting);
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const timer = this.env.timers.after(this.writeTimeoutMs, () => {
        if (settled) return;
        settled = true;
        reject(tracker.timeoutError(what(), level, this.writeTimeoutMs));
      });
      const settle = (verdict: string) => {
        if (settled || verdict === 'pending') return;
        settled = true;
        timer.cancel();
        if (verdict === 'met') resolve();
        else reject(tracker.timeoutError(what(), level, undefined));
      };
      for (const id of plan.alive) {
        this.transport.write(id, schema.name, stamped, this.writeTimeoutMs).then(
          () => settle(tracker.success(id)),
          (err: unknown) => settle(tracker.failure(id, toTesseraError(err).code)),
        );
      }
    });
    return { timestamp };
  }

  /**
   * Reads the row at `level`: the cells `spec` selects, reconciled across replicas, in wire form.
   *
   * First each replica asked answers the read itself (its resolved cells, as a local get
   * would). When they all agree — the common case — that is the answer: if every replica's
   * answer is the same set of cells, resolving the union of their entries gives that set too,
   * since a cell one replica returns is masked by none of the other's tombstones (or that one
   * would not return it) and a newer visible cell in either would be in its answer. Only when
   * the answers differ, or the read has a filter (which may hide a difference), does the
   * coordinator fetch the replicas' raw rows and resolve them together, as Cassandra follows a
   * digest mismatch with full data reads.
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
      const answers = await this.gather(plan, level, what, (id) =>
        this.transport.readCells(id, schema.name, row, spec, this.readTimeoutMs),
      );
      const first = answers[0]!.answer;
      if (answers.every((a) => sameCells(a.answer, first))) return first;
    }
    const raws = await this.gather(plan, level, what, (id) =>
      this.transport.read(id, schema.name, row, this.readTimeoutMs),
    );
    const entries: RawEntry[] = [];
    for (const r of raws) for (const e of r.answer) entries.push(e);
    return wireCells(readReplicatedRow(schema, row, spec, entries, this.env.clock.nowMicros()));
  }

  /**
   * Asks `required` counting live replicas (the coordinator first), taking the next one when
   * one fails, and resolves with the answers once `required` answered; REPLICA_TIMEOUT when
   * that cannot happen in time.
   */
  private gather<T>(
    plan: Plan,
    level: ConsistencyLevel,
    what: () => string,
    ask: (id: string) => Promise<T>,
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
        const id = candidates[next++];
        if (id === undefined) return;
        ask(id).then(
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
