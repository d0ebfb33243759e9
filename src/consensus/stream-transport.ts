/**
 * StreamTransport: Raft messages over stream connections (TCP through `env.net`), so a message
 * is not capped by a datagram's size (large appends, large snapshots).
 *
 * - Listens at `listen`; every inbound connection only carries frames toward this node: each
 *   frame is decoded and handed to `onMessage`. A bad frame (too long, or not a message) closes
 *   that connection.
 * - One outbound connection per peer, opened lazily on the first send, reopened after a failure
 *   with a growing backoff (env.timers). `send` never throws and never blocks: messages wait in a
 *   per-peer queue bounded in bytes; when it is full the oldest queued messages are dropped
 *   (Raft tolerates loss and retransmits) and counted in `drops`.
 * - A frame is a u32 big-endian length followed by that many bytes of `encodeMessage` output.
 */
import type { Address, Connection, Env, Listener, Timer } from '../env/types.js';
import { decodeMessage, encodeMessage } from './codec.js';
import type { Message, NodeId } from './types.js';

export const FRAME_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;
/** Bytes queued per peer (beyond what the connection buffered); a larger single frame still goes. */
export const QUEUE_BYTES_MAX_DEFAULT = 16 * 1024 * 1024;
export const RECONNECT_MIN_MS = 20;
export const RECONNECT_MAX_MS = 1_000;
export const CONNECT_TIMEOUT_MS = 1_000;

const HEADER_BYTES = 4;

export interface StreamTransportOptions {
  readonly self: NodeId;
  readonly listen: Address;
  readonly peers: ReadonlyMap<NodeId, Address>;
  readonly onMessage: (msg: Message) => void;
  /** Longest frame sent or accepted. Default FRAME_BYTES_MAX_DEFAULT. */
  readonly frameBytesMax?: number;
  /** Bytes a peer's send queue holds at most. Default QUEUE_BYTES_MAX_DEFAULT. */
  readonly queueBytesMax?: number;
}

/** Counters, for tests and status. */
export interface StreamTransportStats {
  /** Messages dropped: queue full, or a message larger than frameBytesMax. */
  drops: number;
  /** Messages dropped because their encoding exceeded frameBytesMax. */
  oversizedDrops: number;
  /** Inbound connections closed for a bad frame. */
  badFrames: number;
  /** Outbound connection attempts that failed. */
  connectFailures: number;
}

/** Accumulates stream bytes and cuts length-prefixed frames. */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  constructor(private readonly frameBytesMax: number) {}

  /** Adds `chunk`; returns the complete frames, or undefined for a frame over the limit. */
  push(chunk: Uint8Array): Uint8Array[] | undefined {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.buffered < HEADER_BYTES) return frames;
      const head = this.peek(HEADER_BYTES);
      const length = new DataView(head.buffer, head.byteOffset, HEADER_BYTES).getUint32(0);
      if (length > this.frameBytesMax) return undefined;
      if (this.buffered < HEADER_BYTES + length) return frames;
      this.take(HEADER_BYTES);
      frames.push(this.take(length));
    }
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of this.chunks) {
      const part = c.subarray(0, n - at);
      out.set(part, at);
      at += part.length;
      if (at === n) break;
    }
    return out;
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const want = n - at;
      if (c.length <= want) {
        out.set(c, at);
        at += c.length;
        this.chunks.shift();
      } else {
        out.set(c.subarray(0, want), at);
        this.chunks[0] = c.subarray(want);
        at += want;
      }
    }
    this.buffered -= n;
    return out;
  }
}

/** `payload` with its u32 big-endian length in front. */
export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  new DataView(out.buffer, out.byteOffset, HEADER_BYTES).setUint32(0, payload.length);
  out.set(payload, HEADER_BYTES);
  return out;
}

class PeerLink {
  conn: Connection | undefined;
  connecting = false;
  /** Frames waiting for a connection or for the connection's buffer to drain. */
  queue: Uint8Array[] = [];
  queuedBytes = 0;
  /** The connection's buffer said full: wait for onDrain. */
  blocked = false;
  backoffMs = 0;
  retry: Timer | undefined;

  constructor(readonly address: Address) {}
}

export class StreamTransport {
  readonly stats: StreamTransportStats = {
    drops: 0,
    oversizedDrops: 0,
    badFrames: 0,
    connectFailures: 0,
  };
  private listener!: Listener;
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly inbound = new Set<Connection>();
  private readonly frameBytesMax: number;
  private readonly queueBytesMax: number;
  private closed = false;

  private constructor(
    private readonly env: Env,
    private readonly opts: StreamTransportOptions,
  ) {
    this.frameBytesMax = opts.frameBytesMax ?? FRAME_BYTES_MAX_DEFAULT;
    this.queueBytesMax = opts.queueBytesMax ?? QUEUE_BYTES_MAX_DEFAULT;
    for (const [id, address] of opts.peers) {
      if (id !== opts.self) this.links.set(id, new PeerLink(address));
    }
  }

  /** Listens at `opts.listen` (fails like env.net.listen, e.g. ADDRESS_IN_USE). */
  static async start(env: Env, opts: StreamTransportOptions): Promise<StreamTransport> {
    const t = new StreamTransport(env, opts);
    t.listener = await env.net.listen(opts.listen, (conn) => t.accept(conn));
    return t;
  }

  /** The address actually listened on. */
  get address(): Address {
    return this.listener.address;
  }

  /** Queues `msg` for peer `to`; never throws. Unknown peers and a closed transport drop it. */
  send(to: NodeId, msg: Message): void {
    if (this.closed) return;
    const link = this.links.get(to);
    if (link === undefined) return;
    let bytes: Uint8Array;
    try {
      bytes = encodeMessage(msg);
    } catch {
      this.stats.drops++;
      return;
    }
    this.sendEncoded(to, bytes);
  }

  /** Like `send`, for a message already encoded with `encodeMessage`. */
  sendEncoded(to: NodeId, bytes: Uint8Array): void {
    if (this.closed) return;
    const link = this.links.get(to);
    if (link === undefined) return;
    if (bytes.length > this.frameBytesMax) {
      this.stats.drops++;
      this.stats.oversizedDrops++;
      return;
    }
    const framed = frame(bytes);
    link.queue.push(framed);
    link.queuedBytes += framed.length;
    // Full: drop the oldest (never the one just queued), like losses on the way.
    while (link.queuedBytes > this.queueBytesMax && link.queue.length > 1) {
      const dropped = link.queue.shift()!;
      link.queuedBytes -= dropped.length;
      this.stats.drops++;
    }
    this.pump(to, link);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.values()) {
      link.retry?.cancel();
      link.retry = undefined;
      link.conn?.destroy();
      link.conn = undefined;
      link.queue = [];
      link.queuedBytes = 0;
    }
    for (const conn of this.inbound) conn.destroy();
    this.inbound.clear();
    await this.listener.close();
  }

  // ---- internals ----

  private accept(conn: Connection): void {
    if (this.closed) {
      conn.destroy();
      return;
    }
    this.inbound.add(conn);
    const reader = new FrameReader(this.frameBytesMax);
    conn.setHandlers({
      onData: (chunk) => {
        if (conn.closed) return;
        const frames = reader.push(chunk);
        if (frames === undefined) {
          this.badFrame(conn);
          return;
        }
        for (const f of frames) {
          let msg: Message;
          try {
            msg = decodeMessage(f);
          } catch {
            this.badFrame(conn);
            return;
          }
          if (this.closed) return;
          this.opts.onMessage(msg);
        }
      },
      onClose: () => {
        this.inbound.delete(conn);
      },
    });
  }

  private badFrame(conn: Connection): void {
    this.stats.badFrames++;
    this.inbound.delete(conn);
    conn.destroy();
  }

  /** Writes queued frames while the connection takes them; connects when there is none. */
  private pump(id: NodeId, link: PeerLink): void {
    if (this.closed) return;
    const conn = link.conn;
    if (conn === undefined || conn.closed) {
      link.conn = undefined;
      this.connect(id, link);
      return;
    }
    while (!link.blocked && link.queue.length > 0) {
      const f = link.queue.shift()!;
      link.queuedBytes -= f.length;
      if (!conn.write(f)) link.blocked = true;
    }
  }

  private connect(id: NodeId, link: PeerLink): void {
    if (link.connecting || link.retry !== undefined || this.closed) return;
    link.connecting = true;
    this.env.net.connect(link.address, { timeoutMs: CONNECT_TIMEOUT_MS }).then(
      (conn) => {
        link.connecting = false;
        if (this.closed) {
          conn.destroy();
          return;
        }
        link.conn = conn;
        link.blocked = false;
        link.backoffMs = 0;
        conn.setHandlers({
          // Peers send nothing back on this connection.
          onData: () => {},
          onClose: () => {
            if (link.conn !== conn) return;
            link.conn = undefined;
            link.blocked = false;
            // Frames already handed to the connection are lost, like datagrams; reconnect
            // after a backoff when something is queued, else on the next send.
            if (link.queue.length > 0) this.scheduleRetry(id, link);
          },
          onDrain: () => {
            if (link.conn !== conn) return;
            link.blocked = false;
            this.pump(id, link);
          },
        });
        this.pump(id, link);
      },
      () => {
        link.connecting = false;
        this.stats.connectFailures++;
        // The peer is unreachable: what waited for it is lost, like datagrams to a dead host
        // (Raft retransmits what still matters once the peer answers again).
        this.stats.drops += link.queue.length;
        link.queue = [];
        link.queuedBytes = 0;
        this.scheduleRetry(id, link);
      },
    );
  }

  private scheduleRetry(id: NodeId, link: PeerLink): void {
    if (this.closed || link.retry !== undefined) return;
    link.backoffMs = Math.min(
      RECONNECT_MAX_MS,
      link.backoffMs === 0 ? RECONNECT_MIN_MS : link.backoffMs * 2,
    );
    link.retry = this.env.timers.after(link.backoffMs, () => {
      link.retry = undefined;
      if (this.closed || link.queue.length === 0) return; // the next send connects
      this.pump(id, link);
    });
  }
}
