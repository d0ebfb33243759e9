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
 *
 * Raw entries travel flat, five items per entry: family (bytes), qualifier, timestamp, kind
 * (storage Kind: 0 DeleteRow … 4 Put), value.
 */
import { Kind, type RawEntry } from '../storage/index.js';
import type { WireCells } from '../model/index.js';
import { TesseraError } from '../util/errors.js';

export const RING_METHODS = [
  'ring.gossip',
  'ring.write',
  'ring.read',
  'ring.schema',
  'ring.describe',
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

/** Reads raw entries off a ring.read reply; PROTOCOL_ERROR when they are not what they should be. */
export function entriesFromWire(v: unknown): RawEntry[] {
  if (!Array.isArray(v) || v.length % entryItems !== 0) {
    throw badReply(`entries that are not an array of ${entryItems} items per entry`);
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
      throw badReply(`a malformed entry ${i / entryItems}`);
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
}
