/**
 * How values travel in frame bodies: MessagePack, through one shared msgpackr Packr/Unpackr.
 *
 * Choices (see "Bodies" in docs/formats/rpc.md):
 * - Standard MessagePack only on the way out: `useRecords: false` (msgpackr's record extension
 *   is not understood by other implementations), `variableMapSize: true` (fixmap for small
 *   objects, and objects of any size encode correctly), `undefined` encodes as nil.
 * - Uint8Array and Buffer encode as `bin`; `bin` decodes to a Uint8Array of the source's kind
 *   (a plain Uint8Array for frames: the decoder hands plain views to this module), copied out of
 *   the receive buffer (`copyBuffers`) so that a value kept for long (say, in a memtable) never
 *   pins a whole socket chunk. Bodies of up to 64 KiB are decoded by flat-unpack.ts instead,
 *   to the same values, except that their byte arrays over 64 bytes share one copy of the body.
 * - JS numbers encode as the smallest int format when they are integers in [-2^31, 2^32) and
 *   as float64 otherwise, so every safe integer (int64 microsecond timestamps included) round
 *   trips as a number. A bigint encodes as int64/uint64 and any int64/uint64 decodes as a bigint;
 *   bigints outside 64 bits cannot be encoded (INVALID_ARGUMENT).
 * - Maps decode as plain objects (`mapsAsObjects`), Dates travel as the standard timestamp
 *   extension (-1). Functions encode as nil; symbols cannot be encoded.
 *
 * The Packr and Unpackr hold no per-message state with records off, so one module-wide pair is
 * shared by every connection, real or simulated.
 */
import { Packr, Unpackr } from 'msgpackr';
import { TesseraError, isErrorCode, type ErrorDetails } from '../util/errors.js';
import { fnv1aOffset, fnv1aStep } from '../util/fnv.js';
import { NOT_TAKEN, flatUnpack } from './flat-unpack.js';
import {
  ERROR_BODY_BYTES_MAX,
  ERROR_MESSAGE_CHARS_MAX,
  METHOD_BYTES_MAX,
  FRAME_BYTES_CEILING,
} from './format.js';

const packr = new Packr({
  useRecords: false,
  variableMapSize: true,
  encodeUndefinedAsNil: true,
});

const unpackr = new Unpackr({
  useRecords: false,
  mapsAsObjects: true,
  copyBuffers: true,
  int64AsType: 'bigint',
});

/**
 * Encodes one value. The result is a view into msgpackr's output buffer that later encodes never
 * overwrite, so it may be queued for writing without a copy.
 * Throws INVALID_ARGUMENT when the value cannot be represented.
 */
export function encodeValue(value: unknown): Uint8Array {
  try {
    return packr.pack(value);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new TesseraError('INVALID_ARGUMENT', `value cannot be encoded as msgpack: ${message}`);
  }
}

/**
 * Decodes exactly one msgpack value from `buf[start, end)`; anything else (truncated, trailing
 * bytes, reserved byte 0xc1) is a PROTOCOL_ERROR.
 */
export function decodeValue(buf: Uint8Array, start: number, end: number): unknown {
  if (end <= start) throw new TesseraError('PROTOCOL_ERROR', 'empty msgpack body');
  const fast = flatUnpack(buf, start, end);
  if (fast !== NOT_TAKEN) return fast;
  try {
    return unpackr.unpack(buf, { start, end });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new TesseraError('PROTOCOL_ERROR', `undecodable msgpack body: ${truncate(message, 200)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Error bodies: msgpack map { code: string, message: string, details?: map of scalars }

/** Encodes an error body that always fits in ERROR_BODY_BYTES_MAX bytes. */
export function encodeErrorBody(error: TesseraError): Uint8Array {
  const message = truncate(error.message, ERROR_MESSAGE_CHARS_MAX);
  const details = scalarDetails(error.details);
  if (details !== undefined) {
    const full = packr.pack({ code: error.code, message, details });
    if (full.length <= ERROR_BODY_BYTES_MAX) return full;
  }
  const plain = packr.pack({ code: error.code, message });
  if (plain.length <= ERROR_BODY_BYTES_MAX) return plain;
  // A message of ERROR_MESSAGE_CHARS_MAX UTF-16 units is at most 1536 UTF-8 bytes, so this
  // line is reached only if the limits above are changed carelessly.
  return packr.pack({ code: error.code, message: truncate(message, 64) });
}

/**
 * Turns a decoded error body back into a TesseraError. A code this build does not know (sent
 * by a newer peer) becomes INTERNAL with the original code in `details.remoteCode`.
 * Throws PROTOCOL_ERROR when the body is not an error map.
 */
export function decodeErrorBody(value: unknown): TesseraError {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TesseraError('PROTOCOL_ERROR', 'ERROR body is not a map');
  }
  const body = value as { code?: unknown; message?: unknown; details?: unknown };
  if (typeof body.code !== 'string' || typeof body.message !== 'string') {
    throw new TesseraError('PROTOCOL_ERROR', 'ERROR body lacks a string code and message');
  }
  const details = scalarDetails(body.details);
  if (isErrorCode(body.code)) return new TesseraError(body.code, body.message, details);
  return new TesseraError('INTERNAL', `${body.code}: ${body.message}`, {
    ...details,
    remoteCode: truncate(body.code, 64),
  });
}

/** Keeps the string, number and boolean entries of a details map (at most 32 of them). */
function scalarDetails(details: unknown): ErrorDetails | undefined {
  if (typeof details !== 'object' || details === null || Array.isArray(details)) return undefined;
  const out: Record<string, string | number | boolean> = {};
  let count = 0;
  for (const [key, v] of Object.entries(details as Record<string, unknown>)) {
    if (count >= 32) break;
    if (typeof v === 'string') out[key] = truncate(v, 256);
    else if (typeof v === 'number' || typeof v === 'boolean') out[key] = v;
    else if (typeof v === 'bigint') out[key] = v.toString();
    else continue;
    count++;
  }
  return count > 0 ? out : undefined;
}

function truncate(s: string, chars: number): string {
  return s.length <= chars ? s : `${s.slice(0, chars - 1)}…`;
}

// ---------------------------------------------------------------------------------------------
// Method names: 1..255 bytes of printable ASCII, encoded once and cached.

const METHOD_CACHE_MAX = 1024;
const methodCache = new Map<string, Uint8Array>();

/** The bytes of a method name; throws INVALID_ARGUMENT for an empty, long or non-ASCII name. */
export function encodeMethod(method: string): Uint8Array {
  const cached = methodCache.get(method);
  if (cached !== undefined) return cached;
  const n = method.length;
  if (n === 0 || n > METHOD_BYTES_MAX) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `method name must be 1..${METHOD_BYTES_MAX} characters, got ${n}`,
    );
  }
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = method.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `method name must be printable ASCII without spaces: ${JSON.stringify(method)}`,
      );
    }
    bytes[i] = c;
  }
  if (methodCache.size < METHOD_CACHE_MAX) methodCache.set(method, bytes);
  return bytes;
}

/**
 * Method names decoded before, by a hash of their bytes: a server sees a handful of names,
 * and building each request's name a character at a time cost more than the lookup. Bounded:
 * a peer sending ever new names only fills it up to the bound.
 */
const decodedMethods = new Map<number, string>();
const DECODED_METHODS_MAX = 256;

/** Decodes a method name, or returns undefined when a byte is outside 0x21..0x7e. */
export function decodeMethod(buf: Uint8Array, start: number, length: number): string | undefined {
  const end = start + length;
  let hash = fnv1aOffset ^ length;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c < 0x21 || c > 0x7e) return undefined;
    hash = fnv1aStep(hash, c);
  }
  const known = decodedMethods.get(hash);
  if (known !== undefined && known.length === length) {
    let same = true;
    for (let i = 0; i < length && same; i++) same = known.charCodeAt(i) === buf[start + i];
    if (same) return known;
  }
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
  if (decodedMethods.size < DECODED_METHODS_MAX) decodedMethods.set(hash, s);
  return s;
}

/** Checks a configured frame limit: an integer within [min, FRAME_BYTES_CEILING]. */
export function checkFrameLimit(value: number, min: number, name: string): number {
  if (!Number.isInteger(value) || value < min || value > FRAME_BYTES_CEILING) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${name} must be an integer in [${min}, ${FRAME_BYTES_CEILING}], got ${value}`,
    );
  }
  return value;
}
