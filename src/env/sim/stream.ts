import type { Address, Connection, ConnectionHandlers } from '../types.js';
import { TesseraError } from '../../util/errors.js';
import type { Kernel, Lifetime, SimEvent } from './kernel.js';

/**
 * Simulated TCP connections. A connection is two Endpoints joined by two Pipes, one per
 * direction. A pipe carries items in order: the accept (server to client, always first), data
 * segments, an orderly FIN, or a reset. The network decides when each item arrives; this file
 * decides what arriving items do to an endpoint and when its handlers are called.
 */

/** Bytes written but not yet consumed by the peer above which write() says false. */
export const sendBufferBytesMax = 1024 * 1024;

export type PipeItem =
  | { readonly kind: 'accept' }
  | { readonly kind: 'data'; readonly bytes: Uint8Array }
  | { readonly kind: 'fin' }
  | { readonly kind: 'rst' };

/** What endpoints need from the network (SimNetwork implements it). */
export interface StreamTransport {
  readonly kernel: Kernel;
  /** Puts an item on the wire: it arrives after a sampled delay, after earlier items. */
  send(pipe: Pipe, item: PipeItem): void;
  /** The endpoint will take no more part in the network (closed or crashed). */
  endpointGone(endpoint: Endpoint): void;
}

/** One direction of a connection. */
export class Pipe {
  /** Bumped to discard every item in flight (destroy, reset); arrivals compare it. */
  generation = 0;
  /** Arrival time of the last item sent: later items never arrive before it. */
  lastAtMicros = 0;
  /** Set when an item met a partition: this and all later items wait in `held` until heal. */
  blocked = false;
  held: PipeItem[] = [];

  constructor(
    readonly from: Endpoint,
    readonly to: Endpoint,
  ) {}

  get label(): string {
    const { from, to } = this;
    return `c${from.id} ${from.local.host}:${from.local.port}>${to.local.host}:${to.local.port}`;
  }

  discard(): void {
    this.generation++;
    this.held = [];
    this.blocked = false;
  }
}

type InboxItem =
  | { readonly kind: 'data'; readonly bytes: Uint8Array }
  | { readonly kind: 'close'; readonly error: TesseraError | undefined };

interface PendingConnect {
  readonly resolve: (conn: Connection) => void;
  readonly reject: (err: TesseraError) => void;
  timeout: SimEvent | undefined;
}

export class Endpoint implements Connection {
  peer: Endpoint | undefined;
  out: Pipe | undefined;
  /** Set while a client endpoint waits for its accept. */
  connecting: PendingConnect | undefined;
  /** Bytes written here that the peer has not yet handed to its onData. */
  private unackedBytes = 0;
  private drainWanted = false;
  private handlers: ConnectionHandlers | undefined;
  private readonly inbox = new Fifo<InboxItem>();
  private paused = false;
  private ended = false;
  private isClosed = false;
  private flushScheduled = false;

  constructor(
    private readonly transport: StreamTransport,
    readonly id: number,
    readonly local: Address,
    readonly remote: Address,
    readonly owner: Lifetime,
  ) {}

  /** True once end() or destroy() was called or the connection went away: no more writes. */
  get closed(): boolean {
    return this.isClosed || this.ended;
  }

  /** True once this endpoint takes no more part in the connection (nothing more arrives). */
  get gone(): boolean {
    return this.isClosed;
  }

  setHandlers(handlers: ConnectionHandlers): void {
    if (!this.owner.alive) return;
    this.handlers = handlers;
    if (this.inbox.length > 0) this.scheduleFlush();
  }

  write(chunk: Uint8Array): boolean {
    if (!this.owner.alive || this.isClosed || this.ended || this.out === undefined) return false;
    if (chunk.length > 0) {
      this.unackedBytes += chunk.length;
      // No copy, on purpose: a real socket also sends from the caller's buffer later, so code
      // that reuses a buffer after write() corrupts its stream here too, where a seed finds it.
      this.transport.send(this.out, { kind: 'data', bytes: chunk });
    }
    if (this.unackedBytes < sendBufferBytesMax) return true;
    this.drainWanted = true;
    return false;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.inbox.length > 0) this.scheduleFlush();
  }

  end(): void {
    if (!this.owner.alive || this.isClosed || this.ended || this.out === undefined) return;
    this.ended = true;
    this.transport.send(this.out, { kind: 'fin' });
  }

  destroy(): void {
    if (!this.owner.alive || this.isClosed) return;
    this.markClosed();
    if (this.out !== undefined) {
      this.out.discard();
      this.transport.send(this.out, { kind: 'rst' });
    }
    // Like Node's socket.destroy(): the local side hears 'close' too, with no error.
    this.inbox.clear();
    this.inbox.push({ kind: 'close', error: undefined });
    this.scheduleFlush();
  }

  // --- Called by the network --------------------------------------------------------------

  /** An item arrived from the peer (inside an event of this endpoint's incarnation). */
  receive(item: PipeItem): void {
    if (this.isClosed || !this.owner.alive) return;
    if (this.connecting !== undefined) {
      if (item.kind === 'accept') this.established();
      else if (item.kind === 'rst')
        this.failConnect(connectionClosed(this, 'reset during connect'));
      return;
    }
    switch (item.kind) {
      case 'accept':
        return;
      case 'data':
        this.inbox.push(item);
        this.flush();
        return;
      case 'fin':
        // The peer closed in order. Like Node without allowHalfOpen: close our side too, and
        // report the close after every byte already received.
        if (!this.ended && this.out !== undefined) this.transport.send(this.out, { kind: 'fin' });
        this.markClosed();
        this.inbox.push({ kind: 'close', error: undefined });
        this.flush();
        return;
      case 'rst':
        this.reset();
        return;
    }
  }

  /** The connection was reset: unread data is gone, handlers hear CONNECTION_CLOSED. */
  reset(): void {
    if (this.isClosed || !this.owner.alive) return;
    this.markClosed();
    this.inbox.clear();
    this.inbox.push({ kind: 'close', error: connectionClosed(this, 'connection reset') });
    this.flush();
  }

  /** The owning incarnation crashed: no callbacks ever again; the peer gets a reset. */
  crashed(): void {
    if (this.isClosed) return;
    this.markClosed();
    this.inbox.clear();
    if (this.out !== undefined) this.transport.send(this.out, { kind: 'rst' });
  }

  /** A client gave up connecting (timeout): tell a server that already accepted. */
  abandon(error: TesseraError): void {
    const pending = this.connecting;
    if (pending === undefined) return;
    this.crashed();
    this.finishConnect();
    pending.reject(error);
  }

  failConnect(error: TesseraError): void {
    const pending = this.connecting;
    if (pending === undefined) return;
    this.markClosed();
    this.finishConnect();
    pending.reject(error);
  }

  /** The peer handed `n` of our bytes to its onData: room in our send buffer. */
  acked(n: number): void {
    this.unackedBytes -= n;
    if (!this.drainWanted || this.unackedBytes >= sendBufferBytesMax || this.isClosed) return;
    this.drainWanted = false;
    const kernel = this.transport.kernel;
    kernel.schedule(kernel.nowMicros(), this.owner, `drain c${this.id} ${this.local.host}`, () => {
      const onDrain = this.handlers?.onDrain;
      if (onDrain !== undefined && !this.isClosed) kernel.invoke(this.owner, () => onDrain());
    });
  }

  private established(): void {
    const pending = this.connecting!;
    this.finishConnect();
    pending.resolve(this);
  }

  private finishConnect(): void {
    const timeout = this.connecting?.timeout;
    if (timeout !== undefined) this.transport.kernel.cancel(timeout);
    this.connecting = undefined;
  }

  private markClosed(): void {
    this.isClosed = true;
    this.ended = true;
    this.transport.endpointGone(this);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const kernel = this.transport.kernel;
    kernel.schedule(kernel.nowMicros(), this.owner, `flush c${this.id} ${this.local.host}`, () => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Hands buffered items to the handlers, in order, while they are set and not paused. */
  private flush(): void {
    const kernel = this.transport.kernel;
    for (;;) {
      const handlers = this.handlers;
      const item = this.inbox.peek();
      if (handlers === undefined || item === undefined || !this.owner.alive) return;
      if (item.kind === 'data') {
        if (this.paused) return;
        this.inbox.shift();
        this.peer?.acked(item.bytes.length);
        kernel.invoke(this.owner, () => handlers.onData(item.bytes));
      } else {
        this.inbox.clear();
        kernel.invoke(this.owner, () => handlers.onClose(item.error));
        return;
      }
    }
  }
}

function connectionClosed(endpoint: Endpoint, message: string): TesseraError {
  const { local, remote } = endpoint;
  return new TesseraError('CONNECTION_CLOSED', message, {
    local: `${local.host}:${local.port}`,
    remote: `${remote.host}:${remote.port}`,
  });
}

/** A first-in first-out queue with O(1) shift (Array.shift is O(n)). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    const item = this.items[this.head];
    if (item === undefined) return undefined;
    this.head++;
    if (this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
