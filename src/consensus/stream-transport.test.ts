import { describe, expect, it } from 'vitest';
import { SimWorld } from '../env/sim/index.js';
import type { Env } from '../env/types.js';
import { FrameReader, StreamTransport, frame } from './stream-transport.js';
import type { Message } from './types.js';

const append = (from: number, to: number, index: number, bytes: number): Message => ({
  kind: 'append',
  from,
  to,
  term: 1,
  prevIndex: index - 1,
  prevTerm: 1,
  commit: 0,
  entries: [{ index, term: 1, kind: 'normal', data: new Uint8Array(bytes).fill(index & 0xff) }],
});

describe('FrameReader', () => {
  it('cuts frames from arbitrary chunks and refuses one over the limit', () => {
    const a = frame(new Uint8Array([1, 2, 3]));
    const b = frame(new Uint8Array(0));
    const c = frame(new Uint8Array([9]));
    const all = new Uint8Array([...a, ...b, ...c]);
    for (let cut = 0; cut <= all.length; cut++) {
      const r = new FrameReader(16);
      const got = [...r.push(all.subarray(0, cut))!, ...r.push(all.subarray(cut))!];
      expect(got.map((f) => [...f])).toEqual([[1, 2, 3], [], [9]]);
    }
    expect(new FrameReader(2).push(a)).toBeUndefined();
  });
});

describe('StreamTransport', () => {
  it('delivers large messages, reconnects after a peer restarts, drops for unreachable peers', async () => {
    const world = new SimWorld({ seed: 3 });
    const peers = new Map([
      [1, { host: 'a', port: 7000 }],
      [2, { host: 'b', port: 7000 }],
    ]);
    const received: Message[] = [];
    const transports = new Map<number, StreamTransport>();
    const start = (id: number) => async (env: Env) => {
      transports.set(
        id,
        await StreamTransport.start(env, {
          self: id,
          listen: peers.get(id)!,
          peers,
          onMessage: (m) => {
            if (id === 2) received.push(m);
          },
        }),
      );
    };
    world.addNode('a').start(start(1));
    world.addNode('b').start(start(2));
    await world.runUntil(() => transports.size === 2, { timeoutMs: 1_000 });
    const t1 = transports.get(1)!;

    t1.send(2, append(1, 2, 1, 300_000));
    t1.send(2, append(1, 2, 2, 10));
    t1.send(3, append(1, 3, 3, 10)); // unknown peer: ignored
    await world.runUntil(() => received.length === 2, { timeoutMs: 5_000 });
    expect(received.map((m) => (m.kind === 'append' ? m.entries[0]!.data.length : -1))).toEqual([
      300_000, 10,
    ]);

    world.crash('b');
    transports.delete(2);
    await world.runFor(100);
    t1.send(2, append(1, 2, 4, 10)); // lost: b is down
    await world.runFor(2_000);
    expect(t1.stats.drops + t1.stats.connectFailures).toBeGreaterThan(0);

    world.restart('b');
    await world.runUntil(() => transports.has(2), { timeoutMs: 1_000 });
    const before = received.length;
    await world.runUntil(
      () => {
        t1.send(2, append(1, 2, 5, 10));
        return received.length > before;
      },
      { timeoutMs: 10_000 },
    );
    expect(received.at(-1)).toMatchObject({ kind: 'append', prevIndex: 4 });
    await world.settle(t1.close());
    t1.send(2, append(1, 2, 6, 10)); // closed: dropped, no throw
  });

  it('closes an inbound connection that sends a bad frame', async () => {
    const world = new SimWorld({ seed: 4 });
    let t: StreamTransport | undefined;
    let closed = false;
    world.addNode('a').start(async (env) => {
      t = await StreamTransport.start(env, {
        self: 1,
        listen: { host: 'a', port: 7000 },
        peers: new Map(),
        frameBytesMax: 1024,
        onMessage: () => expect.fail('no message expected'),
      });
    });
    world.addNode('b').start(async (env) => {
      const conn = await env.net.connect({ host: 'a', port: 7000 });
      conn.setHandlers({ onData: () => {}, onClose: () => (closed = true) });
      conn.write(frame(new Uint8Array([0xff, 0xff, 0xff])));
    });
    await world.runUntil(() => closed, { timeoutMs: 5_000 });
    expect(t!.stats.badFrames).toBe(1);
  });
});
