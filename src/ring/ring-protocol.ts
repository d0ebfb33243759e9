/**
 * The `ring.*` RPC methods between ring nodes (and `ring.describe` for tools and clients),
 * documented in docs/formats/ring-rpc.md. Requests come from the network: every handler
 * checks its body before use and answers INVALID_ARGUMENT for a malformed one.
 *
 *   ring.gossip    {from, message}          -> {}            one gossip message (gossip.ts)
 *   ring.write     {table, mutation}        -> {}            apply a coordinator's stamped mutation
 *   ring.read      {table, row}             -> {entries}     the row's raw entries
 *   ring.schema    {}                       -> {entries}     hashed-table schemas (schema-sync.ts)
 *   ring.describe  {}                       -> RingDescription
 *   ring.hint      {target, table, mutation} -> {}           hold a hint for a down replica (sloppy quorum)
 *   ring.leaves    {table, intervals, groups, depth, now} -> {leaves, rows, bytes}   Merkle leaves
 *   ring.rows      {table, intervals, after?, maxBytes}    -> {rows, next?, bytes}   raw rows, paged
 *   ring.apply     {table, rows}            -> {}            merge streamed rows
 *   ring.digests   {table, intervals, after?, maxRows, now} -> {rows, next?}  row digests, paged
 *   ring.fetch     {table, rows}            -> {rows}        raw rows by key
 *   ring.repair    {table?, scope?}         -> {id}          start a repair session (repair-session.ts)
 *   ring.decommission {}                    -> {}            start handing this node's ranges over
 *   ring.removenode {id}                    -> {}            remove a dead node, rebuild its replicas
 *
 * Token intervals travel as [lo, hi] pairs of decimal strings (inclusive; tokens are signed
 * 64-bit). Streamed rows travel flat, two items per row: the row key and its raw entries.
 *
 * Raw entries travel flat, five items per entry: family (bytes), qualifier, timestamp, kind
 * (storage Kind: 0 DeleteRow … 4 Put), value.
 */
import { Kind, type RawEntry } from '../storage/index.js';
import type { WireCells } from '../model/index.js';
import { invalidArgument, TesseraError } from '../util/errors.js';
import type { CoordinatorStats } from './coordinator.js';
import type { HintStats } from './hint-store.js';
import type { RawRow } from './range-data.js';
import type { RepairStats } from './repair.js';
import type { Interval } from './streaming.js';
import { TOKEN_MAX, TOKEN_MIN } from './murmur3.js';

export const RING_METHODS = [
  'ring.gossip',
  'ring.write',
  'ring.read',
  'ring.schema',
  'ring.describe',
  'ring.hint',
  'ring.leaves',
  'ring.rows',
  'ring.apply',
  'ring.digests',
  'ring.fetch',
  'ring.repair',
  'ring.decommission',
  'ring.removenode',
] as const;

/** Items per raw entry on the wire. */
const entryItems = 5;

export function entriesToWire(entries: readonly RawEntry[]): (Uint8Array | number)[] {
  const out = new Array<Uint8Array | number>(entries.length * entryItems);
  let i = 0;
  for (const e of entries) {
    out[i++] = e.family;
    out[i++] = e.qualifier;
    out[i++] = e.timestamp;
    out[i++] = e.kind;
    out[i++] = e.value;
  }
  return out;
}

function badReply(message: string): TesseraError {
  return new TesseraError('PROTOCOL_ERROR', `ring.read answered ${message}`);
}

/**
 * Reads raw entries off a reply (or, with `bad` making INVALID_ARGUMENT, off a request);
 * PROTOCOL_ERROR when they are not what they should be.
 */
export function entriesFromWire(v: unknown, bad = badReply): RawEntry[] {
  if (!Array.isArray(v) || v.length % entryItems !== 0) {
    throw bad(`entries that are not an array of ${entryItems} items per entry`);
  }
  const out: RawEntry[] = [];
  for (let i = 0; i < v.length; i += entryItems) {
    const [family, qualifier, timestamp, kind, value] = v.slice(i, i + entryItems) as unknown[];
    if (
      !(family instanceof Uint8Array) ||
      !(qualifier instanceof Uint8Array) ||
      typeof timestamp !== 'number' ||
      !Number.isSafeInteger(timestamp) ||
      timestamp < 0 ||
      typeof kind !== 'number' ||
      !Number.isInteger(kind) ||
      kind < Kind.DeleteRow ||
      kind > Kind.Put ||
      !(value instanceof Uint8Array)
    ) {
      throw bad(`a malformed entry ${i / entryItems}`);
    }
    out.push({ family, qualifier, timestamp, kind: kind as Kind, value });
  }
  return out;
}

/**
 * Checks the cells of a ring.read reply with `resolved` (table.get's wire form: family,
 * qualifier, timestamp, value per cell) and returns them as they are, with no copy: they go
 * back to the client as they came. PROTOCOL_ERROR when they are malformed.
 */
export function checkWireCells(v: unknown): WireCells {
  if (!Array.isArray(v) || v.length % 4 !== 0) {
    throw badReply('cells that are not an array of 4 items per cell');
  }
  for (let i = 0; i < v.length; i += 4) {
    const ts = v[i + 2] as unknown;
    if (
      typeof v[i] !== 'string' ||
      !(v[i + 1] instanceof Uint8Array) ||
      typeof ts !== 'number' ||
      !Number.isSafeInteger(ts) ||
      ts < 0 ||
      !(v[i + 3] instanceof Uint8Array)
    ) {
      throw badReply(`a malformed cell ${i / 4}`);
    }
  }
  return v as WireCells;
}

/** One endpoint as `ring.describe` reports it. */
export interface DescribedEndpoint {
  readonly id: string;
  readonly name: string;
  readonly datacenter: string;
  readonly rack: string;
  readonly status: string;
  readonly alive: boolean;
  readonly load: number;
  /** Signed 64-bit tokens as decimal strings. */
  readonly tokens: readonly string[];
  /** Share of the token space it owns as primary replica (sums to 1 over the ring). */
  readonly owns: number;
  readonly generation: number;
  readonly heartbeat: number;
  readonly schema: string;
  /** What a range movement or repair on it has done so far ('' for nothing). */
  readonly progress?: string;
}

/** One repair session of a node, as `ring.describe` reports it. */
export interface RepairSessionInfo {
  readonly id: string;
  /** The table, or '*' for every hashed table. */
  readonly table: string;
  readonly scope: 'all' | 'local' | 'primary';
  state: 'running' | 'done' | 'incomplete' | 'failed';
  readonly startedMicros: number;
  finishedMicros: number;
  readonly stats: RepairStats;
}

export interface DescribedTable {
  readonly name: string;
  readonly replicationFactor: number;
  readonly datacenters?: Readonly<Record<string, number>>;
  /** Per endpoint id, its share of the table's data (effective ownership). */
  readonly owns: Readonly<Record<string, number>>;
}

export interface RingDescription {
  /** The answering node's id. */
  readonly self: string;
  readonly endpoints: readonly DescribedEndpoint[];
  readonly tables: readonly DescribedTable[];
  /** The answering node's recent repair sessions, oldest first. */
  readonly repairs?: readonly RepairSessionInfo[];
  /** The answering node's hints, per target. */
  readonly hints?: readonly HintStats[];
  /** What the answering node's coordinator did to heal replicas. */
  readonly coordinator?: CoordinatorStats;
  /** The answering node's last finished range movement (bootstrap, decommission, removenode). */
  readonly movement?: {
    readonly kind: string;
    readonly streams: number;
    readonly rows: number;
    readonly bytes: number;
  };
}

/** Streamed rows, flat: row key, raw entries (entriesToWire), per row. */
export function rowsToWire(rows: readonly RawRow[]): unknown[] {
  const out: unknown[] = [];
  for (const r of rows) out.push(r.row, entriesToWire(r.entries));
  return out;
}

/** The rows of a ring.rows reply, or (`request`) of a ring.apply request. */
export function rowsFromWire(v: unknown, what: string, request: boolean): RawRow[] {
  const bad = (message: string): TesseraError =>
    request
      ? invalidArgument(`${what}: ${message}`)
      : new TesseraError('PROTOCOL_ERROR', `${what} answered ${message}`);
  if (!Array.isArray(v) || v.length % 2 !== 0) throw bad('rows that are not row, entries pairs');
  const out: RawRow[] = [];
  for (let i = 0; i < v.length; i += 2) {
    const row = v[i] as unknown;
    if (!(row instanceof Uint8Array)) throw bad(`a row ${i / 2} that is not bytes`);
    out.push({ row, entries: entriesFromWire(v[i + 1], bad) });
  }
  return out;
}

/** Most token intervals one request may carry. */
export const INTERVALS_MAX = 1 << 16;

export function intervalsToWire(list: readonly Interval[]): string[][] {
  return list.map((r) => [r.lo.toString(), r.hi.toString()]);
}

function tokenOf(v: unknown, what: string): bigint {
  if (typeof v !== 'string' || !/^-?[0-9]{1,20}$/.test(v)) {
    throw invalidArgument(`${what} must be a decimal token string`);
  }
  const t = BigInt(v);
  if (t < TOKEN_MIN || t > TOKEN_MAX) throw invalidArgument(`${what} is outside the token range`);
  return t;
}

/** Token intervals of a request; INVALID_ARGUMENT when malformed, reversed or too many. */
export function intervalsFromWire(v: unknown, what: string): Interval[] {
  if (!Array.isArray(v) || v.length > INTERVALS_MAX) {
    throw invalidArgument(`${what} must be an array of at most ${INTERVALS_MAX} [lo, hi] pairs`);
  }
  return v.map((p: unknown, i) => {
    if (!Array.isArray(p) || p.length !== 2) {
      throw invalidArgument(`${what}[${i}] must be a [lo, hi] pair`);
    }
    const lo = tokenOf(p[0], `${what}[${i}] lo`);
    const hi = tokenOf(p[1], `${what}[${i}] hi`);
    if (hi < lo) throw invalidArgument(`${what}[${i}] is reversed`);
    return { lo, hi };
  });
}
