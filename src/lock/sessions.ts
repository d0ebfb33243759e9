/**
 * Sessions: a client's lease on the lock service. A session lives until it is closed or until
 * an applied `expireSessions{now}` finds its expiry at or before `now`. Nothing here reads a
 * clock: the leader decides when to propose expiry, and every replica applies the same
 * decision from the log. (A keep-alive applied after the expiry time but before the expiry
 * command still succeeds: expiry is what the log says, not what a local clock says.)
 */
import { TesseraError, invalidArgument } from '../util/errors.js';

/** Bounds on a session's time-to-live, in milliseconds. */
export const MIN_SESSION_TTL_MS = 1;
export const MAX_SESSION_TTL_MS = 24 * 60 * 60 * 1000;

export interface SessionInfo {
  readonly id: number;
  readonly ttlMs: number;
  /** The stamp at or after which an expireSessions command removes the session. */
  readonly expiresAt: number;
}

interface Session {
  readonly id: number;
  readonly ttlMs: number;
  expiresAt: number;
}

export function sessionExpired(id: number): TesseraError {
  return new TesseraError('SESSION_EXPIRED', `session ${id} does not exist`, { session: id });
}

export class SessionTable {
  private readonly sessions = new Map<number, Session>();

  get size(): number {
    return this.sessions.size;
  }

  has(id: number): boolean {
    return this.sessions.has(id);
  }

  get(id: number): SessionInfo | undefined {
    const s = this.sessions.get(id);
    return s === undefined ? undefined : { id: s.id, ttlMs: s.ttlMs, expiresAt: s.expiresAt };
  }

  /** All sessions, sorted by id. */
  all(): SessionInfo[] {
    return [...this.sessions.keys()].sort((a, b) => a - b).map((id) => this.get(id)!);
  }

  open(id: number, ttlMs: number, now: number): SessionInfo {
    if (!Number.isSafeInteger(id) || id < 1) {
      throw invalidArgument(`session id must be a positive integer, got ${id}`);
    }
    if (!Number.isSafeInteger(ttlMs) || ttlMs < MIN_SESSION_TTL_MS || ttlMs > MAX_SESSION_TTL_MS) {
      throw invalidArgument(
        `session ttl must be ${MIN_SESSION_TTL_MS}..${MAX_SESSION_TTL_MS} ms, got ${ttlMs}`,
      );
    }
    if (this.sessions.has(id)) {
      throw new TesseraError('ALREADY_EXISTS', `session ${id} is already open`, { session: id });
    }
    const s: Session = { id, ttlMs, expiresAt: now + ttlMs };
    this.sessions.set(id, s);
    return { id, ttlMs, expiresAt: s.expiresAt };
  }

  /** Extends the session to `now + ttl` (never shortens it). */
  keepAlive(id: number, now: number): SessionInfo {
    const s = this.sessions.get(id);
    if (s === undefined) throw sessionExpired(id);
    s.expiresAt = Math.max(s.expiresAt, now + s.ttlMs);
    return { id, ttlMs: s.ttlMs, expiresAt: s.expiresAt };
  }

  /** Forgets the session; its ephemerals and locks are the caller's to clean up. */
  remove(id: number): void {
    if (!this.sessions.delete(id)) throw sessionExpired(id);
  }

  /** The ids of the sessions whose expiry is at or before `now`, sorted. */
  expiredAt(now: number): number[] {
    const out: number[] = [];
    for (const s of this.sessions.values()) if (s.expiresAt <= now) out.push(s.id);
    return out.sort((a, b) => a - b);
  }

  /** Used by restore. */
  restore(info: SessionInfo): void {
    this.sessions.set(info.id, { id: info.id, ttlMs: info.ttlMs, expiresAt: info.expiresAt });
  }
}
