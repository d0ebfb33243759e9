import { describe, expect, it } from 'vitest';
import { utf8 } from '../util/bytes.js';
import { isTesseraError } from '../util/errors.js';
import { prefixEnd, readPlan, scanPlan, scanRange } from './read-spec.js';
import { tableSchema } from './schema.js';

const schema = tableSchema({ name: 't', families: [{ name: 'f' }, { name: 'g' }] });
const b = (...xs: number[]): Uint8Array => new Uint8Array(xs);

describe('prefixEnd', () => {
  it.each<[number[], number[] | undefined]>([
    [[0x61], [0x62]],
    [
      [0x61, 0x62],
      [0x61, 0x63],
    ],
    [[0x61, 0xff], [0x62]],
    [[0x61, 0xff, 0xff], [0x62]],
    [[0x00], [0x01]],
    [[0xfe, 0xff], [0xff]],
    [[0xff], undefined],
    [[0xff, 0xff], undefined],
    [[], undefined],
  ])('prefix %j ends before %j', (prefix, end) => {
    const input = b(...prefix);
    expect(prefixEnd(input)).toEqual(end === undefined ? undefined : b(...end));
    expect(input).toEqual(b(...prefix)); // not modified
  });

  it('leaves a Buffer prefix (as msgpack decodes request bodies on Node) unmodified', () => {
    const input = Buffer.from([0x72, 0x6f, 0x77]);
    expect(prefixEnd(input)).toEqual(b(0x72, 0x6f, 0x78));
    expect([...input]).toEqual([0x72, 0x6f, 0x77]);
  });
});

describe('scanRange', () => {
  it('intersects start/stop with the prefix range', () => {
    expect(scanRange({ prefix: 'ab' })).toEqual({
      start: utf8('ab'),
      stop: utf8('ac'),
      empty: false,
    });
    expect(scanRange({ prefix: 'ab', startRow: 'abc' })).toEqual({
      start: utf8('abc'),
      stop: utf8('ac'),
      empty: false,
    });
    expect(scanRange({ prefix: 'ab', startRow: 'a', stopRow: 'abm' })).toEqual({
      start: utf8('ab'),
      stop: utf8('abm'),
      empty: false,
    });
    expect(scanRange({ prefix: 'ab', startRow: 'b' }).empty).toBe(true);
    expect(scanRange({ prefix: 'ab', stopRow: 'aa' }).empty).toBe(true);
    expect(scanRange({ prefix: b(0xff, 0xff) })).toEqual({
      start: b(0xff, 0xff),
      stop: undefined,
      empty: false,
    });
    expect(scanRange({ startRow: '', stopRow: '' })).toEqual({
      start: undefined,
      stop: undefined,
      empty: false,
    });
    expect(scanRange({ startRow: 'b', stopRow: 'b' }).empty).toBe(true);
  });
});

describe('read plans', () => {
  it('defaults to the newest version of the whole row (every declared family)', () => {
    // No selection at all: writes reach declared families only, and schemas never lose one.
    expect(readPlan({}, schema).options).toEqual({ maxVersions: 1 });
  });

  it('translates columns, families, versions and the time range', () => {
    const plan = readPlan(
      {
        families: ['g'],
        columns: [{ family: 'f', qualifier: 'q' }],
        maxVersions: 3,
        timeRange: { min: 5, max: 10 },
      },
      schema,
    );
    expect(plan.options).toEqual({
      maxVersions: 3,
      minTimestamp: 5,
      maxTimestamp: 10,
      families: [utf8('g')],
      columns: [{ family: utf8('f'), qualifier: utf8('q') }],
    });
    expect(plan.selected).toBeUndefined();
  });

  it('reads the columns a filter needs and says which cells were asked for', () => {
    const plan = readPlan(
      {
        families: ['g'],
        filter: { kind: 'valueCompare', op: 'eq', family: 'f', qualifier: utf8('x'), value: b(1) },
      },
      schema,
    );
    expect(plan.options.columns).toEqual([{ family: utf8('f'), qualifier: utf8('x') }]);
    expect(plan.selected!(utf8('g'), utf8('any'))).toBe(true);
    expect(plan.selected!(utf8('f'), utf8('x'))).toBe(false);
  });

  it('rejects unknown families and bad numbers', () => {
    const code = (fn: () => unknown): string => {
      try {
        fn();
        return 'ok';
      } catch (err) {
        return isTesseraError(err) ? err.code : 'foreign';
      }
    };
    expect(code(() => readPlan({ families: ['nope'] }, schema))).toBe('INVALID_ARGUMENT');
    expect(code(() => readPlan({ maxVersions: 0 }, schema))).toBe('INVALID_ARGUMENT');
    expect(code(() => readPlan({ timeRange: { min: 5, max: 4 } }, schema))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(code(() => scanPlan({ limit: 0 }, schema))).toBe('INVALID_ARGUMENT');
    expect(code(() => scanPlan({ batchSize: 1.5 }, schema))).toBe('INVALID_ARGUMENT');
  });

  it('passes the limit to storage only without a filter', () => {
    expect(scanPlan({ limit: 5, batchSize: 2, prefix: 'a' }, schema).options).toEqual(
      expect.objectContaining({ limit: 5, batchRows: 2, startRow: utf8('a'), stopRow: utf8('b') }),
    );
    const filtered = scanPlan({ limit: 5, filter: { kind: 'rowPrefix', prefix: b(1) } }, schema);
    expect(filtered.options.limit).toBeUndefined();
    expect(filtered.limit).toBe(5);
  });
});
