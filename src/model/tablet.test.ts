import { afterEach, describe, expect, it } from 'vitest';
import { makeTempRoot, realEnv, removeTempRoot } from '../env/real/index.js';
import { SimWorld } from '../env/sim/index.js';
import type { Env } from '../env/types.js';
import type { Cell } from '../storage/index.js';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { isTesseraError } from '../util/errors.js';
import { Mutation } from './mutation.js';
import type { ScanSpec } from './read-spec.js';
import { tableSchema, type TableSchema } from './schema.js';
import { decodeInt64, encodeInt64, Tablet, type TabletOptions } from './tablet.js';
import { codeOf } from '../util/testing/code-of.js';

const schema = tableSchema({
  name: 'users',
  families: [{ name: 'f', maxVersions: 3 }, { name: 'g' }],
});

let roots: string[] = [];
let tablets: Tablet[] = [];
afterEach(async () => {
  for (const t of tablets) await t.close();
  for (const r of roots) removeTempRoot(r);
  roots = [];
  tablets = [];
});

function env(): Env {
  const root = makeTempRoot('tessera-tablet-');
  roots.push(root);
  return realEnv({ name: 'tablet-test', root, seed: 1 });
}

async function open(
  options: Partial<TabletOptions> = {},
  s: TableSchema = schema,
): Promise<Tablet> {
  const t = await Tablet.open(env(), {
    schema: s,
    dir: 'tablet',
    ...options,
  });
  tablets.push(t);
  return t;
}

const show = (cells: readonly Cell[]): string[] =>
  cells.map((c) => `${fromUtf8(c.family)}:${fromUtf8(c.qualifier)}=${fromUtf8(c.value)}`);

async function rows(t: Tablet, spec: ScanSpec = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const r of t.scan(spec)) out.push(`${fromUtf8(r.row)} ${show(r.cells).join(',')}`);
  return out;
}

describe('Tablet writes and reads', () => {
  it('puts a row atomically with one server timestamp and gets it back', async () => {
    const t = await open();
    const { timestamp } = await t.put(new Mutation('r1').put('f', 'a', '1').put('g', 'b', '2'));
    const cells = await t.get('r1');
    expect(show(cells)).toEqual(['f:a=1', 'g:b=2']);
    expect(cells.map((c) => c.timestamp)).toEqual([timestamp, timestamp]);
    expect(await t.get('missing')).toEqual([]);
  });

  it('assigns increasing timestamps so a put right after a delete survives', async () => {
    const t = await open();
    let last = 0;
    for (let i = 0; i < 20; i++) {
      const a = await t.delete(new Mutation('r').deleteColumn('f', 'a'));
      const b = await t.put(new Mutation('r').put('f', 'a', `v${i}`));
      expect(a.timestamp).toBeGreaterThan(last);
      expect(b.timestamp).toBeGreaterThan(a.timestamp);
      last = b.timestamp;
      expect(show(await t.get('r'))).toEqual([`f:a=v${i}`]);
    }
  });

  it('reads versions, columns, families and time ranges', async () => {
    const t = await open();
    for (const ts of [10, 20, 30, 40]) {
      await t.put(new Mutation('r').put('f', 'a', `a${ts}`, ts).put('g', 'b', `b${ts}`, ts));
    }
    expect(show(await t.get('r'))).toEqual(['f:a=a40', 'g:b=b40']);
    // Family f keeps 3 versions, g keeps 1.
    expect(show(await t.get('r', { maxVersions: 10 }))).toEqual([
      'f:a=a40',
      'f:a=a30',
      'f:a=a20',
      'g:b=b40',
    ]);
    expect(show(await t.get('r', { families: ['g'] }))).toEqual(['g:b=b40']);
    expect(show(await t.get('r', { columns: [{ family: 'f', qualifier: 'a' }] }))).toEqual([
      'f:a=a40',
    ]);
    expect(
      show(await t.get('r', { families: ['f'], maxVersions: 5, timeRange: { min: 20, max: 40 } })),
    ).toEqual(['f:a=a30', 'f:a=a20']);
    expect(await codeOf(t.get('r', { families: ['nope'] }))).toBe('INVALID_ARGUMENT');
  });

  it('deletes a version, a column, a family and a row', async () => {
    const t = await open();
    await t.put(new Mutation('r').put('f', 'a', 'old', 5).put('f', 'a', 'new', 6));
    await t.put(new Mutation('r').put('f', 'b', 'b').put('g', 'c', 'c'));
    await t.delete(new Mutation('r').deleteVersion('f', 'a', 6));
    expect(show(await t.get('r'))).toEqual(['f:a=old', 'f:b=b', 'g:c=c']);
    await t.delete(new Mutation('r').deleteColumn('f', 'a'));
    expect(show(await t.get('r'))).toEqual(['f:b=b', 'g:c=c']);
    await t.delete(new Mutation('r').deleteFamily('f'));
    expect(show(await t.get('r'))).toEqual(['g:c=c']);
    await t.put(new Mutation('r').put('f', 'z', 'back'));
    expect(show(await t.get('r'))).toEqual(['f:z=back', 'g:c=c']);
    await t.delete(new Mutation('r').deleteRow());
    expect(await t.get('r')).toEqual([]);
    await t.put(new Mutation('r').put('g', 'c', 'again'));
    expect(show(await t.get('r'))).toEqual(['g:c=again']);
  });

  it('rejects mutations over the limits, naming the limit', async () => {
    const t = await open({ limits: { valueBytesMax: 4 } });
    const err = await t.put(new Mutation('r').put('f', 'a', '12345')).catch((e: unknown) => e);
    expect(isTesseraError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toContain('valueBytesMax = 4');
    expect(await codeOf(t.put(new Mutation('r').put('x', 'a', '1')))).toBe('INVALID_ARGUMENT');
  });
});

describe('Tablet scans', () => {
  async function filled(): Promise<Tablet> {
    const t = await open();
    for (const r of ['a', 'ab', 'abc', 'b', 'ba', 'c']) {
      await t.put(new Mutation(r).put('f', 'q', r).put('g', 'n', `${r.length}`));
    }
    await t.put(new Mutation(new Uint8Array([0xff])).put('f', 'q', 'ff'));
    await t.put(new Mutation(new Uint8Array([0xff, 0xff])).put('f', 'q', 'ffff'));
    return t;
  }

  it('scans ranges and prefixes in key order', async () => {
    const t = await filled();
    const keys = async (spec: ScanSpec): Promise<string[]> => {
      const out: string[] = [];
      for await (const r of t.scan(spec)) out.push(Buffer.from(r.row).toString('hex'));
      return out;
    };
    const hex = (...ks: string[]): string[] => ks.map((k) => Buffer.from(k).toString('hex'));
    expect(await keys({})).toEqual([...hex('a', 'ab', 'abc', 'b', 'ba', 'c'), 'ff', 'ffff']);
    expect(await keys({ startRow: 'ab', stopRow: 'ba' })).toEqual(hex('ab', 'abc', 'b'));
    expect(await keys({ prefix: 'a' })).toEqual(hex('a', 'ab', 'abc'));
    expect(await keys({ prefix: 'ab', startRow: 'abb' })).toEqual(hex('abc'));
    expect(await keys({ prefix: new Uint8Array([0xff]) })).toEqual(['ff', 'ffff']);
    expect(await keys({ prefix: new Uint8Array([0xff, 0xff]) })).toEqual(['ffff']);
    expect(await keys({ prefix: 'z' })).toEqual([]);
    expect(await keys({ limit: 2, batchSize: 1 })).toEqual(hex('a', 'ab'));
  });

  it('honours columns and filters, with the limit counted after filtering', async () => {
    const t = await filled();
    expect(await rows(t, { families: ['g'], prefix: 'b' })).toEqual(['b g:n=1', 'ba g:n=2']);
    const twoChars = {
      kind: 'valueCompare',
      op: 'eq',
      family: 'g',
      qualifier: utf8('n'),
      value: utf8('2'),
      filterIfMissing: true,
    } as const;
    expect(await rows(t, { filter: twoChars })).toEqual(['ab f:q=ab,g:n=2', 'ba f:q=ba,g:n=2']);
    expect(await rows(t, { filter: twoChars, limit: 1 })).toEqual(['ab f:q=ab,g:n=2']);
    // The filter's column is read even when only f is selected, then dropped.
    expect(await rows(t, { families: ['f'], filter: twoChars })).toEqual([
      'ab f:q=ab',
      'ba f:q=ba',
    ]);
    expect(show(await t.get('ab', { families: ['f'], filter: twoChars }))).toEqual(['f:q=ab']);
    expect(await t.get('a', { filter: twoChars })).toEqual([]);
  });
});

describe('Tablet read-modify-write', () => {
  it('checkAndMutate compares the newest value or checks absence', async () => {
    const t = await open();
    const cond = { family: 'f', qualifier: 'q' } as const;
    expect(
      await t.checkAndMutate(
        'r',
        { ...cond, op: 'eq', value: 'x' },
        new Mutation('r').put('f', 'q', 'y'),
      ),
    ).toBe(false);
    expect(
      await t.checkAndMutate('r', { ...cond, absent: true }, new Mutation('r').put('f', 'q', 'x')),
    ).toBe(true);
    expect(
      await t.checkAndMutate('r', { ...cond, absent: true }, new Mutation('r').put('f', 'q', 'z')),
    ).toBe(false);
    expect(
      await t.checkAndMutate(
        'r',
        { ...cond, op: 'eq', value: 'x' },
        new Mutation('r').put('f', 'q', 'y'),
      ),
    ).toBe(true);
    expect(
      await t.checkAndMutate('r', { ...cond, op: 'gt', value: 'x' }, new Mutation('r').deleteRow()),
    ).toBe(true);
    expect(await t.get('r')).toEqual([]);
    expect(
      await codeOf(
        t.checkAndMutate('r', { ...cond, absent: true }, new Mutation('other').put('f', 'q', 'x')),
      ),
    ).toBe('INVALID_ARGUMENT');
  });

  it('lets exactly one of many concurrent CAS clients win each step: 20 CAS increments end at 20', async () => {
    const t = await open();
    await t.put(new Mutation('counter').put('f', 'n', encodeInt64(0n)));
    const client = async (): Promise<number> => {
      let attempts = 0;
      for (;;) {
        attempts++;
        const [cell] = await t.get('counter', { columns: [{ family: 'f', qualifier: 'n' }] });
        const seen = cell!.value;
        const next = encodeInt64(decodeInt64(seen) + 1n);
        const won = await t.checkAndMutate(
          'counter',
          { family: 'f', qualifier: 'n', op: 'eq', value: seen },
          new Mutation('counter').put('f', 'n', next),
        );
        if (won) return attempts;
      }
    };
    const attempts = await Promise.all(Array.from({ length: 20 }, client));
    const [cell] = await t.get('counter');
    expect(decodeInt64(cell!.value)).toBe(20n);
    expect(attempts.reduce((a, b) => a + b, 0)).toBeGreaterThan(20); // there was contention

    // Many clients racing for one expected value: exactly one wins.
    await t.put(new Mutation('lock').put('f', 'owner', 'none'));
    const wins = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        t.checkAndMutate(
          'lock',
          { family: 'f', qualifier: 'owner', op: 'eq', value: 'none' },
          new Mutation('lock').put('f', 'owner', `c${i}`),
        ),
      ),
    );
    expect(wins.filter((w) => w)).toHaveLength(1);
    const winner = wins.indexOf(true);
    expect(show(await t.get('lock'))).toEqual([`f:owner=c${winner}`]);
  });

  it('increments 8-byte big-endian counters and rejects other values', async () => {
    const t = await open();
    expect(await t.increment('r', 'f', 'n', 5)).toBe(5n);
    expect(await t.increment('r', 'f', 'n', -7n)).toBe(-2n);
    const [cell] = await t.get('r');
    expect([...cell!.value]).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
    const results = await Promise.all(
      Array.from({ length: 30 }, () => t.increment('r', 'f', 'n', 1)),
    );
    expect(new Set(results).size).toBe(30);
    expect(decodeInt64((await t.get('r'))[0]!.value)).toBe(28n);
    expect(await t.increment('r', 'f', 'big', 2n ** 63n - 1n)).toBe(2n ** 63n - 1n);
    expect(await t.increment('r', 'f', 'big', 1)).toBe(-(2n ** 63n)); // wraps as a Java long
    await t.put(new Mutation('r').put('f', 's', 'abc'));
    expect(await codeOf(t.increment('r', 'f', 's', 1))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(t.increment('r', 'f', 'n', 0.5))).toBe('INVALID_ARGUMENT');
  });

  it('appends bytes, concurrently without losing any', async () => {
    const t = await open();
    expect(fromUtf8(await t.append('r', 'f', 'log', 'a'))).toBe('a');
    expect(fromUtf8(await t.append('r', 'f', 'log', 'bc'))).toBe('abc');
    await Promise.all(Array.from({ length: 10 }, () => t.append('r', 'f', 'log', 'x')));
    expect(show(await t.get('r'))).toEqual(['f:log=abcxxxxxxxxxx']);
  });

  it('batches: each row atomic, the batch not, results in order', async () => {
    const t = await open({ startRow: 'a', endRow: 'm' });
    const results = await t.batch([
      new Mutation('b').put('f', 'q', '1').put('g', 'q', '2'),
      new Mutation('c').put('nope', 'q', 'x').put('f', 'q', 'x'),
      new Mutation('z').put('f', 'q', 'out of range'),
      new Mutation('d').put('f', 'q', '3'),
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      'ok',
      'INVALID_ARGUMENT',
      'NOT_SERVING',
      'ok',
    ]);
    expect(await rows(t, { startRow: 'a' })).toEqual(['b f:q=1,g:q=2', 'd f:q=3']); // c: nothing
    const limited = await open({ limits: { batchMutationsMax: 2 } });
    const m = (): Mutation => new Mutation('r').put('f', 'q', 'v');
    expect(await codeOf(limited.batch([m(), m(), m()]))).toBe('INVALID_ARGUMENT');
  });
});

describe('Tablet range', () => {
  it('serves only rows in [startRow, endRow) and refuses the rest with NOT_SERVING', async () => {
    const t = await open({ startRow: 'g', endRow: 'p' });
    expect(t.contains(utf8('g'))).toBe(true);
    expect(t.contains(utf8('ozzz'))).toBe(true);
    expect(t.contains(utf8('p'))).toBe(false);
    expect(t.contains(utf8('f'))).toBe(false);
    await t.put(new Mutation('h').put('f', 'q', 'v'));
    const m = new Mutation('p').put('f', 'q', 'v');
    expect(await codeOf(t.put(m))).toBe('NOT_SERVING');
    expect(await codeOf(t.get('a'))).toBe('NOT_SERVING');
    expect(await codeOf(t.increment('z', 'f', 'n', 1))).toBe('NOT_SERVING');
    expect(await codeOf(t.append('z', 'f', 'n', 'x'))).toBe('NOT_SERVING');
    expect(
      await codeOf(t.checkAndMutate('z', { family: 'f', qualifier: 'q', absent: true }, m)),
    ).toBe('NOT_SERVING');
    expect(await codeOf(rows(t))).toBe('NOT_SERVING'); // the range starts before the tablet
    expect(await codeOf(rows(t, { startRow: 'q' }))).toBe('NOT_SERVING');
    expect(await rows(t, { startRow: 'g' })).toEqual(['h f:q=v']);
    expect(await rows(t, { startRow: 'g', stopRow: 'zzz' })).toEqual(['h f:q=v']);
    await expect(
      Tablet.open(env(), { schema, dir: 'x', startRow: 'b', endRow: 'a' }),
    ).rejects.toThrow(/tablet range is empty/);
    await t.close();
    expect(await codeOf(t.get('h'))).toBe('NOT_SERVING');
  });

  it('clips a scan at the tablet end and keeps its data across reopen', async () => {
    const e = env();
    const first = await Tablet.open(e, { schema, dir: 'tab', endRow: 'm' });
    await first.put(new Mutation('a').put('f', 'q', '1'));
    await first.close();
    const again = await Tablet.open(e, { schema, dir: 'tab', endRow: 'm' });
    tablets.push(again);
    expect(await rows(again)).toEqual(['a f:q=1']);
  });
});

describe('Tablet in the simulator', () => {
  it('orders blind writes and read-modify-writes of one row: increments see every put before them', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const world = new SimWorld({ seed });
      const node = world.addNode('n1');
      const settle = <T>(p: Promise<T>): Promise<T> => world.settle(p, { timeoutMs: 60_000 });
      const t = await settle(Tablet.open(node.env, { schema, dir: '/t' }));
      // Puts reset the counter to a base; increments add 1. Issued together, without waiting,
      // each increment must see the newest put or increment issued before it, so the counter
      // after each operation is known from the order alone.
      const ops: Promise<bigint | undefined>[] = [];
      const expected: bigint[] = [];
      let n = 0n;
      const prng = world.random.fork();
      for (let i = 0; i < 60; i++) {
        if (prng.chance(0.4)) {
          n = BigInt(prng.int(1000)) * 1000n;
          const base = n;
          ops.push(t.put(new Mutation('c').put('f', 'n', encodeInt64(base))).then(() => undefined));
        } else {
          n += 1n;
          ops.push(t.increment('c', 'f', 'n', 1));
        }
        expected.push(n);
      }
      const results = await settle(Promise.all(ops));
      results.forEach((r, i) => {
        if (r !== undefined) expect(r).toBe(expected[i]);
      });
      const cells = await settle(t.get('c'));
      expect(decodeInt64(cells[0]!.value)).toBe(n);
      await settle(t.close());
    }
  });

  it('CAS counter with 20 concurrent clients ends at exactly 20, deterministically', async () => {
    const runOnce = async (seed: number): Promise<string> => {
      const world = new SimWorld({ seed });
      const node = world.addNode('n1');
      const settle = <T>(p: Promise<T>): Promise<T> => world.settle(p, { timeoutMs: 60_000 });
      const t = await settle(Tablet.open(node.env, { schema, dir: '/t' }));
      const client = async (): Promise<void> => {
        for (;;) {
          const cells = await t.get('c');
          const seen = cells[0]?.value;
          const n = seen === undefined ? 0n : decodeInt64(seen);
          const cond =
            seen === undefined
              ? ({ family: 'f', qualifier: 'n', absent: true } as const)
              : ({ family: 'f', qualifier: 'n', op: 'eq', value: seen } as const);
          if (
            await t.checkAndMutate('c', cond, new Mutation('c').put('f', 'n', encodeInt64(n + 1n)))
          ) {
            return;
          }
        }
      };
      await settle(Promise.all(Array.from({ length: 20 }, client)));
      const cells = await settle(t.get('c', { maxVersions: 3 }));
      await settle(t.close());
      expect(decodeInt64(cells[0]!.value)).toBe(20n);
      return cells.map((c) => `${c.timestamp}`).join(',') + world.digest();
    };
    expect(await runOnce(7)).toBe(await runOnce(7));
  });
});
