/**
 * Byte-order comparison of a key stored inside a larger buffer against a key array, without
 * making a view of the stored key: block and index searches compare many keys they never hand
 * out, and a view per comparison would dominate the cost of a cached seek.
 */

/** compareBytes(a.subarray(aStart, aStart + aLength), b) as -1, 0 or 1. */
export function compareRange(
  a: Uint8Array,
  aStart: number,
  aLength: number,
  b: Uint8Array,
): number {
  const n = aLength < b.length ? aLength : b.length;
  for (let i = 0; i < n; i++) {
    const x = a[aStart + i]!;
    const y = b[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return aLength === b.length ? 0 : aLength < b.length ? -1 : 1;
}

/**
 * Like compareRange, but skips the first `from` bytes, which the caller knows are equal, and
 * also reports how many leading bytes are equal (the longest common prefix, lcp): the result
 * is 0 when equal, −(lcp + 1) when a < b and lcp + 1 when a > b. Searches carry the lcp of
 * their bounds so that keys with long shared prefixes (internal keys of one row) are not
 * re-compared from their first byte at every step.
 */
export function compareFrom(
  a: Uint8Array,
  aStart: number,
  aLength: number,
  b: Uint8Array,
  from: number,
): number {
  const n = aLength < b.length ? aLength : b.length;
  for (let i = from; i < n; i++) {
    const x = a[aStart + i]!;
    const y = b[i]!;
    if (x !== y) return x < y ? -(i + 1) : i + 1;
  }
  return aLength === b.length ? 0 : aLength < b.length ? -(n + 1) : n + 1;
}
