/**
 * Maps Node's errors (errno codes such as ENOENT) onto Tessera's stable error codes, so that
 * callers see the same codes from the real and the simulated Env.
 */
import { TesseraError, type ErrorCode, type ErrorDetails } from '../../util/errors.js';

/** The errno-style code of a Node error ('ENOENT', 'ERR_FS_EISDIR', …), if it has one. */
export function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const FS_CODES: Readonly<Record<string, ErrorCode>> = {
  ENOENT: 'NOT_FOUND',
  EEXIST: 'ALREADY_EXISTS',
  ENOTDIR: 'NOT_DIRECTORY',
};

/**
 * A file-system failure of `op` on the caller's `path`; unknown errnos become IO_ERROR.
 * TesseraErrors pass through unchanged.
 */
export function fsError(
  err: unknown,
  op: string,
  path: string,
  extra?: ErrorDetails,
): TesseraError {
  if (err instanceof TesseraError) return err;
  const errno = errnoOf(err);
  const code = (errno !== undefined && FS_CODES[errno]) || 'IO_ERROR';
  const reason = reasonOf(err);
  const details = { ...extra, path, errno };
  return new TesseraError(code, `${op} '${path}': ${reason}`, details, { cause: err });
}

/** A failed connect: timeouts are DEADLINE_EXCEEDED, every other failure CONNECTION_REFUSED. */
export function connectError(err: unknown, address: string): TesseraError {
  const errno = errnoOf(err);
  const code = errno === 'ETIMEDOUT' ? 'DEADLINE_EXCEEDED' : 'CONNECTION_REFUSED';
  const reason = reasonOf(err);
  return new TesseraError(
    code,
    `connect ${address}: ${reason}`,
    { address, errno },
    { cause: err },
  );
}

/** A failed listen or bind: EADDRINUSE is ADDRESS_IN_USE, anything else IO_ERROR. */
export function bindError(err: unknown, op: string, address: string): TesseraError {
  const errno = errnoOf(err);
  const code = errno === 'EADDRINUSE' ? 'ADDRESS_IN_USE' : 'IO_ERROR';
  const reason = reasonOf(err);
  return new TesseraError(code, `${op} ${address}: ${reason}`, { address, errno }, { cause: err });
}

/** A connection that broke (ECONNRESET, EPIPE, …): always CONNECTION_CLOSED. */
export function connectionError(err: unknown, remote: string): TesseraError {
  const errno = errnoOf(err);
  const reason = reasonOf(err);
  return new TesseraError(
    'CONNECTION_CLOSED',
    `connection to ${remote} closed: ${reason}`,
    { address: remote, errno },
    { cause: err },
  );
}
