/**
 * The table client over the network: a real node service (startNodeService + Database) on
 * 127.0.0.1, reached through `connect`, sometimes through a TCP proxy that can cut a
 * connection right after the server answered — so the request took effect but the client
 * never heard — to check which calls are retried and which are not.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startNodeService, type RunningNode } from '../api/index.js';
import {
  formatAddress,
  type Address,
  type Connection,
  type Env,
  type Listener,
} from '../env/types.js';
import { realEnv } from '../env/real/index.js';
import { Database as ModelDatabase, Mutation } from '../model/index.js';
import { fromUtf8 } from '../util/bytes.js';
import { TesseraError } from '../util/errors.js';
import { connect } from './connect.js';
import type { Database, Table } from './table-api.js';

let root: string;
let env: Env;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tessera-rpc-client-'));
  env = realEnv({ name: 'rpc-client-test', root });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const localhost: Address = { host: '127.0.0.1', port: 0 };

/** A TCP proxy that can drop the connection instead of passing the server's next answer on. */
class CuttingProxy {
  /** Server-to-client chunks to swallow, each by resetting the client's connection. */
  cutNextReplies = 0;
  /** Swallow everything, both ways, and close nothing: a peer gone silent (a partition). */
  silent = false;
  connectionsAccepted = 0;
  private readonly open = new Set<Connection>();

  private constructor(
    private readonly listener: Listener,
    readonly address: Address,
  ) {}

  static async start(env: Env, upstream: Address): Promise<CuttingProxy> {
    // The listener needs the proxy and the proxy the listener: route through a holder.
    const holder: { proxy?: CuttingProxy } = {};
    const listener = await env.net.listen(localhost, (down) =>
      holder.proxy!.accept(env, upstream, down),
    );
    holder.proxy = new CuttingProxy(listener, listener.address);
    return holder.proxy;
  }

  private accept(env: Env, upstream: Address, down: Connection): void {
    this.connectionsAccepted++;
    this.open.add(down);
    env.net.connect(upstream).then(
      (up) => {
        this.open.add(up);
        down.setHandlers({
          onData: (chunk) => {
            if (!this.silent) up.write(new Uint8Array(chunk));
          },
          onClose: () => up.destroy(),
        });
        up.setHandlers({
          onData: (chunk) => {
            if (this.silent) return;
            if (this.cutNextReplies > 0) {
              this.cutNextReplies--;
              down.destroy();
              up.destroy();
              return;
            }
            down.write(new Uint8Array(chunk));
          },
          onClose: () => down.destroy(),
        });
      },
      () => down.destroy(),
    );
  }

  async close(): Promise<void> {
    for (const c of this.open) c.destroy();
    await this.listener.close();
  }
}

async function codeOf(p: Promise<unknown>): Promise<TesseraError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TesseraError);
    return err as TesseraError;
  }
  throw new Error('expected a rejection');
}

async function deadAddress(): Promise<string> {
  const listener = await env.net.listen(localhost, (c) => c.destroy());
  const address = formatAddress(listener.address);
  await listener.close();
  return address;
}

describe('connect over the native protocol', () => {
  let database: ModelDatabase;
  let node: RunningNode;
  let db: Database;
  let t: Table;
  let dirCount = 0;

  beforeEach(async () => {
    database = await ModelDatabase.open(env, { dir: `db-${++dirCount}` });
    node = await startNodeService(env, { name: 'n1', listen: localhost, database });
    db = await connect(env, formatAddress(node.address), { backoffMinMs: 5 });
    await db.createTable({ name: 'users', families: [{ name: 'info', maxVersions: 5 }] });
    t = db.table('users');
  });

  afterEach(async () => {
    await db.close();
    await node.close();
    await database.close();
  });

  it('runs every table operation through the network', async () => {
    expect(await db.listTables()).toEqual(['users']);
    expect((await db.describeTable('users')).name).toBe('users');
    await t.put('ada', { 'info:name': 'Ada', 'info:born': '1815' });
    expect((await t.get('ada'))!.text('info:name')).toBe('Ada');
    expect(await t.get('nobody')).toBeUndefined();
    await t.delete('ada', { columns: ['info:born'] });
    expect((await t.get('ada'))!.cells).toHaveLength(1);

    for (let i = 0; i < 30; i++)
      await t.put(`k${String(i).padStart(2, '0')}`, { 'info:i': `${i}` });
    const keys: string[] = [];
    for await (const row of t.scan({ prefix: 'k', batchRows: 7 })) keys.push(fromUtf8(row.key));
    expect(keys).toHaveLength(30);
    expect(keys).toEqual([...keys].sort());

    const early: string[] = [];
    for await (const row of t.scan({ prefix: 'k', batchRows: 4 })) {
      early.push(fromUtf8(row.key));
      if (early.length === 6) break;
    }
    expect(early).toEqual(keys.slice(0, 6));
    expect(node.tables!.openScanners).toBe(0);

    const cas = (expected: string) =>
      t.checkAndMutate(
        'ada',
        { column: 'info:name', op: 'eq', value: expected },
        new Mutation('ada').put('info', 'name', 'Augusta'),
      );
    expect(await cas('Ada')).toBe(true);
    expect(await cas('Ada')).toBe(false);

    const sums = await Promise.all(Array.from({ length: 20 }, () => t.increment('c', 'info:n')));
    expect(sums.reduce((a, b) => (a > b ? a : b))).toBe(20n);
    expect(await t.increment('c', 'info:n', 2n ** 40n)).toBe(2n ** 40n + 20n);
    expect(fromUtf8(await t.append('log', 'info:l', 'ab'))).toBe('ab');

    const outcomes = await t.batch([
      new Mutation('b1').put('info', 'x', '1'),
      new Mutation('b2').put('missing', 'x', '1'),
    ]);
    expect(outcomes[0]).toMatchObject({ ok: true });
    expect(outcomes[1]).toMatchObject({ ok: false, code: 'INVALID_ARGUMENT' });

    expect((await codeOf(db.table('nosuch').get('r'))).code).toBe('NOT_FOUND');
    await db.dropTable('users');
    expect(await db.listTables()).toEqual([]);
  });

  it('fails fast with CONNECTION_REFUSED when nothing listens at the address', async () => {
    const err = await codeOf(connect(env, await deadAddress(), { attemptsMax: 1 }));
    expect(err.code).toBe('CONNECTION_REFUSED');
  });

  it('uses the next address when the first refuses', async () => {
    const other = await connect(env, [await deadAddress(), formatAddress(node.address)]);
    try {
      await other.table('users').put('r', { 'info:a': '1' });
      expect((await t.get('r'))!.text('info:a')).toBe('1');
    } finally {
      await other.close();
    }
  });

  it('retries a read while the server restarts on the same port', async () => {
    await t.put('r', { 'info:a': 'before' });
    const address = node.address;
    await node.close();
    const reading = t.get('r', { timeoutMs: 10_000 });
    await env.timers.sleep(150);
    node = await startNodeService(env, { name: 'n1', listen: address, database });
    expect((await reading)!.text('info:a')).toBe('before');
  });

  it('sends a write again only when it never left (connection refused)', async () => {
    const address = node.address;
    await node.close();
    const writing = t.put('w', { 'info:a': 'x' }, { timeoutMs: 10_000 });
    await env.timers.sleep(150);
    node = await startNodeService(env, { name: 'n1', listen: address, database });
    await writing;
    expect((await t.get('w'))!.text('info:a')).toBe('x');
  });

  describe('through a proxy that cuts the connection after the server answered', () => {
    let proxy: CuttingProxy;
    let viaProxy: Database;

    beforeEach(async () => {
      proxy = await CuttingProxy.start(env, node.address);
      viaProxy = await connect(env, formatAddress(proxy.address), { backoffMinMs: 5 });
      await viaProxy.table('users').put('seed', { 'info:a': '1' });
    });

    afterEach(async () => {
      await viaProxy.close();
      await proxy.close();
    });

    it('retries a read on CONNECTION_CLOSED', async () => {
      proxy.cutNextReplies = 1;
      const before = proxy.connectionsAccepted;
      const row = await viaProxy.table('users').get('seed');
      expect(row!.text('info:a')).toBe('1');
      expect(proxy.connectionsAccepted).toBe(before + 1); // reconnected once, for the retry
    });

    it('does not retry a write on CONNECTION_CLOSED: it applied once', async () => {
      proxy.cutNextReplies = 1;
      const before = proxy.connectionsAccepted;
      const err = await codeOf(viaProxy.table('users').increment('ctr', 'info:n', 5));
      expect(err.code).toBe('CONNECTION_CLOSED');
      expect(err.details?.outcomeUnknown).toBe(true);
      expect(proxy.connectionsAccepted).toBe(before); // no second attempt went out
      // The server did apply it, exactly once.
      expect(await t.increment('ctr', 'info:n', 0)).toBe(5n);
    });

    it('notices a connection gone silent by its keep-alive, long before the call timeout', async () => {
      const quick = await connect(env, formatAddress(proxy.address), { rpc: { keepAliveMs: 100 } });
      try {
        await quick.table('users').get('seed');
        proxy.silent = true;
        const t0 = env.clock.monoMicros();
        const err = await codeOf(
          quick.table('users').put('s', { 'info:v': 'x' }, { timeoutMs: 20_000 }),
        );
        const waitedMs = (env.clock.monoMicros() - t0) / 1000;
        expect(err.code).toBe('CONNECTION_CLOSED');
        expect(waitedMs).toBeLessThan(5_000);
      } finally {
        proxy.silent = false;
        await quick.close();
      }
    });

    it('does not retry a put on CONNECTION_CLOSED', async () => {
      proxy.cutNextReplies = 1;
      const err = await codeOf(viaProxy.table('users').put('p', { 'info:v': 'once' }));
      expect(err.code).toBe('CONNECTION_CLOSED');
      // One version only: a retried put would have written a second one.
      const row = await t.get('p', { maxVersions: 5 });
      expect(row!.cells).toHaveLength(1);
    });
  });
});

describe('several addresses', () => {
  it('keeps a scan on the server that opened it, and fails over for new calls', async () => {
    const dbA = await ModelDatabase.open(env, { dir: 'multi-a' });
    const dbB = await ModelDatabase.open(env, { dir: 'multi-b' });
    const nodeA = await startNodeService(env, { name: 'a', listen: localhost, database: dbA });
    const nodeB = await startNodeService(env, { name: 'b', listen: localhost, database: dbB });
    const spec = { name: 't', families: [{ name: 'f' }] };
    const direct = await Promise.all(
      [nodeA, nodeB].map((n) => connect(env, formatAddress(n.address))),
    );
    for (const [i, d] of direct.entries()) {
      await d.createTable(spec);
      for (let r = 0; r < 6; r++) await d.table('t').put(`${'ab'[i]}${r}`, { 'f:q': 'v' });
    }
    // B has a scanner open too, with the same server-side id the scan on A will get.
    const onB = direct[1]!.table('t').scan({ batchRows: 1 })[Symbol.asyncIterator]();
    await onB.next();

    const db = await connect(
      env,
      [nodeA, nodeB].map((n) => formatAddress(n.address)),
      {
        backoffMinMs: 5,
      },
    );
    try {
      const seen: string[] = [];
      const scanning = (async () => {
        for await (const row of db.table('t').scan({ batchRows: 2 })) {
          seen.push(fromUtf8(row.key));
          if (seen.length === 2) await nodeA.close();
        }
      })();
      const err = await codeOf(scanning);
      expect(['CONNECTION_CLOSED', 'SHUTTING_DOWN']).toContain(err.code);
      expect(seen).toEqual(['a0', 'a1']); // never a row of B's scanner
      // New calls move on to B.
      expect((await db.table('t').get('b3'))!.text('f:q')).toBe('v');
    } finally {
      await onB.return?.();
      await db.close();
      for (const d of direct) await d.close();
      await nodeB.close();
      await nodeA.close();
      await dbA.close();
      await dbB.close();
    }
  });
});
