/**
 * Helpers shared by the simulator's tests: a length-prefixed framing (so tests can exchange
 * messages over streams that split chunks) and a small multi-node workload with every kind of
 * event in it, for determinism checks.
 */
import type { Connection, Env } from '../../types.js';
import { concatBytes, fromUtf8, utf8 } from '../../../util/bytes.js';
import type { SimWorld } from '../world.js';

/** Reassembles 4-byte big-endian length-prefixed frames from arbitrary chunks. */
export class FrameReader {
  private buffered: Uint8Array = new Uint8Array(0);

  constructor(private readonly onFrame: (frame: Uint8Array) => void) {}

  push(chunk: Uint8Array): void {
    this.buffered = concatBytes([this.buffered, chunk]);
    for (;;) {
      if (this.buffered.length < 4) return;
      const view = new DataView(this.buffered.buffer, this.buffered.byteOffset);
      const length = view.getUint32(0);
      if (this.buffered.length < 4 + length) return;
      this.onFrame(this.buffered.slice(4, 4 + length));
      this.buffered = this.buffered.slice(4 + length);
    }
  }
}

export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

/** An echo server: every frame is logged to disk (appended, synced) and sent back. */
export async function echoServer(env: Env, port: number): Promise<void> {
  await env.fs.mkdir('/data', { recursive: true });
  const log = await env.fs.open('/data/log', { create: true });
  await env.fs.syncDir('/data');
  await env.net.listen({ host: env.name, port }, (conn) => {
    const reader = new FrameReader((payload) => {
      void log.append(payload).then(() => log.sync());
      conn.write(frame(payload));
    });
    conn.setHandlers({ onData: (chunk) => reader.push(chunk), onClose: () => {} });
  });
}

/** A client that sends `count` random messages to `target` and counts the echoes it gets. */
export function echoClient(env: Env, target: string, port: number, count: number): void {
  let sent = 0;
  let conn: Connection | undefined;
  const connect = (): void => {
    env.net.connect({ host: target, port }, { timeoutMs: 500 }).then(
      (c) => {
        conn = c;
        const reader = new FrameReader(() => {});
        c.setHandlers({
          onData: (chunk) => reader.push(chunk),
          onClose: () => {
            conn = undefined;
            env.timers.after(50, connect);
          },
        });
      },
      () => env.timers.after(100, connect),
    );
  };
  connect();
  const timer = env.timers.every(7, () => {
    if (conn === undefined) return;
    const size = env.random.between(1, 300);
    conn.write(frame(utf8(`${env.name}:${sent}:${fromUtf8(env.random.bytes(size))}`)));
    if (++sent >= count) timer.cancel();
  });
}

/**
 * A three-node workload with faults of every kind: lossy, splitting, resetting network;
 * clock drift; a partition and heal; a crash and restart. Returns the world after the run.
 */
export async function runWorkload(seed: number, world: SimWorld): Promise<SimWorld> {
  world.setNetworkFaults({ lossRate: 0.05, resetRate: 0.002, splitRate: 0.5 });
  const server = world.addNode('s1', { clockDriftPpm: 50 });
  const a = world.addNode('c1', { clockDriftPpm: -80, clockOffsetMicros: 3_000 });
  const b = world.addNode('c2');
  server.start((env) => echoServer(env, 7000));
  a.start((env) => echoClient(env, 's1', 7000, 200));
  b.start((env) => echoClient(env, 's1', 7000, 200));
  world.after(300, () => world.partition(['s1'], ['c2']));
  world.after(600, () => world.heal());
  world.after(900, () => world.crash('s1'));
  world.after(950, () => world.restart('s1'));
  world.after(1200, () => world.trace(`scenario seed ${seed} done`));
  await world.run({ untilMs: 3_000 });
  return world;
}
