import { copyBytes } from '../../util/bytes.js';
import { assert } from '../../util/assert.js';

/**
 * A growable byte array: the contents of one simulated file. Capacity doubles, so a log that is
 * appended to a record at a time costs amortised O(bytes), not O(bytes^2).
 */
export class ByteBuffer {
  private bytes: Uint8Array;
  private used: number;

  constructor(initial?: Uint8Array) {
    this.bytes = initial ? copyBytes(initial) : new Uint8Array(0);
    this.used = this.bytes.length;
  }

  get length(): number {
    return this.used;
  }

  /** Writes `data` at `position`, zero-filling any gap past the current end. */
  write(position: number, data: Uint8Array): void {
    assert(Number.isSafeInteger(position) && position >= 0, `bad write position ${position}`);
    const end = position + data.length;
    this.reserve(end);
    // Bytes past `used` may be stale from before a truncate; a gap must read as zeros.
    if (position > this.used) this.bytes.fill(0, this.used, position);
    this.bytes.set(data, position);
    if (end > this.used) this.used = end;
  }

  /** Cuts or zero-extends to `length`. */
  truncate(length: number): void {
    assert(Number.isSafeInteger(length) && length >= 0, `bad truncate length ${length}`);
    if (length > this.used) {
      this.reserve(length);
      this.bytes.fill(0, this.used, length);
    }
    this.used = length;
  }

  /** A copy of up to `length` bytes from `position`; empty past the end. */
  read(position: number, length: number): Uint8Array {
    const start = Math.min(position, this.used);
    return this.bytes.slice(start, Math.min(this.used, start + length));
  }

  toBytes(): Uint8Array {
    return this.bytes.slice(0, this.used);
  }

  clone(): ByteBuffer {
    return new ByteBuffer(this.bytes.subarray(0, this.used));
  }

  private reserve(capacity: number): void {
    if (capacity <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(capacity, this.bytes.length * 2, 64));
    grown.set(this.bytes.subarray(0, this.used));
    this.bytes = grown;
  }
}
