/**
 * Raft as a pure state machine (etcd-raft style), plus the I/O around it: RaftStorage (the
 * durable log, docs/formats/raft-log.md), RaftNode (the driver that persists each Ready, sends
 * its messages and applies committed entries) and the message codec.
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
export { RaftStorage, type OpenedRaftStorage } from './raft-storage.js';
export {
  RaftNode,
  TICK_MS_DEFAULT,
  REQUEST_TIMEOUT_MS_DEFAULT,
  INPUTS_QUEUED_MAX,
  TICKS_QUEUED_MAX,
  type RaftNodeOptions,
  type RaftTuning,
  type Transport,
} from './driver.js';
export { encodeMessage, decodeMessage, MESSAGE_VERSION, MessageTag } from './codec.js';
export { RaftRecordTag, ENTRIES_RECORD_BYTES_MAX } from './raft-log-format.js';
