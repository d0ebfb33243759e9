import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openEmbedded } from '../../client/index.js';
import type { CallOptions, Database, Table } from '../../client/table-api.js';
import { realEnv } from '../../env/real/index.js';
import { isTesseraError, type TesseraError } from '../../util/errors.js';
import { execute, runSource, suggest, type CommandResult, type ShellSession } from './commands.js';
import { parse } from './parser.js';

let root: string;
let db: Database;
let session: ShellSession;

beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'tessera-shell-'));
  db = await openEmbedded(realEnv({ name: 'shell-test', root, seed: 1 }), 'db');
  session = { db, tableNames: [] };
});

afterEach(async () => {
  await db.close();
  rmSync(root, { recursive: true, force: true });
});

async function run(src: string): Promise<CommandResult> {
  const stmts = parse(src);
  expect(stmts).toHaveLength(1);
  return execute(session, stmts[0]!);
}

async function fails(src: string): Promise<TesseraError> {
  try {
    await run(src);
  } catch (err) {
    if (isTesseraError(err)) return err;
    throw err;
  }
  throw new Error(`expected '${src}' to fail`);
}

/** Runs a script and returns what it printed, with timings replaced by T. */
async function script(src: string): Promise<{ out: string; err: string; failed: boolean }> {
  let out = '';
  let err = '';
  const r = await runSource(session, src, {
    out: (t) => (out += t),
    err: (t) => (err += `${t}\n`),
    now: () => 0,
  });
  return { out: out.replace(/in \d+\.\d+ seconds/g, 'in T seconds'), err, failed: r.failed };
}

const text = (b: Uint8Array | undefined): string | undefined =>
  b === undefined ? undefined : new TextDecoder().decode(b);

describe('shell commands on an embedded database', () => {
  it('creates, lists, describes, checks existence and drops tables', async () => {
    expect(await run("create 'users', 'info'")).toEqual({
      kind: 'message',
      lines: ['Created table users'],
      rows: 0,
    });
    await run(
      "create 'events', {NAME => 'e', VERSIONS => 3, TTL => 86400, COMPRESSION => 'SNAPPY', BLOOMFILTER => 'NONE', BLOCKSIZE => 65536}, {PLACEMENT => 'hashed', REPLICATION => 1}",
    );
    expect(session.tableNames.sort()).toEqual(['events', 'users']);
    expect(await run('list')).toEqual({ kind: 'list', tables: ['events', 'users'] });
    expect(await run("list 'us.*'")).toEqual({ kind: 'list', tables: ['users'] });
    const d = await run("describe 'events'");
    expect(d.kind).toBe('describe');
    if (d.kind !== 'describe') return;
    expect(d.schema.families[0]).toMatchObject({
      name: 'e',
      maxVersions: 3,
      ttlSeconds: 86400,
      compression: 'snappy',
      bloomFilter: false,
      blockSize: 65536,
    });
    expect(d.schema.placement).toEqual({
      kind: 'hashed',
      replicationFactor: 1,
      gcGraceSeconds: 864_000,
    });
    expect(await run("exists 'users'")).toMatchObject({ lines: ['Table users does exist'] });
    expect(await run("disable 'users'")).toMatchObject({ kind: 'message' });
    await run("drop 'users'");
    expect(await run("exists 'users'")).toMatchObject({ lines: ['Table users does not exist'] });
    expect(session.tableNames).toEqual(['events']);
  });

  it('puts, gets and scans with options', async () => {
    await run("create 'users', {NAME => 'info', VERSIONS => 3}");
    for (let i = 0; i < 5; i++) {
      await run(`put 'users', 'row${i}', 'info:name', 'name${i}'`);
    }
    await run(`put 'users', 'row1', 'info:name', 'v1-old', 10`);
    await run(`put 'users', "bin\\x00", 'info:q', "\\xff\\x01"`);

    const g = await run("get 'users', 'row1'");
    expect(g.kind).toBe('get');
    if (g.kind !== 'get') return;
    expect(g.row?.text('info:name')).toBe('name1');
    expect(g.row?.cells).toHaveLength(1);

    const all = await run("get 'users', 'row1', {COLUMN => 'info:name', VERSIONS => 3}");
    expect(all.kind === 'get' && all.row?.cells.map((c) => text(c.value))).toEqual([
      'name1',
      'v1-old',
    ]);
    const old = await run("get 'users', 'row1', {TIMERANGE => [0, 11]}");
    expect(old.kind === 'get' && old.row?.text('info:name')).toBe('v1-old');
    const missing = await run("get 'users', 'nope'");
    expect(missing).toEqual({ kind: 'get', row: undefined });

    const s = await run("scan 'users', {LIMIT => 2}");
    expect(s.kind === 'scan' && s.rows.map((r) => text(r.key))).toEqual(['bin\0', 'row0']);
    const range = await run("scan 'users', {STARTROW => 'row1', STOPROW => 'row3'}");
    expect(range.kind === 'scan' && range.rows.map((r) => text(r.key))).toEqual(['row1', 'row2']);
    const prefix = await run("scan 'users', ROWPREFIXFILTER => 'row4'");
    expect(prefix.kind === 'scan' && prefix.rows.map((r) => text(r.key))).toEqual(['row4']);
    const bin = await run(`get 'users', "bin\\x00", 'info:q'`);
    expect(bin.kind === 'get' && Array.from(bin.row!.cells[0]!.value)).toEqual([0xff, 0x01]);

    expect(await run("count 'users'")).toEqual({ kind: 'count', count: 6 });
  });

  it('deletes columns and rows', async () => {
    await run("create 'users', 'info'");
    await run("put 'users', 'r', 'info:a', '1'");
    await run("put 'users', 'r', 'info:b', '2'");
    await run("delete 'users', 'r', 'info:a'");
    const g = await run("get 'users', 'r'");
    expect(g.kind === 'get' && g.row?.cells.map((c) => text(c.qualifier))).toEqual(['b']);
    await run("deleteall 'users', 'r'");
    expect(await run("get 'users', 'r'")).toEqual({ kind: 'get', row: undefined });
    expect(await run("count 'users'")).toEqual({ kind: 'count', count: 0 });
  });

  it('increments and reads counters', async () => {
    await run("create 'c', 'stats'");
    expect(await run("incr 'c', 'r', 'stats:n'")).toEqual({ kind: 'counter', value: 1n });
    expect(await run("incr 'c', 'r', 'stats:n', 5")).toEqual({ kind: 'counter', value: 6n });
    expect(await run("incr 'c', 'r', 'stats:n', -2")).toEqual({ kind: 'counter', value: 4n });
    expect(await run("get_counter 'c', 'r', 'stats:n'")).toEqual({ kind: 'counter', value: 4n });
    expect(await run("get_counter 'c', 'r', 'stats:none'")).toEqual({
      kind: 'counter',
      value: undefined,
    });
  });

  it('truncates, keeping the schema', async () => {
    await run("create 't', {NAME => 'f', VERSIONS => 2}");
    await run("put 't', 'r', 'f:q', 'v'");
    await run("truncate 't'");
    expect(await run("count 't'")).toEqual({ kind: 'count', count: 0 });
    const d = await run("describe 't'");
    expect(d.kind === 'describe' && d.schema.families[0]!.maxVersions).toBe(2);
  });

  it('prints HBase-style output for a script', async () => {
    const r = await script(
      "create 'users', 'info'; put 'users', 'row1', 'info:name', 'Ada', 1000\nscan 'users'\nget 'users', 'row1'\ncount 'users'",
    );
    expect(r.failed).toBe(false);
    expect(r.out).toBe(
      [
        'Created table users',
        '0 row(s) in T seconds',
        '0 row(s) in T seconds',
        'ROW   COLUMN+CELL',
        ' row1 column=info:name, timestamp=1000, value=Ada',
        '1 row(s) in T seconds',
        'COLUMN     CELL',
        ' info:name timestamp=1000, value=Ada',
        '1 row(s) in T seconds',
        '1 row(s) in T seconds',
        '',
      ].join('\n'),
    );
  });

  it('stops a script at the first error and says where', async () => {
    const r = await script("create 't', 'f'\nput 't', 'r', 'f:q'\nlist");
    expect(r.failed).toBe(true);
    expect(r.out).toBe('Created table t\n0 row(s) in T seconds\n');
    expect(r.err).toMatch(
      /^ERROR INVALID_ARGUMENT: put takes 4 to 5 argument\(s\), got 3 at line 2/,
    );
    expect(r.err).toContain("put 't', 'r', 'f:q'\n^");
  });

  it('exits on exit and quit', async () => {
    expect(await run('exit')).toEqual({ kind: 'exit' });
    expect(
      (await runSource(session, 'quit; list', { out: () => {}, err: () => {}, now: () => 0 })).exit,
    ).toBe(true);
  });
});

describe('shell command errors', () => {
  it('suggests a command for a typo', async () => {
    const e = await fails("sacn 'users'");
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain("unknown command 'sacn'");
    expect(e.message).toContain("did you mean 'scan'?");
    expect(e.details).toMatchObject({ line: 1, column: 1 });
    expect(suggest('deletall', ['delete', 'deleteall'])).toBe('deleteall');
    expect(suggest('zzzzzz', ['scan'])).toBeUndefined();
  });

  it('points at unknown options with a suggestion', async () => {
    await run("create 'users', 'info'");
    const e = await fails("scan 'users', {LIMTI => 3}");
    expect(e.message).toContain("unknown scan option 'LIMTI'");
    expect(e.message).toContain('did you mean LIMIT?');
    expect(e.details).toMatchObject({ line: 1, column: 16 });
  });

  it('checks argument counts and types', async () => {
    expect((await fails('create')).message).toContain('create takes 1 to');
    expect((await fails("create 't'")).message).toContain('at least one column family');
    const e = await fails("put 't', 'r', 'f:q', 'v', 'soon'");
    expect(e.message).toContain('the timestamp must be an integer');
    expect(e.details).toMatchObject({ column: 27 });
    expect((await fails("scan 't', {LIMIT => 0}")).message).toContain('LIMIT must be an integer');
    expect((await fails("scan 't', 5")).message).toContain('must be a {KEY => value} hash');
    expect((await fails("create 't', {NAME => 'f', COMPRESSION => 'LZO'}")).message).toContain(
      "unsupported COMPRESSION 'LZO'",
    );
    expect((await fails("create 't', {VERSIONS => 3}")).message).toContain('needs a NAME');
    expect((await fails("get 't', 'r', {TIMERANGE => [5]}")).message).toContain('TIMERANGE');
    expect((await fails("help 'nope'")).message).toContain("unknown command 'nope'");
  });

  it('passes database errors through with their codes', async () => {
    const e = await fails("get 'missing', 'r'");
    expect(e.code).not.toBe('INTERNAL');
    const r = await script("describe 'missing'");
    expect(r.err).toMatch(/^ERROR [A-Z_]+: /);
  });

  it('answers help', async () => {
    const h = await run('help');
    expect(h.kind === 'text' && h.text).toContain('scan');
    const one = await run("help 'scan'");
    expect(one.kind === 'text' && one.text).toContain('ROWPREFIXFILTER');
  });
});

describe('consistency', () => {
  /** Wraps the session's database so that every Table call's options are kept. */
  function recordOptions(): { method: string; options: unknown }[] {
    const calls: { method: string; options: unknown }[] = [];
    const inner = session.db;
    const recordTable = (t: Table): Table =>
      new Proxy(t, {
        get(target, prop) {
          const v: unknown = Reflect.get(target, prop);
          if (typeof v !== 'function') return v;
          return (...args: unknown[]) => {
            // Every Table method takes its options last.
            calls.push({ method: String(prop), options: args[args.length - 1] });
            return (v as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    session = {
      ...session,
      db: new Proxy(inner, {
        get(target, prop) {
          if (prop === 'table') return (name: string) => recordTable(target.table(name));
          const v: unknown = Reflect.get(target, prop);
          return typeof v === 'function' ? (v as () => unknown).bind(target) : v;
        },
      }),
    };
    return calls;
  }

  it('shows the level, QUORUM until set', async () => {
    expect(await run('consistency')).toEqual({
      kind: 'text',
      text: 'Current consistency level is QUORUM.',
    });
  });

  it('sets the level in any case, quoted or bare, cqlsh-style', async () => {
    expect(await run('CONSISTENCY one')).toEqual({
      kind: 'text',
      text: 'Consistency level set to ONE.',
    });
    expect(session.consistency).toBe('ONE');
    expect(await run('consistency')).toEqual({
      kind: 'text',
      text: 'Current consistency level is ONE.',
    });
    await run("consistency 'Local_Quorum'");
    expect(session.consistency).toBe('LOCAL_QUORUM');
    const r = await script('consistency;CONSISTENCY QUORUM\nConsistency');
    expect(r).toEqual({
      out:
        'Current consistency level is LOCAL_QUORUM.\n' +
        'Consistency level set to QUORUM.\n' +
        'Current consistency level is QUORUM.\n',
      err: '',
      failed: false,
    });
  });

  it('rejects an unknown level, listing the valid ones, and keeps the current one', async () => {
    await run('consistency ALL');
    const e = await fails('consistency MOST');
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain("unknown consistency level 'MOST'");
    expect(e.message).toContain('ONE, TWO, THREE, QUORUM, ALL, LOCAL_ONE, LOCAL_QUORUM');
    expect(e.details).toMatchObject({ line: 1, column: 13 });
    expect((await fails('consistency 2')).message).toContain('must be a quoted string');
    expect((await fails('consistency ONE, TWO')).message).toContain('consistency takes 0 to 1');
    expect(session.consistency).toBe('ALL');
  });

  it("passes the session's level to every data command's table call", async () => {
    await run("create 'users', 'info', 'stats'");
    const calls = recordOptions();
    const data = [
      "put 'users', 'r', 'info:a', '1'",
      "get 'users', 'r'",
      "get 'users', 'r', 'info:a'",
      "scan 'users'",
      "count 'users'",
      "incr 'users', 'r', 'stats:n'",
      "get_counter 'users', 'r', 'stats:n'",
      "delete 'users', 'r', 'info:a'",
      "deleteall 'users', 'r'",
    ];
    for (const src of data) await run(src);
    const methods = ['mutate', 'get', 'get', 'scan', 'scan', 'increment', 'get', 'delete'];
    expect(calls.map((c) => c.method)).toEqual([...methods, 'delete']);
    expect(calls.map((c) => (c.options as CallOptions).consistency)).toEqual(
      Array(9).fill('QUORUM'),
    );

    calls.length = 0;
    await run('consistency ONE');
    for (const src of data) await run(src);
    expect(calls.map((c) => (c.options as CallOptions).consistency)).toEqual(Array(9).fill('ONE'));
    // The put went through with its level: the row reads back.
    await run("put 'users', 'r2', 'info:a', 'kept'");
    const g = await run("get 'users', 'r2'");
    expect(g.kind === 'get' && g.row?.text('info:a')).toBe('kept');
  });

  it('is in help', async () => {
    const h = await run('help');
    expect(h.kind === 'text' && h.text).toMatch(/\n {2}consistency +show or set the consistency/);
    const one = await run("help 'consistency'");
    expect(one.kind === 'text' && one.text).toContain('consistency QUORUM');
  });
});
