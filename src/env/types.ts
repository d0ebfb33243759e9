/**
 * The Env: the one door between Tessera and the world.
 *
 * Everything nondeterministic — clocks, timers, random numbers, files and sockets — is reached
 * through an Env handed to each component at construction. `env/real` maps it onto Node;
 * `env/sim` runs many nodes in one process on virtual time from one seed, so any run of the
 * whole cluster, faults included, can be replayed exactly. Code outside `src/env/real` (and the
 * CLI's start-up) never touches Date, Math.random, timers, node:fs, node:net or node:dgram; a
 * lint rule enforces it.
 *
 * Contracts below hold for both implementations; `env/contract.test.ts` runs the same checks
 * against each.
 */
import { invalidArgument, type TesseraError } from '../util/errors.js';

export interface Env {
  /** A short name for the process or simulated node, used in logs and traces. */
  readonly name: string;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly fs: FileSystem;
  readonly net: Network;
}

// ---------------------------------------------------------------------------------------------
// Time

export interface Clock {
  /**
   * Wall-clock time in microseconds since the Unix epoch. Differs between nodes (skew), may
   * run fast or slow (drift), and may jump; never use it to measure durations.
   */
  nowMicros(): number;
  /**
   * Monotonic time in microseconds from an arbitrary origin; never goes backwards. Use it for
   * durations, deadlines and timeouts. It may still drift relative to other nodes.
   */
  monoMicros(): number;
}

/** A scheduled callback that can be cancelled; cancelling twice, or after it ran, is a no-op. */
export interface Timer {
  cancel(): void;
}

/** Negative delays count as 0; NaN or infinite delays are INVALID_ARGUMENT. */
export interface Timers {
  /** Runs `fn` once after `delayMs` milliseconds of this node's monotonic time. */
  after(delayMs: number, fn: () => void): Timer;
  /** Runs `fn` every `periodMs` milliseconds until cancelled. */
  every(periodMs: number, fn: () => void): Timer;
  /** Runs `fn` after the current task and its microtasks (a yield to other work). */
  defer(fn: () => void): Timer;
  /** Resolves after `delayMs` milliseconds. */
  sleep(delayMs: number): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Randomness

export interface Random {
  /** Uniform unsigned 32-bit integer. */
  uint32(): number;
  /** Uniform float in [0, 1). */
  float(): number;
  /** Uniform integer in [0, n), 0 < n <= 2^32. */
  int(n: number): number;
  /** Uniform integer in [lo, hi], inclusive. */
  between(lo: number, hi: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  bytes(n: number): Uint8Array;
  /** An independent generator; in the simulator it is derived deterministically. */
  fork(): Random;
}

// ---------------------------------------------------------------------------------------------
// Files

export interface OpenOptions {
  /** Create the file when missing (default false: a missing file is NOT_FOUND). */
  readonly create?: boolean;
  /** With `create`, fail with ALREADY_EXISTS when the file exists. */
  readonly exclusive?: boolean;
  /** Truncate to zero length on open. */
  readonly truncate?: boolean;
  /** Open for reading only; writes fail with IO_ERROR. */
  readonly readOnly?: boolean;
  /**
   * Every write and append is durable once it resolves, as if followed by `sync()` (O_DSYNC):
   * one trip to the disk instead of two for a log that syncs after every write. `sync()` then
   * only waits for writes in flight (and still syncs after a truncate). A crash during a write
   * may keep part of it, as for any unsynced write.
   */
  readonly dsync?: boolean;
}

export interface FileStat {
  readonly size: number;
  readonly isDirectory: boolean;
}

/**
 * A file system rooted at the process's data directory (real) or the node's disk (sim).
 * Paths are POSIX-style. Errors are TesseraErrors: NOT_FOUND, ALREADY_EXISTS, NOT_DIRECTORY
 * or IO_ERROR, with the path in `details.path`.
 *
 * Durability contract (what the simulator enforces on crash): bytes written to a file are
 * durable only after `File.sync()`; a created, renamed or removed directory entry is durable
 * only after `syncDir()` of its parent. A crash may keep any prefix of the unsynced writes of
 * a file and may tear the last one kept.
 */
export interface FileSystem {
  open(path: string, options?: OpenOptions): Promise<File>;
  /** Reads a whole file. */
  readFile(path: string): Promise<Uint8Array>;
  /** Creates or replaces a file's contents; with `sync`, fsyncs the file (not the directory). */
  writeFile(path: string, data: Uint8Array, options?: { readonly sync?: boolean }): Promise<void>;
  /** Atomically replaces `to` with `from` (POSIX rename). */
  rename(from: string, to: string): Promise<void>;
  /**
   * Removes a file or an empty directory, or with `recursive` a directory tree. Missing paths
   * are NOT_FOUND; a non-empty directory without `recursive` is IO_ERROR.
   */
  remove(path: string, options?: { readonly recursive?: boolean }): Promise<void>;
  /** Names in a directory, sorted by byte order. */
  list(dir: string): Promise<string[]>;
  mkdir(path: string, options?: { readonly recursive?: boolean }): Promise<void>;
  /** Makes the directory's entries (creates, renames, removes) durable. */
  syncDir(path: string): Promise<void>;
  exists(path: string): Promise<boolean>;
  stat(path: string): Promise<FileStat>;
}

export interface File {
  readonly path: string;
  /** Current length in bytes, including unsynced writes. */
  size(): Promise<number>;
  /** Up to `length` bytes from `position`; fewer at end of file, empty past it. */
  read(position: number, length: number): Promise<Uint8Array>;
  /** Writes all of `data` at `position`, extending the file (zero-filled) as needed. */
  write(position: number, data: Uint8Array): Promise<void>;
  /** Writes `data` at the end of the file and returns the offset it was written at. */
  append(data: Uint8Array): Promise<number>;
  /** Makes every write so far durable (fdatasync). */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Network

export interface Address {
  readonly host: string;
  readonly port: number;
}

/** How long connect() waits for an answer when the caller gives no timeout. */
export const connectTimeoutMsDefault = 10_000;

export interface Network {
  /**
   * Accepts stream connections at `address` (port 0 picks a free port; the Listener says which).
   * Fails with ADDRESS_IN_USE when taken.
   */
  listen(address: Address, onConnection: (conn: Connection) => void): Promise<Listener>;
  /**
   * Opens a stream connection. Fails with CONNECTION_REFUSED, or DEADLINE_EXCEEDED when no
   * answer comes within `timeoutMs` (a timeout <= 0 has already passed).
   */
  connect(address: Address, options?: { readonly timeoutMs?: number }): Promise<Connection>;
  /** Binds a datagram socket: messages may be lost, duplicated or reordered. */
  bindDatagram(address: Address): Promise<DatagramSocket>;
}

export interface Listener {
  readonly address: Address;
  /** Stops accepting; connections already accepted stay open. */
  close(): Promise<void>;
}

export interface ConnectionHandlers {
  /** Bytes in order. A chunk may hold any part of what the peer wrote (no message boundaries). */
  onData(chunk: Uint8Array): void;
  /**
   * Called exactly once when the connection is gone: `error` unset for an orderly close (by the
   * peer's end(), or by this side's end() or destroy()), CONNECTION_CLOSED for a reset or a
   * failure.
   */
  onClose(error?: TesseraError): void;
  /** Called when the send buffer has fallen below its high-water mark after write() said false. */
  onDrain?(): void;
}

/**
 * A reliable, ordered byte stream (TCP semantics): bytes arrive in order, exactly once, or the
 * connection closes with an error. Data that arrives before `setHandlers` is buffered.
 */
export interface Connection {
  readonly local: Address;
  readonly remote: Address;
  setHandlers(handlers: ConnectionHandlers): void;
  /**
   * Queues bytes to send; false means the send buffer is full, wait for onDrain. The chunk is
   * sent from the caller's memory later, so the caller must not modify it after this call.
   * Writes after end() or destroy() are dropped.
   */
  write(chunk: Uint8Array): boolean;
  /** Stops delivering data until resume() (back-pressure toward the peer). */
  pause(): void;
  resume(): void;
  /** Closes after queued bytes are sent. */
  end(): void;
  /** Closes at once, discarding queued bytes; the peer sees a reset (CONNECTION_CLOSED). */
  destroy(): void;
  /** True once this side called end() or destroy(), or the connection is gone: no more writes. */
  readonly closed: boolean;
}

export interface DatagramSocket {
  readonly address: Address;
  /** Messages that arrive before a handler is set are dropped (as UDP would drop them). */
  setHandler(onMessage: (data: Uint8Array, from: Address) => void): void;
  /** Best effort: no error for a lost message. */
  send(to: Address, data: Uint8Array): void;
  close(): Promise<void>;
}

export function formatAddress(a: Address): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Parses `host:port` or `[v6]:port`. */
export function parseAddress(s: string): Address {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalidArgument(`bad address '${s}': expected host:port`, { address: s });
  }
  return { host: m[1]!, port };
}
