/**
 * Hashed placement: the Dynamo/Cassandra ring — Murmur3 tokens with virtual nodes, replica
 * placement, gossip membership, phi-accrual failure detection, and a coordinator that reads
 * and writes at a consistency level. Protocol pieces are pure (gossip.ts, phi-accrual.ts,
 * token-ring.ts, replication.ts, consistency.ts, quorum.ts, membership.ts); ring-node.ts is the
 * driver that runs them on an Env. Healing and growth: hints (hint-store.ts), read repair
 * (read-repair.ts), Merkle-tree repair (merkle.ts, repair.ts, range-data.ts, streaming.ts) and
 * range movements (token-ranges.ts, token-allocation.ts, range-movement.ts). Design:
 * docs/ring.md; wire: docs/formats/ring-rpc.md; hints on disk: docs/formats/hints.md.
 */
export { murmur3Token, TOKEN_MAX, TOKEN_MIN } from './murmur3.js';
export {
  randomTokens,
  TokenRing,
  VNODES_DEFAULT,
  VNODES_MAX,
  type EndpointPlacement,
} from './token-ring.js';
export {
  effectiveOwnership,
  replicasFor,
  replicaTable,
  totalReplicationFactor,
  type ReplicationStrategy,
} from './replication.js';
export {
  PhiAccrualDetector,
  PHI_THRESHOLD_DEFAULT,
  type PhiAccrualOptions,
} from './phi-accrual.js';
export { Gossiper, GOSSIP_INTERVAL_MS, type GossipMessage, type Outgoing } from './gossip.js';
export { convergenceRounds, disseminationRounds } from './gossip-convergence.js';
export { requirementFor, type Requirement } from './consistency.js';
export { Membership, type LocalEndpoint } from './membership.js';
export { Coordinator, strategyOf, type ReplicaTransport } from './coordinator.js';
export { RingNode, type RingNodeOptions, DATACENTER_DEFAULT, RACK_DEFAULT } from './ring-node.js';
export { type EndpointInfo, type EndpointStatus } from './endpoint-state.js';
export {
  RING_METHODS,
  type DescribedEndpoint,
  type DescribedTable,
  type RingDescription,
} from './ring-protocol.js';
export { HintStore, HINT_WINDOW_MICROS_DEFAULT, type HintStats } from './hint-store.js';
export { MerkleTree, LeafHashes, MERKLE_DEPTH_DEFAULT, digest16 } from './merkle.js';
export {
  groupByReplicas,
  rangeChanges,
  rangeIntervals,
  replicaRanges,
  RangeSet,
  type TokenRange,
} from './token-ranges.js';
export { allocateTokens } from './token-allocation.js';
export { buildLeaves, readRowsPage, tokenIntervals, type RawRow } from './range-data.js';
export { type RepairStats } from './repair.js';
export {
  intervalsFromWire,
  intervalsToWire,
  rowsFromWire,
  rowsToWire,
  type RepairSessionInfo,
} from './ring-protocol.js';
