/**
 * The hint store: durable hints for hinted handoff (Dynamo §4.6, Cassandra's hints).
 *
 * When a replica of a hashed-table row is down or does not answer, the coordinator keeps the
 * write for it here — the table name and the fully timestamped mutation — and replays it once
 * the replica is seen alive again. Byte layout and recovery rules: docs/formats/hints.md.
 *
 * Why it is built this way:
 * - Durability before counting. `add` resolves only after an fsync covered the hint (and, for a
 *   new file, after the directory entry was fsynced): a coordinator that counts a hint towards
 *   anything must never lose it in a crash. Concurrent adds share fsyncs (group commit, as the
 *   WAL does): while one write + fsync runs, later hints queue and go out with the next one, so
 *   a coordinator hinting every write for a dead replica pays one fsync per group, not per write.
 * - Idempotent replay. Every op of a hinted mutation carries its timestamp (add refuses one
 *   without), so sending a hint twice stores the same cells twice: harmless. That is what makes
 *   the rest simple — replay deletes a file only after all of it was delivered, and a crash or a
 *   failed send just means some hints are sent again.
 * - Rotation instead of rewriting. A target's hints live in numbered segment files; adds go to
 *   the newest (the active one). A replay first seals the active segment (new adds open the
 *   next number) and waits for its queued appends, then reads and deletes only the sealed
 *   segments. So hints added during a replay are neither lost nor deleted by it, and no file is
 *   ever appended to after a crash: segments found at open are all sealed, which is why a torn
 *   tail never needs truncating — nothing is written after it, and readers stop there.
 * - Damage is reported, never served. A record whose checksum fails, or whose payload does not
 *   decode, is CORRUPTION: reading stops there, the records before it are still delivered, the
 *   bytes after it are counted as lost, and after the replay the file is kept aside as
 *   `<name>.corrupt` for an operator (anti-entropy repair has to restore what it held).
 */
import type { Env, File } from '../env/index.js';
import { Mutation, type MutationOp } from '../model/index.js';
import { assert } from '../util/assert.js';
import { ByteReader, ByteWriter } from '../util/byte-io.js';
import { concatBytes, fromUtf8, toHex, utf8 } from '../util/bytes.js';
import { crc32c, maskCrc, unmaskCrc } from '../util/crc32c.js';
import {
  corruption,
  invalidArgument,
  isTesseraError,
  TesseraError,
  toTesseraError,
} from '../util/errors.js';

// ---------------------------------------------------------------------------------------------
// Constants (docs/formats/hints.md)

/** First byte of every payload; readers refuse other versions (CORRUPTION). */
export const HINT_FORMAT_VERSION = 1;
/** Record header: u32 length, u32 payload CRC, u32 header CRC. */
export const HINT_RECORD_HEADER_BYTES = 12;
/** Largest payload of one record; a stored length above it is CORRUPTION. */
export const HINT_PAYLOAD_BYTES_MAX = 64 * 1024 * 1024;
/** UTF-8 bytes of a target name: its hex stays well inside a 255-byte file name. */
export const HINT_TARGET_BYTES_MAX = 100;
/**
 * Default bound on a target's hint bytes; past it hints are dropped, so one long-dead replica
 * cannot fill the disk (Cassandra 4.1's max_hints_size_per_host, unbounded there by default).
 */
export const HINT_BYTES_PER_TARGET_MAX_DEFAULT = 128 * 1024 * 1024;
/** Default size at which the active segment is sealed: bounds what one replay step reads. */
export const HINT_SEGMENT_BYTES_MAX_DEFAULT = 8 * 1024 * 1024;
/** Bound on the framed bytes one group commit writes. */
export const HINT_GROUP_BYTES_MAX = 4 * 1024 * 1024;
/** Sends one replay keeps in flight. */
export const HINT_REPLAY_SENDS_IN_FLIGHT_MAX = 8;
/** Cassandra's max_hint_window: 3 hours, for callers choosing `windowMicros`. */
export const HINT_WINDOW_MICROS_DEFAULT = 3 * 60 * 60 * 1_000_000;

/** Op tags in a payload. Frozen: a tag never changes meaning and is never reused; 0 is invalid. */
const OpTag = { put: 1, deleteVersion: 2, deleteColumn: 3, deleteFamily: 4, deleteRow: 5 } as const;

const SEGMENT_SUFFIX = '.hints';
const CORRUPT_SUFFIX = '.corrupt';

// ---------------------------------------------------------------------------------------------
// Payload codec

/** One hint: what to send, and when the coordinator stored it (for the expiry window). */
export interface Hint {
  readonly table: string;
  readonly mutation: Mutation;
  readonly createdMicros: number;
}

function checkMicros(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw invalidArgument(`${what} must be an integer in [0, 2^53): got ${v}`, { [what]: v });
  }
}

/** The hint's payload bytes. INVALID_ARGUMENT for an op without a timestamp, or an empty hint. */
export function encodeHint(hint: Hint): Uint8Array {
  const { table, mutation, createdMicros } = hint;
  if (typeof table !== 'string' || table === '') throw invalidArgument('hint needs a table name');
  if (mutation.ops.length === 0) throw invalidArgument('hint mutation has no ops');
  checkMicros(createdMicros, 'createdMicros');
  const w = new ByteWriter(64 + mutation.row.length);
  w.u8(HINT_FORMAT_VERSION).u64(createdMicros).utf8(table).lengthPrefixed(mutation.row);
  w.varint(mutation.ops.length);
  for (const op of mutation.ops) encodeOp(w, op);
  return w.finish();
}

function encodeOp(w: ByteWriter, op: MutationOp): void {
  // Replay must write exactly the cells the replica missed: a timestamp assigned at replay time
  // would be a different (later) write, and sending it twice would not be idempotent.
  if (op.timestamp === undefined) {
    throw invalidArgument(`a hinted ${op.type} needs a timestamp (stampMutation first)`);
  }
  checkMicros(op.timestamp, 'timestamp');
  w.u8(OpTag[op.type]);
  if (op.type !== 'deleteRow') w.utf8(op.family);
  if (op.type === 'put' || op.type === 'deleteVersion' || op.type === 'deleteColumn') {
    w.lengthPrefixed(op.qualifier);
  }
  if (op.type === 'put') w.lengthPrefixed(op.value);
  w.u64(op.timestamp);
}

/** Decodes a payload; anything but exactly what encodeHint writes is CORRUPTION. */
export function decodeHint(payload: Uint8Array): Hint {
  const r = new ByteReader(payload);
  const version = r.u8();
  if (version !== HINT_FORMAT_VERSION) throw corruption(`unknown hint version ${version}`);
  const createdMicros = r.u64();
  const table = r.utf8();
  const mutation = new Mutation(r.lengthPrefixed().slice());
  const opCount = r.varint();
  // Every op takes at least 9 bytes (tag and timestamp): a count beyond that is damage.
  if (table === '' || opCount === 0 || opCount > r.remaining / 9) {
    throw corruption(`hint has a bad table or op count ${opCount}`);
  }
  for (let i = 0; i < opCount; i++) mutation.ops.push(decodeOp(r));
  if (!r.atEnd()) throw corruption(`hint has ${r.remaining} bytes after its last op`);
  return { table, mutation, createdMicros };
}

function decodeOp(r: ByteReader): MutationOp {
  const tag = r.u8();
  if (tag < OpTag.put || tag > OpTag.deleteRow) throw corruption(`unknown hint op tag ${tag}`);
  const family = tag === OpTag.deleteRow ? '' : r.utf8();
  const qualifier = tag === OpTag.deleteFamily || tag === OpTag.deleteRow ? undefined : bytesOf(r);
  const value = tag === OpTag.put ? bytesOf(r) : undefined;
  switch (tag) {
    case OpTag.put:
      return { type: 'put', family, qualifier: qualifier!, value: value!, timestamp: r.u64() };
    case OpTag.deleteVersion:
      return { type: 'deleteVersion', family, qualifier: qualifier!, timestamp: r.u64() };
    case OpTag.deleteColumn:
      return { type: 'deleteColumn', family, qualifier: qualifier!, timestamp: r.u64() };
    case OpTag.deleteFamily:
      return { type: 'deleteFamily', family, timestamp: r.u64() };
    default:
      return { type: 'deleteRow', timestamp: r.u64() };
  }
}

/** A copy, so a kept mutation does not pin the whole file it was read from. */
function bytesOf(r: ByteReader): Uint8Array {
  return r.lengthPrefixed().slice();
}

// ---------------------------------------------------------------------------------------------
// Record framing and reading a file back

/** The framed record of a payload: length, payload CRC, header CRC, payload. */
export function frameHintRecord(payload: Uint8Array): Uint8Array {
  assert(payload.length > 0 && payload.length <= HINT_PAYLOAD_BYTES_MAX, 'hint payload size');
  const w = new ByteWriter(HINT_RECORD_HEADER_BYTES + payload.length);
  w.u32(payload.length).u32(maskCrc(crc32c(payload)));
  w.u32(maskCrc(crc32c(w.peek())));
  w.bytes(payload);
  return w.take();
}

/** What a hint file holds, as far as it can be trusted. */
export interface HintFileScan {
  /** The hints before the first bad record, in file order. */
  readonly hints: Hint[];
  /** Bytes of those records from offset 0. */
  readonly validBytes: number;
  /** 'torn': a crash cut the last append short; 'corrupt': damage, reading stopped there. */
  readonly end: 'clean' | 'torn' | 'corrupt';
  /** Bytes from the bad record to the end of the file (0 when clean). */
  readonly lostBytes: number;
  /** For 'corrupt': why. */
  readonly reason?: string;
}

/**
 * Reads a whole hint file. Pure and total: it never throws, it says where trust ends. The
 * rules (docs/formats/hints.md, "Reading a file back") tell a torn tail — a crash keeps a
 * prefix of unsynced appends and may cut the last one — from damage, which is anything else.
 */
export function scanHintFile(bytes: Uint8Array): HintFileScan {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hints: Hint[] = [];
  const stop = (offset: number, end: 'torn' | 'corrupt', reason?: string): HintFileScan => ({
    hints,
    validBytes: offset,
    end,
    lostBytes: bytes.length - offset,
    ...(reason === undefined ? {} : { reason: `${reason} at offset ${offset}` }),
  });
  let offset = 0;
  while (offset < bytes.length) {
    const header = HINT_RECORD_HEADER_BYTES;
    if (bytes.length - offset < header) return stop(offset, 'torn');
    const headerCrc = crc32c(bytes.subarray(offset, offset + 8));
    if (headerCrc !== unmaskCrc(view.getUint32(offset + 8, true))) {
      // A header cut short by a zero-filled tail ends in zeros, with only zeros after it.
      if (zeroFrom(bytes, offset + header - 1)) return stop(offset, 'torn');
      return stop(offset, 'corrupt', 'header checksum mismatch');
    }
    const length = view.getUint32(offset, true);
    if (length === 0 || length > HINT_PAYLOAD_BYTES_MAX) {
      return stop(offset, 'corrupt', `bad payload length ${length}`);
    }
    const end = offset + header + length;
    if (end > bytes.length) return stop(offset, 'torn');
    const payload = bytes.subarray(offset + header, end);
    if (crc32c(payload) !== unmaskCrc(view.getUint32(offset + 4, true))) {
      // Nothing but zeros after it: the last record written, whose payload did not all land.
      if (zeroFrom(bytes, end)) return stop(offset, 'torn');
      return stop(offset, 'corrupt', 'payload checksum mismatch');
    }
    try {
      hints.push(decodeHint(payload));
    } catch (err) {
      return stop(offset, 'corrupt', `undecodable payload (${toTesseraError(err).message})`);
    }
    offset = end;
  }
  return { hints, validBytes: offset, end: 'clean', lostBytes: 0 };
}

function zeroFrom(bytes: Uint8Array, offset: number): boolean {
  for (let i = offset; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// File names: <hex of the target's UTF-8>.<segment number>.hints

function checkTarget(target: string): void {
  if (typeof target !== 'string' || target === '') throw invalidArgument('hint target is empty');
  const n = utf8(target).length;
  if (n > HINT_TARGET_BYTES_MAX) {
    throw invalidArgument(`hint target '${target}' exceeds ${HINT_TARGET_BYTES_MAX} bytes`);
  }
}

function segmentName(targetHex: string, seq: number, suffix = SEGMENT_SUFFIX): string {
  return `${targetHex}.${seq}${suffix}`;
}

interface ParsedName {
  readonly target: string;
  readonly seq: number;
  readonly corrupt: boolean;
}

/** The target and number a file name stands for; undefined for files that are not ours. */
export function parseHintFileName(name: string): ParsedName | undefined {
  const m = /^((?:[0-9a-f]{2})+)\.(0|[1-9][0-9]{0,14})(\.hints|\.corrupt)$/.exec(name);
  if (m === null) return undefined;
  const hex = m[1]!;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  const target = fromUtf8(bytes);
  // Bytes that are not UTF-8 decode lossily and do not round-trip: not a name we wrote.
  if (toHex(utf8(target)) !== hex) return undefined;
  return { target, seq: Number(m[2]), corrupt: m[3] === CORRUPT_SUFFIX };
}

// ---------------------------------------------------------------------------------------------
// One segment file being appended to, with group commit

interface Segment {
  readonly seq: number;
  /** Acknowledged (or, for segments found at open, readable) hints and their framed bytes. */
  hints: number;
  bytes: number;
  /** Damage already counted in the target's stats, so a replay does not count it again. */
  corruptCounted: boolean;
}

interface Waiter {
  readonly record: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Appends records to one segment file: each group of queued records is one file append and one
 * fsync, and a record's promise resolves after the fsync that covered it. A failed write or
 * fsync fails its group and everything queued, and the writer takes nothing more (after a
 * failed fsync the kernel may have dropped the pages; a retry could lie), so the next add opens
 * a new segment. Once sealed it takes nothing new and finishes what is queued.
 */
class SegmentWriter {
  private readonly queue: Waiter[] = [];
  private queuedBytes = 0;
  private running = false;
  private failed = false;
  private sealed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly file: File,
    readonly segment: Segment,
  ) {}

  /** Bytes written or queued: what decides when to seal. */
  get size(): number {
    return this.segment.bytes + this.queuedBytes;
  }

  /** Queues a record; undefined when the writer takes no more (sealed or failed). */
  tryAppend(record: Uint8Array): Promise<void> | undefined {
    if (this.sealed || this.failed) return undefined;
    const done = new Promise<void>((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
    });
    this.queuedBytes += record.length;
    if (!this.running) {
      this.running = true;
      void this.flushLoop();
    }
    return done;
  }

  /** Takes nothing new, waits for what is queued, and closes the file. Never rejects. */
  async seal(): Promise<void> {
    this.sealed = true;
    if (this.running) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.file.close().catch(() => undefined);
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0 && !this.failed) await this.flushGroup(this.takeGroup());
    // Set in the same synchronous step as the loop's last check: no append can slip between.
    this.running = false;
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** The queued records up to HINT_GROUP_BYTES_MAX (at least one, however large). */
  private takeGroup(): Waiter[] {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || bytes < HINT_GROUP_BYTES_MAX)) {
      bytes += this.queue[n++]!.record.length;
    }
    this.queuedBytes -= bytes;
    return this.queue.splice(0, n);
  }

  private async flushGroup(group: Waiter[]): Promise<void> {
    const out = concatBytes(group.map((w) => w.record));
    const bytes = out.length;
    try {
      await this.file.append(out);
      await this.file.sync();
    } catch (err) {
      this.failed = true;
      this.queuedBytes = 0;
      for (const w of [...group, ...this.queue.splice(0)]) w.reject(err);
      return;
    }
    this.segment.hints += group.length;
    this.segment.bytes += bytes;
    for (const w of group) w.resolve();
  }
}

// ---------------------------------------------------------------------------------------------
// The store

export interface HintStoreOptions {
  /** Bytes of hints one target may have on disk; an add past it is dropped (default 128 MiB). */
  readonly maxBytesPerTarget?: number;
  /** Size at which a target's active segment is sealed and a new one begun (default 8 MiB). */
  readonly segmentBytesMax?: number;
}

export interface HintStats {
  readonly target: string;
  /** Hints on disk (acknowledged, or readable at open). */
  readonly hints: number;
  /** Their framed bytes. */
  readonly bytes: number;
  /** Hints refused since open because the target was over maxBytesPerTarget. */
  readonly dropped: number;
  /** Damaged files found since open (reading stops at the first bad record of a file). */
  readonly corrupt: number;
  /** Bytes from each damaged record to the end of its file: hints that cannot be delivered. */
  readonly corruptBytes: number;
}

export interface ReplayResult {
  readonly delivered: number;
  /** Hints older than the window, deleted without being sent. */
  readonly expired: number;
  /** Hints the target still has on disk afterwards (those added while the replay ran). */
  readonly remaining: number;
}

export type HintSend = (table: string, mutation: Mutation) => Promise<void>;

interface ActiveSegment {
  readonly seq: number;
  readonly writer: Promise<SegmentWriter>;
}

/** Rounds an add may take to find a segment that takes its record (see HintStore.append). */
const APPEND_ROUNDS_MAX = 8;

/** What the store keeps per target. */
interface TargetHints {
  readonly target: string;
  readonly hex: string;
  /** Every segment file on disk (sealed or active), by number. */
  readonly segments: Map<number, Segment>;
  /** The segment adds go to; undefined until the next add opens one. */
  active: ActiveSegment | undefined;
  /** Seals in progress: a replay waits for them before reading. */
  readonly sealing: Set<Promise<void>>;
  nextSeq: number;
  /** Framed bytes of adds that passed the size check but are not acknowledged yet. */
  pendingBytes: number;
  dropped: number;
  corrupt: number;
  corruptBytes: number;
  replaying: Promise<ReplayResult> | undefined;
}

function parentOf(dir: string): string {
  const cut = dir.replace(/\/+$/, '').lastIndexOf('/');
  return cut <= 0 ? '/' : dir.slice(0, cut);
}

function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}

function checkPositive(v: number | undefined, what: string): void {
  if (v !== undefined && !(Number.isSafeInteger(v) && v > 0)) {
    throw invalidArgument(`${what} must be a positive integer: got ${v}`);
  }
}

export class HintStore {
  private readonly byTarget = new Map<string, TargetHints>();
  private closed = false;

  private constructor(
    private readonly env: Env,
    readonly dir: string,
    private readonly maxBytesPerTarget: number,
    private readonly segmentBytesMax: number,
  ) {}

  /**
   * Opens (creating if needed) the hint directory `dir` and reads every hint file in it, so
   * that stats() and hasHints() describe what is on disk. Files found here are never appended
   * to again. Damaged files are counted (stats `corrupt`), not refused.
   */
  static async open(env: Env, dir: string, options: HintStoreOptions = {}): Promise<HintStore> {
    checkPositive(options.maxBytesPerTarget, 'maxBytesPerTarget');
    checkPositive(options.segmentBytesMax, 'segmentBytesMax');
    await env.fs.mkdir(dir, { recursive: true });
    // Every level's entry must be durable, not only the last: mkdir may have made several, and
    // a crash that loses any of them loses every hint below it.
    for (let p = dir; p !== '/'; p = parentOf(p)) await env.fs.syncDir(parentOf(p));
    const store = new HintStore(
      env,
      dir,
      options.maxBytesPerTarget ?? HINT_BYTES_PER_TARGET_MAX_DEFAULT,
      options.segmentBytesMax ?? HINT_SEGMENT_BYTES_MAX_DEFAULT,
    );
    for (const name of await env.fs.list(dir)) await store.recoverFile(name);
    return store;
  }

  private async recoverFile(name: string): Promise<void> {
    const parsed = parseHintFileName(name);
    if (parsed === undefined) return;
    const t = this.targetOf(parsed.target);
    t.nextSeq = Math.max(t.nextSeq, parsed.seq + 1);
    if (parsed.corrupt) return; // Kept aside for an operator; its numbers are never reused.
    const scan = scanHintFile(await this.env.fs.readFile(joinPath(this.dir, name)));
    const segment: Segment = {
      seq: parsed.seq,
      hints: scan.hints.length,
      bytes: scan.validBytes,
      corruptCounted: false,
    };
    t.segments.set(parsed.seq, segment);
    this.countCorruption(t, segment, scan);
  }

  private targetOf(target: string): TargetHints {
    let t = this.byTarget.get(target);
    if (t === undefined) {
      t = {
        target,
        hex: toHex(utf8(target)),
        segments: new Map(),
        active: undefined,
        sealing: new Set(),
        nextSeq: 1,
        pendingBytes: 0,
        dropped: 0,
        corrupt: 0,
        corruptBytes: 0,
        replaying: undefined,
      };
      this.byTarget.set(target, t);
    }
    return t;
  }

  private countCorruption(t: TargetHints, segment: Segment, scan: HintFileScan): void {
    if (scan.end !== 'corrupt' || segment.corruptCounted) return;
    segment.corruptCounted = true;
    t.corrupt++;
    t.corruptBytes += scan.lostBytes;
  }

  // --- Adding ---------------------------------------------------------------------------------

  /**
   * Stores a hint for `target` durably: resolves true once it is fsynced, false when the target
   * is over maxBytesPerTarget (the hint is dropped and counted). Every op must carry its
   * timestamp (INVALID_ARGUMENT otherwise). A failed write or fsync rejects (IO_ERROR): the
   * hint is not stored, though a replay may still find and send it.
   */
  async add(
    target: string,
    table: string,
    mutation: Mutation,
    createdMicros: number,
  ): Promise<boolean> {
    this.checkOpen();
    checkTarget(target);
    const record = frameHintRecord(encodeHint({ table, mutation, createdMicros }));
    const t = this.targetOf(target);
    if (this.bytesOf(t) + t.pendingBytes + record.length > this.maxBytesPerTarget) {
      t.dropped++;
      return false;
    }
    t.pendingBytes += record.length;
    try {
      await this.append(t, record);
      return true;
    } finally {
      t.pendingBytes -= record.length;
    }
  }

  /**
   * Queues the record on the active segment. The writer itself decides whether it still takes
   * records: one sealed by a replay after this add began waiting for it still takes the record
   * (the replay waits for its queue), which keeps hints in the order of the add calls. A full,
   * failed or already closed writer takes nothing; the next round finds or opens a newer
   * segment, so a few rounds always suffice.
   */
  private async append(t: TargetHints, record: Uint8Array): Promise<void> {
    for (let round = 0; round < APPEND_ROUNDS_MAX; round++) {
      this.checkOpen(); // close() sealed every writer: no new segment after it.
      const active = t.active ?? this.startSegment(t);
      const writer = await active.writer;
      if (writer.size < this.segmentBytesMax) {
        const done = writer.tryAppend(record);
        if (done !== undefined) return done;
      }
      // Full or failed: later adds go to the next segment.
      if (t.active === active) this.seal(t);
    }
    throw new TesseraError('INTERNAL', `no hint segment of ${t.target} took the record`);
  }

  /** Makes a new segment (file + directory fsync) the target's active one. */
  private startSegment(t: TargetHints): ActiveSegment {
    const seq = t.nextSeq++;
    const active: ActiveSegment = { seq, writer: this.openSegment(t, seq) };
    t.active = active;
    // A segment that could not be opened is forgotten, so the next add tries a new one.
    void active.writer.catch(() => {
      if (t.active === active) t.active = undefined;
    });
    return active;
  }

  private async openSegment(t: TargetHints, seq: number): Promise<SegmentWriter> {
    const path = joinPath(this.dir, segmentName(t.hex, seq));
    const file = await this.env.fs.open(path, { create: true, exclusive: true });
    const segment: Segment = { seq, hints: 0, bytes: 0, corruptCounted: false };
    t.segments.set(seq, segment);
    try {
      // The file's entry must be durable before any hint in it is acknowledged.
      await this.env.fs.syncDir(this.dir);
    } catch (err) {
      await file.close().catch(() => undefined);
      throw err;
    }
    return new SegmentWriter(file, segment);
  }

  /** Ends the active segment: later adds open the next one. */
  private seal(t: TargetHints): void {
    const active = t.active;
    if (active === undefined) return;
    t.active = undefined;
    const sealed = active.writer.then(
      (w) => w.seal(),
      () => undefined,
    );
    t.sealing.add(sealed);
    void sealed.then(() => t.sealing.delete(sealed));
  }

  /** Framed bytes of the target's acknowledged (or recovered) hints. */
  private bytesOf(t: TargetHints): number {
    let bytes = 0;
    for (const s of t.segments.values()) bytes += s.bytes;
    return bytes;
  }

  private hintsOf(t: TargetHints): number {
    let hints = 0;
    for (const s of t.segments.values()) hints += s.hints;
    return hints;
  }

  // --- Replaying ------------------------------------------------------------------------------

  /**
   * Sends `target`'s hints in order (up to HINT_REPLAY_SENDS_IN_FLIGHT_MAX at a time), skipping
   * those with createdMicros + windowMicros < nowMicros, and deletes each segment once all of it
   * was delivered or expired. Hints added meanwhile stay for the next replay (`remaining`).
   *
   * When a send fails the replay stops, keeps the segment it was in (hints of it already sent
   * will be sent again next time: idempotent), and rejects with the send's error unchanged.
   * While a replay of the target runs, another call returns the running replay's promise (its
   * window and send, not the new call's).
   */
  replay(
    target: string,
    nowMicros: number,
    windowMicros: number,
    send: HintSend,
  ): Promise<ReplayResult> {
    try {
      this.checkOpen();
      checkTarget(target);
      checkMicros(nowMicros, 'nowMicros');
      checkMicros(windowMicros, 'windowMicros');
    } catch (err) {
      return Promise.reject(err);
    }
    const t = this.byTarget.get(target);
    if (t === undefined) return Promise.resolve({ delivered: 0, expired: 0, remaining: 0 });
    if (t.replaying !== undefined) return t.replaying;
    const expiredBefore = nowMicros - windowMicros;
    const running = this.runReplay(t, expiredBefore, send).finally(() => {
      t.replaying = undefined;
    });
    t.replaying = running;
    return running;
  }

  private async runReplay(
    t: TargetHints,
    expiredBefore: number,
    send: HintSend,
  ): Promise<ReplayResult> {
    this.seal(t);
    // Segments numbered from here on are opened by adds made during this replay: the next
    // replay's. Every lower one is sealed now; wait until their queued appends are on disk.
    const cutoff = t.nextSeq;
    await Promise.all(t.sealing);
    const seqs = [...t.segments.keys()].filter((seq) => seq < cutoff).sort((a, b) => a - b);
    const totals = { delivered: 0, expired: 0 };
    let failure: { readonly error: unknown } | undefined;
    for (const seq of seqs) {
      try {
        await this.replaySegment(t, t.segments.get(seq)!, expiredBefore, send, totals);
      } catch (error) {
        failure = { error };
        break;
      }
    }
    // Deletions not yet durable may come back after a crash: their hints are sent again.
    if (seqs.length > 0) await this.env.fs.syncDir(this.dir);
    if (failure !== undefined) throw failure.error;
    return { ...totals, remaining: this.hintsOf(t) };
  }

  private async replaySegment(
    t: TargetHints,
    segment: Segment,
    expiredBefore: number,
    send: HintSend,
    totals: { delivered: number; expired: number },
  ): Promise<void> {
    const path = joinPath(this.dir, segmentName(t.hex, segment.seq));
    const bytes = await this.readSegment(path);
    if (bytes === undefined) {
      t.segments.delete(segment.seq); // Removed behind the store's back: nothing to send.
      return;
    }
    const scan = scanHintFile(bytes);
    this.countCorruption(t, segment, scan);
    const live = scan.hints.filter((h) => h.createdMicros >= expiredBefore);
    totals.delivered += await deliverAll(live, send);
    totals.expired += scan.hints.length - live.length;
    if (scan.end === 'corrupt') {
      await this.env.fs.rename(
        path,
        joinPath(this.dir, segmentName(t.hex, segment.seq, CORRUPT_SUFFIX)),
      );
    } else {
      await this.env.fs.remove(path);
    }
    t.segments.delete(segment.seq);
  }

  private async readSegment(path: string): Promise<Uint8Array | undefined> {
    try {
      return await this.env.fs.readFile(path);
    } catch (err) {
      if (isTesseraError(err, 'NOT_FOUND')) return undefined;
      throw err;
    }
  }

  // --- Reading the state ----------------------------------------------------------------------

  /** Targets with hint files on disk, sorted. */
  targets(): string[] {
    return [...this.byTarget.values()]
      .filter((t) => t.segments.size > 0)
      .map((t) => t.target)
      .sort();
  }

  /**
   * True when the target has hint files to replay — possibly only empty or damaged ones, which
   * a replay cleans up.
   */
  hasHints(target: string): boolean {
    return (this.byTarget.get(target)?.segments.size ?? 0) > 0;
  }

  /** One entry per target with hints, drops or damage, sorted by target. */
  stats(): HintStats[] {
    return [...this.byTarget.values()]
      .map((t) => ({
        target: t.target,
        hints: this.hintsOf(t),
        bytes: this.bytesOf(t),
        dropped: t.dropped,
        corrupt: t.corrupt,
        corruptBytes: t.corruptBytes,
      }))
      .filter((s) => s.hints > 0 || s.bytes > 0 || s.dropped > 0 || s.corrupt > 0)
      .sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
  }

  /**
   * Refuses new adds and replays (SHUTTING_DOWN), finishes the adds already queued and closes
   * the files. Replays already running are not waited for: their sends are the caller's.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.byTarget.values()) this.seal(t);
    await Promise.all([...this.byTarget.values()].flatMap((t) => [...t.sealing]));
  }

  private checkOpen(): void {
    if (this.closed) throw new TesseraError('SHUTTING_DOWN', `hint store ${this.dir} is closed`);
  }
}

/**
 * Sends `hints` with up to HINT_REPLAY_SENDS_IN_FLIGHT_MAX in flight, started in order. On the
 * first failure no more are started; once those in flight settle, it throws that failure.
 * Returns how many were delivered.
 */
async function deliverAll(hints: readonly Hint[], send: HintSend): Promise<number> {
  let next = 0;
  let delivered = 0;
  let failure: { readonly error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < hints.length) {
      const hint = hints[next++]!;
      try {
        await send(hint.table, hint.mutation);
        delivered++;
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const workers = Math.min(HINT_REPLAY_SENDS_IN_FLIGHT_MAX, hints.length);
  await Promise.all(Array.from({ length: workers }, worker));
  if (failure !== undefined) throw failure.error;
  return delivered;
}
