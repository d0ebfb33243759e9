/**
 * The memtable's sorted map: a skiplist of unique byte-string keys with byte-string values,
 * laid out flat in an arena of typed arrays rather than as one JS object per entry.
 *
 * Why flat: a search over a million entries is bound by dependent cache misses, not by
 * instructions. With plain objects each step touches a node, its link array, the key object
 * and the key bytes (four misses); here a step touches one node, whose links sit beside the
 * key bytes. Each link also carries the first four bytes of the key it points to, so most
 * steps decide "advance or descend" from the current node alone and only move to a node when
 * they advance into it. The arena holds no JS objects per entry, so a full memtable costs the
 * garbage collector nothing, and its size in bytes is exact. (1M random 40-byte keys, inserted
 * then sought in shuffled order: object nodes 3.8 s insert / 5.6 s seek; typed-array links
 * with key objects 1.9 s / 3.0 s; keys in the nodes 1.05 s / 2.0 s; plus key prefixes in the
 * links, this layout, 0.9 s / 1.4 s. Under a shared machine's load the seeks run to ~1.9 s.)
 *
 * Node layout, in 32-bit words, at a word address (see below):
 *
 *     [0] key length in bytes   [1] value length in bytes   [2] height h (1..skiplistHeightMax)
 *     [3] value chunk           [4] value offset in that chunk (bytes)
 *     [5] run end: a node of this entry's run at or after it (see Runs below)
 *     [6 + 2l] address of the next node at level l (0: none), for l in [0, h)
 *     [7 + 2l] prefix of that next node's key (keyPrefix below)
 *     then the key bytes (word aligned, so keys compare a word at a time), padded to a word.
 *
 * Values live apart, in their own byte chunks: searches never read them, and keeping them out
 * of the nodes keeps the searched memory small whatever the value sizes (with 100-byte values
 * inline, 1M seeks measured 1.9 s against 1.5 s with none).
 *
 * The head node (address 0) has no key and the full height; address 0 doubles as "none", since
 * no link ever points at the head.
 *
 * Arena: node chunks of ArrayBuffer whose sizes double from 4 KiB (a tablet server holds
 * thousands of mostly idle memtables) up to 256 MiB, and value chunks doubling from 4 KiB to
 * 16 MiB (a larger value gets a chunk of its own); nothing is ever copied or freed, so growing
 * never stalls a writer. A word address is `chunk << 26 | word offset in chunk`. A node never
 * straddles two chunks; the unused tail of a chunk is left behind when a node does not fit.
 *
 * Levels: each node's height is 1 + the number of trailing zero bits of one `uint32()` draw
 * (branching factor 2), from the injected random source, so a structure is a pure function of
 * the seed and the inserts. A search's cost is the nodes it advances into (cache misses);
 * descending within a node is nearly free. Branching 2 sought 1M keys in 1.4 s against 1.7 s
 * for branching 4; p = 3/4 per level was ~12% faster again but costs 16 more bytes an entry
 * and ~8% on inserts, the memtable's hot path, so it was not taken.
 *
 * Runs: with `runSuffixBytes` = T > 0, entries whose keys are equal but for their last T bytes
 * form a run (the store's versions of one column: same row, family and qualifier, different
 * timestamp and sequence number), and each node links to a later node of its own run — the
 * run's last entry when it was inserted. The caller promises that no key's run part (all but
 * its last T bytes) is a proper prefix of another's, as the store's self-delimiting column
 * parts are not: then every key between two entries of a run belongs to that run. A new entry
 * inserted in front of a node of its run takes that node's link; anything else links to
 * itself. Entries inserted into a run later may make a link fall short of the run's end, never
 * past it, and never outside the run, so `runEnd` is a safe place to resume a forward search
 * that wants to leave the run: a point read skipping the hundreds of older versions of a hot
 * column jumps over them in one step (`seekForward`).
 *
 * Readers and the writer: JS runs one thing at a time, so a reader never sees a half-linked
 * node. A node, once linked, never moves or changes its key or value, so node handles stay
 * valid for the life of the skiplist, and a cursor that follows `next` sees every entry added
 * later whose key sorts after the cursor's current key, and none that sorts before it.
 */
import type { Random } from '../../env/types.js';
import { assert } from '../../util/assert.js';
import { invalidArgument } from '../../util/errors.js';

/** A handle on one entry: the node's word address. `nilNode` means none. */
export type SkiplistNode = number;
export const nilNode: SkiplistNode = 0;

/** The only draw the skiplist needs; Env's `Random` and util's `Prng` both provide it. */
export type HeightRandom = Pick<Random, 'uint32'>;

/** Tallest tower. Branching 2: enough for 2^24 (16M) entries before the top level crowds. */
export const skiplistHeightMax = 24;

/** Largest key + value one entry may hold. Far above any cell the engine accepts. */
export const skiplistEntryBytesMax = 64 * 1024 * 1024;

const headerWords = 6;
const offKeyLength = 0;
const offValueLength = 1;
const offHeight = 2;
const offValueChunk = 3;
const offValueOffset = 4;
const offRunEnd = 5;
const offLinks = 6; // link at level l: next at offLinks + 2l, its key prefix at offLinks + 2l + 1

const chunkShift = 26;
const chunkOffsetMask = (1 << chunkShift) - 1;
const chunkWordsFirst = 1024; // 4 KiB
const chunkWordsMax = 1 << chunkShift; // 256 MiB
const chunkCountMax = 1 << (31 - chunkShift); // addresses stay positive int32

const headWords = headerWords + 2 * skiplistHeightMax;

const valueChunkBytesFirst = 4096;
const valueChunkBytesMax = 16 * 1024 * 1024; // larger values get a chunk of their own size

/**
 * The first four bytes of `key` as a signed int whose order is the keys' byte order (bytes
 * past the end count as zero, so a tie still needs a full comparison).
 */
function keyPrefix(key: Uint8Array): number {
  const n = key.length;
  if (n >= 4) return ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) ^ 0x80000000;
  let p = 0;
  for (let i = 0; i < 4; i++) p = (p << 8) | (i < n ? key[i]! : 0);
  return p ^ 0x80000000;
}

export class Skiplist {
  private readonly random: HeightRandom;
  private readonly runSuffixBytes: number;
  /** Int32 and byte views of each arena chunk, by chunk number. */
  private readonly chunkInts: Int32Array[] = [];
  private readonly chunkBytes: Uint8Array[] = [];
  private chunkWords = 0; // size of the current (last) chunk
  private freeWord = 0; // next free word in the current chunk
  private usedWords = 0; // words handed out to nodes, head included
  private readonly valueChunks: Uint8Array[] = [];
  private valueFree = 0; // next free byte in the last value chunk
  private valueBytesUsed = 0;
  private allocatedBytes = 0; // key and value chunks, used or not
  private height = 1; // tallest tower in use
  private entries = 0;
  /** The last node before the target at each level, filled by findBefore for insert. */
  private readonly before = new Int32Array(skiplistHeightMax);
  /** The search target copied to word alignment, for word-at-a-time comparison. */
  private targetWords = new Int32Array(16);
  private targetBytes = new Uint8Array(this.targetWords.buffer);

  /** `runSuffixBytes`: see Runs above; 0 (the default) makes every entry its own run. */
  constructor(random: HeightRandom, runSuffixBytes = 0) {
    assert(
      Number.isSafeInteger(runSuffixBytes) && runSuffixBytes >= 0,
      `runSuffixBytes must be an integer >= 0: ${runSuffixBytes}`,
    );
    this.random = random;
    this.runSuffixBytes = runSuffixBytes;
    this.addChunk(headWords);
    const head = this.allocate(headWords);
    assert(head === nilNode, 'skiplist head must sit at address 0');
    this.chunkInts[0]![offHeight] = skiplistHeightMax;
  }

  /** Number of entries. */
  get count(): number {
    return this.entries;
  }

  /** Bytes of arena handed out to entries: keys, values, links and headers (exact). */
  get bytesUsed(): number {
    return this.usedWords * 4 + this.valueBytesUsed;
  }

  /** Bytes of arena allocated, used or not. */
  get bytesAllocated(): number {
    return this.allocatedBytes;
  }

  /**
   * Adds an entry, copying the key and value into the arena (the caller may reuse its buffers).
   * The key must not be present: a duplicate is an assertion failure. Returns the new node.
   */
  insert(key: Uint8Array, value: Uint8Array): SkiplistNode {
    const entryBytes = key.length + value.length;
    if (entryBytes > skiplistEntryBytesMax) {
      throw invalidArgument(
        `memtable entry of ${entryBytes} bytes exceeds ${skiplistEntryBytesMax} bytes`,
        { keyBytes: key.length, valueBytes: value.length },
      );
    }
    const prefix = keyPrefix(key);
    const before = this.before;
    const prev = this.findBefore(key, prefix, before);
    const found = this.link(prev, 0);
    assert(
      found === nilNode ||
        this.linkPrefix(prev, 0) !== prefix ||
        this.compareNode(found, key) !== 0,
      'skiplist insert of a key already present',
    );

    const height = this.randomHeight();
    for (let l = this.height; l < height; l++) before[l] = nilNode; // the head
    if (height > this.height) this.height = height;

    const words = headerWords + 2 * height + ((key.length + 3) >>> 2);
    const node = this.allocate(words);
    const ints = this.chunkInts[node >>> chunkShift]!;
    const bytes = this.chunkBytes[node >>> chunkShift]!;
    const at = node & chunkOffsetMask;
    ints[at + offKeyLength] = key.length;
    ints[at + offValueLength] = value.length;
    ints[at + offHeight] = height;
    ints[at + offRunEnd] =
      found !== nilNode && this.sameRun(found, key) ? this.runEndOf(found) : node;
    bytes.set(key, (at + offLinks + 2 * height) << 2);
    this.storeValue(value, ints, at);
    // Link bottom-up: JS runs this to the end before any reader looks, so order is free.
    for (let l = 0; l < height; l++) {
      const p = before[l]!;
      const pInts = this.chunkInts[p >>> chunkShift]!;
      const pAt = (p & chunkOffsetMask) + offLinks + 2 * l;
      ints[at + offLinks + 2 * l] = pInts[pAt]!;
      ints[at + offLinks + 2 * l + 1] = pInts[pAt + 1]!;
      pInts[pAt] = node;
      pInts[pAt + 1] = prefix;
    }
    this.entries++;
    return node;
  }

  /** The first entry whose key is >= target, or nilNode. */
  seek(target: Uint8Array): SkiplistNode {
    return this.link(this.findBefore(target, keyPrefix(target), undefined), 0);
  }

  /**
   * The first entry whose key is >= target, searching forward from `from`, an entry whose key
   * is < target (a finger search): O(log d) steps for a target d entries ahead, where `seek`
   * starts from the head and costs O(log n) whatever the distance. A point read skipping the
   * older versions of a hot column lands a few hundred entries ahead, in a memtable of a
   * million; and YCSB's keys all share their first bytes, so every step of a search from the
   * head compares whole keys.
   */
  seekFrom(from: SkiplistNode, target: Uint8Array): SkiplistNode {
    assert(from !== nilNode, 'seekFrom() of no node');
    this.loadTarget(target);
    return this.seekFromLoaded(from, target);
  }

  /**
   * The first entry whose key is >= target, as `seek`, for a cursor on `from` (nilNode: none):
   * when the target lies ahead of it, a finger search from there — or from the end of its run
   * when the target lies past that too — instead of a search from the head. The target is
   * loaded for comparison once for all of it.
   */
  seekForward(from: SkiplistNode, target: Uint8Array): SkiplistNode {
    if (from === nilNode) return this.seek(target);
    this.loadTarget(target);
    if (this.compareNodeLoaded(from, target) >= 0) return this.seek(target);
    const end = this.runEndOf(from);
    const start = end !== from && this.compareNodeLoaded(end, target) < 0 ? end : from;
    return this.seekFromLoaded(start, target);
  }

  /** seekFrom after loadTarget(target). */
  private seekFromLoaded(from: SkiplistNode, target: Uint8Array): SkiplistNode {
    const chunkInts = this.chunkInts;
    const prefix = keyPrefix(target);
    let x = from;
    let ints = chunkInts[x >>> chunkShift]!;
    let at = x & chunkOffsetMask;
    // Levels at or above `ceiling` are known to overshoot: a link that overshot from an
    // earlier node leads, from every later node tall enough to hold it, to the same node.
    let ceiling = skiplistHeightMax;
    let level = Math.min(ints[at + offHeight]!, ceiling) - 1;
    while (level >= 0) {
      const link = at + offLinks + 2 * level;
      const next = ints[link]!;
      const p = ints[link + 1]!;
      if (
        next === nilNode ||
        p > prefix ||
        (p === prefix && this.compareNodeLoaded(next, target) >= 0)
      ) {
        ceiling = level;
        level--;
        continue;
      }
      x = next;
      ints = chunkInts[next >>> chunkShift]!;
      at = next & chunkOffsetMask;
      level = Math.min(ints[at + offHeight]!, ceiling) - 1;
    }
    return this.link(x, 0);
  }

  /** The first entry, or nilNode when empty. */
  first(): SkiplistNode {
    return this.link(nilNode, 0);
  }

  /** The entry after `node`, or nilNode. */
  next(node: SkiplistNode): SkiplistNode {
    assert(node !== nilNode, 'next() of no node');
    return this.link(node, 0);
  }

  /** Sign of (key of `node`) − key, in byte order. */
  compareKey(node: SkiplistNode, key: Uint8Array): number {
    assert(node !== nilNode, 'compareKey() of no node');
    return this.compareNode(node, key);
  }

  /**
   * A node of `node`'s run at or after it (`node` itself when it knows none): every entry
   * between the two belongs to the run. See Runs above.
   */
  runEnd(node: SkiplistNode): SkiplistNode {
    assert(node !== nilNode, 'runEnd() of no node');
    return this.runEndOf(node);
  }

  private runEndOf(node: SkiplistNode): SkiplistNode {
    return this.chunkInts[node >>> chunkShift]![(node & chunkOffsetMask) + offRunEnd]!;
  }

  /** Whether the key of `node` and `key` are equal but for their last runSuffixBytes bytes. */
  private sameRun(node: SkiplistNode, key: Uint8Array): boolean {
    const suffix = this.runSuffixBytes;
    if (suffix === 0 || key.length <= suffix) return false;
    const ints = this.chunkInts[node >>> chunkShift]!;
    const at = node & chunkOffsetMask;
    if (ints[at + offKeyLength] !== key.length) return false;
    return this.keyHasPrefix(node, key, key.length - suffix);
  }

  /** Whether the key of `node` starts with prefix[0, length), without making a view. */
  keyHasPrefix(node: SkiplistNode, prefix: Uint8Array, length: number): boolean {
    assert(node !== nilNode, 'keyHasPrefix() of no node');
    const ints = this.chunkInts[node >>> chunkShift]!;
    const at = node & chunkOffsetMask;
    if (ints[at + offKeyLength]! < length) return false;
    const bytes = this.chunkBytes[node >>> chunkShift]!;
    const start = (at + offLinks + 2 * ints[at + offHeight]!) << 2;
    for (let i = length - 1; i >= 0; i--) if (bytes[start + i] !== prefix[i]) return false;
    return true;
  }

  /** The key of `node`: a view into the arena, valid for the skiplist's life. */
  key(node: SkiplistNode): Uint8Array {
    assert(node !== nilNode, 'key() of no node');
    const ints = this.chunkInts[node >>> chunkShift]!;
    const at = node & chunkOffsetMask;
    const start = (at + offLinks + 2 * ints[at + offHeight]!) << 2;
    return this.chunkBytes[node >>> chunkShift]!.subarray(start, start + ints[at + offKeyLength]!);
  }

  /** The value of `node`: a view into the arena, valid for the skiplist's life. */
  value(node: SkiplistNode): Uint8Array {
    assert(node !== nilNode, 'value() of no node');
    const ints = this.chunkInts[node >>> chunkShift]!;
    const at = node & chunkOffsetMask;
    const start = ints[at + offValueOffset]!;
    const chunk = this.valueChunks[ints[at + offValueChunk]!]!;
    return chunk.subarray(start, start + ints[at + offValueLength]!);
  }

  /**
   * The last node whose key is < target (the head when none), recording it per level in
   * `before` when given. Steps decide on the link's key prefix and compare whole keys only on
   * a prefix tie; a node already found >= target at a higher level is not compared again.
   */
  private findBefore(target: Uint8Array, prefix: number, before: Int32Array | undefined): number {
    const chunkInts = this.chunkInts;
    let targetReady = false;
    let x = nilNode;
    let ints = chunkInts[0]!;
    let at = 0;
    let stop = nilNode; // a node known to be >= target
    for (let level = this.height - 1; level >= 0; level--) {
      for (;;) {
        const link = at + offLinks + 2 * level;
        const next = ints[link]!;
        if (next === nilNode || next === stop) break;
        const p = ints[link + 1]!;
        if (p > prefix) {
          stop = next;
          break;
        }
        if (p === prefix) {
          if (!targetReady) {
            this.loadTarget(target);
            targetReady = true;
          }
          if (this.compareNodeLoaded(next, target) >= 0) {
            stop = next;
            break;
          }
        }
        x = next;
        ints = chunkInts[next >>> chunkShift]!;
        at = next & chunkOffsetMask;
      }
      if (before !== undefined) before[level] = x;
    }
    return x;
  }

  /** Copies the target to word alignment for compareNodeLoaded. */
  private loadTarget(target: Uint8Array): void {
    if (target.length > this.targetBytes.length) {
      let words = this.targetWords.length;
      while (words * 4 < target.length) words *= 2;
      this.targetWords = new Int32Array(words);
      this.targetBytes = new Uint8Array(this.targetWords.buffer);
    }
    this.targetBytes.set(target);
  }

  /** Sign of (key of node) - target, in byte order. */
  private compareNode(node: SkiplistNode, target: Uint8Array): number {
    this.loadTarget(target);
    return this.compareNodeLoaded(node, target);
  }

  /**
   * compareNode after loadTarget(target): equal words are skipped a word at a time (word
   * equality is byte equality in any endianness), then bytes decide.
   */
  private compareNodeLoaded(node: SkiplistNode, target: Uint8Array): number {
    const ints = this.chunkInts[node >>> chunkShift]!;
    const at = node & chunkOffsetMask;
    const length = ints[at + offKeyLength]!;
    const targetLength = target.length;
    const keyWord = at + offLinks + 2 * ints[at + offHeight]!;
    const n = length < targetLength ? length : targetLength;
    const words = n >>> 2;
    const targetWords = this.targetWords;
    let w = 0;
    while (w < words && ints[keyWord + w] === targetWords[w]) w++;
    const bytes = this.chunkBytes[node >>> chunkShift]!;
    const keyByte = keyWord << 2;
    for (let i = w << 2; i < n; i++) {
      const d = bytes[keyByte + i]! - target[i]!;
      if (d !== 0) return d;
    }
    return length - targetLength;
  }

  private link(node: SkiplistNode, level: number): SkiplistNode {
    return this.chunkInts[node >>> chunkShift]![(node & chunkOffsetMask) + offLinks + 2 * level]!;
  }

  private linkPrefix(node: SkiplistNode, level: number): number {
    const at = (node & chunkOffsetMask) + offLinks + 2 * level + 1;
    return this.chunkInts[node >>> chunkShift]![at]!;
  }

  private randomHeight(): number {
    const r = this.random.uint32();
    if (r === 0) return skiplistHeightMax;
    const trailingZeros = 31 - Math.clz32(r & -r);
    return trailingZeros + 1 < skiplistHeightMax ? trailingZeros + 1 : skiplistHeightMax;
  }

  private allocate(words: number): number {
    if (this.freeWord + words > this.chunkWords) this.addChunk(words);
    const address = ((this.chunkInts.length - 1) << chunkShift) | this.freeWord;
    this.freeWord += words;
    this.usedWords += words;
    return address;
  }

  /** Copies `value` into the value chunks and records where in the node at `at` of `ints`. */
  private storeValue(value: Uint8Array, ints: Int32Array, at: number): void {
    const length = value.length;
    let chunk = this.valueChunks[this.valueChunks.length - 1];
    if (chunk === undefined || this.valueFree + length > chunk.length) {
      const last = chunk === undefined ? valueChunkBytesFirst / 2 : chunk.length;
      const size = Math.max(Math.min(last * 2, valueChunkBytesMax), length);
      chunk = new Uint8Array(size);
      this.valueChunks.push(chunk);
      this.allocatedBytes += size;
      this.valueFree = 0;
    }
    chunk.set(value, this.valueFree);
    ints[at + offValueChunk] = this.valueChunks.length - 1;
    ints[at + offValueOffset] = this.valueFree;
    this.valueFree += length;
    this.valueBytesUsed += length;
  }

  private addChunk(wordsNeeded: number): void {
    assert(this.chunkInts.length < chunkCountMax, 'skiplist arena is full');
    let words =
      this.chunkWords === 0 ? chunkWordsFirst : Math.min(this.chunkWords * 2, chunkWordsMax);
    while (words < wordsNeeded) words *= 2;
    assert(words <= chunkWordsMax, 'skiplist node larger than a chunk');
    const buffer = new ArrayBuffer(words * 4);
    this.allocatedBytes += words * 4;
    this.chunkInts.push(new Int32Array(buffer));
    this.chunkBytes.push(new Uint8Array(buffer));
    this.chunkWords = words;
    this.freeWord = 0;
  }
}
