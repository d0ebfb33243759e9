/**
 * Iterates one level >= 1 as a single sorted stream: its files do not overlap, so they are
 * walked one after another, opening each file's iterator only when the walk reaches it. A seek
 * binary-searches the files by largest key and touches only the one file that can hold the
 * target — which keeps a scan of a 7-level store from opening every file up front.
 */
import { compareBytes } from '../util/bytes.js';
import type { EntryIterator, Step } from './iterator.js';
import type { FileMeta } from './manifest/index.js';

export type OpenTableIterator = (file: FileMeta) => Promise<EntryIterator>;

export class LevelIterator implements EntryIterator {
  private index = -1;
  private current: EntryIterator | undefined;

  constructor(
    private readonly files: readonly FileMeta[],
    private readonly open: OpenTableIterator,
  ) {}

  valid(): boolean {
    return this.current !== undefined && this.current.valid();
  }

  key(): Uint8Array {
    return this.current!.key();
  }

  value(): Uint8Array {
    return this.current!.value();
  }

  seekToFirst(): Step {
    return this.enter(0, undefined);
  }

  seek(target: Uint8Array): Step {
    // First file whose largest key is >= target.
    let lo = 0;
    let hi = this.files.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes(this.files[mid]!.largest, target) < 0) lo = mid + 1;
      else hi = mid;
    }
    return this.enter(lo, target);
  }

  next(): Step {
    const s = this.current!.next();
    if (s) return s.then(() => this.skipExhausted());
    return this.skipExhausted();
  }

  /** Moves to the next file while the current one is exhausted. */
  private skipExhausted(): Step {
    if (this.current && !this.current.valid() && this.index + 1 < this.files.length) {
      return this.enter(this.index + 1, undefined);
    }
  }

  private enter(i: number, target: Uint8Array | undefined): Step {
    if (i !== this.index) {
      this.current?.close();
      this.current = undefined;
      this.index = i;
      if (i >= this.files.length) return;
      return this.open(this.files[i]!).then((it) => {
        this.current = it;
        return this.position(target);
      });
    }
    if (!this.current) return;
    return this.position(target);
  }

  private position(target: Uint8Array | undefined): Step {
    const s = target ? this.current!.seek(target) : this.current!.seekToFirst();
    if (s) return s.then(() => this.skipExhausted());
    return this.skipExhausted();
  }

  close(): void {
    this.current?.close();
    this.current = undefined;
    this.index = this.files.length;
  }
}
