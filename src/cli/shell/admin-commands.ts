/**
 * The table (DDL) commands: create, describe, list, exists, drop, truncate, and the no-op
 * disable and enable kept for HBase scripts.
 */
import type { FamilySpec, PlacementSpec } from '../../model/index.js';
import { argError, callOptions, int, message, options, str, tableName } from './arguments.js';
import type { CommandContext, CommandDef, CommandResult } from './command-types.js';
import type { Value } from './parser.js';

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

function placementOf(v: Value & { kind: 'hash' }): PlacementSpec {
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

async function create(ctx: CommandContext): Promise<CommandResult> {
  const name = tableName(ctx);
  const families: FamilySpec[] = [];
  let placement: PlacementSpec | undefined;
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

async function describe(ctx: CommandContext): Promise<CommandResult> {
  const schema = await ctx.session.db.describeTable(tableName(ctx), callOptions(ctx.session));
  return { kind: 'describe', schema };
}

async function list(ctx: CommandContext): Promise<CommandResult> {
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

async function exists(ctx: CommandContext): Promise<CommandResult> {
  const name = tableName(ctx);
  const all = await ctx.session.db.listTables(callOptions(ctx.session));
  ctx.session.tableNames = [...all];
  return message([`Table ${name} ${all.includes(name) ? 'does exist' : 'does not exist'}`]);
}

async function drop(ctx: CommandContext): Promise<CommandResult> {
  const name = tableName(ctx);
  await ctx.session.db.dropTable(name, callOptions(ctx.session));
  ctx.session.tableNames = ctx.session.tableNames.filter((t) => t !== name);
  return message([`Dropped table ${name}`]);
}

async function truncate(ctx: CommandContext): Promise<CommandResult> {
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

function noOp(what: string): (ctx: CommandContext) => Promise<CommandResult> {
  return (ctx) => {
    const name = tableName(ctx);
    return Promise.resolve(
      message([`Note: Tessera tables are always enabled; '${what} ${name}' does nothing.`]),
    );
  };
}

function familiesArgsMax(): number {
  // The table name, the families (the schema bounds their number) and table options.
  return 1 + 256 + 1;
}

/** The table commands, in the order help lists them. */
export const adminCommands: readonly CommandDef[] = [
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
];
