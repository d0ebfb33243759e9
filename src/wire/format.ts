/**
 * The byte layout of Tessera's native wire protocol, version 1.
 *
 * Described byte by byte, with worked examples and compatibility rules, in
 * `docs/formats/rpc.md`. Every number in this file is on the wire: once shipped it is frozen
 * forever. A retired kind or flag keeps its number as a comment ("10 was …") and is never
 * reused; new meaning arrives only as new numbers, negotiated by protocol version.
 *
 * Every frame starts with the same 10-byte header, big-endian:
 *
 *     u32 length | u8 kind | u8 flags | u32 requestId | …kind-specific bytes
 *
 * where `length` counts the bytes after the length field itself (so it is at least 6).
 */

/** "TSRA": the first bytes of every HELLO and HELLO_ACK body. */
export const MAGIC: Uint8Array = Uint8Array.of(0x54, 0x53, 0x52, 0x41);

/** Oldest protocol version this build speaks. */
export const PROTOCOL_VERSION_MIN = 1;
/** Newest protocol version this build speaks; offered in every HELLO. */
export const PROTOCOL_VERSION_MAX = 1;

/** Frame kinds (the byte at offset 4). 0 is never a valid kind, so zeroed memory never parses. */
export const FrameKind = {
  HELLO: 1,
  HELLO_ACK: 2,
  REQUEST: 3,
  RESPONSE: 4,
  ERROR: 5,
  CANCEL: 6,
  PING: 7,
  PONG: 8,
  GOAWAY: 9,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

/** One past the largest kind number defined so far. */
export const FRAME_KIND_END = 10;

const KIND_NAMES: readonly (string | undefined)[] = [
  undefined,
  'HELLO',
  'HELLO_ACK',
  'REQUEST',
  'RESPONSE',
  'ERROR',
  'CANCEL',
  'PING',
  'PONG',
  'GOAWAY',
];

export function isFrameKind(kind: number): kind is FrameKind {
  return kind > 0 && kind < FRAME_KIND_END;
}

export function frameKindName(kind: number): string {
  return KIND_NAMES[kind] ?? `0x${kind.toString(16).padStart(2, '0')}`;
}

/** A set of kinds as a bit mask: bit `k` set means kind `k` is accepted. */
export function kindMask(...kinds: readonly FrameKind[]): number {
  let mask = 0;
  for (const k of kinds) mask |= 1 << k;
  return mask;
}

// ---------------------------------------------------------------------------------------------
// Byte offsets and sizes

/** The u32 length field. */
export const LENGTH_BYTES = 4;
/** u32 length | u8 kind | u8 flags | u32 requestId. */
export const HEADER_BYTES = 10;
/** Bytes of the header that `length` counts (kind, flags, requestId). */
export const HEADER_AFTER_LENGTH_BYTES = HEADER_BYTES - LENGTH_BYTES;

/** REQUEST: u32 timeoutMs | u8 methodLength, then the method, then the msgpack args. */
export const REQUEST_HEAD_BYTES = 5;
/** HELLO / HELLO_ACK: magic[4] | u16 version | u16 features | u32 maxFrameBytes. */
export const HELLO_HEAD_BYTES = 12;

/** Per-frame flags byte. Version 1 defines none: a sender writes 0, a receiver rejects others. */
export const FRAME_FLAGS_NONE = 0;

/** Request id 0 names the connection rather than a request (HELLO, GOAWAY, fatal ERROR). */
export const REQUEST_ID_NONE = 0;
/** Request ids are u32; ids run 1..REQUEST_ID_MAX and wrap to 1. */
export const REQUEST_ID_MAX = 0xffff_ffff;

/** HELLO feature bits (the u16 at offset 16). Version 1 defines none; unknown bits are ignored. */
export const FEATURES_SUPPORTED = 0;

// ---------------------------------------------------------------------------------------------
// Limits

/** Default largest frame (all bytes, length field included) a peer accepts: 16 MiB. */
export const FRAME_BYTES_DEFAULT = 16 * 1024 * 1024;
/** The smallest receive limit a peer may advertise; every ERROR frame fits in it. */
export const FRAME_BYTES_MIN = 4096;
/** The largest receive limit this build will configure or honour: 1 GiB. */
export const FRAME_BYTES_CEILING = 1024 * 1024 * 1024;
/** HELLO and HELLO_ACK frames, optional extension body included, are at most this long. */
export const HELLO_FRAME_BYTES_MAX = 4096;
/** Method names are 1..255 bytes of printable ASCII (0x21..0x7e). */
export const METHOD_BYTES_MAX = 255;
/** REQUEST timeouts are u32 milliseconds; 0 means "no deadline". */
export const TIMEOUT_MS_MAX = 0xffff_ffff;
export const TIMEOUT_NONE = 0;
/** An ERROR body is cut down (details dropped, message shortened) to fit in this many bytes. */
export const ERROR_BODY_BYTES_MAX = 2048;
/** Error messages longer than this many characters are truncated before encoding. */
export const ERROR_MESSAGE_CHARS_MAX = 512;

/**
 * Smallest and largest legal `length` field per kind (bytes after the length field).
 * Checked as soon as a header arrives, before any body is buffered.
 */
export const LENGTH_MIN: readonly number[] = [
  0,
  HEADER_AFTER_LENGTH_BYTES + HELLO_HEAD_BYTES, // HELLO
  HEADER_AFTER_LENGTH_BYTES + HELLO_HEAD_BYTES, // HELLO_ACK
  HEADER_AFTER_LENGTH_BYTES + REQUEST_HEAD_BYTES + 1 + 1, // REQUEST: method >= 1, args >= 1
  HEADER_AFTER_LENGTH_BYTES + 1, // RESPONSE: one msgpack value
  HEADER_AFTER_LENGTH_BYTES + 1, // ERROR: one msgpack map
  HEADER_AFTER_LENGTH_BYTES, // CANCEL
  HEADER_AFTER_LENGTH_BYTES, // PING
  HEADER_AFTER_LENGTH_BYTES, // PONG
  HEADER_AFTER_LENGTH_BYTES, // GOAWAY
];
const UNBOUNDED = 0xffff_ffff;
export const LENGTH_MAX: readonly number[] = [
  0,
  HELLO_FRAME_BYTES_MAX - LENGTH_BYTES,
  HELLO_FRAME_BYTES_MAX - LENGTH_BYTES,
  UNBOUNDED,
  UNBOUNDED,
  UNBOUNDED,
  HEADER_AFTER_LENGTH_BYTES,
  HEADER_AFTER_LENGTH_BYTES,
  HEADER_AFTER_LENGTH_BYTES,
  HEADER_AFTER_LENGTH_BYTES,
];

/** How each kind uses the request id: 'zero' must be 0, 'nonzero' must not be, 'any' either. */
export const REQUEST_ID_RULE: readonly ('zero' | 'nonzero' | 'any')[] = [
  'any',
  'zero', // HELLO
  'zero', // HELLO_ACK
  'nonzero', // REQUEST
  'nonzero', // RESPONSE
  'any', // ERROR: 0 = the connection, else the request it answers
  'nonzero', // CANCEL
  'nonzero', // PING
  'nonzero', // PONG
  'zero', // GOAWAY
];

// ---------------------------------------------------------------------------------------------
// Big-endian helpers on plain Uint8Arrays (no DataView per chunk, no copies).

export function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function readU16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

export function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}

/** Writes the common header at `o`; `length` counts bytes after the length field. */
export function writeHeader(
  b: Uint8Array,
  o: number,
  length: number,
  kind: FrameKind,
  requestId: number,
): void {
  writeU32(b, o, length);
  b[o + 4] = kind;
  b[o + 5] = FRAME_FLAGS_NONE;
  writeU32(b, o + 6, requestId);
}
