import { describe, expect, it } from 'vitest';
import type { Connection, Timers } from '../env/types.js';
import { SimWorld } from '../env/sim/index.js';
import { Outbox } from './outbox.js';

/** A simulated connection from c to s: the outbox writes on the client's end. */
async function pair(): Promise<{
  world: SimWorld;
  conn: Connection;
  timers: Timers;
  received: () => number;
}> {
  const world = new SimWorld({ seed: 9 });
  const serverEnv = world.addNode('s').env;
  const clientEnv = world.addNode('c').env;
  let bytes = 0;
  await world.settle(
    serverEnv.net.listen({ host: 's', port: 7000 }, (c) => {
      c.setHandlers({
        onData: (chunk) => (bytes += chunk.length),
        onClose: () => undefined,
        onDrain: () => undefined,
      });
    }),
  );
  const conn = await world.settle(clientEnv.net.connect({ host: 's', port: 7000 }));
  conn.setHandlers({ onData: () => undefined, onClose: () => undefined, onDrain: () => undefined });
  return { world, conn, timers: clientEnv.timers, received: () => bytes };
}

describe('Outbox', () => {
  it('corks the frames of one task into one write after it, or writes once flushAtBytes are queued', async () => {
    for (const flushAtBytes of [undefined, 1000]) {
      const { world, conn, timers, received } = await pair();
      const outbox = new Outbox(conn, timers, {
        ...(flushAtBytes === undefined ? {} : { flushAtBytes }),
      });
      const value = new Uint8Array(300);
      const pending: number[] = [];
      // One task: ten responses of the same size.
      for (let i = 0; i < 10; i++) {
        outbox.response(i + 1, value);
        pending.push(outbox.pendingBytes);
      }
      const frameBytes = pending[0]!;
      if (flushAtBytes === undefined) {
        // Everything waits for the end of the task.
        expect(pending.every((b, i) => i === 0 || b > pending[i - 1]!)).toBe(true);
      } else {
        // Written whenever 1000 bytes had gathered: never more than that waits.
        expect(Math.max(...pending)).toBeLessThan(flushAtBytes + 400);
        expect(pending.filter((b) => b === 0).length).toBeGreaterThanOrEqual(2);
      }
      await world.settle(new Promise<void>((resolve) => world.after(50, resolve, 'wait')));
      expect(received()).toBe(10 * frameBytes);
      expect(outbox.pendingBytes).toBe(0);
    }
  });
});
