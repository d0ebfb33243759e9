/**
 * A Raft replica's durable state in one directory, through the Env's file system.
 *
 * Layout (docs/formats/raft-log.md): one live log file `log-<seq>` of tagged records
 * (raft-log-format.ts) framed by the checksummed record log, and, when the log starts from a
 * snapshot, `snap-<seq>` holding that snapshot. Saving a Ready appends its records and fsyncs
 * once; calls that arrive while an fsync is running wait for the next one and share it (group
 * commit).
 *
 * Saving a snapshot (an installed one, from a Ready, or a local compaction) switches to a new
 * file pair `seq + 1` holding only the state after the snapshot. Each step leaves a directory
 * that opens to the old or the new state, never a mix:
 *
 * 1. write `snap-<n>.tmp` (a local compaction writes `snap-pending.tmp` beforehand, while saves
 *    go on), fsync, rename to `snap-<n>`, fsync the directory;
 * 2. write `log-<n>.tmp` (snapshot record, remaining entries, hard state), fsync, rename to
 *    `log-<n>`, fsync the directory — the switch point: `open` uses the highest `log-`;
 * 3. delete `log-<n-1>` and `snap-<n-1>`. `open` deletes leftovers of any interrupted switch.
 */
import { assert } from '../util/assert.js';
import { concatBytes } from '../util/bytes.js';
import { corruption, isTesseraError, ioError, type TesseraError } from '../util/errors.js';
import type { Env, FileSystem } from '../env/types.js';
import { LogWriter, readLog } from '../storage/log/index.js';
import { parentDirectory } from '../storage/log/writer.js';
import {
  LOG_PREFIX,
  LogState,
  SNAPSHOT_PREFIX,
  TEMP_SUFFIX,
  decodeRecord,
  decodeSnapshotFile,
  snapshotFileRecords,
  encodeRecord,
  entriesRecords,
  logFileName,
  parseSeq,
  snapshotFileName,
  type RaftRecord,
} from './raft-log-format.js';
import type { PersistedState, Ready, Snapshot, SnapshotMeta } from './types.js';

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

type Op =
  | { readonly kind: 'append'; readonly payloads: Uint8Array[]; readonly waiters: Waiter[] }
  | {
      readonly kind: 'switch';
      readonly snapshot: Snapshot;
      readonly payloads: Uint8Array[];
      readonly waiters: Waiter[];
      /** The snapshot file, already written and fsynced under this temporary name. */
      readonly written?: string;
    };

/** Where a local compaction writes its snapshot file before the switch renames it. */
const PENDING_SNAPSHOT = `snap-pending${TEMP_SUFFIX}`;

export interface OpenedRaftStorage {
  readonly storage: RaftStorage;
  /** What the directory held: hand it to `new Raft({ storage })`. */
  readonly persisted: PersistedState;
}

export class RaftStorage {
  private readonly queue: Op[] = [];
  private working = false;
  private drained: (() => void)[] = [];
  private failure: unknown = undefined;
  private closed = false;
  private onFile: SnapshotMeta | undefined;
  /** The local compaction whose snapshot file is being written, if any (one at a time). */
  private preparing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly fs: FileSystem,
    readonly dir: string,
    private seq: number,
    private writer: LogWriter,
    private readonly state: LogState,
  ) {
    this.onFile = state.snapshotMeta;
  }

  /** The snapshot in the live file pair's `snap-<seq>`, if it has one. */
  get snapshotOnFile(): SnapshotMeta | undefined {
    return this.onFile;
  }

  /**
   * Opens (creating when missing) the Raft directory `dir` and replays its log. A torn tail
   * from a crash is cut off; any other damage is CORRUPTION naming the file.
   */
  static async open(env: Env, dir: string): Promise<OpenedRaftStorage> {
    const fs = env.fs;
    if (!(await fs.exists(dir))) {
      await fs.mkdir(dir, { recursive: true });
      await fs.syncDir(parentDirectory(dir));
    }
    const names = await fs.list(dir);
    const logs = seqsOf(names, LOG_PREFIX);
    const snaps = seqsOf(names, SNAPSHOT_PREFIX);
    if (logs.length === 0) {
      if (snaps.length > 0) throw corruption(`raft directory ${dir} has snapshots but no log`);
      const writer = await LogWriter.create(fs, join(dir, logFileName(0)));
      const storage = new RaftStorage(fs, dir, 0, writer, new LogState());
      return { storage, persisted: storage.state.toPersisted(undefined) };
    }
    const seq = logs[logs.length - 1]!;
    const { state, validLength, snapshot } = await replay(fs, dir, seq);
    await removeLeftovers(fs, dir, names, seq);
    const writer = await LogWriter.openForAppend(fs, join(dir, logFileName(seq)), validLength);
    // The snapshot goes to the caller (persisted) and is not kept here: it can be large.
    const storage = new RaftStorage(fs, dir, seq, writer, state);
    return { storage, persisted: state.toPersisted(snapshot) };
  }

  /** Index of the last entry saved (or queued to be saved). */
  get lastIndex(): number {
    return this.state.lastIndex;
  }

  /**
   * Makes the Ready's snapshot, entries and hard state durable. Resolves once they are
   * fsynced; concurrent calls are written in call order and share fsyncs. A Ready with nothing
   * to persist still waits for the saves before it.
   */
  save(rd: Ready): Promise<void> {
    const unusable = this.unusable();
    if (unusable) return Promise.reject(unusable);
    if (rd.snapshot) {
      this.state.resetTo(rd.snapshot.meta);
      this.applyAll(entriesRecords(rd.entries));
      if (rd.hardState) this.state.hardState = rd.hardState;
      return this.enqueueSwitch(rd.snapshot);
    }
    const records: RaftRecord[] = [];
    const first = rd.entries[0];
    if (first && first.index <= this.state.lastIndex) {
      records.push({ kind: 'truncate', index: first.index });
    }
    records.push(...entriesRecords(rd.entries));
    if (rd.hardState) records.push({ kind: 'hard-state', hardState: rd.hardState });
    this.applyAll(records);
    if (records.length === 0 && !this.working) return Promise.resolve();
    return this.enqueue({ kind: 'append', payloads: records.map(encodeRecord), waiters: [] });
  }

  /**
   * Local log compaction: `snapshot` (the application's state as of `meta.index`, an index
   * already saved) replaces the entries up to it, and the log switches to a fresh file.
   *
   * The snapshot file (a hundred MiB or more for a large state: most of a second to write and
   * fsync) is written beside the live log while saves go on; only the switch to the new file
   * pair takes its turn in the save queue. A crash before the switch leaves a `.tmp` file
   * that `open` deletes, and the old pair, which still holds every entry.
   */
  compact(snapshot: Snapshot): Promise<void> {
    const unusable = this.unusable();
    if (unusable) return Promise.reject(unusable);
    this.state.compactTo(snapshot.meta);
    const done = this.preparing.then(() => this.prepareAndSwitch(snapshot));
    this.preparing = done.catch(() => undefined);
    return done;
  }

  private async prepareAndSwitch(snapshot: Snapshot): Promise<void> {
    const unusable = this.unusable();
    if (unusable) throw unusable;
    const temp = join(this.dir, PENDING_SNAPSHOT);
    try {
      await this.writeSnapshotFile(snapshot, temp);
    } catch (err) {
      this.failure ??= err;
      throw err;
    }
    // Closed meanwhile (the node is stopping), or superseded by a later snapshot (installed
    // from the leader, or compacted since): the switch is not needed. `open` deletes the file.
    if (this.closed) return;
    if (this.state.base !== snapshot.meta.index) {
      await removeIfExists(this.fs, temp);
      return;
    }
    const payloads = this.state.baseRecords().map(encodeRecord);
    await this.enqueue({ kind: 'switch', snapshot, payloads, waiters: [], written: temp });
  }

  /** Waits for queued saves, then closes the log. Saves after close fail with IO_ERROR. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.preparing;
    if (this.working) await new Promise<void>((resolve) => this.drained.push(resolve));
    await this.writer.close();
  }

  private applyAll(records: readonly RaftRecord[]): void {
    for (const rec of records) {
      const why = this.state.apply(rec, false);
      assert(why === undefined, `raft storage: saving a record that does not fit: ${why}`);
    }
  }

  private enqueueSwitch(snapshot: Snapshot): Promise<void> {
    const payloads = this.state.baseRecords().map(encodeRecord);
    return this.enqueue({ kind: 'switch', snapshot, payloads, waiters: [] });
  }

  private enqueue(op: Op): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const last = this.queue[this.queue.length - 1];
      if (op.kind === 'append' && last?.kind === 'append') {
        // Group commit: join the batch that waits for the fsync in progress to finish.
        last.payloads.push(...op.payloads);
        last.waiters.push({ resolve, reject });
      } else {
        op.waiters.push({ resolve, reject });
        this.queue.push(op);
      }
      if (!this.working) {
        this.working = true;
        void this.work();
      }
    });
  }

  private async work(): Promise<void> {
    for (let op = this.queue.shift(); op !== undefined; op = this.queue.shift()) {
      try {
        if (this.failure !== undefined) throw refused(this.dir, this.failure);
        if (op.kind === 'append') await this.appendAndSync(op.payloads);
        else await this.switchTo(op.snapshot, op.payloads, op.written);
        for (const w of op.waiters) w.resolve();
      } catch (err) {
        this.failure ??= err;
        for (const w of op.waiters) w.reject(err);
      }
    }
    this.working = false;
    for (const fn of this.drained.splice(0)) fn();
  }

  private async appendAndSync(payloads: readonly Uint8Array[]): Promise<void> {
    if (payloads.length === 0) return;
    await this.writer.appendMany(payloads);
    await this.writer.sync();
  }

  /** The crash-safe switch to file pair `seq + 1` (steps in the header comment). */
  private async switchTo(
    snapshot: Snapshot,
    payloads: readonly Uint8Array[],
    written: string | undefined,
  ): Promise<void> {
    const fs = this.fs;
    const next = this.seq + 1;
    const snapPath = join(this.dir, snapshotFileName(next));
    if (written === undefined) {
      written = snapPath + TEMP_SUFFIX;
      await this.writeSnapshotFile(snapshot, written);
    }
    await fs.rename(written, snapPath);
    await fs.syncDir(this.dir);

    const logPath = join(this.dir, logFileName(next));
    const temp = await LogWriter.create(fs, logPath + TEMP_SUFFIX);
    let length: number;
    try {
      await temp.appendMany(payloads);
      await temp.sync();
      length = temp.size;
    } finally {
      await temp.close();
    }
    await fs.rename(logPath + TEMP_SUFFIX, logPath);
    await fs.syncDir(this.dir);

    const writer = await LogWriter.openForAppend(fs, logPath, length);
    const old = this.writer;
    const oldSeq = this.seq;
    this.writer = writer;
    this.seq = next;
    this.onFile = snapshot.meta;
    await old.close();
    await removeIfExists(fs, join(this.dir, logFileName(oldSeq)));
    await removeIfExists(fs, join(this.dir, snapshotFileName(oldSeq)));
    await fs.syncDir(this.dir);
  }

  /**
   * The live pair's snapshot, read back from its file (to send to a follower). A switch
   * running meanwhile may delete the file: the read then fails with CORRUPTION, and a caller
   * that sees `snapshotOnFile` changed knows why.
   */
  async readSnapshot(): Promise<Snapshot | undefined> {
    if (this.onFile === undefined) return undefined;
    return readSnapshotFile(this.fs, join(this.dir, snapshotFileName(this.seq)));
  }

  /** Writes `snapshot` as a record log at `path` and fsyncs it. */
  private async writeSnapshotFile(snapshot: Snapshot, path: string): Promise<void> {
    const file = await LogWriter.create(this.fs, path);
    try {
      // A record at a time: framing them all at once would copy the whole snapshot.
      // Each record synced as it is written: the page cache never holds more than one record
      // of it dirty, so the log's own fsyncs meanwhile (which on ext4 may have to flush other
      // files' dirty data first) wait behind at most 16 MiB (RocksDB's bytes_per_sync idea).
      for (const record of snapshotFileRecords(snapshot)) {
        await file.appendMany([record]);
        await file.sync();
      }
    } finally {
      await file.close();
    }
  }

  /** Why no more saves are accepted (closed, or an earlier write failed), if so. */
  private unusable(): TesseraError | undefined {
    if (this.closed) return ioError(`raft storage ${this.dir} is closed`, { path: this.dir });
    if (this.failure !== undefined) return refused(this.dir, this.failure);
    return undefined;
  }
}

function refused(dir: string, cause: unknown): TesseraError {
  return ioError(
    `raft storage ${dir}: an earlier write failed, so what is durable is unknown; reopen it`,
    { path: dir },
    cause,
  );
}

function join(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

function seqsOf(names: readonly string[], prefix: string): number[] {
  const out: number[] = [];
  for (const n of names) {
    const seq = parseSeq(n, prefix);
    if (seq !== undefined) out.push(seq);
  }
  return out.sort((a, b) => a - b);
}

async function replay(
  fs: FileSystem,
  dir: string,
  seq: number,
): Promise<{ state: LogState; validLength: number; snapshot: Snapshot | undefined }> {
  const path = join(dir, logFileName(seq));
  const { records, validLength } = await readLog(fs, path);
  const state = new LogState();
  records.forEach((payload, i) => {
    let rec: RaftRecord;
    try {
      rec = decodeRecord(payload);
    } catch (err) {
      if (isTesseraError(err, 'CORRUPTION')) {
        throw corruption(`${path}: record ${i}: ${err.message}`, { path, record: i });
      }
      throw err;
    }
    const why = state.apply(rec, i === 0);
    if (why !== undefined) throw corruption(`${path}: record ${i}: ${why}`, { path, record: i });
  });
  let snapshot: Snapshot | undefined;
  if (state.snapshotMeta) {
    snapshot = await readSnapshotFile(fs, join(dir, snapshotFileName(seq)));
    if (!sameMeta(snapshot.meta, state.snapshotMeta)) {
      throw corruption(`${path}: its snapshot record does not match snapshot file ${seq}`, {
        path,
      });
    }
  }
  if (state.hardState.commit > state.lastIndex) {
    throw corruption(`${path}: commit ${state.hardState.commit} beyond last ${state.lastIndex}`, {
      path,
    });
  }
  return { state, validLength, snapshot };
}

async function readSnapshotFile(fs: FileSystem, path: string): Promise<Snapshot> {
  let result;
  try {
    result = await readLog(fs, path, { strictTail: true });
  } catch (err) {
    if (isTesseraError(err, 'NOT_FOUND')) throw corruption(`snapshot ${path} is missing`, { path });
    throw err;
  }
  // The file was fsynced before it was renamed into place: anything but whole records is
  // damage, not a crash.
  if (result.records.length === 0 || result.tornTail) {
    throw corruption(`snapshot ${path} is damaged`, { path });
  }
  try {
    return decodeSnapshotFile(concatBytes(result.records));
  } catch (err) {
    if (isTesseraError(err, 'CORRUPTION')) throw corruption(`${path}: ${err.message}`, { path });
    throw err;
  }
}

function sameMeta(a: SnapshotMeta, b: SnapshotMeta): boolean {
  return (
    a.index === b.index &&
    a.term === b.term &&
    a.config.voters.length === b.config.voters.length &&
    a.config.voters.every((v, i) => v === b.config.voters[i])
  );
}

/** Deletes temps and every log or snapshot other than the live pair `seq`. */
async function removeLeftovers(
  fs: FileSystem,
  dir: string,
  names: readonly string[],
  seq: number,
): Promise<void> {
  const live = new Set([logFileName(seq), snapshotFileName(seq)]);
  let removed = false;
  for (const name of names) {
    const ours =
      name.endsWith(TEMP_SUFFIX) ||
      parseSeq(name, LOG_PREFIX) !== undefined ||
      parseSeq(name, SNAPSHOT_PREFIX) !== undefined;
    if (ours && !live.has(name)) {
      await fs.remove(join(dir, name));
      removed = true;
    }
  }
  if (removed) await fs.syncDir(dir);
}

async function removeIfExists(fs: FileSystem, path: string): Promise<void> {
  if (await fs.exists(path)) await fs.remove(path);
}
