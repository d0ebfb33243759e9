/**
 * Raw rows merged from replicas resolve to what one store holding every write answers.
 *
 * Each seed writes random puts and deletes; every write goes to a reference store and to a
 * random non-empty subset of three replica stores (as a coordinator's writes reach some
 * replicas and not others), with flushes in between so entries come from memtables and
 * SSTables alike. Then, for every row and random read options, resolving the union of the
 * replicas' raw rows must give exactly the reference store's get — when every write reached at
 * least one replica. Put timestamps are unique (two puts of one cell at one timestamp with
 * different values resolve by write order in one store and by value across stores, on
 * purpose); delete timestamps often equal a put's, so deletes winning ties is exercised.
 */
import { describe, expect, it } from 'vitest';
import { SimWorld } from '../env/sim/index.js';
import { toHex, utf8 } from '../util/bytes.js';
import { defaultFamilyOptions, type FamilyOptionsLookup } from './family-options.js';
import { Kind } from './key.js';
import { rawRowEntriesMax, resolveRawEntries, type RawEntry } from './raw-row.js';
import type { Cell } from './row-resolver.js';
import { Store } from './store.js';
import { WriteBatch } from './write-batch.js';

/**
 * Tombstones outlive the test (Cassandra's gc_grace): a replica whose compaction dropped a
 * tombstone and the puts it masked, beside a replica that never got the tombstone, would bring
 * the puts back. (With a grace of 0 this test fails for that reason.)
 */
const tombstoneGraceMicros = 3600e6;
const lookup: FamilyOptionsLookup = () => ({ ...defaultFamilyOptions, maxVersions: 1_000 });
const rows = ['a', 'b', 'c'].map(utf8);
const families = ['f', 'g'].map(utf8);
const qualifiers = ['', 'x', 'y'].map(utf8);

function show(cells: readonly Cell[]): string[] {
  return cells.map(
    (c) => `${toHex(c.family)}:${toHex(c.qualifier)}@${c.timestamp}=${toHex(c.value)}`,
  );
}

function showRaw(entries: readonly RawEntry[]): string {
  return entries
    .map(
      (e) => `${toHex(e.family)}:${toHex(e.qualifier)}@${e.timestamp}/${e.kind}=${toHex(e.value)}`,
    )
    .join(',');
}

describe('raw rows', () => {
  for (let seed = 1; seed <= 12; seed++) {
    it(`merged replicas resolve like one store while tombstones are kept (seed ${seed})`, async () => {
      const world = new SimWorld({ seed });
      const env = world.addNode('n1').env;
      const p = world.random;
      const open = (dir: string) =>
        world.settle(
          Store.open(env, {
            dir,
            familyOptions: lookup,
            memtableBytes: 4096,
            tombstoneGraceMicros,
          }),
        );
      const all = await open('/all');
      const replicas = [await open('/r0'), await open('/r1'), await open('/r2')];
      const base = env.clock.nowMicros();
      const putTimes: number[] = [];
      for (let i = 0; i < 300; i++) {
        const row = p.pick(rows);
        const family = p.pick(families);
        const qualifier = p.pick(qualifiers);
        // A batch belongs to the store it is written to: each store gets its own.
        const r = p.float();
        const delTs = () =>
          putTimes.length > 0 && p.chance(0.6) ? p.pick(putTimes) : base + p.int(400);
        let fill: (b: WriteBatch) => WriteBatch;
        if (r < 0.6) {
          const ts = base + i;
          const value = p.bytes(p.int(6));
          putTimes.push(ts);
          fill = (b) => b.put(row, family, qualifier, ts, value);
        } else {
          const ts = delTs();
          if (r < 0.75) fill = (b) => b.deleteVersion(row, family, qualifier, ts);
          else if (r < 0.87) fill = (b) => b.deleteColumn(row, family, qualifier, ts);
          else if (r < 0.95) fill = (b) => b.deleteFamily(row, family, ts);
          else fill = (b) => b.deleteRow(row, ts);
        }
        await world.settle(all.write(fill(new WriteBatch())));
        const targets = replicas.filter(() => p.chance(0.5));
        if (targets.length === 0) targets.push(p.pick(replicas));
        for (const s of targets) await world.settle(s.write(fill(new WriteBatch())));
        if (p.chance(0.03)) await world.settle(p.pick(replicas).flush());
      }
      for (const row of rows) {
        const raw: RawEntry[] = [];
        for (const s of replicas) raw.push(...(await world.settle(s.rawRow(row))));
        for (let k = 0; k < 5; k++) {
          const opts = {
            maxVersions: p.between(1, 4),
            ...(p.chance(0.3) ? { families: [p.pick(families)] } : {}),
            ...(p.chance(0.3) ? { minTimestamp: base + p.int(300) } : {}),
          };
          const want = await world.settle(all.get(row, opts));
          const got = resolveRawEntries(row, raw, { ...opts, now: env.clock.nowMicros() }, lookup);
          expect(show(got)).toEqual(show(want));
        }
      }
      // A raw scan gives each row exactly its raw row, rows holding only tombstones included.
      for (const s of replicas) {
        const scanned: string[] = [];
        const gen = s.rawScanBatches({ batchRows: 2 });
        for (;;) {
          const step = await world.settle(gen.next());
          if (step.done === true) break;
          for (const r of step.value) scanned.push(`${toHex(r.row)}=${showRaw(r.entries)}`);
        }
        const want: string[] = [];
        for (const row of rows) {
          const raw = await world.settle(s.rawRow(row));
          if (raw.length > 0) want.push(`${toHex(row)}=${showRaw(raw)}`);
        }
        expect(scanned).toEqual(want);
      }
      for (const s of [all, ...replicas]) await world.settle(s.close());
    });
  }

  it('a raw row carries tombstones, which a get hides', async () => {
    const world = new SimWorld({ seed: 7 });
    const env = world.addNode('n1').env;
    const s = await world.settle(Store.open(env, { dir: '/s', familyOptions: lookup }));
    const [row, f, q] = [utf8('r'), utf8('f'), utf8('q')];
    await world.settle(s.write(new WriteBatch().put(row, f, q, 10, utf8('v'))));
    await world.settle(s.write(new WriteBatch().deleteColumn(row, f, q, 20)));
    expect(await world.settle(s.get(row))).toEqual([]);
    const raw = await world.settle(s.rawRow(row));
    expect(raw.map((e) => [e.kind, e.timestamp])).toEqual([
      [Kind.DeleteColumn, 20],
      [Kind.Put, 10],
    ]);
    // A replica that missed the delete still answers the put; the merge keeps it hidden.
    const stale: RawEntry = {
      family: f,
      qualifier: q,
      timestamp: 10,
      kind: Kind.Put,
      value: utf8('v'),
    };
    expect(resolveRawEntries(row, [stale, ...raw], { now: 0 }, lookup)).toEqual([]);
    expect(rawRowEntriesMax).toBeGreaterThan(1000);
    await world.settle(s.close());
  });

  it('equal puts from two replicas resolve to the greater value, whatever their order', () => {
    const [row, f, q] = [utf8('r'), utf8('f'), utf8('q')];
    const put = (v: string): RawEntry => ({
      family: f,
      qualifier: q,
      timestamp: 5,
      kind: Kind.Put,
      value: utf8(v),
    });
    for (const order of [
      [put('a'), put('b')],
      [put('b'), put('a')],
    ]) {
      const cells = resolveRawEntries(row, order, { now: 0 }, lookup);
      expect(cells.map((c) => c.value)).toEqual([utf8('b')]);
    }
  });
});
