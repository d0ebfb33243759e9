import { describe, expect, it } from 'vitest';
import { isTesseraError, type TesseraError } from '../util/errors.js';
import {
  CONSISTENCY_DEFAULT,
  CONSISTENCY_LEVELS,
  isConsistencyLevel,
  parseConsistency,
} from './consistency.js';
import { consistency } from './table-check.js';

function errorOf(fn: () => unknown): TesseraError {
  try {
    fn();
  } catch (err) {
    if (isTesseraError(err)) return err;
    throw err;
  }
  throw new Error('expected an error');
}

const allListed = 'ONE, TWO, THREE, QUORUM, ALL, LOCAL_ONE, LOCAL_QUORUM';

describe('consistency levels', () => {
  it("lists Cassandra's levels and defaults to QUORUM", () => {
    expect(CONSISTENCY_LEVELS).toEqual([
      'ONE',
      'TWO',
      'THREE',
      'QUORUM',
      'ALL',
      'LOCAL_ONE',
      'LOCAL_QUORUM',
    ]);
    expect(CONSISTENCY_DEFAULT).toBe('QUORUM');
  });

  it('recognizes exactly the level names', () => {
    for (const level of CONSISTENCY_LEVELS) expect(isConsistencyLevel(level)).toBe(true);
    for (const v of ['quorum', 'Quorum', ' ONE', 'LOCAL', '', 1, null, undefined, ['ONE']]) {
      expect(isConsistencyLevel(v)).toBe(false);
    }
  });

  it('parses any case to the exact name', () => {
    expect(parseConsistency('quorum')).toBe('QUORUM');
    expect(parseConsistency('Local_Quorum')).toBe('LOCAL_QUORUM');
    for (const level of CONSISTENCY_LEVELS) {
      expect(parseConsistency(level)).toBe(level);
      expect(parseConsistency(level.toLowerCase())).toBe(level);
    }
  });

  it('rejects anything else with INVALID_ARGUMENT listing the levels', () => {
    const e = errorOf(() => parseConsistency('MOST', 'options.consistency'));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toBe(`options.consistency must be one of ${allListed}, got 'MOST'`);
    expect(e.details).toEqual({ field: 'options.consistency' });

    const unnamed = errorOf(() => parseConsistency(3));
    expect(unnamed.message).toBe(`a consistency level must be one of ${allListed}, got number`);
    expect(unnamed.details).toBeUndefined();
    expect(errorOf(() => parseConsistency(null)).message).toContain('got nil');
    expect(errorOf(() => parseConsistency(' ONE')).message).toContain("got ' ONE'");
  });

  it('repeats at most 32 characters of a rejected value', () => {
    const long = 'X'.repeat(10_000);
    const e = errorOf(() => parseConsistency(long));
    expect(e.message).toContain(`got '${'X'.repeat(32)}…'`);
    expect(e.message.length).toBeLessThan(200);
  });
});

describe('the wire check of consistency (table-check.ts)', () => {
  it('is undefined when the field is absent or nil', () => {
    expect(consistency({ table: 't' })).toBeUndefined();
    expect(consistency({ table: 't', consistency: null })).toBeUndefined();
    expect(consistency({ consistency: undefined })).toBeUndefined();
  });

  it('takes every exact level name', () => {
    for (const level of CONSISTENCY_LEVELS) expect(consistency({ consistency: level })).toBe(level);
  });

  it('rejects other case, other strings and other types, naming the field', () => {
    for (const v of ['quorum', 'MOST', '', 1, true, new Uint8Array([0x4f]), ['ONE']]) {
      const e = errorOf(() => consistency({ consistency: v }));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message).toBe(`consistency must be one of ${allListed}`);
      expect(e.details).toEqual({ field: 'consistency' });
    }
    const named = errorOf(() => consistency({ consistency: 'one' }, 'request.consistency'));
    expect(named.message).toMatch(/^request\.consistency must be one of /);
    expect(named.details).toEqual({ field: 'request.consistency' });
  });
});
