import { afterEach, describe, expect, it } from 'vitest';
import { makeTempRoot, realEnv, removeTempRoot } from '../env/real/index.js';
import { SimWorld } from '../env/sim/index.js';
import type { Env } from '../env/types.js';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { isTesseraError, TesseraError } from '../util/errors.js';
import { Prng } from '../util/prng.js';
import { Database } from './database.js';
import {
  filterDepthMax,
  scanBatchRowsDefault,
  scannerLeaseMs,
  scannersMax,
  TableDispatcher,
} from './table-dispatch.js';
import {
  cellsFromWire,
  TABLE_METHODS,
  type TableMethod,
  type WireMutation,
  type WireRow,
} from './table-protocol.js';

let roots: string[] = [];
let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups) await c();
  for (const r of roots) removeTempRoot(r);
  roots = [];
  cleanups = [];
});

function env(): Env {
  const root = makeTempRoot('tessera-dispatch-');
  roots.push(root);
  return realEnv({ name: 'dispatch-test', root, seed: 1 });
}

async function setup(): Promise<{ d: TableDispatcher; db: Database; e: Env }> {
  const e = env();
  const db = await Database.open(e, { dir: 'data' });
  const d = new TableDispatcher(e, db);
  cleanups.push(async () => {
    await d.close();
    await db.close();
  });
  await d.call('table.create', {
    spec: { name: 't', families: [{ name: 'f', maxVersions: 3 }, { name: 'g' }] },
  });
  return { d, db, e };
}

/** Calls with an untyped request, as a remote peer could. */
function raw(d: TableDispatcher, method: string, request: unknown): Promise<unknown> {
  return d.call(method as TableMethod, request as never);
}

async function failure(p: Promise<unknown>): Promise<TesseraError | 'ok'> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (!(err instanceof TesseraError)) throw err;
    return err;
  }
}

const b = utf8;
const put = (row: string, q: string, v: string): WireMutation => ({
  row: b(row),
  ops: [{ type: 'put', family: 'f', qualifier: b(q), value: b(v) }],
});
const names = (rows: readonly WireRow[]) => rows.map((r) => fromUtf8(r.row));

describe('TableDispatcher operations', () => {
  it('runs every method and converts results to wire shapes', async () => {
    const { d } = await setup();
    expect((await d.call('table.list', {})).tables).toEqual(['t']);
    expect((await d.call('table.describe', { table: 't' })).schema.families).toHaveLength(2);
    const { timestamp } = await d.call('table.mutate', {
      table: 't',
      mutation: put('r1', 'a', 'x'),
    });
    expect(Number.isSafeInteger(timestamp)).toBe(true);
    const got = await d.call('table.get', { table: 't', row: b('r1') });
    expect(got.cells).toEqual(['f', b('a'), timestamp, b('x')]); // four items per cell
    expect(cellsFromWire(got.cells)).toEqual([
      { family: 'f', qualifier: b('a'), timestamp, value: b('x') },
    ]);
    expect(
      (
        await d.call('table.checkAndMutate', {
          table: 't',
          condition: { family: 'f', qualifier: b('a'), op: 'eq', value: b('nope') },
          mutation: put('r1', 'a', 'y'),
        })
      ).applied,
    ).toBe(false);
    expect(
      (
        await d.call('table.checkAndMutate', {
          table: 't',
          condition: { family: 'f', qualifier: b('z'), absent: true },
          mutation: put('r1', 'z', 'new'),
        })
      ).applied,
    ).toBe(true);
    expect(
      (
        await d.call('table.increment', {
          table: 't',
          row: b('c'),
          family: 'g',
          qualifier: b('n'),
          delta: 5n,
        })
      ).value,
    ).toBe(5n);
    expect(
      (
        await d.call('table.increment', {
          table: 't',
          row: b('c'),
          family: 'g',
          qualifier: b('n'),
          delta: -7,
        })
      ).value,
    ).toBe(-2n);
    const app = await d.call('table.append', {
      table: 't',
      row: b('r1'),
      family: 'f',
      qualifier: b('a'),
      value: b('yz'),
    });
    expect(fromUtf8(app.value)).toBe('xyz');
    const batch = await d.call('table.batch', {
      table: 't',
      mutations: [
        put('b1', 'q', '1'),
        { row: b('b2'), ops: [{ type: 'put', family: 'nope', qualifier: b('q'), value: b('') }] },
        put('b3', 'q', '3'),
      ],
    });
    expect(batch.results.map((r) => (r.ok ? 'ok' : r.code))).toEqual([
      'ok',
      'INVALID_ARGUMENT',
      'ok',
    ]);
    const filtered = await d.call('table.get', {
      table: 't',
      row: b('r1'),
      spec: { families: ['f'], maxVersions: 3, filter: { kind: 'columnPrefix', prefix: b('a') } },
    });
    expect(cellsFromWire(filtered.cells).map((c) => fromUtf8(c.value))).toEqual(['xyz', 'x']);
    await d.call('table.mutate', {
      table: 't',
      mutation: { row: b('r1'), ops: [{ type: 'deleteRow' }] },
    });
    expect((await d.call('table.get', { table: 't', row: b('r1') })).cells).toEqual([]);
    await d.call('table.drop', { table: 't' });
    expect((await d.call('table.list', {})).tables).toEqual([]);
    const gone = await failure(d.call('table.get', { table: 't', row: b('r1') }));
    expect(gone !== 'ok' && gone.code).toBe('NOT_FOUND');
  });

  it('copies values out of the memtable for embedded callers, and not for the RPC server', async () => {
    const { d, db, e } = await setup();
    // 200 KiB of values: the memtable's value chunks double from 4 KiB, so the last row's
    // value lands in a chunk of 128 KiB.
    const big = 'v'.repeat(1024);
    for (let i = 0; i < 200; i++) {
      await d.call('table.mutate', { table: 't', mutation: put(`r${i}`, 'a', big) });
    }
    const last = { table: 't', row: b('r199') };
    const copied = cellsFromWire((await d.call('table.get', last)).cells);
    expect(fromUtf8(copied[0]!.value)).toBe(big);
    expect(copied[0]!.value.buffer.byteLength).toBeLessThanOrEqual(64 * 1024);
    const server = new TableDispatcher(e, db, { valueViews: true });
    const viewed = cellsFromWire((await server.call('table.get', last)).cells);
    expect(fromUtf8(viewed[0]!.value)).toBe(big);
    expect(viewed[0]!.value.buffer.byteLength).toBeGreaterThan(64 * 1024); // an arena chunk
    // Scans too, except the row a scanner reads ahead and keeps until the next call.
    const scanOf = async (dispatcher: TableDispatcher) => {
      const first = await dispatcher.call('table.scan', {
        table: 't',
        spec: { startRow: b('r198') },
        batchRows: 1,
      });
      const next = await dispatcher.call('table.scanNext', { scanner: first.scanner });
      await dispatcher.call('table.scanClose', { scanner: first.scanner });
      return [first.rows[0]!, next.rows[0]!].map((r) => cellsFromWire(r.cells)[0]!.value);
    };
    const [plain198, plain199] = await scanOf(d);
    expect(fromUtf8(plain199!)).toBe(big);
    expect(plain198!.buffer.byteLength).toBeLessThanOrEqual(64 * 1024);
    expect(plain199!.buffer.byteLength).toBeLessThanOrEqual(64 * 1024);
    const [view198, kept199] = await scanOf(server);
    expect(fromUtf8(view198!)).toBe(big);
    expect(fromUtf8(kept199!)).toBe(big);
    expect(view198!.buffer.byteLength).toBeGreaterThan(64 * 1024); // a view of the arena
    expect(kept199!.buffer.byteLength).toBe(kept199!.length); // read ahead: its own copy
    await server.close();
  });

  it('accepts nil for absent optional fields and bigint integers', async () => {
    const { d } = await setup();
    await raw(d, 'table.mutate', {
      table: 't',
      mutation: {
        row: b('r'),
        ops: [{ type: 'put', family: 'f', qualifier: b('q'), value: b('v'), timestamp: 10n }],
      },
    });
    const got = (await raw(d, 'table.get', {
      table: 't',
      row: b('r'),
      spec: { families: null, maxVersions: 2n, timeRange: { min: null, max: 11 }, filter: null },
    })) as { cells: unknown[] };
    expect(cellsFromWire(got.cells).map((c) => c.timestamp)).toEqual([10]);
    await raw(d, 'table.create', {
      spec: {
        name: 'u',
        families: [{ name: 'f', ttlSeconds: null, maxVersions: 2n }],
        placement: null,
      },
    });
    expect((await d.call('table.describe', { table: 'u' })).schema.families[0]?.maxVersions).toBe(
      2,
    );
    // Node Buffers (what msgpack decodes bin to) are not written into: Buffer.slice is a view.
    const prefix = Buffer.from('r');
    const scanned = (await raw(d, 'table.scan', { table: 't', spec: { prefix } })) as {
      rows: WireRow[];
    };
    expect(names(scanned.rows)).toEqual(['r']);
    expect(prefix.toString()).toBe('r');
  });

  it('scans across several batches with an exact done flag', async () => {
    const { d } = await setup();
    const mutations = Array.from({ length: 250 }, (_, i) =>
      put(`r${String(i).padStart(3, '0')}`, 'q', 'v'),
    );
    await d.call('table.batch', { table: 't', mutations });
    const first = await d.call('table.scan', { table: 't' });
    expect(first.rows).toHaveLength(scanBatchRowsDefault);
    expect(first.done).toBe(false);
    const seen = names(first.rows);
    for (;;) {
      const next = await d.call('table.scanNext', { scanner: first.scanner });
      seen.push(...names(next.rows));
      if (next.done) break;
    }
    expect(seen).toEqual(mutations.map((m) => fromUtf8(m.row)));
    expect(d.openScanners).toBe(0);
    const after = await failure(d.call('table.scanNext', { scanner: first.scanner }));
    expect(after !== 'ok' && after.message).toBe(`scanner ${first.scanner} expired or unknown`);

    // Exactly batchRows rows left: the batch that takes them says done.
    const exact = await d.call('table.scan', {
      table: 't',
      spec: { startRow: b('r200') },
      batchRows: 50,
    });
    expect([exact.rows.length, exact.done]).toEqual([50, true]);
    // Close releases; a limit and a prefix are honoured.
    const open = await d.call('table.scan', {
      table: 't',
      spec: { prefix: b('r1'), limit: 30 },
      batchRows: 20,
    });
    expect([open.rows.length, open.done, d.openScanners]).toEqual([20, false, 1]);
    await d.call('table.scanClose', { scanner: open.scanner });
    expect(d.openScanners).toBe(0);
    await d.call('table.scanClose', { scanner: open.scanner }); // twice: fine
  });

  it('drops scanners of a dropped table and refuses more than scannersMax', async () => {
    const { d } = await setup();
    await d.call('table.batch', {
      table: 't',
      mutations: [put('a', 'q', '1'), put('b', 'q', '2')],
    });
    const s = await d.call('table.scan', { table: 't', batchRows: 1 });
    expect(d.openScanners).toBe(1);
    await d.call('table.drop', { table: 't' });
    expect(d.openScanners).toBe(0);
    const e = await failure(d.call('table.scanNext', { scanner: s.scanner }));
    expect(e !== 'ok' && e.code).toBe('NOT_FOUND');

    await d.call('table.create', { spec: { name: 't', families: [{ name: 'f' }] } });
    await d.call('table.batch', {
      table: 't',
      mutations: [put('a', 'q', '1'), put('b', 'q', '2')],
    });
    for (let i = 0; i < scannersMax; i++) await d.call('table.scan', { table: 't', batchRows: 1 });
    const over = await failure(d.call('table.scan', { table: 't', batchRows: 1 }));
    expect(over !== 'ok' && over.code).toBe('OVERLOADED');
    await d.close();
    expect(d.openScanners).toBe(0);
    const closed = await failure(d.call('table.list', {}));
    expect(closed !== 'ok' && closed.code).toBe('SHUTTING_DOWN');
  });
});

describe('TableDispatcher input validation', () => {
  const row = b('r');
  const q = b('q');
  const nested = (depth: number): unknown =>
    depth === 0
      ? { kind: 'rowPrefix', prefix: row }
      : { kind: 'and', filters: [nested(depth - 1)] };
  // [method, request, text the INVALID_ARGUMENT message must contain]
  const cases: [string, unknown, string][] = [
    ['table.create', null, 'request'],
    ['table.create', {}, 'spec'],
    ['table.create', { spec: { name: 'x', families: 'f' } }, 'spec.families'],
    ['table.create', { spec: { name: 'x', families: [7] } }, 'spec.families[0]'],
    [
      'table.create',
      { spec: { name: 'x', families: [{ name: 'f', maxVersions: 'a' }] } },
      'maxVersions',
    ],
    ['table.create', { spec: { name: 7, families: [{ name: 'f' }] } }, 'table name'],
    [
      'table.create',
      { spec: { name: 'x', families: [{ name: 'f' }], placement: 3 } },
      'spec.placement',
    ],
    ['table.describe', {}, 'table'],
    ['table.describe', { table: 5 }, 'table'],
    ['table.describe', { table: 'x'.repeat(1000) }, 'table'],
    ['table.list', 5, 'request'],
    ['table.drop', { table: b('t') }, 'table'],
    ['table.mutate', { table: 't' }, 'mutation'],
    ['table.get', { table: 't', row, consistency: 'MOST' }, 'consistency'],
    ['table.mutate', { table: 't', consistency: 3, mutation: { row, ops: [] } }, 'consistency'],
    ['table.batch', { table: 't', consistency: 'quorum', mutations: [] }, 'consistency'],
    ['table.mutate', { table: 't', mutation: { row: 'r', ops: [] } }, 'mutation.row'],
    ['table.mutate', { table: 't', mutation: { row, ops: {} } }, 'mutation.ops'],
    ['table.mutate', { table: 't', mutation: { row, ops: [] } }, 'no puts or deletes'],
    [
      'table.mutate',
      { table: 't', mutation: { row, ops: [{ type: 'zap' }] } },
      'mutation.ops[0].type',
    ],
    [
      'table.mutate',
      {
        table: 't',
        mutation: { row, ops: [{ type: 'put', family: 'f', qualifier: 'q', value: q }] },
      },
      'mutation.ops[0].qualifier',
    ],
    [
      'table.mutate',
      {
        table: 't',
        mutation: { row, ops: [{ type: 'put', family: 'f', qualifier: q, value: [1] }] },
      },
      'mutation.ops[0].value',
    ],
    [
      'table.mutate',
      { table: 't', mutation: { row, ops: [{ type: 'put', family: 1, qualifier: q, value: q }] } },
      'mutation.ops[0].family',
    ],
    [
      'table.mutate',
      {
        table: 't',
        mutation: {
          row,
          ops: [{ type: 'put', family: 'f', qualifier: q, value: q, timestamp: 1.5 }],
        },
      },
      'mutation.ops[0].timestamp',
    ],
    [
      'table.mutate',
      {
        table: 't',
        mutation: {
          row,
          ops: [{ type: 'put', family: 'f', qualifier: q, value: q, timestamp: -1 }],
        },
      },
      'mutation.ops[0].timestamp',
    ],
    [
      'table.mutate',
      {
        table: 't',
        mutation: { row, ops: [{ type: 'deleteVersion', family: 'f', qualifier: q }] },
      },
      'mutation.ops[0].timestamp',
    ],
    [
      'table.mutate',
      { table: 't', mutation: { row, ops: [{ type: 'deleteRow', timestamp: 2n ** 60n }] } },
      'mutation.ops[0].timestamp',
    ],
    [
      'table.mutate',
      {
        table: 't',
        mutation: { row, ops: [{ type: 'put', family: 'nope', qualifier: q, value: q }] },
      },
      "no column family 'nope'",
    ],
    ['table.get', { table: 't' }, 'row'],
    ['table.get', { table: 't', row, spec: 5 }, 'spec'],
    ['table.get', { table: 't', row, spec: { families: [3] } }, 'spec.families[0]'],
    [
      'table.get',
      { table: 't', row, spec: { columns: [{ family: 'f', qualifier: 'q' }] } },
      'spec.columns[0].qualifier',
    ],
    ['table.get', { table: 't', row, spec: { maxVersions: 0 } }, 'spec.maxVersions'],
    ['table.get', { table: 't', row, spec: { timeRange: { min: 'a' } } }, 'spec.timeRange.min'],
    ['table.get', { table: 't', row, spec: { filter: { kind: 'nope' } } }, 'spec.filter.kind'],
    [
      'table.get',
      { table: 't', row, spec: { filter: { kind: 'and', filters: [{ kind: 'rowPrefix' }] } } },
      'spec.filter.filters[0].prefix',
    ],
    [
      'table.get',
      {
        table: 't',
        row,
        spec: { filter: { kind: 'valueCompare', op: 'like', family: 'f', qualifier: q, value: q } },
      },
      'spec.filter.op',
    ],
    [
      'table.get',
      {
        table: 't',
        row,
        spec: {
          filter: {
            kind: 'valueCompare',
            op: 'eq',
            family: 'f',
            qualifier: q,
            value: q,
            filterIfMissing: 1,
          },
        },
      },
      'spec.filter.filterIfMissing',
    ],
    ['table.get', { table: 't', row, spec: { filter: nested(filterDepthMax) } }, 'nest deeper'],
    [
      'table.get',
      {
        table: 't',
        row,
        spec: {
          filter: {
            kind: 'or',
            filters: Array.from({ length: 1001 }, () => ({ kind: 'rowPrefix', prefix: q })),
          },
        },
      },
      'more than 1000',
    ],
    ['table.scan', { table: 't', batchRows: 0 }, 'batchRows'],
    ['table.scan', { table: 't', batchRows: 10_001 }, 'batchRows'],
    ['table.scan', { table: 't', spec: { startRow: 'a' } }, 'spec.startRow'],
    ['table.scan', { table: 't', spec: { prefix: 1 } }, 'spec.prefix'],
    ['table.scan', { table: 't', spec: { limit: 0 } }, 'spec.limit'],
    ['table.scanNext', {}, 'scanner'],
    ['table.scanNext', { scanner: 'x' }, 'scanner'],
    ['table.scanClose', { scanner: -1 }, 'scanner'],
    ['table.checkAndMutate', { table: 't', mutation: put('r', 'q', 'v') }, 'condition'],
    [
      'table.checkAndMutate',
      {
        table: 't',
        condition: { family: 'f', qualifier: q, op: 'eq' },
        mutation: put('r', 'q', 'v'),
      },
      'condition.value',
    ],
    [
      'table.checkAndMutate',
      {
        table: 't',
        condition: { family: 'f', qualifier: q, absent: false },
        mutation: put('r', 'q', 'v'),
      },
      'condition.absent',
    ],
    [
      'table.checkAndMutate',
      { table: 't', condition: { family: 'f', qualifier: q, absent: true } },
      'mutation',
    ],
    ['table.increment', { table: 't', row, family: 'f', qualifier: q }, 'delta'],
    ['table.increment', { table: 't', row, family: 'f', qualifier: q, delta: 1.5 }, 'delta'],
    ['table.increment', { table: 't', row, family: 'f', qualifier: q, delta: 2n ** 64n }, 'delta'],
    ['table.increment', { table: 't', row, family: 'f', delta: 1 }, 'qualifier'],
    ['table.append', { table: 't', row, family: 'f', qualifier: q, value: 'v' }, 'value'],
    ['table.append', { table: 't', row: [1], family: 'f', qualifier: q, value: q }, 'row'],
    ['table.batch', { table: 't', mutations: 'x' }, 'mutations'],
    [
      'table.batch',
      { table: 't', mutations: [put('a', 'q', 'v'), { row, ops: [{}] }] },
      'mutations[1].ops[0].type',
    ],
    ['table.nope', {}, 'unknown table method'],
    ['toString', {}, 'unknown table method'],
  ];

  it('answers INVALID_ARGUMENT naming the field, for every method', async () => {
    const { d } = await setup();
    const covered = new Set(cases.map(([m]) => m));
    for (const m of TABLE_METHODS) expect(covered.has(m), m).toBe(true);
    for (const [method, request, text] of cases) {
      const e = await failure(raw(d, method, request));
      expect(e === 'ok' ? 'ok' : `${e.code} ${e.message}`, `${method} ${text}`).toContain(
        'INVALID_ARGUMENT',
      );
      expect(e !== 'ok' && e.message, method).toContain(text);
    }
    // Nothing was written by the rejected requests.
    const all = await d.call('table.scan', { table: 't' });
    expect(all.rows).toEqual([]);
  });

  it('never crashes on seeded random requests: only TesseraErrors, never INTERNAL', async () => {
    const { d } = await setup();
    const rng = new Prng(20261127);
    const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
    const keys = [
      'table',
      'row',
      'spec',
      'mutation',
      'ops',
      'type',
      'family',
      'qualifier',
      'value',
      'timestamp',
      'filter',
      'filters',
      'kind',
      'op',
      'delta',
      'scanner',
      'batchRows',
      'mutations',
      'condition',
      'absent',
      'families',
      'columns',
      'maxVersions',
      'timeRange',
      'min',
      'max',
      'startRow',
      'stopRow',
      'prefix',
      'limit',
      'name',
    ];
    const gen = (depth: number): unknown => {
      switch (rng.int(depth > 3 ? 9 : 11)) {
        case 0:
          return null;
        case 1:
          return rng.int(5) - 1;
        case 2:
          return pick([1.5, -0, 2 ** 60, Number.NaN, Infinity, 2n ** 63n - 1n, -(2n ** 63n)]);
        case 3:
          return pick([
            't',
            'f',
            'g',
            'put',
            'deleteRow',
            'eq',
            'and',
            'rowPrefix',
            '',
            'valueCompare',
          ]);
        case 4:
          return rng.bytes(rng.int(4));
        case 5:
          return rng.chance(0.5);
        case 6:
          return undefined;
        case 7:
          return pick([
            'columnPrefix',
            'qualifier',
            'timestampRange',
            'deleteColumn',
            'deleteVersion',
            'deleteFamily',
          ]);
        case 8:
          return rng.int(3);
        case 9:
          return Array.from({ length: rng.int(4) }, () => gen(depth + 1));
        default: {
          const o: Record<string, unknown> = {};
          for (let i = rng.int(6); i > 0; i--) o[pick(keys)] = gen(depth + 1);
          return o;
        }
      }
    };
    const codes = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const method = rng.chance(0.97) ? pick(TABLE_METHODS) : 'table.bogus';
      if (method === 'table.drop' || method === 'table.create') continue;
      const request = rng.chance(0.8) ? { table: 't', ...(gen(0) as object) } : gen(0);
      try {
        await raw(d, method, request);
        codes.set('ok', (codes.get('ok') ?? 0) + 1);
      } catch (err) {
        expect(isTesseraError(err), `${method} ${String(err)}`).toBe(true);
        const code = (err as TesseraError).code;
        expect(code, `${method} ${String(err)}`).not.toBe('INTERNAL');
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }
    expect(codes.get('INVALID_ARGUMENT')).toBeGreaterThan(100);
    expect(codes.get('ok')).toBeGreaterThan(10);
    expect((await d.call('table.list', {})).tables).toEqual(['t']);
  });
});

describe('TableDispatcher scanner lease', () => {
  it('drops a scanner idle past the lease on the simulated clock; a used one lives on', async () => {
    const world = new SimWorld({ seed: 11 });
    const node = world.addNode('n1');
    const settle = <T>(p: Promise<T>): Promise<T> => world.settle(p, { timeoutMs: 120_000 });
    const db = await settle(Database.open(node.env, { dir: '/data' }));
    const d = new TableDispatcher(node.env, db);
    await settle(d.call('table.create', { spec: { name: 't', families: [{ name: 'f' }] } }));
    await settle(
      d.call('table.batch', {
        table: 't',
        mutations: ['a', 'b', 'c', 'd'].map((r) => put(r, 'q', 'v')),
      }),
    );
    const idle = await settle(d.call('table.scan', { table: 't', batchRows: 1 }));
    const busy = await settle(d.call('table.scan', { table: 't', batchRows: 1 }));
    await world.runFor(scannerLeaseMs - 1_000);
    const step = await settle(d.call('table.scanNext', { scanner: busy.scanner }));
    expect(names(step.rows)).toEqual(['b']);
    await world.runFor(2_000); // idle passes its lease; busy was renewed 2 s ago
    expect(d.openScanners).toBe(1);
    const expired = await failure(settle(d.call('table.scanNext', { scanner: idle.scanner })));
    expect(expired !== 'ok' && `${expired.code} ${expired.message}`).toBe(
      `NOT_FOUND scanner ${idle.scanner} expired or unknown`,
    );
    expect(names((await settle(d.call('table.scanNext', { scanner: busy.scanner }))).rows)).toEqual(
      ['c'],
    );
    await world.runFor(scannerLeaseMs + 1);
    expect(d.openScanners).toBe(0);
    await settle(d.close());
    await settle(db.close());
  });
});
