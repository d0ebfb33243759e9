import { describe, expect, it } from 'vitest';
import { isTesseraError, type TesseraError } from '../../util/errors.js';
import { isInputComplete, tokenize } from './lexer.js';
import { parse, pointAt, type Value } from './parser.js';

function parseError(src: string): TesseraError {
  try {
    parse(src);
  } catch (err) {
    if (isTesseraError(err, 'INVALID_ARGUMENT')) return err;
    throw err;
  }
  throw new Error(`expected a syntax error for ${src}`);
}

/** A Value without positions, for readable expectations. */
function plain(v: Value): unknown {
  switch (v.kind) {
    case 'string':
      return v.text;
    case 'int':
      return v.value;
    case 'bool':
      return v.value;
    case 'nil':
      return null;
    case 'array':
      return v.items.map(plain);
    case 'hash':
      return Object.fromEntries(v.entries.map((e) => [e.key, plain(e.value)]));
  }
}

function args(src: string): unknown[] {
  const [stmt] = parse(src);
  return stmt!.args.map(plain);
}

function bytesOf(src: string): number[] {
  const v = parse(`x ${src}`)[0]!.args[0]!;
  if (v.kind !== 'string') throw new Error('not a string');
  return Array.from(v.bytes);
}

describe('shell parser', () => {
  it('parses commands with string, integer and nested arguments', () => {
    const [s] = parse("put 'users', 'row1', 'info:name', 'Ada', 1700000000000000");
    expect(s!.command).toBe('put');
    expect(s!.args.map(plain)).toEqual(['users', 'row1', 'info:name', 'Ada', 1700000000000000n]);
    expect(args("create 'users', {NAME => 'info', VERSIONS => 3, 'TTL' => 86400}")).toEqual([
      'users',
      { NAME: 'info', VERSIONS: 3n, TTL: 86400n },
    ]);
    expect(args("get 't', 'r', {COLUMN => ['a:b', 'c'], TIMERANGE => [0, -1]}")).toEqual([
      't',
      'r',
      { COLUMN: ['a:b', 'c'], TIMERANGE: [0n, -1n] },
    ]);
    expect(args('x [], {}, true, false, nil, 0x1F, 1_000')).toEqual([
      [],
      {},
      true,
      false,
      null,
      31n,
      1000n,
    ]);
    expect(parse('list')[0]).toMatchObject({ command: 'list', args: [], line: 1, column: 1 });
  });

  it('reads bare words as strings for cqlsh-style commands only', () => {
    const [s] = parse('CONSISTENCY LOCAL_QUORUM');
    expect(s!.command).toBe('CONSISTENCY');
    expect(s!.args).toEqual([
      {
        offset: 12,
        line: 1,
        column: 13,
        kind: 'string',
        bytes: new TextEncoder().encode('LOCAL_QUORUM'),
        text: 'LOCAL_QUORUM',
      },
    ]);
    expect(args("consistency 'one'")).toEqual(['one']);
    expect(args('consistency true')).toEqual(['true']);
    expect(parseError('scan users').message).toContain("unexpected word 'users'");
  });

  it('accepts a trailing hash without braces, and parentheses', () => {
    expect(args("scan 'users', LIMIT => 10, STARTROW => 'a'")).toEqual([
      'users',
      { LIMIT: 10n, STARTROW: 'a' },
    ]);
    expect(args("get('t', 'r')")).toEqual(['t', 'r']);
    expect(args("x :NAME => 'n'")).toEqual([{ NAME: 'n' }]);
  });

  it('splits statements on ; and newlines, skipping comments', () => {
    const stmts = parse("list # all tables\n\ncount 't'; scan 't' # done\n# only a comment");
    expect(stmts.map((s) => s.command)).toEqual(['list', 'count', 'scan']);
    expect(stmts[1]).toMatchObject({ line: 3, column: 1, source: "count 't'" });
    expect(stmts[2]).toMatchObject({ line: 3, column: 12 });
    expect(parse('  ;; \n ')).toEqual([]);
  });

  it('lets hashes and arrays span lines', () => {
    const stmts = parse("create 't', {\n  NAME => 'f',\n  VERSIONS => 2\n}\nlist");
    expect(stmts.map((s) => s.command)).toEqual(['create', 'list']);
    expect(stmts[0]!.args.map(plain)).toEqual(['t', { NAME: 'f', VERSIONS: 2n }]);
    expect(parse("scan 'users',\n  {LIMIT => 1}")[0]!.args.map(plain)).toEqual([
      'users',
      { LIMIT: 1n },
    ]);
    expect(parse("scan 'users', LIMIT => 1,\n STARTROW => 'a'")[0]!.args.map(plain)).toEqual([
      'users',
      { LIMIT: 1n, STARTROW: 'a' },
    ]);
  });

  it("decodes escapes: all in double quotes, only \\\\ and \\' in single quotes", () => {
    expect(bytesOf('"\\x41\\x00\\xff\\n\\t\\\\\\"\\\'"')).toEqual([
      0x41, 0, 0xff, 10, 9, 0x5c, 0x22, 0x27,
    ]);
    expect(bytesOf('"\\u00e9\\u{1F600}"')).toEqual([0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80]);
    expect(bytesOf("'it\\'s \\\\ \\x41'")).toEqual(Array.from(Buffer.from("it's \\ \\x41")));
    expect(bytesOf("'é'")).toEqual([0xc3, 0xa9]);
    expect(bytesOf("''")).toEqual([]);
  });

  it('reports errors with line, column and a hint', () => {
    const cases: [string, number, number, string][] = [
      ["put 'users", 1, 5, 'unterminated string'],
      ["scan 't', {LIMIT => 10", 1, 23, "expected ',' or '}' in hash"],
      ["scan 't', {LIMIT = 10}", 1, 18, "unexpected character '='"],
      ["scan 't', {LIMIT 10}", 1, 18, "expected '=>' after hash key 'LIMIT'"],
      ["get 't' 'r'", 1, 9, "expected ',' or end of statement"],
      ['get users', 1, 5, "unexpected word 'users'"],
      ["'users'", 1, 1, 'expected a command name'],
      ["list\nput 't', 'r', [1, 2", 2, 20, "expected ',' or ']' in array"],
      ['x "\\xZZ"', 1, 4, 'invalid \\x escape'],
      ['x 12ab', 1, 5, "malformed number '12a'"],
      ['x 1.5', 1, 4, "malformed number '1.'"],
      ["x 'a',", 1, 7, 'expected a value'],
      ["x {1 => 'a'}", 1, 4, 'expected a hash key'],
      ['x {A => 1, A => 2}', 1, 12, "hash key 'A' given twice"],
      ["x A => 1, 'b'", 1, 11, 'KEY => value pairs must come last'],
      ["get('t' 'r')", 1, 9, "expected ',' or end of statement"],
    ];
    for (const [src, line, column, message] of cases) {
      const e = parseError(src);
      expect(e.message, src).toContain(message);
      expect(e.message, src).toContain(`line ${line}, column ${column}`);
      expect(e.details, src).toMatchObject({ line, column });
    }
    expect(parseError('get users').details?.['hint']).toContain("'users'");
  });

  it('bounds nesting depth', () => {
    expect(parseError(`x ${'['.repeat(40)}${']'.repeat(40)}`).message).toContain('nest deeper');
  });

  it('draws a caret under the column', () => {
    expect(pointAt("list\nget 't' 'r'", 2, 9)).toBe("get 't' 'r'\n        ^");
  });

  it('knows when multi-line input is complete', () => {
    expect(isInputComplete("scan 'users'")).toBe(true);
    expect(isInputComplete("scan 'users', {LIMIT => 10")).toBe(false);
    expect(isInputComplete("put 'users', 'r',")).toBe(false);
    expect(isInputComplete("put 'users")).toBe(false);
    expect(isInputComplete("scan 't', {LIMIT =>")).toBe(false);
    expect(isInputComplete("scan 't', {\nLIMIT => 1\n}")).toBe(true);
    // A syntax error is "complete": running it reports the error.
    expect(isInputComplete('scan ` oops')).toBe(true);
    expect(isInputComplete('')).toBe(true);
  });

  it('tokenizes with positions across lines', () => {
    const t = tokenize("a\n  'b'");
    expect(t.map((x) => [x.kind, x.line, x.column])).toEqual([
      ['word', 1, 1],
      ['separator', 1, 2],
      ['string', 2, 3],
      ['eof', 2, 6],
    ]);
  });
});
