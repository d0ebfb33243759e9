/**
 * The lock-service client the simulations drive: it follows NOT_LEADER redirects (and rotates
 * over the replicas when there is no hint), and tells a call that certainly had no effect
 * (`Refused`: an error reply) from one whose outcome is unknown (the transport error is
 * rethrown), which is what a history for the linearizability checker needs. Used by the `lock`
 * scenario and by src/lock/lock.sim.test.ts.
 */
import { parseAddress, type Address, type Env, type Random } from '../../env/index.js';
import type { LockPeer } from '../../lock/index.js';
import { isTesseraError, toTesseraError } from '../../util/errors.js';
import { RpcClient } from '../../wire/index.js';

/** The call certainly had no effect: an error reply from the service. */
export class Refused extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/** Errors that mean the call's outcome is unknown. */
export function indeterminate(err: unknown): boolean {
  if (!isTesseraError(err)) return true;
  return (
    err.code === 'DEADLINE_EXCEEDED' ||
    err.code === 'CONNECTION_CLOSED' ||
    err.code === 'UNAVAILABLE' ||
    err.code === 'SHUTTING_DOWN' ||
    err.code === 'CONNECTION_REFUSED'
  );
}

export class LockTestClient {
  private readonly conns = new Map<string, RpcClient>();
  private target: Address;
  /** Error replies (the call certainly had no effect), by code. */
  readonly errorCodes = new Map<string, number>();

  constructor(
    private readonly env: Env,
    private readonly peers: readonly LockPeer[],
    private readonly rng: Pick<Random, 'between' | 'int'>,
    private readonly callTimeoutMs: number,
    start: number,
  ) {
    this.target = peers[start % peers.length]!.client!;
  }

  private rotate(): void {
    const i = this.peers.findIndex((p) => p.client!.host === this.target.host);
    this.target = this.peers[(i + 1) % this.peers.length]!.client!;
  }

  private drop(host: string): void {
    const c = this.conns.get(host);
    this.conns.delete(host);
    c?.close().catch(() => undefined);
  }

  /**
   * Calls `method` at the leader. Resolves with the reply; rejects with `Refused` when the
   * call certainly did not take effect (redirects ran out, or an application error), or with
   * the transport error when its outcome is unknown.
   */
  async call(method: string, args: unknown): Promise<unknown> {
    for (let attempt = 0; attempt < 12; attempt++) {
      const host = this.target.host;
      let conn = this.conns.get(host);
      if (conn === undefined || conn.closed) {
        try {
          conn = await RpcClient.connect(this.env, this.target, { timeoutMs: 500 });
        } catch {
          this.rotate();
          await this.env.timers.sleep(20);
          continue;
        }
        this.conns.set(host, conn);
      }
      try {
        return await conn.call(method, args, { timeoutMs: this.callTimeoutMs });
      } catch (err) {
        if (isTesseraError(err, 'NOT_LEADER') || isTesseraError(err, 'OVERLOADED')) {
          // Refused before it was applied (an overwritten proposal is NOT_LEADER too).
          const leader = err.details?.['leader'];
          if (typeof leader === 'string' && leader !== '') this.target = parseAddress(leader);
          else this.rotate();
          await this.env.timers.sleep(this.rng.between(10, 50));
          continue;
        }
        if (!indeterminate(err)) {
          const code = toTesseraError(err).code;
          this.errorCodes.set(code, (this.errorCodes.get(code) ?? 0) + 1);
          throw new Refused(code);
        }
        // Outcome unknown: start afresh elsewhere next time.
        this.drop(host);
        this.rotate();
        throw err;
      }
    }
    throw new Refused('NO_LEADER');
  }

  /** Starts the next call at a random replica (as a client that lost track of the leader). */
  wander(): void {
    this.target = this.peers[this.rng.int(this.peers.length)]!.client!;
  }

  close(): void {
    for (const host of [...this.conns.keys()]) this.drop(host);
  }
}
