/**
 * Argument helpers shared by the commands: reading strings, integers, columns, time ranges and
 * {KEY => value} option hashes out of parsed values, and building results. Errors point at the
 * argument (or the command when one is missing).
 */
import type { CallOptions, ColumnName, GetOptions } from '../../client/table-api.js';
import { CONSISTENCY_DEFAULT } from '../../model/index.js';
import { fromUtf8 } from '../../util/bytes.js';
import type { CommandContext, CommandResult, ShellSession } from './command-types.js';
import { syntaxError, type Position } from './lexer.js';
import type { HashEntry, Value } from './parser.js';
import { suggest } from './suggest.js';

function kindName(v: Value): string {
  return v.kind === 'int' ? 'a number' : v.kind === 'bool' ? 'a boolean' : `a ${v.kind}`;
}

export function argError(v: Position, message: string, hint?: string): Error {
  return syntaxError(message, v, hint);
}

export function str(v: Value, what: string): Value & { kind: 'string' } {
  if (v.kind !== 'string') {
    throw argError(v, `${what} must be a quoted string, not ${kindName(v)}`, `write '…'`);
  }
  return v;
}

/** A string, or an integer taken as its decimal text (as Ruby's to_s would). */
export function bytesOf(v: Value, what: string): Uint8Array {
  if (v.kind === 'int') return new TextEncoder().encode(v.value.toString());
  return str(v, what).bytes;
}

export function int(v: Value, what: string, min = 0): number {
  if (v.kind !== 'int') throw argError(v, `${what} must be an integer, not ${kindName(v)}`);
  if (v.value < BigInt(min) || v.value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw argError(v, `${what} must be an integer in [${min}, ${Number.MAX_SAFE_INTEGER}]`);
  }
  return Number(v.value);
}

export function tableName(ctx: CommandContext): string {
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
export function columnOf(v: Value): ColumnName {
  const c = splitColumn(v);
  return c.qualifier === undefined ? c.family : { family: c.family, qualifier: c.qualifier };
}

/** A cell column for writes: the family and qualifier ('f' alone means the empty qualifier). */
export function cellOf(v: Value): { family: string; qualifier: Uint8Array } {
  const c = splitColumn(v);
  return { family: c.family, qualifier: c.qualifier ?? new Uint8Array(0) };
}

export function columnsOf(v: Value): ColumnName[] {
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

/** A hash's entries by upper-cased key, refusing keys outside `allowed` with a suggestion. */
export function options(
  v: Value,
  allowed: readonly string[],
  what: string,
): Map<string, HashEntry> {
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

export function readOptions(
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

export function callOptions(s: ShellSession): { signal?: AbortSignal } {
  return s.signal === undefined ? {} : { signal: s.signal };
}

/** The options of a data command's table call: callOptions and the session's consistency level. */
export function dataOptions(s: ShellSession): CallOptions {
  const consistency = s.consistency ?? CONSISTENCY_DEFAULT;
  return s.signal === undefined ? { consistency } : { signal: s.signal, consistency };
}

export function message(lines: readonly string[], rows = 0): CommandResult {
  return { kind: 'message', lines, rows };
}
