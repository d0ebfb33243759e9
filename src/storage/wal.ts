/**
 * The write-ahead log: every write batch is appended here, and acknowledged, before it reaches
 * the memtable, so that after a crash replaying the log rebuilds exactly the acknowledged
 * writes. Records are framed by the record log (./log); the WAL adds durability policy and
 * group commit.
 *
 * Group commit: an fsync costs about as much for one record as for thousands, so appends that
 * arrive while a write + fsync is running are queued, then written together with one
 * appendMany and covered by one fsync. Under load each fsync covers everything that arrived
 * during the previous one; at rest an append waits for one write and one fsync. Queued appends
 * are split into groups of at most groupBytesMax, which bounds the buffer of one write.
 *
 * Sync modes:
 * - 'always': append resolves once an fsync issued after its bytes were written has finished.
 * - 'interval': append resolves as soon as its record is queued for the file, as Redis's
 *   `appendfsync everysec` and Cassandra's periodic commit log do; the flusher writes queued
 *   records in large writes in the background, a timer fsyncs every intervalMs, and sync()
 *   forces one. A crash may lose up to an interval of resolved appends (a process crash only
 *   the records still queued) — the price of not waiting for the disk. Once more than
 *   intervalQueueBytesMax are queued, appends wait for their write again (back-pressure).
 *
 * A failed write or fsync rejects every append of its group and of the groups queued behind it,
 * and the WAL then refuses all appends for good. It cannot retry: after a failed write the file
 * may end in part of a record, and after a failed fsync the kernel may already have dropped the
 * dirty pages and marked them clean (Linux does; PostgreSQL's "fsyncgate"), so a second fsync
 * can succeed without the data ever reaching the disk. Only reopening and replaying what is
 * durable tells the truth.
 */
import type { Env, Timer } from '../env/types.js';
import { assert } from '../util/assert.js';
import { copyBytes } from '../util/bytes.js';
import { invalidArgument, ioError, type TesseraError } from '../util/errors.js';
import { LogWriter, recordBytes, recordBytesMax, type LogWriterOptions } from './log/index.js';

export type WalOptions =
  { readonly sync: 'always' } | { readonly sync: 'interval'; readonly intervalMs: number };

export const walOptionsDefault: WalOptions = { sync: 'always' };

/** Bound on the framed bytes one group (one file write) gathers: 4 MiB. */
export const groupBytesMax = 4 * 1024 * 1024;

/** In 'interval' mode, appends resolve at once while at most this many bytes are queued. */
export const intervalQueueBytesMax = 4 * 1024 * 1024;

const resolved = Promise.resolve();

/** Appends written by one file write (and, when `sync`, covered by the fsync after it). */
interface Group {
  readonly payloads: Uint8Array[];
  /** Framed bytes of `payloads`. */
  bytes: number;
  /** Fsync after writing; every waiter of the group then waits for that fsync too. */
  sync: boolean;
  readonly done: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

function newGroup(sync: boolean): Group {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Every waiter gets the rejection through `done`; this only keeps a group whose waiters all
  // went away from becoming an unhandled rejection. The failure itself is sticky on the WAL.
  done.catch(() => undefined);
  return { payloads: [], bytes: 0, sync, done, resolve, reject };
}

export class Wal {
  /** Groups not yet taken by the flusher, oldest first; only the last one takes new appends. */
  private readonly queue: Group[] = [];
  /** The group being written (and maybe fsynced) now. */
  private inFlight: Group | undefined;
  private flushing = false;
  private writtenBytes: number;
  private durableBytes: number;
  private syncs = 0;
  /** Framed bytes appended but not yet taken by the flusher. */
  private queuedBytes = 0;
  private failure: unknown = undefined;
  private closing: Promise<void> | undefined;
  private readonly timer: Timer | undefined;

  private constructor(
    private readonly env: Env,
    private readonly writer: LogWriter,
    private readonly options: WalOptions,
  ) {
    // LogWriter.create and openForAppend both leave the file durable as it stands.
    this.writtenBytes = writer.size;
    this.durableBytes = writer.size;
    if (options.sync === 'interval') {
      this.timer = env.timers.every(options.intervalMs, () => this.onTimer());
    }
  }

  /** Creates an empty WAL at `path`, replacing any file there. */
  static async create(
    env: Env,
    path: string,
    options: WalOptions = walOptionsDefault,
  ): Promise<Wal> {
    checkOptions(options);
    return new Wal(env, await LogWriter.create(env.fs, path, writerOptions(options)), options);
  }

  /**
   * Opens an existing WAL to append after its first `validLength` bytes: the `validLength` that
   * readLog reported when the log was replayed (a torn tail beyond it is cut off).
   */
  static async openForAppend(
    env: Env,
    path: string,
    validLength: number,
    options: WalOptions = walOptionsDefault,
  ): Promise<Wal> {
    checkOptions(options);
    return new Wal(
      env,
      await LogWriter.openForAppend(env.fs, path, validLength, writerOptions(options)),
      options,
    );
  }

  get path(): string {
    return this.writer.path;
  }

  /** Bytes written to the file (appends still queued or being written not counted). */
  get size(): number {
    return this.writtenBytes;
  }

  /** Bytes known durable: covered by a finished fsync (or on disk when the WAL was opened). */
  get durableSize(): number {
    return this.durableBytes;
  }

  /**
   * Hears, for each finished fsync, how long its group took to become durable in microseconds
   * (env.clock.monoMicros()): the group's write and its fsync timed together, because in
   * sync-always mode the write is the fsync (O_DSYNC) and the fsync call after it does nothing.
   * Unset, no clock is read. For metrics: it must not throw.
   */
  onSync: ((micros: number) => void) | undefined = undefined;

  /** Fsyncs finished since the WAL was opened; group commit makes it far below the appends. */
  get syncCount(): number {
    return this.syncs;
  }

  /**
   * Appends one record; resolves when it is durable per the sync mode (see the file comment).
   * The payload is copied at once, so the caller may reuse its buffer (unless `owned`). Records are written in
   * the order of the append calls. INVALID_ARGUMENT for a payload over recordBytesMax; IO_ERROR
   * once the WAL is closing or has failed.
   */
  append(payload: Uint8Array, options?: { readonly owned?: boolean }): Promise<void> {
    const refused = this.refusal('append');
    if (refused !== undefined) return Promise.reject(refused);
    if (payload.length > recordBytesMax) {
      return Promise.reject(
        invalidArgument(
          `WAL record of ${payload.length} bytes exceeds the maximum of ${recordBytesMax}`,
          { path: this.path, bytes: payload.length, bytesMax: recordBytesMax },
        ),
      );
    }
    const bytes = recordBytes(payload.length);
    let group = this.queue[this.queue.length - 1];
    // An empty group takes any record, so one larger than groupBytesMax still gets a group.
    if (group === undefined || (group.bytes + bytes > groupBytesMax && group.payloads.length > 0)) {
      group = newGroup(this.options.sync === 'always');
      this.queue.push(group);
    }
    // `owned`: the caller hands the buffer over and never touches it again, so no copy.
    group.payloads.push(options?.owned === true ? payload : copyBytes(payload));
    group.bytes += bytes;
    this.queuedBytes += bytes;
    this.startFlusher();
    if (this.options.sync === 'interval' && this.queuedBytes <= intervalQueueBytesMax) {
      return resolved;
    }
    return group.done;
  }

  /** Forces an fsync covering every append made before the call, and waits for it. */
  sync(): Promise<void> {
    const refused = this.refusal('sync');
    if (refused !== undefined) return Promise.reject(refused);
    return this.requestSync();
  }

  /**
   * Writes and fsyncs every queued append (no fsync when everything is durable already), stops
   * the timer and closes the file. Rejects, after closing the file, when the WAL has failed:
   * then not everything appended is durable. Closing twice returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    this.timer?.cancel();
    if (this.failure === undefined && this.unsynced()) {
      // A failure here is recorded in `this.failure` and reported below.
      await this.requestSync().catch(() => undefined);
    }
    assert(
      this.failure !== undefined || (this.queue.length === 0 && this.inFlight === undefined),
      'WAL closed with appends still queued',
    );
    await this.writer.close();
    if (this.failure !== undefined) throw this.refusal('close')!;
  }

  private refusal(what: string): TesseraError | undefined {
    if (this.failure !== undefined) {
      return ioError(
        `cannot ${what}: WAL ${this.path} failed earlier (a write or fsync failed) and refuses ` +
          'further work; reopen it and recover',
        { path: this.path },
        this.failure,
      );
    }
    if (this.closing !== undefined) {
      return ioError(`cannot ${what}: WAL is closed: ${this.path}`, { path: this.path });
    }
    return undefined;
  }

  private requestSync(): Promise<void> {
    // A queued group: marking it is enough, as its fsync follows every earlier write.
    const tail = this.queue[this.queue.length - 1];
    if (tail !== undefined) {
      tail.sync = true;
      return tail.done;
    }
    // Nothing queued: an in-flight group with an fsync coming covers everything.
    if (this.inFlight?.sync === true) return this.inFlight.done;
    const marker = newGroup(true);
    this.queue.push(marker);
    this.startFlusher();
    return marker.done;
  }

  private onTimer(): void {
    if (this.failure !== undefined || this.closing !== undefined || !this.unsynced()) return;
    // A failure is recorded and reported to the next append; nobody waits on this promise.
    this.requestSync().catch(() => undefined);
  }

  /** True when some append is not yet covered by a finished fsync. */
  private unsynced(): boolean {
    return (
      this.writtenBytes > this.durableBytes || this.queue.length > 0 || this.inFlight !== undefined
    );
  }

  private startFlusher(): void {
    if (this.flushing) return;
    this.flushing = true;
    void this.flush();
  }

  /** Takes groups in order, one write (and fsync) each, until none is left or one fails. */
  private async flush(): Promise<void> {
    try {
      // One microtask hop, so that appends made in the same turn as the first join its group.
      await Promise.resolve();
      for (;;) {
        const group = this.queue.shift();
        if (group === undefined) return;
        this.queuedBytes -= group.bytes;
        this.inFlight = group;
        const onSync = group.sync ? this.onSync : undefined;
        const t0 = onSync === undefined ? 0 : this.env.clock.monoMicros();
        try {
          if (group.payloads.length > 0) {
            await this.writer.appendMany(group.payloads);
            this.writtenBytes += group.bytes;
            assert(this.writtenBytes === this.writer.size, 'WAL size out of step with its log');
          }
          if (group.sync) {
            const covered = this.writtenBytes;
            await this.writer.sync();
            this.syncs++;
            this.durableBytes = covered;
            if (onSync !== undefined) onSync(this.env.clock.monoMicros() - t0);
          }
        } catch (err) {
          this.fail(err, group);
          return;
        } finally {
          this.inFlight = undefined;
        }
        group.resolve();
      }
    } finally {
      this.flushing = false;
    }
  }

  private fail(err: unknown, group: Group): void {
    this.failure = err;
    group.reject(err);
    for (const queued of this.queue.splice(0)) queued.reject(err);
  }
}

/**
 * In sync-always mode the file is opened with O_DSYNC: every group's write is also its fsync,
 * one trip to the thread pool and the disk instead of a write and then an fdatasync. Each trip
 * waits for the busy event loop to notice its completion (0.1-0.2 ms under load, several times
 * the 30-45 µs fdatasync itself on this machine's disk), so halving them shortened the commit
 * and the tail (YCSB A update p99 3.4-3.7 ms against 4.0-4.7 ms). Interval mode keeps plain
 * writes and syncs on its timer.
 */
function writerOptions(options: WalOptions): LogWriterOptions {
  return { dsync: options.sync === 'always' };
}

function checkOptions(options: WalOptions): void {
  if (options.sync === 'interval') {
    const ms = options.intervalMs;
    if (!(Number.isFinite(ms) && ms > 0)) {
      throw invalidArgument(`WAL sync interval must be a positive number of ms, got ${ms}`, {
        intervalMs: ms,
      });
    }
  } else if (options.sync !== 'always') {
    throw invalidArgument(`unknown WAL sync mode ${String((options as { sync: unknown }).sync)}`);
  }
}
