/**
 * WatchHub: the server side of `lock.watch` long-polls on one replica.
 *
 * Every replica (leader or not) hears each applied entry's watch events from its LockReplica
 * and keeps the last WATCH_HISTORY_MAX of them with their log indexes. A poll asks for the
 * first log index after `afterIndex` holding events that fire a watch of `kind` on `path`
 * (see `watchKindsFired`); the hub answers from its history at once, or parks the poll until
 * such an entry is applied or its wait ends. Because a client re-arms with the index it was
 * given, and followers record history too, a client that moves to a new leader resumes where
 * it stopped; when the history no longer reaches back to `afterIndex` the answer carries
 * `resync` (the client must re-read the node). Parked polls are bounded per connection
 * (WATCH_POLLS_PER_CONNECTION_MAX).
 */
import type { Env, Timer } from '../env/types.js';
import { TesseraError } from '../util/errors.js';
import type { AppliedNotice } from './replica.js';
import { watchKindsFired, type WatchEvent, type WatchKind } from './watches.js';

/** Events kept for polls that re-arm (after a reconnect or a change of leader). */
export const WATCH_HISTORY_MAX = 4096;
/** Polls parked at once for one client connection; one more is refused with OVERLOADED. */
export const WATCH_POLLS_PER_CONNECTION_MAX = 64;
/** Longest a poll is parked before it is answered with `timeout`. */
export const WATCH_WAIT_MAX_MS = 30_000;
/** A poll is answered this much (at most a tenth of its time) before the caller's deadline. */
export const WATCH_DEADLINE_MARGIN_MS = 100;

export interface WatchPollReply {
  /** The index to re-arm with (`afterIndex` of the next poll). */
  readonly index: number;
  /** The matching events of log entry `index`, in order (empty on timeout or resync). */
  readonly events: readonly WatchEvent[];
  /** The history no longer reaches back to `afterIndex`: re-read the node, then re-arm. */
  readonly resync: boolean;
  /** Nothing matched before the poll's wait ended. */
  readonly timeout: boolean;
}

interface Recorded {
  readonly index: number;
  readonly event: WatchEvent;
}

interface Parked {
  readonly path: string;
  readonly kind: WatchKind;
  readonly afterIndex: number;
  readonly connection: string;
  readonly resolve: (reply: WatchPollReply) => void;
  timer: Timer | undefined;
  onAbort: (() => void) | undefined;
  signal: AbortSignal | undefined;
}

const fires = (e: WatchEvent, path: string, kind: WatchKind): boolean =>
  e.path === path && watchKindsFired(e).includes(kind);

export class WatchHub {
  /**
   * The last WATCH_HISTORY_MAX events, oldest first from slot `historyStart`, wrapping around: a
   * ring, so recording an event when it is full costs O(1) (every apply records one).
   */
  private readonly history: (Recorded | undefined)[] = new Array(WATCH_HISTORY_MAX);
  private historyStart = 0;
  private historySize = 0;
  /** Events at indexes <= floor may be missing from the history. */
  private floor: number;
  private last: number;
  private readonly parked = new Set<Parked>();
  private readonly perConnection = new Map<string, number>();

  constructor(
    private readonly env: Env,
    /** The replica's last applied index when the hub starts listening. */
    startIndex: number,
  ) {
    this.floor = startIndex;
    this.last = startIndex;
  }

  /** The last applied index the hub has heard of. */
  get lastIndex(): number {
    return this.last;
  }

  /** Polls parked now (all connections). */
  get parkedCount(): number {
    return this.parked.size;
  }

  /** Feeds one LockReplica `onApplied` notice. */
  notice(n: AppliedNotice): void {
    if (n.type === 'restored') {
      this.history.fill(undefined);
      this.historyStart = 0;
      this.historySize = 0;
      this.floor = Math.max(this.floor, n.index);
      this.last = Math.max(this.last, n.index);
      // Parked polls can no longer be sure to see every event: they resync.
      for (const p of [...this.parked]) {
        if (p.afterIndex < this.floor) this.finish(p, this.resyncReply());
      }
      return;
    }
    if (n.index <= this.last) return;
    this.last = n.index;
    if (n.events.length === 0) return;
    for (const event of n.events) this.record({ index: n.index, event });
    if (this.parked.size === 0) return;
    for (const p of [...this.parked]) {
      if (n.index <= p.afterIndex) continue;
      const events = n.events.filter((e) => fires(e, p.path, p.kind));
      if (events.length > 0) this.finish(p, reply(n.index, events));
    }
  }

  /**
   * Answers at once from the history, or parks until a matching entry is applied, `waitMs`
   * passes (a `timeout` answer) or `signal` aborts (the poll is dropped unanswered).
   */
  poll(
    req: {
      readonly path: string;
      readonly kind: WatchKind;
      readonly afterIndex: number;
      readonly connection: string;
    },
    waitMs: number,
    signal?: AbortSignal,
  ): Promise<WatchPollReply> {
    if (req.afterIndex < this.floor) return Promise.resolve(this.resyncReply());
    let matchIndex = -1;
    const events: WatchEvent[] = [];
    for (let i = 0; i < this.historySize; i++) {
      const r = this.history[(this.historyStart + i) % WATCH_HISTORY_MAX]!;
      if (r.index <= req.afterIndex) continue;
      if (matchIndex !== -1 && r.index !== matchIndex) break;
      if (fires(r.event, req.path, req.kind)) {
        matchIndex = r.index;
        events.push(r.event);
      }
    }
    if (matchIndex !== -1) return Promise.resolve(reply(matchIndex, events));
    const count = this.perConnection.get(req.connection) ?? 0;
    if (count >= WATCH_POLLS_PER_CONNECTION_MAX) {
      return Promise.reject(
        new TesseraError(
          'OVERLOADED',
          `at most ${WATCH_POLLS_PER_CONNECTION_MAX} watches may wait per connection`,
          { limit: WATCH_POLLS_PER_CONNECTION_MAX },
        ),
      );
    }
    if (signal?.aborted === true) {
      return Promise.reject(
        signal.reason instanceof TesseraError
          ? signal.reason
          : new TesseraError('CANCELLED', 'the watch was cancelled'),
      );
    }
    return new Promise<WatchPollReply>((resolve, reject) => {
      const p: Parked = {
        ...req,
        resolve,
        timer: undefined,
        onAbort: undefined,
        signal,
      };
      this.parked.add(p);
      this.perConnection.set(req.connection, count + 1);
      p.timer = this.env.timers.after(Math.max(0, waitMs), () => {
        p.timer = undefined;
        this.finish(p, {
          index: Math.max(req.afterIndex, this.last),
          events: [],
          resync: false,
          timeout: true,
        });
      });
      if (signal !== undefined) {
        p.onAbort = () => {
          this.drop(p);
          reject(
            signal.reason instanceof TesseraError
              ? signal.reason
              : new TesseraError('CANCELLED', 'the watch was cancelled'),
          );
        };
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
    });
  }

  /** Drops every parked poll, answering each with `timeout` (the client re-arms). */
  close(): void {
    for (const p of [...this.parked]) {
      this.finish(p, {
        index: Math.max(p.afterIndex, this.last),
        events: [],
        resync: false,
        timeout: true,
      });
    }
  }

  private record(r: Recorded): void {
    if (this.historySize < WATCH_HISTORY_MAX) {
      this.history[(this.historyStart + this.historySize) % WATCH_HISTORY_MAX] = r;
      this.historySize++;
      return;
    }
    // Full: the oldest event makes room, and polls from before it must resync.
    this.floor = Math.max(this.floor, this.history[this.historyStart]!.index);
    this.history[this.historyStart] = r;
    this.historyStart = (this.historyStart + 1) % WATCH_HISTORY_MAX;
  }

  private resyncReply(): WatchPollReply {
    return { index: this.last, events: [], resync: true, timeout: false };
  }

  private finish(p: Parked, r: WatchPollReply): void {
    if (!this.parked.has(p)) return;
    this.drop(p);
    p.resolve(r);
  }

  private drop(p: Parked): void {
    if (!this.parked.delete(p)) return;
    p.timer?.cancel();
    if (p.onAbort !== undefined) p.signal?.removeEventListener('abort', p.onAbort);
    const n = (this.perConnection.get(p.connection) ?? 1) - 1;
    if (n <= 0) this.perConnection.delete(p.connection);
    else this.perConnection.set(p.connection, n);
  }
}

function reply(index: number, events: readonly WatchEvent[]): WatchPollReply {
  return { index, events, resync: false, timeout: false };
}
