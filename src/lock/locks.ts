/**
 * Locks held by sessions, Chubby-style: a lock is named by a path (its own namespace, apart
 * from the node tree), held exclusively by one session or shared by several. Requests that
 * cannot be granted wait in FIFO order; a request never overtakes an earlier waiter, so a
 * queued exclusive request is not starved by a stream of shared ones. When holders leave, the
 * head of the queue is granted — and every shared waiter right behind a shared head with it.
 *
 * Every grant gets a sequencer (fencing token) from one counter over the whole table, so
 * tokens strictly increase in log order. A resource given a token asks `checkSequencer`
 * whether the grant is still current; a holder whose lock was released or expired is refused.
 */
import type { LockMode } from './commands.js';
import { validatePath } from './path.js';
import { TesseraError, invalidArgument } from '../util/errors.js';
import { assert } from '../util/assert.js';

export interface LockHolder {
  readonly session: number;
  readonly mode: LockMode;
  readonly token: number;
}

export interface LockWaiter {
  readonly session: number;
  readonly mode: LockMode;
}

/** A grant made to a waiter when a lock was released. */
export interface LockGrant extends LockHolder {
  readonly path: string;
}

export type AcquireOutcome =
  | { readonly granted: true; readonly token: number }
  | { readonly granted: false; readonly position: number };

interface LockEntry {
  holders: LockHolder[];
  waiters: LockWaiter[];
}

export interface LockState {
  readonly path: string;
  readonly holders: readonly LockHolder[];
  readonly waiters: readonly LockWaiter[];
}

function compatible(entry: LockEntry, mode: LockMode): boolean {
  const first = entry.holders[0];
  return first === undefined || (mode === 'shared' && first.mode === 'shared');
}

export class LockTable {
  private readonly locks = new Map<string, LockEntry>();
  private readonly bySession = new Map<number, Set<string>>();
  private lastToken = 0;

  /** The most recent sequencer issued (0 before the first grant). */
  get lastSequencer(): number {
    return this.lastToken;
  }

  acquire(path: string, session: number, mode: LockMode): AcquireOutcome {
    validatePath(path);
    let entry = this.locks.get(path);
    if (entry === undefined) {
      entry = { holders: [], waiters: [] };
      this.locks.set(path, entry);
    }
    const held = entry.holders.find((h) => h.session === session);
    if (held !== undefined) {
      if (held.mode !== mode) {
        throw invalidArgument(`session ${session} holds ${path} ${held.mode}; release it first`, {
          path,
        });
      }
      return { granted: true, token: held.token };
    }
    const waiting = entry.waiters.findIndex((w) => w.session === session);
    if (waiting >= 0) {
      if (entry.waiters[waiting]!.mode !== mode) {
        throw invalidArgument(`session ${session} already waits for ${path} in another mode`, {
          path,
        });
      }
      return { granted: false, position: waiting };
    }
    this.index(session, path);
    if (entry.waiters.length === 0 && compatible(entry, mode)) {
      return { granted: true, token: this.grant(entry, session, mode) };
    }
    entry.waiters.push({ session, mode });
    return { granted: false, position: entry.waiters.length - 1 };
  }

  /**
   * Releases the session's hold on `path`, or withdraws its waiting request, and returns the
   * grants this made to waiters. LOCK_NOT_HELD when the session neither holds nor waits.
   */
  release(path: string, session: number): LockGrant[] {
    validatePath(path);
    const entry = this.locks.get(path);
    const hi = entry?.holders.findIndex((h) => h.session === session) ?? -1;
    const wi = entry?.waiters.findIndex((w) => w.session === session) ?? -1;
    if (entry === undefined || (hi < 0 && wi < 0)) {
      throw new TesseraError(
        'LOCK_NOT_HELD',
        `session ${session} neither holds nor waits for ${path}`,
        { path, session },
      );
    }
    if (hi >= 0) entry.holders.splice(hi, 1);
    else entry.waiters.splice(wi, 1);
    this.unindex(session, path);
    const grants = this.promote(path, entry);
    if (entry.holders.length === 0 && entry.waiters.length === 0) this.locks.delete(path);
    return grants;
  }

  /** Releases every lock the session holds or waits for (sorted by path); returns grants. */
  releaseAll(session: number): LockGrant[] {
    const paths = [...(this.bySession.get(session) ?? [])].sort();
    const grants: LockGrant[] = [];
    for (const p of paths) grants.push(...this.release(p, session));
    return grants;
  }

  /** True when `token` is the sequencer of a current holder of `path`. */
  checkSequencer(path: string, token: number): boolean {
    validatePath(path);
    return this.locks.get(path)?.holders.some((h) => h.token === token) ?? false;
  }

  /** The holders and waiters of `path` (empty when nobody holds or waits). */
  state(path: string): LockState {
    validatePath(path);
    const e = this.locks.get(path);
    return { path, holders: [...(e?.holders ?? [])], waiters: [...(e?.waiters ?? [])] };
  }

  /** Every lock with a holder or waiter, sorted by path. */
  all(): LockState[] {
    return [...this.locks.keys()].sort().map((p) => this.state(p));
  }

  /** The paths the session holds or waits for, sorted. */
  pathsOf(session: number): string[] {
    return [...(this.bySession.get(session) ?? [])].sort();
  }

  /** Used by restore: installs a lock's state as snapshotted. */
  restore(state: LockState): void {
    this.locks.set(state.path, { holders: [...state.holders], waiters: [...state.waiters] });
    for (const h of state.holders) this.index(h.session, state.path);
    for (const w of state.waiters) this.index(w.session, state.path);
  }

  /** Used by restore: the counter sequencers continue from. */
  restoreLastSequencer(token: number): void {
    this.lastToken = token;
  }

  private grant(entry: LockEntry, session: number, mode: LockMode): number {
    const token = ++this.lastToken;
    entry.holders.push({ session, mode, token });
    return token;
  }

  private promote(path: string, entry: LockEntry): LockGrant[] {
    const grants: LockGrant[] = [];
    for (;;) {
      const head = entry.waiters[0];
      if (head === undefined || !compatible(entry, head.mode)) break;
      entry.waiters.shift();
      const token = this.grant(entry, head.session, head.mode);
      grants.push({ path, session: head.session, mode: head.mode, token });
    }
    return grants;
  }

  private index(session: number, path: string): void {
    let set = this.bySession.get(session);
    if (set === undefined) this.bySession.set(session, (set = new Set()));
    set.add(path);
  }

  private unindex(session: number, path: string): void {
    const set = this.bySession.get(session);
    assert(set !== undefined && set.delete(path), `lock ${path} not indexed for ${session}`);
    if (set.size === 0) this.bySession.delete(session);
  }
}
