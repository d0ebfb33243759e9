/**
 * The leader's outstanding read-index requests (Raft thesis §6.4).
 *
 * A read registered at commit index C is safe to serve once a quorum has acknowledged a
 * heartbeat sent after it was registered: then no newer leader existed when it was taken, so
 * C covers every write acknowledged before the read began. Requests are answered in the order
 * they arrived; an acknowledgement for a later request also confirms every earlier one.
 */
import { assert } from '../util/assert.js';
import type { NodeId } from './types.js';

/** Bound on outstanding reads; further ones are refused until a round completes. */
export const READS_PENDING_MAX = 4096;

export interface PendingRead {
  readonly ctx: string;
  /** Who asked: the leader itself or a follower that forwarded the request. */
  readonly from: NodeId;
  readonly index: number;
  readonly acks: Set<NodeId>;
}

export class ReadOnly {
  private readonly queue: PendingRead[] = [];

  get size(): number {
    return this.queue.length;
  }

  /** The newest request's ctx, carried by heartbeats so their answers confirm it. */
  lastCtx(): string | undefined {
    return this.queue[this.queue.length - 1]?.ctx;
  }

  /** True while the read with `ctx` waits for its quorum. */
  has(ctx: string | undefined): boolean {
    return ctx !== undefined && this.queue.some((r) => r.ctx === ctx);
  }

  /** Registers a read; false (the read is dropped, callers retry) when the queue is full. */
  add(ctx: string, from: NodeId, index: number, self: NodeId): boolean {
    if (this.queue.length >= READS_PENDING_MAX) return false;
    assert(index > 0, 'read index before anything committed');
    this.queue.push({ ctx, from, index, acks: new Set([self]) });
    return true;
  }

  /**
   * Records that `voter` acknowledged the heartbeat carrying `ctx`; returns the requests now
   * confirmed by `quorum` (oldest first) and forgets them.
   */
  ack(ctx: string, voter: NodeId, isQuorum: (acks: ReadonlySet<NodeId>) => boolean): PendingRead[] {
    const at = this.queue.findIndex((r) => r.ctx === ctx);
    if (at < 0) return [];
    const read = this.queue[at]!;
    read.acks.add(voter);
    if (!isQuorum(read.acks)) return [];
    return this.queue.splice(0, at + 1);
  }

  clear(): void {
    this.queue.length = 0;
  }
}
