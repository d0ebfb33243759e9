/**
 * Short index keys. An index entry only has to separate two blocks — any s with
 * last key of block ≤ s < first key of the next block routes every seek correctly — so
 * storing a short s instead of the whole last key keeps the index (held in memory for every
 * open table) small. Keys are opaque bytes here: only byte order is assumed.
 */

/** A short s with a ≤ s < b; requires a < b. Returns a fresh array. */
export function shortestSeparator(a: Uint8Array, b: Uint8Array): Uint8Array {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  if (i < n) {
    const x = a[i]!;
    // a[0..i] ++ (x + 1) is > a and, being < b[i] at position i, < b.
    if (x < 0xff && x + 1 < b[i]!) {
      const s = Uint8Array.from(a.subarray(0, i + 1));
      s[i] = x + 1;
      return s;
    }
  }
  // a is a prefix of b, or the bytes differ by one: a itself is the only safe short choice.
  return Uint8Array.from(a);
}

/** A short s ≥ a (for the last block, which has no next key). Returns a fresh array. */
export function shortSuccessor(a: Uint8Array): Uint8Array {
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== 0xff) {
      const s = Uint8Array.from(a.subarray(0, i + 1));
      s[i] = a[i]! + 1;
      return s;
    }
  }
  return Uint8Array.from(a);
}
