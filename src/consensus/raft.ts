/**
 * Raft as a pure state machine, in the manner of etcd-io/raft's raft.go + rawnode.go.
 *
 * No I/O and no clock: time advances by `tick()`, input arrives through `step(message)` and
 * the proposal methods, and everything the application must do comes back from `ready()` as
 * data — persist, then send, then apply (the ordering rule is on `Ready` in types.ts) —
 * followed by `advance(ready)`. Between `ready()` and `advance()` no other method may be
 * called; an assertion enforces it.
 *
 * Extensions over the paper: pre-vote and check-quorum (thesis §9.6), leader transfer
 * (§3.10), read-index (§6.4), one-voter-at-a-time membership change (§4.1), pipelined and
 * batched replication with fast log backtracking.
 */
import { assert } from '../util/assert.js';
import { invalidArgument } from '../util/errors.js';
import { applyConfChange, encodeConfig, isVoter, makeConfig, quorum } from './config.js';
import { RaftLog } from './log.js';
import { Progress } from './progress.js';
import { READS_PENDING_MAX, ReadOnly } from './read-only.js';
import { NONE, SNAPSHOT_DATA_ON_DISK } from './types.js';
import type {
  AppendRequest,
  AppendResponse,
  ConfChange,
  Config,
  Entry,
  EntryKind,
  HardState,
  Heartbeat,
  HeartbeatResponse,
  InstallSnapshot,
  Message,
  MessageBody,
  NodeId,
  PersistedState,
  PreVoteRequest,
  ProposeResult,
  ReadState,
  Ready,
  Refusal,
  RequestResult,
  Role,
  SnapshotMeta,
  VoteRequest,
} from './types.js';

/** The only randomness Raft needs: election timeout jitter. `Prng` fits. */
export interface RandomSource {
  int(n: number): number;
}

export interface RaftOptions {
  readonly id: NodeId;
  /** The initial voters, used when `storage` holds no snapshot (a fresh cluster). */
  readonly voters: readonly NodeId[];
  /** What this replica persisted before; absent for a brand-new replica. */
  readonly storage?: PersistedState;
  /** Last index the application's state already reflects (default: the snapshot's). */
  readonly applied?: number;
  readonly random: RandomSource;
  /** Election timeout in ticks; the actual timeout is drawn from [ticks, 2 * ticks). */
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly appendEntriesMax?: number;
  readonly appendBytesMax?: number;
  readonly inflightAppendsMax?: number;
  readonly applyEntriesMax?: number;
  readonly uncommittedEntriesMax?: number;
}

export const ELECTION_TICKS_DEFAULT = 10;
export const HEARTBEAT_TICKS_DEFAULT = 1;
/** Per-append bounds: entries and payload bytes (one oversized entry still goes alone). */
export const APPEND_ENTRIES_MAX_DEFAULT = 64;
export const APPEND_BYTES_MAX_DEFAULT = 1024 * 1024;
/** Appends outstanding to one follower in the replicate state. */
export const INFLIGHT_APPENDS_MAX_DEFAULT = 16;
/** Committed entries handed out per Ready. */
export const APPLY_ENTRIES_MAX_DEFAULT = 256;
/** Entries a leader accepts beyond its commit index before refusing proposals. */
export const UNCOMMITTED_ENTRIES_MAX_DEFAULT = 4096;

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId;
  readonly leader: NodeId;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly config: Config;
  readonly transferee: NodeId;
}

type VoteOutcome = 'won' | 'lost' | 'pending';

export class Raft {
  readonly id: NodeId;
  private term: number;
  private vote: NodeId;
  private leader: NodeId = NONE;
  private role: Role = 'follower';
  private readonly log: RaftLog;
  private config: Config;
  private readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private transferee: NodeId = NONE;
  /** Index of the newest config entry this leader appended (or found uncommitted). */
  private pendingConfIndex = 0;
  private readonly readOnly = new ReadOnly();
  /** Reads that arrived before this leader committed an entry of its own term. */
  private readsAwaitingCommit: { ctx: string; from: NodeId }[] = [];

  private msgs: Message[] = [];
  /**
   * A leader has entries or a commit index its followers have not been sent. Proposals and
   * acknowledgements only set this; ready() sends the appends, so every proposal and ack
   * stepped since the last Ready shares one append per follower instead of one each.
   */
  private appendsPending = false;
  /**
   * A leader has read-index requests waiting for a heartbeat round; ready() sends one
   * heartbeat per follower carrying the newest request's ctx, whose acks confirm them all.
   */
  private heartbeatPending = false;
  /**
   * The newest read ctx a read heartbeat round carried, until a quorum confirms it. Reads that
   * arrive meanwhile wait for that round to end and then share the next one (as etcd's read
   * loop does): a round per Ready flooded the followers with heartbeats under a read load. A
   * lost round is finished by the periodic heartbeats, which carry the newest ctx too.
   */
  private readRound: string | undefined = undefined;
  private readStates: ReadState[] = [];
  private prevHardState: HardState;
  private outstandingReady: Ready | undefined;

  private readonly random: RandomSource;
  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly appendEntriesMax: number;
  private readonly appendBytesMax: number;
  private readonly inflightAppendsMax: number;
  private readonly applyEntriesMax: number;
  private readonly uncommittedEntriesMax: number;

  constructor(opts: RaftOptions) {
    if (!(Number.isInteger(opts.id) && opts.id > 0)) throw invalidArgument('id must be > 0');
    this.id = opts.id;
    this.random = opts.random;
    this.electionTicks = opts.electionTicks ?? ELECTION_TICKS_DEFAULT;
    this.heartbeatTicks = opts.heartbeatTicks ?? HEARTBEAT_TICKS_DEFAULT;
    if (!(this.heartbeatTicks >= 1 && this.electionTicks > this.heartbeatTicks)) {
      throw invalidArgument('need 1 <= heartbeatTicks < electionTicks');
    }
    this.preVote = opts.preVote ?? true;
    this.checkQuorum = opts.checkQuorum ?? true;
    this.appendEntriesMax = opts.appendEntriesMax ?? APPEND_ENTRIES_MAX_DEFAULT;
    this.appendBytesMax = opts.appendBytesMax ?? APPEND_BYTES_MAX_DEFAULT;
    this.inflightAppendsMax = opts.inflightAppendsMax ?? INFLIGHT_APPENDS_MAX_DEFAULT;
    this.applyEntriesMax = opts.applyEntriesMax ?? APPLY_ENTRIES_MAX_DEFAULT;
    this.uncommittedEntriesMax = opts.uncommittedEntriesMax ?? UNCOMMITTED_ENTRIES_MAX_DEFAULT;

    const storage = opts.storage ?? { hardState: { term: 0, vote: NONE, commit: 0 }, entries: [] };
    this.log = new RaftLog(storage, makeConfig(opts.voters));
    if (opts.applied !== undefined && opts.applied > this.log.applied) {
      this.log.appliedTo(opts.applied);
    }
    this.term = storage.hardState.term;
    this.vote = storage.hardState.vote;
    this.prevHardState = storage.hardState;
    this.config = this.log.configAt(this.log.lastIndex);
    this.becomeFollower(this.term, NONE);
  }

  // ---- Inspection (tests, drivers, the lock service's status page) ----

  status(): RaftStatus {
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commit: this.log.commit,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex,
      lastIndex: this.log.lastIndex,
      config: this.config,
      transferee: this.transferee,
    };
  }

  /** Term of entry `index`, or undefined when compacted away or absent. */
  termAt(index: number): number | undefined {
    return this.log.termAt(index);
  }

  entryAt(index: number): Entry | undefined {
    return this.log.entryAt(index);
  }

  // ---- Inputs ----

  /** Advances logical time by one tick. */
  tick(): void {
    this.assertNoReadyOutstanding();
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  /** Starts an election now (tests, and operators forcing a campaign). */
  campaign(): void {
    this.assertNoReadyOutstanding();
    if (this.role !== 'leader' && this.promotable())
      this.startCampaign(this.preVote ? 'pre' : 'real');
  }

  propose(data: Uint8Array): ProposeResult {
    this.assertNoReadyOutstanding();
    const refusal = this.refuseUnlessLeader();
    if (refusal) return refusal;
    return this.appendAndBroadcast('normal', data);
  }

  /** Adds or removes one voter; refused while an earlier change is not yet committed. */
  proposeConfChange(change: ConfChange): ProposeResult {
    this.assertNoReadyOutstanding();
    const refusal = this.refuseUnlessLeader();
    if (refusal) return refusal;
    if (this.pendingConfIndex > this.log.commit) {
      return { ok: false, reason: 'conf-change-pending', leaderHint: this.leader };
    }
    const next = applyConfChange(this.config, change);
    return this.appendAndBroadcast('config', encodeConfig(next));
  }

  /**
   * Asks for a linearizable read point. `ctx` is the caller's unique id for the request; the
   * answer appears later in `Ready.readStates` (the leader must first confirm with a quorum
   * that it still leads). Requests lost with a leader change, or dropped by a leader with
   * READS_PENDING_MAX already queued, are never answered: the caller retries after a timeout.
   */
  readIndex(ctx: string): RequestResult {
    this.assertNoReadyOutstanding();
    if (this.role === 'leader') {
      if (this.handleReadIndex(ctx, this.id)) return { ok: true };
      return { ok: false, reason: 'overloaded', leaderHint: this.id };
    }
    if (this.leader === NONE) return { ok: false, reason: 'not-leader', leaderHint: NONE };
    this.send({ kind: 'read-index', to: this.leader, ctx });
    return { ok: true };
  }

  /** Hands leadership to voter `to` once its log has caught up (TimeoutNow). */
  transferLeadership(to: NodeId): RequestResult {
    this.assertNoReadyOutstanding();
    if (this.role !== 'leader') return { ok: false, reason: 'not-leader', leaderHint: this.leader };
    if (!isVoter(this.config, to)) throw invalidArgument(`${to} is not a voter`);
    if (to === this.id || to === this.transferee) return { ok: true };
    this.transferee = to;
    // The transfer must finish within one election timeout, or it is abandoned.
    this.electionElapsed = 0;
    const pr = this.progress.get(to)!;
    if (pr.match === this.log.lastIndex) this.send({ kind: 'timeout-now', to });
    else this.sendAppend(to);
    return { ok: true };
  }

  /**
   * The application captured its state as of `index` (<= applied) in `data` and persisted
   * it; Raft drops its entries up to `index` and sends this snapshot to followers that need
   * entries from before it.
   */
  compact(index: number, data: Uint8Array): SnapshotMeta {
    this.checkCompactIndex(index);
    return this.log.compact(index, data);
  }

  /**
   * compact(), capturing the state only after letting go of the previous snapshot's data, so
   * that the two (hundreds of MiB each for a large state) are never held at once. Nothing can
   * need the old snapshot meanwhile: this runs to its end before any other step. If `capture`
   * throws, the log is left with no snapshot to send; the caller must stop using this Raft.
   */
  compactCapturing(index: number, capture: () => Uint8Array): SnapshotMeta {
    this.checkCompactIndex(index);
    this.releaseSnapshot();
    return this.log.compact(index, capture());
  }

  /**
   * Lets go of the latest snapshot's data while the application builds the next one (over
   * several steps, say), so that the two are never held at once. Until compact() supplies the
   * new one, a follower that needs a snapshot is sent nothing and waits: its next heartbeat
   * response asks again.
   */
  releaseSnapshot(): void {
    this.assertNoReadyOutstanding();
    this.log.latestSnapshot = undefined;
  }

  /**
   * The snapshot at `index` is durable in the application's storage: Raft keeps its metadata
   * only, and install-snapshot messages carry SNAPSHOT_DATA_ON_DISK for the driver to fill in.
   * Ignored when Raft's latest snapshot is another one.
   */
  snapshotPersisted(index: number): void {
    const s = this.log.latestSnapshot;
    if (s === undefined || s.meta.index !== index) return;
    this.log.latestSnapshot = { meta: s.meta, data: SNAPSHOT_DATA_ON_DISK };
  }

  private checkCompactIndex(index: number): void {
    this.assertNoReadyOutstanding();
    if (index <= this.log.snapshotMeta.index || index > this.log.applied) {
      throw invalidArgument(
        `compact index ${index} outside (${this.log.snapshotMeta.index}, ${this.log.applied}]`,
      );
    }
  }

  step(m: Message): void {
    this.assertNoReadyOutstanding();
    assert(m.to === this.id, `message for ${m.to} stepped into ${this.id}`);
    if (m.term > this.term) {
      if (!this.adoptHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.answerStaleTerm(m);
      return;
    }
    switch (m.kind) {
      case 'vote':
      case 'pre-vote':
        this.handleVoteRequest(m);
        return;
      default:
        if (this.role === 'leader') this.stepLeader(m);
        else if (this.role === 'follower') this.stepFollower(m);
        else this.stepCandidate(m);
    }
  }

  // ---- Outputs ----

  hasReady(): boolean {
    return (
      !sameHardState(this.hardState(), this.prevHardState) ||
      this.log.pendingSnapshot !== undefined ||
      this.log.stable < this.log.lastIndex ||
      this.log.commit > this.log.applied ||
      this.appendsPending ||
      this.heartbeatPending ||
      this.msgs.length > 0 ||
      this.readStates.length > 0
    );
  }

  ready(): Ready {
    this.assertNoReadyOutstanding();
    if (this.appendsPending) {
      this.appendsPending = false;
      if (this.role === 'leader') this.sendPendingAppends();
    }
    if (this.heartbeatPending) {
      this.heartbeatPending = false;
      if (this.role === 'leader') {
        this.broadcastHeartbeat();
        this.readRound = this.readOnly.lastCtx();
      }
    }
    const hs = this.hardState();
    const committed = this.log.committedToApply();
    const rd: Ready = {
      softState: { leader: this.leader, role: this.role },
      hardState: sameHardState(hs, this.prevHardState) ? undefined : hs,
      snapshot: this.log.pendingSnapshot,
      entries: this.log.unstableEntries(),
      committedEntries: committed.slice(0, this.applyEntriesMax),
      messages: this.msgs,
      readStates: this.readStates,
    };
    this.msgs = [];
    this.readStates = [];
    this.outstandingReady = rd;
    return rd;
  }

  /** The application has done everything `rd` asked (persisted, sent, applied). */
  advance(rd: Ready): void {
    assert(rd === this.outstandingReady, 'advance() with a Ready that ready() did not return');
    this.outstandingReady = undefined;
    if (rd.hardState) this.prevHardState = rd.hardState;
    if (rd.snapshot && this.log.pendingSnapshot === rd.snapshot)
      this.log.pendingSnapshot = undefined;
    const last = rd.entries[rd.entries.length - 1];
    if (last) this.log.stableTo(last.index, last.term);
    const applied = rd.committedEntries[rd.committedEntries.length - 1];
    if (applied) this.log.appliedTo(applied.index);
  }

  // ---- Roles ----

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.leader = NONE;
    this.appendsPending = false;
    this.heartbeatPending = false;
    this.readRound = undefined;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTicks + this.random.int(this.electionTicks);
    this.transferee = NONE;
    this.votes.clear();
    this.progress.clear();
    this.readOnly.clear();
    this.readsAwaitingCommit = [];
  }

  private becomeFollower(term: number, leader: NodeId): void {
    this.reset(term);
    this.role = 'follower';
    this.leader = leader;
  }

  private becomePreCandidate(): void {
    // A pre-candidate changes neither its term nor its vote: that is the point of pre-vote.
    this.votes.clear();
    this.leader = NONE;
    this.role = 'pre-candidate';
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', 'only a candidate becomes leader');
    this.reset(this.term);
    this.role = 'leader';
    this.leader = this.id;
    for (const v of new Set([...this.config.voters, this.id])) this.addProgress(v);
    // A no-op of the new term lets earlier entries commit (Figure 8) and read-index start.
    // No config change may begin until it (and any config entry before it) is committed.
    this.appendEntry('noop', new Uint8Array(0));
    this.pendingConfIndex = this.log.lastIndex;
  }

  private addProgress(id: NodeId): void {
    const pr = new Progress(this.log.lastIndex + 1, this.inflightAppendsMax);
    pr.recentActive = true;
    if (id === this.id) pr.match = this.log.lastIndex;
    this.progress.set(id, pr);
  }

  private promotable(): boolean {
    return isVoter(this.config, this.id) && this.log.pendingSnapshot === undefined;
  }

  // ---- Time ----

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.startCampaign(this.preVote ? 'pre' : 'real');
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    for (const pr of this.progress.values()) {
      // A snapshot unanswered for an election timeout was probably lost: probe again.
      if (pr.state === 'snapshot' && ++pr.snapshotTicks >= this.electionTicks) pr.becomeProbe();
    }
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.quorumRecentlyActive()) {
        this.becomeFollower(this.term, NONE);
        return;
      }
      this.transferee = NONE;
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  private quorumRecentlyActive(): boolean {
    let active = 0;
    for (const v of this.config.voters) {
      const pr = this.progress.get(v);
      if (v === this.id || pr?.recentActive) active++;
    }
    for (const [id, pr] of this.progress) pr.recentActive = id === this.id;
    return active >= quorum(this.config);
  }

  // ---- Elections ----

  private startCampaign(kind: 'pre' | 'real' | 'transfer'): void {
    let voteTerm: number;
    if (kind === 'pre') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    if (this.poll(this.id, true) === 'won') {
      if (kind === 'pre') this.startCampaign('real');
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex;
    const lastTerm = this.log.lastTerm;
    for (const to of this.config.voters) {
      if (to === this.id) continue;
      if (kind === 'pre') {
        this.sendWithTerm({ kind: 'pre-vote', to, lastIndex, lastTerm }, voteTerm);
      } else {
        this.send({ kind: 'vote', to, lastIndex, lastTerm, transfer: kind === 'transfer' });
      }
    }
  }

  private poll(from: NodeId, granted: boolean): VoteOutcome {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    let yes = 0;
    let no = 0;
    for (const v of this.config.voters) {
      const g = this.votes.get(v);
      if (g === true) yes++;
      else if (g === false) no++;
    }
    const q = quorum(this.config);
    if (yes >= q) return 'won';
    if (no > this.config.voters.length - q) return 'lost';
    return 'pending';
  }

  /** Returns false when the message is to be ignored. */
  private adoptHigherTerm(m: Message): boolean {
    if (m.kind === 'vote' || m.kind === 'pre-vote') {
      const forced = m.kind === 'vote' && m.transfer;
      // Check-quorum's lease: while we hear from a live leader, disruptive campaigns (from a
      // node that was partitioned away, or one just removed) are ignored outright.
      const inLease =
        this.checkQuorum && this.leader !== NONE && this.electionElapsed < this.electionTicks;
      if (!forced && inLease) return false;
    }
    if (m.kind === 'pre-vote') return true;
    if (m.kind === 'pre-vote-response' && !m.reject) return true;
    const fromLeader =
      m.kind === 'append' || m.kind === 'heartbeat' || m.kind === 'install-snapshot';
    this.becomeFollower(m.term, fromLeader ? m.from : NONE);
    return true;
  }

  private answerStaleTerm(m: Message): void {
    if ((this.checkQuorum || this.preVote) && (m.kind === 'append' || m.kind === 'heartbeat')) {
      // A deposed leader (or a node that missed elections while cut off) learns our term
      // from this and steps down; otherwise with pre-vote it could never rejoin.
      this.send({
        kind: 'append-response',
        to: m.from,
        reject: false,
        index: 0,
        hintIndex: 0,
        hintTerm: 0,
      });
    } else if (m.kind === 'pre-vote') {
      this.send({ kind: 'pre-vote-response', to: m.from, reject: true });
    }
  }

  private handleVoteRequest(m: VoteRequest | PreVoteRequest): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.leader === NONE) ||
      (m.kind === 'pre-vote' && m.term > this.term);
    const granted = canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm);
    if (m.kind === 'pre-vote') {
      this.sendWithTerm(
        { kind: 'pre-vote-response', to: m.from, reject: !granted },
        granted ? m.term : this.term,
      );
      return;
    }
    if (granted) {
      this.electionElapsed = 0;
      this.vote = m.from;
    }
    this.send({ kind: 'vote-response', to: m.from, reject: !granted });
  }

  private stepCandidate(m: Message): void {
    switch (m.kind) {
      case 'append':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'install-snapshot':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'vote-response':
      case 'pre-vote-response': {
        const mine = (m.kind === 'vote-response') === (this.role === 'candidate');
        if (!mine) return;
        const outcome = this.poll(m.from, !m.reject);
        if (outcome === 'won') {
          if (this.role === 'pre-candidate') this.startCampaign('real');
          else {
            this.becomeLeader();
            this.broadcastAppend();
          }
        } else if (outcome === 'lost') {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        return;
    }
  }

  // ---- Follower ----

  private stepFollower(m: Message): void {
    switch (m.kind) {
      case 'append':
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleHeartbeat(m);
        return;
      case 'install-snapshot':
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleSnapshot(m);
        return;
      case 'timeout-now':
        if (this.promotable()) this.startCampaign('transfer');
        return;
      case 'read-index-response':
        this.readStates.push({ index: m.index, ctx: m.ctx });
        return;
      default:
        return;
    }
  }

  private handleAppend(m: AppendRequest): void {
    const reply = (fields: Pick<AppendResponse, 'reject' | 'index' | 'hintIndex' | 'hintTerm'>) =>
      this.send({ kind: 'append-response', to: m.from, ...fields });
    if (m.prevIndex < this.log.commit) {
      reply({ reject: false, index: this.log.commit, hintIndex: 0, hintTerm: 0 });
      return;
    }
    const last = this.log.maybeAppend(m.prevIndex, m.prevTerm, m.commit, m.entries);
    if (last !== undefined) {
      this.refreshConfig();
      reply({ reject: false, index: last, hintIndex: 0, hintTerm: 0 });
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex), m.prevTerm);
    reply({ reject: true, index: m.prevIndex, hintIndex: hint.index, hintTerm: hint.term });
  }

  private handleHeartbeat(m: Heartbeat): void {
    // The leader sends min(our match, its commit), so every index up to it matches its log.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex));
    this.send({ kind: 'heartbeat-response', to: m.from, ctx: m.ctx });
  }

  private handleSnapshot(m: InstallSnapshot): void {
    const meta = m.snapshot.meta;
    if (meta.index > this.log.commit) {
      if (this.log.termAt(meta.index) === meta.term) {
        // We already hold the snapshot's last entry: keep the log, just commit up to it.
        this.log.commitTo(meta.index);
      } else {
        this.log.restore(m.snapshot);
        this.refreshConfig();
      }
    }
    this.send({ kind: 'install-snapshot-response', to: m.from, index: this.log.commit });
  }

  // ---- Leader ----

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    if (pr) pr.recentActive = true;
    switch (m.kind) {
      case 'append-response':
        if (pr) this.handleAppendResponse(m, pr);
        return;
      case 'heartbeat-response':
        if (pr) this.handleHeartbeatResponse(m, pr);
        return;
      case 'install-snapshot-response':
        if (!pr) return;
        pr.maybeUpdate(m.index);
        if (pr.state === 'snapshot') pr.becomeProbe();
        this.sendAppend(m.from);
        return;
      case 'read-index':
        this.handleReadIndex(m.ctx, m.from);
        return;
      default:
        return;
    }
  }

  private handleAppendResponse(m: AppendResponse, pr: Progress): void {
    if (m.reject) {
      const hint =
        m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeProbe();
    if (this.maybeCommit()) {
      if (this.role !== 'leader') return;
      // Everyone learns the new commit index, with the next Ready's appends.
      this.appendsPending = true;
    } else if (wasPaused) {
      this.sendAppend(m.from);
    }
    // Pipelining: keep the window full while there is something to send (in the next Ready,
    // with whatever else is proposed meanwhile).
    if (pr.next <= this.log.lastIndex) this.appendsPending = true;
    if (m.from === this.transferee && pr.match === this.log.lastIndex) {
      this.send({ kind: 'timeout-now', to: m.from });
    }
  }

  private handleHeartbeatResponse(m: HeartbeatResponse, pr: Progress): void {
    pr.probeSent = false;
    // A full window with no answers means appends were lost: free a slot so one more goes
    // out; the follower's rejection of it then drops us back to probing.
    if (pr.state === 'replicate' && pr.isPaused()) pr.inflight.shift();
    if (pr.match < this.log.lastIndex) this.sendAppend(m.from);
    if (m.ctx === undefined) return;
    const released = this.readOnly.ack(m.ctx, m.from, (acks) => this.isQuorum(acks));
    for (const r of released) this.answerRead(r.ctx, r.from, r.index);
    if (released.length > 0 && !this.readOnly.has(this.readRound)) {
      // The round ended: the reads that arrived during it go in the next one.
      this.readRound = undefined;
      if (this.readOnly.size > 0) this.heartbeatPending = true;
    }
  }

  private isQuorum(ids: ReadonlySet<NodeId>): boolean {
    return this.config.voters.filter((v) => ids.has(v)).length >= quorum(this.config);
  }

  /** Registers (or answers) a read; false when it was dropped because too many are queued. */
  private handleReadIndex(ctx: string, from: NodeId): boolean {
    if (this.log.termAt(this.log.commit) !== this.term) {
      // Until an entry of this term commits, our commit index may lag the true one.
      if (this.readsAwaitingCommit.length >= READS_PENDING_MAX) return false;
      this.readsAwaitingCommit.push({ ctx, from });
      return true;
    }
    if (this.isQuorum(new Set([this.id]))) {
      this.answerRead(ctx, from, this.log.commit);
      return true;
    }
    if (!this.readOnly.add(ctx, from, this.log.commit, this.id)) return false;
    if (this.readRound === undefined) this.heartbeatPending = true;
    return true;
  }

  private answerRead(ctx: string, from: NodeId, index: number): void {
    if (from === this.id) this.readStates.push({ index, ctx });
    else this.send({ kind: 'read-index-response', to: from, ctx, index });
  }

  private refuseUnlessLeader(): Refusal | undefined {
    if (this.role !== 'leader') return { ok: false, reason: 'not-leader', leaderHint: this.leader };
    if (this.transferee !== NONE) {
      return { ok: false, reason: 'transferring', leaderHint: this.transferee };
    }
    if (this.log.lastIndex - this.log.commit >= this.uncommittedEntriesMax) {
      return { ok: false, reason: 'overloaded', leaderHint: this.leader };
    }
    return undefined;
  }

  private appendAndBroadcast(kind: EntryKind, data: Uint8Array): ProposeResult {
    this.appendEntry(kind, data);
    const index = this.log.lastIndex;
    if (kind === 'config') this.pendingConfIndex = index;
    if (this.role === 'leader') this.appendsPending = true;
    return { ok: true, index, term: this.term };
  }

  private appendEntry(kind: EntryKind, data: Uint8Array): void {
    const entry: Entry = { term: this.term, index: this.log.lastIndex + 1, kind, data };
    this.log.append([entry]);
    this.progress.get(this.id)!.maybeUpdate(entry.index);
    if (kind === 'config') this.refreshConfig();
    this.maybeCommit();
  }

  /**
   * The commit rule (§5.4.2): the highest index a quorum holds commits, but only if it is
   * of the current term; earlier terms' entries commit with it, never by counting alone.
   */
  private maybeCommit(): boolean {
    if (this.role !== 'leader') return false;
    const matches = this.config.voters
      .map((v) => this.progress.get(v)?.match ?? 0)
      .sort((a, b) => b - a);
    const candidate = matches[quorum(this.config) - 1] ?? 0;
    if (candidate <= this.log.commit || this.log.termAt(candidate) !== this.term) return false;
    this.log.commitTo(candidate);
    this.onLeaderCommit();
    return true;
  }

  private onLeaderCommit(): void {
    const waiting = this.readsAwaitingCommit;
    this.readsAwaitingCommit = [];
    for (const r of waiting) this.handleReadIndex(r.ctx, r.from);
    if (!isVoter(this.config, this.id) && this.log.commit >= this.log.lastConfigIndex) {
      // Our own removal is committed: tell the others, then stand down.
      this.broadcastAppend();
      this.becomeFollower(this.term, NONE);
    }
  }

  /** Recomputes the config after the log changed; a config takes effect once appended. */
  private refreshConfig(): void {
    const next = this.log.configAt(this.log.lastIndex);
    if (sameConfig(next, this.config)) return;
    this.config = next;
    if (this.role !== 'leader') return;
    for (const v of next.voters) if (!this.progress.has(v)) this.addProgress(v);
    for (const id of [...this.progress.keys()]) {
      if (id !== this.id && !isVoter(next, id)) this.progress.delete(id);
    }
    if (this.transferee !== NONE && !isVoter(next, this.transferee)) this.transferee = NONE;
  }

  // ---- Sending ----

  private send(body: MessageBody): void {
    this.sendWithTerm(body, this.term);
  }

  private sendWithTerm(body: MessageBody, term: number): void {
    assert(body.to !== this.id, 'message to self');
    this.msgs.push({ ...body, from: this.id, term } as Message);
  }

  /** Sends the follower what it needs next; false when nothing went out. */
  private sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.progress.get(to);
    if (!pr || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    assert(prevIndex <= this.log.lastIndex, `next ${pr.next} beyond the log`);
    const prevTerm = this.log.termAt(prevIndex);
    if (prevTerm === undefined) {
      const snapshot = this.log.latestSnapshot;
      // Released while the next one is captured (releaseSnapshot): the follower waits.
      if (snapshot === undefined) return false;
      this.send({ kind: 'install-snapshot', to, snapshot });
      pr.becomeSnapshot(snapshot.meta.index);
      return true;
    }
    const entries =
      pr.next <= this.log.lastIndex
        ? this.log.slice(
            pr.next,
            this.log.lastIndex + 1,
            this.appendEntriesMax,
            this.appendBytesMax,
          )
        : [];
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ kind: 'append', to, prevIndex, prevTerm, entries, commit: this.log.commit });
    pr.sentAppend(prevIndex + entries.length, entries.length);
    return true;
  }

  private broadcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  /** The deferred appends (see appendsPending): one to each follower, then fill the windows. */
  private sendPendingAppends(): void {
    for (const id of this.progress.keys()) {
      if (id === this.id) continue;
      this.sendAppend(id);
      while (this.sendAppend(id, false));
    }
  }

  private broadcastHeartbeat(): void {
    const ctx = this.readOnly.lastCtx();
    for (const [to, pr] of this.progress) {
      if (to === this.id) continue;
      this.send({ kind: 'heartbeat', to, commit: Math.min(pr.match, this.log.commit), ctx });
    }
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.commit };
  }

  private assertNoReadyOutstanding(): void {
    assert(this.outstandingReady === undefined, 'call advance() before using Raft again');
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameConfig(a: Config, b: Config): boolean {
  return a.voters.length === b.voters.length && a.voters.every((v, i) => v === b.voters[i]);
}
