import { describe, expect, it } from 'vitest';
import type { Cell } from '../storage/index.js';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { applyFilter, compareWith, filterColumns, type CompareOp, type Filter } from './filters.js';

const row = utf8('user1');
function cell(family: string, qualifier: string, timestamp: number, value: string): Cell {
  return { row, family: utf8(family), qualifier: utf8(qualifier), timestamp, value: utf8(value) };
}
const cells: Cell[] = [
  cell('f', 'age', 20, 'b'),
  cell('f', 'age', 10, 'a'),
  cell('f', 'name', 10, 'ann'),
  cell('f', 'nick', 30, 'an'),
  cell('g', 'name', 5, 'x'),
];
const show = (cs: readonly Cell[]): string[] =>
  cs.map((c) => `${fromUtf8(c.family)}:${fromUtf8(c.qualifier)}@${c.timestamp}`);
const run = (f: Filter, r: Uint8Array = row): string[] => show(applyFilter(f, r, cells));

describe('filters', () => {
  it('columnPrefix keeps cells whose qualifier starts with the prefix', () => {
    expect(run({ kind: 'columnPrefix', prefix: utf8('n') })).toEqual([
      'f:name@10',
      'f:nick@30',
      'g:name@5',
    ]);
    expect(run({ kind: 'columnPrefix', prefix: utf8('') })).toHaveLength(5);
  });

  it('qualifier keeps equal qualifiers, optionally in one family', () => {
    expect(run({ kind: 'qualifier', qualifier: utf8('name') })).toEqual(['f:name@10', 'g:name@5']);
    expect(run({ kind: 'qualifier', qualifier: utf8('name'), family: 'g' })).toEqual(['g:name@5']);
  });

  it.each<[CompareOp, string, boolean]>([
    ['eq', 'b', true],
    ['eq', 'a', false], // only the newest version counts
    ['ne', 'a', true],
    ['ne', 'b', false],
    ['lt', 'c', true],
    ['lt', 'b', false],
    ['le', 'b', true],
    ['le', 'a', false],
    ['gt', 'a', true],
    ['gt', 'b', false],
    ['ge', 'b', true],
    ['ge', 'c', false],
  ])('valueCompare %s %s on the newest version → %s', (op, value, keeps) => {
    const f: Filter = {
      kind: 'valueCompare',
      op,
      family: 'f',
      qualifier: utf8('age'),
      value: utf8(value),
    };
    expect(run(f)).toHaveLength(keeps ? 5 : 0);
  });

  it('valueCompare keeps rows missing the column unless filterIfMissing', () => {
    const f = {
      kind: 'valueCompare',
      op: 'eq',
      family: 'g',
      qualifier: utf8('age'),
      value: utf8('b'),
    } as const;
    expect(run(f)).toHaveLength(5);
    expect(run({ ...f, filterIfMissing: true })).toEqual([]);
  });

  it('rowPrefix keeps whole rows by key', () => {
    expect(run({ kind: 'rowPrefix', prefix: utf8('user') })).toHaveLength(5);
    expect(run({ kind: 'rowPrefix', prefix: utf8('users') })).toEqual([]);
  });

  it('timestampRange keeps cells in [min, max)', () => {
    expect(run({ kind: 'timestampRange', min: 10, max: 30 })).toEqual([
      'f:age@20',
      'f:age@10',
      'f:name@10',
    ]);
    expect(run({ kind: 'timestampRange', min: 20 })).toEqual(['f:age@20', 'f:nick@30']);
    expect(run({ kind: 'timestampRange', max: 10 })).toEqual(['g:name@5']);
  });

  it('and applies in turn; or keeps the union in read order', () => {
    const name: Filter = { kind: 'qualifier', qualifier: utf8('name') };
    const recent: Filter = { kind: 'timestampRange', min: 10 };
    expect(run({ kind: 'and', filters: [name, recent] })).toEqual(['f:name@10']);
    expect(run({ kind: 'or', filters: [name, { kind: 'timestampRange', min: 30 }] })).toEqual([
      'f:name@10',
      'f:nick@30',
      'g:name@5',
    ]);
    expect(run({ kind: 'and', filters: [{ kind: 'rowPrefix', prefix: utf8('x') }, name] })).toEqual(
      [],
    );
    expect(run({ kind: 'and', filters: [] })).toHaveLength(5);
    expect(run({ kind: 'or', filters: [] })).toHaveLength(5);
  });

  it('compares values as unsigned bytes and lists the columns filters read', () => {
    expect(compareWith('lt', new Uint8Array([0x7f]), new Uint8Array([0x80]))).toBe(true);
    expect(compareWith('lt', new Uint8Array([1]), new Uint8Array([1, 0]))).toBe(true);
    const vc: Filter = {
      kind: 'valueCompare',
      op: 'eq',
      family: 'f',
      qualifier: utf8('q'),
      value: utf8(''),
    };
    expect(
      filterColumns({ kind: 'or', filters: [vc, { kind: 'and', filters: [vc] }] }),
    ).toHaveLength(2);
  });
});
