import { describe, expect, it } from 'vitest';
import { Kind, rowBytesMax } from '../storage/index.js';
import { isTesseraError } from '../util/errors.js';
import { defaultMutationLimits, Mutation, toWriteBatch, type MutationLimits } from './mutation.js';
import { tableSchema } from './schema.js';

const schema = tableSchema({ name: 't', families: [{ name: 'f' }, { name: 'g' }] });

function errorOf(fn: () => unknown): { code: string; message: string; limit?: unknown } {
  try {
    fn();
    return { code: 'ok', message: '' };
  } catch (err) {
    if (!isTesseraError(err)) throw err;
    return { code: err.code, message: err.message, limit: err.details?.['limit'] };
  }
}

/** Kind and value length of each entry (a cell key ends with its kind byte). */
function kinds(m: Mutation, ts: number): { kind: number; value: number }[] {
  return toWriteBatch(m, schema, ts).entries.map((e) => ({
    kind: e.cellKey[e.cellKey.length - 1]!,
    value: e.value.length,
  }));
}

describe('Mutation → WriteBatch', () => {
  it('turns every op into one entry of the right kind', () => {
    const m = new Mutation('row')
      .put('f', 'a', 'v')
      .put('f', 'b', new Uint8Array([1, 2]), 7)
      .deleteVersion('f', 'a', 3)
      .deleteColumn('g', 'c')
      .deleteFamily('g')
      .deleteRow();
    expect(kinds(m, 100)).toEqual([
      { kind: Kind.Put, value: 1 },
      { kind: Kind.Put, value: 2 },
      { kind: Kind.DeleteVersion, value: 0 },
      { kind: Kind.DeleteColumn, value: 0 },
      { kind: Kind.DeleteFamily, value: 0 },
      { kind: Kind.DeleteRow, value: 0 },
    ]);
  });

  it('gives cells without a client timestamp the one server timestamp', () => {
    const a = toWriteBatch(new Mutation('r').put('f', 'q', 'v'), schema, 100);
    const b = toWriteBatch(new Mutation('r').put('f', 'q', 'v', 100), schema, 5);
    expect(a.entries[0]!.cellKey).toEqual(b.entries[0]!.cellKey);
    const c = toWriteBatch(new Mutation('r').put('f', 'q', 'v'), schema, 101);
    expect(c.entries[0]!.cellKey).not.toEqual(a.entries[0]!.cellKey);
  });

  it('rejects unknown families, empty mutations and bad timestamps', () => {
    expect(errorOf(() => toWriteBatch(new Mutation('r').put('x', 'q', 'v'), schema, 1))).toEqual(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: "table 't' has no column family 'x'",
      }),
    );
    expect(errorOf(() => toWriteBatch(new Mutation('r'), schema, 1)).message).toContain(
      'no puts or deletes',
    );
    expect(
      errorOf(() => toWriteBatch(new Mutation('r').put('f', 'q', 'v', -1), schema, 1)).code,
    ).toBe('INVALID_ARGUMENT');
  });

  const tiny: MutationLimits = {
    ...defaultMutationLimits,
    rowKeyBytesMax: 4,
    qualifierBytesMax: 3,
    valueBytesMax: 5,
    rowBytesMax: 100,
    cellsPerRowMax: 3,
  };

  it.each<[string, () => Mutation, string]>([
    ['empty row key', () => new Mutation('').put('f', 'q', 'v'), 'row key must not be empty'],
    ['row key', () => new Mutation('12345').put('f', 'q', 'v'), 'rowKeyBytesMax'],
    ['qualifier', () => new Mutation('r').put('f', 'qqqq', 'v'), 'qualifierBytesMax'],
    ['value', () => new Mutation('r').put('f', 'q', '123456'), 'valueBytesMax'],
    [
      'cells',
      () => new Mutation('r').deleteRow().deleteRow().deleteRow().deleteRow(),
      'cellsPerRowMax',
    ],
  ])('enforces the %s limit with an error naming it', (_what, make, limit) => {
    const e = errorOf(() => toWriteBatch(make(), schema, 1, tiny));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toContain(limit);
    if (limit !== 'row key must not be empty') expect(e.limit).toBe(limit);
  });

  it('enforces the row size limit over all cells of the mutation', () => {
    const m = new Mutation('r').put('f', 'a', '12345').put('f', 'b', '12345');
    expect(errorOf(() => toWriteBatch(m, schema, 1, tiny)).code).toBe('ok');
    const e = errorOf(() => toWriteBatch(m, schema, 1, { ...tiny, rowBytesMax: 40 }));
    expect(e).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'bytes in one row mutation of 47 exceeds the limit rowBytesMax = 40',
      limit: 'rowBytesMax',
    });
  });

  it('keeps the default limits within what the storage engine accepts', () => {
    expect(defaultMutationLimits.rowKeyBytesMax).toBeLessThanOrEqual(rowBytesMax);
  });
});
