/**
 * Builds one data or index block (layout in docs/formats/sstable.md):
 *
 *     entry*  = shared varint | unshared varint | valueLength varint | key[shared..] | value
 *     trailer = restart offset u32 * count | count u32
 *
 * Each key stores only the bytes that differ from the previous key; every `restartInterval`
 * entries a "restart point" stores its key whole, so a reader can binary-search the restart
 * array and then decode at most `restartInterval` entries.
 *
 * Hand-rolled rather than on ByteWriter: this is the hottest write path, and it copies key
 * suffixes without making a view per entry and encodes varints with shifts.
 */
import { assert } from '../../util/assert.js';
import { grownBuffer } from '../../util/byte-io.js';
import { restartCountBytes, restartEntryBytes } from './format.js';

const initialBufferBytes = 8 * 1024;
const initialKeyBytes = 64;
/** Restart offsets are u32. */
const blockBytesLimit = 0xffff_ffff;

export class BlockBuilder {
  private buf = new Uint8Array(initialBufferBytes);
  private pos = 0;
  private restarts: number[] = [0];
  /** Entries since the last restart point. */
  private counter = 0;
  private lastKey = new Uint8Array(initialKeyBytes);
  private lastKeyLength = 0;
  private count = 0;
  private finished = false;

  constructor(private readonly restartInterval: number) {
    assert(Number.isInteger(restartInterval) && restartInterval >= 1, 'bad restart interval');
  }

  get entries(): number {
    return this.count;
  }

  get empty(): boolean {
    return this.count === 0;
  }

  /** The size finish() would return now. */
  get sizeEstimate(): number {
    return this.pos + this.restarts.length * restartEntryBytes + restartCountBytes;
  }

  /** Adds an entry; the caller guarantees keys strictly increase within the block. */
  add(key: Uint8Array, value: Uint8Array): void {
    assert(!this.finished, 'BlockBuilder.add after finish');
    let shared = 0;
    if (this.counter < this.restartInterval) {
      const last = this.lastKey;
      const n = Math.min(this.lastKeyLength, key.length);
      while (shared < n && last[shared] === key[shared]) shared++;
    } else {
      this.restarts.push(this.pos);
      this.counter = 0;
    }
    const unshared = key.length - shared;
    const vlen = value.length;
    // Three varints of at most 5 bytes each (lengths are < 2^32), the key suffix and the value.
    this.reserve(15 + unshared + vlen);
    const buf = this.buf;
    let p = this.pos;
    p = putVarint32(buf, p, shared);
    p = putVarint32(buf, p, unshared);
    p = putVarint32(buf, p, vlen);
    for (let i = shared; i < key.length; i++) buf[p++] = key[i]!;
    if (vlen < 64) {
      for (let i = 0; i < vlen; i++) buf[p++] = value[i]!;
    } else {
      buf.set(value, p);
      p += vlen;
    }
    this.pos = p;
    assert(p <= blockBytesLimit, 'block larger than 4 GiB');

    if (this.lastKey.length < key.length) {
      const grown = new Uint8Array(key.length * 2);
      grown.set(this.lastKey.subarray(0, shared));
      this.lastKey = grown;
    }
    const last = this.lastKey;
    for (let i = shared; i < key.length; i++) last[i] = key[i]!;
    this.lastKeyLength = key.length;
    this.counter++;
    this.count++;
  }

  /** The finished block's bytes: a view valid until reset(). */
  finish(): Uint8Array {
    assert(!this.finished, 'BlockBuilder.finish twice');
    this.finished = true;
    this.reserve((this.restarts.length + 1) * restartEntryBytes);
    const buf = this.buf;
    let p = this.pos;
    for (const r of this.restarts) p = putU32(buf, p, r);
    p = putU32(buf, p, this.restarts.length);
    this.pos = p;
    return buf.subarray(0, p);
  }

  /** Starts a new block, keeping the memory. */
  reset(): void {
    this.pos = 0;
    this.restarts = [0];
    this.counter = 0;
    this.lastKeyLength = 0;
    this.count = 0;
    this.finished = false;
  }

  private reserve(extra: number): void {
    const need = this.pos + extra;
    if (need > this.buf.length) this.buf = grownBuffer(this.buf, this.pos, need);
  }
}

/** Unsigned LEB128 of v < 2^32 at `p`; returns the position after it. */
export function putVarint32(buf: Uint8Array, p: number, v: number): number {
  while (v >= 0x80) {
    buf[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[p++] = v;
  return p;
}

function putU32(buf: Uint8Array, p: number, v: number): number {
  buf[p] = v & 0xff;
  buf[p + 1] = (v >>> 8) & 0xff;
  buf[p + 2] = (v >>> 16) & 0xff;
  buf[p + 3] = v >>> 24;
  return p + 4;
}
