/**
 * The lock service's RPC methods (`lock.*`) on a wire RpcServer, served by one LockReplica.
 * Bodies and replies are plain msgpack-friendly objects, bytes as Uint8Array; every method is
 * documented in docs/lock-protocol.md.
 *
 * Only the leader serves. Elsewhere every method (but `lock.status`) fails NOT_LEADER with
 * `details.leaderHint` (the leader's replica id, 0 when unknown) and, when that replica's
 * client address is known, `details.leader` ("host:port") for the client to redirect to.
 * Failed commands (a missing node, a version conflict, an expired session…) fail with the
 * state machine's code (NOT_FOUND, BAD_VERSION, SESSION_EXPIRED, …); for `lock.multi`,
 * `details.opIndex` names the failing op.
 */
import { formatAddress } from '../env/types.js';
import type { RpcServer } from '../wire/index.js';
import { TesseraError, invalidArgument, isTesseraError } from '../util/errors.js';
import type {
  CreateOp,
  DeleteOp,
  LockMode,
  LockResult,
  MultiOp,
  NodeStat,
  OpResult,
  SetOp,
} from './commands.js';
import type { LockReplica, UnstampedCommand } from './replica.js';
import { validatePath } from './path.js';
import type { WatchKind } from './watches.js';
import {
  WATCH_DEADLINE_MARGIN_MS,
  WATCH_WAIT_MAX_MS,
  WatchHub,
  type WatchPollReply,
} from './watch-hub.js';

export const LOCK_METHODS = [
  'lock.openSession',
  'lock.keepAlive',
  'lock.closeSession',
  'lock.create',
  'lock.get',
  'lock.set',
  'lock.delete',
  'lock.exists',
  'lock.list',
  'lock.multi',
  'lock.acquire',
  'lock.release',
  'lock.checkSequencer',
  'lock.watch',
  'lock.status',
] as const;

export type LockMethod = (typeof LOCK_METHODS)[number];

export interface LockStatusReply {
  readonly id: number;
  readonly role: string;
  readonly term: number;
  /** The leader's replica id as this replica knows it; 0 when unknown. */
  readonly leaderId: number;
  /** The leader's client address ("host:port"), when known. */
  readonly leader: string | null;
  readonly commit: number;
  readonly applied: number;
}

type Body = Record<string, unknown>;

function body(args: unknown): Body {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw invalidArgument('the request body must be a map');
  }
  return args as Body;
}

function str(b: Body, key: string): string {
  const v = b[key];
  if (typeof v !== 'string') throw invalidArgument(`'${key}' must be a string`);
  return v;
}

function int(b: Body, key: string): number {
  const v = b[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw invalidArgument(`'${key}' must be a non-negative integer`);
  }
  return v;
}

function optInt(b: Body, key: string): number | undefined {
  return b[key] === undefined || b[key] === null ? undefined : int(b, key);
}

function optBool(b: Body, key: string): boolean | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalidArgument(`'${key}' must be a boolean`);
  return v;
}

function bytes(b: Body, key: string, required: boolean): Uint8Array {
  const v = b[key];
  if ((v === undefined || v === null) && !required) return new Uint8Array(0);
  if (!(v instanceof Uint8Array)) throw invalidArgument(`'${key}' must be bytes`);
  return v;
}

function mode(b: Body): LockMode {
  const v = b['mode'] ?? 'exclusive';
  if (v !== 'exclusive' && v !== 'shared') {
    throw invalidArgument(`'mode' must be 'exclusive' or 'shared'`);
  }
  return v;
}

/** Only the fields that are set, so optional ones stay absent. */
function defined<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as T;
}

function multiOp(raw: unknown, i: number): MultiOp {
  const b = body(raw);
  const type = b['type'];
  switch (type) {
    case 'create':
      return defined({
        type,
        path: str(b, 'path'),
        data: bytes(b, 'data', false),
        ephemeral: optBool(b, 'ephemeral'),
        sequential: optBool(b, 'sequential'),
        session: optInt(b, 'session'),
      });
    case 'set':
      return defined({
        type,
        path: str(b, 'path'),
        data: bytes(b, 'data', true),
        expectedVersion: optInt(b, 'expectedVersion'),
      });
    case 'delete':
    case 'check':
      return defined({ type, path: str(b, 'path'), expectedVersion: optInt(b, 'expectedVersion') });
    default:
      throw invalidArgument(`ops[${i}]: unknown op type ${JSON.stringify(type)}`);
  }
}

/** Turns a failed command's result into the error the caller sees. */
function unwrap(result: LockResult): Exclude<LockResult, { type: 'error' }> {
  if (result.type === 'error') {
    throw new TesseraError(
      result.code,
      result.message,
      result.opIndex !== undefined ? { opIndex: result.opIndex } : undefined,
    );
  }
  return result;
}

function opReply(r: OpResult): Record<string, unknown> {
  switch (r.type) {
    case 'created':
    case 'set':
      return { type: r.type, path: r.path, stat: r.stat };
    case 'deleted':
    case 'checked':
      return { type: r.type, path: r.path };
  }
}

function expect<T extends LockResult['type']>(
  result: LockResult,
  type: T,
): Extract<LockResult, { type: T }> {
  const r = unwrap(result);
  if (r.type !== type) {
    throw new TesseraError('INTERNAL', `expected a '${type}' result, got '${r.type}'`);
  }
  return r as Extract<LockResult, { type: T }>;
}

function watchKind(b: Body): WatchKind {
  const v = b['kind'];
  if (v !== 'data' && v !== 'children' && v !== 'exists') {
    throw invalidArgument(`'kind' must be 'data', 'children' or 'exists'`);
  }
  return v;
}

/** How long a poll may wait given the caller's deadline (monotonic µs; +Infinity for none). */
function watchWaitMs(deadlineMonoMicros: number, nowMonoMicros: number): number {
  const remaining = (deadlineMonoMicros - nowMonoMicros) / 1000;
  if (!Number.isFinite(remaining)) return WATCH_WAIT_MAX_MS;
  const margin = Math.min(WATCH_DEADLINE_MARGIN_MS, remaining / 10);
  return Math.max(0, Math.min(WATCH_WAIT_MAX_MS, remaining - margin));
}

/**
 * Registers every `lock.*` method of `replica` on `server`; returns the replica's WatchHub
 * (the parked `lock.watch` polls).
 */
export function registerLockService(server: RpcServer, replica: LockReplica): WatchHub {
  /** Adds the leader's client address to NOT_LEADER errors. */
  const redirect = (err: unknown): never => {
    if (isTesseraError(err, 'NOT_LEADER')) {
      const hint = err.details?.['leaderHint'];
      const leaderId = typeof hint === 'number' && hint !== 0 ? hint : replica.leaderId;
      const address = leaderId !== 0 ? replica.clientAddress(leaderId) : undefined;
      throw new TesseraError('NOT_LEADER', err.message, {
        ...err.details,
        leaderHint: leaderId,
        leader: address !== undefined ? formatAddress(address) : undefined,
      });
    }
    throw err;
  };
  const write = (cmd: UnstampedCommand): Promise<LockResult> =>
    replica.propose(cmd).catch(redirect);
  const read = <T>(fn: () => T): Promise<T> => replica.read(fn).catch(redirect);
  const on = (method: LockMethod, handler: (b: Body) => Promise<unknown>): void => {
    server.handle(method, async (args: unknown) => {
      try {
        return await handler(body(args));
      } catch (err) {
        return redirect(err);
      }
    });
  };

  on('lock.openSession', async (b) => {
    const ttlMs = int(b, 'ttlMs');
    const r = expect(await replica.openSession(ttlMs).catch(redirect), 'sessionOpened');
    return { session: r.session, expiresAt: r.expiresAt };
  });
  on('lock.keepAlive', async (b) => {
    const r = expect(await write({ type: 'keepAlive', session: int(b, 'session') }), 'keptAlive');
    return { session: r.session, expiresAt: r.expiresAt };
  });
  on('lock.closeSession', async (b) => {
    const r = expect(
      await write({ type: 'closeSession', session: int(b, 'session') }),
      'sessionClosed',
    );
    return { session: r.session };
  });
  on('lock.create', async (b) => {
    const op = multiOp({ ...b, type: 'create' }, 0) as CreateOp;
    const r = expect(await write(op), 'created');
    return { path: r.path, stat: r.stat };
  });
  on('lock.set', async (b) => {
    const op = multiOp({ ...b, type: 'set' }, 0) as SetOp;
    const r = expect(await write(op), 'set');
    return { path: r.path, stat: r.stat };
  });
  on('lock.delete', async (b) => {
    const op = multiOp({ ...b, type: 'delete' }, 0) as DeleteOp;
    const r = expect(await write(op), 'deleted');
    return { path: r.path };
  });
  on('lock.multi', async (b) => {
    const raw = b['ops'];
    if (!Array.isArray(raw)) throw invalidArgument(`'ops' must be an array`);
    const ops = raw.map((op: unknown, i) => multiOp(op, i));
    const r = expect(await write({ type: 'multi', ops }), 'multi');
    return { results: r.results.map(opReply) };
  });
  on('lock.acquire', async (b) => {
    const r = unwrap(
      await write({
        type: 'acquireLock',
        path: str(b, 'path'),
        session: int(b, 'session'),
        mode: mode(b),
      }),
    );
    if (r.type === 'lockGranted') return { granted: true, mode: r.mode, token: r.token };
    if (r.type === 'lockQueued') return { granted: false, mode: r.mode, position: r.position };
    throw new TesseraError('INTERNAL', `unexpected '${r.type}' result for acquire`);
  });
  on('lock.release', async (b) => {
    const cmd = { type: 'releaseLock', path: str(b, 'path'), session: int(b, 'session') } as const;
    const r = expect(await write(cmd), 'lockReleased');
    return { path: r.path };
  });

  on('lock.get', async (b) => {
    const path = str(b, 'path');
    return read(() => {
      const { data, stat } = replica.stateMachine.get(path);
      return { data, stat };
    });
  });
  on('lock.exists', async (b) => {
    const path = str(b, 'path');
    return read((): { stat: NodeStat | null } => ({
      stat: replica.stateMachine.exists(path) ?? null,
    }));
  });
  on('lock.list', async (b) => {
    const path = str(b, 'path');
    return read(() => ({ children: replica.stateMachine.list(path) }));
  });
  on('lock.checkSequencer', async (b) => {
    const path = str(b, 'path');
    const token = int(b, 'token');
    return read(() => ({ valid: replica.stateMachine.checkSequencer(path, token) }));
  });

  const hub = new WatchHub(replica.env, replica.stateMachine.lastApplied);
  replica.onApplied((n) => hub.notice(n));
  server.handle('lock.watch', async (args: unknown, ctx): Promise<WatchPollReply> => {
    try {
      const b = body(args);
      const path = str(b, 'path');
      validatePath(path);
      const kind = watchKind(b);
      const afterIndex = optInt(b, 'afterIndex');
      if (afterIndex === undefined) {
        // Arming: the current index, at a linearizable point.
        const index = await read(() => replica.stateMachine.lastApplied);
        return { index, events: [], resync: false, timeout: false };
      }
      if (!replica.isLeader) {
        throw new TesseraError('NOT_LEADER', `lock replica ${replica.id} is not the leader`, {
          reason: 'not-leader',
          leaderHint: replica.leaderId,
        });
      }
      const waitMs = watchWaitMs(ctx.deadlineMonoMicros, replica.env.clock.monoMicros());
      return await hub.poll(
        { path, kind, afterIndex, connection: formatAddress(ctx.remote) },
        waitMs,
        ctx.signal,
      );
    } catch (err) {
      return redirect(err);
    }
  });

  server.handle('lock.status', (): LockStatusReply => {
    const s = replica.status();
    const leader = s.leader !== 0 ? replica.clientAddress(s.leader) : undefined;
    return {
      id: replica.id,
      role: s.role,
      term: s.term,
      leaderId: s.leader,
      leader: leader !== undefined ? formatAddress(leader) : null,
      commit: s.commit,
      applied: s.applied,
    };
  });
  return hub;
}
