import { createHash, type Hash } from 'node:crypto';
import { assert } from '../../util/assert.js';
import { fnv1a } from '../../util/fnv.js';

/**
 * The run's fingerprint: every executed event folds one line into a running SHA-256, so two
 * runs of one seed can be compared by a single hex string, and the first divergence between
 * them is found by diffing `recent()` lines. SHA-256 is deterministic; only its input matters.
 */
export class TraceLog {
  private readonly hash: Hash = createHash('sha256');
  private readonly ring: string[] = [];
  private ringNext = 0;
  private linesCount = 0;

  /** `linesMax` bounds the in-memory tail kept for failure reports (0 keeps none). */
  constructor(private readonly linesMax: number) {
    assert(Number.isInteger(linesMax) && linesMax >= 0, `bad trace bound ${linesMax}`);
  }

  get lines(): number {
    return this.linesCount;
  }

  add(line: string): void {
    this.hash.update(line + '\n');
    this.linesCount++;
    if (this.linesMax === 0) return;
    if (this.ring.length < this.linesMax) {
      this.ring.push(line);
    } else {
      this.ring[this.ringNext] = line;
      this.ringNext = (this.ringNext + 1) % this.linesMax;
    }
  }

  /** Hex SHA-256 of every line so far; the log keeps going afterwards. */
  digest(): string {
    return this.hash.copy().digest('hex');
  }

  /** The last lines, oldest first. */
  recent(): string[] {
    return [...this.ring.slice(this.ringNext), ...this.ring.slice(0, this.ringNext)];
  }
}

/** FNV-1a over the bytes, as 8 hex digits: a cheap content tag for trace lines. */
export function contentTag(bytes: Uint8Array): string {
  return (fnv1a(bytes) >>> 0).toString(16).padStart(8, '0');
}
