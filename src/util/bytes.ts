/** Byte helpers shared by every layer. Keys and values are Uint8Array throughout. */

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

export function utf8(s: string): Uint8Array {
  // TextEncoder costs ~300 ns whatever the length (a call into C++); a short ASCII string, the
  // usual row key, family or qualifier, is ~10x faster copied here.
  const n = s.length;
  if (n > utf8LoopCharsMax) return encoder.encode(s);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return encoder.encode(s);
    out[i] = c;
  }
  return out;
}

const utf8LoopCharsMax = 64;

export function fromUtf8(b: Uint8Array): string {
  return decoder.decode(b);
}

/** Lexicographic comparison of unsigned bytes: the sort order of every key in Tessera. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

/**
 * A fresh copy of `b`. Not `b.slice()`: on a Node Buffer (which real sockets and files hand
 * out) `slice` returns a view that shares memory, not a copy.
 */
export function copyBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

/**
 * `b` as a one-byte string, char code = byte. For small byte strings kept by the million: V8
 * stores such a string at one byte a char plus a small header, where a Uint8Array of its own
 * costs ~300 bytes of objects and allocation beyond its data (1M lock nodes of 100 bytes:
 * ~930 MiB as arrays). Always a copy.
 */
export function bytesToLatin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
}

/** The bytes of a bytesToLatin1 string, in a fresh array. */
export function latin1ToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  Buffer.from(out.buffer, out.byteOffset, out.length).write(s, 'latin1');
  return out;
}
