/**
 * Renders shell results as the HBase shell does: `ROW  COLUMN+CELL` tables for scans,
 * `COLUMN  CELL` for gets, `N row(s) in 0.0123 seconds` (the caller measures the time), and
 * describe's `{NAME => 'info', …}` lines. Bytes print as text where they are printable UTF-8
 * and as `\xNN` otherwise, so output can be pasted back into a double-quoted string. Pure.
 */
import type { ResultCell, Row } from '../../client/table-api.js';
import type { FamilySchema, TableSchema } from '../../model/index.js';
import { isTesseraError, toTesseraError } from '../../util/errors.js';
import type { CommandResult } from './commands.js';
import { pointAt } from './parser.js';

function hex2(b: number): string {
  return `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`;
}

/** Length of the valid UTF-8 sequence starting at b[i] (0 when invalid), and its code point. */
function utf8At(b: Uint8Array, i: number): [number, number] {
  const c = b[i]!;
  const n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
  if (n === 0 || (n === 3 && c >= 0xf0) || i + n > b.length) return [0, 0];
  let cp = c & (n === 2 ? 0x1f : n === 3 ? 0x0f : 0x07);
  for (let k = 1; k < n; k++) {
    const cc = b[i + k]!;
    if ((cc & 0xc0) !== 0x80) return [0, 0];
    cp = (cp << 6) | (cc & 0x3f);
  }
  const min = n === 2 ? 0x80 : n === 3 ? 0x800 : 0x10000;
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return [0, 0];
  return [n, cp];
}

/**
 * Bytes for display: printable ASCII as is, `\` as `\x5C`, other control bytes and invalid
 * UTF-8 as `\xNN` (HBase's toStringBinary), printable non-ASCII characters as themselves.
 */
export function escapeBytes(b: Uint8Array): string {
  let out = '';
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    if (c >= 0x20 && c < 0x7f && c !== 0x5c) {
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    const [n, cp] = c >= 0x80 ? utf8At(b, i) : [0, 0];
    // C1 controls, line/paragraph separators and BOM/format characters stay escaped.
    if (n > 0 && !/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}]/u.test(String.fromCodePoint(cp))) {
      out += String.fromCodePoint(cp);
      i += n;
      continue;
    }
    out += hex2(c);
    i++;
  }
  return out;
}

/** `N row(s) in 0.0123 seconds`. */
export function rowCountLine(rows: number, seconds: number): string {
  return `${rows} row(s) in ${seconds.toFixed(4)} seconds`;
}

function cellText(c: ResultCell): string {
  return `timestamp=${c.timestamp}, value=${escapeBytes(c.value)}`;
}

function columnText(c: ResultCell): string {
  return `${escapeBytes(new TextEncoder().encode(c.family))}:${escapeBytes(c.qualifier)}`;
}

/** Two columns: header row, then ` left  right` lines aligned on the widest left cell. */
function twoColumns(
  h1: string,
  h2: string,
  rows: readonly (readonly [string, string])[],
): string[] {
  const w = Math.max(h1.length, ...rows.map(([l]) => l.length));
  return [`${h1.padEnd(w + 2)}${h2}`, ...rows.map(([l, r]) => ` ${l.padEnd(w + 1)}${r}`)];
}

export function formatScan(rows: readonly Row[]): string[] {
  const lines: (readonly [string, string])[] = [];
  for (const row of rows) {
    const key = escapeBytes(row.key);
    for (const c of row.cells) lines.push([key, `column=${columnText(c)}, ${cellText(c)}`]);
  }
  return twoColumns('ROW', 'COLUMN+CELL', lines);
}

export function formatGet(row: Row | undefined): string[] {
  const cells = row?.cells ?? [];
  return twoColumns(
    'COLUMN',
    'CELL',
    cells.map((c) => [columnText(c), cellText(c)] as const),
  );
}

const ttlUnits: readonly (readonly [string, number])[] = [
  ['DAY', 86400],
  ['HOUR', 3600],
  ['MINUTE', 60],
  ['SECOND', 1],
];

/** HBase's TTL text: `86400 SECONDS (1 DAY)`, or `FOREVER`. */
export function ttlText(seconds: number | undefined): string {
  if (seconds === undefined) return 'FOREVER';
  const parts: string[] = [];
  let left = seconds;
  for (const [unit, size] of ttlUnits) {
    const n = Math.floor(left / size);
    left -= n * size;
    if (n > 0) parts.push(`${n} ${unit}${n === 1 ? '' : 'S'}`);
  }
  return `${seconds} SECONDS (${parts.join(' ')})`;
}

export function familyText(f: FamilySchema): string {
  return (
    `{NAME => '${f.name}', VERSIONS => '${f.maxVersions}', TTL => '${ttlText(f.ttlSeconds)}', ` +
    `COMPRESSION => '${f.compression.toUpperCase()}', ` +
    `BLOOMFILTER => '${f.bloomFilter ? 'ROW' : 'NONE'}', BLOCKSIZE => '${f.blockSize}'}`
  );
}

export function formatDescribe(schema: TableSchema): string[] {
  const p = schema.placement;
  const placement =
    p.kind === 'ordered' ? 'ordered' : `hashed, replication factor ${p.replicationFactor}`;
  return [
    `Table ${schema.name} is ENABLED`,
    `${schema.name} (placement: ${placement})`,
    'COLUMN FAMILIES DESCRIPTION',
    ...schema.families.map(familyText),
  ];
}

/** The full text of a result (lines joined, ending with a newline; empty for exit). */
export function formatResult(result: CommandResult, seconds: number): string {
  const lines = resultLines(result, seconds);
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

function resultLines(r: CommandResult, seconds: number): string[] {
  switch (r.kind) {
    case 'scan': {
      const rows = r.rows.length;
      const note = r.truncated
        ? [`(stopped after ${rows} rows; page on with LIMIT and STARTROW)`]
        : [];
      return [...formatScan(r.rows), ...note, rowCountLine(rows, seconds)];
    }
    case 'get':
      return [...formatGet(r.row), rowCountLine(r.row?.cells.length ?? 0, seconds)];
    case 'count':
      return [rowCountLine(r.count, seconds)];
    case 'counter':
      return [
        r.value === undefined
          ? 'No counter found at specified coordinates'
          : `COUNTER VALUE = ${r.value}`,
        rowCountLine(0, seconds),
      ];
    case 'describe':
      return [...formatDescribe(r.schema), rowCountLine(r.schema.families.length, seconds)];
    case 'list':
      return ['TABLE', ...r.tables, rowCountLine(r.tables.length, seconds)];
    case 'message':
      return [...r.lines, rowCountLine(r.rows, seconds)];
    case 'text':
      return [r.text];
    case 'exit':
      return [];
  }
}

/**
 * `ERROR <CODE>: message`, and for input errors that carry a position, the offending line of
 * `source` with a caret under the column.
 */
export function formatError(err: unknown, source?: string): string {
  const e = toTesseraError(err);
  const head = `ERROR ${e.code}: ${e.message}`;
  const line = e.details?.['line'];
  const column = e.details?.['column'];
  if (
    source !== undefined &&
    isTesseraError(e, 'INVALID_ARGUMENT') &&
    typeof line === 'number' &&
    typeof column === 'number'
  ) {
    return `${head}\n${pointAt(source, line, column)}`;
  }
  return head;
}
