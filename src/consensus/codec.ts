/**
 * Bytes for Raft's values: messages on the wire, and the entries and snapshots the Raft log
 * (raft-log-format.ts) persists.
 *
 * A message is `version u8 | kind tag u8 | from | to | term | kind-specific fields`, integers
 * as unsigned varints (byte-io.ts). Tags are frozen: a retired tag stays reserved, never reused.
 * Decoding checks everything it reads — unknown version or tag, a boolean other than 0/1, bad
 * UTF-8, a short field, trailing bytes — and throws CORRUPTION; it never returns a half-read
 * message. Decoded byte fields are views into the input, not copies.
 */
import { ByteReader, ByteWriter } from '../util/byte-io.js';
import { corruption } from '../util/errors.js';
import type { Entry, EntryKind, Message, MessageKind, Snapshot, SnapshotMeta } from './types.js';

/** The message encoding's version byte; a decoder refuses any other. */
export const MESSAGE_VERSION = 1;

/** Frozen message tags (never renumber; retire by leaving a gap). */
export const MessageTag: { readonly [K in MessageKind]: number } = {
  vote: 1,
  'pre-vote': 2,
  'vote-response': 3,
  'pre-vote-response': 4,
  append: 5,
  'append-response': 6,
  heartbeat: 7,
  'heartbeat-response': 8,
  'install-snapshot': 9,
  'install-snapshot-response': 10,
  'timeout-now': 11,
  'read-index': 12,
  'read-index-response': 13,
};

const kindByTag = new Map<number, MessageKind>(
  Object.entries(MessageTag).map(([kind, tag]) => [tag, kind as MessageKind]),
);

/** Frozen entry kind tags. */
export const EntryKindTag: { readonly [K in EntryKind]: number } = {
  normal: 1,
  config: 2,
  noop: 3,
};

const entryKindByTag = new Map<number, EntryKind>(
  Object.entries(EntryKindTag).map(([kind, tag]) => [tag, kind as EntryKind]),
);

/** Bound on voters in a decoded config (matches config.ts's VOTERS_MAX order of magnitude). */
const DECODED_VOTERS_MAX = 1024;

// ---- Shared pieces ----

export function writeEntry(w: ByteWriter, e: Entry): void {
  w.varint(e.term).varint(e.index).u8(EntryKindTag[e.kind]).lengthPrefixed(e.data);
}

export function readEntry(r: ByteReader): Entry {
  const term = r.varint();
  const index = r.varint();
  const kindTag = r.u8();
  const kind = entryKindByTag.get(kindTag);
  if (kind === undefined) throw corruption(`unknown entry kind tag ${kindTag}`, { offset: r.pos });
  const data = r.lengthPrefixed();
  return { term, index, kind, data };
}

export function writeSnapshotMeta(w: ByteWriter, meta: SnapshotMeta): void {
  w.varint(meta.index).varint(meta.term).varint(meta.config.voters.length);
  for (const v of meta.config.voters) w.varint(v);
}

export function readSnapshotMeta(r: ByteReader): SnapshotMeta {
  const index = r.varint();
  const term = r.varint();
  const count = r.varint();
  if (count > DECODED_VOTERS_MAX) {
    throw corruption(`config of ${count} voters exceeds ${DECODED_VOTERS_MAX}`, { offset: r.pos });
  }
  const voters: number[] = [];
  for (let i = 0; i < count; i++) voters.push(r.varint());
  return { index, term, config: { voters } };
}

export function writeSnapshot(w: ByteWriter, s: Snapshot): void {
  writeSnapshotMeta(w, s.meta);
  w.lengthPrefixed(s.data);
}

export function readSnapshot(r: ByteReader): Snapshot {
  const meta = readSnapshotMeta(r);
  return { meta, data: r.lengthPrefixed() };
}

function writeBool(w: ByteWriter, b: boolean): void {
  w.u8(b ? 1 : 0);
}

function readBool(r: ByteReader): boolean {
  const b = r.u8();
  if (b > 1) throw corruption(`bad boolean ${b}`, { offset: r.pos - 1 });
  return b === 1;
}

function writeString(w: ByteWriter, s: string): void {
  w.utf8(s);
}

function readString(r: ByteReader): string {
  return r.utf8();
}

function writeOptionalString(w: ByteWriter, s: string | undefined): void {
  writeBool(w, s !== undefined);
  if (s !== undefined) writeString(w, s);
}

function readOptionalString(r: ByteReader): string | undefined {
  return readBool(r) ? readString(r) : undefined;
}

// ---- Messages ----

/** Room for every field of a message but entry and snapshot payloads (varints, tags, ctx). */
const messageOverheadBytes = 128;
/** Room per entry besides its data: term, index, kind and the data's length prefix. */
const entryOverheadBytes = 32;

/** An upper estimate of the encoded size of `entries` (writeEntry each). */
export function entriesSizeEstimate(entries: readonly Entry[]): number {
  let n = 0;
  for (const e of entries) n += entryOverheadBytes + e.data.length;
  return n;
}

/** An upper estimate of a message's encoded size, so the writer is sized once. */
function encodedSizeEstimate(m: Message): number {
  if (m.kind === 'append') return messageOverheadBytes + entriesSizeEstimate(m.entries);
  if (m.kind === 'install-snapshot') {
    return (
      messageOverheadBytes + 10 * m.snapshot.meta.config.voters.length + m.snapshot.data.length
    );
  }
  return messageOverheadBytes;
}

export function encodeMessage(m: Message): Uint8Array {
  const w = new ByteWriter(encodedSizeEstimate(m));
  w.u8(MESSAGE_VERSION).u8(MessageTag[m.kind]).varint(m.from).varint(m.to).varint(m.term);
  switch (m.kind) {
    case 'vote':
      w.varint(m.lastIndex).varint(m.lastTerm);
      writeBool(w, m.transfer);
      break;
    case 'pre-vote':
      w.varint(m.lastIndex).varint(m.lastTerm);
      break;
    case 'vote-response':
    case 'pre-vote-response':
      writeBool(w, m.reject);
      break;
    case 'append':
      w.varint(m.prevIndex).varint(m.prevTerm).varint(m.commit).varint(m.entries.length);
      for (const e of m.entries) writeEntry(w, e);
      break;
    case 'append-response':
      writeBool(w, m.reject);
      w.varint(m.index).varint(m.hintIndex).varint(m.hintTerm);
      break;
    case 'heartbeat':
      w.varint(m.commit);
      writeOptionalString(w, m.ctx);
      break;
    case 'heartbeat-response':
      writeOptionalString(w, m.ctx);
      break;
    case 'install-snapshot':
      writeSnapshot(w, m.snapshot);
      break;
    case 'install-snapshot-response':
      w.varint(m.index);
      break;
    case 'timeout-now':
      break;
    case 'read-index':
      writeString(w, m.ctx);
      break;
    case 'read-index-response':
      writeString(w, m.ctx);
      w.varint(m.index);
      break;
    default: {
      const never: never = m;
      throw new Error(`unhandled message ${JSON.stringify(never)}`);
    }
  }
  // Sized by the estimate above, so the view wastes little; sends keep it until they finish.
  return w.take();
}

/** Decodes one whole message; CORRUPTION for anything that is not exactly one valid message. */
export function decodeMessage(bytes: Uint8Array): Message {
  const r = new ByteReader(bytes);
  const version = r.u8();
  if (version !== MESSAGE_VERSION) throw corruption(`unknown message version ${version}`);
  const tag = r.u8();
  const kind = kindByTag.get(tag);
  if (kind === undefined) throw corruption(`unknown message tag ${tag}`, { offset: 1 });
  const from = r.varint();
  const to = r.varint();
  const term = r.varint();
  const m = decodeBody(r, kind, { from, to, term });
  if (!r.atEnd()) {
    throw corruption(`${r.remaining} trailing bytes after a ${kind} message`, { offset: r.pos });
  }
  return m;
}

interface Head {
  readonly from: number;
  readonly to: number;
  readonly term: number;
}

function decodeBody(r: ByteReader, kind: MessageKind, h: Head): Message {
  switch (kind) {
    case 'vote': {
      const lastIndex = r.varint();
      const lastTerm = r.varint();
      return { ...h, kind, lastIndex, lastTerm, transfer: readBool(r) };
    }
    case 'pre-vote': {
      const lastIndex = r.varint();
      return { ...h, kind, lastIndex, lastTerm: r.varint() };
    }
    case 'vote-response':
    case 'pre-vote-response':
      return { ...h, kind, reject: readBool(r) };
    case 'append': {
      const prevIndex = r.varint();
      const prevTerm = r.varint();
      const commit = r.varint();
      const count = r.varint();
      // Each entry takes at least 4 bytes, so a count beyond that is garbage, not an allocation.
      if (count > r.remaining / 4) throw corruption(`bad entry count ${count}`, { offset: r.pos });
      const entries: Entry[] = [];
      for (let i = 0; i < count; i++) entries.push(readEntry(r));
      return { ...h, kind, prevIndex, prevTerm, commit, entries };
    }
    case 'append-response': {
      const reject = readBool(r);
      const index = r.varint();
      const hintIndex = r.varint();
      return { ...h, kind, reject, index, hintIndex, hintTerm: r.varint() };
    }
    case 'heartbeat': {
      const commit = r.varint();
      return { ...h, kind, commit, ctx: readOptionalString(r) };
    }
    case 'heartbeat-response':
      return { ...h, kind, ctx: readOptionalString(r) };
    case 'install-snapshot':
      return { ...h, kind, snapshot: readSnapshot(r) };
    case 'install-snapshot-response':
      return { ...h, kind, index: r.varint() };
    case 'timeout-now':
      return { ...h, kind };
    case 'read-index':
      return { ...h, kind, ctx: readString(r) };
    case 'read-index-response': {
      const ctx = readString(r);
      return { ...h, kind, ctx, index: r.varint() };
    }
    default: {
      const never: never = kind;
      throw new Error(`unhandled message kind ${String(never)}`);
    }
  }
}
