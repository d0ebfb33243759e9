/**
 * The commands the lock service applies through the Raft log, their results, and the byte
 * codec that carries commands inside log entries.
 *
 * Every command carries `now`: the leader's clock (milliseconds) when it proposed the command.
 * Replicas never read a clock of their own, so applying the same log gives the same state.
 *
 * Encoding (little-endian, varints as in util/byte-io): a format byte (COMMAND_FORMAT), a tag
 * byte naming the command, `now`, then the command's fields in declaration order. Strings are
 * length-prefixed UTF-8, optional numbers a presence byte then a varint, booleans one byte.
 * Decoding is strict: unknown tags or flags, bad UTF-8, trailing bytes → CORRUPTION.
 * Byte by byte, with worked examples a test keeps true: docs/formats/lock-commands.md.
 */
import { ByteReader, ByteWriter } from '../util/byte-io.js';
import { corruption, type ErrorCode } from '../util/errors.js';
import { unreachable } from '../util/assert.js';
import { copyBytes } from '../util/bytes.js';

export type LockMode = 'exclusive' | 'shared';

export interface CreateOp {
  readonly type: 'create';
  readonly path: string;
  readonly data: Uint8Array;
  readonly ephemeral?: boolean;
  readonly sequential?: boolean;
  /** The owning session; required for ephemeral nodes. */
  readonly session?: number;
}

export interface SetOp {
  readonly type: 'set';
  readonly path: string;
  readonly data: Uint8Array;
  /** Compare-and-set: apply only if the node's version equals this. */
  readonly expectedVersion?: number;
}

export interface DeleteOp {
  readonly type: 'delete';
  readonly path: string;
  readonly expectedVersion?: number;
}

/** Multi only: asserts that a node exists (with the version, when given). */
export interface CheckOp {
  readonly type: 'check';
  readonly path: string;
  readonly expectedVersion?: number;
}

export type MultiOp = CreateOp | SetOp | DeleteOp | CheckOp;

interface Stamped {
  /** The leader's clock when it proposed the command, in milliseconds. */
  readonly now: number;
}

export type LockCommand =
  | (Stamped & { readonly type: 'openSession'; readonly id: number; readonly ttlMs: number })
  | (Stamped & { readonly type: 'keepAlive'; readonly session: number })
  | (Stamped & { readonly type: 'closeSession'; readonly session: number })
  | (Stamped & { readonly type: 'expireSessions' })
  | (Stamped & CreateOp)
  | (Stamped & SetOp)
  | (Stamped & DeleteOp)
  | (Stamped & { readonly type: 'multi'; readonly ops: readonly MultiOp[] })
  | (Stamped & {
      readonly type: 'acquireLock';
      readonly path: string;
      readonly session: number;
      readonly mode: LockMode;
    })
  | (Stamped & { readonly type: 'releaseLock'; readonly path: string; readonly session: number });

export type LockCommandType = LockCommand['type'];

/** What `stat` reports about a node. Times are command stamps; indexes are log indexes. */
export interface NodeStat {
  readonly version: number;
  readonly cversion: number;
  readonly ctime: number;
  readonly mtime: number;
  /** Log index of the command that created the node. */
  readonly createdIndex: number;
  /** Log index of the command that last set the node's data. */
  readonly modifiedIndex: number;
  /** The owning session of an ephemeral node; 0 for a persistent node. */
  readonly ephemeralOwner: number;
  readonly dataLength: number;
  readonly numChildren: number;
}

export type OpResult =
  | { readonly type: 'created'; readonly path: string; readonly stat: NodeStat }
  | { readonly type: 'set'; readonly path: string; readonly stat: NodeStat }
  | { readonly type: 'deleted'; readonly path: string }
  | { readonly type: 'checked'; readonly path: string };

export interface LockFailure {
  readonly type: 'error';
  readonly code: ErrorCode;
  readonly message: string;
  /** For a failed multi: the index of the op that failed. */
  readonly opIndex?: number;
}

export type LockResult =
  | { readonly type: 'sessionOpened'; readonly session: number; readonly expiresAt: number }
  | { readonly type: 'keptAlive'; readonly session: number; readonly expiresAt: number }
  | { readonly type: 'sessionClosed'; readonly session: number }
  | { readonly type: 'sessionsExpired'; readonly sessions: readonly number[] }
  | OpResult
  | { readonly type: 'multi'; readonly results: readonly OpResult[] }
  | {
      readonly type: 'lockGranted';
      readonly path: string;
      readonly mode: LockMode;
      /** The sequencer (fencing token) of this grant. */
      readonly token: number;
    }
  | {
      readonly type: 'lockQueued';
      readonly path: string;
      readonly mode: LockMode;
      /** Waiters ahead of this one. */
      readonly position: number;
    }
  | { readonly type: 'lockReleased'; readonly path: string }
  | LockFailure;

// ---- codec ----

export const COMMAND_FORMAT = 1;

const TAGS = {
  openSession: 1,
  keepAlive: 2,
  closeSession: 3,
  expireSessions: 4,
  create: 5,
  set: 6,
  delete: 7,
  multi: 8,
  acquireLock: 9,
  releaseLock: 10,
  check: 11,
} as const;

/** Most ops one multi may hold (bounds what a decoder allocates for garbage). */
export const MAX_MULTI_OPS = 10_000;

function putString(w: ByteWriter, s: string): void {
  w.utf8(s);
}

function putOptional(w: ByteWriter, v: number | undefined): void {
  if (v === undefined) w.u8(0);
  else w.u8(1).varint(v);
}

function encodeOp(w: ByteWriter, op: MultiOp): void {
  w.u8(TAGS[op.type]);
  encodeOpFields(w, op);
}

/** An op's fields after its tag (a command puts its stamp between the two). */
function encodeOpFields(w: ByteWriter, op: MultiOp): void {
  switch (op.type) {
    case 'create': {
      const flags =
        (op.ephemeral === true ? 1 : 0) |
        (op.sequential === true ? 2 : 0) |
        (op.session !== undefined ? 4 : 0);
      putString(w, op.path);
      w.lengthPrefixed(op.data).u8(flags);
      if (op.session !== undefined) w.varint(op.session);
      return;
    }
    case 'set':
      putString(w, op.path);
      w.lengthPrefixed(op.data);
      putOptional(w, op.expectedVersion);
      return;
    case 'delete':
    case 'check':
      putString(w, op.path);
      putOptional(w, op.expectedVersion);
      return;
    default:
      unreachable(op, 'multi op');
  }
}

/** Room for a command's or op's fields besides its paths and data (tags, stamps, varints). */
const fieldsBytesMax = 48;

/** An upper estimate of an op's encoding (a path's UTF-8 takes at most 3 bytes a code unit). */
function opSizeEstimate(op: MultiOp): number {
  return fieldsBytesMax + 3 * op.path.length + ('data' in op ? op.data.length : 0);
}

export function encodeCommand(cmd: LockCommand): Uint8Array {
  // Sized up front, so the encoding is written once and handed over without a copy.
  let size = fieldsBytesMax;
  if (cmd.type === 'multi') for (const op of cmd.ops) size += opSizeEstimate(op);
  else if ('path' in cmd) size += 3 * cmd.path.length + ('data' in cmd ? cmd.data.length : 0);
  const w = new ByteWriter(size);
  w.u8(COMMAND_FORMAT);
  switch (cmd.type) {
    case 'openSession':
      w.u8(TAGS.openSession).varint(cmd.now).varint(cmd.id).varint(cmd.ttlMs);
      break;
    case 'keepAlive':
    case 'closeSession':
      w.u8(TAGS[cmd.type]).varint(cmd.now).varint(cmd.session);
      break;
    case 'expireSessions':
      w.u8(TAGS.expireSessions).varint(cmd.now);
      break;
    case 'create':
    case 'set':
    case 'delete':
      // The op's encoding with the stamp between its tag and its fields.
      w.u8(TAGS[cmd.type]).varint(cmd.now);
      encodeOpFields(w, cmd);
      break;
    case 'multi':
      w.u8(TAGS.multi).varint(cmd.now).varint(cmd.ops.length);
      for (const op of cmd.ops) encodeOp(w, op);
      break;
    case 'acquireLock':
      w.u8(TAGS.acquireLock).varint(cmd.now);
      putString(w, cmd.path);
      w.varint(cmd.session).u8(cmd.mode === 'exclusive' ? 0 : 1);
      break;
    case 'releaseLock':
      w.u8(TAGS.releaseLock).varint(cmd.now);
      putString(w, cmd.path);
      w.varint(cmd.session);
      break;
    default:
      unreachable(cmd, 'lock command');
  }
  return w.take();
}

function getString(r: ByteReader): string {
  return r.utf8();
}

function getOptional(r: ByteReader): number | undefined {
  const present = r.u8();
  if (present === 0) return undefined;
  if (present !== 1) throw corruption(`bad presence byte ${present} at offset ${r.pos - 1}`);
  return r.varint();
}

/**
 * A copy of the command's bytes: a decoded command never aliases its log entry. Not `slice()`:
 * on followers the entry views a received Node Buffer, whose `slice` is a view too.
 */
function getBytes(r: ByteReader): Uint8Array {
  return copyBytes(r.lengthPrefixed());
}

/** Decodes the op with the given (already read) tag, or returns undefined for other tags. */
function decodeOpBody(r: ByteReader, tag: number): MultiOp | undefined {
  switch (tag) {
    case TAGS.create: {
      const path = getString(r);
      const data = getBytes(r);
      const flags = r.u8();
      if (flags > 7) throw corruption(`bad create flags ${flags}`);
      const op: CreateOp = {
        type: 'create',
        path,
        data,
        ephemeral: (flags & 1) !== 0,
        sequential: (flags & 2) !== 0,
      };
      return (flags & 4) !== 0 ? { ...op, session: r.varint() } : op;
    }
    case TAGS.set: {
      const path = getString(r);
      const data = getBytes(r);
      const expectedVersion = getOptional(r);
      return expectedVersion === undefined
        ? { type: 'set', path, data }
        : { type: 'set', path, data, expectedVersion };
    }
    case TAGS.delete:
    case TAGS.check: {
      const type = tag === TAGS.delete ? 'delete' : 'check';
      const path = getString(r);
      const expectedVersion = getOptional(r);
      return expectedVersion === undefined ? { type, path } : { type, path, expectedVersion };
    }
    default:
      return undefined;
  }
}

function decodeMode(r: ByteReader): LockMode {
  const m = r.u8();
  if (m === 0) return 'exclusive';
  if (m === 1) return 'shared';
  throw corruption(`bad lock mode ${m}`);
}

function decodeBody(r: ByteReader): LockCommand {
  const tag = r.u8();
  const now = r.varint();
  switch (tag) {
    case TAGS.openSession: {
      const id = r.varint();
      return { type: 'openSession', now, id, ttlMs: r.varint() };
    }
    case TAGS.keepAlive:
      return { type: 'keepAlive', now, session: r.varint() };
    case TAGS.closeSession:
      return { type: 'closeSession', now, session: r.varint() };
    case TAGS.expireSessions:
      return { type: 'expireSessions', now };
    case TAGS.create:
    case TAGS.set:
    case TAGS.delete: {
      const op = decodeOpBody(r, tag)!;
      return { ...op, now } as LockCommand;
    }
    case TAGS.multi: {
      const n = r.varint();
      if (n > MAX_MULTI_OPS || n > r.remaining) throw corruption(`bad multi op count ${n}`);
      const ops: MultiOp[] = [];
      for (let i = 0; i < n; i++) {
        const opTag = r.u8();
        const op = decodeOpBody(r, opTag);
        if (op === undefined) throw corruption(`bad multi op tag ${opTag}`);
        ops.push(op);
      }
      return { type: 'multi', now, ops };
    }
    case TAGS.acquireLock: {
      const path = getString(r);
      const session = r.varint();
      return { type: 'acquireLock', now, path, session, mode: decodeMode(r) };
    }
    case TAGS.releaseLock: {
      const path = getString(r);
      return { type: 'releaseLock', now, path, session: r.varint() };
    }
    default:
      throw corruption(`unknown lock command tag ${tag}`);
  }
}

/** Decodes one command; any malformation raises CORRUPTION. */
export function decodeCommand(bytes: Uint8Array): LockCommand {
  const r = new ByteReader(bytes);
  const format = r.u8();
  if (format !== COMMAND_FORMAT) throw corruption(`unknown lock command format ${format}`);
  const cmd = decodeBody(r);
  if (!r.atEnd()) throw corruption(`${r.remaining} trailing bytes after lock command`);
  return cmd;
}
