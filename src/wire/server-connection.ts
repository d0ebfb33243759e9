/**
 * The server's side of one connection: handshake, request dispatch, deadlines, cancellation,
 * back-pressure and the fatal-error path. Whatever the peer sends, the worst it can do is get
 * its own connection closed: every decode and every handler runs inside this object's error
 * handling, and nothing here throws into the Env's callbacks.
 */
import type { Address, Connection, Env, Timer } from '../env/types.js';
import { TesseraError, isTesseraError, toTesseraError, type ErrorCode } from '../util/errors.js';
import { decodeValue } from './codec.js';
import { DeadlineTimer } from './deadline-timer.js';
import { FrameDecoder, type FrameSink } from './decoder.js';
import {
  FEATURES_SUPPORTED,
  FRAME_BYTES_CEILING,
  FRAME_BYTES_MIN,
  FrameKind,
  HELLO_FRAME_BYTES_MAX,
  PROTOCOL_VERSION_MAX,
  PROTOCOL_VERSION_MIN,
  kindMask,
} from './format.js';
import { parseHello, readRequestHead } from './frame.js';
import { Outbox } from './outbox.js';

/** What a handler learns about the call it serves. */
export interface CallContext {
  readonly method: string;
  readonly requestId: number;
  /** The caller's address. */
  readonly remote: Address;
  /**
   * The local monotonic time (env.clock.monoMicros()) by which the caller wants an answer:
   * arrival time plus the request's relative timeout; +Infinity when it set none.
   */
  readonly deadlineMonoMicros: number;
  /**
   * Fires on CANCEL from the caller, on the deadline, when the connection closes, and when the
   * server stops without waiting; its `reason` is a TesseraError saying which
   * (CANCELLED, DEADLINE_EXCEEDED, CONNECTION_CLOSED, SHUTTING_DOWN).
   */
  readonly signal: AbortSignal;
}

export type Handler = (args: unknown, ctx: CallContext) => unknown;

/** What a connection needs from its server. */
export interface ConnectionOwner {
  readonly env: Env;
  readonly maxFrameBytes: number;
  readonly inFlightMax: number;
  readonly handshakeTimeoutMs: number;
  readonly lingerMs: number;
  readonly stats: MutableServerStats;
  readonly observer: RpcObserver | undefined;
  handler(method: string): Handler | undefined;
  connectionClosed(conn: ServerConnection): void;
  connectionIdle(conn: ServerConnection): void;
}

export interface MutableServerStats {
  connectionsAccepted: number;
  connectionsRefused: number;
  framesReceived: number;
  requestsStarted: number;
  responsesSent: number;
  errorsSent: number;
  cancelsReceived: number;
  deadlinesExceeded: number;
  /** Connections closed because of what the peer sent (bad frames, truncation, no HELLO). */
  protocolErrors: number;
  lastProtocolError: string;
}

/**
 * How a request ended: `'ok'` (a RESPONSE went out), the code of the ERROR sent, `'CANCELLED'`
 * (the caller cancelled; nothing is sent) or `'CONNECTION_CLOSED'` (the connection ended first).
 */
export type RpcOutcome = 'ok' | ErrorCode;

/** The `method` an observer hears for a request naming no registered method. */
export const UNKNOWN_METHOD_LABEL = '(unknown)';

/**
 * Told once per REQUEST frame that was read whole and named a request id not already in flight:
 * answered, refused before its handler ran (UNKNOWN_METHOD, OVERLOADED, SHUTTING_DOWN, an expired
 * deadline), cancelled, or cut off by the connection closing or the server stopping. A request
 * the server could not parse is a protocol error of its connection (`stats().protocolErrors`).
 */
export interface RpcObserver {
  /**
   * `method` is a registered method's name, or UNKNOWN_METHOD_LABEL (callers could otherwise
   * make up unboundedly many names); `micros` runs from reading the request to its end
   * (env.clock.monoMicros()). Called synchronously on the server's path: keep it cheap; it must
   * not throw.
   */
  onCall(method: string, micros: number, outcome: RpcOutcome): void;
}

/**
 * Replies are written once this many bytes are queued, not only at the end of the task that
 * made them (outbox.ts): about seven replies of a YCSB row. 4 and 16 KiB did as well.
 */
const REPLY_FLUSH_BYTES = 8 * 1024;

const HANDSHAKE_KINDS = kindMask(FrameKind.HELLO);
const OPEN_KINDS = kindMask(FrameKind.REQUEST, FrameKind.CANCEL, FrameKind.PING, FrameKind.PONG);

/** Connection states, in the only order they are entered. */
const State = {
  Handshake: 0,
  Open: 1,
  /** GOAWAY sent: in-flight requests finish, new ones get SHUTTING_DOWN. */
  Draining: 2,
  /** Ending: nothing more is read or answered; waiting for the close. */
  Closing: 3,
  Closed: 4,
} as const;
type State = (typeof State)[keyof typeof State];

class ServerCall implements CallContext {
  answered = false;
  /** When the request was read (env.clock.monoMicros()); only read when an observer listens. */
  startMicros = 0;
  private controller: AbortController | undefined;
  private abortReason: TesseraError | undefined;

  constructor(
    readonly owner: ServerConnection,
    readonly requestId: number,
    readonly method: string,
    readonly deadlineMonoMicros: number,
  ) {}

  get remote(): Address {
    return this.owner.remote;
  }

  // Made on first use: most handlers never look, and an AbortController per call is not free.
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  abort(reason: TesseraError): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}

export class ServerConnection implements FrameSink {
  private state: State = State.Handshake;
  private readonly decoder: FrameDecoder;
  private readonly outbox: Outbox;
  /** Calls not yet answered, by request id. */
  private readonly calls = new Map<number, ServerCall>();
  /** Handlers started and not yet settled (cancelled or expired ones included). */
  private running = 0;
  private readonly deadlines: DeadlineTimer;
  private handshakeTimer: Timer | null;
  private lingerTimer: Timer | null = null;
  /** Local time the current chunk arrived, read lazily (NaN: not read yet). */
  private chunkMicros = Number.NaN;
  private paused = false;

  constructor(
    private readonly owner: ConnectionOwner,
    readonly conn: Connection,
  ) {
    const env = owner.env;
    this.decoder = new FrameDecoder(this, HELLO_FRAME_BYTES_MAX, HANDSHAKE_KINDS);
    this.outbox = new Outbox(conn, env.timers, { flushAtBytes: REPLY_FLUSH_BYTES });
    this.outbox.onBackpressure = () => this.pauseReading();
    this.deadlines = new DeadlineTimer(env.clock, env.timers, (now) => this.expire(now));
    this.handshakeTimer = env.timers.after(owner.handshakeTimeoutMs, () => {
      this.handshakeTimer = null;
      this.protocolFailure(
        new TesseraError(
          'DEADLINE_EXCEEDED',
          `no HELLO within ${owner.handshakeTimeoutMs} ms of connecting`,
        ),
        0,
      );
    });
    conn.setHandlers({
      onData: (chunk) => this.onData(chunk),
      onClose: (error) => this.onClose(error),
      onDrain: () => this.resumeReading(),
    });
  }

  get remote(): Address {
    return this.conn.remote;
  }

  /** Requests started whose handlers have not settled, plus unanswered ones. */
  get busy(): boolean {
    return this.running > 0 || this.calls.size > 0;
  }

  get isClosed(): boolean {
    return this.state === State.Closed;
  }

  // -------------------------------------------------------------------------------------------
  // Input

  private onData(chunk: Uint8Array): void {
    if (this.state >= State.Closing) return;
    this.chunkMicros = Number.NaN;
    try {
      this.decoder.push(chunk);
    } catch (err) {
      // Decoding and dispatch handle their own errors; reaching here is a bug in this module.
      this.fatal(toTesseraError(err), 0);
    }
  }

  onFrame(kind: FrameKind, requestId: number, buf: Uint8Array, start: number, end: number): void {
    this.owner.stats.framesReceived++;
    switch (kind) {
      case FrameKind.REQUEST:
        this.onRequest(requestId, buf, start, end);
        return;
      case FrameKind.CANCEL:
        this.onCancel(requestId);
        return;
      case FrameKind.PING:
        this.outbox.control(FrameKind.PONG, requestId);
        return;
      case FrameKind.PONG:
        return; // The server sends no PINGs yet; an unsolicited PONG is harmless.
      case FrameKind.HELLO:
        this.onHello(buf, start, end);
        return;
      default:
        // The decoder admits only the kinds above.
        this.protocolFailure(
          new TesseraError('PROTOCOL_ERROR', `unexpected frame kind ${kind}`),
          0,
        );
    }
  }

  onFrameError(error: TesseraError, requestId: number): void {
    this.protocolFailure(error, requestId);
  }

  private onHello(buf: Uint8Array, start: number, end: number): void {
    let hello;
    try {
      hello = parseHello(FrameKind.HELLO, buf, start, end);
    } catch (err) {
      this.protocolFailure(toTesseraError(err), 0);
      return;
    }
    if (hello.version < PROTOCOL_VERSION_MIN) {
      this.protocolFailure(
        new TesseraError(
          'VERSION_MISMATCH',
          `client speaks protocol versions up to ${hello.version}; this server speaks ${PROTOCOL_VERSION_MIN}..${PROTOCOL_VERSION_MAX}`,
          { versionMin: PROTOCOL_VERSION_MIN, versionMax: PROTOCOL_VERSION_MAX },
        ),
        0,
      );
      return;
    }
    if (hello.maxFrameBytes < FRAME_BYTES_MIN) {
      this.protocolFailure(
        new TesseraError(
          'PROTOCOL_ERROR',
          `client accepts frames of at most ${hello.maxFrameBytes} bytes; the minimum is ${FRAME_BYTES_MIN}`,
        ),
        0,
      );
      return;
    }
    this.handshakeTimer?.cancel();
    this.handshakeTimer = null;
    const version = Math.min(hello.version, PROTOCOL_VERSION_MAX);
    this.outbox.peerMaxFrameBytes = Math.min(hello.maxFrameBytes, FRAME_BYTES_CEILING);
    this.outbox.hello(
      FrameKind.HELLO_ACK,
      version,
      hello.features & FEATURES_SUPPORTED,
      this.owner.maxFrameBytes,
    );
    this.decoder.maxFrameBytes = this.owner.maxFrameBytes;
    this.decoder.allowedKinds = OPEN_KINDS;
    this.state = State.Open;
  }

  private onRequest(requestId: number, buf: Uint8Array, start: number, end: number): void {
    const observer = this.owner.observer;
    const startMicros = observer === undefined ? 0 : this.owner.env.clock.monoMicros();
    let method: string;
    let timeoutMs: number;
    let args: unknown;
    try {
      const head = readRequestHead(buf, start, end);
      method = head.method;
      timeoutMs = head.timeoutMs;
      args = decodeValue(buf, head.argsStart, end);
    } catch (err) {
      this.protocolFailure(toTesseraError(err), requestId);
      return;
    }
    if (this.calls.has(requestId)) {
      this.protocolFailure(
        new TesseraError('PROTOCOL_ERROR', `request id ${requestId} is already in flight`),
        requestId,
      );
      return;
    }
    const handler = this.owner.handler(method);
    if (this.state === State.Draining) {
      this.refuseRequest(
        requestId,
        handler === undefined ? UNKNOWN_METHOD_LABEL : method,
        startMicros,
        new TesseraError('SHUTTING_DOWN', 'the server is shutting down'),
      );
      return;
    }
    if (handler === undefined) {
      this.refuseRequest(
        requestId,
        UNKNOWN_METHOD_LABEL,
        startMicros,
        new TesseraError('UNKNOWN_METHOD', `no method '${method}'`, { method }),
      );
      return;
    }
    if (this.running >= this.owner.inFlightMax) {
      this.refuseRequest(
        requestId,
        method,
        startMicros,
        new TesseraError(
          'OVERLOADED',
          `${this.running} requests already in flight on this connection (limit ${this.owner.inFlightMax})`,
          { inFlightMax: this.owner.inFlightMax },
        ),
      );
      return;
    }
    let deadline = Number.POSITIVE_INFINITY;
    if (timeoutMs !== 0) {
      const clock = this.owner.env.clock;
      if (Number.isNaN(this.chunkMicros)) this.chunkMicros = clock.monoMicros();
      deadline = this.chunkMicros + timeoutMs * 1000;
      const now = clock.monoMicros();
      if (now >= deadline) {
        this.owner.stats.deadlinesExceeded++;
        this.refuseRequest(requestId, method, startMicros, deadlineError(method, timeoutMs, false));
        return;
      }
      this.deadlines.schedule(deadline, now);
    }
    const call = new ServerCall(this, requestId, method, deadline);
    call.startMicros = startMicros;
    this.calls.set(requestId, call);
    this.running++;
    this.owner.stats.requestsStarted++;
    let result: unknown;
    try {
      result = handler(args, call);
    } catch (err) {
      this.settled();
      this.fail(call, err);
      return;
    }
    if (isThenable(result)) {
      // Promise.resolve adopts foreign thenables safely (a throwing `then` becomes a rejection).
      Promise.resolve(result).then(
        (value) => {
          this.settled();
          this.succeed(call, value);
        },
        (err: unknown) => {
          this.settled();
          this.fail(call, err);
        },
      );
    } else {
      this.settled();
      this.succeed(call, result);
    }
  }

  private onCancel(requestId: number): void {
    const call = this.calls.get(requestId);
    if (call === undefined) return; // Already answered: CANCEL and response crossed.
    this.owner.stats.cancelsReceived++;
    this.forget(call, 'CANCELLED');
    call.abort(new TesseraError('CANCELLED', 'the caller cancelled the request'));
  }

  // -------------------------------------------------------------------------------------------
  // Answers

  private succeed(call: ServerCall, value: unknown): void {
    if (call.answered || this.state >= State.Closing) return;
    let outcome: RpcOutcome = 'ok';
    try {
      this.outbox.response(call.requestId, value);
      this.owner.stats.responsesSent++;
    } catch (err) {
      const e = toTesseraError(err);
      const error =
        e.code === 'FRAME_TOO_LARGE'
          ? e
          : new TesseraError(
              'INTERNAL',
              `the result of '${call.method}' cannot be encoded: ${e.message}`,
            );
      outcome = error.code;
      this.sendError(call.requestId, error);
    }
    this.forget(call, outcome);
    this.maybeIdle();
  }

  private fail(call: ServerCall, err: unknown): void {
    if (!call.answered && this.state < State.Closing) {
      const error = toTesseraError(err);
      this.forget(call, error.code);
      this.sendError(call.requestId, error);
      this.maybeIdle();
    }
    if (isTesseraError(err, 'ASSERTION_FAILED')) {
      // A broken invariant (util/assert.ts): the process no longer knows what is true. The
      // caller gets its answer (queued above, flushed first), then the error is rethrown
      // outside any promise so that the process stops (a real process exits; a simulated
      // node crashes).
      this.owner.env.timers.defer(() => {
        throw err;
      });
    }
  }

  private sendError(requestId: number, error: TesseraError): void {
    if (this.state >= State.Closing) return;
    this.outbox.error(requestId, error);
    this.owner.stats.errorsSent++;
  }

  /** Answers a request turned away before its handler ran, and tells the observer. */
  private refuseRequest(
    requestId: number,
    method: string,
    startMicros: number,
    error: TesseraError,
  ): void {
    this.sendError(requestId, error);
    const observer = this.owner.observer;
    if (observer !== undefined) {
      observer.onCall(method, this.owner.env.clock.monoMicros() - startMicros, error.code);
    }
  }

  /** The call's end: no answer may follow. Tells the observer (once: callers check `answered`). */
  private forget(call: ServerCall, outcome: RpcOutcome): void {
    call.answered = true;
    this.calls.delete(call.requestId);
    const observer = this.owner.observer;
    if (observer !== undefined) {
      observer.onCall(call.method, this.owner.env.clock.monoMicros() - call.startMicros, outcome);
    }
  }

  /** A handler finished (whether or not its answer is still wanted). */
  private settled(): void {
    this.running--;
    this.maybeIdle();
  }

  /** Answers every call whose deadline has passed; returns the earliest deadline left. */
  private expire(now: number): number {
    let next = Number.POSITIVE_INFINITY;
    for (const call of this.calls.values()) {
      const d = call.deadlineMonoMicros;
      if (d <= now) {
        const error = deadlineError(call.method, 0, true);
        this.forget(call, error.code);
        this.owner.stats.deadlinesExceeded++;
        call.abort(error);
        this.sendError(call.requestId, error);
      } else if (d < next) {
        next = d;
      }
    }
    this.maybeIdle();
    return next;
  }

  private maybeIdle(): void {
    if (this.state === State.Draining && !this.busy) this.owner.connectionIdle(this);
  }

  // -------------------------------------------------------------------------------------------
  // Back-pressure: stop reading requests while the peer is not reading our answers.

  private pauseReading(): void {
    if (this.paused || this.state >= State.Closing) return;
    this.paused = true;
    this.conn.pause();
  }

  private resumeReading(): void {
    if (!this.paused || this.state >= State.Closing) return;
    this.paused = false;
    this.conn.resume();
  }

  // -------------------------------------------------------------------------------------------
  // Ending

  /** Server shutdown, first step: no new requests; the ones in flight may finish. */
  goAway(): void {
    if (this.state === State.Handshake) {
      this.fatal(new TesseraError('SHUTTING_DOWN', 'the server is shutting down'), 0);
      return;
    }
    if (this.state !== State.Open) return;
    this.state = State.Draining;
    this.outbox.control(FrameKind.GOAWAY, 0);
    this.maybeIdle();
  }

  /**
   * Server shutdown, last step: unanswered calls get SHUTTING_DOWN (their handlers are told
   * through the signal), then the connection ends.
   */
  shutdown(): void {
    if (this.state >= State.Closing) return;
    const error = new TesseraError(
      'SHUTTING_DOWN',
      'the server stopped before the request finished',
    );
    for (const call of this.calls.values()) {
      this.forget(call, error.code);
      call.abort(error);
      this.sendError(call.requestId, error);
    }
    this.end();
  }

  /** Turns the connection away at once (server full or stopping): an ERROR frame, then end. */
  refuse(reason: TesseraError): void {
    this.fatal(reason, 0);
  }

  /** The peer broke the protocol: count it, tell it why, and close. */
  private protocolFailure(error: TesseraError, requestId: number): void {
    if (this.state >= State.Closing) return;
    this.owner.stats.protocolErrors++;
    this.owner.stats.lastProtocolError = `${error.code}: ${error.message}`;
    this.fatal(error, requestId);
  }

  /** Sends an ERROR frame naming `requestId` (0: the connection) and ends the connection. */
  private fatal(error: TesseraError, requestId: number): void {
    if (this.state >= State.Closing) return;
    this.outbox.error(requestId, error);
    this.owner.stats.errorsSent++;
    this.end();
  }

  private end(): void {
    this.state = State.Closing;
    this.decoder.stop();
    this.handshakeTimer?.cancel();
    this.handshakeTimer = null;
    this.deadlines.cancel();
    this.abortAll(new TesseraError('CONNECTION_CLOSED', 'the connection is closing'));
    this.outbox.flush();
    if (!this.conn.closed) this.conn.end();
    // A peer that never closes its side must not hold the socket forever.
    this.lingerTimer = this.owner.env.timers.after(this.owner.lingerMs, () => {
      this.lingerTimer = null;
      this.conn.destroy();
    });
  }

  private onClose(_error?: TesseraError): void {
    if (this.state === State.Closed) return;
    if (this.state < State.Closing && this.decoder.midFrame) {
      // The peer hung up inside a frame. No one is left to tell; count it.
      this.owner.stats.protocolErrors++;
      this.owner.stats.lastProtocolError = 'PROTOCOL_ERROR: connection closed inside a frame';
    }
    this.state = State.Closed;
    this.decoder.stop();
    this.outbox.discard();
    this.handshakeTimer?.cancel();
    this.handshakeTimer = null;
    this.lingerTimer?.cancel();
    this.lingerTimer = null;
    this.deadlines.cancel();
    this.abortAll(new TesseraError('CONNECTION_CLOSED', 'the connection closed'));
    this.owner.connectionClosed(this);
  }

  private abortAll(reason: TesseraError): void {
    for (const call of this.calls.values()) {
      this.forget(call, reason.code);
      call.abort(reason);
    }
  }
}

function deadlineError(method: string, timeoutMs: number, started: boolean): TesseraError {
  return new TesseraError(
    'DEADLINE_EXCEEDED',
    started
      ? `'${method}' did not finish before its deadline`
      : `'${method}' arrived past its deadline (${timeoutMs} ms) and was not started`,
    { method },
  );
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}
