/**
 * The shell's commands, HBase-shell style: each takes parsed arguments, calls the public
 * Database/Table API, and returns a CommandResult (plain data that format.ts renders). No
 * printing and no clock here, so commands run the same in the REPL, in `tessera exec` and in
 * tests.
 */
import type { ColumnName, Database, GetOptions, Row, ScanOptions } from '../../client/table-api.js';
import {
  decodeInt64,
  Mutation,
  type FamilySpec,
  type Placement,
  type TableSchema,
} from '../../model/index.js';
import { fromUtf8 } from '../../util/bytes.js';
import { invalidArgument } from '../../util/errors.js';
import { syntaxError, type Position } from './lexer.js';
import { formatError, formatResult } from './format.js';
import { parse, type HashEntry, type Statement, type Value } from './parser.js';

/** Rows a scan without LIMIT returns before it stops and says so; bounds the shell's memory. */
export const scanRowsMax = 10_000;
/** How often `count` reports progress by default (rows), as HBase's INTERVAL. */
export const countIntervalDefault = 1000;

export interface ShellSession {
  readonly db: Database;
  /** Table names, for tab completion; refreshed by list, create, drop and truncate. */
  tableNames: string[];
  /** Cancels the running command (Ctrl-C in the REPL). */
  signal?: AbortSignal;
  /** Progress lines of long commands (count's INTERVAL). */
  progress?: (line: string) => void;
}

export type CommandResult =
  | { readonly kind: 'get'; readonly row: Row | undefined }
  | { readonly kind: 'scan'; readonly rows: readonly Row[]; readonly truncated: boolean }
  | { readonly kind: 'count'; readonly count: number }
  | { readonly kind: 'counter'; readonly value: bigint | undefined }
  | { readonly kind: 'describe'; readonly schema: TableSchema }
  | { readonly kind: 'list'; readonly tables: readonly string[] }
  /** Lines of text, then `N row(s) in …` with `rows` (0 for puts, creates…). */
  | { readonly kind: 'message'; readonly lines: readonly string[]; readonly rows: number }
  /** Text with no timing line. */
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'exit' };

interface Ctx {
  readonly session: ShellSession;
  readonly stmt: Statement;
  readonly args: readonly Value[];
}

interface CommandDef {
  readonly name: string;
  readonly group: 'data' | 'ddl' | 'general';
  readonly usage: readonly string[];
  readonly summary: string;
  readonly minArgs: number;
  readonly maxArgs: number;
  run(ctx: Ctx): Promise<CommandResult>;
}

// ---------------------------------------------------------------------------------------------
// Argument helpers. Errors point at the argument (or the command when one is missing).

function kindName(v: Value): string {
  return v.kind === 'int' ? 'a number' : v.kind === 'bool' ? 'a boolean' : `a ${v.kind}`;
}

function argError(v: Position, message: string, hint?: string): Error {
  return syntaxError(message, v, hint);
}

function str(v: Value, what: string): Value & { kind: 'string' } {
  if (v.kind !== 'string') {
    throw argError(v, `${what} must be a quoted string, not ${kindName(v)}`, `write '…'`);
  }
  return v;
}

/** A string, or an integer taken as its decimal text (as Ruby's to_s would). */
function bytesOf(v: Value, what: string): Uint8Array {
  if (v.kind === 'int') return new TextEncoder().encode(v.value.toString());
  return str(v, what).bytes;
}

function int(v: Value, what: string, min = 0): number {
  if (v.kind !== 'int') throw argError(v, `${what} must be an integer, not ${kindName(v)}`);
  if (v.value < BigInt(min) || v.value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw argError(v, `${what} must be an integer in [${min}, ${Number.MAX_SAFE_INTEGER}]`);
  }
  return Number(v.value);
}

function tableName(ctx: Ctx): string {
  return str(ctx.args[0]!, 'the table name').text;
}

/** `'family:qualifier'` → family and qualifier bytes (binary-safe); `'family'` → no qualifier. */
function splitColumn(v: Value): { family: string; qualifier?: Uint8Array } {
  const b = str(v, 'a column').bytes;
  const colon = b.indexOf(0x3a);
  const family = fromUtf8(colon < 0 ? b : b.subarray(0, colon));
  if (family === '') throw argError(v, 'the column family is empty', "write 'family:qualifier'");
  return colon < 0 ? { family } : { family, qualifier: b.slice(colon + 1) };
}

/** A column to read or delete: `'f:q'` one column, `'f'` the whole family. */
function columnOf(v: Value): ColumnName {
  const c = splitColumn(v);
  return c.qualifier === undefined ? c.family : { family: c.family, qualifier: c.qualifier };
}

/** A cell column for writes: the family and qualifier ('f' alone means the empty qualifier). */
function cellOf(v: Value): { family: string; qualifier: Uint8Array } {
  const c = splitColumn(v);
  return { family: c.family, qualifier: c.qualifier ?? new Uint8Array(0) };
}

function columnsOf(v: Value): ColumnName[] {
  if (v.kind === 'array') return v.items.map(columnOf);
  return [columnOf(v)];
}

function timeRangeOf(v: Value): { min: number; max: number } {
  if (v.kind !== 'array' || v.items.length !== 2) {
    throw argError(v, 'TIMERANGE must be an array of two timestamps', 'write [min, max)');
  }
  const min = int(v.items[0]!, 'TIMERANGE min');
  const max = int(v.items[1]!, 'TIMERANGE max');
  if (min > max) throw argError(v, `TIMERANGE min ${min} is above max ${max}`);
  return { min, max };
}

/** Edit distance counting an adjacent transposition as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate to `word` (case-insensitive), when one is close enough to suggest. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d =
      c.toLowerCase().startsWith(w) && w.length >= 2 ? 0.5 : editDistance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  const allowed = word.length <= 3 ? 1 : Math.max(2, Math.floor(word.length / 3));
  return bestD <= allowed ? best : undefined;
}

/** A hash's entries by upper-cased key, refusing keys outside `allowed` with a suggestion. */
function options(v: Value, allowed: readonly string[], what: string): Map<string, HashEntry> {
  if (v.kind !== 'hash') {
    throw argError(v, `${what} must be a {KEY => value} hash, not ${kindName(v)}`);
  }
  const out = new Map<string, HashEntry>();
  for (const e of v.entries) {
    const key = e.key.toUpperCase();
    if (!allowed.includes(key)) {
      const s = suggest(key, allowed);
      throw argError(
        e.keyPos,
        `unknown ${what} option '${e.key}'`,
        s !== undefined ? `did you mean ${s}?` : `options: ${allowed.join(', ')}`,
      );
    }
    if (out.has(key)) throw argError(e.keyPos, `option '${key}' given twice`);
    out.set(key, e);
  }
  return out;
}

function readOptions(
  o: Map<string, HashEntry>,
): Pick<GetOptions, 'columns' | 'maxVersions' | 'timeRange'> {
  const cols = o.get('COLUMNS') ?? o.get('COLUMN');
  const versions = o.get('VERSIONS');
  const range = o.get('TIMERANGE');
  const ts = o.get('TIMESTAMP');
  if (range !== undefined && ts !== undefined) {
    throw argError(ts.keyPos, 'give TIMERANGE or TIMESTAMP, not both');
  }
  let timeRange: { min: number; max: number } | undefined;
  if (range !== undefined) timeRange = timeRangeOf(range.value);
  if (ts !== undefined) {
    const t = int(ts.value, 'TIMESTAMP');
    timeRange = { min: t, max: t + 1 };
  }
  return {
    ...(cols === undefined ? {} : { columns: columnsOf(cols.value) }),
    ...(versions === undefined ? {} : { maxVersions: int(versions.value, 'VERSIONS', 1) }),
    ...(timeRange === undefined ? {} : { timeRange }),
  };
}

function callOptions(s: ShellSession): { signal?: AbortSignal } {
  return s.signal === undefined ? {} : { signal: s.signal };
}

function message(lines: readonly string[], rows = 0): CommandResult {
  return { kind: 'message', lines, rows };
}

// ---------------------------------------------------------------------------------------------
// DDL

const familyKeys = ['NAME', 'VERSIONS', 'TTL', 'COMPRESSION', 'BLOOMFILTER', 'BLOCKSIZE'];
const tableKeys = ['PLACEMENT', 'REPLICATION'];

function familyOf(v: Value): FamilySpec {
  if (v.kind === 'string') return { name: v.text };
  const o = options(v, familyKeys, 'column family');
  const name = o.get('NAME');
  if (name === undefined) throw argError(v, 'a column family needs a NAME', "{NAME => 'info'}");
  const spec: { -readonly [K in keyof FamilySpec]: FamilySpec[K] } = {
    name: str(name.value, 'NAME').text,
  };
  const versions = o.get('VERSIONS');
  if (versions) spec.maxVersions = int(versions.value, 'VERSIONS', 1);
  const ttl = o.get('TTL');
  if (ttl && !(ttl.value.kind === 'string' && ttl.value.text.toUpperCase() === 'FOREVER')) {
    spec.ttlSeconds = int(ttl.value, 'TTL (seconds)', 1);
  }
  const comp = o.get('COMPRESSION');
  if (comp) {
    const c = str(comp.value, 'COMPRESSION').text.toUpperCase();
    if (c !== 'NONE' && c !== 'SNAPPY') {
      throw argError(comp.value, `unsupported COMPRESSION '${c}'`, "use 'NONE' or 'SNAPPY'");
    }
    spec.compression = c === 'SNAPPY' ? 'snappy' : 'none';
  }
  const bloom = o.get('BLOOMFILTER');
  if (bloom) {
    const b = str(bloom.value, 'BLOOMFILTER').text.toUpperCase();
    if (b !== 'ROW' && b !== 'NONE') {
      throw argError(bloom.value, `unsupported BLOOMFILTER '${b}'`, "use 'ROW' or 'NONE'");
    }
    spec.bloomFilter = b === 'ROW';
  }
  const block = o.get('BLOCKSIZE');
  if (block) spec.blockSize = int(block.value, 'BLOCKSIZE', 1);
  return spec;
}

function placementOf(v: Value & { kind: 'hash' }): Placement {
  const o = options(v, tableKeys, 'table');
  const p = o.get('PLACEMENT');
  const kind = p === undefined ? 'ordered' : str(p.value, 'PLACEMENT').text.toLowerCase();
  const rf = o.get('REPLICATION');
  if (kind === 'ordered') {
    if (rf) throw argError(rf.keyPos, 'REPLICATION applies to hashed tables only');
    return { kind: 'ordered' };
  }
  if (kind === 'hashed') {
    return { kind: 'hashed', replicationFactor: rf ? int(rf.value, 'REPLICATION', 1) : 3 };
  }
  throw argError(p!.value, `unknown PLACEMENT '${kind}'`, "use 'ordered' or 'hashed'");
}

async function create(ctx: Ctx): Promise<CommandResult> {
  const name = tableName(ctx);
  const families: FamilySpec[] = [];
  let placement: Placement | undefined;
  for (const a of ctx.args.slice(1)) {
    if (a.kind === 'hash' && !a.entries.some((e) => e.key.toUpperCase() === 'NAME')) {
      if (a.entries.some((e) => familyKeys.includes(e.key.toUpperCase()))) {
        throw argError(a, 'a column family needs a NAME', "{NAME => 'info', VERSIONS => 3}");
      }
      placement = placementOf(a);
    } else if (a.kind === 'array') {
      for (const item of a.items) families.push(familyOf(item));
    } else {
      families.push(familyOf(a));
    }
  }
  if (families.length === 0) {
    throw argError(ctx.stmt, `create needs at least one column family`, "create 'users', 'info'");
  }
  await ctx.session.db.createTable(
    { name, families, ...(placement === undefined ? {} : { placement }) },
    callOptions(ctx.session),
  );
  if (!ctx.session.tableNames.includes(name)) ctx.session.tableNames.push(name);
  return message([`Created table ${name}`]);
}

async function describe(ctx: Ctx): Promise<CommandResult> {
  const schema = await ctx.session.db.describeTable(tableName(ctx), callOptions(ctx.session));
  return { kind: 'describe', schema };
}

async function list(ctx: Ctx): Promise<CommandResult> {
  const all = await ctx.session.db.listTables(callOptions(ctx.session));
  ctx.session.tableNames = [...all];
  let tables = [...all].sort();
  const pattern = ctx.args[0];
  if (pattern !== undefined) {
    const text = str(pattern, 'the pattern').text;
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${text})$`);
    } catch (err) {
      throw argError(pattern, `bad regular expression: ${(err as Error).message}`);
    }
    tables = tables.filter((t) => re.test(t));
  }
  return { kind: 'list', tables };
}

async function exists(ctx: Ctx): Promise<CommandResult> {
  const name = tableName(ctx);
  const all = await ctx.session.db.listTables(callOptions(ctx.session));
  ctx.session.tableNames = [...all];
  return message([`Table ${name} ${all.includes(name) ? 'does exist' : 'does not exist'}`]);
}

async function drop(ctx: Ctx): Promise<CommandResult> {
  const name = tableName(ctx);
  await ctx.session.db.dropTable(name, callOptions(ctx.session));
  ctx.session.tableNames = ctx.session.tableNames.filter((t) => t !== name);
  return message([`Dropped table ${name}`]);
}

async function truncate(ctx: Ctx): Promise<CommandResult> {
  const name = tableName(ctx);
  const opts = callOptions(ctx.session);
  const schema = await ctx.session.db.describeTable(name, opts);
  await ctx.session.db.dropTable(name, opts);
  await ctx.session.db.createTable(
    { name, families: schema.families, placement: schema.placement },
    opts,
  );
  return message([
    `Truncating '${name}' table (it may take a while):`,
    ' - Dropping table...',
    ' - Creating table with the same schema...',
  ]);
}

function noOp(what: string): (ctx: Ctx) => Promise<CommandResult> {
  return (ctx) => {
    const name = tableName(ctx);
    return Promise.resolve(
      message([`Note: Tessera tables are always enabled; '${what} ${name}' does nothing.`]),
    );
  };
}

// ---------------------------------------------------------------------------------------------
// Data

async function put(ctx: Ctx): Promise<CommandResult> {
  const [, rowV, colV, valV, tsV] = ctx.args as [Value, Value, Value, Value, Value?];
  const row = bytesOf(rowV, 'the row key');
  const { family, qualifier } = cellOf(colV);
  const value = bytesOf(valV, 'the value');
  const ts = tsV === undefined ? undefined : int(tsV, 'the timestamp');
  const m = new Mutation(row).put(family, qualifier, value, ts);
  await ctx.session.db.table(tableName(ctx)).mutate(m, callOptions(ctx.session));
  return message([]);
}

async function get(ctx: Ctx): Promise<CommandResult> {
  const row = bytesOf(ctx.args[1]!, 'the row key');
  let opts: GetOptions = callOptions(ctx.session);
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

function scanOptionsOf(ctx: Ctx, allowed: readonly string[]): ScanOptions {
  const arg = ctx.args[1];
  let opts: ScanOptions = callOptions(ctx.session);
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

async function scan(ctx: Ctx): Promise<CommandResult> {
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

async function count(ctx: Ctx): Promise<CommandResult> {
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

async function del(ctx: Ctx): Promise<CommandResult> {
  const [, rowV, colV, tsV] = ctx.args as [Value, Value, Value, Value?];
  const row = bytesOf(rowV, 'the row key');
  const ts = tsV === undefined ? undefined : int(tsV, 'the timestamp');
  await ctx.session.db.table(tableName(ctx)).delete(row, {
    ...callOptions(ctx.session),
    columns: [columnOf(colV)],
    ...(ts === undefined ? {} : { timestamp: ts }),
  });
  return message([]);
}

async function deleteall(ctx: Ctx): Promise<CommandResult> {
  const [, rowV, colV, tsV] = ctx.args as [Value, Value, Value?, Value?];
  const row = bytesOf(rowV, 'the row key');
  const ts = tsV === undefined ? undefined : int(tsV, 'the timestamp');
  await ctx.session.db.table(tableName(ctx)).delete(row, {
    ...callOptions(ctx.session),
    ...(colV === undefined ? {} : { columns: [columnOf(colV)] }),
    ...(ts === undefined ? {} : { timestamp: ts }),
  });
  return message([]);
}

async function incr(ctx: Ctx): Promise<CommandResult> {
  const [, rowV, colV, byV] = ctx.args as [Value, Value, Value, Value?];
  let delta = 1n;
  if (byV !== undefined) {
    if (byV.kind !== 'int') throw argError(byV, `the increment must be an integer`);
    delta = byV.value;
  }
  const value = await ctx.session.db
    .table(tableName(ctx))
    .increment(bytesOf(rowV, 'the row key'), cellOf(colV), delta, callOptions(ctx.session));
  return { kind: 'counter', value };
}

async function getCounter(ctx: Ctx): Promise<CommandResult> {
  const [, rowV, colV] = ctx.args as [Value, Value, Value];
  const column = cellOf(colV);
  const row = await ctx.session.db
    .table(tableName(ctx))
    .get(bytesOf(rowV, 'the row key'), { ...callOptions(ctx.session), columns: [column] });
  const v = row?.value(column);
  if (v === undefined) return { kind: 'counter', value: undefined };
  if (v.length !== 8) {
    throw invalidArgument(`the cell holds ${v.length} bytes, not an 8-byte counter`, {
      hint: 'counters are written by incr',
    });
  }
  return { kind: 'counter', value: decodeInt64(v) };
}

// ---------------------------------------------------------------------------------------------
// General

function help(ctx: Ctx): Promise<CommandResult> {
  const topic = ctx.args[0];
  if (topic === undefined) return Promise.resolve({ kind: 'text', text: helpText() });
  const name = str(topic, 'the command name').text;
  const def = COMMANDS.get(name);
  if (def === undefined) throw unknownCommand(name, topic);
  return Promise.resolve({ kind: 'text', text: commandHelp(def) });
}

function commandHelp(def: CommandDef): string {
  return [`${def.name}: ${def.summary}`, ...def.usage.map((u) => `  ${u}`)].join('\n');
}

/** The text of `help`: every command, grouped. */
export function helpText(): string {
  const groups: Record<CommandDef['group'], string> = {
    ddl: 'Tables',
    data: 'Data',
    general: 'General',
  };
  const out: string[] = [
    "Tessera shell. Commands take quoted arguments: put 'users', 'row1', 'info:name', 'Ada'",
    "Type help 'COMMAND' for one command's usage.",
    '',
  ];
  for (const g of ['ddl', 'data', 'general'] as const) {
    out.push(`${groups[g]}:`);
    for (const d of COMMANDS.values()) {
      if (d.group === g) out.push(`  ${d.name.padEnd(12)} ${d.summary}`);
    }
    out.push('');
  }
  out.push(
    'Strings: \'single\' (only \\\\ and \\\' escape) or "double" (\\xNN, \\n, \\t, \\\\, \\").',
    'Timestamps are microseconds since the epoch. End a line with ; or a newline.',
  );
  return out.join('\n');
}

const defs: CommandDef[] = [
  {
    name: 'create',
    group: 'ddl',
    summary: 'create a table with column families',
    usage: [
      "create 'users', 'info'",
      "create 'users', 'info', 'stats'",
      "create 'users', {NAME => 'info', VERSIONS => 3, TTL => 86400, COMPRESSION => 'SNAPPY', BLOOMFILTER => 'ROW', BLOCKSIZE => 65536}",
      "create 'events', 'e', {PLACEMENT => 'hashed', REPLICATION => 3}",
    ],
    minArgs: 1,
    maxArgs: familiesArgsMax(),
    run: create,
  },
  {
    name: 'describe',
    group: 'ddl',
    summary: "show a table's column families and settings",
    usage: ["describe 'users'"],
    minArgs: 1,
    maxArgs: 1,
    run: describe,
  },
  {
    name: 'list',
    group: 'ddl',
    summary: 'list tables (optionally matching a regular expression)',
    usage: ['list', "list 'us.*'"],
    minArgs: 0,
    maxArgs: 1,
    run: list,
  },
  {
    name: 'exists',
    group: 'ddl',
    summary: 'say whether a table exists',
    usage: ["exists 'users'"],
    minArgs: 1,
    maxArgs: 1,
    run: exists,
  },
  {
    name: 'drop',
    group: 'ddl',
    summary: 'drop a table and its data (no disable needed)',
    usage: ["drop 'users'"],
    minArgs: 1,
    maxArgs: 1,
    run: drop,
  },
  {
    name: 'truncate',
    group: 'ddl',
    summary: 'delete all data: drop and re-create with the same schema',
    usage: ["truncate 'users'"],
    minArgs: 1,
    maxArgs: 1,
    run: truncate,
  },
  {
    name: 'disable',
    group: 'ddl',
    summary: 'does nothing (Tessera tables need no disabling); accepted for HBase scripts',
    usage: ["disable 'users'"],
    minArgs: 1,
    maxArgs: 1,
    run: noOp('disable'),
  },
  {
    name: 'enable',
    group: 'ddl',
    summary: 'does nothing (Tessera tables are always enabled); accepted for HBase scripts',
    usage: ["enable 'users'"],
    minArgs: 1,
    maxArgs: 1,
    run: noOp('enable'),
  },
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
  {
    name: 'help',
    group: 'general',
    summary: 'list commands, or show one command',
    usage: ['help', "help 'scan'"],
    minArgs: 0,
    maxArgs: 1,
    run: help,
  },
  {
    name: 'exit',
    group: 'general',
    summary: 'leave the shell (also quit, or Ctrl-D)',
    usage: ['exit'],
    minArgs: 0,
    maxArgs: 0,
    run: () => Promise.resolve({ kind: 'exit' }),
  },
  {
    name: 'quit',
    group: 'general',
    summary: 'leave the shell',
    usage: ['quit'],
    minArgs: 0,
    maxArgs: 0,
    run: () => Promise.resolve({ kind: 'exit' }),
  },
];

function familiesArgsMax(): number {
  // The table name, the families (the schema bounds their number) and table options.
  return 1 + 256 + 1;
}

const COMMANDS: ReadonlyMap<string, CommandDef> = new Map(defs.map((d) => [d.name, d]));

/** Every command name, for completion and suggestions. */
export const commandNames: readonly string[] = defs.map((d) => d.name);

function unknownCommand(name: string, at: Position): Error {
  const s = suggest(name, commandNames);
  return syntaxError(
    `unknown command '${name}'`,
    at,
    s !== undefined ? `did you mean '${s}'?` : "type 'help' for the list of commands",
  );
}

/** Runs one parsed statement against the session's database. */
export async function execute(session: ShellSession, stmt: Statement): Promise<CommandResult> {
  const def = COMMANDS.get(stmt.command) ?? COMMANDS.get(stmt.command.toLowerCase());
  if (def === undefined) throw unknownCommand(stmt.command, stmt);
  const n = stmt.args.length;
  if (n < def.minArgs || n > def.maxArgs) {
    const at = n > def.maxArgs ? stmt.args[def.maxArgs]! : stmt;
    throw syntaxError(
      `${def.name} takes ${
        def.minArgs === def.maxArgs ? def.minArgs : `${def.minArgs} to ${def.maxArgs}`
      } argument(s), got ${n}`,
      at,
      `usage: ${def.usage[0]}`,
    );
  }
  return def.run({ session, stmt, args: stmt.args });
}

export interface RunIo {
  /** Result text (already newline-terminated). */
  readonly out: (text: string) => void;
  /** One error report (without a trailing newline). */
  readonly err: (text: string) => void;
  /** A monotonic clock in seconds, for the `in 0.0123 seconds` lines. */
  readonly now: () => number;
}

export interface RunOutcome {
  /** A statement failed (the statements after it did not run). */
  readonly failed: boolean;
  /** `exit` or `quit` ran. */
  readonly exit: boolean;
}

/**
 * Parses and runs `source` (one or more statements), printing each result; stops at the first
 * failure, reported as `ERROR <CODE>: message` with a caret under the column for input errors.
 */
export async function runSource(
  session: ShellSession,
  source: string,
  io: RunIo,
): Promise<RunOutcome> {
  let statements: Statement[];
  try {
    statements = parse(source);
  } catch (err) {
    io.err(formatError(err, source));
    return { failed: true, exit: false };
  }
  for (const stmt of statements) {
    const t0 = io.now();
    try {
      const result = await execute(session, stmt);
      if (result.kind === 'exit') return { failed: false, exit: true };
      io.out(formatResult(result, io.now() - t0));
    } catch (err) {
      io.err(formatError(err, source));
      return { failed: true, exit: false };
    }
  }
  return { failed: false, exit: false };
}
