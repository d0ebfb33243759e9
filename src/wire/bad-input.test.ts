/**
 * Bad input against a live server on 127.0.0.1 (real sockets): each bad connection gets an
 * ERROR frame with the right code and is closed, while a well-behaved client on its own
 * connection keeps getting correct answers throughout.
 */
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Address, Env } from '../env/types.js';
import { realEnv } from '../env/real/index.js';
import { concatBytes } from '../util/bytes.js';
import { Prng } from '../util/prng.js';
import { encodeFrames } from './frame.js';
import { FrameKind, writeHeader } from './format.js';
import { RpcClient, RpcServer } from './index.js';
import { RawPeer, hello } from './testdata/raw-peer.js';

const env: Env = realEnv({ name: 'wire-bad-input', root: tmpdir() });
let server: RpcServer;
let address: Address;
let good: RpcClient;
let background: Promise<number>;
let stop = false;

beforeAll(async () => {
  server = new RpcServer(env, { maxFrameBytes: 1 << 20 });
  server.handle('echo', (args) => args);
  address = await server.listen({ host: '127.0.0.1', port: 0 });
  good = await RpcClient.connect(env, address);
  // A well-behaved client calling all along; any wrong answer fails the suite.
  background = (async () => {
    let n = 0;
    while (!stop) {
      const v = { n, s: `value ${n}` };
      const got = await good.call('echo', v, { timeoutMs: 5000 });
      expect(got).toEqual(v);
      n++;
      if (n % 50 === 0) await env.timers.sleep(1);
    }
    return n;
  })();
});

afterAll(async () => {
  stop = true;
  const calls = await background;
  expect(calls).toBeGreaterThan(0);
  expect(good.closed).toBe(false);
  await good.close();
  await server.close({ drainTimeoutMs: 0 });
});

/** Sends `bytes` on a fresh connection and waits for the server to close it. */
async function expectRejected(
  bytes: Uint8Array,
  code: string,
  options: { handshake?: boolean; requestId?: number } = {},
): Promise<RawPeer> {
  const peer = options.handshake
    ? await RawPeer.open(env, address)
    : await RawPeer.connect(env, address);
  peer.send(bytes);
  await peer.untilClosed();
  // The last frame is the one ERROR that explains the close.
  const last = peer.frames[peer.frames.length - 1];
  expect(last?.kind).toBe(FrameKind.ERROR);
  if (last?.kind !== FrameKind.ERROR) return peer;
  expect(last.error.code).toBe(code);
  expect(last.requestId).toBe(options.requestId ?? 0);
  expect(peer.errors().filter((e) => e.requestId === 0 || e === last)).toEqual([last]);
  expect(peer.decodeError).toBeUndefined();
  return peer;
}

function frame(kind: number, requestId: number, body: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(10 + body.length);
  writeHeader(out, 0, 6 + body.length, FrameKind.PING, requestId);
  out[4] = kind;
  out[5] = flags;
  out.set(body, 10);
  return out;
}

describe('before the handshake', () => {
  it('random garbage → PROTOCOL_ERROR', async () => {
    const rng = new Prng(11);
    for (let i = 0; i < 20; i++) {
      const bytes = rng.bytes(10 + rng.int(200));
      bytes[4] = 0x80 + rng.int(0x80); // never a valid kind
      await expectRejected(bytes, 'PROTOCOL_ERROR');
    }
  });

  it('an HTTP request → PROTOCOL_ERROR', async () => {
    await expectRejected(
      new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      'PROTOCOL_ERROR',
    );
  });

  it('a REQUEST before HELLO → PROTOCOL_ERROR', async () => {
    await expectRejected(
      encodeFrames([
        { kind: FrameKind.REQUEST, requestId: 1, timeoutMs: 0, method: 'echo', args: 1 },
      ]),
      'PROTOCOL_ERROR',
    );
  });

  it('wrong magic → PROTOCOL_ERROR', async () => {
    const bytes = encodeFrames([hello()]);
    bytes[10] = 0x58; // "XSRA"
    await expectRejected(bytes, 'PROTOCOL_ERROR');
  });

  it('version 0 → VERSION_MISMATCH with the versions the server speaks', async () => {
    const peer = await expectRejected(encodeFrames([hello({ version: 0 })]), 'VERSION_MISMATCH');
    expect(peer.errors()[0]!.error.details).toEqual({ versionMin: 1, versionMax: 1 });
  });

  it('a newer client version is negotiated down, not refused', async () => {
    const peer = await RawPeer.connect(env, address);
    peer.send(encodeFrames([hello({ version: 7, features: 0xffff })]));
    await peer.until(() => peer.frames.length === 1);
    expect(peer.frames[0]).toMatchObject({
      kind: FrameKind.HELLO_ACK,
      version: 1,
      features: 0,
      maxFrameBytes: 1 << 20,
    });
    peer.destroy();
  });

  it('a receive limit below the minimum, and a HELLO body that is not a map → PROTOCOL_ERROR', async () => {
    await expectRejected(encodeFrames([hello({ maxFrameBytes: 100 })]), 'PROTOCOL_ERROR');
    const withBody = concatBytes([encodeFrames([hello()]), Uint8Array.of(0x01)]);
    withBody[3]! += 1; // length now covers the stray byte: a msgpack 1, not a map
    await expectRejected(withBody, 'PROTOCOL_ERROR');
  });

  it('a HELLO claiming 4 GiB → PROTOCOL_ERROR without buffering', async () => {
    await expectRejected(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0), 'PROTOCOL_ERROR');
  });

  it('a second HELLO → PROTOCOL_ERROR', async () => {
    await expectRejected(encodeFrames([hello()]), 'PROTOCOL_ERROR', { handshake: true });
  });
});

describe('after the handshake', () => {
  it('garbage → PROTOCOL_ERROR', async () => {
    await expectRejected(
      new TextEncoder().encode('\u0000\u0000\u0000\u0001 hello'),
      'PROTOCOL_ERROR',
      {
        handshake: true,
      },
    );
  });

  it('unknown kind, non-zero flags, request id 0 on a REQUEST', async () => {
    await expectRejected(frame(0x42, 1, new Uint8Array(0)), 'PROTOCOL_ERROR', { handshake: true });
    await expectRejected(frame(FrameKind.PING, 1, new Uint8Array(0), 0x80), 'PROTOCOL_ERROR', {
      handshake: true,
    });
    const req = encodeFrames([
      { kind: FrameKind.REQUEST, requestId: 1, timeoutMs: 0, method: 'echo', args: 1 },
    ]);
    req.fill(0, 6, 10);
    await expectRejected(req, 'PROTOCOL_ERROR', { handshake: true });
  });

  it('frames a server never receives (RESPONSE, HELLO_ACK, GOAWAY) → PROTOCOL_ERROR', async () => {
    await expectRejected(
      encodeFrames([{ kind: FrameKind.RESPONSE, requestId: 1, result: 1 }]),
      'PROTOCOL_ERROR',
      {
        handshake: true,
      },
    );
    await expectRejected(
      encodeFrames([{ kind: FrameKind.GOAWAY, requestId: 0 }]),
      'PROTOCOL_ERROR',
      {
        handshake: true,
      },
    );
  });

  it('an oversized length → FRAME_TOO_LARGE naming the request, before the body is sent', async () => {
    const header = new Uint8Array(10);
    writeHeader(header, 0, 0x7fff_fff0, FrameKind.REQUEST, 77);
    await expectRejected(header, 'FRAME_TOO_LARGE', { handshake: true, requestId: 77 });
  });

  it('undecodable msgpack args → PROTOCOL_ERROR naming the request', async () => {
    const req = encodeFrames([
      { kind: FrameKind.REQUEST, requestId: 5, timeoutMs: 0, method: 'echo', args: [1, 2] },
    ]);
    req[req.length - 3] = 0x93; // the array now claims three elements, and two bytes follow
    await expectRejected(req, 'PROTOCOL_ERROR', { handshake: true, requestId: 5 });
  });

  it('a bad method name → PROTOCOL_ERROR', async () => {
    const req = encodeFrames([
      { kind: FrameKind.REQUEST, requestId: 5, timeoutMs: 0, method: 'echo', args: 1 },
    ]);
    req[15] = 0x20; // a space
    await expectRejected(req, 'PROTOCOL_ERROR', { handshake: true, requestId: 5 });
  });

  it('a duplicate request id in flight → PROTOCOL_ERROR', async () => {
    const s = new RpcServer(env);
    s.handle('hang', () => new Promise(() => undefined));
    const addr = await s.listen({ host: '127.0.0.1', port: 0 });
    const peer = await RawPeer.open(env, addr);
    const req = encodeFrames([
      { kind: FrameKind.REQUEST, requestId: 9, timeoutMs: 0, method: 'hang', args: null },
      { kind: FrameKind.REQUEST, requestId: 9, timeoutMs: 0, method: 'hang', args: null },
    ]);
    peer.send(req);
    await peer.untilClosed();
    expect(peer.errors().map((e) => [e.requestId, e.error.code])).toEqual([[9, 'PROTOCOL_ERROR']]);
    await s.close({ drainTimeoutMs: 0 });
  });

  it('valid frames before the bad one are answered first', async () => {
    const bytes = concatBytes([
      encodeFrames([
        { kind: FrameKind.REQUEST, requestId: 1, timeoutMs: 0, method: 'echo', args: 'a' },
        { kind: FrameKind.PING, requestId: 2 },
        { kind: FrameKind.CANCEL, requestId: 12345 },
        { kind: FrameKind.REQUEST, requestId: 3, timeoutMs: 0, method: 'nope', args: 'b' },
      ]),
      Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    ]);
    const peer = await expectRejected(bytes, 'PROTOCOL_ERROR', { handshake: true });
    expect(peer.frames.map((f) => [f.kind, f.requestId])).toEqual([
      [FrameKind.RESPONSE, 1],
      [FrameKind.PONG, 2],
      [FrameKind.ERROR, 3],
      [FrameKind.ERROR, 0],
    ]);
  });

  it('a truncated frame, then close: counted as a protocol error; the server carries on', async () => {
    // The peer has closed, so no ERROR frame can reach it (the Env has no half-close).
    const before = server.stats().protocolErrors;
    const peer = await RawPeer.open(env, address);
    const req = encodeFrames([
      { kind: FrameKind.REQUEST, requestId: 1, timeoutMs: 0, method: 'echo', args: 'abcdef' },
    ]);
    peer.send(req.subarray(0, req.length - 3));
    await env.timers.sleep(20);
    peer.conn.end();
    await peer.untilClosed();
    for (let i = 0; i < 100 && server.stats().protocolErrors === before; i++)
      await env.timers.sleep(5);
    expect(server.stats().protocolErrors).toBe(before + 1);
    expect(server.stats().lastProtocolError).toMatch(/inside a frame/);
  });

  it('a peer that resets mid-frame does not disturb the server', async () => {
    const peer = await RawPeer.open(env, address);
    const header = new Uint8Array(10);
    writeHeader(header, 0, 1000, FrameKind.REQUEST, 1);
    peer.send(header);
    await env.timers.sleep(5);
    peer.destroy();
    await peer.untilClosed();
    await expect(good.call('echo', 'still here')).resolves.toBe('still here');
  });
});
