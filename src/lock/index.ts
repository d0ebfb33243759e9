/**
 * Lock service: the replicated namespace, sessions, locks with sequencers, and the watch
 * events applying a command causes — the deterministic state machine every Raft replica of
 * the lock service applies in log order (see DESIGN.md, "Lock service").
 */
export * from './path.js';
export * from './commands.js';
export * from './watches.js';
export { MAX_DATA_BYTES, SEQUENTIAL_DIGITS } from './namespace.js';
export { MAX_SESSION_TTL_MS, MIN_SESSION_TTL_MS, type SessionInfo } from './sessions.js';
export type { LockGrant, LockHolder, LockState, LockWaiter } from './locks.js';
export {
  LockStateMachine,
  SNAPSHOT_FORMAT,
  SNAPSHOT_MAGIC,
  type ApplyOutput,
} from './state-machine.js';
export {
  LockReplica,
  SNAPSHOT_ENTRIES_DEFAULT,
  EXPIRE_EVERY_MS_DEFAULT,
  RESULTS_KEPT_MAX,
  type LockPeer,
  type LockReplicaOptions,
  type UnstampedCommand,
} from './replica.js';
export {
  LOCK_METHODS,
  registerLockService,
  type LockMethod,
  type LockStatusReply,
} from './service.js';
export {
  WatchHub,
  WATCH_DEADLINE_MARGIN_MS,
  WATCH_HISTORY_MAX,
  WATCH_POLLS_PER_CONNECTION_MAX,
  WATCH_WAIT_MAX_MS,
  type WatchPollReply,
} from './watch-hub.js';
