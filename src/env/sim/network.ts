import { copyBytes } from '../../util/bytes.js';
import {
  connectTimeoutMsDefault,
  type Address,
  type Connection,
  type DatagramSocket,
  type Listener,
  type Network,
} from '../types.js';
import { TesseraError, invalidArgument } from '../../util/errors.js';
import type { Prng } from '../../util/prng.js';
import type { SimClock } from './clock.js';
import { SimDatagramSocket, type DatagramTransport } from './datagram.js';
import {
  mergeNetworkFaults,
  networkFaultsDefault,
  sampleLatency,
  type NetworkFaults,
} from './faults.js';
import { never, type Kernel, type Lifetime } from './kernel.js';
import { Endpoint, Pipe, type PipeItem, type StreamTransport } from './stream.js';
import { contentTag } from './trace.js';

export { connectTimeoutMsDefault };
/** Extra delay of a stream segment that was "lost" and retransmitted (TCP's minimum RTO). */
export const retransmitTimeoutMs = 200;
/** Consecutive losses of one segment modelled; each doubles the timeout, as TCP backs off. */
export const retransmitsMax = 6;
/** First retry of an unanswered connection request; doubles per retry, as TCP's SYN does. */
export const synRetryMs = 1_000;
/** A split chunk arrives in at most this many pieces. */
export const splitPiecesMax = 4;
/** The largest UDP payload over IPv4. */
export const datagramBytesMax = 65_507;
export const portEphemeralFirst = 49_152;
export const portEphemeralLast = 65_535;

/** Host names a node may bind to; all mean "this node". */
const bindAnyHosts = new Set(['', '0.0.0.0', '::', '127.0.0.1', '::1', 'localhost']);
/** Host names that connect a node to itself. */
const loopbackHosts = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * The simulated network between all nodes: listeners, connections, datagram sockets, the
 * fault model and partitions. Host names are node names. Every delivery is an event; the seed
 * decides every delay, loss, split and reset.
 */
export class SimNetwork implements StreamTransport, DatagramTransport {
  private faultsNow: NetworkFaults;
  /** Directed cuts "from\0to": nothing crosses from `from` to `to`. */
  private readonly cuts = new Set<string>();
  private readonly listeners = new Map<string, SimListener>();
  private readonly sockets = new Map<string, SimDatagramSocket>();
  private readonly portNext = new Map<string, number>();
  private readonly endpoints = new Map<string, Set<Endpoint>>();
  private readonly blockedPipes = new Set<Pipe>();
  /** Arrival time of the last in-order datagram per socket pair (FIFO unless reordered). */
  private readonly datagramLastMicros = new Map<string, number>();
  private connectionIdNext = 1;

  constructor(
    readonly kernel: Kernel,
    private readonly prng: Prng,
    private readonly lifetimeOf: (host: string) => Lifetime | undefined,
    faults: Partial<NetworkFaults> = {},
  ) {
    this.faultsNow = mergeNetworkFaults(networkFaultsDefault, faults);
  }

  get faults(): NetworkFaults {
    return this.faultsNow;
  }

  setFaults(change: Partial<NetworkFaults>): void {
    this.faultsNow = mergeNetworkFaults(this.faultsNow, change);
    this.kernel.trace(`net-faults ${JSON.stringify(change)}`);
  }

  /** The Network of one incarnation. */
  forIncarnation(owner: Lifetime, clock: SimClock): Network {
    return {
      listen: (address, onConnection) => this.listen(owner, address, onConnection),
      connect: (address, options) =>
        this.connect(owner, clock, address, options?.timeoutMs ?? connectTimeoutMsDefault),
      bindDatagram: (address) => this.bindDatagram(owner, address),
    };
  }

  // --- Partitions ---------------------------------------------------------------------------

  partitionOneWay(from: readonly string[], to: readonly string[]): void {
    for (const a of from) for (const b of to) if (a !== b) this.cuts.add(`${a}\0${b}`);
    this.kernel.trace(`partition ${from.join(',')} -> ${to.join(',')}`);
  }

  isCut(from: string, to: string): boolean {
    return this.cuts.size > 0 && this.cuts.has(`${from}\0${to}`);
  }

  /** Removes every cut. Held stream segments follow after a delay, as TCP retransmits them. */
  heal(): void {
    this.cuts.clear();
    this.kernel.trace('heal');
    for (const pipe of this.blockedPipes) {
      if (!pipe.blocked || pipe.to.gone || !pipe.to.owner.alive) {
        this.blockedPipes.delete(pipe);
        continue;
      }
      const at = this.kernel.nowMicros() + this.delayMicros();
      this.kernel.schedule(at, pipe.to.owner, `conn ${pipe.label} release`, () =>
        this.release(pipe),
      );
    }
  }

  // --- Crash --------------------------------------------------------------------------------

  /** An incarnation died: its listeners and sockets vanish, its connections' peers get resets. */
  crashed(owner: Lifetime): void {
    for (const [key, listener] of this.listeners) {
      if (listener.owner === owner) this.listeners.delete(key);
    }
    for (const [key, socket] of this.sockets) {
      if (socket.owner === owner) this.sockets.delete(key);
    }
    for (const endpoint of [...(this.endpoints.get(owner.node) ?? [])]) {
      if (endpoint.owner === owner) endpoint.crashed();
    }
  }

  // --- Listeners and connecting -------------------------------------------------------------

  private listen(
    owner: Lifetime,
    address: Address,
    onConnection: (conn: Connection) => void,
  ): Promise<Listener> {
    if (!owner.alive) return never();
    try {
      const host = bindHost(owner.node, address.host);
      const port =
        address.port === 0 ? this.allocatePort(host, this.listeners) : checkPort(address.port);
      const key = `${host}:${port}`;
      if (this.listeners.has(key)) {
        throw new TesseraError('ADDRESS_IN_USE', `address in use: ${key}`, { address: key });
      }
      const listener = new SimListener(this, owner, { host, port }, onConnection);
      this.listeners.set(key, listener);
      this.kernel.trace(`listen ${key}`);
      return Promise.resolve(listener);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** @internal */
  unlisten(listener: SimListener): void {
    const key = `${listener.address.host}:${listener.address.port}`;
    if (this.listeners.get(key) === listener) this.listeners.delete(key);
    this.kernel.trace(`unlisten ${key}`);
  }

  private connect(
    owner: Lifetime,
    clock: SimClock,
    address: Address,
    timeoutMs: number,
  ): Promise<Connection> {
    if (!owner.alive) return never();
    let remote: Address;
    try {
      const host = loopbackHosts.has(address.host) ? owner.node : address.host;
      remote = { host, port: checkPort(address.port) };
      if (Number.isNaN(timeoutMs)) throw invalidArgument(`bad connect timeout ${timeoutMs}`);
      if (timeoutMs <= 0) {
        throw new TesseraError('DEADLINE_EXCEEDED', `connect: timeout ${timeoutMs} ms has passed`, {
          address: `${address.host}:${address.port}`,
        });
      }
    } catch (err) {
      return Promise.reject(err);
    }
    const local = { host: owner.node, port: this.allocatePort(owner.node, null) };
    const client = new Endpoint(this, this.connectionIdNext++, local, remote, owner);
    this.register(client);
    return new Promise<Connection>((resolve, reject) => {
      client.connecting = { resolve, reject, timeout: undefined };
      const at = this.kernel.nowMicros() + clock.virtualDelayMicros(timeoutMs);
      client.connecting.timeout = this.kernel.schedule(
        at,
        owner,
        `connect-timeout c${client.id}`,
        () => {
          const error = new TesseraError(
            'DEADLINE_EXCEEDED',
            `connect timed out after ${timeoutMs} ms`,
            {
              address: `${remote.host}:${remote.port}`,
            },
          );
          client.abandon(error);
        },
      );
      this.sendSyn(client, 0);
    });
  }

  private sendSyn(client: Endpoint, attempt: number): void {
    const at = this.kernel.nowMicros() + this.streamDelayMicros();
    const label = `syn c${client.id} ${client.local.host}>${client.remote.host}:${client.remote.port}`;
    this.kernel.schedule(at, client.owner, label, () => this.arriveSyn(client, attempt));
  }

  /** No answer to a connection request: the client's TCP asks again later (until it times out). */
  private retrySyn(client: Endpoint, attempt: number): void {
    const at = this.kernel.nowMicros() + synRetryMs * 1000 * 2 ** Math.min(attempt, 10);
    this.kernel.schedule(at, client.owner, `syn-retry c${client.id}`, () => {
      if (client.connecting !== undefined) this.sendSyn(client, attempt + 1);
    });
  }

  private arriveSyn(client: Endpoint, attempt: number): void {
    if (client.connecting === undefined) return;
    const { host, port } = client.remote;
    if (this.isCut(client.local.host, host) || this.lifetimeOf(host)?.alive !== true) {
      this.kernel.trace(`syn c${client.id} unanswered`);
      this.retrySyn(client, attempt);
      return;
    }
    const listener = this.listeners.get(`${host}:${port}`);
    if (listener === undefined) {
      const at = this.kernel.nowMicros() + this.delayMicros();
      this.kernel.schedule(at, client.owner, `refused c${client.id}`, () => {
        if (client.connecting === undefined) return;
        if (this.isCut(host, client.local.host)) return this.retrySyn(client, attempt);
        const error = new TesseraError(
          'CONNECTION_REFUSED',
          `connection refused: ${host}:${port}`,
          {
            address: `${host}:${port}`,
          },
        );
        client.failConnect(error);
      });
      return;
    }
    this.accept(listener, client);
  }

  private accept(listener: SimListener, client: Endpoint): void {
    const server = new Endpoint(this, client.id, listener.address, client.local, listener.owner);
    this.register(server);
    client.peer = server;
    server.peer = client;
    client.out = new Pipe(client, server);
    server.out = new Pipe(server, client);
    this.kernel.trace(`accept ${client.out.label}`);
    // The accept goes first on the server's pipe, so no byte the server writes can overtake it.
    this.send(server.out, { kind: 'accept' });
    this.kernel.invoke(listener.owner, () => listener.onConnection(server));
  }

  // --- Streams (StreamTransport) ------------------------------------------------------------

  send(pipe: Pipe, item: PipeItem): void {
    if (
      item.kind === 'data' &&
      item.bytes.length >= 2 &&
      this.prng.chance(this.faultsNow.splitRate)
    ) {
      for (const bytes of this.split(item.bytes)) this.sendItem(pipe, { kind: 'data', bytes });
    } else {
      this.sendItem(pipe, item);
    }
  }

  endpointGone(endpoint: Endpoint): void {
    this.endpoints.get(endpoint.local.host)?.delete(endpoint);
  }

  private register(endpoint: Endpoint): void {
    let set = this.endpoints.get(endpoint.local.host);
    if (set === undefined) this.endpoints.set(endpoint.local.host, (set = new Set()));
    set.add(endpoint);
  }

  /** Cuts a chunk at random points into 2..splitPiecesMax pieces, to exercise framing code. */
  private split(bytes: Uint8Array): Uint8Array[] {
    const pieces = this.prng.between(2, Math.min(splitPiecesMax, bytes.length));
    const cuts = new Set<number>();
    while (cuts.size < pieces - 1) cuts.add(this.prng.between(1, bytes.length - 1));
    const sorted = [...cuts].sort((a, b) => a - b);
    const out: Uint8Array[] = [];
    let start = 0;
    for (const cut of [...sorted, bytes.length]) {
      out.push(bytes.subarray(start, cut));
      start = cut;
    }
    return out;
  }

  private sendItem(pipe: Pipe, item: PipeItem): void {
    const at = Math.max(this.kernel.nowMicros() + this.streamDelayMicros(), pipe.lastAtMicros);
    pipe.lastAtMicros = at;
    const generation = pipe.generation;
    const label = `conn ${pipe.label} ${describeItem(item)}`;
    this.kernel.schedule(at, pipe.to.owner, label, () => this.arrive(pipe, item, generation));
  }

  private arrive(pipe: Pipe, item: PipeItem, generation: number): void {
    if (generation !== pipe.generation || pipe.to.gone) {
      this.kernel.trace(`conn ${pipe.label} discarded`);
      return;
    }
    if (pipe.blocked || this.isCut(pipe.from.local.host, pipe.to.local.host)) {
      // TCP keeps retransmitting across a partition; the bytes arrive, in order, after heal.
      pipe.held.push(item);
      if (!pipe.blocked) {
        pipe.blocked = true;
        this.blockedPipes.add(pipe);
      }
      this.kernel.trace(`conn ${pipe.label} held=${pipe.held.length}`);
      return;
    }
    this.deliver(pipe, item);
  }

  private release(pipe: Pipe): void {
    if (!pipe.blocked || this.isCut(pipe.from.local.host, pipe.to.local.host)) return;
    const items = pipe.held;
    const generation = pipe.generation;
    pipe.held = [];
    pipe.blocked = false;
    this.blockedPipes.delete(pipe);
    for (const item of items) {
      if (pipe.generation !== generation || !pipe.to.owner.alive) return;
      this.deliver(pipe, item);
    }
  }

  private deliver(pipe: Pipe, item: PipeItem): void {
    if (item.kind === 'data' && this.prng.chance(this.faultsNow.resetRate)) {
      this.reset(pipe);
      return;
    }
    pipe.to.receive(item);
  }

  /** A reset met on `pipe`: its receiver hears it now, the sender one network delay later. */
  private reset(pipe: Pipe): void {
    this.kernel.trace(`conn ${pipe.label} reset`);
    pipe.discard();
    const back = pipe.to.out;
    if (back !== undefined) {
      back.discard();
      this.sendItem(back, { kind: 'rst' });
    }
    pipe.to.reset();
  }

  // --- Datagrams (DatagramTransport) --------------------------------------------------------

  private bindDatagram(owner: Lifetime, address: Address): Promise<DatagramSocket> {
    if (!owner.alive) return never();
    try {
      const host = bindHost(owner.node, address.host);
      const port =
        address.port === 0 ? this.allocatePort(host, this.sockets) : checkPort(address.port);
      const key = `${host}:${port}`;
      if (this.sockets.has(key)) {
        throw new TesseraError('ADDRESS_IN_USE', `address in use: ${key}`, { address: key });
      }
      const socket = new SimDatagramSocket(this, owner, { host, port });
      this.sockets.set(key, socket);
      this.kernel.trace(`bind ${key}`);
      return Promise.resolve(socket);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  unbind(socket: SimDatagramSocket): void {
    const key = `${socket.address.host}:${socket.address.port}`;
    if (this.sockets.get(key) === socket) this.sockets.delete(key);
    this.kernel.trace(`unbind ${key}`);
  }

  sendDatagram(socket: SimDatagramSocket, to: Address, data: Uint8Array): void {
    if (data.length > datagramBytesMax) {
      throw invalidArgument(`datagram of ${data.length} bytes exceeds ${datagramBytesMax}`);
    }
    const from = socket.address;
    const dst: Address = {
      host: loopbackHosts.has(to.host) ? from.host : to.host,
      port: checkPort(to.port),
    };
    const f = this.faultsNow;
    const route = `${from.host}:${from.port}>${dst.host}:${dst.port}`;
    const what = `${route} ${data.length}B h=${contentTag(data)}`;
    if (this.prng.chance(f.lossRate)) {
      this.kernel.trace(`dgram ${what} lost`);
      return;
    }
    const copies = this.prng.chance(f.duplicateRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const now = this.kernel.nowMicros();
      let at: number;
      if (this.prng.chance(f.reorderRate)) {
        // Held back long enough that messages sent in the next few delays overtake it.
        const extraMs = f.meanDelayMs + this.prng.float() * 2 * f.maxDelayMs;
        at = now + this.delayMicros() + Math.round(extraMs * 1000);
      } else {
        at = Math.max(now + this.delayMicros(), this.datagramLastMicros.get(route) ?? 0);
        this.datagramLastMicros.set(route, at);
      }
      const bytes = copyBytes(data);
      const label = `dgram ${what}${i > 0 ? ' dup' : ''}`;
      this.kernel.schedule(at, null, label, () => this.arriveDatagram(from, dst, bytes));
    }
  }

  private arriveDatagram(from: Address, to: Address, bytes: Uint8Array): void {
    if (this.isCut(from.host, to.host)) {
      this.kernel.trace('dgram cut');
      return;
    }
    const socket = this.sockets.get(`${to.host}:${to.port}`);
    if (socket === undefined || !socket.deliver(bytes, from)) this.kernel.trace('dgram unheard');
  }

  // --- Sampling and ports -------------------------------------------------------------------

  /** One network delay in whole microseconds. */
  delayMicros(): number {
    const f = this.faultsNow;
    return Math.round(sampleLatency(this.prng, f.minDelayMs, f.meanDelayMs, f.maxDelayMs) * 1000);
  }

  /** A stream segment's delay: losses cost retransmission timeouts, never bytes. */
  private streamDelayMicros(): number {
    let delay = this.delayMicros();
    for (let r = 0; r < retransmitsMax && this.prng.chance(this.faultsNow.lossRate); r++) {
      delay += retransmitTimeoutMs * 1000 * 2 ** r;
    }
    return delay;
  }

  /** The next free ephemeral port of `host` (round robin, deterministic). */
  private allocatePort(host: string, taken: ReadonlyMap<string, unknown> | null): number {
    let port = this.portNext.get(host) ?? portEphemeralFirst;
    for (let i = portEphemeralFirst; i <= portEphemeralLast; i++) {
      const candidate = port;
      port = port === portEphemeralLast ? portEphemeralFirst : port + 1;
      if (taken === null || !taken.has(`${host}:${candidate}`)) {
        this.portNext.set(host, port);
        return candidate;
      }
    }
    throw new TesseraError('ADDRESS_IN_USE', `no free ephemeral port on ${host}`, { host });
  }
}

class SimListener implements Listener {
  constructor(
    private readonly network: SimNetwork,
    readonly owner: Lifetime,
    readonly address: Address,
    readonly onConnection: (conn: Connection) => void,
  ) {}

  close(): Promise<void> {
    if (!this.owner.alive) return never();
    this.network.unlisten(this);
    return Promise.resolve();
  }
}

function describeItem(item: PipeItem): string {
  return item.kind === 'data'
    ? `data ${item.bytes.length}B h=${contentTag(item.bytes)}`
    : item.kind;
}

function bindHost(node: string, host: string): string {
  if (host === node || bindAnyHosts.has(host)) return node;
  throw invalidArgument(`node ${node} cannot bind to host '${host}'`, { host });
}

function checkPort(port: number): number {
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw invalidArgument(`bad port ${port}`, { port });
  }
  return port;
}
