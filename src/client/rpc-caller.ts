/**
 * RpcTableCaller: a TableCaller over the native protocol (src/wire), for `connect`.
 *
 * - **Connections.** One RpcClient per address, opened on first use, shared by every call
 *   (calls are multiplexed on it), and replaced by a fresh one once it has closed. Calls go to
 *   the first address that answers; a connection error moves on to the next address.
 * - **Timeouts.** A call's timeout (default RPC_CALLER_TIMEOUT_MS_DEFAULT) covers the whole
 *   call: connecting, every attempt and the backoff between them.
 * - **Retries.** Only where repeating cannot apply something twice:
 *   - the idempotent reads (`table.get`, `table.scan` — opening a scanner —, `table.describe`,
 *     `table.list`) are sent again after CONNECTION_CLOSED, CONNECTION_REFUSED, OVERLOADED or
 *     SHUTTING_DOWN, with capped exponential backoff (env.timers);
 *   - every other method (writes, and the scanner steps, whose scanner lives on one server) is
 *     sent again only when no connection could be opened, i.e. the request never left. Once a
 *     write was sent, any failure — CONNECTION_CLOSED, DEADLINE_EXCEEDED — is returned as it
 *     is, with `details.outcomeUnknown: true` where it may or may not have been applied.
 *   DEADLINE_EXCEEDED ends every call: the time budget is spent.
 * - **Token-aware routing** (hashed tables; ring-router.ts). A put, delete or get of a hashed
 *   table goes straight to a live replica of its row when the client knows the ring, over a
 *   connection of its own to that node (nodes learned from the ring, beyond the addresses
 *   given, are connected to as needed); if that node cannot be reached, the call goes the usual
 *   way and the node it reaches coordinates it.
 * - **Scanners.** A scanner lives in the server that opened it, so `table.scanNext` and
 *   `table.scanClose` go over the very connection its `table.scan` used. Scanner ids are
 *   renumbered locally, so two servers' ids never collide.
 */
import { formatAddress, parseAddress, type Address, type Env } from '../env/types.js';
import type {
  TableCaller,
  TableMethod,
  TableReply,
  TableRequest,
} from '../model/table-protocol.js';
import { invalidArgument, TesseraError, toTesseraError } from '../util/errors.js';
import { RpcClient, type RpcClientOptions } from '../wire/index.js';
import { RingRouter } from './ring-router.js';

export const RPC_CALLER_TIMEOUT_MS_DEFAULT = 30_000;
export const RPC_CALLER_CONNECT_TIMEOUT_MS_DEFAULT = 5_000;
export const RPC_CALLER_BACKOFF_MIN_MS = 10;
export const RPC_CALLER_BACKOFF_MAX_MS = 1_000;
/** Attempts of one call, the first included. */
export const RPC_CALLER_ATTEMPTS_MAX_DEFAULT = 8;
/** Open scanners tracked at once; beyond it the oldest is forgotten (its lease expires it). */
export const RPC_CALLER_SCANNERS_MAX = 10_000;
/** Addresses one caller may be given. */
export const RPC_CALLER_ADDRESSES_MAX = 64;

export interface RpcTableCallerOptions {
  /** Default time for a whole call, retries included. Default 30 s. */
  readonly timeoutMs?: number;
  /** Time allowed to connect and handshake with one address. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Attempts of one call, the first included (1: never retry). Default 8. */
  readonly attemptsMax?: number;
  /** Backoff before the first retry; it doubles up to backoffMaxMs. Default 10 ms. */
  readonly backoffMinMs?: number;
  /** Default 1000 ms. */
  readonly backoffMaxMs?: number;
  /**
   * Options of each connection (frame size, …). Keep-alive defaults to
   * KEEP_ALIVE_MS_DEFAULT, so a peer that vanished without a word (a partition, a dead host) is
   * noticed in two silent periods rather than at the end of every call's timeout; set
   * `keepAliveMs` to change it.
   */
  readonly rpc?: Omit<RpcClientOptions, 'timeoutMs'>;
  /** Route hashed-table requests to a replica of their row (default true). */
  readonly tokenAware?: boolean;
}

/** Nodes beyond the given addresses that token-aware routing may hold connections to. */
export const RPC_CALLER_RING_NODES_MAX = 1024;
/** How long the ring view may take to fetch. */
const describeTimeoutMs = 2_000;

/** Keep-alive period of each connection unless `rpc.keepAliveMs` says otherwise. */
export const KEEP_ALIVE_MS_DEFAULT = 5_000;

/** Idempotent: safe to send again whatever became of an earlier attempt. */
const IDEMPOTENT = new Set<TableMethod>([
  'table.get',
  'table.scan',
  'table.describe',
  'table.list',
]);
/** Errors after which an idempotent read is tried again (on this or the next address). */
const RETRYABLE = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_REFUSED',
  'OVERLOADED',
  'SHUTTING_DOWN',
]);
/** Errors that say the connection (not the request) failed: try the next address. */
const CONNECTION_LOST = new Set(['CONNECTION_CLOSED', 'CONNECTION_REFUSED', 'SHUTTING_DOWN']);

interface Slot {
  readonly address: Address;
  client: RpcClient | undefined;
  connecting: Promise<RpcClient> | undefined;
}

interface Scanner {
  readonly client: RpcClient;
  readonly remoteId: number;
}

/** A connection failure: the request was not sent. */
class NotSent {
  constructor(readonly error: TesseraError) {}
}

export class RpcTableCaller implements TableCaller {
  readonly addresses: readonly Address[];
  private readonly slots: Slot[];
  /** The given addresses' slots by `host:port`, for routing (no formatting per request). */
  private readonly givenSlots = new Map<string, Slot>();
  /** Connections to ring nodes learned from the ring, by address. */
  private readonly ringSlots = new Map<string, Slot>();
  private readonly router: RingRouter | undefined;
  /** Index of the slot tried first (the last one that worked). */
  private current = 0;
  private readonly scanners = new Map<number, Scanner>();
  /** Draining connections no longer used for new calls, until they close. */
  private readonly retired = new Set<RpcClient>();
  private nextScanner = 1;
  private isClosed = false;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly attemptsMax: number;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;

  constructor(
    private readonly env: Env,
    addresses: readonly (string | Address)[],
    private readonly options: RpcTableCallerOptions = {},
  ) {
    if (addresses.length === 0) throw invalidArgument('connect needs at least one address');
    if (addresses.length > RPC_CALLER_ADDRESSES_MAX) {
      throw invalidArgument(
        `${addresses.length} addresses exceed the limit ${RPC_CALLER_ADDRESSES_MAX}`,
      );
    }
    this.addresses = addresses.map((a) => (typeof a === 'string' ? parseAddress(a) : a));
    this.slots = this.addresses.map((address) => ({
      address,
      client: undefined,
      connecting: undefined,
    }));
    for (const slot of this.slots) this.givenSlots.set(formatAddress(slot.address), slot);
    this.timeoutMs = positive('timeoutMs', options.timeoutMs, RPC_CALLER_TIMEOUT_MS_DEFAULT);
    this.connectTimeoutMs = positive(
      'connectTimeoutMs',
      options.connectTimeoutMs,
      RPC_CALLER_CONNECT_TIMEOUT_MS_DEFAULT,
    );
    this.attemptsMax = positive(
      'attemptsMax',
      options.attemptsMax,
      RPC_CALLER_ATTEMPTS_MAX_DEFAULT,
    );
    this.backoffMinMs = positive('backoffMinMs', options.backoffMinMs, RPC_CALLER_BACKOFF_MIN_MS);
    this.backoffMaxMs = Math.max(
      this.backoffMinMs,
      positive('backoffMaxMs', options.backoffMaxMs, RPC_CALLER_BACKOFF_MAX_MS),
    );
    this.router =
      options.tokenAware === false ? undefined : new RingRouter(env, () => this.describeRing());
  }

  /** The ring as the node this client talks to sees it (for the router). */
  private async describeRing(): Promise<unknown> {
    const client = await this.client(this.env.clock.monoMicros() + describeTimeoutMs * 1000);
    return client.call('ring.describe', {}, { timeoutMs: describeTimeoutMs });
  }

  /**
   * A connection to the replica the router chose, or undefined when there is none or it
   * cannot be reached (the call then goes the usual way).
   */
  private async routed(method: TableMethod, request: unknown, deadline: number) {
    const key = this.router?.route(method, request);
    if (key === undefined) return undefined;
    let slot = this.givenSlots.get(key) ?? this.ringSlots.get(key);
    if (slot === undefined) {
      if (this.ringSlots.size >= RPC_CALLER_RING_NODES_MAX) return undefined;
      let address: Address;
      try {
        address = parseAddress(key);
      } catch {
        return undefined; // a ring id that is no address: let the call go the usual way
      }
      slot = { address, client: undefined, connecting: undefined };
      this.ringSlots.set(key, slot);
    }
    const leftMs = (deadline - this.env.clock.monoMicros()) / 1000;
    if (leftMs <= 0) return undefined;
    try {
      return await this.open(slot, leftMs);
    } catch {
      this.router?.markDown(key);
      return undefined;
    }
  }

  /** Opens a connection to the first address that answers; rejects with the last error. */
  async connect(): Promise<void> {
    await this.client(this.env.clock.monoMicros() + this.timeoutMs * 1000);
  }

  async call<M extends TableMethod>(
    method: M,
    request: TableRequest<M>,
    options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
  ): Promise<TableReply<M>> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    if (!(timeoutMs > 0)) throw invalidArgument(`timeoutMs must be positive, got ${timeoutMs}`);
    const deadline = this.env.clock.monoMicros() + timeoutMs * 1000;
    if (method === 'table.scanNext' || method === 'table.scanClose') {
      return this.scannerCall(method, request as TableRequest<'table.scanNext'>, deadline, options);
    }
    const reply = await this.withRetries(method, request, deadline, options.signal);
    if (method !== 'table.scan') return reply.value as TableReply<M>;
    const scan = reply.value as TableReply<'table.scan'>;
    return this.trackScanner(scan, reply.client) as TableReply<M>;
  }

  /** Closes every connection; later calls fail with CONNECTION_CLOSED. */
  async close(): Promise<void> {
    this.isClosed = true;
    this.scanners.clear();
    const closing: Promise<void>[] = [];
    for (const slot of this.slots) {
      const pending = slot.connecting;
      if (pending !== undefined) closing.push(pending.then((c) => c.close()).catch(() => {}));
      if (slot.client !== undefined) closing.push(slot.client.close());
      slot.client = undefined;
    }
    for (const slot of this.ringSlots.values()) {
      const pending = slot.connecting;
      if (pending !== undefined) closing.push(pending.then((c) => c.close()).catch(() => {}));
      if (slot.client !== undefined) closing.push(slot.client.close());
      slot.client = undefined;
    }
    this.ringSlots.clear();
    for (const client of this.retired) closing.push(client.close());
    this.retired.clear();
    await Promise.all(closing);
  }

  // -------------------------------------------------------------------------------------------
  // Attempts

  private async withRetries(
    method: TableMethod,
    request: unknown,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<{ value: unknown; client: RpcClient }> {
    const idempotent = IDEMPOTENT.has(method);
    let backoffMs = this.backoffMinMs;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(method, request, deadline, signal);
      if (!(outcome instanceof NotSent) && !(outcome instanceof TesseraError)) return outcome;
      const error = outcome instanceof NotSent ? outcome.error : outcome;
      const safe = outcome instanceof NotSent || idempotent;
      const leftMs = (deadline - this.env.clock.monoMicros()) / 1000;
      if (
        !safe ||
        !RETRYABLE.has(error.code) ||
        attempt >= this.attemptsMax ||
        this.isClosed ||
        signal?.aborted === true ||
        leftMs <= backoffMs
      ) {
        throw outcome instanceof NotSent || idempotent ? error : uncertain(error);
      }
      await this.env.timers.sleep(backoffMs);
      backoffMs = Math.min(this.backoffMaxMs, backoffMs * 2);
    }
  }

  /** One attempt: a NotSent or TesseraError outcome instead of a throw. */
  private async attempt(
    method: TableMethod,
    request: unknown,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<{ value: unknown; client: RpcClient } | NotSent | TesseraError> {
    let client: RpcClient;
    try {
      client = (await this.routed(method, request, deadline)) ?? (await this.client(deadline));
    } catch (err) {
      return new NotSent(toTesseraError(err));
    }
    const leftMs = (deadline - this.env.clock.monoMicros()) / 1000;
    try {
      const value = await client.call(method, request, { timeoutMs: Math.max(1, leftMs), signal });
      return { value, client };
    } catch (err) {
      const error = toTesseraError(err);
      if (CONNECTION_LOST.has(error.code)) this.drop(client);
      return error;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  /**
   * A live connection: the current slot's, or the next address's that answers. Throws the last
   * connection error when none does (the request was then sent nowhere).
   */
  private async client(deadline: number): Promise<RpcClient> {
    let last: TesseraError | undefined;
    for (let i = 0; i < this.slots.length; i++) {
      if (this.isClosed) break;
      const index = (this.current + i) % this.slots.length;
      const slot = this.slots[index]!;
      const leftMs = (deadline - this.env.clock.monoMicros()) / 1000;
      if (leftMs <= 0) {
        last ??= new TesseraError('DEADLINE_EXCEEDED', 'no time left to connect');
        break;
      }
      try {
        const client = await this.open(slot, leftMs);
        this.current = index;
        return client;
      } catch (err) {
        last = toTesseraError(err);
      }
    }
    if (this.isClosed) throw closedError();
    throw last ?? closedError();
  }

  private open(slot: Slot, leftMs: number): Promise<RpcClient> {
    if (slot.client !== undefined && !slot.client.closed) return Promise.resolve(slot.client);
    slot.client = undefined;
    slot.connecting ??= (async () => {
      try {
        const client = await RpcClient.connect(this.env, slot.address, {
          keepAliveMs: KEEP_ALIVE_MS_DEFAULT,
          ...this.options.rpc,
          timeoutMs: Math.max(1, Math.min(this.connectTimeoutMs, leftMs)),
        });
        if (this.isClosed) {
          await client.close();
          throw closedError();
        }
        slot.client = client;
        return client;
      } catch (err) {
        const e = toTesseraError(err);
        throw new TesseraError(
          e.code,
          `${formatAddress(slot.address)}: ${e.message}`,
          { ...e.details, address: formatAddress(slot.address) },
          { cause: e },
        );
      } finally {
        slot.connecting = undefined;
      }
    })();
    return slot.connecting;
  }

  /**
   * Forgets a connection that failed or is draining (SHUTTING_DOWN), so the next call
   * reconnects or moves on. A draining one is left open for the calls still in flight on it;
   * the server ends it, and close() does if the server has not.
   */
  private drop(client: RpcClient): void {
    for (const [key, slot] of this.ringSlots) {
      if (slot.client !== client) continue;
      slot.client = undefined;
      this.router?.markDown(key);
      if (!client.closed) {
        this.retired.add(client);
        void client.whenClosed.then(() => this.retired.delete(client));
      }
      return;
    }
    const index = this.slots.findIndex((s) => s.client === client);
    if (index < 0) return;
    this.slots[index]!.client = undefined;
    if (!client.closed) {
      this.retired.add(client);
      void client.whenClosed.then(() => this.retired.delete(client));
    }
    if (index === this.current) this.current = (index + 1) % this.slots.length;
  }

  // -------------------------------------------------------------------------------------------
  // Scanners

  private trackScanner(
    scan: TableReply<'table.scan'>,
    client: RpcClient,
  ): TableReply<'table.scan'> {
    const local = this.nextScanner++;
    if (!scan.done) {
      if (this.scanners.size >= RPC_CALLER_SCANNERS_MAX) {
        const oldest = this.scanners.keys().next().value;
        if (oldest !== undefined) this.scanners.delete(oldest);
      }
      this.scanners.set(local, { client, remoteId: scan.scanner });
    }
    return { ...scan, scanner: local };
  }

  private async scannerCall<M extends TableMethod>(
    method: M,
    request: TableRequest<'table.scanNext'>,
    deadline: number,
    options: { readonly signal?: AbortSignal },
  ): Promise<TableReply<M>> {
    const scanner = this.scanners.get(request.scanner);
    if (scanner === undefined) {
      if (method === 'table.scanClose') return {} as TableReply<M>;
      throw new TesseraError('NOT_FOUND', `scanner ${request.scanner} is not open`, {
        scanner: request.scanner,
      });
    }
    const leftMs = Math.max(1, (deadline - this.env.clock.monoMicros()) / 1000);
    try {
      const reply = (await scanner.client.call(
        method,
        { scanner: scanner.remoteId },
        { timeoutMs: leftMs, signal: options.signal },
      )) as TableReply<'table.scanNext'>;
      if (method === 'table.scanClose' || reply.done) this.scanners.delete(request.scanner);
      return reply as TableReply<M>;
    } catch (err) {
      // A scanner step is not repeated: the rows of a lost batch cannot be asked for again.
      this.scanners.delete(request.scanner);
      const error = toTesseraError(err);
      if (CONNECTION_LOST.has(error.code)) this.drop(scanner.client);
      throw error;
    }
  }
}

function positive(name: string, v: number | undefined, fallback: number): number {
  const value = v ?? fallback;
  if (!(value > 0)) throw invalidArgument(`${name} must be positive, got ${value}`);
  return value;
}

function closedError(): TesseraError {
  return new TesseraError('CONNECTION_CLOSED', 'the client is closed');
}

/** The error of a write that was sent and may or may not have been applied. */
function uncertain(error: TesseraError): TesseraError {
  if (!['CONNECTION_CLOSED', 'DEADLINE_EXCEEDED', 'CANCELLED'].includes(error.code)) return error;
  return new TesseraError(
    error.code,
    `${error.message} (the write may or may not have been applied)`,
    { ...error.details, outcomeUnknown: true },
    { cause: error },
  );
}
