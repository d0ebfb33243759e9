/**
 * Consistency levels: how many replicas must answer before a coordinator answers the client.
 *
 * As in Cassandra: ONE, TWO and THREE count any replicas; QUORUM is a majority of the table's
 * whole replication factor (floor(RF / 2) + 1, over every datacenter); ALL is every replica;
 * LOCAL_ONE and LOCAL_QUORUM count only replicas in the coordinator's datacenter, against that
 * datacenter's replication factor. With the simple strategy (no datacenters in the placement)
 * every replica is local. A write at W and a read at R see each other's replicas whenever
 * R + W > RF — QUORUM and QUORUM, ONE and ALL — which is the guarantee the simulator checks.
 */
import type { ConsistencyLevel } from '../model/index.js';
import { TesseraError } from '../util/errors.js';
import { totalReplicationFactor, type ReplicationStrategy } from './replication.js';

export interface Requirement {
  /** Replicas that must answer. */
  readonly required: number;
  /** Which replicas count: undefined means any; otherwise the coordinator's datacenter only. */
  readonly datacenter: string | undefined;
}

function localFactor(strategy: ReplicationStrategy, datacenter: string): number {
  if (strategy.kind === 'simple') return strategy.replicationFactor;
  return strategy.datacenters[datacenter] ?? 0;
}

/**
 * What `level` requires of the replicas of a table placed by `strategy`, for a coordinator in
 * `localDatacenter`. A LOCAL level in a datacenter that holds no replica, or a fixed count above
 * the replication factor, is INVALID_ARGUMENT: no ring could ever satisfy it.
 */
export function requirementFor(
  level: ConsistencyLevel,
  strategy: ReplicationStrategy,
  localDatacenter: string,
): Requirement {
  const rf = totalReplicationFactor(strategy);
  const local = strategy.kind === 'simple' ? undefined : localDatacenter;
  let required: number;
  let datacenter: string | undefined;
  switch (level) {
    case 'ONE':
      required = 1;
      break;
    case 'TWO':
      required = 2;
      break;
    case 'THREE':
      required = 3;
      break;
    case 'QUORUM':
      required = Math.floor(rf / 2) + 1;
      break;
    case 'ALL':
      required = rf;
      break;
    case 'LOCAL_ONE':
      required = 1;
      datacenter = local;
      break;
    case 'LOCAL_QUORUM':
      required = Math.floor(localFactor(strategy, localDatacenter) / 2) + 1;
      datacenter = local;
      break;
  }
  const limit = datacenter === undefined ? rf : localFactor(strategy, datacenter);
  if (required > limit) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `consistency ${level} needs ${required} replicas but the table keeps ${limit}` +
        (datacenter === undefined ? '' : ` in datacenter '${datacenter}'`),
      { consistency: level },
    );
  }
  return { required, datacenter };
}

/** The replicas that count towards the requirement, in the order given. */
export function countingReplicas<T extends { readonly datacenter: string }>(
  replicas: readonly T[],
  requirement: Requirement,
): T[] {
  const dc = requirement.datacenter;
  return dc === undefined ? [...replicas] : replicas.filter((r) => r.datacenter === dc);
}
