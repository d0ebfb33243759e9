/** A DatagramSocket on node:dgram. Best effort: send errors are dropped like lost messages. */
import type { Socket } from 'node:dgram';
import { invalidArgument } from '../../util/errors.js';
import type { Address, DatagramSocket } from '../types.js';

/** Largest UDP payload over IPv4 (65535 - 20 IP header - 8 UDP header). */
export const DATAGRAM_BYTES_MAX = 65_507;

export class RealDatagramSocket implements DatagramSocket {
  readonly address: Address;
  private readonly socket: Socket;
  private handler: ((data: Uint8Array, from: Address) => void) | undefined;
  private closed = false;

  /** `socket` must be bound. */
  constructor(socket: Socket) {
    this.socket = socket;
    const bound = socket.address();
    this.address = { host: bound.address, port: bound.port };
    // Messages that arrive before setHandler are dropped, as a lossy network may.
    socket.on('message', (data, from) => {
      this.handler?.(data, { host: from.address, port: from.port });
    });
    socket.on('error', ignore);
  }

  setHandler(onMessage: (data: Uint8Array, from: Address) => void): void {
    this.handler = onMessage;
  }

  send(to: Address, data: Uint8Array): void {
    if (data.length > DATAGRAM_BYTES_MAX) {
      throw invalidArgument(`datagram of ${data.length} bytes exceeds ${DATAGRAM_BYTES_MAX}`, {
        bytes: data.length,
      });
    }
    if (!Number.isInteger(to.port) || to.port <= 0 || to.port > 65535) {
      throw invalidArgument(`bad datagram port ${to.port}`, { port: to.port });
    }
    if (this.closed) return;
    this.socket.send(data, to.port, to.host, ignore);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

function ignore(): void {}
