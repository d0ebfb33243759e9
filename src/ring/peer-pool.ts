/**
 * Connections from one ring node to its peers: one RPC connection per peer address, opened on
 * first use, shared by gossip and by the coordinator's replica requests (the wire protocol
 * multiplexes), and dropped when it fails so the next call reconnects.
 *
 * A peer that refused or timed out is not retried for `retryBackoffMs`: calls fail at once with
 * the last error meanwhile, so a dead peer costs a coordinator nothing but the failure, and
 * gossip does not pile up connection attempts to it.
 */
import { parseAddress, type Env } from '../env/index.js';
import { TesseraError, toTesseraError } from '../util/errors.js';
import { RpcClient } from '../wire/index.js';

export const PEER_CONNECT_TIMEOUT_MS = 1000;
export const PEER_RETRY_BACKOFF_MS = 500;
/** Calls in flight to one peer; more are refused locally (OVERLOADED) by the RPC client. */
export const PEER_IN_FLIGHT_MAX = 8192;

interface Peer {
  client: Promise<RpcClient> | undefined;
  /** Monotonic microseconds before which a failed peer is not reconnected. */
  retryAtMicros: number;
  lastError: TesseraError | undefined;
}

export class PeerPool {
  private readonly peers = new Map<string, Peer>();
  private closed = false;

  constructor(private readonly env: Env) {}

  /** Calls `method` on the peer at `address` (`host:port`). */
  async call(address: string, method: string, args: unknown, timeoutMs: number): Promise<unknown> {
    const client = await this.client(address);
    return client.call(method, args, { timeoutMs });
  }

  private client(address: string): Promise<RpcClient> {
    if (this.closed)
      return Promise.reject(new TesseraError('SHUTTING_DOWN', 'ring node is closed'));
    let peer = this.peers.get(address);
    if (peer === undefined) {
      peer = { client: undefined, retryAtMicros: 0, lastError: undefined };
      this.peers.set(address, peer);
    }
    if (peer.client !== undefined) return peer.client;
    const now = this.env.clock.monoMicros();
    if (now < peer.retryAtMicros && peer.lastError !== undefined) {
      return Promise.reject(peer.lastError);
    }
    const p = peer;
    const connecting = (async () => {
      const c = await RpcClient.connect(this.env, parseAddress(address), {
        timeoutMs: PEER_CONNECT_TIMEOUT_MS,
        inFlightMax: PEER_IN_FLIGHT_MAX,
        lingerMs: 100,
      });
      if (this.closed) {
        void c.close();
        throw new TesseraError('SHUTTING_DOWN', 'ring node is closed');
      }
      // A connection that fails is forgotten, so the next call reconnects.
      void c.whenClosed.then(() => {
        if (p.client === connecting) p.client = undefined;
      });
      return c;
    })();
    p.client = connecting;
    connecting.catch((err: unknown) => {
      if (p.client === connecting) p.client = undefined;
      p.lastError = toTesseraError(err);
      p.retryAtMicros = this.env.clock.monoMicros() + PEER_RETRY_BACKOFF_MS * 1000;
    });
    return connecting;
  }

  /**
   * Forgets a peer's connection failure: it was just heard from (it sent us gossip), so after a
   * partition heals the next call connects at once instead of waiting out the backoff.
   */
  forgive(address: string): void {
    const peer = this.peers.get(address);
    if (peer === undefined || peer.client !== undefined) return;
    peer.retryAtMicros = 0;
    peer.lastError = undefined;
  }

  /** Closes every connection; later calls are SHUTTING_DOWN. */
  async close(): Promise<void> {
    this.closed = true;
    const clients = [...this.peers.values()].map((p) => p.client);
    this.peers.clear();
    await Promise.all(
      clients.map((c) => c?.then((client) => client.close()).catch(() => undefined)),
    );
  }
}
