/**
 * A raw protocol peer for tests: writes whatever bytes it is told to and records every frame
 * that comes back, decoded leniently (any kind accepted), and how the connection ended.
 */
import type { Address, Connection, Env } from '../../env/types.js';
import type { TesseraError } from '../../util/errors.js';
import { FrameDecoder } from '../decoder.js';
import { FRAME_BYTES_CEILING, FrameKind, PROTOCOL_VERSION_MAX } from '../format.js';
import {
  ALL_KINDS,
  encodeFrames,
  parseFrame,
  type ErrorFrame,
  type Frame,
  type HelloFrame,
} from '../frame.js';

export class RawPeer {
  readonly frames: Frame[] = [];
  /** Set when what came back did not parse (a server bug, if it ever happens). */
  decodeError: TesseraError | undefined;
  closed = false;
  closeError: TesseraError | undefined;
  private waiters: (() => void)[] = [];
  private readonly decoder: FrameDecoder;

  private constructor(readonly conn: Connection) {
    this.decoder = new FrameDecoder(
      {
        onFrame: (kind, requestId, buf, start, end) => {
          try {
            this.frames.push(parseFrame(kind, requestId, buf, start, end));
          } catch (err) {
            this.decodeError = err as TesseraError;
            this.decoder.stop();
          }
          this.wake();
        },
        onFrameError: (e) => {
          this.decodeError = e;
          this.wake();
        },
      },
      FRAME_BYTES_CEILING,
      ALL_KINDS,
    );
    conn.setHandlers({
      onData: (chunk) => this.decoder.push(chunk),
      onClose: (error) => {
        this.closed = true;
        this.closeError = error;
        this.wake();
      },
    });
  }

  /** Wraps a connection a listener accepted (to play a fake server). */
  static wrap(conn: Connection): RawPeer {
    return new RawPeer(conn);
  }

  static async connect(env: Env, address: Address): Promise<RawPeer> {
    return new RawPeer(await env.net.connect(address, { timeoutMs: 5000 }));
  }

  /** Connects and completes a valid handshake. */
  static async open(env: Env, address: Address): Promise<RawPeer> {
    const peer = await RawPeer.connect(env, address);
    peer.send(encodeFrames([hello()]));
    await peer.until(() => peer.frames.length >= 1);
    if (peer.frames[0]?.kind !== FrameKind.HELLO_ACK) {
      throw new Error(`handshake failed: ${JSON.stringify(peer.frames[0])}`);
    }
    peer.frames.length = 0;
    return peer;
  }

  send(bytes: Uint8Array): void {
    this.conn.write(bytes);
  }

  /** Resolves when `cond()` holds (checked after each frame and at close). */
  async until(cond: () => boolean): Promise<void> {
    while (!cond()) {
      if (this.closed && !cond()) throw new Error('connection closed while waiting');
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Resolves once the server has closed the connection. */
  async untilClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** The frames of kind ERROR received so far. */
  errors(): ErrorFrame[] {
    return this.frames.filter((f): f is ErrorFrame => f.kind === FrameKind.ERROR);
  }

  destroy(): void {
    this.conn.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

export function hello(overrides: Partial<Omit<HelloFrame, 'kind' | 'requestId'>> = {}): HelloFrame {
  return {
    kind: FrameKind.HELLO,
    requestId: 0,
    version: PROTOCOL_VERSION_MAX,
    features: 0,
    maxFrameBytes: 16 * 1024 * 1024,
    ...overrides,
  };
}
