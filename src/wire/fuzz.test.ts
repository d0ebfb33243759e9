/**
 * Fuzzing a live server over real sockets on 127.0.0.1: at least 100 000 frames (sent, and also
 * decoded whole by the server) — valid ones,
 * bit-flipped / truncated / extended / re-lengthed mutations of valid ones, and random bytes —
 * over many connections. The server must not crash or hang, must close every bad connection
 * with an ERROR frame as its last word, must only ever send well-formed frames, and must keep
 * answering a well-behaved client correctly throughout and at the end.
 *
 * Reproduce a failure with the seed it prints:
 *   WIRE_FUZZ_SEED=<seed> npx vitest run src/wire/fuzz.test.ts
 * and narrow it to one connection with WIRE_FUZZ_CONNECTION=<index>.
 */
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { Address, Env } from '../env/types.js';
import { realEnv } from '../env/real/index.js';
import { concatBytes } from '../util/bytes.js';
import { TesseraError } from '../util/errors.js';
import { Prng } from '../util/prng.js';
import { encodeFrames, type Frame } from './frame.js';
import { FRAME_BYTES_MIN, FrameKind, writeU32 } from './format.js';
import { RpcClient, RpcServer } from './index.js';
import { RawPeer, hello } from './testdata/raw-peer.js';
import { randomValue } from './testdata/values.js';

const env: Env = realEnv({ name: 'wire-fuzz', root: tmpdir() });
const SEED = Number(process.env.WIRE_FUZZ_SEED ?? 0x5eed_f00d);
const ONLY_CONNECTION = process.env.WIRE_FUZZ_CONNECTION;
const FRAMES_MIN = 100_000;
const WORKERS = 8;
/** The server's frame limit: small, so that filler this long completes any partial frame. */
const MAX_FRAME = FRAME_BYTES_MIN;
const FILLER = new Uint8Array(MAX_FRAME + 16);
const CONNECTION_TIMEOUT_MS = 10_000;
const METHODS = ['echo', 'echo', 'echo-async', 'fail', 'crash', 'nope', 'x'];

interface ConnectionPlan {
  readonly bytes: Uint8Array;
  readonly frames: number;
  readonly mutated: number;
}

/** Everything one fuzz connection sends, from its own Prng. */
function planConnection(rng: Prng): ConnectionPlan {
  const parts: Uint8Array[] = [];
  let frames = 0;
  let mutated = 0;
  const style = rng.int(20);
  if (style === 0) {
    // Pure garbage from the first byte.
    parts.push(rng.bytes(1 + rng.int(300)));
    return { bytes: concatBytes([...parts, FILLER]), frames: 1, mutated: 1 };
  }
  const helloBytes = encodeFrames([
    hello({
      version: rng.chance(0.9) ? 1 : rng.int(5),
      maxFrameBytes: rng.chance(0.95) ? 1 << 20 : rng.uint32(),
    }),
  ]);
  parts.push(rng.chance(0.05) ? mutate(rng, helloBytes) : helloBytes);
  frames++;
  const rate = rng.pick([0, 0.002, 0.01, 0.05, 0.2]);
  const count = 20 + rng.int(400);
  let nextId = 1;
  for (let i = 0; i < count; i++) {
    const valid = encodeFrames([validFrame(rng, nextId++)], 1 << 30);
    frames++;
    if (rng.chance(rate)) {
      mutated++;
      parts.push(rng.chance(0.15) ? rng.bytes(1 + rng.int(64)) : mutate(rng, valid));
    } else {
      parts.push(valid);
    }
  }
  return { bytes: concatBytes([...parts, FILLER]), frames, mutated };
}

function validFrame(rng: Prng, id: number): Frame {
  const r = rng.int(20);
  if (r < 15) {
    return {
      kind: FrameKind.REQUEST,
      requestId: id,
      timeoutMs: rng.chance(0.7) ? 0 : rng.int(5000),
      method: rng.pick(METHODS),
      args: randomValue(rng),
    };
  }
  if (r < 17) return { kind: FrameKind.CANCEL, requestId: 1 + rng.int(id) };
  if (r < 19) return { kind: FrameKind.PING, requestId: id };
  return { kind: FrameKind.PONG, requestId: id };
}

function mutate(rng: Prng, frame: Uint8Array): Uint8Array {
  const b = Uint8Array.from(frame);
  switch (rng.int(7)) {
    case 0: // flip a few bits anywhere
      for (let i = 1 + rng.int(3); i > 0; i--) b[rng.int(b.length)]! ^= 1 << rng.int(8);
      return b;
    case 1: // flip a bit in the header
      b[rng.int(10)]! ^= 1 << rng.int(8);
      return b;
    case 2: // truncate
      return b.subarray(0, rng.int(b.length));
    case 3: // extend with random bytes
      return concatBytes([b, rng.bytes(1 + rng.int(40))]);
    case 4: // a random length field
      writeU32(
        b,
        0,
        rng.chance(0.5) ? rng.uint32() : Math.max(0, b.length - 4 + rng.between(-8, 8)),
      );
      return b;
    case 5: // a random byte in the body
      if (b.length > 10) b[10 + rng.int(b.length - 10)] = rng.int(256);
      return b;
    default: // a random kind
      b[4] = rng.int(256);
      return b;
  }
}

async function runConnection(
  address: Address,
  index: number,
): Promise<{ frames: number; mutated: number }> {
  const rng = new Prng(SEED * 65_536 + index);
  const plan = planConnection(rng);
  const peer = await RawPeer.connect(env, address);
  // Sometimes in several writes, to vary how the server's reads are cut.
  const pieces = 1 + rng.int(4);
  let off = 0;
  for (let p = 1; p <= pieces; p++) {
    const end = p === pieces ? plan.bytes.length : off + rng.int(plan.bytes.length - off + 1);
    peer.send(plan.bytes.subarray(off, end));
    off = end;
  }
  const timer = env.timers.after(CONNECTION_TIMEOUT_MS, () => peer.destroy());
  await peer.untilClosed();
  timer.cancel();
  const where = `connection ${index}`;
  if (peer.closeError !== undefined && peer.frames.length === 0) {
    throw new Error(`${where}: closed with ${peer.closeError.code} and no frames (hang or crash?)`);
  }
  if (peer.decodeError !== undefined) {
    throw new Error(`${where}: the server sent a malformed frame: ${peer.decodeError.message}`);
  }
  const last = peer.frames[peer.frames.length - 1];
  if (last?.kind !== FrameKind.ERROR) {
    throw new Error(
      `${where}: closed without an ERROR frame (last frame ${JSON.stringify(last?.kind)})`,
    );
  }
  const fatal = peer.frames.filter((f) => f.kind === FrameKind.ERROR && f.requestId === 0);
  if (fatal.length > 1 || (fatal.length === 1 && fatal[0] !== last)) {
    throw new Error(`${where}: a connection-level ERROR before the last frame`);
  }
  for (const [i, f] of peer.frames.entries()) {
    const ok =
      f.kind === FrameKind.RESPONSE ||
      f.kind === FrameKind.ERROR ||
      f.kind === FrameKind.PONG ||
      (f.kind === FrameKind.HELLO_ACK && i === 0);
    if (!ok) throw new Error(`${where}: unexpected frame kind ${f.kind} from the server`);
    if (f.kind === FrameKind.ERROR && !(f.error instanceof TesseraError))
      throw new Error(`${where}: bad error`);
  }
  return plan;
}

describe('wire fuzz', () => {
  it(`feeds at least ${FRAMES_MIN} random and mutated frames to a live server`, async () => {
    const server = new RpcServer(env, {
      maxFrameBytes: MAX_FRAME,
      inFlightPerConnectionMax: 16,
      handshakeTimeoutMs: CONNECTION_TIMEOUT_MS,
      lingerMs: 1000,
    });
    server.handle('echo', (a) => a);
    server.handle('echo-async', async (a) => {
      await Promise.resolve();
      return a;
    });
    server.handle('fail', () => {
      throw new TesseraError('NOT_FOUND', 'nothing here');
    });
    server.handle('crash', (a) => {
      throw new Error(`crash ${typeof a}`);
    });
    const address = await server.listen({ host: '127.0.0.1', port: 0 });
    const good = await RpcClient.connect(env, address);
    let stop = false;
    let goodCalls = 0;
    const goodLoop = (async () => {
      while (!stop) {
        const v = { n: goodCalls, b: new Uint8Array([goodCalls & 0xff]) };
        const got = (await good.call('echo', v, { timeoutMs: 10_000 })) as typeof v;
        if (got.n !== v.n || got.b[0] !== v.b[0])
          throw new Error(`wrong answer ${JSON.stringify(got)}`);
        goodCalls++;
        await env.timers.sleep(1);
      }
    })();

    let frames = 0;
    let mutated = 0;
    let connections = 0;
    let nextIndex = 0;
    const t0 = env.clock.monoMicros();
    try {
      if (ONLY_CONNECTION !== undefined) {
        const r = await runConnection(address, Number(ONLY_CONNECTION));
        frames = r.frames;
        connections = 1;
      } else {
        await Promise.all(
          Array.from({ length: WORKERS }, async () => {
            // Until 100 000 frames were sent AND the server decoded 100 000 whole frames (a bad
            // frame ends its connection, so more is sent than decoded).
            while (frames < FRAMES_MIN || server.stats().framesReceived < FRAMES_MIN) {
              const r = await runConnection(address, nextIndex++);
              frames += r.frames;
              mutated += r.mutated;
              connections++;
            }
          }),
        );
      }
      stop = true;
      await goodLoop;
      // The well-behaved client still gets correct answers at the end.
      await expect(good.call('echo', 'final check', { timeoutMs: 5000 })).resolves.toBe(
        'final check',
      );
      await expect(good.ping({ timeoutMs: 5000 })).resolves.toBeGreaterThan(0);
      expect(good.closed).toBe(false);
      const stats = server.stats();
      if (ONLY_CONNECTION === undefined) {
        expect(frames).toBeGreaterThanOrEqual(FRAMES_MIN);
        expect(stats.protocolErrors).toBeGreaterThanOrEqual(connections);
        expect(stats.framesReceived).toBeGreaterThanOrEqual(FRAMES_MIN);
      }
      const seconds = (env.clock.monoMicros() - t0) / 1e6;
      console.log(
        `wire fuzz seed=${SEED}: ${frames} frames (${mutated} mutated or random) on ${connections} connections ` +
          `in ${seconds.toFixed(1)} s; server decoded ${stats.framesReceived} frames, ` +
          `started ${stats.requestsStarted} requests, closed ${stats.protocolErrors} bad connections; ` +
          `good client made ${goodCalls} calls`,
      );
    } catch (err) {
      stop = true;
      throw new Error(
        `wire fuzz failed; reproduce with WIRE_FUZZ_SEED=${SEED} npx vitest run src/wire/fuzz.test.ts: ${String(err)}`,
        { cause: err },
      );
    } finally {
      stop = true;
      await goodLoop.catch(() => undefined);
      await good.close();
      await server.close({ drainTimeoutMs: 0 });
    }
  });
});
