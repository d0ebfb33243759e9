import { describe, expect, it } from 'vitest';
import { isTesseraError, type TesseraError } from '../../util/errors.js';
import { EdnList, EdnSymbol, keyword, parseEdn, parseEdnAll } from './parse-edn.js';

function parseError(text: string): TesseraError {
  try {
    parseEdnAll(text);
  } catch (err) {
    if (isTesseraError(err, 'INVALID_ARGUMENT')) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

describe('parseEdn', () => {
  it('reads scalars', () => {
    expect(parseEdn('nil')).toBeNull();
    expect(parseEdn('true')).toBe(true);
    expect(parseEdn('false')).toBe(false);
    expect(parseEdn('42')).toBe(42);
    expect(parseEdn('-7')).toBe(-7);
    expect(parseEdn('+3')).toBe(3);
    expect(parseEdn('12N')).toBe(12);
    expect(parseEdn('1.5')).toBe(1.5);
    expect(parseEdn('-2.5e3')).toBe(-2500);
    expect(parseEdn('"x 0 1 y"')).toBe('x 0 1 y');
    expect(parseEdn('"a\\"b\\\\c\\n\\u0041"')).toBe('a"b\\c\nA');
    expect(parseEdn('\\a')).toBe('a');
    expect(parseEdn('\\newline')).toBe('\n');
    expect(parseEdn('""')).toBe('');
  });

  it('interns keywords and symbols', () => {
    expect(parseEdn(':timed-out')).toBe(keyword('timed-out'));
    expect(parseEdn(':a/b')).toBe(keyword('a/b'));
    expect(parseEdn('foo')).toBe(EdnSymbol.of('foo'));
    expect(String(keyword('ok'))).toBe(':ok');
  });

  it('reads collections', () => {
    expect(parseEdn('[3 0]')).toEqual([3, 0]);
    expect(parseEdn('[]')).toEqual([]);
    expect(parseEdn('[1 [2 [3]]]')).toEqual([1, [2, [3]]]);
    const list = parseEdn('(1 :a "b")');
    expect(list).toBeInstanceOf(EdnList);
    expect((list as EdnList).items).toEqual([1, keyword('a'), 'b']);
    expect(parseEdn('#{1 2}')).toEqual(new Set([1, 2]));
  });

  it('reads a Jepsen event map', () => {
    const m = parseEdn('{:process 9, :type :invoke, :f :append, :key "0", :value "x 9 0 y"}');
    expect(m).toBeInstanceOf(Map);
    const map = m as Map<unknown, unknown>;
    expect(map.get(keyword('process'))).toBe(9);
    expect(map.get(keyword('type'))).toBe(keyword('invoke'));
    expect(map.get(keyword('key'))).toBe('0');
    expect(map.get(keyword('value'))).toBe('x 9 0 y');
    expect(map.size).toBe(5);
  });

  it('skips whitespace, commas, comments and #_ discards', () => {
    const forms = parseEdnAll('; a comment\n1, 2 ;; more\n#_ [ignored] 3\n\n{:a #_ :gone 1}\n');
    expect(forms.map((f) => f.line)).toEqual([2, 2, 3, 5]);
    expect(forms.slice(0, 3).map((f) => f.value)).toEqual([1, 2, 3]);
    expect((forms[3]!.value as Map<unknown, unknown>).get(keyword('a'))).toBe(1);
  });

  it('reports errors with line and column', () => {
    const unterminated = parseError('{:a 1}\n  "abc');
    expect(unterminated.message).toMatch(/unterminated string at line 2/);
    expect(unterminated.details?.line).toBe(2);

    const close = parseError('[1 2)');
    expect(close.message).toMatch(/expected '\]', got '\)' at line 1, column 5/);
    expect(close.details).toEqual({ line: 1, column: 5 });

    expect(parseError('\n\n  {:a 1 :b}').message).toMatch(
      /odd number of forms at line 3, column 3/,
    );
    expect(parseError('[1 2').message).toMatch(/unterminated collection/);
    expect(parseError(')').message).toMatch(/unexpected '\)' at line 1, column 1/);
    expect(parseError('[1\n  12abc]').message).toMatch(/bad number '12abc' at line 2, column 3/);
    expect(parseError(':').message).toMatch(/bad keyword/);
    expect(parseError('"\\q"').message).toMatch(/bad escape/);
    expect(parseError('#inst "2020"').message).toMatch(/unsupported dispatch/);
    expect(parseError('\\nope').message).toMatch(/unknown character/);
  });

  it('parseEdn wants exactly one value', () => {
    expect(() => parseEdn('1 2')).toThrow(/exactly one EDN value, found 2/);
    expect(() => parseEdn('  ')).toThrow(/found 0/);
  });

  it('bounds nesting', () => {
    expect(parseError('['.repeat(600)).message).toMatch(/nesting deeper than 512/);
  });
});
