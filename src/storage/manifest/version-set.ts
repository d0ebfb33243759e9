/**
 * VersionSet: the store's current version, its counters, and the manifest that makes both
 * survive crashes. Format and recovery rules: docs/formats/manifest.md.
 *
 * On disk a store directory holds `CURRENT`, naming the live manifest, and that manifest
 * `MANIFEST-nnnnnn`: a record log (src/storage/log) whose first record is a snapshot edit
 * (every file, every counter) and whose later records are incremental edits.
 *
 * - `logAndApply(edit)` appends the edit, fsyncs, and only then installs the new version: a
 *   version readers can see is always one a crash would recover. Callers are served one at a
 *   time in call order.
 * - Once the manifest passes `manifestBytesMax` the next edit goes to a new manifest as a full
 *   snapshot; CURRENT is switched by writing a temp file, fsyncing it, renaming it over CURRENT
 *   and fsyncing the directory; then the old manifest is deleted.
 * - `recover` reads CURRENT and the manifest it names, replays it (a torn last record is the
 *   edit that was in flight at a crash and is dropped; any other damage is CORRUPTION naming the
 *   file), and then always starts a fresh manifest holding one snapshot of what it recovered.
 *   A recovered store therefore never appends after a torn tail, and every open rewrites the
 *   manifest to its smallest form.
 * - A failed write or fsync leaves the manifest's durable end unknown, so the set then refuses
 *   all further edits and deletions (fail-stop): the store must be reopened, and recovery
 *   decides what is true.
 */
import type { Env, FileSystem } from '../../env/types.js';
import { assert } from '../../util/assert.js';
import { copyBytes, fromUtf8, utf8 } from '../../util/bytes.js';
import {
  TesseraError,
  corruption,
  isTesseraError,
  toTesseraError,
  type ErrorDetails,
} from '../../util/errors.js';
import { LogWriter, readLog, type LogReadResult } from '../log/index.js';
import {
  currentFileName,
  fileNameOf,
  joinPath,
  levelCount,
  manifestFileName,
  parseFileName,
  tableFileName,
  tempFileName,
  type ParsedFileName,
} from './file-meta.js';
import {
  decodeVersionEdit,
  encodeVersionEdit,
  versionEditProblem,
  type CompactPointer,
  type VersionEdit,
} from './version-edit.js';
import { Version, VersionBuilder } from './version.js';

/**
 * The format name written in every snapshot edit: internal keys as in src/storage/key.ts,
 * compared as plain bytes. A manifest naming another format is not opened.
 */
export const manifestFormatName = 'tessera.internal-key.bytewise.v1';

/** The manifest is rolled over to a new file once it reaches this size. */
export const manifestBytesMaxDefault = 4 * 1024 * 1024;

export interface VersionSetOptions {
  /** Start a new manifest once the current one reaches this many bytes (default 4 MiB). */
  readonly manifestBytesMax?: number;
  /**
   * recover(): refuse (CORRUPTION) a store whose manifest lists a table file that is not in the
   * directory (default true). Tests that log edits without writing tables turn it off.
   */
  readonly verifyTables?: boolean;
}

/** What a manifest says, as read by readManifestState. */
export interface ManifestState {
  /** The number of the manifest CURRENT names. */
  readonly manifestNumber: number;
  readonly manifestPath: string;
  readonly version: Version;
  readonly logNumber: number;
  /**
   * The next file number: the largest of the recorded value and one past every number the
   * manifest mentions (its own, the log number, every table).
   */
  readonly nextFileNumber: number;
  readonly lastSequence: number;
  readonly compactPointers: ReadonlyMap<number, Uint8Array>;
  /** Edits replayed, the snapshot included. */
  readonly edits: number;
  /** Bytes of whole records in the manifest. */
  readonly validLength: number;
  /** True when a torn last record (an edit in flight at a crash) was dropped. */
  readonly tornTail: boolean;
}

/** The manifest number CURRENT names. NOT_FOUND when there is no CURRENT (no store). */
export async function readCurrent(fs: FileSystem, dir: string): Promise<number> {
  const path = joinPath(dir, currentFileName);
  const bytes = await fs.readFile(path);
  const text = fromUtf8(bytes);
  const m = /^(MANIFEST-\d+)\n$/.exec(text);
  const parsed = m === null ? undefined : parseFileName(m[1]!);
  if (parsed === undefined || parsed.kind !== 'manifest') {
    throw corruption(`${path} does not name a manifest: ${JSON.stringify(text.slice(0, 64))}`, {
      path,
    });
  }
  return parsed.number;
}

/**
 * Reads CURRENT and replays the manifest it names, writing nothing: what `recover` starts
 * from, and what a tool inspecting a store may use. CORRUPTION (naming the file) for a bad
 * CURRENT, a missing manifest, a manifest that is damaged anywhere but its last record, an
 * edit that does not decode or does not fit the version, or a foreign format name.
 */
export async function readManifestState(fs: FileSystem, dir: string): Promise<ManifestState> {
  const manifestNumber = await readCurrent(fs, dir);
  const manifestPath = joinPath(dir, manifestFileName(manifestNumber));
  let log: LogReadResult;
  try {
    // Strict: a synced edit may already have had effects (files deleted); see LogReadOptions.
    log = await readLog(fs, manifestPath, { strictTail: true });
  } catch (err) {
    if (isTesseraError(err, 'NOT_FOUND')) {
      throw corruption(`${currentFileName} names ${manifestPath}, which does not exist`, {
        path: manifestPath,
      });
    }
    throw err;
  }
  if (log.records.length === 0) {
    throw corruption(`manifest ${manifestPath} holds no complete record`, { path: manifestPath });
  }

  let record = 0;
  const fail = (message: string, details: ErrorDetails = {}): TesseraError =>
    corruption(`manifest ${manifestPath}, edit ${record}: ${message}`, {
      ...details,
      path: manifestPath,
      record,
    });
  const builder = new VersionBuilder(Version.empty(), (message) => fail(message));
  let logNumber: number | undefined;
  let nextFileNumber: number | undefined;
  let lastSequence: number | undefined;
  const compactPointers = new Map<number, Uint8Array>();

  for (; record < log.records.length; record++) {
    let edit: VersionEdit;
    try {
      edit = decodeVersionEdit(log.records[record]!);
    } catch (err) {
      if (!isTesseraError(err, 'CORRUPTION')) throw err;
      throw fail(err.message.replace(/^manifest record: /, ''), err.details);
    }
    if (record === 0) {
      if (edit.formatName === undefined) throw fail('the first edit is not a snapshot');
      for (const field of ['logNumber', 'nextFileNumber', 'lastSequence'] as const) {
        if (edit[field] === undefined) throw fail(`the snapshot edit has no ${field}`);
      }
    }
    if (edit.formatName !== undefined && edit.formatName !== manifestFormatName) {
      throw fail(`format '${edit.formatName}' is not '${manifestFormatName}'`);
    }
    builder.apply(edit);
    logNumber = edit.logNumber ?? logNumber;
    nextFileNumber = edit.nextFileNumber ?? nextFileNumber;
    if (edit.lastSequence !== undefined) {
      lastSequence = Math.max(lastSequence ?? 0, edit.lastSequence);
    }
    for (const p of edit.compactPointers ?? []) compactPointers.set(p.level, p.key);
  }
  record = log.records.length - 1;
  const version = builder.build();

  let next = Math.max(nextFileNumber!, manifestNumber + 1, logNumber! + 1);
  for (const n of version.allFileNumbers()) next = Math.max(next, n + 1);
  return {
    manifestNumber,
    manifestPath,
    version,
    logNumber: logNumber!,
    nextFileNumber: next,
    lastSequence: lastSequence!,
    compactPointers,
    edits: log.records.length,
    validLength: log.validLength,
    tornTail: log.tornTail,
  };
}

interface SetState {
  readonly version: Version;
  readonly logNumber: number;
  readonly nextFileNumber: number;
  readonly lastSequence: number;
  readonly compactPointers: ReadonlyMap<number, Uint8Array>;
}

/** The snapshot edit a new manifest starts with. */
function snapshotEdit(s: SetState): VersionEdit {
  const compactPointers: CompactPointer[] = [];
  for (let level = 0; level < levelCount; level++) {
    const key = s.compactPointers.get(level);
    if (key !== undefined) compactPointers.push({ level, key });
  }
  return {
    formatName: manifestFormatName,
    logNumber: s.logNumber,
    nextFileNumber: s.nextFileNumber,
    lastSequence: s.lastSequence,
    compactPointers,
    deletedFiles: [],
    addedFiles: s.version.levels.flat(),
  };
}

/**
 * Points CURRENT at manifest `n` atomically and durably: temp file, fsync, rename, fsync the
 * directory. A crash at any point leaves CURRENT naming either the old or the new manifest.
 */
async function setCurrent(fs: FileSystem, dir: string, n: number): Promise<void> {
  const temp = joinPath(dir, tempFileName(n));
  await fs.writeFile(temp, utf8(`${manifestFileName(n)}\n`), { sync: true });
  await fs.rename(temp, joinPath(dir, currentFileName));
  await fs.syncDir(dir);
}

/** The directory holding `path` ('/' at the top). */
function parentOf(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  return slash <= 0 ? '/' : trimmed.slice(0, slash);
}

/**
 * Creates `dir` if missing, and makes its entry durable all the way up: the directory may have
 * been created just before (by us or by the caller) without its parent being synced.
 */
async function ensureDirectory(fs: FileSystem, dir: string): Promise<void> {
  if (!(await fs.exists(dir))) await fs.mkdir(dir, { recursive: true });
  for (let d = dir; d !== '/';) {
    const parent = parentOf(d);
    await fs.syncDir(parent);
    d = parent;
  }
}

/** The store files in `dir`, parsed. */
async function storeFiles(fs: FileSystem, dir: string): Promise<ParsedFileName[]> {
  const out: ParsedFileName[] = [];
  for (const name of await fs.list(dir)) {
    const parsed = parseFileName(name);
    if (parsed !== undefined) out.push(parsed);
  }
  return out;
}

/** One past the largest number among `files` (at least `floor`). */
function nextAfter(files: readonly ParsedFileName[], floor: number): number {
  let next = floor;
  for (const f of files) if (f.kind !== 'current') next = Math.max(next, f.number + 1);
  return next;
}

export class VersionSet {
  /**
   * Numbers of files being written that no edit names yet — flush and compaction outputs, a new
   * WAL. deleteObsoleteFiles never deletes a file whose number is here. The engine adds a number
   * before it creates the file and removes it only after the logAndApply that adds the file has
   * resolved (or after giving the file up).
   */
  readonly pendingOutputs = new Set<number>();
  private currentVersion: Version;
  private nextFile: number;
  private lastSeq: number;
  private logNum: number;
  private pointers: ReadonlyMap<number, Uint8Array>;
  private manifestNum = 0;
  private manifestBaseBytes = 0;
  private writer: LogWriter | undefined;
  private readonly live = new Set<Version>();
  private readonly manifestBytesMax: number;
  /** The tail of the one-at-a-time queue of manifest work. */
  private queue: Promise<unknown> = Promise.resolve();
  private failure: TesseraError | undefined;
  private closed = false;

  private constructor(
    private readonly env: Env,
    readonly dir: string,
    state: SetState,
    options: VersionSetOptions,
  ) {
    const max = options.manifestBytesMax ?? manifestBytesMaxDefault;
    assert(Number.isSafeInteger(max) && max > 0, `bad manifestBytesMax ${max}`);
    this.manifestBytesMax = max;
    this.nextFile = state.nextFileNumber;
    this.lastSeq = state.lastSequence;
    this.logNum = state.logNumber;
    this.pointers = state.compactPointers;
    this.currentVersion = Version.empty();
    this.currentVersion.ref();
    this.install(state.version);
  }

  /** True when `dir` holds a store (a CURRENT file). */
  static async exists(env: Env, dir: string): Promise<boolean> {
    return env.fs.exists(joinPath(dir, currentFileName));
  }

  /**
   * Creates a new, empty store in `dir` (created if missing): MANIFEST-000001 with a snapshot
   * edit, then CURRENT. ALREADY_EXISTS when `dir` already has a CURRENT.
   */
  static async create(env: Env, dir: string, options: VersionSetOptions = {}): Promise<VersionSet> {
    const fs = env.fs;
    if (await fs.exists(joinPath(dir, currentFileName))) {
      throw new TesseraError('ALREADY_EXISTS', `a store already exists in ${dir}`, { path: dir });
    }
    await ensureDirectory(fs, dir);
    // Leftovers of a create that crashed before CURRENT was durable keep their numbers.
    const next = nextAfter(await storeFiles(fs, dir), 1);
    const vs = new VersionSet(
      env,
      dir,
      {
        version: Version.empty(),
        logNumber: 0,
        nextFileNumber: next,
        lastSequence: 0,
        compactPointers: new Map(),
      },
      options,
    );
    await vs.startManifest();
    return vs;
  }

  /**
   * Opens the store in `dir`: replays the manifest CURRENT names, then starts a new manifest
   * holding a snapshot of the result and deletes the old one. The next file number is moved
   * past every numbered file in the directory, so no number is ever handed out twice — not
   * even one of a file written after the last edit (a new WAL, an unfinished compaction
   * output). NOT_FOUND without a CURRENT; CORRUPTION as readManifestState, and (unless
   * `verifyTables` is false) when a table the manifest lists is missing from the directory.
   */
  static async recover(
    env: Env,
    dir: string,
    options: VersionSetOptions = {},
  ): Promise<VersionSet> {
    const state = await readManifestState(env.fs, dir);
    const files = await storeFiles(env.fs, dir);
    if (options.verifyTables !== false) {
      const tables = new Set(files.filter((f) => f.kind === 'table').map((f) => f.number));
      const missing = [...state.version.allFileNumbers()].filter((n) => !tables.has(n));
      if (missing.length > 0) {
        const names = missing.slice(0, 5).map(tableFileName).join(', ');
        throw corruption(
          `manifest ${state.manifestPath} lists ${missing.length} table file(s) missing from ` +
            `${dir}: ${names}${missing.length > 5 ? ', …' : ''}`,
          { path: state.manifestPath, missing: missing.length },
        );
      }
    }
    const next = nextAfter(files, state.nextFileNumber);
    const vs = new VersionSet(env, dir, { ...state, nextFileNumber: next }, options);
    vs.manifestNum = state.manifestNumber;
    await vs.startManifest();
    return vs;
  }

  // --- State -----------------------------------------------------------------------------

  /** The newest installed version. Take a reference (`ref()`) to keep using it across awaits. */
  get current(): Version {
    return this.currentVersion;
  }

  /** The number of the manifest in use. */
  get manifestNumber(): number {
    return this.manifestNum;
  }

  /** Bytes in the manifest in use. */
  get manifestBytes(): number {
    return this.writer?.size ?? 0;
  }

  /** The next number newFileNumber() will hand out. */
  get nextFileNumber(): number {
    return this.nextFile;
  }

  /** WAL files numbered below this hold nothing the tables lack (0: no WAL recorded yet). */
  get logNumber(): number {
    return this.logNum;
  }

  /** The highest sequence number used; recorded in every edit. */
  get lastSequence(): number {
    return this.lastSeq;
  }

  set lastSequence(seq: number) {
    assert(Number.isSafeInteger(seq) && seq >= this.lastSeq, `lastSequence may not go back`);
    this.lastSeq = seq;
  }

  /** Where the next compaction of each level starts (level → internal key). */
  get compactPointers(): ReadonlyMap<number, Uint8Array> {
    return this.pointers;
  }

  /** A new file number (for a table, WAL or manifest); persisted with the next edit. */
  newFileNumber(): number {
    assert(Number.isSafeInteger(this.nextFile + 1), 'file numbers exhausted');
    return this.nextFile++;
  }

  /** Makes sure `n` is never handed out (e.g. for a WAL found on disk). */
  markFileNumberUsed(n: number): void {
    assert(Number.isSafeInteger(n) && n >= 0, `bad file number ${n}`);
    if (this.nextFile <= n) this.nextFile = n + 1;
  }

  /** Table numbers of every version still referenced (current, snapshots, iterators). */
  liveFileNumbers(): Set<number> {
    const out = new Set<number>();
    for (const v of this.live) for (const n of v.allFileNumbers()) out.add(n);
    return out;
  }

  /** Versions still referenced, the current one included. */
  get liveVersionCount(): number {
    return this.live.size;
  }

  // --- Changes ---------------------------------------------------------------------------

  /**
   * Records `edit` durably, then installs and returns the new version. The set fills in
   * logNumber (when the edit has none), nextFileNumber and lastSequence; an edit's own
   * lastSequence or nextFileNumber only ever moves the set's counter forward. Calls run one at a
   * time in call order. A broken invariant (deleting a file that is not there, overlapping
   * files in a level ≥ 1, a file number never handed out) is ASSERTION_FAILED and changes
   * nothing. An I/O failure rejects this call and makes the set refuse all later work.
   */
  logAndApply(edit: VersionEdit): Promise<Version> {
    return this.serialized(() => this.applyNow(edit));
  }

  /**
   * Deletes the store files no longer needed, fsyncs the directory, and returns the numbers of
   * the files deleted (file numbers are unique across kinds, so a table cache may evict by
   * them). Never deleted: a file whose number is in pendingOutputs, CURRENT, and names the store
   * did not write. Tables go when no live version lists them; WALs when numbered below
   * logNumber; manifests other than the one in use; CURRENT's temp files. Runs in the manifest
   * queue, so it sees no half-finished edit or rollover.
   */
  deleteObsoleteFiles(): Promise<number[]> {
    return this.serialized(() => this.deleteNow());
  }

  /** Waits for queued work, then closes the manifest. Later calls are assertion failures. */
  close(): Promise<void> {
    return this.serialized(async () => {
      this.closed = true;
      await this.writer?.close();
    });
  }

  // --- Internals -------------------------------------------------------------------------

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private checkUsable(): void {
    assert(!this.closed, 'VersionSet used after close()');
    if (this.failure !== undefined) {
      throw new TesseraError(
        this.failure.code,
        `manifest of ${this.dir} is unusable after an earlier failure (${this.failure.message}); ` +
          'reopen the store',
        { path: this.dir },
        { cause: this.failure },
      );
    }
  }

  private install(version: Version): void {
    version.setReleaseHook((v) => this.live.delete(v));
    version.ref();
    this.live.add(version);
    const old = this.currentVersion;
    this.currentVersion = version;
    old.unref();
  }

  private state(): SetState {
    return {
      version: this.currentVersion,
      logNumber: this.logNum,
      nextFileNumber: this.nextFile,
      lastSequence: this.lastSeq,
      compactPointers: this.pointers,
    };
  }

  /**
   * Writes a new manifest holding a snapshot of `state` (allocating its number first, so the
   * snapshot's nextFileNumber covers it), points CURRENT at it, and retires the old one.
   */
  private async startManifest(makeState: () => SetState = () => this.state()): Promise<void> {
    const fs = this.env.fs;
    const number = this.newFileNumber();
    const path = joinPath(this.dir, manifestFileName(number));
    const snapshot = encodeVersionEdit(snapshotEdit(makeState()));
    // create() makes the new file's directory entry durable before CURRENT can name it.
    const writer = await LogWriter.create(fs, path);
    try {
      await writer.append(snapshot);
      await writer.sync();
      await setCurrent(fs, this.dir, number);
    } catch (err) {
      await writer.close().catch(() => undefined);
      throw err;
    }
    const oldWriter = this.writer;
    const oldNumber = this.manifestNum;
    this.writer = writer;
    this.manifestNum = number;
    this.manifestBaseBytes = writer.size;
    // CURRENT no longer names the old manifest: losing it, or failing to delete it, is harmless
    // (deleteObsoleteFiles retries).
    await oldWriter?.close().catch(() => undefined);
    if (oldNumber > 0) {
      try {
        await fs.remove(joinPath(this.dir, manifestFileName(oldNumber)));
        await fs.syncDir(this.dir);
      } catch {
        // Left for deleteObsoleteFiles.
      }
    }
  }

  /**
   * The size at which the manifest rolls over: manifestBytesMax, but at least twice the
   * snapshot it started with, so a store whose snapshot alone is near the limit does not
   * rewrite it on every edit.
   */
  private rolloverBytes(): number {
    return Math.max(this.manifestBytesMax, 2 * this.manifestBaseBytes);
  }

  private async applyNow(edit: VersionEdit): Promise<Version> {
    this.checkUsable();
    const problem = versionEditProblem(edit);
    assert(problem === undefined, `bad version edit: ${problem}`);
    assert(
      edit.formatName === undefined || edit.formatName === manifestFormatName,
      `edit names format '${edit.formatName}'`,
    );
    if (edit.nextFileNumber !== undefined && edit.nextFileNumber > 0) {
      this.markFileNumberUsed(edit.nextFileNumber - 1);
    }
    const logNumber = edit.logNumber ?? this.logNum;
    const lastSequence = Math.max(this.lastSeq, edit.lastSequence ?? 0);
    assert(
      logNumber >= this.logNum && logNumber < this.nextFile,
      `edit sets logNumber ${logNumber}; current ${this.logNum}, next file ${this.nextFile}`,
    );
    for (const f of edit.addedFiles) {
      assert(f.fileNumber < this.nextFile, `edit adds file ${f.fileNumber}, never handed out`);
    }
    const builder = new VersionBuilder(this.currentVersion);
    builder.apply(edit);
    const version = builder.build();
    const pointers = new Map(this.pointers);
    for (const p of edit.compactPointers ?? []) pointers.set(p.level, copyBytes(p.key));

    try {
      if (this.writer!.size >= this.rolloverBytes()) {
        await this.startManifest(() => ({
          version,
          logNumber,
          nextFileNumber: this.nextFile,
          lastSequence,
          compactPointers: pointers,
        }));
      } else {
        const record = encodeVersionEdit({
          logNumber,
          nextFileNumber: this.nextFile,
          lastSequence,
          ...(edit.compactPointers !== undefined && { compactPointers: edit.compactPointers }),
          deletedFiles: edit.deletedFiles,
          addedFiles: edit.addedFiles,
        });
        await this.writer!.append(record);
        await this.writer!.sync();
      }
    } catch (err) {
      this.failure = toTesseraError(err);
      throw err;
    }
    this.logNum = logNumber;
    // The setter may have moved lastSequence on while the edit was being written.
    this.lastSeq = Math.max(this.lastSeq, lastSequence);
    this.pointers = pointers;
    this.install(version);
    return version;
  }

  private isObsolete(p: ParsedFileName, live: ReadonlySet<number>): boolean {
    switch (p.kind) {
      case 'table':
        return !live.has(p.number);
      case 'wal':
        return p.number < this.logNum;
      case 'manifest':
        return p.number !== this.manifestNum;
      case 'temp':
        return true; // no rollover is in progress: this runs in the manifest queue
      case 'current':
        return false;
    }
  }

  private async deleteNow(): Promise<number[]> {
    this.checkUsable();
    const fs = this.env.fs;
    const names = await fs.list(this.dir);
    const live = this.liveFileNumbers();
    const doomed: ParsedFileName[] = [];
    for (const name of names) {
      const p = parseFileName(name);
      if (p === undefined || this.pendingOutputs.has(p.number)) continue;
      if (this.isObsolete(p, live)) doomed.push(p);
    }
    const removed: number[] = [];
    let firstError: unknown;
    for (const p of doomed) {
      try {
        await fs.remove(joinPath(this.dir, fileNameOf(p)));
        removed.push(p.number);
      } catch (err) {
        if (!isTesseraError(err, 'NOT_FOUND')) firstError ??= err;
      }
    }
    if (removed.length > 0) await fs.syncDir(this.dir);
    if (firstError !== undefined) throw firstError;
    return removed;
  }
}
