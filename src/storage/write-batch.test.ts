import { describe, expect, it } from 'vitest';
import { ByteWriter } from '../util/byte-io.js';
import { utf8 } from '../util/bytes.js';
import { Prng } from '../util/prng.js';
import {
  decodeBatchPayload,
  encodeBatchPayload,
  WriteBatch,
  type BatchEntry,
} from './write-batch.js';

/** The layout of docs/formats/keys.md written out with the generic writer: the reference. */
function reference(firstSeq: number, entries: readonly BatchEntry[]): Uint8Array {
  const w = new ByteWriter();
  w.u64(firstSeq).varint(entries.length);
  for (const e of entries) w.lengthPrefixed(e.cellKey).lengthPrefixed(e.value);
  return w.finish();
}

describe('write batch payloads', () => {
  it('encode as documented and decode back, for any sizes and sequence numbers', () => {
    const p = new Prng(3);
    for (let i = 0; i < 300; i++) {
      const b = new WriteBatch();
      const n = p.int(6);
      for (let j = 0; j < n; j++) {
        const value = new Uint8Array(p.chance(0.1) ? 20_000 + p.int(200_000) : p.int(200));
        b.put(utf8(`row${p.int(100)}`), utf8('f'), utf8(`q${j}`), p.int(1e9), value);
      }
      if (p.chance(0.3)) b.deleteRow(utf8('gone'), 5);
      const firstSeq = p.chance(0.5) ? p.int(1000) + 1 : Number.MAX_SAFE_INTEGER - 100 - p.int(100);
      const payload = encodeBatchPayload(firstSeq, b.entries);
      expect(payload).toEqual(reference(firstSeq, b.entries));
      const back = decodeBatchPayload(payload, 'x.wal');
      expect(back.firstSeq).toBe(firstSeq);
      expect(back.entries).toEqual(b.entries);
    }
  });

  it('reports malformed payloads as CORRUPTION naming the file', () => {
    const payload = encodeBatchPayload(
      7,
      new WriteBatch().put(utf8('r'), utf8('f'), utf8('q'), 1, utf8('v')).entries,
    );
    for (const bad of [
      payload.subarray(0, payload.length - 1),
      new Uint8Array([...payload, 0]),
      new Uint8Array(3),
    ]) {
      expect(() => decodeBatchPayload(bad, 'db/000007.wal')).toThrow(
        expect.objectContaining({ code: 'CORRUPTION', details: { path: 'db/000007.wal' } }),
      );
    }
  });
});
