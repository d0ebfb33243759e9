/**
 * parseLog's torn-tail versus corruption rules (see reader.ts), checked bit by bit and cut by
 * cut, plus a fuzz run: whatever the input, parseLog returns a prefix of valid records or raises
 * CORRUPTION, and nothing else.
 */
import { describe, expect, it } from 'vitest';
import { concatBytes, equalBytes, utf8 } from '../../util/bytes.js';
import { crc32c, maskCrc } from '../../util/crc32c.js';
import { isTesseraError } from '../../util/errors.js';
import { Prng } from '../../util/prng.js';
import {
  RecordType,
  crcOffset,
  headerCrcOffset,
  lengthOffset,
  recordBytesMax,
  recordHeaderBytes,
  typeOffset,
} from './format.js';
import { parseLog, type LogReadResult } from './reader.js';
import { encodeRecordBytes } from './writer.js';

const path = '/wal/000007.log';
const fuzzInputsCount = 20_000;

/** Payloads with no zero byte, so that no damage can turn what follows a record into zeros. */
function nonzeroPayload(prng: Prng, length: number): Uint8Array {
  return Uint8Array.from({ length }, () => prng.between(1, 255));
}

/**
 * The layout of docs/formats/wal.md written out independently of writer.ts, with any field
 * overridable: checksums default to the correct ones for the fields given.
 */
function frameRaw(o: {
  payload: Uint8Array;
  length?: number;
  type?: number;
  headerCrc?: number;
  crc?: number;
}): Uint8Array {
  const out = new Uint8Array(recordHeaderBytes + o.payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(lengthOffset, o.length ?? o.payload.length, true);
  out[typeOffset] = o.type ?? RecordType.full;
  const headerCrc = maskCrc(crc32c(out.subarray(lengthOffset, headerCrcOffset)));
  view.setUint32(headerCrcOffset, o.headerCrc ?? headerCrc, true);
  out.set(o.payload, recordHeaderBytes);
  view.setUint32(crcOffset, o.crc ?? maskCrc(crc32c(out.subarray(lengthOffset))), true);
  return out;
}

function frameAll(payloads: readonly Uint8Array[]): {
  bytes: Uint8Array;
  starts: number[];
  ends: number[];
} {
  const frames = payloads.map(encodeRecordBytes);
  const starts: number[] = [];
  const ends: number[] = [];
  let at = 0;
  for (const f of frames) {
    starts.push(at);
    at += f.length;
    ends.push(at);
  }
  return { bytes: concatBytes(frames), starts, ends };
}

type Outcome = { kind: 'ok'; result: LogReadResult } | { kind: 'corruption'; offset: number };

function outcome(bytes: Uint8Array): Outcome {
  try {
    return { kind: 'ok', result: parseLog(bytes, path) };
  } catch (err) {
    if (!isTesseraError(err, 'CORRUPTION')) throw err;
    expect(err.message).toContain(path);
    expect(err.message).toContain(`offset ${String(err.details?.offset)}`);
    expect(err.details?.path).toBe(path);
    return { kind: 'corruption', offset: err.details!.offset as number };
  }
}

function expectRecords(result: LogReadResult, payloads: readonly Uint8Array[]): void {
  expect(result.records.length).toBe(payloads.length);
  result.records.forEach((r, i) => expect(equalBytes(r, payloads[i]!)).toBe(true));
}

/** The outcome of a log whose first `count` records survive and the rest is a torn tail. */
function tornAfter(payloads: readonly Uint8Array[], count: number, starts: readonly number[]) {
  return {
    kind: 'ok',
    result: { records: payloads.slice(0, count), validLength: starts[count], tornTail: true },
  };
}

describe('parseLog', () => {
  it('round-trips records of many sizes, the empty payload included', () => {
    const prng = new Prng(1);
    const sizes = [0, 1, 2, 8, 9, 10, 12, 13, 14, 255, 256, 4096, 100_000, 0, 3];
    const payloads = sizes.map((n) => prng.bytes(n));
    const { bytes } = frameAll(payloads);
    const result = parseLog(bytes, path);
    expectRecords(result, payloads);
    expect(result.validLength).toBe(bytes.length);
    expect(result.tornTail).toBe(false);
  });

  it('frames records exactly as the documented layout says', () => {
    const prng = new Prng(9);
    for (const n of [0, 1, 5, 13, 300]) {
      const payload = prng.bytes(n);
      expect(equalBytes(encodeRecordBytes(payload), frameRaw({ payload }))).toBe(true);
    }
  });

  it('reads an empty file as an empty, clean log', () => {
    expect(parseLog(new Uint8Array(0), path)).toEqual({
      records: [],
      validLength: 0,
      tornTail: false,
    });
  });

  it('takes a payload of exactly recordBytesMax', () => {
    const big = new Uint8Array(recordBytesMax).fill(7);
    const result = parseLog(encodeRecordBytes(big), path);
    expect(result.records[0]!.length).toBe(recordBytesMax);
    expect(result.tornTail).toBe(false);
  });

  it('stops cleanly at every cut of the last record', () => {
    const prng = new Prng(2);
    const payloads = [utf8('first'), nonzeroPayload(prng, 40), nonzeroPayload(prng, 23)];
    const { bytes, starts } = frameAll(payloads);
    const lastStart = starts[2]!;
    for (let cut = lastStart; cut <= bytes.length; cut++) {
      const result = parseLog(bytes.subarray(0, cut), path);
      const whole = cut === bytes.length;
      expectRecords(result, whole ? payloads : payloads.slice(0, 2));
      expect(result.validLength).toBe(whole ? bytes.length : lastStart);
      expect(result.tornTail).toBe(cut !== lastStart && !whole);
    }
  });

  it('stops cleanly at every cut anywhere, also when zeros stand in for the lost bytes', () => {
    // File systems that grow the size before the data lands leave zeros where the tear is.
    for (const seed of [3, 30, 300]) {
      const prng = new Prng(seed);
      const payloads = Array.from({ length: 12 }, () =>
        prng.chance(0.2) ? new Uint8Array(prng.between(0, 20)) : prng.bytes(prng.between(0, 30)),
      );
      const { bytes, ends } = frameAll(payloads);
      for (let cut = 0; cut <= bytes.length; cut++) {
        for (const zeros of [0, 1, 5, 12, 13, 40]) {
          const image = concatBytes([bytes.subarray(0, cut), new Uint8Array(zeros)]);
          // Records that survive whole: those before the cut, and after it any whose lost bytes
          // were zeros anyway.
          let whole = 0;
          while (
            whole < payloads.length &&
            ends[whole]! <= image.length &&
            equalBytes(image.subarray(0, ends[whole]), bytes.subarray(0, ends[whole]))
          ) {
            whole++;
          }
          const o = outcome(image);
          expect(o.kind, `cut ${cut} + ${zeros} zeros`).toBe('ok');
          const result = (o as { result: LogReadResult }).result;
          expectRecords(result, payloads.slice(0, whole));
          expect(result.validLength).toBe(whole === 0 ? 0 : ends[whole - 1]);
          expect(result.tornTail).toBe(result.validLength !== image.length);
        }
      }
    }
  });

  it('raises CORRUPTION at the record for every flipped bit of every record but the last', () => {
    const prng = new Prng(4);
    // Empty and all-zero payloads included, and an empty last record, so a grown length of any
    // middle record reaches far past the end of the file.
    const payloads = [
      prng.bytes(17),
      new Uint8Array(0),
      new Uint8Array(20),
      prng.bytes(1),
      prng.bytes(40),
      new Uint8Array(0),
    ];
    const { bytes, starts, ends } = frameAll(payloads);
    let flips = 0;
    let lengthPastEof = 0;
    for (let r = 0; r < payloads.length - 1; r++) {
      const start = starts[r]!;
      for (let at = start; at < ends[r]!; at++) {
        for (let bit = 0; bit < 8; bit++) {
          const damaged = bytes.slice();
          damaged[at]! ^= 1 << bit;
          const newLength = new DataView(damaged.buffer).getUint32(start + lengthOffset, true);
          // What the old single-checksum layout misread as a torn tail, dropping the records after.
          if (newLength <= recordBytesMax && start + recordHeaderBytes + newLength > bytes.length) {
            lengthPastEof++;
          }
          expect(outcome(damaged), `record ${r}, byte ${at - start}, bit ${bit}`).toEqual({
            kind: 'corruption',
            offset: start,
          });
          flips++;
        }
      }
    }
    expect(flips).toBe(starts.at(-1)! * 8);
    expect(lengthPastEof).toBeGreaterThan(60);
  });

  it('raises CORRUPTION for any damage inside a record that another record follows', () => {
    const prng = new Prng(10);
    let checked = 0;
    for (let n = 0; n < 3000; n++) {
      const payloads = Array.from({ length: prng.between(2, 6) }, () =>
        prng.chance(0.15) ? new Uint8Array(prng.between(0, 30)) : prng.bytes(prng.between(0, 30)),
      );
      const { bytes, starts, ends } = frameAll(payloads);
      const r = prng.int(payloads.length - 1);
      const start = starts[r]!;
      const size = ends[r]! - start;
      const damaged = bytes.slice();
      const at = start + prng.int(size);
      const run = Math.min(prng.between(1, 16), ends[r]! - at);
      switch (prng.int(4)) {
        case 0: // random bytes over a run
          damaged.set(prng.bytes(run), at);
          break;
        case 1: // a zeroed run
          damaged.fill(0, at, at + run);
          break;
        case 2: // a run of ones
          damaged.fill(0xff, at, at + run);
          break;
        default: // several bit flips
          for (let k = prng.between(2, 6); k > 0; k--) {
            damaged[start + prng.int(size)]! ^= 1 << prng.int(8);
          }
          break;
      }
      if (equalBytes(damaged, bytes)) continue;
      expect(outcome(damaged)).toEqual({ kind: 'corruption', offset: start });
      checked++;
    }
    expect(checked).toBeGreaterThan(2500);
  });

  it('in the last record: a bad header is CORRUPTION, a bad crc or payload a torn tail', () => {
    const prng = new Prng(5);
    const payloads = [nonzeroPayload(prng, 17), nonzeroPayload(prng, 20), nonzeroPayload(prng, 30)];
    const { bytes, starts } = frameAll(payloads);
    const start = starts[2]!;
    for (let at = start; at < bytes.length; at++) {
      for (let bit = 0; bit < 8; bit++) {
        const damaged = bytes.slice();
        damaged[at]! ^= 1 << bit;
        const inHeaderCrcCover = at >= start + lengthOffset && at < start + recordHeaderBytes;
        // A tear keeps a prefix of what was written, so a whole header is never torn garbage;
        // the record checksum and the payload are at the end, where a tear cannot be told apart.
        expect(outcome(damaged)).toEqual(
          inHeaderCrcCover ? { kind: 'corruption', offset: start } : tornAfter(payloads, 2, starts),
        );
      }
    }
  });

  it('treats a zero-filled tail as torn, wherever it starts', () => {
    const prng = new Prng(6);
    const payloads = [nonzeroPayload(prng, 10), nonzeroPayload(prng, 25), nonzeroPayload(prng, 12)];
    const { bytes, starts } = frameAll(payloads);
    for (let zeros = 1; zeros <= 40; zeros++) {
      const result = parseLog(concatBytes([bytes, new Uint8Array(zeros)]), path);
      expectRecords(result, payloads);
      expect(result).toMatchObject({ validLength: bytes.length, tornTail: true });
    }
    // Zeros from inside the last record's header or payload on, further zeros after it.
    for (let from = starts[2]!; from < bytes.length; from++) {
      const damaged = concatBytes([bytes, new Uint8Array(30)]);
      damaged.fill(0, from);
      expect(outcome(damaged), `zeros from ${from}`).toEqual(tornAfter(payloads, 2, starts));
    }
  });

  it('tells the cases of the rule table apart', () => {
    const prng = new Prng(7);
    const a = encodeRecordBytes(nonzeroPayload(prng, 10));
    const b = encodeRecordBytes(nonzeroPayload(prng, 10));
    const payload = nonzeroPayload(prng, 10);
    const corruptAt = { kind: 'corruption', offset: a.length };
    const tornAt = { kind: 'ok', result: { validLength: a.length, tornTail: true } };

    // Fewer bytes than a header, whatever they are: torn.
    for (let n = 1; n < recordHeaderBytes; n++) {
      expect(outcome(concatBytes([a, prng.bytes(n)]))).toMatchObject(tornAt);
    }
    // Zeros in the middle: the all-zero header fails its checksum, and data follows.
    expect(outcome(concatBytes([a, new Uint8Array(20), b]))).toEqual(corruptAt);
    // A whole header that fails its checksum: CORRUPTION, at the end of the file too.
    const badHeader = frameRaw({ payload, headerCrc: 0x12345678 });
    expect(outcome(concatBytes([a, badHeader, b]))).toEqual(corruptAt);
    expect(outcome(concatBytes([a, badHeader]))).toEqual(corruptAt);
    expect(outcome(concatBytes([a, badHeader.subarray(0, recordHeaderBytes)]))).toEqual(corruptAt);
    // An unknown type or an oversized length behind a good header checksum: CORRUPTION anywhere.
    for (const type of [0, 2, 255]) {
      const unknown = frameRaw({ payload, type });
      expect(outcome(concatBytes([a, unknown, b]))).toEqual(corruptAt);
      expect(outcome(concatBytes([a, unknown]))).toEqual(corruptAt);
    }
    for (const length of [recordBytesMax + 1, 0xffffffff]) {
      expect(outcome(concatBytes([a, frameRaw({ payload, length })]))).toEqual(corruptAt);
    }
    // A good header whose payload runs past the end of the file: torn.
    expect(outcome(concatBytes([a, frameRaw({ payload, length: 11 })]))).toMatchObject(tornAt);
    expect(outcome(concatBytes([a, frameRaw({ payload, length: recordBytesMax })]))).toMatchObject(
      tornAt,
    );
    // A good header whose length is right but whose record checksum fails: torn when the record
    // ends the file or only zeros follow, CORRUPTION when anything else does.
    const badCrc = frameRaw({ payload, crc: 0x12345678 });
    expect(outcome(concatBytes([a, badCrc]))).toMatchObject(tornAt);
    expect(outcome(concatBytes([a, badCrc, new Uint8Array(7)]))).toMatchObject(tornAt);
    expect(outcome(concatBytes([a, badCrc, new Uint8Array(7), b]))).toEqual(corruptAt);
    expect(outcome(concatBytes([a, badCrc, b]))).toEqual(corruptAt);
    expect(outcome(concatBytes([a, badCrc, new Uint8Array([0, 0, 1])]))).toEqual(corruptAt);
    // A length shrunk behind a good header checksum (only a bug writes one): the record's own
    // tail then looks like bytes after it, and the record checksum fails.
    expect(outcome(concatBytes([a, frameRaw({ payload, length: 4 })]))).toEqual(corruptAt);
  });

  it(`survives ${fuzzInputsCount} random and mutated inputs: a valid prefix or CORRUPTION`, () => {
    const prng = new Prng(8);
    const counts = { clean: 0, torn: 0, corruption: 0 };
    for (let n = 0; n < fuzzInputsCount; n++) {
      const input = fuzzInput(prng);
      let result: LogReadResult;
      try {
        result = parseLog(input, path);
      } catch (err) {
        if (!isTesseraError(err, 'CORRUPTION')) throw err;
        const offset = err.details?.offset as number;
        expect(err.details?.path).toBe(path);
        expect(offset >= 0 && offset < input.length).toBe(true);
        counts.corruption++;
        continue;
      }
      // What it accepts is exactly the framing of what it returns, and a prefix of the input.
      expect(result.validLength).toBeLessThanOrEqual(input.length);
      expect(result.tornTail).toBe(result.validLength < input.length);
      const reframed = concatBytes(result.records.map(encodeRecordBytes));
      expect(equalBytes(reframed, input.subarray(0, result.validLength))).toBe(true);
      counts[result.tornTail ? 'torn' : 'clean']++;
    }
    // Every outcome must actually occur, or the fuzzer explores too little.
    expect(counts.clean).toBeGreaterThan(fuzzInputsCount / 20);
    expect(counts.torn).toBeGreaterThan(fuzzInputsCount / 20);
    expect(counts.corruption).toBeGreaterThan(fuzzInputsCount / 20);
  });
});

/** Random bytes, or a valid log damaged in one of the ways disks and bugs damage files. */
function fuzzInput(prng: Prng): Uint8Array {
  if (prng.chance(0.15)) return prng.bytes(prng.between(0, 64));
  const payloads = Array.from({ length: prng.between(0, 8) }, () =>
    prng.bytes(prng.chance(0.2) ? 0 : prng.between(1, 40)),
  );
  const bytes = frameAll(payloads).bytes.slice();
  const mutations = prng.between(0, 3);
  let out: Uint8Array = bytes;
  for (let m = 0; m < mutations && out.length > 0; m++) {
    const at = prng.int(out.length);
    switch (prng.int(7)) {
      case 0: // flip a bit
        out[at]! ^= 1 << prng.int(8);
        break;
      case 1: // truncate
        out = out.slice(0, at);
        break;
      case 2: // zero a run
        out.fill(0, at, at + prng.between(1, 20));
        break;
      case 3: // overwrite a u32 with something length-like or huge
        if (at + 4 <= out.length) {
          const v = prng.chance(0.5) ? prng.between(0, 80) : prng.uint32();
          new DataView(out.buffer, out.byteOffset).setUint32(at, v, true);
        }
        break;
      case 4: // insert random bytes
        out = concatBytes([out.subarray(0, at), prng.bytes(prng.between(1, 12)), out.subarray(at)]);
        break;
      case 5: // delete bytes
        out = concatBytes([out.subarray(0, at), out.subarray(at + prng.between(1, 12))]);
        break;
      default: // append a zero-filled tail
        out = concatBytes([out, new Uint8Array(prng.between(1, 30))]);
        break;
    }
  }
  return out;
}

describe('strictTail (the manifest)', () => {
  it('reports a complete last record with a bad checksum as CORRUPTION, and still stops at a cut', () => {
    const a = encodeRecordBytes(new Uint8Array([1, 2, 3]));
    const b = encodeRecordBytes(new Uint8Array([4, 5, 6, 7]));
    const log = new Uint8Array(a.length + b.length);
    log.set(a, 0);
    log.set(b, a.length);
    const flipped = log.slice();
    flipped[log.length - 1]! ^= 1;
    expect(parseLog(flipped, 'MANIFEST-000001').tornTail).toBe(true);
    expect(() => parseLog(flipped, 'MANIFEST-000001', { strictTail: true })).toThrow(
      expect.objectContaining({ code: 'CORRUPTION' }),
    );
    const cut = parseLog(log.subarray(0, log.length - 2), 'MANIFEST-000001', { strictTail: true });
    expect(cut.tornTail).toBe(true);
    expect(cut.records).toHaveLength(1);
  });
});
