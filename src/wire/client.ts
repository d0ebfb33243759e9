/**
 * RpcClient: one connection to an RpcServer, many calls in flight on it, told apart by request
 * id. Deadlines and cancellation are enforced here (the call rejects at once and a CANCEL tells
 * the server to stop); the server enforces the same deadline on its own clock as a backstop.
 */
import {
  formatAddress,
  type Address,
  type Connection,
  type Env,
  type Timer,
} from '../env/types.js';
import { TesseraError, toTesseraError } from '../util/errors.js';
import { checkFrameLimit, decodeValue } from './codec.js';
import { DeadlineTimer } from './deadline-timer.js';
import { FrameDecoder, type FrameSink } from './decoder.js';
import {
  FRAME_BYTES_CEILING,
  FRAME_BYTES_DEFAULT,
  FRAME_BYTES_MIN,
  FrameKind,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
  REQUEST_ID_MAX,
  TIMEOUT_MS_MAX,
  TIMEOUT_NONE,
  kindMask,
} from './format.js';
import { parseError, parseHello } from './frame.js';
import { Outbox } from './outbox.js';

export interface RpcClientOptions {
  /** Time allowed to connect and complete the handshake. Default 10000 ms. */
  readonly timeoutMs?: number;
  /** Largest frame accepted from the server, advertised in HELLO. Default 16 MiB. */
  readonly maxFrameBytes?: number;
  /** Timeout for calls that give none. Default: none. */
  readonly callTimeoutMs?: number;
  /** Calls pending at once; one beyond is refused locally with OVERLOADED. Default 65536. */
  readonly inFlightMax?: number;
  /** How long close() waits for the server to close its side before destroying. Default 2000 ms. */
  readonly lingerMs?: number;
  /**
   * Keep-alive period. When set, a PING goes out after each period in which nothing arrived,
   * and the connection fails (DEADLINE_EXCEEDED; pending calls get CONNECTION_CLOSED) after
   * two silent periods in a row. Default: off.
   */
  readonly keepAliveMs?: number;
}

export interface CallOptions {
  /**
   * Relative timeout in milliseconds (> 0; Infinity for none). The call rejects with
   * DEADLINE_EXCEEDED when it passes, and the server is sent a CANCEL.
   */
  readonly timeoutMs?: number;
  /** Aborting rejects the call with CANCELLED and sends a CANCEL. */
  readonly signal?: AbortSignal;
}

const HANDSHAKE_KINDS = kindMask(FrameKind.HELLO_ACK, FrameKind.ERROR);
const OPEN_KINDS = kindMask(
  FrameKind.RESPONSE,
  FrameKind.ERROR,
  FrameKind.PING,
  FrameKind.PONG,
  FrameKind.GOAWAY,
);

class Pending {
  resolve!: (value: unknown) => void;
  reject!: (error: TesseraError) => void;
  /** The abort listener, when the call has a signal. */
  onAbort: (() => void) | undefined;

  constructor(
    readonly id: number,
    readonly method: string,
    /** Monotonic microseconds; +Infinity for none. */
    readonly deadline: number,
    readonly signal: AbortSignal | undefined,
    /** For PINGs: when it was sent; NaN for calls. */
    readonly pingSentMicros: number,
  ) {}
}

export class RpcClient implements FrameSink {
  /** The protocol version agreed in the handshake. */
  version = 0;
  /** The largest frame the server accepts. */
  peerMaxFrameBytes = FRAME_BYTES_DEFAULT;

  private readonly env: Env;
  private readonly conn: Connection;
  private readonly decoder: FrameDecoder;
  private readonly outbox: Outbox;
  private readonly pending = new Map<number, Pending>();
  private readonly deadlines: DeadlineTimer;
  private readonly callTimeoutMs: number;
  private readonly inFlightMax: number;
  private readonly lingerMs: number;
  private readonly keepAliveMs: number | undefined;
  private readonly maxFrameBytes: number;
  private nextId = 1;
  /** Set once ids have wrapped: from then on a new id must be checked against pending ones. */
  private wrapped = false;
  /** The server sent GOAWAY: calls in flight finish, new ones are refused. */
  private draining = false;
  private closeReason: TesseraError | undefined;
  private isClosed = false;
  private handshake: { resolve: () => void; reject: (e: TesseraError) => void } | null = null;
  private lingerTimer: Timer | null = null;
  private keepAliveTimer: Timer | null = null;
  /** Something arrived since the last keep-alive tick. */
  private heard = false;
  /** A keep-alive PING went out and nothing has arrived since. */
  private keepAliveUnanswered = false;
  private readonly closedPromise: Promise<TesseraError | undefined>;
  private resolveClosed!: (reason: TesseraError | undefined) => void;

  /** Connects and completes the handshake. Rejects with the connect error, VERSION_MISMATCH, … */
  static async connect(
    env: Env,
    address: Address,
    options: RpcClientOptions = {},
  ): Promise<RpcClient> {
    checkOptions(options);
    const timeoutMs = options.timeoutMs ?? 10_000;
    const start = env.clock.monoMicros();
    const conn = await env.net.connect(address, { timeoutMs });
    const client = new RpcClient(env, conn, options);
    const leftMs = Math.max(1, timeoutMs - (env.clock.monoMicros() - start) / 1000);
    await client.greet(leftMs);
    return client;
  }

  private constructor(env: Env, conn: Connection, options: RpcClientOptions) {
    this.env = env;
    this.conn = conn;
    this.maxFrameBytes = options.maxFrameBytes ?? FRAME_BYTES_DEFAULT;
    this.callTimeoutMs = options.callTimeoutMs ?? Number.POSITIVE_INFINITY;
    this.inFlightMax = options.inFlightMax ?? 65_536;
    this.lingerMs = options.lingerMs ?? 2000;
    this.keepAliveMs = options.keepAliveMs;
    this.decoder = new FrameDecoder(this, this.maxFrameBytes, HANDSHAKE_KINDS);
    this.outbox = new Outbox(conn, env.timers);
    this.deadlines = new DeadlineTimer(env.clock, env.timers, (now) => this.expire(now));
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    conn.setHandlers({
      onData: (chunk) => this.onData(chunk),
      onClose: (error) => this.onClose(error),
    });
  }

  get remote(): Address {
    return this.conn.remote;
  }

  get local(): Address {
    return this.conn.local;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Calls (and pings) awaiting an answer. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Resolves when the connection is gone, with the reason (undefined after a clean close()). */
  get whenClosed(): Promise<TesseraError | undefined> {
    return this.closedPromise;
  }

  /**
   * Calls `method` with `args` and resolves with the handler's result. Rejects with the
   * handler's error code, or DEADLINE_EXCEEDED, CANCELLED, CONNECTION_CLOSED, SHUTTING_DOWN,
   * OVERLOADED, UNKNOWN_METHOD, FRAME_TOO_LARGE, INVALID_ARGUMENT.
   */
  call(method: string, args?: unknown, options?: CallOptions): Promise<unknown> {
    const refused = this.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const timeoutMs = options?.timeoutMs ?? this.callTimeoutMs;
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(cancelled(method, signal));
    let deadline = Number.POSITIVE_INFINITY;
    let wireTimeout = TIMEOUT_NONE;
    let now = 0;
    if (timeoutMs !== Number.POSITIVE_INFINITY) {
      if (!(timeoutMs > 0)) {
        return Promise.reject(
          Number.isNaN(timeoutMs)
            ? new TesseraError('INVALID_ARGUMENT', 'timeoutMs is NaN')
            : deadlineExceeded(method, timeoutMs),
        );
      }
      now = this.env.clock.monoMicros();
      deadline = now + timeoutMs * 1000;
      wireTimeout = timeoutMs > TIMEOUT_MS_MAX ? TIMEOUT_NONE : Math.ceil(timeoutMs);
    }
    const id = this.allocateId();
    try {
      this.outbox.request(id, wireTimeout, method, args);
    } catch (err) {
      return Promise.reject(toTesseraError(err));
    }
    const p = new Pending(id, method, deadline, signal, Number.NaN);
    const promise = new Promise<unknown>((resolve, reject) => {
      p.resolve = resolve;
      p.reject = reject;
    });
    this.pending.set(id, p);
    if (deadline !== Number.POSITIVE_INFINITY) this.deadlines.schedule(deadline, now);
    if (signal !== undefined) {
      p.onAbort = () => this.giveUp(p, cancelled(method, signal));
      signal.addEventListener('abort', p.onAbort, { once: true });
    }
    return promise;
  }

  /** Sends a PING and resolves with the round-trip time in microseconds. */
  ping(options?: CallOptions): Promise<number> {
    const refused = this.refusal();
    if (refused !== undefined) return Promise.reject(refused);
    const timeoutMs = options?.timeoutMs ?? this.callTimeoutMs;
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(cancelled('PING', signal));
    if (!(timeoutMs > 0)) {
      return Promise.reject(
        Number.isNaN(timeoutMs)
          ? new TesseraError('INVALID_ARGUMENT', 'timeoutMs is NaN')
          : deadlineExceeded('PING', timeoutMs),
      );
    }
    const now = this.env.clock.monoMicros();
    const deadline = now + timeoutMs * 1000; // +Infinity for none
    const id = this.allocateId();
    this.outbox.control(FrameKind.PING, id);
    const p = new Pending(id, 'PING', deadline, signal, now);
    const promise = new Promise<unknown>((resolve, reject) => {
      p.resolve = resolve;
      p.reject = reject;
    });
    this.pending.set(id, p);
    if (deadline !== Number.POSITIVE_INFINITY) this.deadlines.schedule(deadline, now);
    if (signal !== undefined) {
      p.onAbort = () => this.giveUp(p, cancelled('PING', signal));
      signal.addEventListener('abort', p.onAbort, { once: true });
    }
    return promise as Promise<number>;
  }

  /**
   * Closes the connection: pending calls reject with CONNECTION_CLOSED, queued frames are sent,
   * and the promise resolves once the connection is gone.
   */
  close(): Promise<void> {
    if (!this.isClosed) {
      this.markClosed(undefined, 'the client closed the connection');
      this.outbox.flush();
      if (!this.conn.closed) this.conn.end();
      this.lingerTimer = this.env.timers.after(this.lingerMs, () => {
        this.lingerTimer = null;
        this.conn.destroy();
      });
    }
    return this.closedPromise.then(() => undefined);
  }

  // -------------------------------------------------------------------------------------------
  // Handshake

  private greet(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = this.env.timers.after(timeoutMs, () => {
        this.fail(
          new TesseraError('DEADLINE_EXCEEDED', `no HELLO_ACK within ${timeoutMs} ms`),
          false,
        );
      });
      this.handshake = {
        resolve: () => {
          timer.cancel();
          resolve();
        },
        reject: (e) => {
          timer.cancel();
          reject(e);
        },
      };
      this.outbox.hello(FrameKind.HELLO, PROTOCOL_VERSION_MAX, 0, this.maxFrameBytes);
      this.outbox.flush();
    });
  }

  private onHelloAck(buf: Uint8Array, start: number, end: number): void {
    let ack;
    try {
      ack = parseHello(FrameKind.HELLO_ACK, buf, start, end);
    } catch (err) {
      this.fail(toTesseraError(err), true);
      return;
    }
    if (ack.version < PROTOCOL_VERSION_MIN || ack.version > PROTOCOL_VERSION_MAX) {
      this.fail(
        new TesseraError(
          'VERSION_MISMATCH',
          `server chose protocol version ${ack.version}; this client speaks ${PROTOCOL_VERSION_MIN}..${PROTOCOL_VERSION_MAX}`,
          {
            version: ack.version,
            versionMin: PROTOCOL_VERSION_MIN,
            versionMax: PROTOCOL_VERSION_MAX,
          },
        ),
        true,
      );
      return;
    }
    if (ack.maxFrameBytes < FRAME_BYTES_MIN) {
      this.fail(
        new TesseraError(
          'PROTOCOL_ERROR',
          `server accepts frames of at most ${ack.maxFrameBytes} bytes`,
        ),
        true,
      );
      return;
    }
    this.version = ack.version;
    this.peerMaxFrameBytes = Math.min(ack.maxFrameBytes, FRAME_BYTES_CEILING);
    this.outbox.peerMaxFrameBytes = this.peerMaxFrameBytes;
    this.decoder.allowedKinds = OPEN_KINDS;
    if (this.keepAliveMs !== undefined) {
      const period = this.keepAliveMs;
      this.keepAliveTimer = this.env.timers.every(period, () => this.keepAliveTick(period));
    }
    const h = this.handshake;
    this.handshake = null;
    h?.resolve();
  }

  // -------------------------------------------------------------------------------------------
  // Input

  private onData(chunk: Uint8Array): void {
    try {
      this.heard = true;
      this.decoder.push(chunk);
    } catch (err) {
      // Frame handling catches its own errors; reaching here is a bug in this module.
      this.fail(toTesseraError(err), true);
    }
  }

  onFrame(kind: FrameKind, requestId: number, buf: Uint8Array, start: number, end: number): void {
    switch (kind) {
      case FrameKind.RESPONSE: {
        const p = this.pending.get(requestId);
        if (p === undefined || !Number.isNaN(p.pingSentMicros)) return; // Late, or not a call.
        let value: unknown;
        try {
          value = decodeValue(buf, start, end);
        } catch (err) {
          this.fail(toTesseraError(err), true);
          return;
        }
        this.settle(p);
        p.resolve(value);
        return;
      }
      case FrameKind.ERROR:
        this.onError(requestId, buf, start, end);
        return;
      case FrameKind.PING:
        this.outbox.control(FrameKind.PONG, requestId);
        return;
      case FrameKind.PONG: {
        const p = this.pending.get(requestId);
        if (p === undefined || Number.isNaN(p.pingSentMicros)) return;
        this.settle(p);
        p.resolve(this.env.clock.monoMicros() - p.pingSentMicros);
        return;
      }
      case FrameKind.GOAWAY:
        this.draining = true;
        return;
      case FrameKind.HELLO_ACK:
        this.onHelloAck(buf, start, end);
        return;
      default:
        this.fail(new TesseraError('PROTOCOL_ERROR', `unexpected frame kind ${kind}`), true);
    }
  }

  onFrameError(error: TesseraError, _requestId: number): void {
    this.fail(error, true);
  }

  private onError(requestId: number, buf: Uint8Array, start: number, end: number): void {
    let error: TesseraError;
    try {
      error = parseError(buf, start, end);
    } catch (err) {
      this.fail(toTesseraError(err), true);
      return;
    }
    if (requestId === 0) {
      // About the whole connection; the server closes it next.
      this.fail(error, false);
      return;
    }
    const p = this.pending.get(requestId);
    if (p === undefined) return; // Late: the call already gave up.
    this.settle(p);
    p.reject(error);
  }

  // -------------------------------------------------------------------------------------------
  // Ending calls

  private settle(p: Pending): void {
    this.pending.delete(p.id);
    if (p.onAbort !== undefined) p.signal!.removeEventListener('abort', p.onAbort);
  }

  /** The caller stops waiting (deadline or abort): reject now and tell the server. */
  private giveUp(p: Pending, error: TesseraError): void {
    if (this.pending.get(p.id) !== p) return;
    this.settle(p);
    if (!this.isClosed && Number.isNaN(p.pingSentMicros)) {
      this.outbox.control(FrameKind.CANCEL, p.id);
    }
    p.reject(error);
  }

  private expire(now: number): number {
    let next = Number.POSITIVE_INFINITY;
    for (const p of this.pending.values()) {
      if (p.deadline <= now) this.giveUp(p, deadlineExceeded(p.method, undefined));
      else if (p.deadline < next) next = p.deadline;
    }
    return next;
  }

  private refusal(): TesseraError | undefined {
    if (this.isClosed) {
      return new TesseraError(
        'CONNECTION_CLOSED',
        `the connection to ${formatAddress(this.conn.remote)} is closed${this.closeReason ? `: ${this.closeReason.message}` : ''}`,
      );
    }
    if (this.draining) {
      return new TesseraError('SHUTTING_DOWN', 'the server is shutting down (GOAWAY received)');
    }
    if (this.pending.size >= this.inFlightMax) {
      return new TesseraError(
        'OVERLOADED',
        `${this.pending.size} calls already in flight on this client (limit ${this.inFlightMax})`,
      );
    }
    return undefined;
  }

  private allocateId(): number {
    let id = this.nextId;
    for (;;) {
      if (id > REQUEST_ID_MAX) {
        id = 1;
        this.wrapped = true;
      }
      if (!this.wrapped || !this.pending.has(id)) break;
      id++;
    }
    this.nextId = id + 1;
    return id;
  }

  private keepAliveTick(periodMs: number): void {
    if (this.heard) {
      this.heard = false;
      this.keepAliveUnanswered = false;
      return;
    }
    if (this.keepAliveUnanswered) {
      this.fail(
        new TesseraError(
          'DEADLINE_EXCEEDED',
          `nothing from the server for ${2 * periodMs} ms (keep-alive)`,
        ),
        false,
      );
      return;
    }
    this.keepAliveUnanswered = true;
    // Not registered as pending: its PONG, like any other byte, only proves the server alive.
    this.outbox.control(FrameKind.PING, this.allocateId());
  }

  // -------------------------------------------------------------------------------------------
  // Connection loss

  /**
   * The connection cannot go on. With `tellPeer`, the server gets an ERROR frame saying why
   * (we caught it breaking the protocol) before the connection ends.
   */
  private fail(error: TesseraError, tellPeer: boolean): void {
    if (this.isClosed) return;
    this.decoder.stop();
    this.markClosed(error, `the connection failed: ${error.code}: ${error.message}`);
    if (tellPeer && !this.conn.closed) this.outbox.error(0, error);
    this.outbox.flush();
    if (!this.conn.closed) this.conn.end();
    this.lingerTimer = this.env.timers.after(this.lingerMs, () => {
      this.lingerTimer = null;
      this.conn.destroy();
    });
  }

  private onClose(error?: TesseraError): void {
    this.lingerTimer?.cancel();
    this.lingerTimer = null;
    if (!this.isClosed) {
      const reason =
        error ??
        new TesseraError(
          'CONNECTION_CLOSED',
          this.decoder.midFrame
            ? 'the server closed the connection inside a frame'
            : 'the server closed the connection',
        );
      this.markClosed(reason, `the connection closed: ${reason.message}`);
    }
    this.decoder.stop();
    this.outbox.discard();
    this.resolveClosed(this.closeReason);
  }

  /** Rejects the handshake (with the reason itself) and every pending call (CONNECTION_CLOSED). */
  private markClosed(reason: TesseraError | undefined, message: string): void {
    this.isClosed = true;
    this.closeReason = reason;
    this.deadlines.cancel();
    this.keepAliveTimer?.cancel();
    this.keepAliveTimer = null;
    const h = this.handshake;
    this.handshake = null;
    h?.reject(
      reason !== undefined && reason.code !== 'CONNECTION_CLOSED'
        ? reason
        : new TesseraError('CONNECTION_CLOSED', message),
    );
    if (this.pending.size === 0) return;
    const details = reason !== undefined ? { reason: reason.code } : undefined;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      if (p.onAbort !== undefined) p.signal!.removeEventListener('abort', p.onAbort);
      p.reject(new TesseraError('CONNECTION_CLOSED', message, details, { cause: reason }));
    }
  }
}

/** Validates options before any connection exists, so a bad option leaks nothing. */
function checkOptions(o: RpcClientOptions): void {
  checkFrameLimit(o.maxFrameBytes ?? FRAME_BYTES_DEFAULT, FRAME_BYTES_MIN, 'maxFrameBytes');
  const positive: [string, number | undefined][] = [
    ['timeoutMs', o.timeoutMs],
    ['callTimeoutMs', o.callTimeoutMs],
    ['inFlightMax', o.inFlightMax],
    ['keepAliveMs', o.keepAliveMs],
  ];
  for (const [name, v] of positive) {
    if (v !== undefined && !(v > 0)) {
      throw new TesseraError('INVALID_ARGUMENT', `${name} must be positive, got ${v}`);
    }
  }
  if (o.keepAliveMs !== undefined && !Number.isFinite(o.keepAliveMs)) {
    throw new TesseraError('INVALID_ARGUMENT', `keepAliveMs must be finite, got ${o.keepAliveMs}`);
  }
  if (o.lingerMs !== undefined && !(o.lingerMs >= 0)) {
    throw new TesseraError('INVALID_ARGUMENT', `lingerMs must be >= 0, got ${o.lingerMs}`);
  }
}

function cancelled(method: string, signal: AbortSignal): TesseraError {
  const reason: unknown = signal.reason;
  return new TesseraError(
    'CANCELLED',
    `'${method}' was cancelled by the caller`,
    { method },
    { cause: reason },
  );
}

function deadlineExceeded(method: string, timeoutMs: number | undefined): TesseraError {
  return new TesseraError(
    'DEADLINE_EXCEEDED',
    timeoutMs === undefined
      ? `'${method}' did not finish before its deadline`
      : `'${method}' has a timeout of ${timeoutMs} ms: already past`,
    { method },
  );
}
