import { describe, expect, it } from 'vitest';
import { SimWorld } from '../env/sim/index.js';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { isTesseraError } from '../util/errors.js';
import { RaftNode, type RaftNodeOptions } from './driver.js';
import type { Entry, Message } from './types.js';

function single(voters: readonly number[] = [1]) {
  const world = new SimWorld({ seed: 5 });
  const sim = world.addNode('n1');
  const run = <T>(p: Promise<T>): Promise<T> => world.settle(p, { timeoutMs: 60_000 });
  const applied: string[] = [];
  const sent: Message[] = [];
  const start = () =>
    RaftNode.start({
      env: sim.env,
      id: 1,
      voters,
      dir: '/raft',
      tickMs: 10,
      requestTimeoutMs: 500,
      transport: { send: (_to, m) => sent.push(m) },
      apply: (e: Entry) => {
        if (e.kind === 'normal') applied.push(`${e.index}:${fromUtf8(e.data)}`);
      },
    });
  return { world, sim, run, applied, sent, start };
}

async function errorOf(p: Promise<unknown>): Promise<{ code: string; reason: unknown }> {
  try {
    await p;
    return { code: 'ok', reason: undefined };
  } catch (err) {
    if (!isTesseraError(err)) throw err;
    return { code: err.code, reason: err.details?.reason };
  }
}

describe('RaftNode', () => {
  it('resolves proposals when applied, serves reads, and replays from disk on restart', async () => {
    const { world, sim, run, applied, start } = single();
    const node = await run(start());
    await world.runUntil(() => node.status().role === 'leader', { timeoutMs: 5_000 });
    const results = await run(Promise.all(['a', 'b', 'c'].map((v) => node.propose(utf8(v)))));
    expect(results.map((r) => r.index)).toEqual([2, 3, 4]);
    expect(applied).toEqual(['2:a', '3:b', '4:c']);
    expect(await run(node.read())).toBeGreaterThanOrEqual(4);

    sim.restart();
    applied.length = 0;
    const again = await run(start());
    await world.runUntil(() => applied.length === 3, { timeoutMs: 5_000 });
    expect(applied).toEqual(['2:a', '3:b', '4:c']);
    await run(again.stop());
    expect(await errorOf(again.propose(utf8('late')))).toEqual({
      code: 'SHUTTING_DOWN',
      reason: undefined,
    });
  });

  /** A single-voter node started with `options` on a fresh world, once it leads. */
  async function soleLeader(seed: number, options: Partial<RaftNodeOptions>) {
    const world = new SimWorld({ seed });
    const env = world.addNode('n1').env;
    const run = <T>(p: Promise<T>): Promise<T> => world.settle(p, { timeoutMs: 60_000 });
    const node = await run(
      RaftNode.start({
        env,
        id: 1,
        voters: [1],
        dir: '/raft',
        tickMs: 10,
        transport: { send: () => {} },
        apply: () => {},
        ...options,
      }),
    );
    await world.runUntil(() => node.status().role === 'leader', { timeoutMs: 5_000 });
    return { world, run, node };
  }

  it('snapshots once the entries since the last snapshot carry snapshotBytes of data', async () => {
    const captures: number[] = [];
    let applied = 0;
    const { run, node } = await soleLeader(6, {
      apply: (e: Entry) => {
        applied = e.index;
      },
      restore: () => {},
      snapshotEntries: 1_000,
      snapshotBytes: 250,
      capture: () => {
        captures.push(applied);
        return new Uint8Array(0);
      },
    });
    const big = new Uint8Array(100);
    for (let i = 0; i < 2; i++) await run(node.propose(big));
    expect(captures).toEqual([]); // 200 bytes: under the bound, and far from 1,000 entries
    await run(node.propose(big));
    expect(captures).toEqual([4]); // noop + 3 entries, 300 bytes
    for (let i = 0; i < 2; i++) await run(node.propose(big));
    expect(captures).toEqual([4]); // counting starts again after a snapshot
    await run(node.stop());
  });

  it('takes a snapshot in steps while proposals go on, and compacts to where it began', async () => {
    const world = new SimWorld({ seed: 9 });
    const sim = world.addNode('n1');
    const run = <T>(p: Promise<T>): Promise<T> => world.settle(p, { timeoutMs: 60_000 });
    let state: string[] = [];
    const steps: number[] = [];
    let restored: { index: number; state: string[] } | undefined;
    const start = () =>
      RaftNode.start({
        env: sim.env,
        id: 1,
        voters: [1],
        dir: '/raft',
        tickMs: 10,
        transport: { send: () => {} },
        apply: (e: Entry) => {
          if (e.kind === 'normal') state.push(fromUtf8(e.data));
        },
        restore: (s) => {
          state = JSON.parse(fromUtf8(s.data)) as string[];
          restored = { index: s.meta.index, state: [...state] };
        },
        snapshotEntries: 4,
        capture: () => {
          const taken = [...state]; // what a copy-on-write capture would see
          let left = 5;
          return {
            step: () => {
              steps.push(state.length);
              return --left > 0 ? undefined : utf8(JSON.stringify(taken));
            },
            cancel: () => {},
          };
        },
      });
    const node = await run(start());
    await world.runUntil(() => node.status().role === 'leader', { timeoutMs: 5_000 });
    // Index 1 is the leader's noop: the capture begins after a, b, c (index 4).
    for (const v of ['a', 'b', 'c']) await run(node.propose(utf8(v)));
    // Answered while the capture is in progress, one proposal after another.
    for (const v of ['d', 'e']) await run(node.propose(utf8(v)));
    await world.runFor(100);
    expect(steps).toHaveLength(5);
    expect(steps[0]).toBe(3);
    expect(steps[4]).toBe(5); // d and e were applied between the steps
    await run(node.stop());

    sim.restart();
    state = [];
    const again = await run(start());
    await world.runUntil(() => state.length === 5, { timeoutMs: 5_000 });
    expect(restored).toEqual({ index: 4, state: ['a', 'b', 'c'] });
    expect(state).toEqual(['a', 'b', 'c', 'd', 'e']);
    await run(again.stop());
  });

  it('reports the failure that stops it, once, to onFailure', async () => {
    const failures: string[] = [];
    const { world, run, node } = await soleLeader(8, {
      onFailure: (err) => failures.push(isTesseraError(err) ? err.code : String(err)),
    });
    world.setDiskFaults('n1', { syncErrorRate: 1 });
    expect((await errorOf(run(node.propose(utf8('x'))))).code).toBe('IO_ERROR');
    // Stopped for good: later requests are refused, and the failure is not reported again.
    expect((await errorOf(run(node.propose(utf8('y'))))).code).toBe('SHUTTING_DOWN');
    await world.runFor(1_000);
    expect(failures).toEqual(['IO_ERROR']);
    await run(node.stop()).catch(() => undefined);
  });

  it('refuses proposals without a leader and campaigns through the transport', async () => {
    const { world, run, sent, start } = single([1, 2, 3]);
    const node = await run(start());
    expect(await errorOf(node.propose(utf8('x')))).toEqual({
      code: 'NOT_LEADER',
      reason: 'not-leader',
    });
    // It campaigns (its peers never answer), so messages went out only after being saved.
    await world.runFor(1_000);
    expect(sent.some((m) => m.kind === 'pre-vote' || m.kind === 'vote')).toBe(true);
    await run(node.stop());
  });
});
