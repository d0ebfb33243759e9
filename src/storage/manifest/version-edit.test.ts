import { describe, expect, it } from 'vitest';
import { ByteWriter } from '../../util/byte-io.js';
import { toHex, utf8 } from '../../util/bytes.js';
import { TesseraError, isTesseraError } from '../../util/errors.js';
import { Prng } from '../../util/prng.js';
import { encodeRecordBytes } from '../log/index.js';
import { randomEdit } from './testdata/gen.js';
import {
  EditTag,
  decodeVersionEdit,
  encodeVersionEdit,
  versionEditProblem,
  type VersionEdit,
} from './version-edit.js';

/** An edit as decode returns it: absent optional fields, no empty compactPointers. */
function normalized(e: VersionEdit): VersionEdit {
  return {
    ...(e.formatName !== undefined && { formatName: e.formatName }),
    ...(e.logNumber !== undefined && { logNumber: e.logNumber }),
    ...(e.nextFileNumber !== undefined && { nextFileNumber: e.nextFileNumber }),
    ...(e.lastSequence !== undefined && { lastSequence: e.lastSequence }),
    ...((e.compactPointers?.length ?? 0) > 0 && { compactPointers: e.compactPointers }),
    deletedFiles: e.deletedFiles,
    addedFiles: e.addedFiles,
  };
}

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
}

/** Decodes, returning 'ok' or the error code; anything but a CORRUPTION TesseraError fails. */
function decodeOutcome(bytes: Uint8Array): VersionEdit | 'corruption' {
  try {
    return decodeVersionEdit(bytes, '/db/MANIFEST-000009');
  } catch (err) {
    if (!isTesseraError(err, 'CORRUPTION')) throw err;
    expect(err.message).toContain('/db/MANIFEST-000009');
    expect(err.details?.path).toBe('/db/MANIFEST-000009');
    return 'corruption';
  }
}

describe('VersionEdit encoding', () => {
  it('round-trips random edits, canonically (property test)', () => {
    const prng = new Prng(0xed17);
    for (let i = 0; i < 3_000; i++) {
      const edit = randomEdit(prng);
      const bytes = encodeVersionEdit(edit);
      const back = decodeVersionEdit(bytes);
      expect(back).toEqual(normalized(edit));
      expect(encodeVersionEdit(back)).toEqual(bytes);
    }
  });

  it('encodes the empty edit as zero bytes', () => {
    const empty: VersionEdit = { deletedFiles: [], addedFiles: [] };
    expect(encodeVersionEdit(empty).length).toBe(0);
    expect(decodeVersionEdit(new Uint8Array(0))).toEqual(empty);
  });

  it('accepts fields in any order and returns copies of keys', () => {
    const w = new ByteWriter();
    w.varint(EditTag.AddedFile).varint(1).varint(8).varint(10).varint(2).varint(3).varint(4);
    w.lengthPrefixed(utf8('a')).lengthPrefixed(utf8('b'));
    w.varint(EditTag.LastSequence).varint(300);
    w.varint(EditTag.DeletedFile).varint(0).varint(3);
    const bytes = w.finish();
    const edit = decodeVersionEdit(bytes);
    expect(edit.lastSequence).toBe(300);
    expect(edit.deletedFiles).toEqual([{ level: 0, fileNumber: 3 }]);
    expect(edit.addedFiles[0]!.fileNumber).toBe(8);
    bytes.fill(0);
    expect(edit.addedFiles[0]!.smallest).toEqual(utf8('a'));
  });

  // The worked example of docs/formats/manifest.md, byte for byte.
  it('matches the worked example in docs/formats/manifest.md', () => {
    const edit: VersionEdit = {
      logNumber: 7,
      nextFileNumber: 9,
      lastSequence: 300,
      compactPointers: [{ level: 1, key: utf8('kiwi') }],
      deletedFiles: [{ level: 0, fileNumber: 3 }],
      addedFiles: [
        {
          fileNumber: 8,
          level: 1,
          size: 4096,
          entries: 100,
          smallestSeq: 1,
          largestSeq: 300,
          smallest: utf8('apple'),
          largest: utf8('melon'),
        },
      ],
    };
    const expected = hex(`
      02 07
      03 09
      04 ac 02
      05 01 04 6b 69 77 69
      06 00 03
      07 01 08 80 20 64 01 ac 02 05 61 70 70 6c 65 05 6d 65 6c 6f 6e
    `);
    expect(toHex(encodeVersionEdit(edit))).toBe(toHex(expected));
    expect(decodeVersionEdit(expected)).toEqual(edit);
    // Framed as a manifest record (framing: docs/formats/wal.md).
    expect(toHex(encodeRecordBytes(expected))).toBe(
      '463ae7ce' + '26000000' + '01' + '846495e5' + toHex(expected),
    );
  });

  it('refuses to encode malformed edits (assertion)', () => {
    const file = {
      fileNumber: 1,
      level: 0,
      size: 0,
      entries: 0,
      smallest: utf8('b'),
      largest: utf8('a'),
      smallestSeq: 0,
      largestSeq: 0,
    };
    const bad: VersionEdit[] = [
      { logNumber: -1, deletedFiles: [], addedFiles: [] },
      { lastSequence: 2 ** 53, deletedFiles: [], addedFiles: [] },
      { deletedFiles: [{ level: 7, fileNumber: 1 }], addedFiles: [] },
      { deletedFiles: [{ level: 0, fileNumber: 0 }], addedFiles: [] },
      { deletedFiles: [], addedFiles: [file] },
      {
        compactPointers: [
          { level: 1, key: utf8('a') },
          { level: 1, key: utf8('b') },
        ],
        deletedFiles: [],
        addedFiles: [],
      },
    ];
    for (const edit of bad) {
      expect(versionEditProblem(edit)).toBeTypeOf('string');
      expect(() => encodeVersionEdit(edit)).toThrow(
        expect.objectContaining({ code: 'ASSERTION_FAILED' }),
      );
    }
  });
});

describe('VersionEdit decoding of bad input', () => {
  const cases: [string, string][] = [
    ['unknown tag', '08 01'],
    ['tag 0', '00'],
    ['huge tag', 'ff ff ff ff 7f'],
    ['truncated varint', '02 80'],
    ['varint longer than 8 bytes', '02 80 80 80 80 80 80 80 80 01'],
    ['number beyond 2^53', '02 ff ff ff ff ff ff ff 7f'],
    ['repeated logNumber', '02 01 02 02'],
    ['repeated formatName', '01 00 01 00'],
    ['formatName not UTF-8', '01 02 c3 28'],
    ['formatName past the end', '01 05 61'],
    ['level 7', '06 07 01'],
    ['deleted file number 0', '06 00 00'],
    ['two compact pointers for one level', '05 01 00 05 01 00'],
    ['added file with smallest > largest', '07 01 08 00 00 00 00 01 62 01 61'],
    ['added file with smallestSeq > largestSeq', '07 01 08 00 00 05 04 00 00'],
    ['added file cut short', '07 01 08 00 00 00 00 01 62'],
    ['key length past the end', '05 01 ff ff ff 0f'],
  ];
  it.each(cases)('%s → CORRUPTION naming the file', (_what, bytes) => {
    expect(decodeOutcome(hex(bytes))).toBe('corruption');
  });

  it('raises nothing but CORRUPTION on 20 000 garbage and mutated inputs (fuzz)', () => {
    const prng = new Prng(0xf022);
    let decoded = 0;
    let corrupt = 0;
    for (let i = 0; i < 20_000; i++) {
      let input: Uint8Array;
      switch (i % 4) {
        case 0:
          input = prng.bytes(prng.int(64));
          break;
        case 1: {
          // Plausible tags with random bodies: reaches the field decoders.
          const w = new ByteWriter();
          for (let f = prng.int(6); f > 0; f--) {
            w.varint(1 + prng.int(8)).bytes(prng.bytes(prng.int(12)));
          }
          input = w.finish();
          break;
        }
        default: {
          // A valid edit with bytes flipped, cut off, or inserted.
          const valid = encodeVersionEdit(randomEdit(prng));
          const b = new Uint8Array(valid);
          const mutation = prng.int(3);
          if (mutation === 0 || b.length === 0) {
            for (let k = 1 + prng.int(3); k > 0 && b.length > 0; k--) {
              const at = prng.int(b.length);
              b[at] = b[at]! ^ (1 << prng.int(8));
            }
            input = b;
          } else if (mutation === 1) {
            input = b.subarray(0, prng.int(b.length));
          } else {
            const at = prng.int(b.length);
            const extra = prng.bytes(1 + prng.int(4));
            input = new Uint8Array([...b.subarray(0, at), ...extra, ...b.subarray(at)]);
          }
        }
      }
      const outcome = decodeOutcome(input);
      if (outcome === 'corruption') {
        corrupt++;
      } else {
        decoded++;
        // Whatever decodes is a well-formed edit that round-trips.
        expect(versionEditProblem(outcome)).toBeUndefined();
        expect(decodeVersionEdit(encodeVersionEdit(outcome))).toEqual(outcome);
      }
    }
    expect(corrupt).toBeGreaterThan(5_000);
    expect(decoded).toBeGreaterThan(100);
  });

  it('does not leak ByteReader errors without the file name', () => {
    try {
      decodeVersionEdit(hex('07 01'), 'MANIFEST-000002');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(TesseraError);
      expect((err as TesseraError).message).toMatch(/^manifest record in MANIFEST-000002: /);
    }
  });
});
