/**
 * The table.* methods over a real RpcServer and RpcClient on 127.0.0.1, against a Database on
 * a temporary directory: bodies go through msgpack both ways.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { realEnv } from '../env/real/index.js';
import type { Env } from '../env/types.js';
import {
  Database,
  TABLE_METHODS,
  TableDispatcher,
  cellsFromWire,
  type WireRow,
} from '../model/index.js';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { TesseraError } from '../util/errors.js';
import { RpcClient, RpcServer } from '../wire/index.js';
import { startNodeService } from './node-service.js';
import { registerTableService } from './table-service.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(): Promise<{ env: Env; rpc: RpcClient; server: RpcServer }> {
  const root = mkdtempSync(join(tmpdir(), 'tessera-table-service-'));
  cleanups.push(() => Promise.resolve(rmSync(root, { recursive: true, force: true })));
  const env = realEnv({ name: 'table-service-test', root, seed: 1 });
  const db = await Database.open(env, { dir: 'data' });
  cleanups.push(() => db.close());
  const dispatcher = new TableDispatcher(env, db);
  cleanups.push(() => dispatcher.close());
  const server = new RpcServer(env);
  registerTableService(server, dispatcher);
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(() => server.close({ drainTimeoutMs: 0 }));
  const rpc = await RpcClient.connect(env, address);
  cleanups.push(() => rpc.close());
  return { env, rpc, server };
}

const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof TesseraError ? `${e.code}` : String(e)),
  );

const b = utf8;
const put = (row: string, q: string, v: Uint8Array | string) => ({
  row: b(row),
  ops: [{ type: 'put', family: 'f', qualifier: b(q), value: typeof v === 'string' ? b(v) : v }],
});

describe('table service over RPC', () => {
  it('serves create, mutate, get, scan in batches, checkAndMutate, increment, batch and drop', async () => {
    const { rpc } = await start();
    const call = (m: string, args: unknown): Promise<unknown> =>
      rpc.call(m, args, { timeoutMs: 5_000 });
    const created = (await call('table.create', {
      spec: { name: 'users', families: [{ name: 'f', maxVersions: 2 }, { name: 'n' }] },
    })) as { schema: { name: string } };
    expect(created.schema.name).toBe('users');
    expect(
      await codeOf(call('table.create', { spec: { name: 'users', families: [{ name: 'f' }] } })),
    ).toBe('ALREADY_EXISTS');
    expect(await call('table.list', {})).toEqual({ tables: ['users'] });

    const { timestamp } = (await call('table.mutate', {
      table: 'users',
      mutation: put('alice', 'email', 'a@x'),
    })) as { timestamp: number };
    const reply = (await call('table.get', { table: 'users', row: b('alice') })) as {
      cells: unknown[];
    };
    const got = { cells: cellsFromWire(reply.cells) };
    expect(got.cells).toHaveLength(1);
    expect(got.cells[0]!.family).toBe('f');
    expect(fromUtf8(got.cells[0]!.value)).toBe('a@x');
    expect(got.cells[0]!.timestamp).toBe(timestamp);

    expect(
      await call('table.checkAndMutate', {
        table: 'users',
        condition: { family: 'f', qualifier: b('email'), op: 'eq', value: b('a@x') },
        mutation: put('alice', 'email', 'alice@x'),
      }),
    ).toEqual({ applied: true });
    expect(
      await call('table.checkAndMutate', {
        table: 'users',
        condition: { family: 'f', qualifier: b('email'), absent: true },
        mutation: put('alice', 'email', 'other'),
      }),
    ).toEqual({ applied: false });

    // Counters travel as int64, which msgpack decodes to bigint on both sides.
    const inc = (delta: bigint | number) =>
      call('table.increment', {
        table: 'users',
        row: b('c'),
        family: 'n',
        qualifier: b('hits'),
        delta,
      });
    expect(await inc(2n ** 40n)).toEqual({ value: 2n ** 40n });
    expect(await inc(-1)).toEqual({ value: 2n ** 40n - 1n });

    const batch = (await call('table.batch', {
      table: 'users',
      mutations: [
        ...Array.from({ length: 23 }, (_, i) => put(`u${String(i).padStart(2, '0')}`, 'q', `${i}`)),
        { row: b('bad'), ops: [{ type: 'put', family: 'zz', qualifier: b('q'), value: b('') }] },
      ],
    })) as { results: { ok: boolean; code?: string }[] };
    expect(batch.results.filter((r) => r.ok)).toHaveLength(23);
    expect(batch.results[23]).toMatchObject({ ok: false, code: 'INVALID_ARGUMENT' });

    const first = (await call('table.scan', {
      table: 'users',
      spec: { prefix: b('u') },
      batchRows: 5,
    })) as { scanner: number; rows: WireRow[]; done: boolean };
    const seen = first.rows.map((r) => fromUtf8(r.row));
    let done = first.done;
    let batches = 1;
    while (!done) {
      const next = (await call('table.scanNext', { scanner: first.scanner })) as {
        rows: WireRow[];
        done: boolean;
      };
      seen.push(...next.rows.map((r) => fromUtf8(r.row)));
      done = next.done;
      batches++;
    }
    expect(batches).toBe(5);
    expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => `u${String(i).padStart(2, '0')}`));
    expect(await codeOf(call('table.scanNext', { scanner: first.scanner }))).toBe('NOT_FOUND');

    const appended = (await call('table.append', {
      table: 'users',
      row: b('alice'),
      family: 'f',
      qualifier: b('email'),
      value: b('!'),
    })) as { value: Uint8Array };
    expect(fromUtf8(appended.value)).toBe('alice@x!');

    expect(await call('table.drop', { table: 'users' })).toEqual({});
    expect(await codeOf(call('table.get', { table: 'users', row: b('alice') }))).toBe('NOT_FOUND');
    expect(await call('table.list', {})).toEqual({ tables: [] });
  });

  it('answers malformed bodies with INVALID_ARGUMENT and keeps serving', async () => {
    const { rpc } = await start();
    await rpc.call('table.create', { spec: { name: 't', families: [{ name: 'f' }] } });
    const bodies: unknown[] = [null, 7, 'x', [], b('zz'), { table: 9 }];
    for (const method of TABLE_METHODS) {
      if (method === 'table.list') continue; // takes no fields
      for (const body of bodies) {
        expect(await codeOf(rpc.call(method, body)), `${method} ${JSON.stringify(body)}`).toBe(
          'INVALID_ARGUMENT',
        );
      }
    }
    expect(await codeOf(rpc.call('table.bogus', {}))).toBe('UNKNOWN_METHOD');
    await rpc.call('table.mutate', { table: 't', mutation: put('r', 'q', 'v') });
    const got = (await rpc.call('table.get', { table: 't', row: b('r') })) as { cells: unknown[] };
    expect(cellsFromWire(got.cells)).toHaveLength(1);
  });

  it('is part of startNodeService when given a database, which outlives the node', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-node-tables-'));
    cleanups.push(() => Promise.resolve(rmSync(root, { recursive: true, force: true })));
    const env = realEnv({ name: 'node-test', root, seed: 1 });
    const db = await Database.open(env, { dir: '/' });
    cleanups.push(() => db.close());
    const node = await startNodeService(env, {
      name: 'n',
      listen: { host: '127.0.0.1', port: 0 },
      database: db,
    });
    const rpc = await RpcClient.connect(env, node.address);
    await rpc.call('table.create', { spec: { name: 't', families: [{ name: 'f' }] } });
    await rpc.call('table.batch', {
      table: 't',
      mutations: [put('a', 'q', '1'), put('b', 'q', '2')],
    });
    const s = (await rpc.call('table.scan', { table: 't', batchRows: 1 })) as { done: boolean };
    expect(s.done).toBe(false);
    expect(node.tables?.openScanners).toBe(1);
    await rpc.close();
    await node.close();
    expect(node.tables?.openScanners).toBe(0);
    expect(db.listTables()).toEqual(['t']);
  });
});
