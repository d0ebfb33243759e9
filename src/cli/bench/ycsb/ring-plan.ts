/**
 * What `tessera bench ycsb` runs, from its flags: the system under test (one node, a ring of
 * `--ring n` nodes, or a `--target`) and at most one comparison (`--compare redis` or
 * `--compare ring1`), checked before anything is started so that a run that cannot work fails
 * at once with the reason, not after a load phase.
 *
 * A ring run keeps its YCSB table hashed (`--replication`, default min(3, n), as Cassandra's
 * usual RF=3 needs three nodes) and sends `--consistency` (default QUORUM) on every read and
 * write. Hashed tables do not scan, so a workload with scans (E) cannot run on a ring.
 */
import { parseConsistency, type ConsistencyLevel } from '../../../model/index.js';
import { replicationFactorMax } from '../../../model/schema.js';
import { DATACENTER_DEFAULT, requirementFor } from '../../../ring/index.js';
import { invalidArgument } from '../../../util/errors.js';
import { RING_NODES_MAX } from './tessera-ring.js';
import { WORKLOADS, type WorkloadName } from './workloads.js';

export const YCSB_COMPARES = ['redis', 'ring1'] as const;
export type YcsbCompare = (typeof YCSB_COMPARES)[number];

/** Replication factor of a ring run that names none, when it has at least this many nodes. */
export const RING_REPLICATION_DEFAULT_MAX = 3;

export interface RingPlan {
  readonly nodes: number;
  readonly replicationFactor: number;
  readonly consistency: ConsistencyLevel;
}

/**
 * The ring of `--compare ring1`: one node, RF=1. At RF=1 every level that the ring can meet
 * asks the one replica, so ONE and QUORUM are the same; it says QUORUM, as the ring under test
 * usually does.
 */
export const RING1: RingPlan = Object.freeze({
  nodes: 1,
  replicationFactor: 1,
  consistency: 'QUORUM',
});

/** The flags planRun reads, as commander parsed them. */
export interface RunFlags {
  readonly workload: WorkloadName;
  readonly target?: string;
  /** Every `--compare` given, in order. */
  readonly compare?: readonly string[];
  readonly ring?: number;
  readonly replication?: number;
  readonly consistency?: string;
}

export interface RunPlan {
  readonly compare?: YcsbCompare;
  /** Set with `--ring`: the ring the benchmark starts and runs the workload against. */
  readonly ring?: RingPlan;
}

function isCompare(v: string): v is YcsbCompare {
  return (YCSB_COMPARES as readonly string[]).includes(v);
}

function compareOf(flags: RunFlags): YcsbCompare | undefined {
  const given = flags.compare ?? [];
  if (given.length > 1) {
    throw invalidArgument(`--compare: give one system, not ${given.length} (${given.join(', ')})`);
  }
  const compare = given[0];
  if (compare !== undefined && !isCompare(compare)) {
    throw invalidArgument(`--compare: 'redis' or 'ring1', not '${compare}'`);
  }
  return compare;
}

function ringOf(flags: RunFlags): RingPlan | undefined {
  const nodes = flags.ring;
  if (nodes === undefined) {
    if (flags.replication !== undefined) throw invalidArgument('--replication needs --ring');
    if (flags.consistency !== undefined) throw invalidArgument('--consistency needs --ring');
    return undefined;
  }
  if (!(Number.isSafeInteger(nodes) && nodes >= 1 && nodes <= RING_NODES_MAX)) {
    throw invalidArgument(`--ring: 1 to ${RING_NODES_MAX} nodes, not ${nodes}`);
  }
  if (flags.target !== undefined) {
    throw invalidArgument('--ring starts its own ring; it cannot be combined with --target');
  }
  const replicationFactor = flags.replication ?? Math.min(RING_REPLICATION_DEFAULT_MAX, nodes);
  if (!(Number.isSafeInteger(replicationFactor) && replicationFactor >= 1)) {
    throw invalidArgument(`--replication must be a positive integer, not ${replicationFactor}`);
  }
  if (replicationFactor > replicationFactorMax) {
    throw invalidArgument(
      `--replication: at most ${replicationFactorMax}, not ${replicationFactor}`,
    );
  }
  if (replicationFactor > nodes) {
    throw invalidArgument(
      `--replication ${replicationFactor} needs at least ${replicationFactor} nodes, not --ring ${nodes}`,
    );
  }
  const consistency = parseConsistency(flags.consistency ?? 'QUORUM', '--consistency');
  // A level the table can never meet (THREE at RF=2) would fail every operation; say so now.
  try {
    requirementFor(consistency, { kind: 'simple', replicationFactor }, DATACENTER_DEFAULT);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw invalidArgument(
      `--consistency ${consistency} at --replication ${replicationFactor}: ${why}`,
    );
  }
  return { nodes, replicationFactor, consistency };
}

/** The run the flags ask for; INVALID_ARGUMENT naming the flag when they cannot work. */
export function planRun(flags: RunFlags): RunPlan {
  const compare = compareOf(flags);
  const ring = ringOf(flags);
  const spec = WORKLOADS[flags.workload];
  if (spec.proportions.scan > 0 && (ring !== undefined || compare === 'ring1')) {
    throw invalidArgument(
      `workload ${spec.name.toUpperCase()} scans (${Math.round(spec.proportions.scan * 100)}% of its operations), and hashed tables, the only tables a ring serves, cannot scan; run it without --ring and --compare ring1`,
    );
  }
  return {
    ...(compare === undefined ? {} : { compare }),
    ...(ring === undefined ? {} : { ring }),
  };
}

/** "3-node tessera ring on loopback, RF=3, QUORUM, WAL fsync before every acknowledgement". */
export function ringDescription(plan: RingPlan): string {
  return `${plan.nodes}-node tessera ring on loopback, RF=${plan.replicationFactor}, ${plan.consistency}, WAL fsync before every acknowledgement`;
}
