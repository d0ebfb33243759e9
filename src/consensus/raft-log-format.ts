/**
 * The Raft log's on-disk records and file names; the format is documented in
 * docs/formats/raft-log.md, which these constants follow.
 *
 * Each record is one payload of the checksummed record log (src/storage/log): a frozen tag
 * byte, then the fields as unsigned varints (byte-io.ts). Replaying a log file's records in
 * order rebuilds the replica's PersistedState (see `LogState`).
 */
import { assert } from '../util/assert.js';
import { ByteReader, ByteWriter } from '../util/byte-io.js';
import { corruption } from '../util/errors.js';
import {
  entriesSizeEstimate,
  readEntry,
  readSnapshot,
  readSnapshotMeta,
  writeEntry,
  writeSnapshot,
  writeSnapshotMeta,
} from './codec.js';
import type { Entry, HardState, PersistedState, Snapshot, SnapshotMeta } from './types.js';

/** Frozen record tags (docs/formats/raft-log.md). Never renumber; retired tags stay reserved. */
export const RaftRecordTag = {
  /** The snapshot this file starts from; only ever the first record. Data is in snap-<seq>. */
  snapshot: 1,
  hardState: 2,
  /** Consecutive entries, the first exactly one after the log's last index. */
  entries: 3,
  /** Drop every entry with index >= `index`. */
  truncate: 4,
} as const;

export type RaftRecord =
  | { readonly kind: 'snapshot'; readonly meta: SnapshotMeta }
  | { readonly kind: 'hard-state'; readonly hardState: HardState }
  | { readonly kind: 'entries'; readonly entries: readonly Entry[] }
  | { readonly kind: 'truncate'; readonly index: number };

/** Entries per ENTRIES record are cut at this many payload bytes (one big entry still fits). */
export const ENTRIES_RECORD_BYTES_MAX = 1024 * 1024;

/** File names: `log-<seq>` and `snap-<seq>`, seq as 16 lowercase hex digits; temps end `.tmp`. */
export const LOG_PREFIX = 'log-';
export const SNAPSHOT_PREFIX = 'snap-';
export const TEMP_SUFFIX = '.tmp';
const seqDigits = 16;

export function logFileName(seq: number): string {
  return LOG_PREFIX + seq.toString(16).padStart(seqDigits, '0');
}

export function snapshotFileName(seq: number): string {
  return SNAPSHOT_PREFIX + seq.toString(16).padStart(seqDigits, '0');
}

/** The sequence number in a `log-`/`snap-` name with `prefix`, or undefined for other names. */
export function parseSeq(name: string, prefix: string): number | undefined {
  if (!name.startsWith(prefix)) return undefined;
  const hex = name.slice(prefix.length);
  if (!/^[0-9a-f]{16}$/.test(hex)) return undefined;
  const seq = Number.parseInt(hex, 16);
  return Number.isSafeInteger(seq) ? seq : undefined;
}

export function encodeRecord(rec: RaftRecord): Uint8Array {
  // An entries record is sized up front: grown by doubling, a batch of 1 KiB entries would be
  // reallocated and copied a dozen times.
  const w = new ByteWriter(rec.kind === 'entries' ? 16 + entriesSizeEstimate(rec.entries) : 64);
  switch (rec.kind) {
    case 'snapshot':
      w.u8(RaftRecordTag.snapshot);
      writeSnapshotMeta(w, rec.meta);
      break;
    case 'hard-state':
      w.u8(RaftRecordTag.hardState);
      w.varint(rec.hardState.term).varint(rec.hardState.vote).varint(rec.hardState.commit);
      break;
    case 'entries':
      w.u8(RaftRecordTag.entries).varint(rec.entries.length);
      for (const e of rec.entries) writeEntry(w, e);
      break;
    case 'truncate':
      w.u8(RaftRecordTag.truncate).varint(rec.index);
      break;
    default: {
      const never: never = rec;
      throw new Error(`unhandled record ${JSON.stringify(never)}`);
    }
  }
  return w.take();
}

export function decodeRecord(payload: Uint8Array): RaftRecord {
  const r = new ByteReader(payload);
  const tag = r.u8();
  let rec: RaftRecord;
  switch (tag) {
    case RaftRecordTag.snapshot:
      rec = { kind: 'snapshot', meta: readSnapshotMeta(r) };
      break;
    case RaftRecordTag.hardState: {
      const term = r.varint();
      const vote = r.varint();
      rec = { kind: 'hard-state', hardState: { term, vote, commit: r.varint() } };
      break;
    }
    case RaftRecordTag.entries: {
      const count = r.varint();
      if (count > r.remaining / 4) throw corruption(`bad entry count ${count}`);
      const entries: Entry[] = [];
      for (let i = 0; i < count; i++) entries.push(readEntry(r));
      rec = { kind: 'entries', entries };
      break;
    }
    case RaftRecordTag.truncate:
      rec = { kind: 'truncate', index: r.varint() };
      break;
    default:
      throw corruption(`unknown raft log record tag ${tag}`);
  }
  if (!r.atEnd()) throw corruption(`${r.remaining} trailing bytes in a ${rec.kind} record`);
  return rec;
}

/** ENTRIES records for `entries`, cut at ENTRIES_RECORD_BYTES_MAX of entry data each. */
export function entriesRecords(entries: readonly Entry[]): RaftRecord[] {
  const out: RaftRecord[] = [];
  let batch: Entry[] = [];
  let bytes = 0;
  for (const e of entries) {
    if (batch.length > 0 && bytes + e.data.length > ENTRIES_RECORD_BYTES_MAX) {
      out.push({ kind: 'entries', entries: batch });
      batch = [];
      bytes = 0;
    }
    batch.push(e);
    bytes += e.data.length;
  }
  if (batch.length > 0) out.push({ kind: 'entries', entries: batch });
  return out;
}

/** The snapshot file's single record payload. */
/**
 * A snapshot file's payload is cut into records of at most this many bytes: one record would
 * cap snapshots at the record framing's 64 MiB, and a million lock nodes take more.
 */
export const SNAPSHOT_RECORD_BYTES_MAX = 16 * 1024 * 1024;

export function encodeSnapshotFile(s: Snapshot): Uint8Array {
  const w = new ByteWriter(s.data.length + 64 + 10 * s.meta.config.voters.length);
  writeSnapshot(w, s);
  return w.take();
}

/**
 * The record payloads of `s`'s snapshot file, whose concatenation is encodeSnapshotFile(s):
 * the metadata and data length first, then the data in pieces of at most `recordBytes`, as
 * views (a snapshot can be hundreds of MiB: no copy of it is made here).
 */
export function snapshotFileRecords(
  s: Snapshot,
  recordBytes = SNAPSHOT_RECORD_BYTES_MAX,
): Uint8Array[] {
  const head = new ByteWriter(32 + 10 * s.meta.config.voters.length);
  writeSnapshotMeta(head, s.meta);
  head.varint(s.data.length);
  const records = [head.take()];
  for (let at = 0; at < s.data.length; at += recordBytes) {
    records.push(s.data.subarray(at, at + recordBytes));
  }
  return records;
}

export function decodeSnapshotFile(payload: Uint8Array): Snapshot {
  const r = new ByteReader(payload);
  const s = readSnapshot(r);
  if (!r.atEnd()) throw corruption(`${r.remaining} trailing bytes in a snapshot file`);
  return s;
}

/**
 * What a log file's records add up to. `apply` is used both when replaying a file (where a
 * record that does not fit is CORRUPTION, thrown by the caller from the returned message) and
 * when saving (where it is an assertion: we never write such a record).
 */
export class LogState {
  snapshotMeta: SnapshotMeta | undefined;
  hardState: HardState = { term: 0, vote: 0, commit: 0 };
  /** entries[k] has index base + 1 + k. */
  entries: Entry[] = [];

  get base(): number {
    return this.snapshotMeta?.index ?? 0;
  }

  get lastIndex(): number {
    return this.base + this.entries.length;
  }

  termAt(index: number): number | undefined {
    if (index === this.base) return this.snapshotMeta?.term ?? 0;
    return this.entries[index - this.base - 1]?.term;
  }

  /** Applies one record; returns why it does not fit, or undefined when it was applied. */
  apply(rec: RaftRecord, isFirst: boolean): string | undefined {
    switch (rec.kind) {
      case 'snapshot':
        if (!isFirst) return 'snapshot record after the first record';
        this.snapshotMeta = rec.meta;
        this.entries = [];
        return undefined;
      case 'hard-state':
        this.hardState = rec.hardState;
        return undefined;
      case 'truncate':
        if (!(rec.index > this.base && rec.index <= this.lastIndex + 1)) {
          return `truncate at ${rec.index} outside (${this.base}, ${this.lastIndex + 1}]`;
        }
        this.entries.length = rec.index - this.base - 1;
        return undefined;
      case 'entries': {
        let expected = this.lastIndex + 1;
        for (const e of rec.entries) {
          if (e.index !== expected) return `entry ${e.index} where ${expected} was expected`;
          expected++;
        }
        this.entries.push(...rec.entries);
        return undefined;
      }
      default: {
        const never: never = rec;
        throw new Error(`unhandled record ${JSON.stringify(never)}`);
      }
    }
  }

  /** Records that rebuild this state in a fresh file (snapshot, entries, then hard state). */
  baseRecords(): RaftRecord[] {
    const out: RaftRecord[] = [];
    if (this.snapshotMeta) out.push({ kind: 'snapshot', meta: this.snapshotMeta });
    out.push(...entriesRecords(this.entries));
    out.push({ kind: 'hard-state', hardState: this.hardState });
    return out;
  }

  /** Drops entries up to `meta.index`, which must be in the log with `meta.term`. */
  compactTo(meta: SnapshotMeta): void {
    assert(meta.index > this.base, `compacting to ${meta.index}, not after ${this.base}`);
    assert(meta.index <= this.lastIndex, `compacting to ${meta.index} past ${this.lastIndex}`);
    assert(this.termAt(meta.index) === meta.term, `snapshot term mismatch at ${meta.index}`);
    this.entries = this.entries.slice(meta.index - this.base);
    this.snapshotMeta = meta;
  }

  /** Replaces the whole log with `meta` (an installed snapshot). */
  resetTo(meta: SnapshotMeta): void {
    assert(meta.index > this.base, `installing snapshot ${meta.index}, not after ${this.base}`);
    this.snapshotMeta = meta;
    this.entries = [];
  }

  toPersisted(snapshot: Snapshot | undefined): PersistedState {
    return snapshot
      ? { hardState: this.hardState, entries: [...this.entries], snapshot }
      : { hardState: this.hardState, entries: [...this.entries] };
  }
}
