/**
 * Hashed placement: the Dynamo/Cassandra ring — Murmur3 tokens with virtual nodes, replica
 * placement, gossip membership, phi-accrual failure detection, and a coordinator that reads
 * and writes at a consistency level. Protocol pieces are pure (gossip.ts, phi-accrual.ts,
 * token-ring.ts, replication.ts, consistency.ts, quorum.ts, membership.ts); ring-node.ts is the
 * driver that runs them on an Env. Design: docs/ring.md; wire: docs/formats/ring-rpc.md.
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
