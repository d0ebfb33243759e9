/**
 * Writes a lock snapshot a slice at a time, so that a replica holding a million nodes does not
 * stop serving for the second its serialization takes: between slices, the Raft driver steps
 * messages, proposals and reads, and applies commands. The snapshot still holds the state as of
 * the moment it began, because the namespace copies on write what the writer has not reached
 * yet (PreImages in namespace.ts).
 *
 * The tree is written depth-first with children sorted by name, exactly as a snapshot taken at
 * once (docs/formats/lock-snapshot.md); the CRC32C is computed slice by slice.
 *
 * What still runs in one go: the header with sessions, the locks, and the sort of one node's
 * child names (a directory of a million children sorts in 50–300 ms).
 */
import type { LockNode, NodeFields, PreImages } from './namespace.js';
import type { ByteWriter } from '../util/byte-io.js';
import { assert } from '../util/assert.js';
import { crc32c } from '../util/crc32c.js';

/** How much one step writes at most: whichever limit is reached first. */
export interface SnapshotSlice {
  readonly nodes: number;
  readonly bytes: number;
}

/**
 * ~4 ms of a replica's time at ~1 µs a node of 100 bytes: the most a request waits behind one
 * slice. Bytes bound the slices of large nodes (data up to 1 MiB each).
 */
export const SNAPSHOT_SLICE_DEFAULT: SnapshotSlice = { nodes: 4096, bytes: 1024 * 1024 };

/** Writes everything in one step. */
export const SNAPSHOT_SLICE_WHOLE: SnapshotSlice = { nodes: Infinity, bytes: Infinity };

interface Frame {
  readonly node: LockNode;
  readonly names: readonly string[];
  next: number;
}

/** The node tree, depth-first, as it was when `pre` began. */
class TreeWriter {
  private readonly stack: Frame[] = [];
  private started = false;

  constructor(
    private readonly root: LockNode,
    private readonly pre: PreImages,
    private readonly w: ByteWriter,
  ) {}

  /** Writes until the slice is used up; true once the whole tree is written. */
  write(slice: SnapshotSlice): boolean {
    const w = this.w;
    const bytesEnd = w.length + slice.bytes;
    let nodes = slice.nodes;
    if (!this.started) {
      this.started = true;
      this.visit(this.root);
      nodes--;
    }
    const stack = this.stack;
    while (stack.length > 0) {
      if (nodes <= 0 || w.length >= bytesEnd) return false;
      const f = stack[stack.length - 1]!;
      if (f.next === f.names.length) {
        this.subtreeDone(f.node);
        stack.pop();
        continue;
      }
      const name = f.names[f.next++]!;
      w.utf8(name);
      this.visit(this.childOf(f.node, name));
      nodes--;
    }
    return true;
  }

  private visit(node: LockNode): void {
    const pre = this.pre;
    const f: NodeFields = pre.fields.get(node) ?? node;
    pre.fields.delete(node);
    node.snapMark = pre.fieldsWritten;
    const w = this.w;
    w.latin1(f.data);
    w.varint(f.version).varint(f.cversion).varint(f.ctime).varint(f.mtime);
    w.varint(f.czxid).varint(f.mzxid).varint(f.ephemeralOwner);
    const names = this.namesOf(node);
    w.varint(names.length);
    if (names.length === 0) this.subtreeDone(node);
    else this.stack.push({ node, names, next: 0 });
  }

  private subtreeDone(node: LockNode): void {
    node.snapMark = this.pre.subtreeWritten;
    this.pre.children.delete(node);
  }

  /** The node's child names when the snapshot began, sorted. */
  private namesOf(node: LockNode): string[] {
    const live = node.children;
    const old = this.pre.children.get(node);
    if (old === undefined) return live === undefined ? [] : [...live.keys()].sort();
    const names = new Set(live?.keys());
    for (const [name, child] of old) {
      if (child === undefined) names.delete(name);
      else names.add(name);
    }
    return [...names].sort();
  }

  private childOf(node: LockNode, name: string): LockNode {
    const old = this.pre.children.get(node);
    const child = old?.has(name) === true ? old.get(name) : node.children?.get(name);
    assert(child !== undefined, `snapshot lost child ${name}`);
    return child;
  }
}

/**
 * One snapshot in progress. `head` holds everything before the tree (already written), `tail`
 * everything after it; `release` ends the copy-on-write, whether the snapshot completes or is
 * cancelled.
 */
export class LockSnapshotWriter {
  private readonly tree: TreeWriter;
  private crc: number | undefined = undefined;
  private crcFrom = 0;
  private finished = false;

  constructor(
    private readonly w: ByteWriter,
    root: LockNode,
    private readonly pre: PreImages,
    private readonly tail: Uint8Array,
    private readonly slice: SnapshotSlice,
    private readonly release: (pre: PreImages, bytes: number) => void,
  ) {
    this.tree = new TreeWriter(root, pre, w);
  }

  /** Writes the next slice; the snapshot's bytes once it is complete. */
  step(): Uint8Array | undefined {
    assert(!this.finished, 'snapshot step after it finished or was cancelled');
    const w = this.w;
    const done = this.tree.write(this.slice);
    if (done) w.bytes(this.tail);
    this.crc = crc32c(w.peek().subarray(this.crcFrom), this.crc);
    this.crcFrom = w.length;
    if (!done) return undefined;
    w.u32(this.crc);
    this.finish(w.length);
    return w.take();
  }

  cancel(): void {
    if (!this.finished) this.finish(0);
  }

  private finish(bytes: number): void {
    this.finished = true;
    this.release(this.pre, bytes);
  }
}
