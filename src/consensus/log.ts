/**
 * The in-memory view of one replica's log: a snapshot (the compacted prefix) followed by the
 * entries after it. `stable` splits the entries into those the application has persisted
 * and the unstable tail it still has to write (etcd's raftLog + unstable, in one array).
 */
import { assert } from '../util/assert.js';
import { decodeConfig } from './config.js';
import type { Config, Entry, PersistedState, Snapshot, SnapshotMeta } from './types.js';

export class RaftLog {
  /** The compaction point: entries up to `meta.index` live only in the snapshot. */
  private meta: SnapshotMeta;
  /** entries[k] has index meta.index + 1 + k. */
  private entries: Entry[];
  /** Indexes of config entries still in `entries`, ascending. */
  private configIndexes: number[] = [];
  /** Last index the application has persisted. */
  stable: number;
  commit: number;
  /** Last index handed to the application in `committedEntries`. */
  applied: number;
  /** A snapshot received from the leader that the application has yet to persist and load. */
  pendingSnapshot: Snapshot | undefined;
  /** The newest snapshot with data, sent to followers that fall behind the first index. */
  latestSnapshot: Snapshot | undefined;

  constructor(state: PersistedState, initialConfig: Config) {
    this.latestSnapshot = state.snapshot;
    this.meta = state.snapshot?.meta ?? { index: 0, term: 0, config: initialConfig };
    this.entries = [];
    this.stable = this.meta.index;
    this.commit = this.meta.index;
    this.applied = this.meta.index;
    this.append(state.entries);
    this.stable = this.lastIndex;
    this.commitTo(Math.max(state.hardState.commit, this.meta.index));
  }

  get firstIndex(): number {
    return this.meta.index + 1;
  }

  get lastIndex(): number {
    return this.meta.index + this.entries.length;
  }

  get lastTerm(): number {
    return this.termAt(this.lastIndex) ?? 0;
  }

  get snapshotMeta(): SnapshotMeta {
    return this.meta;
  }

  /** The term of entry `index`, or undefined when it is compacted away or not yet there. */
  termAt(index: number): number | undefined {
    if (index === this.meta.index) return this.meta.term;
    return this.entryAt(index)?.term;
  }

  entryAt(index: number): Entry | undefined {
    if (index <= this.meta.index) return undefined;
    return this.entries[index - this.meta.index - 1];
  }

  /** Entries [lo, hi) but at most `countMax` of them and `bytesMax` of data (at least one). */
  slice(lo: number, hi: number, countMax: number, bytesMax: number): Entry[] {
    assert(lo > this.meta.index && hi <= this.lastIndex + 1, `slice [${lo}, ${hi}) out of range`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi && out.length < countMax; i++) {
      const e = this.entryAt(i)!;
      bytes += e.data.length;
      if (out.length > 0 && bytes > bytesMax) break;
      out.push(e);
    }
    return out;
  }

  /** Appends `entries`; the first may overwrite (truncate) an existing suffix. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    assert(first > this.commit, `truncating committed entries at ${first}`);
    assert(first > this.meta.index && first <= this.lastIndex + 1, `gap before ${first}`);
    this.entries.length = first - this.meta.index - 1;
    this.configIndexes = this.configIndexes.filter((i) => i < first);
    this.stable = Math.min(this.stable, first - 1);
    let expected = first;
    for (const e of entries) {
      assert(e.index === expected++, 'appended entries are not consecutive');
      this.entries.push(e);
      if (e.kind === 'config') this.configIndexes.push(e.index);
    }
  }

  /**
   * A follower's side of an append. Returns the last index now known to match the leader,
   * or undefined when (prevIndex, prevTerm) does not match and the leader must back up.
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    commit: number,
    entries: readonly Entry[],
  ): number | undefined {
    if (this.termAt(prevIndex) !== prevTerm) return undefined;
    const lastNew = prevIndex + entries.length;
    // Skip the entries we already hold: re-appending them would truncate a longer, matching
    // log that a delayed, shorter append must never shrink.
    const conflict = entries.findIndex((e) => this.termAt(e.index) !== e.term);
    if (conflict >= 0) this.append(entries.slice(conflict));
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /**
   * The fast-backtracking hint: the largest index <= `index` whose term is <= `term`, with
   * its term. Entries between it and `index` cannot match any leader entry of term <= `term`.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex); i >= this.meta.index; i--) {
      const t = this.termAt(i)!;
      if (t <= term) return { index: i, term: t };
    }
    return { index: this.meta.index, term: this.meta.term };
  }

  /** The election restriction: is (lastIndex, lastTerm) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  commitTo(index: number): void {
    if (index <= this.commit) return;
    assert(index <= this.lastIndex, `commit ${index} beyond last index ${this.lastIndex}`);
    this.commit = index;
  }

  unstableEntries(): Entry[] {
    return this.entries.slice(this.stable - this.meta.index);
  }

  /** Entries committed but not yet handed to the application. */
  committedToApply(): Entry[] {
    if (this.commit <= this.applied) return [];
    return this.entries.slice(this.applied - this.meta.index, this.commit - this.meta.index);
  }

  /** The application persisted entries up to (index, term); ignore if the log moved since. */
  stableTo(index: number, term: number): void {
    if (this.termAt(index) === term && index > this.stable) this.stable = index;
  }

  appliedTo(index: number): void {
    assert(index <= this.commit && index >= this.applied, `applied ${index} out of order`);
    this.applied = index;
  }

  /** Replaces the whole log with a snapshot from the leader. */
  restore(snapshot: Snapshot): void {
    assert(snapshot.meta.index > this.commit, 'restoring a snapshot older than commit');
    this.meta = snapshot.meta;
    this.entries = [];
    this.configIndexes = [];
    this.stable = this.commit = this.applied = snapshot.meta.index;
    this.pendingSnapshot = snapshot;
    this.latestSnapshot = snapshot;
  }

  /** Drops entries up to `index`; the application's state as of `index` is `data`. */
  compact(index: number, data: Uint8Array): SnapshotMeta {
    assert(index > this.meta.index && index <= this.applied, `cannot compact to ${index}`);
    assert(index <= this.stable, 'compacting entries that are not yet persisted');
    const meta: SnapshotMeta = { index, term: this.termAt(index)!, config: this.configAt(index) };
    this.entries = this.entries.slice(index - this.meta.index);
    this.configIndexes = this.configIndexes.filter((i) => i > index);
    this.meta = meta;
    this.latestSnapshot = { meta, data };
    return meta;
  }

  /** The configuration in force at `index`: the latest config entry at or before it. */
  configAt(index: number): Config {
    for (let k = this.configIndexes.length - 1; k >= 0; k--) {
      const i = this.configIndexes[k]!;
      if (i <= index) return decodeConfig(this.entryAt(i)!.data);
    }
    return this.meta.config;
  }

  /** Index of the newest config entry still in the log, or the compaction point. */
  get lastConfigIndex(): number {
    return this.configIndexes[this.configIndexes.length - 1] ?? this.meta.index;
  }
}
