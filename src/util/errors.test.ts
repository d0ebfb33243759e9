import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { realEnv } from '../env/real/index.js';
import { fromUtf8 } from './bytes.js';
import { ERROR_CODES, TesseraError, isErrorCode, toTesseraError } from './errors.js';

/** docs/errors.md, read through a real Env rooted at docs/. */
const docsDir = realEnv({ root: fileURLToPath(new URL('../../docs', import.meta.url)) });
const doc = fromUtf8(await docsDir.fs.readFile('errors.md'));

function documentedCodes(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const m of doc.matchAll(/^\|\s*`([A-Z_]+)`\s*\|\s*(.*?)\s*\|$/gm)) rows.set(m[1]!, m[2]!);
  return rows;
}

describe('error codes', () => {
  it('every code in errors.ts is documented in docs/errors.md with its meaning', () => {
    const documented = documentedCodes();
    for (const [code, meaning] of Object.entries(ERROR_CODES)) {
      expect(documented.get(code), `docs/errors.md row for ${code}`).toBe(meaning);
    }
  });

  it('docs/errors.md lists no code that errors.ts lacks', () => {
    for (const code of documentedCodes().keys()) expect(isErrorCode(code), code).toBe(true);
  });

  it('codes are upper snake case and unique', () => {
    const codes = Object.keys(ERROR_CODES);
    for (const c of codes) expect(c).toMatch(/^[A-Z][A-Z0-9_]*$/);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('wraps foreign errors as INTERNAL and keeps TesseraErrors as they are', () => {
    const e = new TesseraError('NOT_FOUND', 'gone', { path: '/x' });
    expect(toTesseraError(e)).toBe(e);
    const wrapped = toTesseraError(new RangeError('boom'));
    expect(wrapped.code).toBe('INTERNAL');
    expect(wrapped.message).toBe('boom');
    expect(wrapped.cause).toBeInstanceOf(RangeError);
    expect(String(e)).toBe('NOT_FOUND: gone');
  });
});
