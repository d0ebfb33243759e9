// snappyjs (pure JavaScript Snappy) ships no types. It is CommonJS, so Node's ESM loader hands
// out its module.exports as the default export; this declares just the two calls we use.
declare module 'snappyjs' {
  interface Snappy {
    /** Snappy raw format (no framing): a varint uncompressed length, then the elements. */
    compress(input: Uint8Array): Uint8Array;
    /** Throws a plain Error on malformed input or when the stated length exceeds maxLength. */
    uncompress(input: Uint8Array, maxLength?: number): Uint8Array;
  }
  const snappy: Snappy;
  export default snappy;
}
