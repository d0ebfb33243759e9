/**
 * LockStateMachine: what every lock-service replica applies, in log order. `apply` is a pure
 * function of the state and the command (time enters only as the command's `now` stamp), so
 * replicas applying the same log hold the same state and give the same results.
 *
 * Operating errors (a missing node, a version conflict, an expired session) are results, not
 * exceptions: every replica reaches the same verdict and the log moves on. A failed command
 * changes nothing. Only broken invariants (ASSERTION_FAILED) throw.
 *
 * The snapshot format (snapshot()/restore()) is documented in docs/formats/lock-snapshot.md.
 *
 * Time: the machine keeps `time`, the largest stamp applied so far, and uses it for node times
 * and session expiry, so time in the state never runs backwards across a change of leader.
 *
 * Snapshot format (version SNAPSHOT_FORMAT), deterministic because every collection is written
 * sorted: magic u32, format u8, lastApplied, time, last sequencer, sessions (by id), the node
 * tree depth-first with children by name, locks (by path) with holders in grant order and
 * waiters in queue order, then a CRC32C u32 of everything before it.
 */
import type { LockCommand, LockFailure, LockMode, LockResult, NodeStat } from './commands.js';
import { LockNode, Namespace, createArgs, type Stamp } from './namespace.js';
import {
  LockTable,
  type LockGrant,
  type LockHolder,
  type LockState,
  type LockWaiter,
} from './locks.js';
import { SessionTable, sessionExpired, type SessionInfo } from './sessions.js';
import { MAX_PATH_DEPTH, childPath, validateName, validatePath } from './path.js';
import type { WatchEvent } from './watches.js';
import {
  LockSnapshotWriter,
  SNAPSHOT_SLICE_DEFAULT,
  SNAPSHOT_SLICE_WHOLE,
  type SnapshotSlice,
} from './snapshot-writer.js';
import { ByteReader, ByteWriter } from '../util/byte-io.js';
import { TesseraError, corruption, invalidArgument, isTesseraError } from '../util/errors.js';
import { assert, unreachable } from '../util/assert.js';
import { crc32c } from '../util/crc32c.js';
import { bytesToLatin1 } from '../util/bytes.js';

export const SNAPSHOT_MAGIC = 0x4b434c54; // "TLCK" little-endian
export const SNAPSHOT_FORMAT = 1;

export interface ApplyOutput {
  readonly result: LockResult;
  /** Watch events the command caused, in order (empty when it failed). */
  readonly events: readonly WatchEvent[];
  /** Locks granted to waiting sessions because of this command, in order. */
  readonly grants: readonly LockGrant[];
}

function failure(e: TesseraError): LockFailure {
  const opIndex = e.details?.['opIndex'];
  return typeof opIndex === 'number'
    ? { type: 'error', code: e.code, message: e.message, opIndex }
    : { type: 'error', code: e.code, message: e.message };
}

export class LockStateMachine {
  private readonly ns = new Namespace();
  private readonly sessions = new SessionTable();
  private readonly locks = new LockTable();
  private applied = 0;
  private clock = 0;
  /** Expected size of the next snapshot (the last one, plus room to grow). */
  private snapshotBytesHint = 1024;

  /** The log index of the last command applied. */
  get lastApplied(): number {
    return this.applied;
  }

  /** The largest command stamp applied so far. */
  get time(): number {
    return this.clock;
  }

  get nodeCount(): number {
    return this.ns.size;
  }

  /** Applies the command at log `index` (which must exceed every index applied before). */
  apply(index: number, cmd: LockCommand): ApplyOutput {
    assert(
      Number.isSafeInteger(index) && index > this.applied,
      `apply of index ${index} after ${this.applied}`,
    );
    this.applied = index;
    const events: WatchEvent[] = [];
    const grants: LockGrant[] = [];
    try {
      if (!Number.isSafeInteger(cmd.now) || cmd.now < 0) {
        throw invalidArgument(`command stamp must be a non-negative integer, got ${cmd.now}`);
      }
      this.clock = Math.max(this.clock, cmd.now);
      const result = this.dispatch(cmd, { index, time: this.clock }, events, grants);
      // A grant made to a session that the same command then ended is not worth reporting.
      const current = grants.filter((g) => this.locks.checkSequencer(g.path, g.token));
      return { result, events, grants: current };
    } catch (e) {
      if (isTesseraError(e) && e.code !== 'ASSERTION_FAILED' && e.code !== 'INTERNAL') {
        assert(events.length === 0 && grants.length === 0, `${cmd.type} failed after changes`);
        return { result: failure(e), events: [], grants: [] };
      }
      throw e;
    }
  }

  private requireSession(id: number): void {
    if (!this.sessions.has(id)) throw sessionExpired(id);
  }

  private dispatch(
    cmd: LockCommand,
    at: Stamp,
    events: WatchEvent[],
    grants: LockGrant[],
  ): LockResult {
    const sessionExists = (id: number): boolean => this.sessions.has(id);
    switch (cmd.type) {
      case 'openSession': {
        const s = this.sessions.open(cmd.id, cmd.ttlMs, at.time);
        return { type: 'sessionOpened', session: s.id, expiresAt: s.expiresAt };
      }
      case 'keepAlive': {
        const s = this.sessions.keepAlive(cmd.session, at.time);
        return { type: 'keptAlive', session: s.id, expiresAt: s.expiresAt };
      }
      case 'closeSession':
        this.requireSession(cmd.session);
        this.endSession(cmd.session, events, grants);
        return { type: 'sessionClosed', session: cmd.session };
      case 'expireSessions': {
        const expired = this.sessions.expiredAt(at.time);
        for (const id of expired) this.endSession(id, events, grants);
        return { type: 'sessionsExpired', sessions: expired };
      }
      case 'create':
        return this.ns.create(createArgs(cmd, sessionExists), at, events);
      case 'set':
        return this.ns.set(cmd.path, cmd.data, cmd.expectedVersion, at, events);
      case 'delete':
        return this.ns.delete(cmd.path, cmd.expectedVersion, events);
      case 'multi':
        return { type: 'multi', results: this.ns.multi(cmd.ops, at, events, sessionExists) };
      case 'acquireLock': {
        validatePath(cmd.path);
        if (cmd.mode !== 'exclusive' && cmd.mode !== 'shared') {
          throw invalidArgument(`unknown lock mode ${String(cmd.mode)}`);
        }
        this.requireSession(cmd.session);
        const out = this.locks.acquire(cmd.path, cmd.session, cmd.mode);
        return out.granted
          ? { type: 'lockGranted', path: cmd.path, mode: cmd.mode, token: out.token }
          : { type: 'lockQueued', path: cmd.path, mode: cmd.mode, position: out.position };
      }
      case 'releaseLock':
        grants.push(...this.locks.release(cmd.path, cmd.session));
        return { type: 'lockReleased', path: cmd.path };
      default:
        return unreachable(cmd, 'lock command');
    }
  }

  /** Removes a session, deletes its ephemeral nodes and releases its locks. */
  private endSession(id: number, events: WatchEvent[], grants: LockGrant[]): void {
    this.sessions.remove(id);
    for (const path of this.ns.ephemeralsOf(id)) this.ns.delete(path, undefined, events);
    grants.push(...this.locks.releaseAll(id));
  }

  // ---- reads (pure; the server serves them after a read-index or lease check) ----

  get(path: string): { readonly data: Uint8Array; readonly stat: NodeStat } {
    return this.ns.get(path);
  }

  exists(path: string): NodeStat | undefined {
    return this.ns.exists(path);
  }

  stat(path: string): NodeStat {
    return this.ns.stat(path);
  }

  list(path: string): string[] {
    return this.ns.list(path);
  }

  session(id: number): SessionInfo | undefined {
    return this.sessions.get(id);
  }

  allSessions(): SessionInfo[] {
    return this.sessions.all();
  }

  /** Sessions whose expiry is at or before `now`: what a leader proposes to expire. */
  sessionsExpiredAt(now: number): number[] {
    return this.sessions.expiredAt(now);
  }

  lockState(path: string): LockState {
    return this.locks.state(path);
  }

  /** True when `token` is the sequencer of a current holder of the lock at `path`. */
  checkSequencer(path: string, token: number): boolean {
    return this.locks.checkSequencer(path, token);
  }

  // ---- snapshots ----

  /** The state as a snapshot, written at once. */
  snapshot(): Uint8Array {
    const data = this.beginSnapshot(SNAPSHOT_SLICE_WHOLE).step();
    assert(data !== undefined, 'a whole-slice snapshot took more than one step');
    return data;
  }

  /**
   * A snapshot of the state as of now, written a slice at a time by `step()` while later
   * commands keep being applied (snapshot-writer.ts). One at a time; `cancel()` one that is
   * abandoned.
   */
  beginSnapshot(slice: SnapshotSlice = SNAPSHOT_SLICE_DEFAULT): LockSnapshotWriter {
    const pre = this.ns.beginCopyOnWrite();
    // Sized from the last snapshot: a million nodes make a ~115 MiB snapshot, which growing by
    // doubling would copy a dozen times and briefly hold twice over.
    const w = new ByteWriter(this.snapshotBytesHint);
    w.u32(SNAPSHOT_MAGIC).u8(SNAPSHOT_FORMAT);
    w.varint(this.applied).varint(this.clock).varint(this.locks.lastSequencer);
    const sessions = this.sessions.all();
    w.varint(sessions.length);
    for (const s of sessions) w.varint(s.id).varint(s.ttlMs).varint(s.expiresAt);
    // The locks follow the tree in the format, but are taken now, as they are now.
    const tail = new ByteWriter();
    const locks = this.locks.all();
    tail.varint(locks.length);
    for (const l of locks) {
      tail.utf8(l.path);
      tail.varint(l.holders.length);
      for (const h of l.holders) tail.varint(h.session).u8(modeByte(h.mode)).varint(h.token);
      tail.varint(l.waiters.length);
      for (const x of l.waiters) tail.varint(x.session).u8(modeByte(x.mode));
    }
    return new LockSnapshotWriter(w, this.ns.root, pre, tail.take(), slice, (p, bytes) => {
      this.ns.endCopyOnWrite(p);
      if (bytes > 0) this.snapshotBytesHint = bytes + (bytes >>> 3) + 1024;
    });
  }

  /** Rebuilds a state machine from `snapshot()` bytes; malformed input raises CORRUPTION. */
  static restore(bytes: Uint8Array): LockStateMachine {
    if (bytes.length < 9) throw corruption('lock snapshot too short');
    const body = bytes.subarray(0, bytes.length - 4);
    const stored = new ByteReader(bytes, bytes.length - 4).u32();
    if (crc32c(body) !== stored) throw corruption('lock snapshot checksum mismatch');
    try {
      return LockStateMachine.restoreBody(new ByteReader(body));
    } catch (e) {
      if (isTesseraError(e, 'CORRUPTION')) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      throw new TesseraError('CORRUPTION', `bad lock snapshot: ${msg}`, undefined, { cause: e });
    }
  }

  private static restoreBody(r: ByteReader): LockStateMachine {
    if (r.u32() !== SNAPSHOT_MAGIC) throw corruption('not a lock snapshot');
    const format = r.u8();
    if (format !== SNAPSHOT_FORMAT) throw corruption(`unknown lock snapshot format ${format}`);
    const sm = new LockStateMachine();
    const inner = sm;
    inner.applied = r.varint();
    inner.clock = r.varint();
    const lastToken = r.varint();
    inner.locks.restoreLastSequencer(lastToken);

    const nSessions = r.varint();
    if (nSessions > r.remaining) throw corruption(`bad session count ${nSessions}`);
    let prev = 0;
    for (let i = 0; i < nSessions; i++) {
      const id = r.varint();
      if (id <= prev) throw corruption('sessions out of order');
      prev = id;
      inner.sessions.restore({ id, ttlMs: r.varint(), expiresAt: r.varint() });
    }

    const ns = inner.ns;
    const rootFields = readNode(r);
    if (rootFields.ephemeralOwner !== 0) throw corruption('ephemeral root');
    Object.assign(ns.root, { ...rootFields, children: undefined });
    readChildren(r, ns, ns.root, '/', 0, inner.sessions);

    const nLocks = r.varint();
    if (nLocks > r.remaining) throw corruption(`bad lock count ${nLocks}`);
    for (let i = 0; i < nLocks; i++) {
      const path = readString(r);
      validatePath(path);
      const holders: LockHolder[] = [];
      const nh = r.varint();
      if (nh > r.remaining) throw corruption(`bad holder count ${nh}`);
      for (let j = 0; j < nh; j++) {
        const session = r.varint();
        const mode = readMode(r);
        const token = r.varint();
        if (token > lastToken || !inner.sessions.has(session)) throw corruption('bad lock holder');
        holders.push({ session, mode, token });
      }
      const waiters: LockWaiter[] = [];
      const nw = r.varint();
      if (nw > r.remaining) throw corruption(`bad waiter count ${nw}`);
      for (let j = 0; j < nw; j++) {
        const session = r.varint();
        if (!inner.sessions.has(session)) throw corruption('bad lock waiter');
        waiters.push({ session, mode: readMode(r) });
      }
      if (holders.length + waiters.length === 0) throw corruption(`empty lock ${path}`);
      inner.locks.restore({ path, holders, waiters });
    }
    if (!r.atEnd()) throw corruption(`${r.remaining} trailing bytes in lock snapshot`);
    return sm;
  }
}

function modeByte(mode: LockMode): number {
  return mode === 'exclusive' ? 0 : 1;
}

function readMode(r: ByteReader): LockMode {
  const m = r.u8();
  if (m === 0) return 'exclusive';
  if (m === 1) return 'shared';
  throw corruption(`bad lock mode ${m} in snapshot`);
}

function readString(r: ByteReader): string {
  return r.utf8();
}

function readNode(r: ByteReader): LockNode {
  const node = new LockNode();
  const data = r.lengthPrefixed();
  node.data = bytesToLatin1(data);
  node.version = r.varint();
  node.cversion = r.varint();
  node.ctime = r.varint();
  node.mtime = r.varint();
  node.czxid = r.varint();
  node.mzxid = r.varint();
  node.ephemeralOwner = r.varint();
  return node;
}

function readChildren(
  r: ByteReader,
  ns: Namespace,
  parent: LockNode,
  parentP: string,
  depth: number,
  sessions: SessionTable,
): void {
  const n = r.varint();
  if (n === 0) return;
  if (depth >= MAX_PATH_DEPTH || n > r.remaining) throw corruption(`bad child count at ${parentP}`);
  if (parent.ephemeralOwner !== 0) throw corruption(`ephemeral ${parentP} has children`);
  let prev: string | undefined;
  for (let i = 0; i < n; i++) {
    const name = readString(r);
    validateName(name);
    if (prev !== undefined && !(prev < name)) throw corruption(`children of ${parentP} unsorted`);
    prev = name;
    const path = childPath(parentP, name);
    const node = readNode(r);
    if (node.ephemeralOwner !== 0 && !sessions.has(node.ephemeralOwner)) {
      throw corruption(`ephemeral ${path} owned by unknown session`);
    }
    ns.restoreChild(parent, name, node, path);
    readChildren(r, ns, node, path, depth + 1, sessions);
  }
}
