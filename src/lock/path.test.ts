import { describe, expect, it } from 'vitest';
import {
  MAX_PATH_BYTES,
  MAX_PATH_DEPTH,
  baseName,
  childPath,
  isAncestorOrSelf,
  isValidPath,
  parentPath,
  pathSegments,
  validateName,
  validatePath,
} from './path.js';
import { isTesseraError } from '../util/errors.js';

function code(f: () => void): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return isTesseraError(e) ? e.code : 'not a TesseraError';
  }
}

describe('lock paths', () => {
  it('accepts absolute, normal paths', () => {
    for (const p of ['/', '/a', '/a/b', '/tessera/master', '/ünï/çødé', '/a.b/..c/x-1_2', '/😀']) {
      expect(() => validatePath(p), p).not.toThrow();
    }
  });

  it('refuses malformed paths with INVALID_PATH', () => {
    const bad = [
      '',
      'a',
      'a/b',
      '//',
      '/a/',
      '/a//b',
      '/.',
      '/a/..',
      '/a/./b',
      '/a\u0000b',
      '/a\nb',
      '/a\u007fb',
      '/a\u0085',
      '/\ud800',
      '/x\udc00y',
      '/\uffff',
    ];
    for (const p of bad) {
      expect(
        code(() => validatePath(p)),
        JSON.stringify(p),
      ).toBe('INVALID_PATH');
      expect(isValidPath(p)).toBe(false);
    }
  });

  it('bounds length in UTF-8 bytes and depth', () => {
    expect(isValidPath('/' + 'a'.repeat(MAX_PATH_BYTES - 1))).toBe(true);
    expect(isValidPath('/' + 'a'.repeat(MAX_PATH_BYTES))).toBe(false);
    // 3 bytes per character in UTF-8: short in UTF-16 units, too long in bytes.
    expect(isValidPath('/' + '€'.repeat(Math.ceil(MAX_PATH_BYTES / 3)))).toBe(false);
    expect(isValidPath('/a'.repeat(MAX_PATH_DEPTH))).toBe(true);
    expect(isValidPath('/a'.repeat(MAX_PATH_DEPTH + 1))).toBe(false);
  });

  it('splits and joins', () => {
    expect(pathSegments('/')).toEqual([]);
    expect(pathSegments('/a/b')).toEqual(['a', 'b']);
    expect(parentPath('/a')).toBe('/');
    expect(parentPath('/a/b/c')).toBe('/a/b');
    expect(baseName('/a/b/c')).toBe('c');
    expect(childPath('/', 'a')).toBe('/a');
    expect(childPath('/a', 'b')).toBe('/a/b');
    expect(code(() => parentPath('/'))).toBe('INVALID_PATH');
    expect(code(() => baseName('/'))).toBe('INVALID_PATH');
    expect(isAncestorOrSelf('/', '/a')).toBe(true);
    expect(isAncestorOrSelf('/a', '/a/b')).toBe(true);
    expect(isAncestorOrSelf('/a', '/a')).toBe(true);
    expect(isAncestorOrSelf('/a', '/ab')).toBe(false);
    expect(code(() => validateName('a/b'))).toBe('INVALID_PATH');
    expect(code(() => validateName('..'))).toBe('INVALID_PATH');
    expect(() => validateName('ok')).not.toThrow();
  });
});
