import { assert } from '../../util/assert.js';
import type { Lifetime, SimEvent } from './kernel.js';

/** Below this many queued events, cancelled ones are left in the heap until they surface. */
const compactEventsMin = 1024;

/**
 * The simulator's event queue: a binary min-heap ordered by (virtual time, insertion sequence).
 *
 * The sequence makes ties deterministic and first-in first-out, which is what `defer` relies on
 * ("after already-queued events"). Cancelled events and events of dead incarnations are removed
 * lazily; when they make up most of the heap it is rebuilt, so a node that re-arms a timeout on
 * every message does not grow the heap without bound.
 */
export class EventQueue {
  private heap: SimEvent[] = [];
  private seqNext = 0;
  private cancelledCount = 0;

  get size(): number {
    return this.heap.length;
  }

  push(atMicros: number, owner: Lifetime | null, label: string, run: () => void): SimEvent {
    assert(Number.isSafeInteger(atMicros) && atMicros >= 0, `bad event time ${atMicros}`);
    const event: SimEvent = { atMicros, seq: this.seqNext++, owner, label, run, cancelled: false };
    this.heap.push(event);
    this.siftUp(this.heap.length - 1);
    return event;
  }

  cancel(event: SimEvent): void {
    if (event.cancelled) return;
    event.cancelled = true;
    this.cancelledCount++;
    if (this.cancelledCount >= compactEventsMin && this.cancelledCount * 2 > this.heap.length) {
      this.compact();
    }
  }

  /** The next event that will run, skipping cancelled events and dead incarnations. */
  peek(): SimEvent | undefined {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || isLive(top)) return top;
      this.removeTop();
    }
  }

  pop(): SimEvent | undefined {
    const top = this.peek();
    if (top !== undefined) this.removeTop();
    return top;
  }

  /** Drops every cancelled or dead event and restores the heap (after a crash, say). */
  compact(): void {
    this.heap = this.heap.filter(isLive);
    this.cancelledCount = 0;
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private removeTop(): void {
    const top = this.heap[0]!;
    if (top.cancelled) this.cancelledCount--;
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const event = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(event, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = event;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const event = heap[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, event)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = event;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.atMicros < b.atMicros || (a.atMicros === b.atMicros && a.seq < b.seq);
}

function isLive(event: SimEvent): boolean {
  return !event.cancelled && (event.owner === null || event.owner.alive);
}
