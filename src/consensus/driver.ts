/**
 * RaftNode: the thin driver that does a Raft replica's I/O through the Env.
 *
 * Inputs (ticks from `env.timers.every`, messages from `receive`, proposals, reads) are queued
 * and fed to the pure `Raft` by one loop, which then handles each Ready in the order types.ts
 * requires: `storage.save(rd)` (fsynced), then send its messages, restore its snapshot, apply
 * its committed entries in order, answer its read states, then `advance(rd)`. No message
 * leaves before the state it depends on is durable (a leader's own appends go out during its
 * save, which they do not depend on; see handle()). Raft forbids input between `ready()` and
 * `advance()`, which is why everything goes through the queue.
 *
 * Proposals resolve when their entry is applied (same index and term); if a different entry
 * (another leader's) is applied at that index, the proposal rejects. Errors: a refusal is
 * NOT_LEADER with `details.reason` = the Refusal reason ('not-leader', 'transferring',
 * 'conf-change-pending') and `details.leaderHint`; an overwritten proposal is NOT_LEADER with
 * reason 'overwritten' (it certainly did not take effect); one folded into a snapshot before
 * it was seen is UNAVAILABLE (outcome unknown); a full leader is OVERLOADED; no answer within
 * `requestTimeoutMs` is DEADLINE_EXCEEDED (outcome unknown); `stop()` rejects what is pending
 * with SHUTTING_DOWN.
 */
import { TesseraError } from '../util/errors.js';
import type { Env, Timer } from '../env/types.js';
import { Raft, type RaftOptions, type RaftStatus } from './raft.js';
import { RaftStorage } from './raft-storage.js';
import {
  SNAPSHOT_DATA_ON_DISK,
  type Entry,
  type InstallSnapshot,
  type Message,
  type NodeId,
  type ProposeResult,
  type ReadState,
  type Ready,
  type Refusal,
  type Snapshot,
} from './types.js';

/** How messages leave; best effort (Raft retries what is lost). */
export interface Transport {
  send(to: NodeId, msg: Message): void;
}

/**
 * A snapshot being taken in slices. The state it captures is the one at the moment it was
 * begun; entries applied since must not show in it (the state machine copies on write).
 */
export interface SnapshotCapture {
  /** Serializes the next slice; the whole snapshot once the last slice is done. */
  step(): Uint8Array | undefined;
  /** Abandons the capture (the state was replaced, or the node stops). */
  cancel(): void;
}

/** A capture in progress: the log index whose state it holds. */
interface Capturing {
  readonly index: number;
  readonly capture: SnapshotCapture;
}

export type RaftTuning = Omit<RaftOptions, 'id' | 'voters' | 'storage' | 'random' | 'applied'>;

export interface RaftNodeOptions {
  readonly env: Env;
  readonly id: NodeId;
  /** The initial voters of a brand-new cluster (ignored once a snapshot holds the config). */
  readonly voters: readonly NodeId[];
  /** Directory (in env.fs) for RaftStorage. */
  readonly dir: string;
  readonly transport: Transport;
  /** Called with every committed entry (normal, config and noop), in index order. */
  readonly apply: (entry: Entry) => void;
  /** Replaces the state machine with a snapshot's; required when snapshots can occur. */
  readonly restore?: (snapshot: Snapshot) => void;
  /**
   * Local compaction: once this many entries were applied since the last snapshot, `capture()`
   * the state machine and compact the log. Both or neither.
   */
  readonly snapshotEntries?: number;
  /**
   * Also snapshot once the entries applied since the last snapshot carry this many data bytes,
   * so large entries cannot grow the log without bound. Default: no byte bound.
   */
  readonly snapshotBytes?: number;
  /**
   * The state as of the last applied entry: its bytes, or a SnapshotCapture that produces them
   * a slice at a time while later entries keep being applied (a large state then never stalls
   * the replica for the whole serialization).
   */
  readonly capture?: () => Uint8Array | SnapshotCapture;
  readonly tickMs?: number;
  readonly requestTimeoutMs?: number;
  readonly tuning?: RaftTuning;
  /**
   * Hears the error that stopped the node for good (a failed log write or fsync, a failed
   * apply): once, after every pending request was rejected with it. Must not throw.
   */
  readonly onFailure?: (err: unknown) => void;
}

export const TICK_MS_DEFAULT = 100;
export const REQUEST_TIMEOUT_MS_DEFAULT = 10_000;
/** Queued inputs (messages, proposals, reads); beyond it messages drop, requests are OVERLOADED. */
export const INPUTS_QUEUED_MAX = 4096;
/** Ticks queued while a save runs; more are coalesced away (time is not worth queuing). */
export const TICKS_QUEUED_MAX = 4;

/** A step for the loop; `drop` fails its request (if any) when the node stops first. */
interface Input {
  readonly run: () => void;
  readonly drop: ((err: unknown) => void) | undefined;
}

interface Pending<T> {
  readonly resolve: (value: T) => void;
  readonly reject: (err: unknown) => void;
  readonly timer: Timer;
}

interface PendingProposal extends Pending<{ index: number; term: number }> {
  readonly term: number;
}

interface PendingRead extends Pending<number> {
  /** The read state's index, once the leader answered. */
  index: number | undefined;
}

export class RaftNode {
  readonly id: NodeId;
  private readonly env: Env;
  private readonly raft: Raft;
  private readonly inputs: Input[] = [];
  private ticksQueued = 0;
  private readonly proposals = new Map<number, PendingProposal>();
  private readonly reads = new Map<string, PendingRead>();
  private readonly ticker: Timer;
  private readonly readNonce: string;
  private readCount = 0;
  private applied: number;
  private snapshotIndex: number;
  /** Data bytes of the entries applied since the last snapshot (since the start, after a restart). */
  private bytesSinceSnapshot = 0;
  /** Followers whose install-snapshot message is being read back from storage. */
  private readonly snapshotReads = new Set<NodeId>();
  /** The snapshot being taken a slice at a time, if any. */
  private capturing: Capturing | undefined = undefined;
  private looping = false;
  /** The term in which the previous Ready was handled as leader; -1 when it was not. */
  private leaderTerm = -1;
  private loopDone: Promise<void> = Promise.resolve();
  private stopped = false;
  /** The error that stopped the node (a failed save, an apply that threw), if any. */
  failure: unknown = undefined;

  private constructor(
    private readonly opts: RaftNodeOptions,
    private readonly storage: RaftStorage,
    raft: Raft,
    snapshotIndex: number,
  ) {
    this.id = opts.id;
    this.env = opts.env;
    this.raft = raft;
    this.applied = snapshotIndex;
    this.snapshotIndex = snapshotIndex;
    this.readNonce = this.env.random.uint32().toString(16);
    this.ticker = this.env.timers.every(opts.tickMs ?? TICK_MS_DEFAULT, () => this.onTick());
    // The snapshot just restored is on disk: Raft need not hold its bytes.
    if (snapshotIndex > 0) this.raft.snapshotPersisted(snapshotIndex);
  }

  /** Opens the storage in `opts.dir`, restores the latest snapshot and starts ticking. */
  static async start(opts: RaftNodeOptions): Promise<RaftNode> {
    if ((opts.snapshotEntries === undefined) !== (opts.capture === undefined)) {
      throw new TesseraError('INVALID_ARGUMENT', 'snapshotEntries and capture go together');
    }
    const { storage, persisted } = await RaftStorage.open(opts.env, opts.dir);
    if (persisted.snapshot) {
      if (!opts.restore) {
        throw new TesseraError('INVALID_ARGUMENT', 'storage holds a snapshot but no restore()');
      }
      opts.restore(persisted.snapshot);
    }
    const raft = new Raft({
      ...opts.tuning,
      id: opts.id,
      voters: opts.voters,
      storage: persisted,
      random: opts.env.random,
    });
    return new RaftNode(opts, storage, raft, persisted.snapshot?.meta.index ?? 0);
  }

  status(): RaftStatus {
    return this.raft.status();
  }

  get appliedIndex(): number {
    return this.applied;
  }

  /** Hands an incoming message to Raft (dropped when not for us, stopped or too many queued). */
  receive(msg: Message): void {
    if (msg.to !== this.id || this.stopped || this.inputs.length >= INPUTS_QUEUED_MAX) return;
    this.push(undefined, () => this.raft.step(msg));
  }

  /** Proposes `data`; resolves with its (index, term) once this replica applied it. */
  propose(data: Uint8Array): Promise<{ index: number; term: number }> {
    return new Promise((resolve, reject) => {
      if (!this.admit(reject)) return;
      this.push(reject, () => {
        const result: ProposeResult = this.raft.propose(data);
        if (!result.ok) {
          reject(refusalError(result));
          return;
        }
        const timer = this.env.timers.after(this.timeoutMs(), () => {
          if (this.proposals.get(result.index)?.timer !== timer) return;
          this.proposals.delete(result.index);
          reject(deadline('proposal', result.index));
        });
        // A stale proposal at this index lost its entry to another leader's log.
        this.settleProposal(result.index, undefined);
        this.proposals.set(result.index, { term: result.term, resolve, reject, timer });
      });
    });
  }

  /**
   * A linearizable read point: resolves with an index once this replica has applied at least
   * that far and the leader confirmed it still led when the read began. Serve the read from
   * the state machine right after it resolves.
   */
  read(): Promise<number> {
    return new Promise((resolve, reject) => {
      if (!this.admit(reject)) return;
      const ctx = `${this.id}.${this.readNonce}.${this.readCount++}`;
      this.push(reject, () => {
        const result = this.raft.readIndex(ctx);
        if (!result.ok) {
          reject(refusalError(result));
          return;
        }
        const timer = this.env.timers.after(this.timeoutMs(), () => {
          if (!this.reads.delete(ctx)) return;
          reject(deadline('read', undefined));
        });
        this.reads.set(ctx, { resolve, reject, timer, index: undefined });
      });
    });
  }

  /** Stops ticking, waits for the loop, closes the storage; pending requests reject. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.ticker.cancel();
    this.cancelCapture();
    await this.loopDone;
    this.rejectAll(new TesseraError('SHUTTING_DOWN', `raft node ${this.id} stopped`));
    await this.storage.close();
  }

  // ---- The loop ----

  private onTick(): void {
    if (this.ticksQueued >= TICKS_QUEUED_MAX) return;
    this.ticksQueued++;
    this.push(undefined, () => {
      this.ticksQueued--;
      this.raft.tick();
    });
  }

  private admit(reject: (err: unknown) => void): boolean {
    if (this.stopped) {
      reject(new TesseraError('SHUTTING_DOWN', `raft node ${this.id} stopped`));
      return false;
    }
    if (this.inputs.length >= INPUTS_QUEUED_MAX) {
      reject(new TesseraError('OVERLOADED', `raft node ${this.id}: input queue full`));
      return false;
    }
    return true;
  }

  /** Queues `run` for the loop; `drop` rejects its request if the node stops before it runs. */
  private push(drop: ((err: unknown) => void) | undefined, run: () => void): void {
    this.inputs.push({ run, drop });
    if (this.looping) return;
    this.looping = true;
    this.loopDone = this.loop();
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        for (let input = this.inputs.shift(); input; input = this.inputs.shift()) {
          if (this.stopped) input.drop?.(this.stoppedError());
          else input.run();
        }
        if (this.stopped || !this.raft.hasReady()) break;
        await this.handle(this.raft.ready());
      }
    } catch (err) {
      this.fail(err);
    }
    this.looping = false;
  }

  private async handle(rd: Ready): Promise<void> {
    // A leader's messages (appends, heartbeats) go out while its own disk write runs (Raft
    // thesis §10.2.1): its fsync and the followers' overlap instead of following each other.
    // Safe because (1) a leader's messages promise nothing about its own disk: it counts
    // itself towards a commit only through its match index, and (2) this loop steps no input
    // while the save runs, so an acknowledgement is counted only after the leader's copy is
    // durable too. Only a Ready produced wholly as leader of one term qualifies: a batch that
    // began as candidate or follower may hold votes or append acks, which must wait for disk.
    const term = this.raft.status().term;
    const early = rd.softState.role === 'leader' && this.leaderTerm === term;
    if (early) for (const m of rd.messages) this.send(m);
    // Committed entries that earlier saves already made durable here are applied (and their
    // proposers answered) while this Ready's own entries are written: otherwise each commit
    // would wait for the fsync of the next batch. Committed means durable on a majority and
    // never overwritten, so nothing about this save can change them. Entries of this Ready
    // (a follower learns of an entry and of its commit together) and anything after a
    // snapshot still wait for the save.
    const durableBelow = rd.snapshot !== undefined ? 0 : (rd.entries[0]?.index ?? Infinity);
    let applied = 0;
    while (
      applied < rd.committedEntries.length &&
      rd.committedEntries[applied]!.index < durableBelow
    ) {
      this.applyEntry(rd.committedEntries[applied++]!);
    }
    await this.storage.save(rd);
    this.leaderTerm = rd.softState.role === 'leader' ? term : -1;
    // Durable now, but a stopped node sends and applies nothing more.
    if (this.stopped) return;
    if (!early) for (const m of rd.messages) this.send(m);
    if (rd.snapshot) this.installSnapshot(rd.snapshot);
    for (let i = applied; i < rd.committedEntries.length; i++) {
      this.applyEntry(rd.committedEntries[i]!);
    }
    for (const rs of rd.readStates) this.onReadState(rs);
    this.raft.advance(rd);
    if (rd.snapshot) this.raft.snapshotPersisted(rd.snapshot.meta.index);
    this.answerReads();
    this.maybeCompact();
  }

  private send(m: Message): void {
    if (m.kind === 'install-snapshot' && m.snapshot.data === SNAPSHOT_DATA_ON_DISK) {
      this.sendSnapshotFromDisk(m);
    } else {
      this.opts.transport.send(m.to, m);
    }
  }

  /**
   * Completes an install-snapshot message with the snapshot read back from storage, one read
   * per follower at a time. If the storage has moved on to a newer snapshot meanwhile, the
   * message is dropped: Raft sends the newer one at the follower's next response.
   */
  private sendSnapshotFromDisk(m: InstallSnapshot): void {
    if (this.snapshotReads.has(m.to)) return;
    this.snapshotReads.add(m.to);
    const want = m.snapshot.meta;
    this.storage
      .readSnapshot()
      .then((s) => {
        if (this.stopped || s?.meta.index !== want.index || s.meta.term !== want.term) return;
        this.opts.transport.send(m.to, { ...m, snapshot: s });
      })
      .catch((err: unknown) => {
        // A snapshot file replaced while it was read is the race above; the current one
        // failing to read is damage, and crash-only: a restart reports it.
        if (this.storage.snapshotOnFile?.index === want.index) this.fail(err);
      })
      .finally(() => this.snapshotReads.delete(m.to));
  }

  private installSnapshot(snapshot: Snapshot): void {
    if (!this.opts.restore) {
      throw new TesseraError('INTERNAL', 'received a snapshot but no restore() was given');
    }
    // A capture of the state being replaced would describe neither.
    this.cancelCapture();
    this.opts.restore(snapshot);
    this.applied = this.snapshotIndex = snapshot.meta.index;
    this.bytesSinceSnapshot = 0;
    // Entries the snapshot covers were never seen one by one: their outcome is unknown here.
    for (const [index, p] of this.proposals) {
      if (index > snapshot.meta.index) continue;
      this.proposals.delete(index);
      p.timer.cancel();
      p.reject(
        new TesseraError('UNAVAILABLE', 'proposal outcome unknown: replaced by a snapshot', {
          reason: 'unknown-outcome',
          index,
        }),
      );
    }
  }

  private applyEntry(e: Entry): void {
    this.opts.apply(e);
    this.applied = e.index;
    this.bytesSinceSnapshot += e.data.length;
    this.settleProposal(e.index, e.term);
  }

  /** Settles the proposal at `index`: resolved if `term` is its term, else overwritten. */
  private settleProposal(index: number, term: number | undefined): void {
    const p = this.proposals.get(index);
    if (!p) return;
    this.proposals.delete(index);
    p.timer.cancel();
    if (p.term === term) p.resolve({ index, term });
    else {
      p.reject(
        new TesseraError('NOT_LEADER', `proposal at ${index} was overwritten`, {
          reason: 'overwritten',
          index,
          term: p.term,
        }),
      );
    }
  }

  private onReadState(rs: ReadState): void {
    const r = this.reads.get(rs.ctx);
    if (r) r.index = rs.index;
  }

  private answerReads(): void {
    for (const [ctx, r] of this.reads) {
      if (r.index === undefined || r.index > this.applied) continue;
      this.reads.delete(ctx);
      r.timer.cancel();
      r.resolve(r.index);
    }
  }

  private maybeCompact(): void {
    const every = this.opts.snapshotEntries;
    if (every === undefined || this.capturing !== undefined) return;
    const bytesMax = this.opts.snapshotBytes ?? Infinity;
    if (this.applied - this.snapshotIndex < every && this.bytesSinceSnapshot < bytesMax) return;
    if (this.applied === this.snapshotIndex) return;
    // The previous snapshot is let go first, so the two are never held at once (hundreds of
    // MiB each for a large state); a follower that needs one meanwhile waits for the new one.
    this.raft.releaseSnapshot();
    this.bytesSinceSnapshot = 0;
    const index = this.applied;
    const taken = this.opts.capture!();
    if (taken instanceof Uint8Array) {
      this.compactTo(index, taken);
      return;
    }
    this.capturing = { index, capture: taken };
    this.captureStep();
  }

  /**
   * Serializes one slice of the capture in progress, then lets the loop's other inputs (Raft
   * messages, proposals, reads) run before the next slice.
   */
  private captureStep(): void {
    const c = this.capturing;
    if (c === undefined || this.stopped) return;
    const data = c.capture.step();
    if (data === undefined) {
      this.env.timers.defer(() => {
        if (this.capturing === c) this.push(undefined, () => this.captureStep());
      });
      return;
    }
    this.capturing = undefined;
    this.compactTo(c.index, data);
  }

  private compactTo(index: number, data: Uint8Array): void {
    const meta = this.raft.compact(index, data);
    this.snapshotIndex = meta.index;
    // A failure fails the node through the saves after it. Once durable, the bytes are let go.
    this.storage.compact({ meta, data }).then(
      () => this.push(undefined, () => this.raft.snapshotPersisted(meta.index)),
      (err: unknown) => this.fail(err),
    );
  }

  private cancelCapture(): void {
    this.capturing?.capture.cancel();
    this.capturing = undefined;
  }

  private fail(err: unknown): void {
    const first = this.failure === undefined;
    this.failure ??= err;
    this.stopped = true;
    this.ticker.cancel();
    this.cancelCapture();
    this.rejectAll(err);
    if (first) this.opts.onFailure?.(err);
  }

  private stoppedError(): unknown {
    return this.failure ?? new TesseraError('SHUTTING_DOWN', `raft node ${this.id} stopped`);
  }

  private rejectAll(err: unknown): void {
    // Requests still queued for the loop never ran: they fail too.
    for (const input of this.inputs.splice(0)) input.drop?.(err);
    for (const p of this.proposals.values()) {
      p.timer.cancel();
      p.reject(err);
    }
    this.proposals.clear();
    for (const r of this.reads.values()) {
      r.timer.cancel();
      r.reject(err);
    }
    this.reads.clear();
  }

  private timeoutMs(): number {
    return this.opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT;
  }
}

function refusalError(r: Refusal): TesseraError {
  if (r.reason === 'overloaded') {
    return new TesseraError('OVERLOADED', 'the raft leader has too many uncommitted entries', {
      reason: r.reason,
      leaderHint: r.leaderHint,
    });
  }
  return new TesseraError('NOT_LEADER', `refused: ${r.reason} (leader hint ${r.leaderHint})`, {
    reason: r.reason,
    leaderHint: r.leaderHint,
  });
}

function deadline(what: string, index: number | undefined): TesseraError {
  return new TesseraError('DEADLINE_EXCEEDED', `${what} not applied in time; outcome unknown`, {
    index,
  });
}
