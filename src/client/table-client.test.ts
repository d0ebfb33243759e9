/**
 * The table client over the embedded dispatcher, on a real temporary directory: every call
 * goes through the same request validation and tablet code as a remote one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Env } from '../env/types.js';
import { realEnv } from '../env/real/index.js';
import { Database as ModelDatabase, Mutation, TableDispatcher } from '../model/index.js';
import type {
  TableCaller,
  TableMethod,
  TableReply,
  TableRequest,
} from '../model/table-protocol.js';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { TesseraError } from '../util/errors.js';
import { openEmbedded } from './embedded.js';
import type { ConsistencyLevel } from './index.js';
import type { CallOptions, Database, Row, Table } from './table-api.js';
import { parseColumn, TableDatabase } from './table-client.js';

let root: string;
let env: Env;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tessera-client-'));
  env = realEnv({ name: 'client-test', root });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Records the methods sent, so tests can see scanNext and scanClose happen. */
class RecordingCaller implements TableCaller {
  readonly methods: TableMethod[] = [];
  constructor(private readonly inner: TableCaller) {}
  call<M extends TableMethod>(
    method: M,
    request: TableRequest<M>,
    options?: { readonly timeoutMs?: number; readonly signal?: AbortSignal },
  ): Promise<TableReply<M>> {
    this.methods.push(method);
    return this.inner.call(method, request, options);
  }
  count(method: TableMethod): number {
    return this.methods.filter((m) => m === method).length;
  }
}

let dirCount = 0;

async function openRecorded(): Promise<{
  db: Database;
  caller: RecordingCaller;
  dispatcher: TableDispatcher;
}> {
  const database = await ModelDatabase.open(env, { dir: `db-${++dirCount}` });
  const dispatcher = new TableDispatcher(env, database);
  const caller = new RecordingCaller(dispatcher);
  const db = new TableDatabase(caller, {
    onClose: async () => {
      await dispatcher.close();
      await database.close();
    },
  });
  return { db, caller, dispatcher };
}

async function collect(rows: AsyncIterable<Row>): Promise<string[]> {
  const out: string[] = [];
  for await (const r of rows) out.push(fromUtf8(r.key));
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TesseraError);
    return (err as TesseraError).code;
  }
  return 'resolved';
}

describe('column names', () => {
  it('splits at the first colon; a bare name is a whole family', () => {
    expect(parseColumn('info:a:b')).toEqual({ family: 'info', qualifier: utf8('a:b') });
    expect(parseColumn('info:')).toEqual({ family: 'info', qualifier: new Uint8Array(0) });
    expect(parseColumn('info')).toEqual({ family: 'info', qualifier: undefined });
    const q = new Uint8Array([0, 255]);
    expect(parseColumn({ family: 'f', qualifier: q })).toEqual({ family: 'f', qualifier: q });
    expect(() => parseColumn(':q')).toThrow(TesseraError);
  });
});

describe('TableDatabase over the embedded dispatcher', () => {
  let db: Database;
  let caller: RecordingCaller;
  let dispatcher: TableDispatcher;
  let t: Table;

  beforeEach(async () => {
    ({ db, caller, dispatcher } = await openRecorded());
    await db.createTable({
      name: 'people',
      families: [{ name: 'info', maxVersions: 3 }, { name: 'stats' }],
    });
    t = db.table('people');
  });

  afterEach(async () => {
    await db.close();
  });

  it('creates, lists, describes and drops tables', async () => {
    expect(await db.listTables()).toEqual(['people']);
    const schema = await db.describeTable('people');
    expect(schema.families.map((f) => f.name)).toEqual(['info', 'stats']);
    expect(await codeOf(db.createTable({ name: 'people', families: [{ name: 'x' }] }))).toBe(
      'ALREADY_EXISTS',
    );
    await db.dropTable('people');
    expect(await db.listTables()).toEqual([]);
    expect(await codeOf(t.get('r'))).toBe('NOT_FOUND');
  });

  it('puts and gets cells; value() and text() give the newest version', async () => {
    const { timestamp } = await t.put('ada', { 'info:name': 'Ada', 'info:born': '1815' });
    expect(timestamp).toBeGreaterThan(0);
    const row = await t.get('ada');
    expect(row).toBeDefined();
    expect(fromUtf8(row!.key)).toBe('ada');
    expect(row!.text('info:name')).toBe('Ada');
    expect(row!.value('info:born')).toEqual(utf8('1815'));
    expect(row!.text('info:missing')).toBeUndefined();
    expect(row!.cells.map((c) => fromUtf8(c.qualifier))).toEqual(['born', 'name']);
    expect(await t.get('nobody')).toBeUndefined();

    const only = await t.get('ada', { columns: ['info:name'] });
    expect(only!.cells).toHaveLength(1);
    await t.put('ada', { 'stats:visits': '1' });
    const family = await t.get('ada', { columns: ['stats'] });
    expect(family!.cells.map((c) => c.family)).toEqual(['stats']);
  });

  it('keeps versions and reads them newest first, within a time range', async () => {
    await t.put('r', { 'info:v': 'one' }, { timestamp: 10 });
    await t.put('r', { 'info:v': 'two' }, { timestamp: 20 });
    await t.put('r', { 'info:v': 'three' }, { timestamp: 30 });
    const all = await t.get('r', { maxVersions: 3 });
    expect(all!.cells.map((c) => fromUtf8(c.value))).toEqual(['three', 'two', 'one']);
    expect(all!.text('info:v')).toBe('three');
    const old = await t.get('r', { maxVersions: 3, timeRange: { max: 25 } });
    expect(old!.cells.map((c) => c.timestamp)).toEqual([20, 10]);
  });

  it('binary qualifiers through a ColumnRef', async () => {
    const qualifier = new Uint8Array([0, 1, 255]);
    const m = new Mutation(new Uint8Array([9, 9])).put('info', qualifier, new Uint8Array([7]));
    await t.mutate(m);
    const row = await t.get(new Uint8Array([9, 9]));
    expect(row!.value({ family: 'info', qualifier })).toEqual(new Uint8Array([7]));
  });

  it('deletes a whole row, a family, a column, and versions up to a timestamp', async () => {
    const fill = (row: string) =>
      t.put(row, { 'info:a': '1', 'info:b': '2', 'stats:c': '3' }, { timestamp: 100 });
    await fill('r');
    await t.delete('r');
    expect(await t.get('r')).toBeUndefined();

    await fill('r2');
    await t.delete('r2', { columns: ['info'] });
    expect((await t.get('r2'))!.cells.map((c) => c.family)).toEqual(['stats']);

    await fill('r3');
    await t.delete('r3', { columns: ['info:a', 'stats:c'] });
    const r3 = await t.get('r3');
    expect(r3!.cells.map((c) => `${c.family}:${fromUtf8(c.qualifier)}`)).toEqual(['info:b']);

    await t.put('r4', { 'info:a': 'old' }, { timestamp: 5 });
    await t.put('r4', { 'info:a': 'new' }, { timestamp: 50 });
    await t.delete('r4', { columns: ['info:a'], timestamp: 10 });
    const r4 = await t.get('r4', { maxVersions: 3 });
    expect(r4!.cells.map((c) => fromUtf8(c.value))).toEqual(['new']);
  });

  it('rejects a put column without a qualifier and an unknown family', async () => {
    await expect(t.put('r', { info: 'x' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await codeOf(t.put('r', { 'nope:x': 'x' }))).toBe('INVALID_ARGUMENT');
  });

  describe('scan', () => {
    const keys = Array.from({ length: 25 }, (_, i) => `row-${String(i).padStart(2, '0')}`);

    beforeEach(async () => {
      // Written out of order: the scan must sort.
      const shuffled = [...keys].reverse();
      for (const k of shuffled) await t.put(k, { 'info:k': k });
      await t.put('other-1', { 'info:k': 'other' });
    });

    it('returns rows in key order, fetched batchRows at a time', async () => {
      const got = await collect(t.scan({ prefix: 'row-', batchRows: 4 }));
      expect(got).toEqual(keys);
      expect(caller.count('table.scan')).toBe(1);
      expect(caller.count('table.scanNext')).toBe(Math.ceil(25 / 4) - 1);
      expect(caller.count('table.scanClose')).toBe(0);
      expect(dispatcher.openScanners).toBe(0);
    });

    it('honours start, stop and limit', async () => {
      expect(await collect(t.scan({ startRow: 'row-05', stopRow: 'row-08' }))).toEqual([
        'row-05',
        'row-06',
        'row-07',
      ]);
      expect(await collect(t.scan({ limit: 3 }))).toEqual(['other-1', 'row-00', 'row-01']);
      expect(await collect(t.scan({ prefix: 'row-1', limit: 4, batchRows: 2 }))).toEqual([
        'row-10',
        'row-11',
        'row-12',
        'row-13',
      ]);
      expect(dispatcher.openScanners).toBe(0);
    });

    it('pulls lazily and closes the scanner when the consumer breaks early', async () => {
      const seen: string[] = [];
      for await (const row of t.scan({ prefix: 'row-', batchRows: 5 })) {
        seen.push(fromUtf8(row.key));
        if (seen.length === 7) break;
      }
      expect(seen).toEqual(keys.slice(0, 7));
      expect(caller.count('table.scanNext')).toBe(1); // the second batch, and no more
      expect(caller.count('table.scanClose')).toBe(1);
      expect(dispatcher.openScanners).toBe(0);
    });

    it('closes the scanner when the consumer throws', async () => {
      const consume = async (): Promise<void> => {
        for await (const _row of t.scan({ batchRows: 2 })) throw new Error('stop');
      };
      await expect(consume()).rejects.toThrow('stop');
      expect(caller.count('table.scanClose')).toBe(1);
      expect(dispatcher.openScanners).toBe(0);
    });

    it('applies a column selection and a filter', async () => {
      await t.put('row-03', { 'stats:n': '1' });
      const rows: Row[] = [];
      for await (const r of t.scan({ prefix: 'row-0', columns: ['stats'] })) rows.push(r);
      expect(rows.map((r) => fromUtf8(r.key))).toEqual(['row-03']);
      const filtered = await collect(
        t.scan({
          filter: {
            kind: 'valueCompare',
            op: 'ge',
            family: 'info',
            qualifier: utf8('k'),
            value: utf8('row-23'),
            filterIfMissing: true,
          },
        }),
      );
      expect(filtered).toEqual(['row-23', 'row-24']);
    });
  });

  it('checkAndMutate: of 20 concurrent compare-and-sets on one cell, exactly one wins', async () => {
    expect(
      await t.checkAndMutate(
        'cas',
        { column: 'info:v', absent: true },
        new Mutation('cas').put('info', 'v', '0'),
      ),
    ).toBe(true);
    for (let round = 0; round < 5; round++) {
      const current = String(round);
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          t.checkAndMutate(
            'cas',
            { column: 'info:v', op: 'eq', value: current },
            new Mutation('cas').put('info', 'v', String(round + 1)).put('info', 'who', String(i)),
          ),
        ),
      );
      expect(outcomes.filter((o) => o)).toHaveLength(1);
      const row = await t.get('cas');
      expect(row!.text('info:v')).toBe(String(round + 1));
      expect(row!.text('info:who')).toBe(String(outcomes.indexOf(true)));
    }
    expect(
      await t.checkAndMutate(
        'cas',
        { column: 'info:v', absent: true },
        new Mutation('cas').put('info', 'v', 'x'),
      ),
    ).toBe(false);
    await expect(
      t.checkAndMutate(
        'cas',
        { column: 'info:v', absent: true },
        new Mutation('elsewhere').put('info', 'v', 'x'),
      ),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('increment: concurrent increments sum exactly', async () => {
    const deltas = Array.from({ length: 50 }, (_, i) => i + 1);
    const results = await Promise.all(deltas.map((d) => t.increment('ctr', 'stats:hits', d)));
    const total = BigInt(deltas.reduce((a, b) => a + b, 0));
    expect(results.reduce((a, b) => (a > b ? a : b))).toBe(total);
    expect(new Set(results).size).toBe(50); // each saw a distinct state
    expect(await t.increment('ctr', 'stats:hits')).toBe(total + 1n);
    expect(await t.increment('ctr', 'stats:hits', -2n)).toBe(total - 1n);
  });

  it('append', async () => {
    expect(fromUtf8(await t.append('log', 'info:l', 'a'))).toBe('a');
    expect(fromUtf8(await t.append('log', 'info:l', 'bc'))).toBe('abc');
    expect((await t.get('log'))!.text('info:l')).toBe('abc');
  });

  it('batch: each row applies or fails on its own, outcomes in order', async () => {
    const outcomes = await t.batch([
      new Mutation('b1').put('info', 'x', '1'),
      new Mutation('b2').put('nosuchfamily', 'x', '2'),
      new Mutation('b3').put('info', 'x', '3').deleteColumn('stats', 'y'),
    ]);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    const failed = outcomes[1]!;
    expect(failed.ok === false && failed.code).toBe('INVALID_ARGUMENT');
    expect(failed.ok === false && failed.message).toContain('nosuchfamily');
    expect((await t.get('b1'))!.text('info:x')).toBe('1');
    expect(await t.get('b2')).toBeUndefined();
    expect((await t.get('b3'))!.text('info:x')).toBe('3');
  });

  it('rejects calls after close', async () => {
    await db.close();
    expect(await codeOf(t.get('r'))).toBe('CONNECTION_CLOSED');
    await db.close(); // idempotent
  });
});

describe('openEmbedded', () => {
  it('keeps data across close and reopen', async () => {
    const first = await openEmbedded(env, 'persist');
    await first.createTable({ name: 'kv', families: [{ name: 'd' }] });
    await first.table('kv').put('k', { 'd:v': 'kept' });
    await first.close();

    const second = await openEmbedded(env, 'persist');
    try {
      expect(await second.listTables()).toEqual(['kv']);
      expect((await second.table('kv').get('k'))!.text('d:v')).toBe('kept');
    } finally {
      await second.close();
    }
  });
});

describe('scan requests', () => {
  it('sends the scan range as given and leaves a Buffer prefix untouched', async () => {
    const sent: unknown[] = [];
    const caller: TableCaller = {
      call: (method, request) => {
        sent.push(request);
        return Promise.resolve({ scanner: 1, rows: [], done: true } as never);
      },
    };
    const db = new TableDatabase(caller);
    const prefix = Buffer.from('ab');
    for await (const _ of db.table('t').scan({ prefix, startRow: 'a' })) break;
    expect(prefix.toString()).toBe('ab');
    expect(sent).toEqual([{ table: 't', spec: { startRow: utf8('a'), prefix } }]);
  });
});

describe('consistency levels', () => {
  /** Answers every call with a canned reply and keeps what was sent. */
  function fakeCaller(): { caller: TableCaller; sent: { method: TableMethod; body: object }[] } {
    const sent: { method: TableMethod; body: object }[] = [];
    const replies: Partial<Record<TableMethod, unknown>> = {
      'table.mutate': { timestamp: 7 },
      'table.get': { cells: [] },
      'table.batch': { results: [{ ok: true, timestamp: 7 }] },
      'table.scan': { scanner: 1, rows: [], done: true },
      'table.increment': { value: 1n },
      'table.append': { value: new Uint8Array(0) },
      'table.checkAndMutate': { applied: true },
    };
    const caller: TableCaller = {
      call: (method, request) => {
        sent.push({ method, body: request as object });
        return Promise.resolve(replies[method] as never);
      },
    };
    return { caller, sent };
  }

  /** put, mutate, delete, get (with and without a spec) and batch, all with `options`. */
  async function everyLevelCall(t: Table, options: CallOptions): Promise<void> {
    await t.put('r', { 'f:q': 'v' }, options);
    await t.mutate(new Mutation('r').put('f', 'q', 'v'), options);
    await t.delete('r', options);
    await t.get('r', options);
    await t.get('r', { ...options, columns: ['f:q'] });
    await t.batch([new Mutation('r').put('f', 'q', 'v')], options);
  }

  const levelsOf = (sent: { body: object }[]): unknown[] =>
    sent.map((s) => (s.body as { consistency?: unknown }).consistency);

  it('sends no level when none is set, leaving the request bodies as they were', async () => {
    const { caller, sent } = fakeCaller();
    await everyLevelCall(new TableDatabase(caller).table('t'), {});
    expect(sent.map((s) => [s.method, Object.keys(s.body)])).toEqual([
      ['table.mutate', ['table', 'mutation']],
      ['table.mutate', ['table', 'mutation']],
      ['table.mutate', ['table', 'mutation']],
      ['table.get', ['table', 'row']],
      ['table.get', ['table', 'row', 'spec']],
      ['table.batch', ['table', 'mutations']],
    ]);
  });

  it("sends a call's level with put, mutate, delete, get and batch", async () => {
    const { caller, sent } = fakeCaller();
    await everyLevelCall(new TableDatabase(caller).table('t'), { consistency: 'ONE' });
    expect(levelsOf(sent)).toEqual(['ONE', 'ONE', 'ONE', 'ONE', 'ONE', 'ONE']);
    // The level is one more key; the rest of each body is unchanged.
    expect(sent[0]!.body).toEqual({
      table: 't',
      mutation: {
        row: utf8('r'),
        ops: [{ type: 'put', family: 'f', qualifier: utf8('q'), value: utf8('v') }],
      },
      consistency: 'ONE',
    });
    expect(Object.keys(sent[4]!.body)).toEqual(['table', 'row', 'spec', 'consistency']);
  });

  it("applies the database's default, and a call's level overrides it", async () => {
    const { caller, sent } = fakeCaller();
    const t = new TableDatabase(caller, { consistency: 'ALL' }).table('t');
    await everyLevelCall(t, {});
    expect(levelsOf(sent)).toEqual(['ALL', 'ALL', 'ALL', 'ALL', 'ALL', 'ALL']);
    sent.length = 0;
    await everyLevelCall(t, { consistency: 'LOCAL_QUORUM' });
    expect(levelsOf(sent)).toEqual(Array(6).fill('LOCAL_QUORUM'));
  });

  it('takes a level case-insensitively and sends its exact name', async () => {
    const { caller, sent } = fakeCaller();
    const db = new TableDatabase(caller, { consistency: 'local_one' as ConsistencyLevel });
    await db.table('t').get('r');
    await db.table('t').get('r', { consistency: 'Quorum' as ConsistencyLevel });
    expect(levelsOf(sent)).toEqual(['LOCAL_ONE', 'QUORUM']);
  });

  it('rejects an unknown level with INVALID_ARGUMENT before sending anything', async () => {
    const { caller, sent } = fakeCaller();
    const t = new TableDatabase(caller, { consistency: 'ONE' }).table('t');
    const bad = { consistency: 'TWO_AND_A_HALF' as ConsistencyLevel };
    const calls = [
      t.put('r', { 'f:q': 'v' }, bad),
      t.mutate(new Mutation('r').put('f', 'q', 'v'), bad),
      t.delete('r', bad),
      t.get('r', bad),
      t.batch([new Mutation('r').put('f', 'q', 'v')], bad),
    ];
    for (const call of calls) {
      const err = await call.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(TesseraError);
      expect((err as TesseraError).code).toBe('INVALID_ARGUMENT');
      expect((err as TesseraError).message).toContain('QUORUM');
      expect((err as TesseraError).details).toEqual({ field: 'consistency' });
    }
    expect(sent).toEqual([]);
    expect(() => new TableDatabase(caller, { consistency: 'SOME' as ConsistencyLevel })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error,
    );
  });

  it('sends no level with the calls that take none', async () => {
    const { caller, sent } = fakeCaller();
    const t = new TableDatabase(caller, { consistency: 'ONE' }).table('t');
    const options = { consistency: 'ALL' } as const;
    for await (const _ of t.scan(options)) break;
    await t.increment('r', 'f:n', 1, options);
    await t.append('r', 'f:q', 'x', options);
    await t.checkAndMutate(
      'r',
      { column: 'f:q', absent: true },
      new Mutation('r').put('f', 'q', 'v'),
      options,
    );
    expect(sent.map((s) => s.method)).toEqual([
      'table.scan',
      'table.increment',
      'table.append',
      'table.checkAndMutate',
    ]);
    expect(sent.map((s) => 'consistency' in s.body)).toEqual([false, false, false, false]);
  });

  it('openEmbedded checks its default level, and the dispatcher takes levels', async () => {
    const bad = openEmbedded(env, 'consistency', { consistency: 'MOST' as ConsistencyLevel });
    await expect(bad).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const db = await openEmbedded(env, 'consistency', { consistency: 'one' as ConsistencyLevel });
    try {
      await db.createTable({ name: 'kv', families: [{ name: 'd' }] });
      await db.table('kv').put('k', { 'd:v': 'x' }, { consistency: 'ALL' });
      expect((await db.table('kv').get('k'))!.text('d:v')).toBe('x');
    } finally {
      await db.close();
    }
  });
});
