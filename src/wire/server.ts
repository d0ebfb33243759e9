/**
 * RpcServer: accepts connections, speaks the handshake, and dispatches REQUEST frames to
 * registered handlers. See docs/formats/rpc.md for what goes over the wire and what the server
 * does with each kind of bad input.
 */
import type { Address, Connection, Env, Listener } from '../env/types.js';
import { assert } from '../util/assert.js';
import { TesseraError } from '../util/errors.js';
import { checkFrameLimit, encodeMethod } from './codec.js';
import { FRAME_BYTES_DEFAULT, FRAME_BYTES_MIN, METHOD_BYTES_MAX } from './format.js';
import {
  ServerConnection,
  type ConnectionOwner,
  type Handler,
  type MutableServerStats,
  type RpcObserver,
} from './server-connection.js';

export { UNKNOWN_METHOD_LABEL, type RpcObserver, type RpcOutcome } from './server-connection.js';

export interface RpcServerOptions {
  /** Largest frame accepted from a client, advertised in HELLO_ACK. Default 16 MiB. */
  readonly maxFrameBytes?: number;
  /** Handlers running at once per connection; a request beyond gets OVERLOADED. Default 1024. */
  readonly inFlightPerConnectionMax?: number;
  /** Open connections; one beyond gets an OVERLOADED error frame and is closed. Default 10000. */
  readonly connectionsMax?: number;
  /** A connection must complete its HELLO within this time. Default 10000 ms. */
  readonly handshakeTimeoutMs?: number;
  /** A connection the server ended is destroyed if the peer has not closed it by then. Default 2000 ms. */
  readonly lingerMs?: number;
  /** How long close() lets in-flight requests finish, unless told otherwise. Default 5000 ms. */
  readonly drainTimeoutMs?: number;
  /**
   * Hears how each request ended (for metrics). Absent: the server reads no clock for it and
   * makes no call, so an unobserved server pays nothing.
   */
  readonly observer?: RpcObserver;
}

export interface RpcServerStats {
  readonly connectionsAccepted: number;
  readonly connectionsRefused: number;
  readonly connectionsOpen: number;
  readonly framesReceived: number;
  readonly requestsStarted: number;
  readonly responsesSent: number;
  readonly errorsSent: number;
  readonly cancelsReceived: number;
  readonly deadlinesExceeded: number;
  readonly protocolErrors: number;
  readonly lastProtocolError: string;
}

export class RpcServer {
  private readonly env: Env;
  private readonly handlers = new Map<string, Handler>();
  private readonly connections = new Set<ServerConnection>();
  private readonly owner: ConnectionOwner;
  private readonly connectionsMax: number;
  private readonly drainTimeoutMs: number;
  private readonly counters: MutableServerStats = {
    connectionsAccepted: 0,
    connectionsRefused: 0,
    framesReceived: 0,
    requestsStarted: 0,
    responsesSent: 0,
    errorsSent: 0,
    cancelsReceived: 0,
    deadlinesExceeded: 0,
    protocolErrors: 0,
    lastProtocolError: '',
  };
  private listener: Listener | undefined;
  private closing: Promise<void> | undefined;
  /** Wakes close() when a draining connection goes idle or any connection closes. */
  private wake: (() => void) | null = null;

  constructor(env: Env, options: RpcServerOptions = {}) {
    this.env = env;
    const maxFrameBytes = checkFrameLimit(
      options.maxFrameBytes ?? FRAME_BYTES_DEFAULT,
      FRAME_BYTES_MIN,
      'maxFrameBytes',
    );
    const inFlightMax = positiveInt(
      options.inFlightPerConnectionMax ?? 1024,
      'inFlightPerConnectionMax',
    );
    this.connectionsMax = positiveInt(options.connectionsMax ?? 10_000, 'connectionsMax');
    this.drainTimeoutMs = nonNegative(options.drainTimeoutMs ?? 5000, 'drainTimeoutMs');
    const handshakeTimeoutMs = positiveInt(
      options.handshakeTimeoutMs ?? 10_000,
      'handshakeTimeoutMs',
    );
    const lingerMs = nonNegative(options.lingerMs ?? 2000, 'lingerMs');
    const handlers = this.handlers;
    const connections = this.connections;
    const onChange = (): void => this.wake?.();
    this.owner = {
      env,
      maxFrameBytes,
      inFlightMax,
      handshakeTimeoutMs,
      lingerMs,
      stats: this.counters,
      observer: options.observer,
      handler: (method) => handlers.get(method),
      connectionClosed(conn) {
        connections.delete(conn);
        onChange();
      },
      connectionIdle: onChange,
    };
  }

  /** Registers the handler for `method` (1..255 printable ASCII characters). */
  handle(method: string, handler: Handler): this {
    encodeMethod(method); // validates the name
    assert(method.length <= METHOD_BYTES_MAX);
    if (this.handlers.has(method)) {
      throw new TesseraError('INVALID_ARGUMENT', `method '${method}' already has a handler`);
    }
    this.handlers.set(method, handler);
    return this;
  }

  /** Starts accepting connections; resolves with the bound address (port 0 picks one). */
  async listen(address: Address): Promise<Address> {
    if (this.listener !== undefined) {
      throw new TesseraError('INVALID_ARGUMENT', 'the server is already listening');
    }
    if (this.closing !== undefined) {
      throw new TesseraError('SHUTTING_DOWN', 'the server was closed');
    }
    this.listener = await this.env.net.listen(address, (conn) => this.accept(conn));
    return this.listener.address;
  }

  /** The bound address, once listening. */
  get address(): Address | undefined {
    return this.listener?.address;
  }

  stats(): RpcServerStats {
    return { ...this.counters, connectionsOpen: this.connections.size };
  }

  /**
   * Stops the server: stops accepting, sends GOAWAY on every connection, lets in-flight
   * requests finish for up to `drainTimeoutMs` (new requests get SHUTTING_DOWN), answers the
   * rest with SHUTTING_DOWN, ends every connection and resolves when all are closed.
   */
  close(options: { readonly drainTimeoutMs?: number } = {}): Promise<void> {
    if (this.closing === undefined) {
      const drainMs = nonNegative(options.drainTimeoutMs ?? this.drainTimeoutMs, 'drainTimeoutMs');
      this.closing = this.shutdown(drainMs);
    }
    return this.closing;
  }

  private accept(conn: Connection): void {
    if (this.closing !== undefined || this.connections.size >= this.connectionsMax) {
      this.counters.connectionsRefused++;
      const reason =
        this.closing !== undefined
          ? new TesseraError('SHUTTING_DOWN', 'the server is shutting down')
          : new TesseraError('OVERLOADED', `too many connections (limit ${this.connectionsMax})`);
      const refused = new ServerConnection(this.owner, conn);
      this.connections.add(refused);
      refused.refuse(reason);
      return;
    }
    this.counters.connectionsAccepted++;
    this.connections.add(new ServerConnection(this.owner, conn));
  }

  private async shutdown(drainMs: number): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    if (listener !== undefined) await listener.close();
    for (const c of this.connections) c.goAway();
    // Drain: wait until every connection is idle, or the drain time is up.
    const drainEnd = this.env.clock.monoMicros() + drainMs * 1000;
    await this.waitUntil(() => {
      for (const c of this.connections) if (c.busy) return false;
      return true;
    }, drainEnd);
    for (const c of this.connections) c.shutdown();
    // Ended connections close when the peer closes, or when their linger time is up.
    await this.waitUntil(() => this.connections.size === 0, Number.POSITIVE_INFINITY);
  }

  /** Resolves once `done()` holds (re-checked on every connection change) or at `deadlineMicros`. */
  private async waitUntil(done: () => boolean, deadlineMicros: number): Promise<void> {
    while (!done()) {
      const now = this.env.clock.monoMicros();
      if (now >= deadlineMicros) return;
      await new Promise<void>((resolve) => {
        const timer =
          deadlineMicros === Number.POSITIVE_INFINITY
            ? undefined
            : this.env.timers.after(Math.ceil((deadlineMicros - now) / 1000), resolve);
        this.wake = () => {
          timer?.cancel();
          resolve();
        };
      });
      this.wake = null;
    }
  }
}

function positiveInt(v: number, name: string): number {
  if (!Number.isInteger(v) || v <= 0) {
    throw new TesseraError('INVALID_ARGUMENT', `${name} must be a positive integer, got ${v}`);
  }
  return v;
}

function nonNegative(v: number, name: string): number {
  if (!Number.isFinite(v) || v < 0) {
    throw new TesseraError('INVALID_ARGUMENT', `${name} must be a finite number >= 0, got ${v}`);
  }
  return v;
}
