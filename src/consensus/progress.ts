/**
 * The leader's view of one follower: how much of the log matches (`match`), what to send next
 * (`next`), and how to send it.
 *
 * - probe: one append at a time until the follower's position is known (after a rejection, a
 *   new term, or a lost snapshot);
 * - replicate: optimistic pipelining — `next` jumps past what was sent without waiting for the
 *   answer, with at most `inflightMax` appends outstanding;
 * - snapshot: an InstallSnapshot is on its way; nothing else is sent until it is answered or
 *   given up on after an election timeout.
 */
import { assert } from '../util/assert.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** probe: an append is outstanding; wait for its answer or the next heartbeat answer. */
  probeSent = false;
  /** snapshot: the index of the snapshot sent, and ticks spent waiting for it. */
  pendingSnapshot = 0;
  snapshotTicks = 0;
  /** replicate: last index of each outstanding append, oldest first. */
  readonly inflight: number[] = [];
  /** Heard from since the last check-quorum round. */
  recentActive = false;

  constructor(
    next: number,
    private readonly inflightMax: number,
  ) {
    assert(next >= 1 && inflightMax >= 1, 'bad progress');
    this.next = next;
  }

  becomeProbe(): void {
    // After a snapshot, resume from it; otherwise from the last known match.
    this.next = Math.max(this.match, this.state === 'snapshot' ? this.pendingSnapshot : 0) + 1;
    this.reset('probe');
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.reset('replicate');
  }

  becomeSnapshot(index: number): void {
    this.reset('snapshot');
    this.pendingSnapshot = index;
  }

  private reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.inflight.length = 0;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflight.length >= this.inflightMax;
      case 'snapshot':
        return true;
    }
  }

  /** An append carrying entries up to `last` went out. */
  sentAppend(last: number, entryCount: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = last + 1;
        this.inflight.push(last);
      }
    } else {
      this.probeSent = true;
    }
  }

  /** The follower matches up to `index`. Returns false for a stale acknowledgement. */
  maybeUpdate(index: number): boolean {
    const updated = index > this.match;
    if (updated) {
      this.match = index;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    while (this.inflight.length > 0 && this.inflight[0]! <= index) this.inflight.shift();
    return updated;
  }

  /**
   * The follower rejected an append at `rejected`; `hint` is where its log may match.
   * Returns false when the rejection is stale (answers an append we no longer care about).
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }
}
