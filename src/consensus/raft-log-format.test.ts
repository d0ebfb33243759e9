import { describe, expect, it } from 'vitest';
import { encodeRecordBytes } from '../storage/log/index.js';
import { concatBytes, toHex, utf8 } from '../util/bytes.js';
import {
  LogState,
  decodeRecord,
  encodeRecord,
  encodeSnapshotFile,
  logFileName,
  parseSeq,
  snapshotFileRecords,
  type RaftRecord,
} from './raft-log-format.js';

const meta = { index: 300, term: 4, config: { voters: [1, 2, 3] } };

describe('raft log format', () => {
  it('matches the worked example in docs/formats/raft-log.md byte for byte', () => {
    const entries: RaftRecord = {
      kind: 'entries',
      entries: [
        { index: 1, term: 1, kind: 'noop', data: new Uint8Array() },
        { index: 2, term: 1, kind: 'normal', data: utf8('hi') },
      ],
    };
    const framed = (r: RaftRecord) => toHex(encodeRecordBytes(encodeRecord(r)));
    expect(toHex(encodeRecord(entries))).toBe('030201010300010201026869');
    expect(framed(entries)).toBe('8b036ba20c000000014e0fb222030201010300010201026869');
    expect(framed({ kind: 'hard-state', hardState: { term: 1, vote: 2, commit: 1 } })).toBe(
      'bd3c5f36040000000190998f3902010201',
    );
    expect(framed({ kind: 'truncate', index: 2 })).toBe('b27f002702000000014e7960f70402');
    expect(framed({ kind: 'snapshot', meta })).toBe('9ef2e7a90800000001d5cfd19f01ac020403010203');
    expect(toHex(encodeSnapshotFile({ meta, data: utf8('S') }))).toBe('ac0204030102030153');
  });

  it('cuts a snapshot file into records of at most the given size, concatenating to the file', () => {
    const s = { meta, data: utf8('abcdefghij') };
    const records = snapshotFileRecords(s, 4);
    // The metadata and data length (10), then the data in pieces.
    expect(records.map((r) => toHex(r))).toEqual([
      'ac020403010203' + '0a',
      toHex(utf8('abcd')),
      toHex(utf8('efgh')),
      toHex(utf8('ij')),
    ]);
    expect(toHex(concatBytes(records))).toBe(toHex(encodeSnapshotFile(s)));
    // The data pieces are views: no copy of a large snapshot is made.
    expect(records[1]!.buffer).toBe(s.data.buffer);
    expect(snapshotFileRecords({ meta, data: new Uint8Array(0) }, 4)).toHaveLength(1);
  });

  it('round-trips records and refuses unknown tags and trailing bytes', () => {
    const recs: RaftRecord[] = [
      { kind: 'snapshot', meta },
      { kind: 'hard-state', hardState: { term: 9, vote: 3, commit: 301 } },
      { kind: 'truncate', index: 302 },
    ];
    for (const r of recs) expect(decodeRecord(encodeRecord(r))).toEqual(r);
    expect(() => decodeRecord(Uint8Array.of(9))).toThrow(/unknown raft log record tag/);
    expect(() => decodeRecord(Uint8Array.of(4, 2, 0))).toThrow(/trailing/);
  });

  it('replays by the rules: truncate range, consecutive entries, snapshot first', () => {
    const s = new LogState();
    const e = (index: number) => ({ index, term: 1, kind: 'normal' as const, data: utf8('x') });
    expect(s.apply({ kind: 'entries', entries: [e(1), e(2)] }, true)).toBeUndefined();
    expect(s.apply({ kind: 'entries', entries: [e(4)] }, false)).toMatch(/expected/);
    expect(s.apply({ kind: 'truncate', index: 5 }, false)).toMatch(/outside/);
    expect(s.apply({ kind: 'truncate', index: 2 }, false)).toBeUndefined();
    expect(s.lastIndex).toBe(1);
    expect(s.apply({ kind: 'snapshot', meta }, false)).toMatch(/after the first/);
  });

  it('names files with 16 hex digits', () => {
    expect(logFileName(26)).toBe('log-000000000000001a');
    expect(parseSeq('log-000000000000001a', 'log-')).toBe(26);
    expect(parseSeq('log-1a', 'log-')).toBeUndefined();
  });
});
