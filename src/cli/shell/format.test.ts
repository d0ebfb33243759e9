import { describe, expect, it } from 'vitest';
import type { ResultCell, Row } from '../../client/table-api.js';
import { tableSchema } from '../../model/index.js';
import { TesseraError, invalidArgument } from '../../util/errors.js';
import { escapeBytes, formatError, formatResult, rowCountLine, ttlText } from './format.js';
import { syntaxError } from './lexer.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function row(key: string | Uint8Array, cells: [string, string | Uint8Array, number][]): Row {
  const rc: ResultCell[] = cells.map(([col, value, timestamp]) => {
    const [family, qualifier] = col.split(':') as [string, string];
    return {
      family,
      qualifier: enc(qualifier),
      timestamp,
      value: typeof value === 'string' ? enc(value) : value,
    };
  });
  return {
    key: typeof key === 'string' ? enc(key) : key,
    cells: rc,
    value: () => undefined,
    text: () => undefined,
  };
}

describe('shell output', () => {
  it('escapes unprintable bytes as \\xNN and keeps printable UTF-8', () => {
    expect(escapeBytes(enc('Ada'))).toBe('Ada');
    expect(escapeBytes(Uint8Array.from([0, 0x41, 0x7f, 0xff, 0x0a]))).toBe('\\x00A\\x7F\\xFF\\x0A');
    expect(escapeBytes(enc('a\\b'))).toBe('a\\x5Cb');
    expect(escapeBytes(enc('café ü 😀'))).toBe('café ü 😀');
    // Truncated or overlong UTF-8 sequences, C1 controls and U+2028 stay escaped.
    expect(escapeBytes(Uint8Array.from([0xc3]))).toBe('\\xC3');
    expect(escapeBytes(Uint8Array.from([0xc0, 0x80]))).toBe('\\xC0\\x80');
    expect(escapeBytes(enc('\u0085'))).toBe('\\xC2\\x85');
    expect(escapeBytes(enc('\u2028'))).toBe('\\xE2\\x80\\xA8');
    expect(escapeBytes(new Uint8Array(0))).toBe('');
  });

  it('formats timing lines', () => {
    expect(rowCountLine(3, 0.01234)).toBe('3 row(s) in 0.0123 seconds');
    expect(rowCountLine(0, 2)).toBe('0 row(s) in 2.0000 seconds');
  });

  it('formats a scan as ROW / COLUMN+CELL', () => {
    const rows = [
      row('row1', [
        ['info:name', 'Ada', 1700000000000000],
        ['info:born', '1815', 1700000000000000],
      ]),
      row(Uint8Array.from([0x72, 0x00]), [['info:n', Uint8Array.from([0, 0, 0, 5]), 7]]),
    ];
    expect(formatResult({ kind: 'scan', rows, truncated: false }, 0.5)).toBe(
      [
        'ROW    COLUMN+CELL',
        ' row1  column=info:name, timestamp=1700000000000000, value=Ada',
        ' row1  column=info:born, timestamp=1700000000000000, value=1815',
        ' r\\x00 column=info:n, timestamp=7, value=\\x00\\x00\\x00\\x05',
        '2 row(s) in 0.5000 seconds',
        '',
      ].join('\n'),
    );
    expect(formatResult({ kind: 'scan', rows: [], truncated: false }, 0)).toBe(
      'ROW  COLUMN+CELL\n0 row(s) in 0.0000 seconds\n',
    );
    expect(formatResult({ kind: 'scan', rows: rows.slice(0, 1), truncated: true }, 0)).toContain(
      '(stopped after 1 rows; page on with LIMIT and STARTROW)',
    );
  });

  it('formats a get as COLUMN / CELL, counting cells', () => {
    expect(formatResult({ kind: 'get', row: row('r', [['info:name', 'Ada', 5]]) }, 0.001)).toBe(
      'COLUMN     CELL\n info:name timestamp=5, value=Ada\n1 row(s) in 0.0010 seconds\n',
    );
    expect(formatResult({ kind: 'get', row: undefined }, 0)).toBe(
      'COLUMN  CELL\n0 row(s) in 0.0000 seconds\n',
    );
  });

  it('formats describe like the HBase shell', () => {
    const schema = tableSchema({
      name: 'users',
      families: [
        { name: 'info', maxVersions: 3, ttlSeconds: 90061, compression: 'snappy' },
        { name: 'x', bloomFilter: false },
      ],
    });
    expect(formatResult({ kind: 'describe', schema }, 0)).toBe(
      [
        'Table users is ENABLED',
        'users (placement: ordered)',
        'COLUMN FAMILIES DESCRIPTION',
        "{NAME => 'info', VERSIONS => '3', TTL => '90061 SECONDS (1 DAY 1 HOUR 1 MINUTE 1 SECOND)', COMPRESSION => 'SNAPPY', BLOOMFILTER => 'ROW', BLOCKSIZE => '65536'}",
        "{NAME => 'x', VERSIONS => '1', TTL => 'FOREVER', COMPRESSION => 'NONE', BLOOMFILTER => 'NONE', BLOCKSIZE => '65536'}",
        '2 row(s) in 0.0000 seconds',
        '',
      ].join('\n'),
    );
    expect(ttlText(86400)).toBe('86400 SECONDS (1 DAY)');
    expect(ttlText(7200)).toBe('7200 SECONDS (2 HOURS)');
  });

  it('formats lists, counters, counts, messages, help and exit', () => {
    expect(formatResult({ kind: 'list', tables: ['a', 'b'] }, 0)).toBe(
      'TABLE\na\nb\n2 row(s) in 0.0000 seconds\n',
    );
    expect(formatResult({ kind: 'counter', value: 6n }, 0)).toBe(
      'COUNTER VALUE = 6\n0 row(s) in 0.0000 seconds\n',
    );
    expect(formatResult({ kind: 'counter', value: undefined }, 0)).toContain('No counter found');
    expect(formatResult({ kind: 'count', count: 42 }, 1)).toBe('42 row(s) in 1.0000 seconds\n');
    expect(formatResult({ kind: 'message', lines: ['Created table t'], rows: 0 }, 0)).toBe(
      'Created table t\n0 row(s) in 0.0000 seconds\n',
    );
    expect(formatResult({ kind: 'text', text: 'hello' }, 0)).toBe('hello\n');
    expect(formatResult({ kind: 'exit' }, 0)).toBe('');
  });

  it('formats errors with their code and, for input errors, a caret', () => {
    const src = "scan 'users', {LIMTI => 3}";
    const e = syntaxError("unknown scan option 'LIMTI'", { offset: 15, line: 1, column: 16 });
    expect(formatError(e, src)).toBe(
      `ERROR INVALID_ARGUMENT: unknown scan option 'LIMTI' at line 1, column 16\n${src}\n               ^`,
    );
    expect(formatError(new TesseraError('NOT_FOUND', 'no table x'), src)).toBe(
      'ERROR NOT_FOUND: no table x',
    );
    expect(formatError(invalidArgument('bad'))).toBe('ERROR INVALID_ARGUMENT: bad');
    expect(formatError(new Error('boom'))).toBe('ERROR INTERNAL: boom');
  });
});
