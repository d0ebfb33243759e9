/**
 * A small lock-service client for the benchmark and the kill test: one connection per replica,
 * calls go to the replica believed to lead, `NOT_LEADER` answers are followed to
 * `details.leader`, and lost connections or unknown outcomes are retried elsewhere until an
 * overall deadline (only when the caller says retrying is safe).
 */
import { parseAddress, type Env } from '../../env/index.js';
import { TesseraError, toTesseraError } from '../../util/errors.js';
import { RpcClient } from '../../wire/index.js';
import type { LockStatusReply } from '../../lock/index.js';

/** Codes after which the request may or may not have taken effect, or never reached a replica. */
const TRANSIENT = new Set([
  'NOT_LEADER',
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'CONNECTION_REFUSED',
  'CONNECTION_CLOSED',
  'SHUTTING_DOWN',
  'OVERLOADED',
  'CANCELLED',
  'IO_ERROR',
]);

export interface LockCallOptions {
  /** Retry after outcomes that are unknown (lost connection, timeout, UNAVAILABLE). Default true. */
  readonly retryUnknown?: boolean;
  /** Give up after this long overall. Default 10000 ms. */
  readonly deadlineMs?: number;
  /** Per-attempt timeout. Default 1000 ms. */
  readonly attemptTimeoutMs?: number;
}

export class LockClient {
  /** The address believed to lead, if any. */
  leader: string | undefined;
  private readonly conns = new Map<string, Promise<RpcClient>>();
  private next = 0;
  private closed = false;

  constructor(
    private readonly env: Env,
    private readonly addresses: readonly string[],
  ) {}

  private conn(address: string): Promise<RpcClient> {
    let c = this.conns.get(address);
    if (!c) {
      c = RpcClient.connect(this.env, parseAddress(address), { timeoutMs: 1000 });
      this.conns.set(address, c);
      c.catch(() => {
        if (this.conns.get(address) === c) this.conns.delete(address);
      });
    }
    return c;
  }

  private drop(address: string): void {
    const c = this.conns.get(address);
    this.conns.delete(address);
    c?.then((client) => client.close()).catch(() => {});
  }

  /** One call with no redirects or retries, on `address`. */
  async callAt(address: string, method: string, body: unknown, timeoutMs = 1000): Promise<unknown> {
    try {
      const client = await this.conn(address);
      return await client.call(method, body, { timeoutMs });
    } catch (err) {
      const e = toTesseraError(err);
      if (e.code === 'CONNECTION_CLOSED' || e.code === 'CONNECTION_REFUSED') this.drop(address);
      throw e;
    }
  }

  async call(method: string, body: unknown, options: LockCallOptions = {}): Promise<unknown> {
    const retryUnknown = options.retryUnknown ?? true;
    const deadline = performance.now() + (options.deadlineMs ?? 10_000);
    const attemptTimeoutMs = options.attemptTimeoutMs ?? 1000;
    let last: TesseraError | undefined;
    while (!this.closed && performance.now() < deadline) {
      const target = this.leader ?? this.addresses[this.next++ % this.addresses.length]!;
      try {
        return await this.callAt(target, method, body, attemptTimeoutMs);
      } catch (err) {
        const e = toTesseraError(err);
        last = e;
        if (!TRANSIENT.has(e.code)) throw e;
        if (e.code === 'NOT_LEADER') {
          const hint = e.details?.['leader'];
          this.leader = typeof hint === 'string' && hint !== target ? hint : undefined;
          if (this.leader === undefined) await sleep(20);
          continue;
        }
        this.leader = undefined;
        if (e.code !== 'CONNECTION_REFUSED' && !retryUnknown) throw e;
        await sleep(20);
      }
    }
    throw last ?? new TesseraError('DEADLINE_EXCEEDED', `${method}: no leader answered in time`);
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map((c) => c.then((client) => client.close()).catch(() => {})));
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The `lock.status` reply (defined by the service). */
export type LockStatus = LockStatusReply;

/** Polls `lock.status` on every address until one reports itself leader; returns its address. */
export async function waitForLeader(
  client: LockClient,
  addresses: readonly string[],
  timeoutMs = 15_000,
  pollMs = 20,
): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const statuses = await Promise.all(
      addresses.map((a) =>
        client.callAt(a, 'lock.status', {}, 500).then(
          (s) => [a, s as LockStatus] as const,
          () => undefined,
        ),
      ),
    );
    const leader = statuses.find((s) => s?.[1].role === 'leader');
    if (leader) return leader[0];
    await sleep(pollMs);
  }
  throw new Error(`no lock replica became leader within ${timeoutMs} ms`);
}
