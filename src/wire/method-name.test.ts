import { describe, expect, it } from 'vitest';
import { decodeMethod, encodeMethod } from './codec.js';

describe('decodeMethod', () => {
  const decode = (name: string): string | undefined => {
    // Inside a larger buffer, as in a frame.
    const bytes = Uint8Array.from(`xx${name}yy`, (c) => c.charCodeAt(0));
    return decodeMethod(bytes, 2, name.length);
  };

  it('decodes names, the same name again from the cache', () => {
    for (const name of ['table.get', 'table.mutate', 'table.get', 'echo', 'table.mutate']) {
      expect(decode(name)).toBe(name);
    }
    expect(decodeMethod(encodeMethod('lock.acquire'), 0, 'lock.acquire'.length)).toBe(
      'lock.acquire',
    );
  });

  it('tells apart two names whose hashes collide', () => {
    // 'm.291283' and 'm.1052770' have the same hash (found by search); either order.
    expect(decode('m.291283')).toBe('m.291283');
    expect(decode('m.1052770')).toBe('m.1052770');
    expect(decode('m.291283')).toBe('m.291283');
    expect(decode('m.1052770')).toBe('m.1052770');
  });

  it('refuses bytes outside printable ASCII, cached name or not', () => {
    expect(decode('table.get')).toBe('table.get');
    expect(decode('table get')).toBeUndefined();
    expect(decodeMethod(Uint8Array.of(0x61, 0x7f), 0, 2)).toBeUndefined();
    expect(decodeMethod(Uint8Array.of(0x61, 0x80), 0, 2)).toBeUndefined();
  });
});
