/**
 * ByteWriter and ByteReader: the little-endian, varint-aware codec every persisted format
 * (WAL records, SSTable blocks, manifest edits) is written and parsed with.
 *
 * The reader is bounds-checked: reading past the end raises CORRUPTION naming the offset, so a
 * decoder fed garbage fails with a clear error instead of reading undefined bytes. Callers add
 * the file name to the error's details where they know it.
 */
import { corruption } from './errors.js';

const initialCapacityBytes = 256;

const utf8Encoder = new TextEncoder();
const strictUtf8Decoder = new TextDecoder('utf-8', { fatal: true });
/** Strings up to this long are checked for ASCII (and then copied a char at a time). */
const asciiFastPathMax = 256;

/** The length of `s` in UTF-8 bytes, without encoding it (lone surrogates count 3, as encoded). */
export function utf8ByteLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/**
 * The UTF-8 bytes of `s`, or undefined when `s` is short ASCII (the caller then copies its
 * char codes, which are its bytes): most keys and paths are, and TextEncoder.encode allocates
 * a buffer per call — the largest cost of snapshotting a million node names.
 */
function utf8UnlessAscii(s: string): Uint8Array | undefined {
  if (s.length > asciiFastPathMax) return utf8Encoder.encode(s);
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return utf8Encoder.encode(s);
  return undefined;
}

/** Unsigned varints hold integers up to 2^53 - 1 (the safe-integer range); 8 bytes of 7 bits. */
export const varintMaxBytes = 8;

/**
 * A buffer of at least `need` bytes (the old size doubled as often as it takes) holding the
 * first `used` bytes of `buf`: how every growing writer grows.
 */
export function grownBuffer(buf: Uint8Array, used: number, need: number): Uint8Array<ArrayBuffer> {
  let cap = Math.max(1, buf.length) * 2;
  while (cap < need) cap *= 2;
  const next = new Uint8Array(cap);
  next.set(buf.subarray(0, used));
  return next;
}

const noBytes = new Uint8Array(0);

export class ByteWriter {
  private buf: Uint8Array;
  /** Over `buf`, made on the first fixed-width write: most writers only write bytes and varints. */
  private viewOf: DataView | undefined;
  private pos = 0;

  /** `capacity`: the bytes expected; sizing it right saves every regrowth and copy. */
  constructor(capacity = initialCapacityBytes) {
    this.buf = new Uint8Array(Math.max(16, capacity));
  }

  private get view(): DataView {
    this.viewOf ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    return this.viewOf;
  }

  get length(): number {
    return this.pos;
  }

  /** Forgets the contents and keeps the memory for reuse. */
  reset(): void {
    this.pos = 0;
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    this.buf = grownBuffer(this.buf, this.pos, need);
    this.viewOf = undefined;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
    return this;
  }

  /** An integer in [0, 2^53) as 8 little-endian bytes. */
  u64(v: number): this {
    this.ensure(8);
    this.view.setUint32(this.pos, v % 0x1_0000_0000, true);
    this.view.setUint32(this.pos + 4, Math.floor(v / 0x1_0000_0000), true);
    this.pos += 8;
    return this;
  }

  /** Unsigned LEB128 of an integer in [0, 2^53). */
  varint(v: number): this {
    this.ensure(varintMaxBytes);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.pos++] = v;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** A varint length followed by the bytes. */
  lengthPrefixed(b: Uint8Array): this {
    return this.varint(b.length).bytes(b);
  }

  /** A varint length followed by the bytes of a one-byte string (see bytesToLatin1). */
  latin1(s: string): this {
    this.varint(s.length);
    this.ensure(s.length);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
    this.pos = pos;
    return this;
  }

  /** A varint byte length followed by the UTF-8 of `s` (ByteReader.utf8 reads it back). */
  utf8(s: string): this {
    const encoded = utf8UnlessAscii(s);
    // ASCII: its UTF-8 is its char codes, as a one-byte string's bytes are.
    return encoded !== undefined ? this.lengthPrefixed(encoded) : this.latin1(s);
  }

  /** Overwrites 4 bytes at `at` (for lengths and checksums known only at the end). */
  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0, true);
  }

  /** A view of the bytes written so far; valid until the next write or reset. */
  peek(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** A copy of the bytes written so far. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /**
   * The bytes written so far, without copying: a view of the writer's buffer, which the writer
   * hands over and forgets (it starts empty again). For a writer sized close to its output —
   * the view keeps the whole buffer alive.
   */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.pos);
    this.buf = noBytes;
    this.viewOf = undefined;
    this.pos = 0;
    return out;
  }
}

export class ByteReader {
  private readonly view: DataView;
  pos: number;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.end) {
      throw corruption(`truncated ${what} at offset ${this.pos}`, { offset: this.pos });
    }
  }

  u8(): number {
    this.need(1, 'u8');
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2, 'u16');
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4, 'u32');
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(): number {
    this.need(8, 'u64');
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    if (hi > 0x1f_ffff) {
      throw corruption(`u64 at offset ${this.pos} exceeds 2^53`, { offset: this.pos });
    }
    this.pos += 8;
    return hi * 0x1_0000_0000 + lo;
  }

  /**
   * An unsigned varint, strictly: the shortest encoding (no redundant zero group at the end,
   * such as `80 00` for 0) of a value below 2^53, so every value has exactly one encoding and
   * decodes exactly. Anything else is CORRUPTION; no writer produces it.
   */
  varint(): number {
    const start = this.pos;
    let result = 0;
    let mul = 1;
    for (let i = 0; i < varintMaxBytes; i++) {
      if (this.pos >= this.end) {
        throw corruption(`truncated varint at offset ${this.pos}`, { offset: this.pos });
      }
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (b === 0 && i > 0) {
          throw corruption(`overlong varint at offset ${start}`, { offset: start });
        }
        if (result > Number.MAX_SAFE_INTEGER) {
          throw corruption(`varint at offset ${start} exceeds 2^53 - 1`, { offset: start });
        }
        return result;
      }
      mul *= 0x80;
    }
    throw corruption(`varint longer than ${varintMaxBytes} bytes at offset ${this.pos}`, {
      offset: this.pos,
    });
  }

  /** A view (not a copy) of the next `n` bytes. */
  bytes(n: number): Uint8Array {
    if (n < 0 || !Number.isInteger(n)) {
      throw corruption(`bad length ${n} at offset ${this.pos}`, { offset: this.pos });
    }
    this.need(n, `${n}-byte field`);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  lengthPrefixed(): Uint8Array {
    return this.bytes(this.varint());
  }

  /** What ByteWriter.utf8 wrote: CORRUPTION when the bytes are not valid UTF-8. */
  utf8(): string {
    const at = this.pos;
    const bytes = this.lengthPrefixed();
    if (bytes.length <= asciiFastPathMax) {
      let ascii = true;
      for (let i = 0; i < bytes.length; i++) {
        if (bytes[i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
    }
    try {
      return strictUtf8Decoder.decode(bytes);
    } catch {
      throw corruption(`invalid UTF-8 at offset ${at}`, { offset: at });
    }
  }
}
