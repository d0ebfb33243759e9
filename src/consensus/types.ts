/**
 * The data Raft consumes and produces: entries, persisted state, snapshots and messages.
 *
 * Everything here is a readonly value. Messages are a discriminated union on `kind` so that
 * every handler is an exhaustive `switch` the compiler checks.
 */

/** A replica's id. Ids are positive integers; `NONE` (0) means "nobody". */
export type NodeId = number;
export const NONE: NodeId = 0;

/** Which voters make up the cluster. Kept sorted and without duplicates. */
export interface Config {
  readonly voters: readonly NodeId[];
}

export type EntryKind = 'normal' | 'config' | 'noop';

/**
 * One log entry. A `config` entry's data is the whole new voter set (see `encodeConfig`), and
 * it takes effect on every replica as soon as it is appended to that replica's log.
 */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly kind: EntryKind;
  readonly data: Uint8Array;
}

/** What must be durable before a replica may send the messages that depend on it. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export interface SnapshotMeta {
  /** Last log index the snapshot covers, and its term. */
  readonly index: number;
  readonly term: number;
  /** The configuration in force at `index`. */
  readonly config: Config;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** The application's state machine as of `meta.index`; opaque to Raft. */
  readonly data: Uint8Array;
}

/**
 * The `data` of a snapshot Raft holds by reference only, once it is durable
 * (Raft.snapshotPersisted): an install-snapshot message carrying it is completed from storage
 * by the driver as it is sent. Compared by identity. A large state is then held once in
 * memory (as the state machine), not twice.
 */
export const SNAPSHOT_DATA_ON_DISK: Uint8Array = new Uint8Array(0);

/** What a replica persisted; a restart rebuilds the Raft state from exactly this. */
export interface PersistedState {
  readonly hardState: HardState;
  /** Entries after the snapshot, consecutive. */
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
}

/** A linearizable read the application may serve once it has applied up to `index`. */
export interface ReadState {
  readonly index: number;
  readonly ctx: string;
}

interface Header {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** Asks for a vote. `transfer` marks a campaign started by leadership transfer. */
export interface VoteRequest extends Header {
  readonly kind: 'vote';
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly transfer: boolean;
}

/** Pre-vote: "would you vote for me at `term`?" It changes nobody's term. */
export interface PreVoteRequest extends Header {
  readonly kind: 'pre-vote';
  readonly lastIndex: number;
  readonly lastTerm: number;
}

export interface VoteResponse extends Header {
  readonly kind: 'vote-response';
  readonly reject: boolean;
}

export interface PreVoteResponse extends Header {
  readonly kind: 'pre-vote-response';
  readonly reject: boolean;
}

export interface AppendRequest extends Header {
  readonly kind: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * Answer to an append. On success `index` is the follower's last index known to match the
 * leader. On rejection `index` is the rejected `prevIndex`, and (`hintIndex`, `hintTerm`) is
 * the follower's largest entry whose term is at most the rejected `prevTerm`: the leader can
 * skip a whole term of mismatched entries per round trip instead of one entry.
 */
export interface AppendResponse extends Header {
  readonly kind: 'append-response';
  readonly reject: boolean;
  readonly index: number;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/** Keeps followers' election timers quiet; `ctx` (when set) is a read-index round. */
export interface Heartbeat extends Header {
  readonly kind: 'heartbeat';
  readonly commit: number;
  readonly ctx: string | undefined;
}

export interface HeartbeatResponse extends Header {
  readonly kind: 'heartbeat-response';
  readonly ctx: string | undefined;
}

export interface InstallSnapshot extends Header {
  readonly kind: 'install-snapshot';
  readonly snapshot: Snapshot;
}

/** `index`: the follower's commit index after handling the snapshot. */
export interface InstallSnapshotResponse extends Header {
  readonly kind: 'install-snapshot-response';
  readonly index: number;
}

/** Leadership transfer: "campaign now, without waiting for your election timeout". */
export interface TimeoutNow extends Header {
  readonly kind: 'timeout-now';
}

/** A follower forwards a read-index request to its leader. */
export interface ReadIndexRequest extends Header {
  readonly kind: 'read-index';
  readonly ctx: string;
}

export interface ReadIndexResponse extends Header {
  readonly kind: 'read-index-response';
  readonly ctx: string;
  readonly index: number;
}

export type Message =
  | VoteRequest
  | PreVoteRequest
  | VoteResponse
  | PreVoteResponse
  | AppendRequest
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | InstallSnapshot
  | InstallSnapshotResponse
  | TimeoutNow
  | ReadIndexRequest
  | ReadIndexResponse;

export type MessageKind = Message['kind'];

/** Distributes `Omit` over a union, keeping each member's own fields. */
export type MessageBody<M extends Message = Message> = M extends Message
  ? Omit<M, 'from' | 'term'>
  : never;

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

/** State that need not be persisted; reported so the application can route requests. */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: Role;
}

/**
 * Everything the application must do after one round of `tick`/`step`/`propose` calls.
 *
 * Ordering rule (etcd's, in its strict form): write `snapshot`, `entries` and `hardState`
 * durably FIRST; only then send `messages`, apply `committedEntries` (in order), hand
 * `readStates` to waiting readers, and call `advance(ready)`. Sending before persisting would
 * let a vote or an append acknowledgement out that a crash could take back — two leaders in
 * one term, or a committed entry lost.
 *
 * `entries` are appended in order; an entry with index `i` replaces every persisted entry at
 * index `i` or above (a follower's conflicting suffix is truncated that way). A `snapshot`
 * replaces the whole persisted log: drop every entry, keep the snapshot, then append
 * `entries`. The application restores its state machine from `snapshot.data` before applying
 * `committedEntries`.
 */
export interface Ready {
  readonly softState: SoftState;
  readonly hardState: HardState | undefined;
  readonly snapshot: Snapshot | undefined;
  readonly entries: readonly Entry[];
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
}

/** One voter added or removed; Raft allows one such change in flight at a time. */
export interface ConfChange {
  readonly kind: 'add' | 'remove';
  readonly id: NodeId;
}

/**
 * Why a request was refused. Not exceptional: followers, candidates and a leader mid-transfer
 * refuse proposals as a matter of course, so this is a value, not a thrown error.
 */
export type Refusal =
  | { readonly ok: false; readonly reason: 'not-leader'; readonly leaderHint: NodeId }
  | { readonly ok: false; readonly reason: 'transferring'; readonly leaderHint: NodeId }
  | { readonly ok: false; readonly reason: 'conf-change-pending'; readonly leaderHint: NodeId }
  /** The leader holds too many uncommitted entries (followers are slow or unreachable). */
  | { readonly ok: false; readonly reason: 'overloaded'; readonly leaderHint: NodeId };

export type ProposeResult =
  { readonly ok: true; readonly index: number; readonly term: number } | Refusal;

export type RequestResult = { readonly ok: true } | Refusal;
