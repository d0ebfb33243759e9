import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { openEmbedded } from '../../client/index.js';
import { realEnv } from '../../env/real/index.js';
import { defaultAddress, DEFAULT_NODE_ADDRESS } from '../shell-command.js';
import { complete, historyPath, runRepl } from './repl.js';

describe('shell completion', () => {
  it('completes command names at the start of the line', () => {
    expect(complete('sc', [])).toEqual([['scan '], 'sc']);
    expect(complete('  de', [])).toEqual([['describe', 'delete', 'deleteall'], 'de']);
    expect(complete('', []).at(0)).toContain('get_counter');
  });

  it('completes table names in the first quoted argument', () => {
    const tables = ['users', 'events', 'usage'];
    expect(complete("scan 'us", tables)).toEqual([["'usage'", "'users'"], "'us"]);
    expect(complete('get("e', tables)).toEqual([['"events"'], '"e']);
    expect(complete("put 'users', 'r", tables)).toEqual([[], "put 'users', 'r"]);
  });
});

describe('shell history path', () => {
  it('uses $TESSERA_HISTORY, empty for none, else ~/.tessera_history', () => {
    expect(historyPath({ TESSERA_HISTORY: '/x/h' })).toBe('/x/h');
    expect(historyPath({ TESSERA_HISTORY: '' })).toBeUndefined();
    expect(historyPath({})).toMatch(/\.tessera_history$/);
  });
});

describe('shell loop on piped input', () => {
  it('runs multi-line statements, stops at exit, and fails on errors', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-repl-'));
    const db = await openEmbedded(realEnv({ name: 'repl-test', root, seed: 1 }), 'db');
    try {
      const input = new PassThrough();
      const output = new PassThrough();
      const errorOutput = new PassThrough();
      let out = '';
      let err = '';
      output.on('data', (d: Buffer) => (out += d.toString()));
      errorOutput.on('data', (d: Buffer) => (err += d.toString()));
      const done = runRepl({
        session: { db, tableNames: [] },
        input,
        output,
        errorOutput,
        terminal: false,
        historyFile: undefined,
        now: () => 0,
      });
      input.end("create 't', 'f'\nput 't', 'r', 'f:q',\n  'v'\nscna 't'\ncount 't'\nexit\nlist\n");
      expect(await done).toBe(1);
      expect(out).toBe(
        'Created table t\n0 row(s) in 0.0000 seconds\n0 row(s) in 0.0000 seconds\n1 row(s) in 0.0000 seconds\n',
      );
      expect(err).toContain("ERROR INVALID_ARGUMENT: unknown command 'scna'");
      expect(err).toContain("did you mean 'scan'?");
    } finally {
      await db.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('shell default address', () => {
  it('is the first node in ./data/cluster.json, else 127.0.0.1:7701', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'tessera-addr-'));
    try {
      expect(defaultAddress(cwd)).toBe(DEFAULT_NODE_ADDRESS);
      mkdirSync(join(cwd, 'data'));
      const processes = [
        { role: 'lock', address: '127.0.0.1:7801' },
        { role: 'node', address: '127.0.0.1:7702' },
        { role: 'node', address: '127.0.0.1:7703' },
      ];
      writeFileSync(join(cwd, 'data', 'cluster.json'), JSON.stringify({ version: 1, processes }));
      expect(defaultAddress(cwd)).toBe('127.0.0.1:7702');
      writeFileSync(join(cwd, 'data', 'cluster.json'), '{not json');
      expect(defaultAddress(cwd)).toBe(DEFAULT_NODE_ADDRESS);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
