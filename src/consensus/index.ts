/**
 * Raft as a pure state machine (etcd-raft style). The driver that does the I/O — persisting
 * each Ready, sending its messages, applying committed entries — lives with its user.
 */
export * from './types.js';
export { Raft } from './raft.js';
export type { RaftOptions, RaftStatus, RandomSource } from './raft.js';
export {
  ELECTION_TICKS_DEFAULT,
  HEARTBEAT_TICKS_DEFAULT,
  APPEND_ENTRIES_MAX_DEFAULT,
  APPEND_BYTES_MAX_DEFAULT,
  INFLIGHT_APPENDS_MAX_DEFAULT,
  APPLY_ENTRIES_MAX_DEFAULT,
  UNCOMMITTED_ENTRIES_MAX_DEFAULT,
} from './raft.js';
export {
  encodeConfig,
  decodeConfig,
  makeConfig,
  applyConfChange,
  quorum,
  isVoter,
  VOTERS_MAX,
} from './config.js';
export { READS_PENDING_MAX } from './read-only.js';
