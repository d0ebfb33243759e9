import { describe, expect, it } from 'vitest';
import { utf8 } from '../../util/bytes.js';
import {
  checkFileMeta,
  fileMetaProblem,
  joinPath,
  manifestFileName,
  parseFileName,
  tableFileName,
  tempFileName,
  walFileName,
  type FileMeta,
} from './file-meta.js';

describe('file names', () => {
  it('pads numbers to six digits and grows beyond', () => {
    expect(tableFileName(7)).toBe('000007.sst');
    expect(walFileName(42)).toBe('000042.wal');
    expect(manifestFileName(1)).toBe('MANIFEST-000001');
    expect(tempFileName(3)).toBe('000003.dbtmp');
    expect(tableFileName(1_234_567)).toBe('1234567.sst');
    expect(tableFileName(Number.MAX_SAFE_INTEGER)).toBe('9007199254740991.sst');
  });

  it('parses exactly the names it writes', () => {
    for (const n of [0, 1, 99, 999_999, 1_000_000, 123_456_789, Number.MAX_SAFE_INTEGER]) {
      expect(parseFileName(tableFileName(n))).toEqual({ kind: 'table', number: n });
      expect(parseFileName(walFileName(n))).toEqual({ kind: 'wal', number: n });
      expect(parseFileName(manifestFileName(n))).toEqual({ kind: 'manifest', number: n });
      expect(parseFileName(tempFileName(n))).toEqual({ kind: 'temp', number: n });
    }
    expect(parseFileName('CURRENT')).toEqual({ kind: 'current', number: 0 });
  });

  it('rejects everything else', () => {
    for (const name of [
      '1.sst',
      '0000001.sst',
      '000001.SST',
      '000001.sst.tmp',
      'MANIFEST-1',
      'MANIFEST-',
      'MANIFEST-000001x',
      'manifest-000001',
      'CURRENT.bak',
      'LOCK',
      'LOG',
      '',
      '.sst',
      '-00001.sst',
      '99999999999999999999.sst',
      '000001.log',
    ]) {
      expect(parseFileName(name), name).toBeUndefined();
    }
  });

  it('joins paths without doubling slashes', () => {
    expect(joinPath('/db', 'CURRENT')).toBe('/db/CURRENT');
    expect(joinPath('/db/', 'CURRENT')).toBe('/db/CURRENT');
    expect(joinPath('/', 'CURRENT')).toBe('/CURRENT');
    expect(joinPath('db', 'x')).toBe('db/x');
  });
});

describe('FileMeta checks', () => {
  const good: FileMeta = {
    fileNumber: 5,
    level: 2,
    size: 100,
    entries: 3,
    smallest: utf8('a'),
    largest: utf8('b'),
    smallestSeq: 1,
    largestSeq: 9,
  };

  it('accepts a well-formed file and equal bounds', () => {
    expect(fileMetaProblem(good)).toBeUndefined();
    expect(fileMetaProblem({ ...good, largest: utf8('a'), largestSeq: 1 })).toBeUndefined();
  });

  it.each([
    ['file number 0', { fileNumber: 0 }],
    ['fractional file number', { fileNumber: 1.5 }],
    ['level 7', { level: 7 }],
    ['level -1', { level: -1 }],
    ['negative size', { size: -1 }],
    ['unsafe entries', { entries: 2 ** 53 }],
    ['reversed seqs', { smallestSeq: 10 }],
    ['reversed keys', { smallest: utf8('c') }],
  ])('refuses %s', (_what, change) => {
    const meta = { ...good, ...change };
    expect(fileMetaProblem(meta)).toBeTypeOf('string');
    expect(() => checkFileMeta(meta)).toThrow(
      expect.objectContaining({ code: 'ASSERTION_FAILED' }),
    );
  });
});
