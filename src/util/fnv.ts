/**
 * FNV-1a (32-bit): a cheap, well-spread hash for in-memory tables and content tags. Not for
 * anything persisted or adversarial: collisions are easy to make, so every user checks the
 * bytes on a match or tolerates a collision (see row-index.ts, row-lock.ts, codec.ts).
 */

/** The FNV-1a offset basis: the hash of no bytes. */
export const fnv1aOffset = 0x811c9dc5;

/** One FNV-1a step: the hash `h` extended by `byte` (a signed 32-bit result). */
export function fnv1aStep(h: number, byte: number): number {
  return Math.imul(h ^ byte, 0x01000193);
}

/** FNV-1a of bytes[start, end), as a signed 32-bit integer. */
export function fnv1a(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let h = fnv1aOffset;
  for (let i = start; i < end; i++) h = fnv1aStep(h, bytes[i]!);
  return h | 0;
}
