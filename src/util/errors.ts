/**
 * Every error Tessera raises on purpose is a TesseraError with a stable `code`.
 *
 * Codes are part of the public surface: they travel in wire error frames, appear in logs and
 * are matched by clients and scripts, so a code, once shipped, never changes meaning and is
 * never reused. Each code is listed with its meaning in `docs/errors.md`; a test keeps that
 * document and this table in step.
 */

export const ERROR_CODES = {
  INVALID_ARGUMENT: 'A caller passed a value outside what the operation accepts.',
  INTERNAL: 'An unexpected failure inside Tessera; the message says what. Please report it.',
  ASSERTION_FAILED: 'An internal invariant did not hold; the process stops rather than go on.',
  NOT_FOUND: 'A named file, node or object does not exist.',
  ALREADY_EXISTS: 'A file, node or object that must be new already exists.',
  IO_ERROR: 'The operating system (or simulated disk) reported an I/O failure.',
  CORRUPTION: 'Stored bytes failed a checksum or format check; they are never served.',
  NOT_DIRECTORY: 'A path used as a directory is not one.',
  DEADLINE_EXCEEDED: 'The request did not finish before its deadline.',
  CANCELLED: 'The caller cancelled the request.',
  CONNECTION_REFUSED: 'Nothing accepted the connection at that address.',
  CONNECTION_CLOSED: 'The connection closed before the request finished.',
  ADDRESS_IN_USE: 'The address to listen on is already taken.',
  PROTOCOL_ERROR: 'The peer sent bytes that do not follow the wire protocol.',
  FRAME_TOO_LARGE: 'A frame is larger than the maximum frame size.',
  VERSION_MISMATCH: 'The peer speaks a protocol version this build does not.',
  UNKNOWN_METHOD: 'The server has no handler for the requested method.',
  OVERLOADED: 'The server refused the request to protect itself (too many in flight).',
  SHUTTING_DOWN: 'The server is stopping and takes no new requests.',
  SIMULATION_FAILED: 'A simulator run found a violated property; its seed replays it.',
  INVALID_PATH:
    'A lock-service path is malformed: not absolute, empty or dot segments, unprintable, too long or too deep.',
  BAD_VERSION: 'A compare-and-set named a version that is not the current version of the node.',
  NOT_EMPTY: 'A node that still has children cannot be deleted.',
  SESSION_EXPIRED:
    'The lock-service session does not exist: it was closed or expired, or never opened.',
  LOCK_NOT_HELD: 'The session neither holds nor waits for the named lock.',
  NOT_LEADER:
    'This replica is not the leader (or is handing leadership over); retry at details.leaderHint.',
  UNAVAILABLE:
    'The outcome of the request is unknown (its log entry was replaced or folded into a snapshot); it may or may not have taken effect.',
  NOT_SERVING:
    'The tablet does not serve that row (out of range, closed, split or moved); refresh its location.',
  REPLICAS_UNAVAILABLE:
    'Too few replicas of the row are alive for the consistency level; nothing was sent (Cassandra Unavailable).',
  REPLICA_TIMEOUT:
    'Too few replicas answered in time for the consistency level; a write may have reached some (Cassandra Timeout).',
  RING_STATE:
    'The ring operation does not apply to the node as it is (already leaving, still joining, alive, unknown).',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

export interface ErrorDetails {
  readonly [key: string]: string | number | boolean | undefined;
}

export class TesseraError extends Error {
  override readonly name: string = 'TesseraError';
  readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;

  constructor(code: ErrorCode, message: string, details?: ErrorDetails, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.details = details;
  }

  override toString(): string {
    return `${this.code}: ${this.message}`;
  }
}

/** True when `err` is a TesseraError, optionally with the given code. */
export function isTesseraError(err: unknown, code?: ErrorCode): err is TesseraError {
  return err instanceof TesseraError && (code === undefined || err.code === code);
}

/**
 * Wraps anything thrown into a TesseraError so that callers and the wire see a stable code.
 * TesseraErrors pass through unchanged; everything else becomes INTERNAL with the original
 * attached as `cause`.
 */
export function toTesseraError(err: unknown): TesseraError {
  if (err instanceof TesseraError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TesseraError('INTERNAL', message, undefined, { cause: err });
}

// Convenience constructors for the codes raised most often.

export function invalidArgument(message: string, details?: ErrorDetails): TesseraError {
  return new TesseraError('INVALID_ARGUMENT', message, details);
}

export function corruption(message: string, details?: ErrorDetails): TesseraError {
  return new TesseraError('CORRUPTION', message, details);
}

export function ioError(message: string, details?: ErrorDetails, cause?: unknown): TesseraError {
  return new TesseraError('IO_ERROR', message, details, { cause });
}
