import { describe, expect, it } from 'vitest';
import { concatBytes, equalBytes, toHex } from '../util/bytes.js';
import { TesseraError } from '../util/errors.js';
import { Prng } from '../util/prng.js';
import {
  decodeErrorBody,
  decodeValue,
  encodeErrorBody,
  encodeMethod,
  encodeValue,
} from './codec.js';
import { FrameDecoder } from './decoder.js';
import { FrameEncoder } from './encoder.js';
import {
  ERROR_BODY_BYTES_MAX,
  FRAME_BYTES_MIN,
  FrameKind,
  HEADER_BYTES,
  kindMask,
} from './format.js';
import { decodeFrames, encodeFrames, type Frame } from './frame.js';
import { normalize, randomFrame, randomValue, splitRandomly } from './testdata/values.js';

function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  return Uint8Array.from(clean.match(/../g)!.map((b) => parseInt(b, 16)));
}

function roundTrip(frames: readonly Frame[], chunks?: (bytes: Uint8Array) => Uint8Array[]) {
  const bytes = encodeFrames(frames);
  const out = decodeFrames(chunks ? chunks(bytes) : [bytes]);
  expect(out.error).toBeUndefined();
  expect(out.truncated).toBe(false);
  expect(out.frames.length).toBe(frames.length);
  // Re-encoding what was decoded gives the same bytes (cheap even for megabytes) …
  expect(equalBytes(encodeFrames(out.frames), bytes)).toBe(true);
  // … and, for small streams, the decoded values equal the originals field by field.
  if (bytes.length < 100_000)
    expect(normalize(out.frames)).toEqual(normalize(frames.map(expected)));
}

/** What a frame decodes as: undefined travels as nil. */
function expected(f: Frame): Frame {
  if (f.kind === FrameKind.REQUEST && f.args === undefined) return { ...f, args: null };
  if (f.kind === FrameKind.RESPONSE && f.result === undefined) return { ...f, result: null };
  return f;
}

describe('worked examples (docs/formats/rpc.md) — frozen bytes', () => {
  it('HELLO and HELLO_ACK', () => {
    const bytes = encodeFrames([
      {
        kind: FrameKind.HELLO,
        requestId: 0,
        version: 1,
        features: 0,
        maxFrameBytes: 16 * 1024 * 1024,
      },
    ]);
    expect(toHex(bytes)).toBe(
      '00000012' + '01' + '00' + '00000000' + '54535241' + '0001' + '0000' + '01000000',
    );
    const ack = encodeFrames([
      {
        kind: FrameKind.HELLO_ACK,
        requestId: 0,
        version: 1,
        features: 0,
        maxFrameBytes: 16 * 1024 * 1024,
      },
    ]);
    expect(toHex(ack)).toBe(
      '00000012' + '02' + '00' + '00000000' + '54535241' + '0001' + '0000' + '01000000',
    );
  });

  it('REQUEST echo("ping") with a 1000 ms timeout, and its RESPONSE', () => {
    const req = encodeFrames([
      { kind: FrameKind.REQUEST, requestId: 1, timeoutMs: 1000, method: 'echo', args: 'ping' },
    ]);
    expect(toHex(req)).toBe(
      '00000014' + '03' + '00' + '00000001' + '000003e8' + '04' + '6563686f' + 'a470696e67',
    );
    const res = encodeFrames([{ kind: FrameKind.RESPONSE, requestId: 1, result: 'ping' }]);
    expect(toHex(res)).toBe('0000000b' + '04' + '00' + '00000001' + 'a470696e67');
  });

  it('REQUEST get({table, row}) with bytes and no timeout', () => {
    const req = encodeFrames([
      {
        kind: FrameKind.REQUEST,
        requestId: 2,
        timeoutMs: 0,
        method: 'get',
        args: { table: 't1', row: Uint8Array.of(0x6b, 0x31) },
      },
    ]);
    expect(toHex(req)).toBe(
      '00000020' +
        '03' +
        '00' +
        '00000002' +
        '00000000' +
        '03' +
        '676574' +
        '82' +
        'a57461626c65' +
        'a27431' +
        'a3726f77' +
        'c4026b31',
    );
  });

  it('ERROR for an unknown method, CANCEL, PING, PONG, GOAWAY', () => {
    const err = encodeFrames([
      {
        kind: FrameKind.ERROR,
        requestId: 3,
        error: new TesseraError('UNKNOWN_METHOD', "no method 'nope'"),
      },
    ]);
    expect(toHex(err)).toBe(
      '00000034' +
        '05' +
        '00' +
        '00000003' +
        '82' +
        'a4636f6465' +
        'ae554e4b4e4f574e5f4d4554484f44' +
        'a76d657373616765' +
        'b06e6f206d6574686f6420276e6f706527',
    );
    expect(toHex(encodeFrames([{ kind: FrameKind.CANCEL, requestId: 3 }]))).toBe(
      '000000060600' + '00000003',
    );
    expect(toHex(encodeFrames([{ kind: FrameKind.PING, requestId: 9 }]))).toBe(
      '000000060700' + '00000009',
    );
    expect(toHex(encodeFrames([{ kind: FrameKind.PONG, requestId: 9 }]))).toBe(
      '000000060800' + '00000009',
    );
    expect(toHex(encodeFrames([{ kind: FrameKind.GOAWAY, requestId: 0 }]))).toBe(
      '000000060900' + '00000000',
    );
  });

  it('decodes the documented bytes back', () => {
    const out = decodeFrames([
      hex('00000014 03 00 00000001 000003e8 04 6563686f a470696e67'),
      hex('0000000b 04 00 00000001 a470696e67'),
    ]);
    expect(out.frames).toEqual([
      { kind: FrameKind.REQUEST, requestId: 1, timeoutMs: 1000, method: 'echo', args: 'ping' },
      { kind: FrameKind.RESPONSE, requestId: 1, result: 'ping' },
    ]);
  });
});

describe('frame round trips', () => {
  it('every kind, whole', () => {
    roundTrip([
      {
        kind: FrameKind.HELLO,
        requestId: 0,
        version: 7,
        features: 0xffff,
        maxFrameBytes: 0xffff_ffff,
      },
      {
        kind: FrameKind.HELLO_ACK,
        requestId: 0,
        version: 1,
        features: 0,
        maxFrameBytes: 4096,
        extensions: { token: 'abc' },
      },
      {
        kind: FrameKind.REQUEST,
        requestId: 0xffff_ffff,
        timeoutMs: 0xffff_ffff,
        method: 'x',
        args: undefined,
      },
      { kind: FrameKind.RESPONSE, requestId: 5, result: { a: [1, 2n, new Uint8Array(3)] } },
      {
        kind: FrameKind.ERROR,
        requestId: 0,
        error: new TesseraError('OVERLOADED', 'busy', { n: 1 }),
      },
      { kind: FrameKind.CANCEL, requestId: 5 },
      { kind: FrameKind.PING, requestId: 6 },
      { kind: FrameKind.PONG, requestId: 6 },
      { kind: FrameKind.GOAWAY, requestId: 0 },
    ]);
  });

  it('property: random frame sequences split at random points decode to the same frames', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const rng = new Prng(seed);
      const frames: Frame[] = [];
      const n = 1 + rng.int(80);
      for (let i = 0; i < n; i++) frames.push(randomFrame(rng, seed % 4 === 0));
      try {
        roundTrip(frames, (bytes) => splitRandomly(rng, bytes));
      } catch (err) {
        throw new Error(`seed ${seed}: ${String(err)}`, { cause: err });
      }
    }
  });

  it('one byte at a time', () => {
    const rng = new Prng(99);
    const frames = Array.from({ length: 40 }, () => randomFrame(rng));
    roundTrip(frames, (bytes) => Array.from(bytes, (b) => Uint8Array.of(b)));
  });

  it('large bodies, whole and split (spanning buffer grows from 64 KiB)', () => {
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i * 7);
    const frames: Frame[] = [
      { kind: FrameKind.RESPONSE, requestId: 1, result: big },
      {
        kind: FrameKind.REQUEST,
        requestId: 2,
        timeoutMs: 5,
        method: 'put',
        args: { v: big.subarray(0, 20_000) },
      },
      { kind: FrameKind.PING, requestId: 3 },
    ];
    roundTrip(frames);
    const rng = new Prng(7);
    roundTrip(frames, (bytes) => splitRandomly(rng, bytes));
  });
});

describe('FrameEncoder', () => {
  it('coalesces small frames into one chunk and never rewrites a chunk it handed out', () => {
    const enc = new FrameEncoder();
    for (let i = 1; i <= 100; i++) enc.response(i, 'ok');
    const first = enc.take();
    expect(first).toHaveLength(1);
    const copy = Uint8Array.from(first[0]!);
    for (let i = 1; i <= 5000; i++) enc.response(i, 'more');
    enc.take();
    expect(first[0]).toEqual(copy);
  });

  it('queues a large body as its own chunk, in order', () => {
    const enc = new FrameEncoder();
    enc.control(FrameKind.PING, 1);
    enc.response(2, new Uint8Array(100_000));
    enc.control(FrameKind.PING, 3);
    const chunks = enc.take();
    expect(chunks.length).toBe(3);
    const out = decodeFrames(chunks);
    expect(out.frames.map((f) => f.requestId)).toEqual([1, 2, 3]);
  });

  it('refuses a frame above the peer limit, and unencodable values, without queuing anything', () => {
    const enc = new FrameEncoder();
    enc.peerMaxFrameBytes = FRAME_BYTES_MIN;
    expect(() => enc.response(1, new Uint8Array(FRAME_BYTES_MIN))).toThrow(
      expect.objectContaining({ code: 'FRAME_TOO_LARGE' }),
    );
    expect(() => enc.request(1, 0, 'echo', Symbol('x'))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => enc.request(1, 0, 'echo', 2n ** 80n)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => enc.request(1, 0, 'bad name', 1)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(enc.pendingBytes).toBe(0);
    expect(enc.take()).toEqual([]);
  });
});

describe('FrameDecoder rejects bad headers before buffering bodies', () => {
  function decodeHex(s: string, max = 1 << 20, kinds?: number) {
    return decodeFrames([hex(s)], max, kinds);
  }

  it('unknown kind, kind 0, non-zero flags', () => {
    expect(decodeHex('00000006 0a 00 00000001').error?.error.code).toBe('PROTOCOL_ERROR');
    expect(decodeHex('00000006 00 00 00000001').error?.error.code).toBe('PROTOCOL_ERROR');
    expect(decodeHex('00000006 07 01 00000001').error?.error.code).toBe('PROTOCOL_ERROR');
  });

  it('lengths outside the kind’s bounds', () => {
    expect(decodeHex('00000005 07 00 00000001').error?.error.code).toBe('PROTOCOL_ERROR');
    expect(decodeHex('00000007 07 00 00000001 00').error?.error.code).toBe('PROTOCOL_ERROR');
    expect(decodeHex('00000006 04 00 00000001').error?.error.code).toBe('PROTOCOL_ERROR');
    expect(decodeHex('0000000c 03 00 00000001 00000000 01 61').error?.error.code).toBe(
      'PROTOCOL_ERROR',
    );
    // A HELLO claiming more than 4 KiB is refused as garbage, whatever the frame limit.
    expect(decodeHex('00001000 01 00 00000000').error?.error.code).toBe('PROTOCOL_ERROR');
  });

  it('request id rules', () => {
    expect(decodeHex('00000006 07 00 00000000').error?.error.code).toBe('PROTOCOL_ERROR');
    expect(decodeHex('00000006 09 00 00000001').error?.error.code).toBe('PROTOCOL_ERROR');
  });

  it('an oversized frame is refused from its header alone, naming its request id', () => {
    const out = decodeFrames([hex('00100000 04 00 0000002a')], FRAME_BYTES_MIN);
    expect(out.error?.error.code).toBe('FRAME_TOO_LARGE');
    expect(out.error?.requestId).toBe(42);
    expect(out.truncated).toBe(false);
  });

  it('kinds not allowed in the current state', () => {
    const out = decodeHex('0000000b 04 00 00000001 a470696e67', 1 << 20, kindMask(FrameKind.HELLO));
    expect(out.error?.error.code).toBe('PROTOCOL_ERROR');
    expect(out.error?.error.message).toMatch(/unexpected RESPONSE/);
  });

  it('garbage such as an HTTP request line', () => {
    const out = decodeFrames([new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
    expect(out.error?.error.code).toBe('PROTOCOL_ERROR');
  });

  it('reports a frame cut short as truncated', () => {
    const bytes = encodeFrames([{ kind: FrameKind.RESPONSE, requestId: 1, result: 'hello' }]);
    for (let cut = 1; cut < bytes.length; cut++) {
      const out = decodeFrames([bytes.subarray(0, cut)]);
      expect(out.frames).toEqual([]);
      expect(out.truncated).toBe(true);
    }
  });

  it('undecodable bodies: bad msgpack, trailing bytes, bad method bytes', () => {
    expect(decodeHex('00000008 04 00 00000001 0101').error?.error.code).toBe('PROTOCOL_ERROR');
    expect(decodeHex('00000008 04 00 00000001 92 01').error?.error.code).toBe('PROTOCOL_ERROR');
    expect(decodeHex('0000000d 03 00 00000001 00000000 01 20 01').error?.error.code).toBe(
      'PROTOCOL_ERROR',
    );
    expect(decodeHex('0000000d 03 00 00000001 00000000 05 61 01').error?.error.code).toBe(
      'PROTOCOL_ERROR',
    );
  });

  it('stops at the first error and ignores everything after it', () => {
    const calls: string[] = [];
    const decoder: FrameDecoder = new FrameDecoder(
      {
        onFrame: (kind) => calls.push(`frame ${kind}`),
        onFrameError: (e) => calls.push(e.code),
      },
      1 << 20,
      kindMask(FrameKind.PING),
    );
    const ping = encodeFrames([{ kind: FrameKind.PING, requestId: 1 }]);
    decoder.push(concatBytes([ping, hex('ffffffff'), ping]));
    decoder.push(ping);
    decoder.push(hex('00'));
    expect(calls).toEqual(['frame 7', 'PROTOCOL_ERROR']);
    expect(decoder.isStopped).toBe(true);
  });

  it('frames within one chunk are views, not copies', () => {
    const seen: Uint8Array[] = [];
    const decoder = new FrameDecoder(
      { onFrame: (_k, _id, buf) => seen.push(buf), onFrameError: () => undefined },
      1 << 20,
      kindMask(FrameKind.RESPONSE),
    );
    const bytes = encodeFrames([
      { kind: FrameKind.RESPONSE, requestId: 1, result: 1 },
      { kind: FrameKind.RESPONSE, requestId: 2, result: 2 },
    ]);
    decoder.push(bytes);
    expect(seen).toEqual([bytes, bytes]);
    expect(seen[0]).toBe(bytes);
    expect(HEADER_BYTES).toBe(10);
  });
});

describe('msgpack body codec', () => {
  it('round-trips the value types the protocol promises', () => {
    const v = {
      n: 1,
      neg: -129,
      big32: 0xffff_ffff,
      ts: 1_700_000_000_000_000,
      f: 1.5,
      s: 'héllo 😀',
      b: new Uint8Array([0, 255]),
      buf: Buffer.from([1, 2]),
      i64: -(2n ** 63n),
      u64: 2n ** 64n - 1n,
      nil: null,
      arr: [true, false],
      date: new Date(1_700_000_000_123),
    };
    const out = decodeValue(encodeValue(v), 0, encodeValue(v).length) as Record<string, unknown>;
    expect(normalize(out)).toEqual(normalize({ ...v, buf: new Uint8Array([1, 2]) }));
    expect(out.b).toBeInstanceOf(Uint8Array);
    expect(typeof out.ts).toBe('number');
    expect(typeof out.i64).toBe('bigint');
  });

  it('undefined becomes nil; Maps become objects', () => {
    const bytes = encodeValue({ a: undefined, m: new Map([['k', 1]]) });
    expect(decodeValue(bytes, 0, bytes.length)).toEqual({ a: null, m: { k: 1 } });
  });

  it('decoded bytes are copies: the receive buffer may be reused', () => {
    const bytes = encodeValue(new Uint8Array([1, 2, 3]));
    const out = decodeValue(bytes, 0, bytes.length) as Uint8Array;
    bytes.fill(0);
    expect(Array.from(out)).toEqual([1, 2, 3]);
  });

  it('property: random values round-trip', () => {
    const rng = new Prng(2024);
    for (let i = 0; i < 2000; i++) {
      const v = randomValue(rng);
      const bytes = encodeValue(v);
      expect(normalize(decodeValue(bytes, 0, bytes.length))).toEqual(normalize(v));
    }
  });

  it('error bodies: codes, details, unknown codes, size bound', () => {
    const e = new TesseraError('OVERLOADED', 'busy', { limit: 3, who: 'x', ok: true });
    const body = encodeErrorBody(e);
    const back = decodeErrorBody(decodeValue(body, 0, body.length));
    expect(back.code).toBe('OVERLOADED');
    expect(back.message).toBe('busy');
    expect(back.details).toEqual({ limit: 3, who: 'x', ok: true });

    const future = encodeValue({
      code: 'SOMETHING_NEW',
      message: 'm',
      details: { a: 1, nested: {} },
    });
    const unknown = decodeErrorBody(decodeValue(future, 0, future.length));
    expect(unknown.code).toBe('INTERNAL');
    expect(unknown.details).toEqual({ a: 1, remoteCode: 'SOMETHING_NEW' });

    const huge = new TesseraError('INTERNAL', '界'.repeat(100_000), { d: 'x'.repeat(10_000) });
    expect(encodeErrorBody(huge).length).toBeLessThanOrEqual(ERROR_BODY_BYTES_MAX);
    const manyDetails: Record<string, string> = {};
    for (let i = 0; i < 100; i++) manyDetails[`k${i}`] = 'y'.repeat(200);
    expect(
      encodeErrorBody(new TesseraError('INTERNAL', 'm', manyDetails)).length,
    ).toBeLessThanOrEqual(ERROR_BODY_BYTES_MAX);

    for (const bad of [1, 'x', [], { code: 1, message: 'm' }, { code: 'INTERNAL' }]) {
      expect(() => decodeErrorBody(bad)).toThrow(
        expect.objectContaining({ code: 'PROTOCOL_ERROR' }),
      );
    }
  });

  it('method names: printable ASCII, 1..255 bytes', () => {
    expect(Array.from(encodeMethod('table.get'))).toEqual(Array.from(Buffer.from('table.get')));
    expect(() => encodeMethod('')).toThrow();
    expect(() => encodeMethod('x'.repeat(256))).toThrow();
    expect(() => encodeMethod('a b')).toThrow();
    expect(() => encodeMethod('é')).toThrow();
  });
});
