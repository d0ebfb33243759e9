/**
 * Walks the entries of one Block: seek by binary search over the restart points and a short
 * linear scan, then sequential next(). Synchronous (the block is in memory).
 *
 * The current key is rebuilt in a reused buffer (each entry stores only its suffix), and key()
 * and value() make their views lazily, so scanning and seeking allocate nothing per entry
 * unless the caller asks for the entry. Views stay valid until the next move, as the
 * EntryIterator contract allows; a caller that keeps a key copies it.
 */
import { assert } from '../../util/assert.js';
import { type Block, blockCorruption } from './block.js';
import { compareFrom, compareRange } from './compare.js';

/**
 * V8 keeps typed arrays of up to 64 bytes on its heap and gives larger ones a separately
 * allocated backing store, several times slower to create and to collect; most keys fit. But
 * the first view (subarray) of an on-heap array moves its bytes off the heap, which costs
 * about a microsecond: key() copies short keys rather than viewing them.
 */
const keyBytesOnHeap = 64;
/** Entries a seek's scan notes before it grows its arrays (a restart interval's worth). */
const initialWindowEntries = 32;
/** A varint of a 32-bit length has at most 5 bytes. */
const varint32BytesMax = 5;

const noBytes = new Uint8Array(0);
const noRestarts = new Uint32Array(0);

/**
 * Where each entry's key suffix starts, and its shared count, during a seek's scan. Shared by
 * all iterators: a scan runs synchronously from start to end, so no two ever overlap.
 */
let windowKeyAt = new Int32Array(initialWindowEntries);
let windowShared = new Int32Array(initialWindowEntries);

export class BlockIterator {
  private block: Block | undefined;
  private data: Uint8Array = noBytes;
  private restarts: Uint32Array = noRestarts;
  private limit = 0;
  private isValid = false;
  /** Offset of the entry after the current one (where next() decodes). */
  private nextEntry = 0;
  /** Grown on first use: iterators made for one point read should cost little to create. */
  private keyBuf = noBytes;
  private keyLength = 0;
  private valueStart = 0;
  private valueLength = 0;
  private keyView: Uint8Array | undefined;
  private valueView: Uint8Array | undefined;
  /** Position after the last varint readVarint decoded. */
  private cursor = 0;
  /** The last entry header readEntryHeader decoded. */
  private hShared = 0;
  private hUnshared = 0;
  private hValueLength = 0;

  /** Points the iterator at `block`, unpositioned. */
  setBlock(block: Block): void {
    this.block = block;
    this.data = block.data;
    this.restarts = block.restarts;
    this.limit = block.limit;
    this.isValid = false;
  }

  /** Forgets the block (not valid until setBlock). */
  clear(): void {
    this.block = undefined;
    this.data = noBytes;
    this.restarts = noRestarts;
    this.limit = 0;
    this.isValid = false;
  }

  get currentBlock(): Block | undefined {
    return this.block;
  }

  valid(): boolean {
    return this.isValid;
  }

  key(): Uint8Array {
    assert(this.isValid, 'BlockIterator.key on an invalid iterator');
    // A view of a small (on-heap) typed array makes V8 move its bytes off the heap, which
    // costs more than copying a short key; a large buffer is off the heap already.
    return (this.keyView ??=
      this.keyBuf.length <= keyBytesOnHeap
        ? this.keyBuf.slice(0, this.keyLength)
        : this.keyBuf.subarray(0, this.keyLength));
  }

  value(): Uint8Array {
    assert(this.isValid, 'BlockIterator.value on an invalid iterator');
    return (this.valueView ??= this.data.subarray(
      this.valueStart,
      this.valueStart + this.valueLength,
    ));
  }

  /** Sign of (current key) − target, in byte order, without making a view of the key. */
  compareKey(target: Uint8Array): number {
    assert(this.isValid, 'BlockIterator.compareKey on an invalid iterator');
    return compareRange(this.keyBuf, 0, this.keyLength, target);
  }

  seekToFirst(): void {
    this.nextEntry = 0;
    this.keyLength = 0;
    this.decodeNext();
  }

  next(): void {
    assert(this.isValid, 'BlockIterator.next on an invalid iterator');
    this.decodeNext();
  }

  /** Positions at the first entry whose key is >= target, or invalid if there is none. */
  seek(target: Uint8Array): void {
    assert(this.block !== undefined, 'BlockIterator.seek without a block');
    // The last restart point whose key is < target; the answer lies at or after it. As in
    // TableIndex.find, the bounds' common prefixes with target let compares skip bytes.
    let lo = 0;
    let hi = this.restarts.length - 1;
    let loLcp = 0;
    let hiLcp = 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      const c = this.compareRestartKey(mid, target, loLcp < hiLcp ? loLcp : hiLcp);
      if (c < 0) {
        lo = mid;
        loLcp = -c - 1;
      } else {
        hi = mid - 1;
        hiLcp = c === 0 ? target.length : c - 1;
      }
    }
    this.scanFrom(this.restarts[lo]!, target, loLcp);
  }

  /**
   * Scans from the restart point at `start` to the first entry >= target, comparing key bytes
   * in place: with m = lcp(previous key, target) and previous key < target, an entry sharing
   * s bytes with the previous key is > target if s < m, is < target (with the same m) if
   * s > m, and needs comparing from byte m only if s = m — and then bytes m… are its own
   * suffix, in the block. So the scan neither compares whole keys nor rebuilds skipped ones;
   * it notes where each entry's suffix lies and rebuilds only the key it stops at.
   * `knownLcp` bytes of the restart key are known to equal target's.
   */
  private scanFrom(start: number, target: Uint8Array, knownLcp: number): void {
    const d = this.data;
    const limit = this.limit;
    let p = start;
    let n = 0; // entries noted in the window since the restart
    let m = knownLcp; // bytes known equal between the latest key and target
    let previousLength = 0;
    for (;;) {
      if (p >= limit) {
        this.isValid = false;
        return;
      }
      p = this.readEntryHeader(p);
      const shared = this.hShared;
      const unshared = this.hUnshared;
      const vlen = this.hValueLength;
      if (shared > previousLength || p + unshared + vlen > limit || (n === 0 && shared !== 0)) {
        throw this.corrupt(`bad entry in the restart run at ${start}`);
      }
      if (n === windowKeyAt.length) growWindow();
      windowKeyAt[n] = p;
      windowShared[n] = shared;
      n++;
      previousLength = shared + unshared;
      // Key bytes i >= shared are at d[p + i - shared]: compare as if the key began there.
      let found: boolean;
      if (n === 1) {
        // The restart entry: a whole key, of which the first m bytes are known to match.
        const c = compareFrom(d, p, previousLength, target, m);
        found = c >= 0;
        if (!found) m = -c - 1;
      } else if (shared < m) {
        found = true;
      } else if (shared > m) {
        found = false;
      } else {
        const c = compareFrom(d, p - shared, previousLength, target, m);
        found = c >= 0;
        if (!found) m = -c - 1;
      }
      if (found) {
        this.rebuildKey(n, previousLength);
        this.valueStart = p + unshared;
        this.valueLength = vlen;
        this.nextEntry = this.valueStart + vlen;
        this.keyView = undefined;
        this.valueView = undefined;
        this.isValid = true;
        return;
      }
      p += unshared + vlen;
    }
  }

  /**
   * Rebuilds the key of the last of the n window entries into keyBuf. Walking back, entry j
   * supplies bytes [shared_j, bound) where bound is the smallest shared count seen after it;
   * each key byte is copied once.
   */
  private rebuildKey(n: number, keyLength: number): void {
    if (keyLength > this.keyBuf.length) this.keyBuf = new Uint8Array(keyBufferBytes(keyLength));
    const k = this.keyBuf;
    const d = this.data;
    let bound = keyLength;
    for (let j = n - 1; j >= 0 && bound > 0; j--) {
      const shared = windowShared[j]!;
      if (shared >= bound) continue;
      const from = windowKeyAt[j]! - shared;
      for (let i = shared; i < bound; i++) k[i] = d[from + i]!;
      bound = shared;
    }
    this.keyLength = keyLength;
  }

  /** Compares the (whole) key stored at restart point `i` with `target`, as compareFrom. */
  private compareRestartKey(i: number, target: Uint8Array, from: number): number {
    const d = this.data;
    const p = this.readEntryHeader(this.restarts[i]!);
    const shared = this.hShared;
    const unshared = this.hUnshared;
    if (shared !== 0 || p + unshared > this.limit) {
      throw this.corrupt(`bad restart entry at ${this.restarts[i]}`);
    }
    return compareFrom(d, p, unshared, target, from);
  }

  /** Decodes the entry at nextEntry; false (and invalid) at the end of the block. */
  private decodeNext(): boolean {
    const d = this.data;
    let p = this.nextEntry;
    if (p >= this.limit) {
      this.isValid = false;
      return false;
    }
    p = this.readEntryHeader(p);
    const shared = this.hShared;
    const unshared = this.hUnshared;
    const vlen = this.hValueLength;
    if (shared > this.keyLength || p + unshared + vlen > this.limit) {
      throw this.corrupt(`bad entry at ${this.nextEntry}`);
    }
    const keyLength = shared + unshared;
    if (keyLength > this.keyBuf.length) {
      const grown = new Uint8Array(keyBufferBytes(keyLength));
      grown.set(this.keyBuf.subarray(0, shared));
      this.keyBuf = grown;
    }
    const k = this.keyBuf;
    for (let i = 0; i < unshared; i++) k[shared + i] = d[p + i]!;
    this.keyLength = keyLength;
    this.valueStart = p + unshared;
    this.valueLength = vlen;
    this.nextEntry = this.valueStart + vlen;
    this.keyView = undefined;
    this.valueView = undefined;
    this.isValid = true;
    return true;
  }

  /**
   * Decodes the entry header (shared, unshared, value length) at `p` into hShared,
   * hUnshared and hValueLength and returns where the key suffix starts. Most entries have
   * three one-byte varints (LevelDB's fast path); fields, not a returned object, keep the
   * hot path free of allocation.
   */
  private readEntryHeader(p: number): number {
    const d = this.data;
    let a: number;
    let b: number;
    let c: number;
    if (
      p + 3 <= this.limit &&
      (a = d[p]!) < 0x80 &&
      (b = d[p + 1]!) < 0x80 &&
      (c = d[p + 2]!) < 0x80
    ) {
      this.hShared = a;
      this.hUnshared = b;
      this.hValueLength = c;
      return p + 3;
    }
    this.hShared = this.readVarint(p);
    this.hUnshared = this.readVarint(this.cursor);
    this.hValueLength = this.readVarint(this.cursor);
    return this.cursor;
  }

  /** A varint of at most 32 bits at `p`, within the entries; sets `cursor` after it. */
  private readVarint(p: number): number {
    const d = this.data;
    let result = 0;
    let shift = 0;
    for (let i = 0; i < varint32BytesMax; i++) {
      if (p >= this.limit) throw this.corrupt(`truncated varint at ${p}`);
      const b = d[p++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) {
        this.cursor = p;
        return result;
      }
      shift += 7;
    }
    throw this.corrupt(`varint too long at ${p}`);
  }

  private corrupt(what: string): Error {
    this.isValid = false;
    const b = this.block;
    assert(b !== undefined, 'BlockIterator without a block');
    return blockCorruption(b.path, b.offset, what);
  }
}

function growWindow(): void {
  const at = new Int32Array(windowKeyAt.length * 2);
  at.set(windowKeyAt);
  windowKeyAt = at;
  const shared = new Int32Array(windowShared.length * 2);
  shared.set(windowShared);
  windowShared = shared;
}

/** Key buffer size for a key of `n` bytes: on the V8 heap when possible, else with room to grow. */
function keyBufferBytes(n: number): number {
  return n <= keyBytesOnHeap ? keyBytesOnHeap : n * 2;
}
