/**
 * A three-node ring under SIGKILL, with real processes: three `tessera node --ring` processes
 * (the BUILT bin/tessera.js, loopback ports, temporary directories) gossip until each sees the
 * others; a hashed table at RF 3 takes QUORUM writes from a client connected to all three; one
 * node is SIGKILLed mid-load; QUORUM writes and reads must carry on (only calls in flight on the
 * killed node's connection may end with an unknown outcome), and every acknowledged write must
 * read back at QUORUM. The killed node then restarts on its port with its data directory and
 * must rejoin: the others see it up again with a larger generation and the same tokens, and
 * reads at ALL (which need it) succeed.
 *
 * `npm test` builds before it runs vitest. Run directly without a build, the test is skipped
 * (and says so); run under `npm test`, a missing build is a failure.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  allAlive,
  RingProcesses,
  skippedWithoutBuild,
  sleep,
} from '../cli/testing/ring-processes.js';
import { connect, type Database } from '../client/index.js';
import { toTesseraError } from '../util/errors.js';

const cluster = new RingProcesses('ring-kill', { flags: ['--memory-mb', '256'] });

afterAll(() => cluster.dispose());

describe('a three-node ring under SIGKILL (real processes)', () => {
  if (skippedWithoutBuild('QUORUM carries on through a SIGKILL')) return;

  it('carries on at QUORUM through a SIGKILL, and the node rejoins after a restart', async () => {
    const nodes = await cluster.startRing(['n1', 'n2', 'n3']);
    const [n1, n2, n3] = nodes;
    for (const n of nodes) {
      await cluster.waitRing(n.address, 'three normal nodes', 20_000, allAlive(3));
    }
    const before = (await cluster.describe(n1.address)).endpoints.find((e) => e.id === n3.address)!;

    const db: Database = await connect(
      cluster.env,
      nodes.map((n) => n.address),
      { consistency: 'QUORUM', timeoutMs: 5000 },
    );
    try {
      await db.createTable({
        name: 'kv',
        families: [{ name: 'f' }],
        placement: { hashed: { replicationFactor: 3 } },
      });
      const kv = db.table('kv');
      const acked = new Map<string, string>();
      const unknown: string[] = [];
      const failedAfterKill: string[] = [];
      let killedAt = Infinity;
      let i = 0;
      const writer = async (until: number) => {
        while (Date.now() < until) {
          const n = i++;
          const key = `k${n % 200}`;
          const value = `v${n}`;
          try {
            await kv.put(key, { 'f:v': value });
            acked.set(key, value);
          } catch (err) {
            const e = toTesseraError(err);
            // A call in flight on the killed node's connection may or may not have happened.
            if (e.details?.['outcomeUnknown'] === true) unknown.push(`${key} ${e.code}`);
            else if (Date.now() > killedAt) failedAfterKill.push(`${key}: ${e.code} ${e.message}`);
            else throw e;
          }
        }
      };
      const start = Date.now();
      const load = Promise.all(Array.from({ length: 4 }, () => writer(start + 4000)));
      await sleep(1500);
      killedAt = Date.now();
      n3.proc.kill('SIGKILL');
      await load;
      expect(failedAfterKill).toEqual([]);
      expect(unknown.length).toBeLessThan(20);
      expect(acked.size).toBe(200);
      // Every acknowledged write reads back at QUORUM, from the two survivors.
      for (const [key, value] of acked) {
        const row = await kv.get(key);
        // A later write with an unknown outcome may have landed; then the value is newer.
        const got = row?.text('f:v');
        expect(
          got === value || unknown.some((u) => u.startsWith(`${key} `)),
          `${key}: ${got}`,
        ).toBe(true);
      }
      // ALL needs the dead node: Unavailable once the others stop hearing it. Both survivors
      // must see it down, whichever of them coordinates the read (before that, a coordinator
      // still tries it and answers REPLICA_TIMEOUT).
      for (const n of [n1, n2]) {
        await cluster.waitRing(n.address, 'n3 down', 20_000, (d) =>
          d.endpoints.some((e) => e.id === n3.address && !e.alive),
        );
      }
      const all = await kv.get('k1', { consistency: 'ALL' }).catch((err: unknown) => err);
      expect(toTesseraError(all).code).toBe('REPLICAS_UNAVAILABLE');

      // Restart on the same port and directory: it rejoins with its tokens.
      const again = await cluster.start('n3', { listen: n3.address, seeds: [n1.address] });
      expect(again.address).toBe(n3.address);
      // Every node must see it up before reads at ALL, whichever node coordinates them.
      for (const n of [n2, again]) {
        await cluster.waitRing(n.address, 'n3 back', 30_000, allAlive(3));
      }
      const after = await cluster.waitRing(n1.address, 'n3 back', 30_000, allAlive(3));
      const e3 = after.endpoints.find((e) => e.id === n3.address)!;
      expect(e3.generation).toBeGreaterThan(before.generation);
      expect(e3.tokens).toEqual(before.tokens);
      for (const [key] of acked) {
        expect((await kv.get(key, { consistency: 'ALL' }))?.text('f:v')).toBeDefined();
      }
    } finally {
      await db.close();
    }
  }, 120_000);
});
