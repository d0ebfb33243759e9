/**
 * A FrameEncoder bound to a connection: frames queued during one task are written together,
 * in one `Connection.write`, right after the task (env.timers.defer) — a cork that turns a burst
 * of responses into one syscall. `flush()` writes at once (before closing, say).
 */
import type { Connection, Timer, Timers } from '../env/types.js';
import { FrameEncoder } from './encoder.js';

export class Outbox extends FrameEncoder {
  private readonly conn: Connection;
  private readonly timers: Timers;
  private scheduled: Timer | null = null;
  private readonly flushTask = (): void => {
    this.scheduled = null;
    this.flush();
  };
  /** Called when a write reports a full send buffer (the Connection will call onDrain later). */
  onBackpressure: (() => void) | null = null;

  constructor(conn: Connection, timers: Timers) {
    super();
    this.conn = conn;
    this.timers = timers;
  }

  protected override onQueued(): void {
    if (this.scheduled === null) this.scheduled = this.timers.defer(this.flushTask);
  }

  /** Writes everything queued now. Returns false when the send buffer is full. */
  flush(): boolean {
    if (this.scheduled !== null) {
      this.scheduled.cancel();
      this.scheduled = null;
    }
    const chunks = this.take();
    if (this.conn.closed) return true;
    let ok = true;
    for (const c of chunks) ok = this.conn.write(c) && ok;
    if (!ok && this.onBackpressure !== null) this.onBackpressure();
    return ok;
  }

  /** Drops anything queued and any scheduled flush (the connection is gone). */
  discard(): void {
    if (this.scheduled !== null) {
      this.scheduled.cancel();
      this.scheduled = null;
    }
    this.take();
  }
}
