/**
 * A Connection on a node:net Socket. The write path is the RPC layer's hot path, so write()
 * is one flag check and socket.write(); data events go straight to the handler.
 *
 * Until setHandlers, the socket has no 'data' listener, so Node keeps what arrives in its
 * read buffer (up to the stream's high-water mark, then TCP flow control holds the peer).
 */
import type { Socket } from 'node:net';
import type { TesseraError } from '../../util/errors.js';
import { formatAddress, type Address, type Connection, type ConnectionHandlers } from '../types.js';
import { connectionError } from './errno.js';

export class RealConnection implements Connection {
  readonly local: Address;
  readonly remote: Address;
  private readonly socket: Socket;
  private handlers: ConnectionHandlers | undefined;
  private paused = false;
  /** end() or destroy() was called or the socket closed: nothing more may be written. */
  private done = false;
  private socketClosed = false;
  private closeNotified = false;
  private error: TesseraError | undefined;

  constructor(socket: Socket) {
    this.socket = socket;
    // Captured now: Node forgets the addresses once the socket is destroyed.
    this.local = { host: socket.localAddress ?? '', port: socket.localPort ?? 0 };
    this.remote = { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    socket.setNoDelay(true);
    socket.on('error', (err) => {
      this.error ??= connectionError(err, formatAddress(this.remote));
    });
    socket.on('close', () => {
      this.done = true;
      this.socketClosed = true;
      this.notifyClose();
    });
    socket.on('drain', () => this.handlers?.onDrain?.());
  }

  get closed(): boolean {
    return this.done;
  }

  setHandlers(handlers: ConnectionHandlers): void {
    const first = this.handlers === undefined;
    this.handlers = handlers;
    if (!first) return;
    if (this.socketClosed) {
      // Closed before anyone listened; report it as asynchronously as Node would have.
      process.nextTick(() => this.notifyClose());
      return;
    }
    this.socket.on('data', this.deliver);
    if (!this.paused) this.socket.resume();
  }

  write(chunk: Uint8Array): boolean {
    if (this.done) return false;
    return this.socket.write(chunk);
  }

  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    this.paused = false;
    // Resuming with no 'data' listener would drop bytes; setHandlers resumes instead.
    if (this.handlers) this.socket.resume();
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.socket.end();
  }

  destroy(): void {
    this.done = true;
    if (!this.socket.destroyed) this.socket.resetAndDestroy();
  }

  private readonly deliver = (chunk: Buffer): void => {
    this.handlers!.onData(chunk);
  };

  private notifyClose(): void {
    if (this.closeNotified || !this.handlers) return;
    this.closeNotified = true;
    this.handlers.onClose(this.error);
  }
}
