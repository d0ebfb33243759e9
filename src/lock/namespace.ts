/**
 * The replicated namespace: a tree of nodes, each holding up to MAX_DATA_BYTES of data plus
 * ZooKeeper-style versions. Mutations are deterministic functions of their arguments (times
 * and log indexes come from the command), validate before they change anything, append the
 * watch events they cause to `events`, and — while an undo scope is open — record how to undo
 * themselves, which is how a multi is rolled back when a later op fails.
 *
 * Reads (get/exists/list/stat) are pure; the server serves them after a read-index check.
 */
import type { MultiOp, NodeStat, OpResult } from './commands.js';
import { ROOT_PATH, baseName, childPath, parentPath, pathSegments, validatePath } from './path.js';
import type { WatchEvent } from './watches.js';
import { TesseraError, invalidArgument } from '../util/errors.js';
import { assert } from '../util/assert.js';
import { bytesToLatin1, latin1ToBytes } from '../util/bytes.js';

/** Largest data a node may hold. */
export const MAX_DATA_BYTES = 1024 * 1024;
/** Digits of the counter appended to sequential node names. */
export const SEQUENTIAL_DIGITS = 10;

/**
 * One node. Fields are plain numbers, and the data a one-byte string (bytesToLatin1), so that a
 * million of them stay small.
 */
export class LockNode {
  data = '';
  version = 0;
  cversion = 0;
  ctime = 0;
  mtime = 0;
  czxid = 0;
  mzxid = 0;
  ephemeralOwner = 0;
  children: Map<string, LockNode> | undefined = undefined;
  /** How far a snapshot in progress got with this node: see PreImages. */
  snapMark = 0;
}

/** A node's own fields, as a snapshot writes them. */
export interface NodeFields {
  readonly data: string;
  readonly version: number;
  readonly cversion: number;
  readonly ctime: number;
  readonly mtime: number;
  readonly czxid: number;
  readonly mzxid: number;
  readonly ephemeralOwner: number;
}

/**
 * Copy-on-write for a snapshot written a slice at a time while commands keep being applied
 * (snapshot-writer.ts). Before a mutation changes something the snapshot has not written yet,
 * the old value is kept here: a node's fields, or one child entry of a node (the child that
 * was there, or undefined for a name that did not exist). Only what changes is copied, so a
 * snapshot of a million nodes costs a few copies per write while it runs, not a copy of the
 * tree.
 *
 * `LockNode.snapMark` records the writer's progress: fieldsWritten(epoch) once the node's fields
 * are written, subtreeWritten(epoch) once all its descendants are too. Marks from earlier
 * snapshots are smaller, so nodes never need resetting.
 */
export class PreImages {
  readonly fields = new Map<LockNode, NodeFields>();
  readonly children = new Map<LockNode, Map<string, LockNode | undefined>>();

  constructor(readonly epoch: number) {}

  get fieldsWritten(): number {
    return 2 * this.epoch;
  }

  get subtreeWritten(): number {
    return 2 * this.epoch + 1;
  }

  /** Call before changing any of the node's fields. */
  beforeFields(node: LockNode): void {
    if (node.snapMark >= this.fieldsWritten || this.fields.has(node)) return;
    this.fields.set(node, {
      data: node.data,
      version: node.version,
      cversion: node.cversion,
      ctime: node.ctime,
      mtime: node.mtime,
      czxid: node.czxid,
      mzxid: node.mzxid,
      ephemeralOwner: node.ephemeralOwner,
    });
  }

  /** Call before adding or removing the child `name` of `parent`. */
  beforeChild(parent: LockNode, name: string): void {
    if (parent.snapMark === this.subtreeWritten) return;
    let old = this.children.get(parent);
    if (old === undefined) this.children.set(parent, (old = new Map()));
    if (!old.has(name)) old.set(name, parent.children?.get(name));
  }

  /** A node created after the snapshot began: not part of it. */
  born(node: LockNode): void {
    node.snapMark = this.subtreeWritten;
  }
}

export function statOf(node: LockNode): NodeStat {
  return {
    version: node.version,
    cversion: node.cversion,
    ctime: node.ctime,
    mtime: node.mtime,
    createdIndex: node.czxid,
    modifiedIndex: node.mzxid,
    ephemeralOwner: node.ephemeralOwner,
    dataLength: node.data.length,
    numChildren: node.children?.size ?? 0,
  };
}

function noNode(path: string): TesseraError {
  return new TesseraError('NOT_FOUND', `no node ${path}`, { path });
}

function badVersion(path: string, expected: number, actual: number): TesseraError {
  return new TesseraError('BAD_VERSION', `node ${path} is at version ${actual}, not ${expected}`, {
    path,
    expected,
    actual,
  });
}

/** Where a mutation happens: the command's log index and time stamp. */
export interface Stamp {
  readonly index: number;
  readonly time: number;
}

export interface CreateArgs {
  readonly path: string;
  readonly data: Uint8Array;
  readonly sequential?: boolean;
  /** Non-zero makes the node ephemeral, owned by this session. */
  readonly ephemeralOwner?: number;
}

export class Namespace {
  readonly root = new LockNode();
  /** Session → paths of the ephemeral nodes it owns. */
  private readonly ephemerals = new Map<number, Set<string>>();
  private nodeCount = 1;
  private undoLog: (() => void)[] | undefined;
  /** Set while a snapshot is written in slices. */
  private preImages: PreImages | undefined = undefined;
  private snapshotEpoch = 0;

  get size(): number {
    return this.nodeCount;
  }

  // ---- reads ----

  /** The node at `path`, or undefined. Throws INVALID_PATH for a malformed path. */
  lookup(path: string): LockNode | undefined {
    validatePath(path);
    let node: LockNode | undefined = this.root;
    for (const seg of pathSegments(path)) {
      node = node.children?.get(seg);
      if (node === undefined) return undefined;
    }
    return node;
  }

  private must(path: string): LockNode {
    const node = this.lookup(path);
    if (node === undefined) throw noNode(path);
    return node;
  }

  exists(path: string): NodeStat | undefined {
    const node = this.lookup(path);
    return node === undefined ? undefined : statOf(node);
  }

  stat(path: string): NodeStat {
    return statOf(this.must(path));
  }

  /** A copy of the node's data and its stat. */
  get(path: string): { readonly data: Uint8Array; readonly stat: NodeStat } {
    const node = this.must(path);
    return { data: latin1ToBytes(node.data), stat: statOf(node) };
  }

  /** The names of the node's children, sorted. */
  list(path: string): string[] {
    const node = this.must(path);
    return node.children === undefined ? [] : [...node.children.keys()].sort();
  }

  /** The paths of the ephemeral nodes `session` owns, sorted. */
  ephemeralsOf(session: number): string[] {
    const set = this.ephemerals.get(session);
    return set === undefined ? [] : [...set].sort();
  }

  // ---- copy-on-write (for a snapshot written in slices) ----

  /** Starts keeping the state as of now for a snapshot; one at a time. */
  beginCopyOnWrite(): PreImages {
    assert(this.preImages === undefined, 'a snapshot is already in progress');
    this.preImages = new PreImages(++this.snapshotEpoch);
    return this.preImages;
  }

  endCopyOnWrite(pre: PreImages): void {
    if (this.preImages === pre) this.preImages = undefined;
  }

  // ---- undo scope (for multi) ----

  beginUndo(): void {
    assert(this.undoLog === undefined, 'nested undo scope');
    this.undoLog = [];
  }

  commitUndo(): void {
    this.undoLog = undefined;
  }

  rollback(): void {
    const log = this.undoLog;
    assert(log !== undefined, 'rollback without an undo scope');
    this.undoLog = undefined;
    for (let i = log.length - 1; i >= 0; i--) log[i]!();
  }

  private onUndo(fn: () => void): void {
    this.undoLog?.push(fn);
  }

  // ---- mutations ----

  create(args: CreateArgs, at: Stamp, events: WatchEvent[]): OpResult {
    validatePath(args.path);
    if (args.path === ROOT_PATH) throw new TesseraError('ALREADY_EXISTS', 'the root exists');
    checkData(args.data, args.path);
    const parentP = parentPath(args.path);
    const parent = this.lookup(parentP);
    if (parent === undefined) throw noNode(parentP);
    if (parent.ephemeralOwner !== 0) {
      throw invalidArgument(`ephemeral node ${parentP} cannot have children`, { path: parentP });
    }
    let name = baseName(args.path);
    if (args.sequential === true) {
      name += String(parent.cversion).padStart(SEQUENTIAL_DIGITS, '0');
    }
    const path = childPath(parentP, name);
    if (args.sequential === true) validatePath(path);
    if (parent.children?.has(name) === true) {
      throw new TesseraError('ALREADY_EXISTS', `node ${path} exists`, { path });
    }

    const node = new LockNode();
    this.preImages?.born(node);
    node.data = bytesToLatin1(args.data);
    node.ctime = node.mtime = at.time;
    node.czxid = node.mzxid = at.index;
    node.ephemeralOwner = args.ephemeralOwner ?? 0;
    this.attach(parent, name, node);
    if (node.ephemeralOwner !== 0) this.addEphemeral(node.ephemeralOwner, path);
    this.nodeCount++;
    this.onUndo(() => {
      this.nodeCount--;
      if (node.ephemeralOwner !== 0) this.removeEphemeral(node.ephemeralOwner, path);
      this.detach(parent, name, true);
    });
    events.push({ path, type: 'created' }, { path: parentP, type: 'childrenChanged' });
    return { type: 'created', path, stat: statOf(node) };
  }

  set(
    path: string,
    data: Uint8Array,
    expectedVersion: number | undefined,
    at: Stamp,
    events: WatchEvent[],
  ): OpResult {
    const node = this.must(path);
    checkData(data, path);
    if (expectedVersion !== undefined && expectedVersion !== node.version) {
      throw badVersion(path, expectedVersion, node.version);
    }
    this.preImages?.beforeFields(node);
    const before = { data: node.data, version: node.version, mtime: node.mtime, mz: node.mzxid };
    node.data = bytesToLatin1(data);
    node.version++;
    node.mtime = at.time;
    node.mzxid = at.index;
    this.onUndo(() => {
      node.data = before.data;
      node.version = before.version;
      node.mtime = before.mtime;
      node.mzxid = before.mz;
    });
    events.push({ path, type: 'dataChanged' });
    return { type: 'set', path, stat: statOf(node) };
  }

  delete(path: string, expectedVersion: number | undefined, events: WatchEvent[]): OpResult {
    if (path === ROOT_PATH) {
      validatePath(path);
      throw invalidArgument('the root cannot be deleted', { path });
    }
    const node = this.must(path);
    if (expectedVersion !== undefined && expectedVersion !== node.version) {
      throw badVersion(path, expectedVersion, node.version);
    }
    if ((node.children?.size ?? 0) > 0) {
      throw new TesseraError('NOT_EMPTY', `node ${path} has children`, { path });
    }
    const parentP = parentPath(path);
    const parent = this.lookup(parentP);
    assert(parent !== undefined, `parent of ${path} missing`);
    const name = baseName(path);
    this.detach(parent, name);
    if (node.ephemeralOwner !== 0) this.removeEphemeral(node.ephemeralOwner, path);
    this.nodeCount--;
    this.onUndo(() => {
      this.nodeCount++;
      if (node.ephemeralOwner !== 0) this.addEphemeral(node.ephemeralOwner, path);
      this.attach(parent, name, node, true);
    });
    events.push({ path, type: 'deleted' }, { path: parentP, type: 'childrenChanged' });
    return { type: 'deleted', path };
  }

  check(path: string, expectedVersion: number | undefined): OpResult {
    const node = this.must(path);
    if (expectedVersion !== undefined && expectedVersion !== node.version) {
      throw badVersion(path, expectedVersion, node.version);
    }
    return { type: 'checked', path };
  }

  /**
   * Applies `ops` all or nothing: if one fails, the ones before it are undone, no events
   * escape, and the error (with `opIndex` in its details) is thrown.
   */
  multi(
    ops: readonly MultiOp[],
    at: Stamp,
    events: WatchEvent[],
    sessionExists: (id: number) => boolean,
  ): OpResult[] {
    const mine: WatchEvent[] = [];
    const results: OpResult[] = [];
    this.beginUndo();
    let i = 0;
    try {
      for (; i < ops.length; i++) {
        const op = ops[i]!;
        switch (op.type) {
          case 'create':
            results.push(this.create(createArgs(op, sessionExists), at, mine));
            break;
          case 'set':
            results.push(this.set(op.path, op.data, op.expectedVersion, at, mine));
            break;
          case 'delete':
            results.push(this.delete(op.path, op.expectedVersion, mine));
            break;
          case 'check':
            results.push(this.check(op.path, op.expectedVersion));
            break;
        }
      }
    } catch (e) {
      this.rollback();
      if (e instanceof TesseraError && e.code !== 'ASSERTION_FAILED') {
        throw new TesseraError(e.code, `multi op ${i}: ${e.message}`, { ...e.details, opIndex: i });
      }
      throw e;
    }
    this.commitUndo();
    events.push(...mine);
    return results;
  }

  // ---- internals ----

  private attach(parent: LockNode, name: string, node: LockNode, undoing = false): void {
    this.beforeChildChange(parent, name);
    parent.children ??= new Map();
    parent.children.set(name, node);
    if (undoing) parent.cversion--;
    else parent.cversion++;
  }

  private detach(parent: LockNode, name: string, undoing = false): void {
    this.beforeChildChange(parent, name);
    const children = parent.children;
    assert(children !== undefined && children.delete(name), `detach of missing child ${name}`);
    if (children.size === 0) parent.children = undefined;
    if (undoing) parent.cversion--;
    else parent.cversion++;
  }

  private beforeChildChange(parent: LockNode, name: string): void {
    const pre = this.preImages;
    if (pre === undefined) return;
    pre.beforeFields(parent); // its cversion
    pre.beforeChild(parent, name);
  }

  private addEphemeral(session: number, path: string): void {
    let set = this.ephemerals.get(session);
    if (set === undefined) this.ephemerals.set(session, (set = new Set()));
    set.add(path);
  }

  private removeEphemeral(session: number, path: string): void {
    const set = this.ephemerals.get(session);
    assert(set !== undefined && set.delete(path), `ephemeral ${path} not indexed`);
    if (set.size === 0) this.ephemerals.delete(session);
  }

  /** Used by restore: places an already-built node without events or version changes. */
  restoreChild(parent: LockNode, name: string, node: LockNode, path: string): void {
    parent.children ??= new Map();
    parent.children.set(name, node);
    if (node.ephemeralOwner !== 0) this.addEphemeral(node.ephemeralOwner, path);
    this.nodeCount++;
  }
}

function checkData(data: Uint8Array, path: string): void {
  if (!(data instanceof Uint8Array)) throw invalidArgument('data must be bytes', { path });
  if (data.length > MAX_DATA_BYTES) {
    throw invalidArgument(`data of ${data.length} bytes exceeds ${MAX_DATA_BYTES}`, { path });
  }
}

/** Checks a create op's ephemeral/session fields and turns it into namespace arguments. */
export function createArgs(
  op: {
    readonly path: string;
    readonly data: Uint8Array;
    readonly ephemeral?: boolean;
    readonly sequential?: boolean;
    readonly session?: number;
  },
  sessionExists: (id: number) => boolean,
): CreateArgs {
  if (op.ephemeral !== true) {
    return { path: op.path, data: op.data, sequential: op.sequential === true };
  }
  if (op.session === undefined) {
    throw invalidArgument(`ephemeral node ${op.path} needs a session`, { path: op.path });
  }
  if (!sessionExists(op.session)) {
    throw new TesseraError('SESSION_EXPIRED', `session ${op.session} does not exist`, {
      session: op.session,
    });
  }
  return {
    path: op.path,
    data: op.data,
    sequential: op.sequential === true,
    ephemeralOwner: op.session,
  };
}
