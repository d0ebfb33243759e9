import type { Address, DatagramSocket } from '../types.js';
import { never, type Kernel, type Lifetime } from './kernel.js';

/** What a socket needs from the network (SimNetwork implements it). */
export interface DatagramTransport {
  readonly kernel: Kernel;
  sendDatagram(from: SimDatagramSocket, to: Address, data: Uint8Array): void;
  unbind(socket: SimDatagramSocket): void;
}

/** A bound datagram socket of one incarnation. Messages with no handler set are dropped. */
export class SimDatagramSocket implements DatagramSocket {
  private handler: ((data: Uint8Array, from: Address) => void) | undefined;
  private closed = false;

  constructor(
    private readonly transport: DatagramTransport,
    readonly owner: Lifetime,
    readonly address: Address,
  ) {}

  setHandler(onMessage: (data: Uint8Array, from: Address) => void): void {
    this.handler = onMessage;
  }

  send(to: Address, data: Uint8Array): void {
    if (!this.owner.alive || this.closed) return;
    this.transport.sendDatagram(this, to, data);
  }

  close(): Promise<void> {
    if (!this.owner.alive) return never();
    if (!this.closed) {
      this.closed = true;
      this.transport.unbind(this);
    }
    return Promise.resolve();
  }

  /** A message arrived (inside an event); false when nobody was listening for it. */
  deliver(data: Uint8Array, from: Address): boolean {
    const handler = this.handler;
    if (this.closed || !this.owner.alive || handler === undefined) return false;
    this.transport.kernel.invoke(this.owner, () => handler(data, from));
    return true;
  }
}
