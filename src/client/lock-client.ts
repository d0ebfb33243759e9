/**
 * LockClient: a lock-service client over the native wire protocol (docs/lock-protocol.md).
 *
 * - **Finding the leader.** It asks the configured replicas `lock.status` and follows the
 *   leader address they report; a `NOT_LEADER` answer (which certainly had no effect) sends the
 *   request to `details.leader` and is always retried.
 * - **Retries.** A lost connection, `DEADLINE_EXCEEDED` or `UNAVAILABLE` drops the connection
 *   and finds the leader again. Then only requests that are safe to repeat are sent again:
 *   reads (`get`, `exists`, `list`, `checkSequencer`, `status`, `watch`), `keepAlive`,
 *   `openSession` (a lost one leaves an orphan session that expires), `acquire` (per session
 *   it is idempotent: it answers the same grant or queue place), `release` (a LOCK_NOT_HELD
 *   after a lost attempt counts as released), and compare-and-set writes — `set` and `delete`
 *   with `expectedVersion`, which cannot apply twice. An error that follows a lost attempt of
 *   such a write (e.g. BAD_VERSION) carries `details.afterUncertainAttempt: true`: the lost
 *   attempt may have applied. Every other write (`create`, unversioned `set`/`delete`,
 *   `multi`, `closeSession`) is not repeated: it fails with the code seen and
 *   `details.outcomeUnknown: true` — it may or may not have taken effect.
 * - **Session.** `connect` opens a session with `ttlMs` and sends `keepAlive` every ttlMs/3
 *   (env.timers). Keep-alives are retried against whichever replica leads, so after a leader
 *   failover the session — the same id, with its ephemeral nodes and locks — carries on as long
 *   as a new leader is reached before the session's expiry. `SESSION_EXPIRED` ends it
 *   (`onSessionExpired`).
 * - **Watches.** `watch(path, kind, onEvent)` long-polls `lock.watch`, re-arming with the last
 *   index it saw, across reconnects and failovers; events come in log order, and a `resync`
 *   event says some were lost (re-read the node).
 * - **Leader election.** `elect(path, identity)` takes the exclusive lock `path` (waiting for
 *   it) and writes `identity` to the ephemeral node `path`; `leader(path)` reads it.
 */
import { formatAddress, parseAddress, type Address, type Env, type Timer } from '../env/types.js';
import { RpcClient } from '../wire/index.js';
import { TesseraError, toTesseraError } from '../util/errors.js';
import type { LockMode, MultiOp, NodeStat } from '../lock/commands.js';
import type { WatchEventType, WatchKind } from '../lock/watches.js';
import type { LockStatusReply } from '../lock/index.js';

export const LOCK_CLIENT_TTL_MS_DEFAULT = 10_000;
export const LOCK_CLIENT_CALL_TIMEOUT_MS_DEFAULT = 5_000;
export const LOCK_CLIENT_ATTEMPT_TIMEOUT_MS_DEFAULT = 1_000;
export const LOCK_CLIENT_WATCH_POLL_MS_DEFAULT = 10_000;
/** Connection keep-alive (wire PINGs): a silent leader is given up after two periods. */
export const LOCK_CLIENT_PING_MS_DEFAULT = 500;
const BACKOFF_MIN_MS = 20;
const BACKOFF_MAX_MS = 500;
const ACQUIRE_POLL_MS = 100;

export interface LockClientOptions {
  /** Session TTL; the session is opened by `connect`. Default LOCK_CLIENT_TTL_MS_DEFAULT. */
  readonly ttlMs?: number;
  /** Overall time for one operation, retries included. Default 5000 ms. */
  readonly callTimeoutMs?: number;
  /** Time for one attempt of a retryable request. Default 1000 ms. */
  readonly attemptTimeoutMs?: number;
  /** How long one watch poll may wait at the server. Default 10000 ms. */
  readonly watchPollMs?: number;
  /** Wire keep-alive period. Default LOCK_CLIENT_PING_MS_DEFAULT. */
  readonly pingMs?: number;
  /** Called once when the server says the session no longer exists. */
  readonly onSessionExpired?: (session: number) => void;
}

export interface CreateOptions {
  readonly data?: Uint8Array;
  readonly ephemeral?: boolean;
  readonly sequential?: boolean;
}

export type AcquireResult =
  | { readonly granted: true; readonly mode: LockMode; readonly token: number }
  | { readonly granted: false; readonly mode: LockMode; readonly position: number };

export interface ClientWatchEvent {
  /** `resync`: events may have been missed; re-read the node. */
  readonly type: WatchEventType | 'resync';
  readonly path: string;
  /** The log index of the entry that caused it. */
  readonly index: number;
}

export interface WatchHandle {
  /** Resolves once the watch is armed (events after this point are seen). */
  readonly ready: Promise<void>;
  cancel(): void;
}

/** The `lock.status` reply (defined by the service). */
export type LockStatus = LockStatusReply;

type Body = Record<string, unknown>;

interface InvokeOptions {
  /** Safe to send again after a lost attempt. */
  readonly retry: boolean;
  readonly timeoutMs?: number;
  readonly attemptTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Codes after which the request may or may not have been applied, or the leader is gone. */
const UNCERTAIN = new Set(['DEADLINE_EXCEEDED', 'UNAVAILABLE', 'CONNECTION_CLOSED']);
/** Codes that mean the request was not served here, and may be sent elsewhere. */
const REFUSED = new Set(['SHUTTING_DOWN', 'CONNECTION_REFUSED', 'OVERLOADED']);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class LockClient {
  private readonly addresses: readonly string[];
  private readonly ttlMs: number;
  private readonly callTimeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly watchPollMs: number;
  private readonly pingMs: number;
  private rpc: RpcClient | undefined;
  private connecting: Promise<RpcClient> | undefined;
  private hint: string | undefined;
  private sessionId = 0;
  private expired = false;
  private closed = false;
  private keepAliveTimer: Timer | undefined;
  private keepAliveInFlight = false;
  private readonly watches = new Set<AbortController>();

  private constructor(
    private readonly env: Env,
    addresses: readonly (string | Address)[],
    private readonly options: LockClientOptions,
  ) {
    if (addresses.length === 0) throw new TesseraError('INVALID_ARGUMENT', 'no addresses given');
    this.addresses = addresses.map((a) =>
      typeof a === 'string' ? formatAddress(parseAddress(a)) : formatAddress(a),
    );
    this.ttlMs = options.ttlMs ?? LOCK_CLIENT_TTL_MS_DEFAULT;
    this.callTimeoutMs = options.callTimeoutMs ?? LOCK_CLIENT_CALL_TIMEOUT_MS_DEFAULT;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? LOCK_CLIENT_ATTEMPT_TIMEOUT_MS_DEFAULT;
    this.watchPollMs = options.watchPollMs ?? LOCK_CLIENT_WATCH_POLL_MS_DEFAULT;
    this.pingMs = options.pingMs ?? LOCK_CLIENT_PING_MS_DEFAULT;
  }

  /** Finds the leader among `addresses`, opens a session and starts its keep-alives. */
  static async connect(
    env: Env,
    addresses: readonly (string | Address)[],
    options: LockClientOptions = {},
  ): Promise<LockClient> {
    const c = new LockClient(env, addresses, options);
    try {
      const r = await c.invoke('lock.openSession', { ttlMs: c.ttlMs }, { retry: true });
      c.sessionId = num(r, 'session');
      c.keepAliveTimer = env.timers.every(Math.max(1, Math.floor(c.ttlMs / 3)), () =>
        c.keepAlive(),
      );
    } catch (err) {
      await c.shutdown();
      throw err;
    }
    return c;
  }

  /** This client's session id. */
  get session(): number {
    return this.sessionId;
  }

  /** False once the session expired or the client closed. */
  get sessionAlive(): boolean {
    return !this.expired && !this.closed;
  }

  /** The address of the replica this client talks to now, if connected. */
  get connectedTo(): string | undefined {
    return this.rpc !== undefined && !this.rpc.closed ? formatAddress(this.rpc.remote) : undefined;
  }

  // ---- nodes ----

  async create(
    path: string,
    opts: CreateOptions = {},
  ): Promise<{ readonly path: string; readonly stat: NodeStat }> {
    const args: Body = { path, data: opts.data ?? new Uint8Array(0) };
    if (opts.ephemeral === true) args['ephemeral'] = true;
    if (opts.sequential === true) args['sequential'] = true;
    if (opts.ephemeral === true) args['session'] = this.sessionId;
    const r = await this.invoke('lock.create', args, { retry: false });
    return { path: r['path'] as string, stat: r['stat'] as NodeStat };
  }

  async get(path: string): Promise<{ readonly data: Uint8Array; readonly stat: NodeStat }> {
    const r = await this.invoke('lock.get', { path }, { retry: true });
    return { data: r['data'] as Uint8Array, stat: r['stat'] as NodeStat };
  }

  /** Sets the data; with `expectedVersion` a compare-and-set (retried: see the header). */
  async set(path: string, data: Uint8Array, expectedVersion?: number): Promise<NodeStat> {
    const args: Body = { path, data };
    if (expectedVersion !== undefined) args['expectedVersion'] = expectedVersion;
    const r = await this.invoke('lock.set', args, { retry: expectedVersion !== undefined });
    return r['stat'] as NodeStat;
  }

  /** Deletes the node; with `expectedVersion` conditionally (retried: see the header). */
  async delete(path: string, expectedVersion?: number): Promise<void> {
    const args: Body = { path };
    if (expectedVersion !== undefined) args['expectedVersion'] = expectedVersion;
    await this.invoke('lock.delete', args, { retry: expectedVersion !== undefined });
  }

  async exists(path: string): Promise<NodeStat | null> {
    const r = await this.invoke('lock.exists', { path }, { retry: true });
    return (r['stat'] as NodeStat | null | undefined) ?? null;
  }

  async list(path: string): Promise<string[]> {
    const r = await this.invoke('lock.list', { path }, { retry: true });
    return r['children'] as string[];
  }

  /** All-or-nothing ops (not retried after a lost attempt). Ephemeral creates use this session. */
  async multi(ops: readonly MultiOp[]): Promise<Body[]> {
    const withSession = ops.map((op) =>
      op.type === 'create' && op.ephemeral === true && op.session === undefined
        ? { ...op, session: this.sessionId }
        : op,
    );
    const r = await this.invoke('lock.multi', { ops: withSession }, { retry: false });
    return r['results'] as Body[];
  }

  // ---- locks ----

  /**
   * Asks for the lock. With `waitMs` > 0 it asks again every ACQUIRE_POLL_MS until granted or
   * `waitMs` passes (then it answers the queued result; the request stays queued).
   */
  async acquire(
    path: string,
    opts: { readonly mode?: LockMode; readonly waitMs?: number } = {},
  ): Promise<AcquireResult> {
    const mode = opts.mode ?? 'exclusive';
    const until = this.nowMs() + (opts.waitMs ?? 0);
    for (;;) {
      const r = await this.invoke(
        'lock.acquire',
        { path, session: this.sessionId, mode },
        { retry: true },
      );
      const result: AcquireResult =
        r['granted'] === true
          ? { granted: true, mode, token: num(r, 'token') }
          : { granted: false, mode, position: num(r, 'position') };
      if (result.granted || this.nowMs() >= until || this.closed) return result;
      await this.env.timers.sleep(Math.min(ACQUIRE_POLL_MS, until - this.nowMs()));
    }
  }

  /** Releases the lock (or withdraws the queued request). */
  async release(path: string): Promise<void> {
    try {
      await this.invoke('lock.release', { path, session: this.sessionId }, { retry: true });
    } catch (err) {
      const e = toTesseraError(err);
      if (e.code === 'LOCK_NOT_HELD' && e.details?.['afterUncertainAttempt'] === true) return;
      throw e;
    }
  }

  async checkSequencer(path: string, token: number): Promise<boolean> {
    const r = await this.invoke('lock.checkSequencer', { path, token }, { retry: true });
    return r['valid'] === true;
  }

  // ---- leader election ----

  /**
   * Becomes the leader named `path`: waits (up to `waitMs`, default forever while the client
   * is open) for the exclusive lock `path`, then writes `identity` to the ephemeral node
   * `path` (whose parent must exist). Leadership lasts while the session does. Returns the
   * lock's sequencer, for fencing.
   */
  async elect(
    path: string,
    identity: string,
    opts: { readonly waitMs?: number } = {},
  ): Promise<{ readonly token: number }> {
    const r = await this.acquire(path, { waitMs: opts.waitMs ?? Number.MAX_SAFE_INTEGER });
    if (!r.granted) {
      throw new TesseraError('DEADLINE_EXCEEDED', `not elected for ${path} in time`, {
        path,
        position: r.position,
      });
    }
    const data = encoder.encode(identity);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.create(path, { data, ephemeral: true });
        break;
      } catch (err) {
        const e = toTesseraError(err);
        if (e.code === 'ALREADY_EXISTS') {
          await this.set(path, data);
          break;
        }
        if (e.details?.['outcomeUnknown'] !== true || attempt >= 3) throw e;
      }
    }
    return { token: r.token };
  }

  /** The identity written by the current leader of `path`; null when there is none. */
  async leader(path: string): Promise<string | null> {
    try {
      return decoder.decode((await this.get(path)).data);
    } catch (err) {
      if (toTesseraError(err).code === 'NOT_FOUND') return null;
      throw err;
    }
  }

  // ---- watches and status ----

  /**
   * Calls `onEvent` for every event that fires a `kind` watch on `path` (see watchKindsFired),
   * in log order, from the moment the watch is armed until `cancel`.
   */
  watch(path: string, kind: WatchKind, onEvent: (e: ClientWatchEvent) => void): WatchHandle {
    const ac = new AbortController();
    this.watches.add(ac);
    let armed!: () => void;
    const ready = new Promise<void>((resolve) => (armed = resolve));
    const run = async (): Promise<void> => {
      let after: number | undefined;
      let backoff = BACKOFF_MIN_MS;
      while (!ac.signal.aborted && !this.closed) {
        try {
          const args: Body =
            after === undefined ? { path, kind } : { path, kind, afterIndex: after };
          const r = await this.invoke('lock.watch', args, {
            retry: true,
            timeoutMs: this.watchPollMs + this.callTimeoutMs,
            attemptTimeoutMs:
              after === undefined ? undefined : this.watchPollMs + this.attemptTimeoutMs,
            signal: ac.signal,
          });
          backoff = BACKOFF_MIN_MS;
          if (ac.signal.aborted) break;
          const index = num(r, 'index');
          if (after === undefined) {
            after = index;
            armed();
            continue;
          }
          if (r['resync'] === true) onEvent({ type: 'resync', path, index });
          for (const e of (r['events'] as { path: string; type: WatchEventType }[] | undefined) ??
            []) {
            onEvent({ type: e.type, path: e.path, index });
          }
          after = Math.max(after, index);
        } catch {
          if (ac.signal.aborted || this.closed) break;
          await this.env.timers.sleep(backoff);
          backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
        }
      }
      this.watches.delete(ac);
    };
    void run();
    return { ready, cancel: () => ac.abort() };
  }

  async status(): Promise<LockStatus> {
    return (await this.invoke('lock.status', {}, { retry: true })) as unknown as LockStatus;
  }

  /** Closes the session (its ephemeral nodes go, its locks are released) and the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.keepAliveTimer?.cancel();
    for (const w of this.watches) w.abort();
    if (!this.expired && this.sessionId !== 0) {
      await this.invoke('lock.closeSession', { session: this.sessionId }, { retry: false }).catch(
        () => undefined,
      );
    }
    await this.shutdown();
  }

  // ---- internals ----

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.keepAliveTimer?.cancel();
    for (const w of this.watches) w.abort();
    const rpc = this.rpc;
    this.rpc = undefined;
    if (rpc !== undefined) await rpc.close();
  }

  private keepAlive(): void {
    if (this.keepAliveInFlight || this.closed || this.expired) return;
    this.keepAliveInFlight = true;
    this.invoke(
      'lock.keepAlive',
      { session: this.sessionId },
      { retry: true, timeoutMs: this.ttlMs },
    )
      .catch((err: unknown) => {
        if (toTesseraError(err).code === 'SESSION_EXPIRED' && !this.expired) {
          this.expired = true;
          this.keepAliveTimer?.cancel();
          this.options.onSessionExpired?.(this.sessionId);
        }
        // Anything else: the next period tries again.
      })
      .finally(() => (this.keepAliveInFlight = false));
  }

  private nowMs(): number {
    return this.env.clock.monoMicros() / 1000;
  }

  /** Sends one request to the leader, following redirects and retrying as `opts` allows. */
  private async invoke(method: string, args: Body, opts: InvokeOptions): Promise<Body> {
    const deadline = this.nowMs() + (opts.timeoutMs ?? this.callTimeoutMs);
    let uncertain = false;
    let lastError: TesseraError | undefined;
    let backoff = BACKOFF_MIN_MS;
    const aborted = (): boolean => opts.signal?.aborted === true;
    const pause = async (): Promise<void> => {
      await this.env.timers.sleep(Math.min(backoff, Math.max(0, deadline - this.nowMs())));
      backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
    };
    for (;;) {
      if (this.closed && method !== 'lock.closeSession') {
        throw new TesseraError('CANCELLED', 'the lock client is closed');
      }
      if (aborted()) throw new TesseraError('CANCELLED', 'cancelled');
      const remaining = deadline - this.nowMs();
      if (remaining <= 0) {
        throw lastError ?? new TesseraError('DEADLINE_EXCEEDED', `'${method}' timed out`);
      }
      let rpc: RpcClient;
      try {
        rpc = await this.connection(deadline);
      } catch (err) {
        lastError = toTesseraError(err); // nothing was sent: safe to go on
        await pause();
        continue;
      }
      try {
        const attempt = opts.retry
          ? Math.min(remaining, opts.attemptTimeoutMs ?? this.attemptTimeoutMs)
          : remaining;
        const reply = await rpc.call(method, args, {
          timeoutMs: Math.max(1, attempt),
          signal: opts.signal,
        });
        return (reply ?? {}) as Body;
      } catch (err) {
        const e = toTesseraError(err);
        if (e.code === 'CANCELLED' && aborted()) throw e;
        if (e.code === 'NOT_LEADER') {
          const leader = e.details?.['leader'];
          this.hint = typeof leader === 'string' ? leader : undefined;
          this.drop(rpc);
          lastError = e;
          if (this.hint === undefined) await pause();
          continue;
        }
        if (UNCERTAIN.has(e.code) || REFUSED.has(e.code)) {
          this.drop(rpc);
          lastError = e;
          if (UNCERTAIN.has(e.code)) {
            if (!opts.retry) {
              throw new TesseraError(e.code, `${e.message} (outcome unknown)`, {
                ...e.details,
                outcomeUnknown: true,
              });
            }
            uncertain = true;
          }
          await pause();
          continue;
        }
        if (uncertain) {
          throw new TesseraError(e.code, e.message, { ...e.details, afterUncertainAttempt: true });
        }
        throw e;
      }
    }
  }

  private drop(rpc: RpcClient): void {
    if (this.rpc === rpc) this.rpc = undefined;
    void rpc.close();
  }

  /** The connection to the leader, found if need be (shared by concurrent callers). */
  private connection(deadline: number): Promise<RpcClient> {
    if (this.rpc !== undefined && !this.rpc.closed) return Promise.resolve(this.rpc);
    this.connecting ??= this.findLeader(deadline).finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async findLeader(deadline: number): Promise<RpcClient> {
    let lastError: TesseraError | undefined;
    const tried = new Set<string>();
    const queue = [...(this.hint !== undefined ? [this.hint] : []), ...this.addresses];
    while (queue.length > 0 && !this.closed) {
      const addr = queue.shift()!;
      if (tried.has(addr)) continue;
      tried.add(addr);
      const budget = Math.min(this.attemptTimeoutMs, deadline - this.nowMs());
      if (budget <= 0) break;
      let rpc: RpcClient | undefined;
      try {
        rpc = await RpcClient.connect(this.env, parseAddress(addr), {
          timeoutMs: budget,
          keepAliveMs: this.pingMs,
        });
        const s = (await rpc.call('lock.status', {}, { timeoutMs: budget })) as LockStatus;
        if (s.role === 'leader') {
          if (this.closed) break;
          this.rpc = rpc;
          this.hint = addr;
          return rpc;
        }
        if (s.leader !== null && !tried.has(s.leader)) queue.unshift(s.leader);
      } catch (err) {
        lastError = toTesseraError(err);
      }
      if (rpc !== undefined) void rpc.close();
    }
    this.hint = undefined;
    throw new TesseraError(
      'UNAVAILABLE',
      `no lock-service leader found among ${this.addresses.join(', ')}`,
      { reason: 'no-leader', cause: lastError?.message },
    );
  }
}

function num(b: Body, key: string): number {
  const v = b[key];
  if (typeof v !== 'number') {
    throw new TesseraError('PROTOCOL_ERROR', `reply field '${key}' is not a number`);
  }
  return v;
}
