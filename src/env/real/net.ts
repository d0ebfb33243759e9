/** The real Network: TCP on node:net, UDP on node:dgram. */
import { createSocket } from 'node:dgram';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { invalidArgument, TesseraError } from '../../util/errors.js';
import {
  connectTimeoutMsDefault,
  formatAddress,
  type Address,
  type Connection,
  type DatagramSocket,
  type Listener,
  type Network,
} from '../types.js';
import { RealConnection } from './connection.js';
import { RealDatagramSocket } from './datagram.js';
import { bindError, connectError } from './errno.js';

/** Longer connect timeouts than Node's timers allow (2^31 - 1 ms) mean "no timeout". */
const TIMEOUT_MAX_MS = 2 ** 31 - 1;

export class RealNetwork implements Network {
  async listen(address: Address, onConnection: (conn: Connection) => void): Promise<Listener> {
    checkPort(address, 0);
    const server = createServer((socket) => onConnection(new RealConnection(socket)));
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(bindError(err, 'listen', formatAddress(address)));
      };
      server.once('error', onError);
      server.listen({ host: address.host, port: address.port }, () => {
        server.off('error', onError);
        // Later errors are failed accepts (EMFILE, ECONNABORTED): Node keeps listening.
        server.on('error', ignore);
        resolve(new RealListener(server));
      });
    });
  }

  async connect(address: Address, options?: { timeoutMs?: number }): Promise<Connection> {
    checkPort(address, 1);
    const label = formatAddress(address);
    const timeoutMs = options?.timeoutMs ?? connectTimeoutMsDefault;
    if (Number.isNaN(timeoutMs)) throw invalidArgument('timeoutMs is NaN');
    if (timeoutMs <= 0) throw deadlineExceeded(label, timeoutMs);
    return new Promise((resolve, reject) => {
      const socket = connect({ host: address.host, port: address.port });
      let timer: NodeJS.Timeout | undefined;
      const fail = (err: TesseraError): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const onError = (err: Error): void => fail(connectError(err, label));
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new RealConnection(socket));
      });
      if (timeoutMs <= TIMEOUT_MAX_MS) {
        timer = setTimeout(() => fail(deadlineExceeded(label, timeoutMs)), timeoutMs);
      }
    });
  }

  async bindDatagram(address: Address): Promise<DatagramSocket> {
    checkPort(address, 0);
    const socket = createSocket({
      type: address.host.includes(':') ? 'udp6' : 'udp4',
      recvBufferSize: DATAGRAM_BUFFER_BYTES,
      sendBufferSize: DATAGRAM_BUFFER_BYTES,
    });
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.removeAllListeners();
        socket.close(); // releases the handle; no 'error' listener is needed once unbound
        reject(bindError(err, 'bind', formatAddress(address)));
      };
      socket.once('error', onError);
      socket.bind({ address: address.host || undefined, port: address.port }, () => {
        socket.off('error', onError);
        resolve(new RealDatagramSocket(socket));
      });
    });
  }
}

/**
 * Socket buffer asked for datagram sockets (the kernel caps it at net.core.rmem_max/wmem_max).
 * With Linux's default of 208 KiB, bursts of small Raft messages (heartbeat answers under a read
 * load) overflowed the receive buffer: 18% of them were dropped in `tessera bench lock`.
 */
export const DATAGRAM_BUFFER_BYTES = 4 * 1024 * 1024;

export class RealListener implements Listener {
  readonly address: Address;
  private readonly server: Server;
  private closed = false;

  /** `server` must be listening. */
  constructor(server: Server) {
    this.server = server;
    const bound = server.address() as AddressInfo;
    this.address = { host: bound.address, port: bound.port };
  }

  close(): Promise<void> {
    // Closing the listening handle frees the port at once; the server's 'close' event
    // would wait for every accepted connection to end, which the contract does not.
    if (!this.closed) {
      this.closed = true;
      this.server.close();
    }
    return Promise.resolve();
  }
}

function checkPort(address: Address, min: number): void {
  const { port } = address;
  if (!Number.isInteger(port) || port < min || port > 65535) {
    throw invalidArgument(`bad port in ${formatAddress(address)}`, { port });
  }
}

function deadlineExceeded(address: string, timeoutMs: number): TesseraError {
  return new TesseraError('DEADLINE_EXCEEDED', `connect ${address}: no answer in ${timeoutMs} ms`, {
    address,
    timeoutMs,
  });
}

function ignore(): void {}
