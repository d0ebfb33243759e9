import { describe, expect, it } from 'vitest';
import { equalBytes, fromUtf8, toHex, utf8 } from '../util/bytes.js';
import { Prng } from '../util/prng.js';
import { defaultFamilyOptions, type FamilyOptionsLookup } from './family-options.js';
import { encodeCellKey, internalKey, Kind, maxTimestamp, rowPrefix, rowStartKey } from './key.js';
import { RowResolver, type ReadOptions } from './row-resolver.js';
import type { ModelStore } from './testing/model.js';
import { type ModelEntry } from './testing/model.js';
import { formatCells, randomReadOptions, randomWorkload } from './testing/workload.js';
import { HandWrittenRow } from './testing/hand-written.js';

/**
 * Resolves every row of sorted `entries` with one RowResolver. Keys are passed as views of one
 * scratch buffer that the next entry overwrites, as an SSTable iterator's may be; values as
 * views of immutable stored bytes (the iterator contract), half of them inside a buffer too big
 * to pin, which the resolver must copy.
 */
function resolveRows(
  entries: readonly ModelEntry[],
  options: ReadOptions,
  lookup: FamilyOptionsLookup,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const resolver = new RowResolver(options, lookup);
  const scratch = new Uint8Array(4096);
  const big = new Uint8Array(1 << 17);
  let bigAt = 0;
  const bigViews: Uint8Array[] = [];
  let row: Uint8Array | undefined;
  const finish = (): void => {
    if (row === undefined) return;
    const cells = resolver.cells();
    for (const c of cells) {
      if (c.value.buffer === big.buffer) throw new Error('a cell pins a buffer over 64 KiB');
    }
    out.set(formatRow(row), formatCells(cells));
  };
  for (const e of entries) {
    const prefix = rowPrefix(e.key);
    if (row === undefined || !equalBytes(row, prefix)) {
      finish();
      resolver.reset();
      row = prefix.slice();
    }
    scratch.fill(0xee);
    scratch.set(e.key, 0);
    let value = e.value.slice();
    if (bigViews.length % 2 === 0 && bigAt + value.length <= big.length) {
      big.set(value, bigAt);
      value = big.subarray(bigAt, bigAt + value.length);
      bigAt += value.length;
    }
    bigViews.push(value);
    resolver.add(scratch.subarray(0, e.key.length), value);
  }
  finish();
  scratch.fill(0xdd); // cells must not alias the scratch buffer
  return out;
}

function formatRow(prefix: Uint8Array): string {
  return toHex(prefix);
}

function modelRows(
  model: ModelStore,
  options: ReadOptions,
  lookup: FamilyOptionsLookup,
): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const row of model.rows()) {
    out.set(formatRow(rowStartKey(row)), formatCells(model.read(row, options, lookup)));
  }
  return out;
}

const f = utf8('f');
const g = utf8('g');
const q = utf8('q');
const r1 = utf8('r1');
const none = new Uint8Array(0);

/** A tiny store for hand-written cases. */
class Case extends HandWrittenRow {
  constructor() {
    super(r1);
  }

  /** Reads r1 with the resolver, checks the model agrees, returns "family:qualifier@ts=value". */
  read(o: Partial<ReadOptions> = {}): string[] {
    const options: ReadOptions = { snapshotSeq: this.seq, now: 0, ...o };
    const resolver = new RowResolver(options, this.lookup);
    for (const e of this.model.entries()) resolver.add(e.key, e.value);
    const cells = resolver.cells();
    expect(formatCells(cells)).toEqual(formatCells(this.model.read(r1, options, this.lookup)));
    return cells.map(
      (x) => `${fromUtf8(x.family)}:${fromUtf8(x.qualifier)}@${x.timestamp}=${fromUtf8(x.value)}`,
    );
  }
}

describe('RowResolver', () => {
  it('hides entries newer than the snapshot', () => {
    const c = new Case();
    const s1 = c.put(f, q, 5, 'a');
    c.put(f, q, 5, 'b');
    expect(c.read()).toEqual(['f:q@5=b']);
    expect(c.read({ snapshotSeq: s1 })).toEqual(['f:q@5=a']);
    expect(c.read({ snapshotSeq: 0 })).toEqual([]);
  });

  it('masks by timestamp, not by write order; deletes win ties', () => {
    const c = new Case();
    c.del(Kind.DeleteColumn, f, q, 5);
    c.put(f, q, 5, 'tie');
    c.put(f, q, 4, 'older');
    c.put(f, q, 6, 'newer');
    expect(c.read()).toEqual(['f:q@6=newer']);
  });

  it('DeleteVersion masks exactly one timestamp', () => {
    const c = new Case();
    c.put(f, q, 4, 'a');
    c.put(f, q, 5, 'b');
    c.put(f, q, 6, 'c');
    c.del(Kind.DeleteVersion, f, q, 5);
    expect(c.read()).toEqual(['f:q@6=c', 'f:q@4=a']);
  });

  it('a family tombstone masks older versions of the empty qualifier, not newer ones', () => {
    const c = new Case();
    c.put(f, none, 9, 'new');
    c.put(f, none, 3, 'old');
    c.put(f, q, 3, 'other');
    c.put(f, q, 8, 'survives');
    c.put(g, q, 1, 'other family');
    c.del(Kind.DeleteFamily, f, none, 7);
    expect(c.read()).toEqual(['f:@9=new', 'f:q@8=survives', 'g:q@1=other family']);
  });

  it('a row tombstone masks every family, selected or not', () => {
    const c = new Case();
    c.put(f, q, 1, 'a');
    c.put(g, q, 2, 'b');
    c.put(g, q, 3, 'c');
    c.del(Kind.DeleteRow, none, none, 2);
    expect(c.read()).toEqual(['g:q@3=c']);
    expect(c.read({ families: [g] })).toEqual(['g:q@3=c']);
    expect(c.read({ columns: [{ family: f, qualifier: q }] })).toEqual([]);
  });

  it("an excluded family's tombstone does not leak into the next family", () => {
    const c = new Case();
    c.del(Kind.DeleteFamily, f, none, 9);
    c.put(g, none, 1, 'kept');
    c.put(f, q, 1, 'masked');
    expect(c.read({ families: [g] })).toEqual(['g:@1=kept']);
    // A column selection inside f still sees f's family tombstone.
    expect(c.read({ columns: [{ family: f, qualifier: q }] })).toEqual([]);
    expect(c.read({ columns: [{ family: g, qualifier: none }] })).toEqual(['g:@1=kept']);
  });

  it('the newest seq of a version wins, even when a newer snapshot hides it', () => {
    const c = new Case();
    c.put(f, q, 5, 'first');
    const s = c.put(f, q, 5, 'second');
    c.put(f, q, 5, 'third');
    expect(c.read({ snapshotSeq: s })).toEqual(['f:q@5=second']);
    expect(c.read()).toEqual(['f:q@5=third']);
  });

  it('expires puts by TTL', () => {
    const c = new Case().family(f, { ttlMicros: 10 });
    c.put(f, q, 100, 'a');
    c.put(f, q, 95, 'b');
    c.put(g, q, 1, 'no ttl');
    expect(c.read({ now: 104 })).toEqual(['f:q@100=a', 'f:q@95=b', 'g:q@1=no ttl']);
    expect(c.read({ now: 105 })).toEqual(['f:q@100=a', 'g:q@1=no ttl']);
    expect(c.read({ now: 110 })).toEqual(['g:q@1=no ttl']);
  });

  it('keeps the newest family.maxVersions survivors, counted before the time range', () => {
    const c = new Case().family(f, { maxVersions: 2 });
    for (let ts = 1; ts <= 5; ts++) c.put(f, q, ts, `v${ts}`);
    c.del(Kind.DeleteVersion, f, q, 5);
    expect(c.read()).toEqual(['f:q@4=v4', 'f:q@3=v3']);
    expect(c.read({ maxVersions: 1 })).toEqual(['f:q@4=v4']);
    // The family keeps 4 and 3; a range below them finds nothing (v2 is beyond the limit).
    expect(c.read({ maxTimestamp: 3 })).toEqual([]);
    expect(c.read({ maxTimestamp: 4 })).toEqual(['f:q@3=v3']);
    expect(c.read({ minTimestamp: 4 })).toEqual(['f:q@4=v4']);
  });

  it("counts a read's maxVersions within its time range", () => {
    const c = new Case();
    for (let ts = 1; ts <= 5; ts++) c.put(f, q, ts, `v${ts}`);
    expect(c.read({ maxTimestamp: 4, maxVersions: 2 })).toEqual(['f:q@3=v3', 'f:q@2=v2']);
    expect(c.read({ minTimestamp: 2, maxTimestamp: 4 })).toEqual(['f:q@3=v3', 'f:q@2=v2']);
  });

  it('handles the extreme timestamps', () => {
    const c = new Case();
    c.put(f, q, maxTimestamp, 'max');
    c.put(f, q, 0, 'zero');
    expect(c.read()).toEqual([`f:q@${maxTimestamp}=max`, 'f:q@0=zero']);
    c.del(Kind.DeleteColumn, f, q, maxTimestamp);
    expect(c.read()).toEqual([]);
  });

  it('rejects a read maxVersions below 1', () => {
    expect(
      () => new RowResolver({ snapshotSeq: 1, now: 0, maxVersions: 0 }, () => defaultFamilyOptions),
    ).toThrow(/maxVersions/);
  });

  it('copies a value out of a buffer over 64 KiB, unless asked for views', () => {
    const big = new Uint8Array(1 << 17);
    big.set(utf8('value'), 1000);
    const value = big.subarray(1000, 1005);
    const key = internalKey(
      encodeCellKey({ row: r1, family: f, qualifier: q, timestamp: 5, kind: Kind.Put }),
      1,
    );
    for (const valueViews of [false, true]) {
      const resolver = new RowResolver(
        { snapshotSeq: 10, now: 0, valueViews },
        () => defaultFamilyOptions,
      );
      resolver.add(key, value);
      const [cell] = resolver.cells();
      expect(fromUtf8(cell!.value)).toBe('value');
      expect(cell!.value.buffer === big.buffer).toBe(valueViews);
    }
  });

  it('agrees with the reference model on random workloads', () => {
    let cellsCompared = 0;
    for (let seed = 0; seed < 300; seed++) {
      const p = new Prng(seed);
      const w = randomWorkload(p, p.between(1, 60));
      const entries = w.model.entries();
      for (let read = 0; read < 12; read++) {
        const options = randomReadOptions(p, w, p.int(w.maxSeq + 2), p.int(14));
        const expected = modelRows(w.model, options, w.lookup);
        const got = resolveRows(entries, options, w.lookup);
        expect(got, `seed ${seed} read ${read} ${JSON.stringify(options)}`).toEqual(expected);
        for (const cells of expected.values()) cellsCompared += cells.length;
      }
    }
    expect(cellsCompared).toBeGreaterThan(3000);
  });

  it('agrees with ModelStore.scanRows', () => {
    for (let seed = 0; seed < 50; seed++) {
      const p = new Prng(1000 + seed);
      const w = randomWorkload(p, 40);
      const options: ReadOptions = { snapshotSeq: w.maxSeq, now: p.int(14) };
      const scanned = w.model.scanRows(options, w.lookup);
      const resolved = [...resolveRows(w.model.entries(), options, w.lookup).values()].filter(
        (cells) => cells.length > 0,
      );
      expect(resolved).toEqual(scanned.map((r) => formatCells(r.cells)));
    }
  });
});
