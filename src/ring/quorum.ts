/**
 * The bookkeeping of one coordinated request: which replicas were asked, which answered, which
 * failed, and whether the consistency level is met, can still be met, or cannot. Pure; the
 * coordinator (coordinator.ts) feeds it answers and acts on its verdict.
 *
 * Only `counting` replicas (those in the coordinator's datacenter, for LOCAL levels) count
 * towards `required`; others may be asked too (a write goes to every live replica) and their
 * answers are recorded but do not count.
 */
import { assert } from '../util/assert.js';
import { TesseraError } from '../util/errors.js';

export type QuorumVerdict = 'pending' | 'met' | 'impossible';

export class QuorumTracker {
  private readonly answered: string[] = [];
  private readonly failed = new Map<string, string>();
  private countingAnswers = 0;
  private countingFailures = 0;

  constructor(
    /** Replicas that must answer. */
    readonly required: number,
    /** The replicas whose answers count (asked or still to be asked). */
    private readonly counting: ReadonlySet<string>,
  ) {
    assert(required >= 1, 'a quorum needs at least one replica');
  }

  success(id: string): QuorumVerdict {
    if (this.answered.includes(id) || this.failed.has(id)) return this.verdict;
    this.answered.push(id);
    if (this.counting.has(id)) this.countingAnswers++;
    return this.verdict;
  }

  failure(id: string, reason: string): QuorumVerdict {
    if (this.answered.includes(id) || this.failed.has(id)) return this.verdict;
    this.failed.set(id, reason);
    if (this.counting.has(id)) this.countingFailures++;
    return this.verdict;
  }

  get verdict(): QuorumVerdict {
    if (this.countingAnswers >= this.required) return 'met';
    if (this.counting.size - this.countingFailures < this.required) return 'impossible';
    return 'pending';
  }

  /** Counting replicas that answered. */
  get acknowledged(): number {
    return this.countingAnswers;
  }

  get answeredBy(): readonly string[] {
    return this.answered;
  }

  /**
   * The error for a request that ended without its quorum: REPLICA_TIMEOUT naming how many
   * answered, who did not, and why those that failed did.
   */
  timeoutError(what: string, level: string, waitedMs: number | undefined): TesseraError {
    const silent = [...this.counting].filter((id) => !this.answered.includes(id));
    const reasons = silent.map((id) => {
      const why = this.failed.get(id);
      return why === undefined ? `${id} (no answer)` : `${id} (${why})`;
    });
    const when = waitedMs === undefined ? '' : ` within ${waitedMs} ms`;
    return new TesseraError(
      'REPLICA_TIMEOUT',
      `Timeout: ${what} at ${level} needed ${this.required} replica(s), ` +
        `${this.countingAnswers} answered${when}; missing: ${reasons.join(', ')}`,
      { required: this.required, received: this.countingAnswers, consistency: level },
    );
  }
}

/** REPLICAS_UNAVAILABLE: fewer live counting replicas than the level needs; nothing was sent. */
export function unavailableError(
  what: string,
  level: string,
  required: number,
  alive: readonly string[],
  down: readonly string[],
): TesseraError {
  return new TesseraError(
    'REPLICAS_UNAVAILABLE',
    `Unavailable: ${what} at ${level} needs ${required} replica(s), ${alive.length} alive` +
      (alive.length > 0 ? ` (${alive.join(', ')})` : '') +
      (down.length > 0 ? `; down: ${down.join(', ')}` : ''),
    { required, alive: alive.length, consistency: level },
  );
}
