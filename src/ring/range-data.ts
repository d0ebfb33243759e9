/**
 * The replica side of anti-entropy and streaming: what one node's hashed-table replica holds
 * in a set of token ranges, as Merkle-tree leaves (to compare with the other replicas) or as
 * raw rows (to stream to them), and the applying of streamed rows.
 *
 * A hashed table's rows sit in its one tablet in key order, not token order, so every request
 * scans the tablet once and keeps the rows whose token (murmur3 of the row key) falls in the
 * ranges asked for. Leaves are built by XOR of row digests (merkle.ts), which does not care in
 * which order rows come.
 *
 * What a row's digest covers: the cells a read of every version would see at one instant
 * (`nowMicros`, the same for every replica of a repair), not the stored entries. Two replicas
 * holding the same data can store different entries — one compacted away versions past the
 * family's limit or puts a tombstone masks, the other not yet — and digesting entries would
 * call them different for ever, streaming the same rows at every repair. Digesting what reads
 * see makes replicas equal exactly when no read can tell them apart. Rows that read as empty
 * (only tombstones) are left out, so a replica holding a tombstone for a row another never
 * had agrees with it. What is streamed, though, is the raw entries, tombstones included: a
 * delete one replica holds must reach a replica that still holds what it deleted.
 */
import {
  familyOptionsLookup,
  Mutation,
  type Tablet,
  type TableSchema,
  type WriteResult,
} from '../model/index.js';
import { Kind, resolveRawEntries, type RawEntry } from '../storage/index.js';
import { ByteWriter } from '../util/byte-io.js';
import { fromUtf8 } from '../util/bytes.js';
import { invalidArgument } from '../util/errors.js';
import { digest16, LeafHashes } from './merkle.js';
import { murmur3Token } from './murmur3.js';

/**
 * Rows a scan handles between two yields to the event loop. A scan of rows the store holds in
 * memory never waits for I/O, and `for await` over it only queues microtasks: without yields a
 * repair of a 40 MiB table held a node's event loop for ~2 s, and foreground p99 went from
 * 10 ms to 2 s (`tessera bench repair`). 500 rows take a few milliseconds.
 */
export const SCAN_ROWS_PER_YIELD = 500;

/**
 * Lets other work run now and then: resolves after the current task (Env's defer), and after
 * the rate limiter let `bytes` through — the bytes scanned since the last pause, so a node's
 * `--stream-rate` bounds the reading for trees and digests as well as the streaming.
 */
export type Pause = (bytes: number) => Promise<void>;

/** A row and its stored entries: the unit streamed between replicas. */
export interface RawRow {
  readonly row: Uint8Array;
  readonly entries: readonly RawEntry[];
}

/** Inclusive token intervals [lo, hi], sorted and disjoint, with a group index each. */
export interface TokenIntervals {
  readonly lo: readonly bigint[];
  readonly hi: readonly bigint[];
  /** For trees: the group (replica set) each interval belongs to. */
  readonly group: readonly number[];
}

/** Builds sorted intervals; INVALID_ARGUMENT when they overlap or are reversed. */
export function tokenIntervals(
  list: readonly { readonly lo: bigint; readonly hi: bigint; readonly group?: number }[],
): TokenIntervals {
  const sorted = [...list].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const lo: bigint[] = [];
  const hi: bigint[] = [];
  const group: number[] = [];
  for (const r of sorted) {
    if (r.hi < r.lo) throw invalidArgument(`token interval [${r.lo}, ${r.hi}] is reversed`);
    if (hi.length > 0 && r.lo <= hi[hi.length - 1]!) {
      throw invalidArgument(`token intervals overlap at ${r.lo}`);
    }
    lo.push(r.lo);
    hi.push(r.hi);
    group.push(r.group ?? 0);
  }
  return { lo, hi, group };
}

/** The index of the interval holding `token`, or -1 (binary search: once per stored row). */
export function intervalOf(iv: TokenIntervals, token: bigint): number {
  let a = 0;
  let b = iv.lo.length - 1;
  while (a <= b) {
    const m = (a + b) >>> 1;
    if (token < iv.lo[m]!) b = m - 1;
    else if (token > iv.hi[m]!) a = m + 1;
    else return m;
  }
  return -1;
}

/** Approximate bytes of a raw row: what repair reports as compared or streamed. */
export function rawRowBytes(row: Uint8Array, entries: readonly RawEntry[]): number {
  let n = row.length;
  for (const e of entries) n += e.family.length + e.qualifier.length + e.value.length + 9;
  return n;
}

/**
 * The digest of what a read of every version of the row sees at `nowMicros`; undefined when
 * it sees nothing (see the header).
 */
export function rowDigest(
  schema: TableSchema,
  row: Uint8Array,
  entries: readonly RawEntry[],
  nowMicros: number,
): Uint8Array | undefined {
  const cells = resolveRawEntries(row, entries, { now: nowMicros }, familyOptionsLookup(schema));
  if (cells.length === 0) return undefined;
  // One writer reused for every row (a writer per row was a quarter of a repair's CPU).
  const w = digestWriter;
  w.reset();
  w.lengthPrefixed(row);
  for (const c of cells) {
    w.lengthPrefixed(c.family);
    w.lengthPrefixed(c.qualifier);
    w.varint(c.timestamp);
    w.lengthPrefixed(c.value);
  }
  return digest16(w.peek());
}

/** rowDigest's scratch writer: it is used synchronously, so one per process serves. */
const digestWriter = new ByteWriter();

/**
 * The replica's rows whose token is in the intervals, in key order, from after `after`, each
 * with its token and the index of its interval. Every `SCAN_ROWS_PER_YIELD` rows scanned it
 * pauses (yield, and `charge` true: the limiter takes the bytes scanned since — what repair's
 * reading counts; streamed pages are charged by whoever sends them).
 */
async function* rowsIn(
  tablet: Tablet,
  intervals: TokenIntervals,
  after: Uint8Array | undefined,
  pause: Pause | undefined,
  charge: boolean,
): AsyncGenerator<{ row: Uint8Array; entries: RawEntry[]; token: bigint; at: number }> {
  let seen = 0;
  let scanned = 0;
  const from = after === undefined ? undefined : successor(after);
  for await (const batch of tablet.rawScanBatches(undefined, from)) {
    for (const r of batch) {
      if (charge) scanned += rawRowBytes(r.row, r.entries);
      if (pause !== undefined && ++seen % SCAN_ROWS_PER_YIELD === 0) {
        await pause(scanned);
        scanned = 0;
      }
      const token = murmur3Token(r.row);
      const at = intervalOf(intervals, token);
      if (at >= 0) yield { row: r.row, entries: r.entries, token, at };
    }
  }
}

export interface LeavesResult {
  /** Per group, its leaves (LeafHashes.bytes). */
  readonly leaves: Uint8Array[];
  /** Rows and bytes read in the ranges (compared data). */
  readonly rows: number;
  readonly bytes: number;
}

/** The Merkle leaves of the replica's rows in each group's intervals, in one scan. */
export async function buildLeaves(
  tablet: Tablet,
  schema: TableSchema,
  intervals: TokenIntervals,
  groups: number,
  depth: number,
  nowMicros: number,
  pause?: Pause,
): Promise<LeavesResult> {
  const hashes = Array.from({ length: groups }, () => new LeafHashes(depth));
  let rows = 0;
  let bytes = 0;
  for await (const r of rowsIn(tablet, intervals, undefined, pause, true)) {
    rows++;
    bytes += rawRowBytes(r.row, r.entries);
    const d = rowDigest(schema, r.row, r.entries, nowMicros);
    if (d !== undefined) hashes[intervals.group[r.at]!]!.add(r.token, d);
  }
  return { leaves: hashes.map((h) => h.bytes), rows, bytes };
}

export interface RowsPage {
  readonly rows: RawRow[];
  /** The last row given, to ask for the next page after it; undefined at the end. */
  readonly next: Uint8Array | undefined;
  readonly bytes: number;
}

/** The smallest row key after `row`. */
function successor(row: Uint8Array): Uint8Array {
  const out = new Uint8Array(row.length + 1);
  out.set(row);
  return out;
}

/**
 * The replica's raw rows in the intervals, in key order, from after `after`, until about
 * `maxBytes` (at least one row).
 */
export async function readRowsPage(
  tablet: Tablet,
  intervals: TokenIntervals,
  after: Uint8Array | undefined,
  maxBytes: number,
  pause?: Pause,
): Promise<RowsPage> {
  const rows: RawRow[] = [];
  let bytes = 0;
  // Returning from the loop closes the generator, and with it the store's scan.
  for await (const r of rowsIn(tablet, intervals, after, pause, false)) {
    rows.push({ row: r.row, entries: r.entries });
    bytes += rawRowBytes(r.row, r.entries);
    if (bytes >= maxBytes) return { rows, next: r.row, bytes };
  }
  return { rows, next: undefined, bytes };
}

/** Stored entries per mutation when a streamed row is applied (a row may be large). */
const applyEntriesMax = 1000;

/** The mutations that write the entries as they are: same timestamps, same kinds. */
export function mutationsOf(row: Uint8Array, entries: readonly RawEntry[]): Mutation[] {
  const out: Mutation[] = [];
  let m = new Mutation(row);
  for (const e of entries) {
    if (m.ops.length >= applyEntriesMax) {
      out.push(m);
      m = new Mutation(row);
    }
    const family = fromUtf8(e.family);
    switch (e.kind) {
      case Kind.Put:
        m.put(family, e.qualifier, e.value, e.timestamp);
        break;
      case Kind.DeleteVersion:
        m.deleteVersion(family, e.qualifier, e.timestamp);
        break;
      case Kind.DeleteColumn:
        m.deleteColumn(family, e.qualifier, e.timestamp);
        break;
      case Kind.DeleteFamily:
        m.deleteFamily(family, e.timestamp);
        break;
      case Kind.DeleteRow:
        m.deleteRow(e.timestamp);
        break;
    }
  }
  if (m.ops.length > 0) out.push(m);
  return out;
}

/** Applies streamed rows to the replica: each row's entries merge into what it holds. */
export async function applyRows(tablet: Tablet, rows: readonly RawRow[]): Promise<void> {
  const writes: Promise<WriteResult>[] = [];
  for (const r of rows)
    for (const m of mutationsOf(r.row, r.entries)) writes.push(tablet.mutate(m));
  await Promise.all(writes);
}

/**
 * A row's digest for row-by-row comparison: rowDigest when a read sees something, else (the
 * row holds only tombstones) a digest of its tombstones, so a delete one replica holds still
 * shows as a difference from a replica holding what it deleted.
 */
export function rowListDigest(
  schema: TableSchema,
  row: Uint8Array,
  entries: readonly RawEntry[],
  nowMicros: number,
): Uint8Array {
  const seen = rowDigest(schema, row, entries, nowMicros);
  if (seen !== undefined) return seen;
  const w = digestWriter;
  w.reset();
  w.u8(0xff); // a marker: tombstones are encoded apart from what rowDigest encodes
  w.lengthPrefixed(row);
  for (const e of entries) {
    w.u8(e.kind);
    w.lengthPrefixed(e.family);
    w.lengthPrefixed(e.qualifier);
    w.varint(e.timestamp);
  }
  return digest16(w.peek());
}

export interface DigestsPage {
  readonly rows: { readonly row: Uint8Array; readonly digest: Uint8Array }[];
  /** The last row given, to ask for the next page after it; undefined at the end. */
  readonly next: Uint8Array | undefined;
}

/**
 * The replica's rows in the intervals with their rowListDigest, in key order, from after
 * `after`, at most `maxRows`: what repair compares row by row under differing leaves.
 */
export async function readDigestsPage(
  tablet: Tablet,
  intervals: TokenIntervals,
  after: Uint8Array | undefined,
  maxRows: number,
  nowMicros: number,
  pause?: Pause,
): Promise<DigestsPage> {
  const rows: { row: Uint8Array; digest: Uint8Array }[] = [];
  for await (const r of rowsIn(tablet, intervals, after, pause, true)) {
    rows.push({ row: r.row, digest: rowListDigest(tablet.schema, r.row, r.entries, nowMicros) });
    if (rows.length >= maxRows) return { rows, next: r.row };
  }
  return { rows, next: undefined };
}

/** The raw rows of `keys` that the replica holds (rows it holds nothing of are left out). */
export async function readRowsByKey(
  tablet: Tablet,
  keys: readonly Uint8Array[],
): Promise<RawRow[]> {
  const out: RawRow[] = [];
  for (const row of keys) {
    const entries = await tablet.rawRow(row);
    if (entries.length > 0) out.push({ row, entries });
  }
  return out;
}
