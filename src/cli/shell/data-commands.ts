/**
 * The data commands: put, get, scan, count, delete, deleteall, incr and get_counter. Each
 * passes the session's consistency level (dataOptions); the client sends it with the calls
 * that take one (put, get, delete) and ignores it elsewhere.
 */
import type { GetOptions, Row, ScanOptions } from '../../client/table-api.js';
import { decodeInt64, Mutation } from '../../model/index.js';
import { fromUtf8 } from '../../util/bytes.js';
import { invalidArgument } from '../../util/errors.js';
import {
  argError,
  bytesOf,
  cellOf,
  columnOf,
  columnsOf,
  dataOptions,
  int,
  message,
  options,
  readOptions,
  tableName,
} from './arguments.js';
import type { CommandContext, CommandDef, CommandResult } from './command-types.js';
import type { Value } from './parser.js';

/** Rows a scan without LIMIT returns before it stops and says so; bounds the shell's memory. */
export const scanRowsMax = 10_000;
/** How often `count` reports progress by default (rows), as HBase's INTERVAL. */
export const countIntervalDefault = 1000;

async function put(ctx: CommandContext): Promise<CommandResult> {
  const [, rowV, colV, valV, tsV] = ctx.args as [Value, Value, Value, Value, Value?];
  const row = bytesOf(rowV, 'the row key');
  const { family, qualifier } = cellOf(colV);
  const value = bytesOf(valV, 'the value');
  const ts = tsV === undefined ? undefined : int(tsV, 'the timestamp');
  const m = new Mutation(row).put(family, qualifier, value, ts);
  await ctx.session.db.table(tableName(ctx)).mutate(m, dataOptions(ctx.session));
  return message([]);
}

async function get(ctx: CommandContext): Promise<CommandResult> {
  const row = bytesOf(ctx.args[1]!, 'the row key');
  let opts: GetOptions = dataOptions(ctx.session);
  const rest = ctx.args.slice(2);
  if (rest.length === 1 && rest[0]!.kind === 'hash') {
    const o = options(rest[0]!, ['COLUMN', 'COLUMNS', 'VERSIONS', 'TIMERANGE', 'TIMESTAMP'], 'get');
    opts = { ...opts, ...readOptions(o) };
  } else if (rest.length > 0) {
    opts = { ...opts, columns: rest.flatMap(columnsOf) };
  }
  const result = await ctx.session.db.table(tableName(ctx)).get(row, opts);
  return { kind: 'get', row: result };
}

const scanKeys = [
  'LIMIT',
  'STARTROW',
  'STOPROW',
  'ENDROW',
  'ROWPREFIXFILTER',
  'COLUMN',
  'COLUMNS',
  'VERSIONS',
  'TIMERANGE',
  'TIMESTAMP',
  'CACHE',
];

function scanOptionsOf(ctx: CommandContext, allowed: readonly string[]): ScanOptions {
  const arg = ctx.args[1];
  let opts: ScanOptions = dataOptions(ctx.session);
  if (arg === undefined) return opts;
  const o = options(arg, allowed, ctx.stmt.command);
  const bytesOpt = (k: string): Uint8Array | undefined => {
    const e = o.get(k);
    return e === undefined ? undefined : bytesOf(e.value, k);
  };
  const start = bytesOpt('STARTROW');
  const stop = bytesOpt('STOPROW') ?? bytesOpt('ENDROW');
  const prefix = bytesOpt('ROWPREFIXFILTER');
  const limit = o.get('LIMIT');
  const cache = o.get('CACHE');
  opts = {
    ...opts,
    ...readOptions(o),
    ...(start === undefined ? {} : { startRow: start }),
    ...(stop === undefined ? {} : { stopRow: stop }),
    ...(prefix === undefined ? {} : { prefix }),
    ...(limit === undefined ? {} : { limit: int(limit.value, 'LIMIT', 1) }),
    ...(cache === undefined ? {} : { batchRows: int(cache.value, 'CACHE', 1) }),
  };
  return opts;
}

async function scan(ctx: CommandContext): Promise<CommandResult> {
  const opts = scanOptionsOf(ctx, scanKeys);
  const bound = opts.limit ?? scanRowsMax;
  const rows: Row[] = [];
  let truncated = false;
  for await (const row of ctx.session.db.table(tableName(ctx)).scan(opts)) {
    if (rows.length >= bound) {
      truncated = opts.limit === undefined;
      break;
    }
    rows.push(row);
  }
  return { kind: 'scan', rows, truncated };
}

async function count(ctx: CommandContext): Promise<CommandResult> {
  const allowed = ['INTERVAL', 'CACHE', 'STARTROW', 'STOPROW', 'ENDROW', 'ROWPREFIXFILTER'];
  const o = ctx.args[1] === undefined ? undefined : options(ctx.args[1], allowed, 'count');
  const interval = o?.get('INTERVAL');
  const every = interval === undefined ? countIntervalDefault : int(interval.value, 'INTERVAL', 1);
  const opts = scanOptionsOf(ctx, allowed);
  let n = 0;
  for await (const row of ctx.session.db.table(tableName(ctx)).scan(opts)) {
    n++;
    if (n % every === 0) ctx.session.progress?.(`Current count: ${n}, row: ${fromUtf8(row.key)}`);
  }
  return { kind: 'count', count: n };
}

async function del(ctx: CommandContext): Promise<CommandResult> {
  const [, rowV, colV, tsV] = ctx.args as [Value, Value, Value, Value?];
  const row = bytesOf(rowV, 'the row key');
  const ts = tsV === undefined ? undefined : int(tsV, 'the timestamp');
  await ctx.session.db.table(tableName(ctx)).delete(row, {
    ...dataOptions(ctx.session),
    columns: [columnOf(colV)],
    ...(ts === undefined ? {} : { timestamp: ts }),
  });
  return message([]);
}

async function deleteall(ctx: CommandContext): Promise<CommandResult> {
  const [, rowV, colV, tsV] = ctx.args as [Value, Value, Value?, Value?];
  const row = bytesOf(rowV, 'the row key');
  const ts = tsV === undefined ? undefined : int(tsV, 'the timestamp');
  await ctx.session.db.table(tableName(ctx)).delete(row, {
    ...dataOptions(ctx.session),
    ...(colV === undefined ? {} : { columns: [columnOf(colV)] }),
    ...(ts === undefined ? {} : { timestamp: ts }),
  });
  return message([]);
}

async function incr(ctx: CommandContext): Promise<CommandResult> {
  const [, rowV, colV, byV] = ctx.args as [Value, Value, Value, Value?];
  let delta = 1n;
  if (byV !== undefined) {
    if (byV.kind !== 'int') throw argError(byV, `the increment must be an integer`);
    delta = byV.value;
  }
  const value = await ctx.session.db
    .table(tableName(ctx))
    .increment(bytesOf(rowV, 'the row key'), cellOf(colV), delta, dataOptions(ctx.session));
  return { kind: 'counter', value };
}

async function getCounter(ctx: CommandContext): Promise<CommandResult> {
  const [, rowV, colV] = ctx.args as [Value, Value, Value];
  const column = cellOf(colV);
  const row = await ctx.session.db
    .table(tableName(ctx))
    .get(bytesOf(rowV, 'the row key'), { ...dataOptions(ctx.session), columns: [column] });
  const v = row?.value(column);
  if (v === undefined) return { kind: 'counter', value: undefined };
  if (v.length !== 8) {
    throw invalidArgument(`the cell holds ${v.length} bytes, not an 8-byte counter`, {
      hint: 'counters are written by incr',
    });
  }
  return { kind: 'counter', value: decodeInt64(v) };
}

/** The data commands, in the order help lists them. */
export const dataCommands: readonly CommandDef[] = [
  {
    name: 'put',
    group: 'data',
    summary: 'write a cell (optionally at a timestamp in microseconds)',
    usage: [
      "put 'users', 'row1', 'info:name', 'Ada'",
      "put 'users', 'row1', 'info:name', 'Ada', 1700000000000000",
    ],
    minArgs: 4,
    maxArgs: 5,
    run: put,
  },
  {
    name: 'get',
    group: 'data',
    summary: 'read a row (columns, versions, time range)',
    usage: [
      "get 'users', 'row1'",
      "get 'users', 'row1', 'info:name'",
      "get 'users', 'row1', 'info:name', 'info:born'",
      "get 'users', 'row1', {COLUMN => ['info:name', 'stats'], VERSIONS => 3, TIMERANGE => [0, 1700000000000000]}",
    ],
    minArgs: 2,
    maxArgs: 2 + 64,
    run: get,
  },
  {
    name: 'scan',
    group: 'data',
    summary: 'read rows in key order',
    usage: [
      "scan 'users'",
      "scan 'users', {LIMIT => 10, STARTROW => 'a', STOPROW => 'z'}",
      "scan 'users', {ROWPREFIXFILTER => 'user1', COLUMNS => ['info:name'], VERSIONS => 2}",
      'options: LIMIT, STARTROW, STOPROW (exclusive), ROWPREFIXFILTER, COLUMNS, VERSIONS, TIMERANGE, TIMESTAMP, CACHE',
    ],
    minArgs: 1,
    maxArgs: 2,
    run: scan,
  },
  {
    name: 'count',
    group: 'data',
    summary: 'count the rows of a table',
    usage: ["count 'users'", "count 'users', {INTERVAL => 10000, CACHE => 1000}"],
    minArgs: 1,
    maxArgs: 2,
    run: count,
  },
  {
    name: 'delete',
    group: 'data',
    summary: 'delete every version of a column (at or before a timestamp)',
    usage: [
      "delete 'users', 'row1', 'info:name'",
      "delete 'users', 'row1', 'info:name', 1700000000000000",
    ],
    minArgs: 3,
    maxArgs: 4,
    run: del,
  },
  {
    name: 'deleteall',
    group: 'data',
    summary: 'delete a whole row (or one column or family of it)',
    usage: ["deleteall 'users', 'row1'", "deleteall 'users', 'row1', 'info'"],
    minArgs: 2,
    maxArgs: 4,
    run: deleteall,
  },
  {
    name: 'incr',
    group: 'data',
    summary: 'add to a 64-bit counter cell (default 1) and show the new value',
    usage: ["incr 'users', 'row1', 'stats:visits'", "incr 'users', 'row1', 'stats:visits', 5"],
    minArgs: 3,
    maxArgs: 4,
    run: incr,
  },
  {
    name: 'get_counter',
    group: 'data',
    summary: "show a counter cell's value",
    usage: ["get_counter 'users', 'row1', 'stats:visits'"],
    minArgs: 3,
    maxArgs: 3,
    run: getCounter,
  },
];
