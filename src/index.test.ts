/**
 * The package's public face: `open(dir)` and `connect(addresses)` with the real Env.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, ERROR_CODES, Mutation, open, TesseraError } from './index.js';
import { startNodeService } from './api/index.js';
import { realEnv } from './env/real/index.js';
import { Database as ModelDatabase } from './model/index.js';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tessera-index-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('tessera package', () => {
  it('open(dir) creates the directory and keeps the data across reopen', async () => {
    const dir = join(root, 'embedded', 'db');
    const db = await open(dir);
    await db.createTable({ name: 'users', families: [{ name: 'info' }] });
    const users = db.table('users');
    await users.put('ada', { 'info:name': 'Ada' });
    await users.mutate(new Mutation('bob').put('info', 'name', 'Bob'));
    await db.close();

    const again = await open(dir);
    try {
      const names: string[] = [];
      for await (const row of again.table('users').scan()) names.push(row.text('info:name')!);
      expect(names).toEqual(['Ada', 'Bob']);
    } finally {
      await again.close();
    }
  });

  it('connect(address) reaches a node; a dead address fails with CONNECTION_REFUSED', async () => {
    const env = realEnv({ name: 'index-test', root });
    const database = await ModelDatabase.open(env, { dir: 'served' });
    const node = await startNodeService(env, {
      name: 'n',
      listen: { host: '127.0.0.1', port: 0 },
      database,
    });
    const address = `${node.address.host}:${node.address.port}`;
    try {
      const db = await connect(address);
      await db.createTable({ name: 't', families: [{ name: 'f' }] });
      expect(await db.listTables()).toEqual(['t']);
      await db.close();
    } finally {
      await node.close();
      await database.close();
    }
    const refused = await connect(address, { attemptsMax: 1 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TesseraError);
    expect((refused as TesseraError).code).toBe('CONNECTION_REFUSED');
    expect(ERROR_CODES.CONNECTION_REFUSED).toBeTruthy();
  });
});
