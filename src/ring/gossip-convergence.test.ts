/**
 * Convergence of many gossipers: the simulator's own checks, then how the number of rounds
 * grows with the cluster. Push-pull gossip spreads a change in about log3(N) + O(ln ln N)
 * rounds (Karp et al., "Randomized rumor spreading", 2000); Cassandra's variant adds the seed
 * SYNs and, from scratch, a first phase in which nodes know only the seeds.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { isTesseraError } from '../util/errors.js';
import { Prng } from '../util/prng.js';
import { GossipCluster, convergenceRounds, disseminationRounds } from './gossip-convergence.js';

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const runs = [1, 2, 3, 4, 5];

describe('GossipCluster', () => {
  it('converges to every node holding every node’s status, checked from outside the tracker', () => {
    const cluster = new GossipCluster({ nodes: 30, seeds: 2, random: new Prng(11) });
    for (let i = 0; i < cluster.size; i++) cluster.setStatus(i, 'normal');
    const first = cluster.runUntilConverged(100);
    expect(first.rounds).toBeGreaterThan(1);
    const statuses = (): (string | undefined)[][] =>
      cluster.gossipers.map((g) =>
        cluster.gossipers.map((peer) => g.state(peer.self)?.app.get('status')?.value),
      );
    expect(
      statuses()
        .flat()
        .every((s) => s === 'normal'),
    ).toBe(true);

    cluster.setStatus(7, 'leaving');
    expect(cluster.converged()).toBe(false);
    const second = cluster.runUntilConverged(100);
    expect(second.rounds).toBeGreaterThan(0);
    expect(statuses().every((row) => row[7] === 'leaving')).toBe(true);
    // Each round every node sends at least its SYN, and the exchanges add ACKs and ACK2s.
    expect(second.messages).toBeGreaterThanOrEqual(second.rounds * cluster.size * 2);
  });

  it('is deterministic for a seed', () => {
    const a = convergenceRounds({ nodes: 50, seeds: 2, random: new Prng(3), lossRate: 0.1 });
    const b = convergenceRounds({ nodes: 50, seeds: 2, random: new Prng(3), lossRate: 0.1 });
    expect(a).toEqual(b);
    const c = disseminationRounds({ nodes: 50, seeds: 2, random: new Prng(3) });
    expect(disseminationRounds({ nodes: 50, seeds: 2, random: new Prng(3) })).toEqual(c);
  });

  it('a single node has converged before any round', () => {
    expect(convergenceRounds({ nodes: 1, seeds: 1, random: new Prng(1) })).toEqual({
      rounds: 0,
      messages: 0,
    });
  });

  it('converges despite losing a third of the messages, in more rounds', () => {
    const lossless = runs.map(
      (s) => convergenceRounds({ nodes: 100, seeds: 3, random: new Prng(s) }).rounds,
    );
    const lossy = runs.map(
      (s) =>
        convergenceRounds({ nodes: 100, seeds: 3, random: new Prng(s), lossRate: 1 / 3 }).rounds,
    );
    expect(median(lossy)).toBeGreaterThan(median(lossless));
  });

  it('fails with SIMULATION_FAILED past roundsMax, and checks its options', () => {
    let thrown: unknown;
    try {
      convergenceRounds({ nodes: 100, seeds: 1, random: new Prng(1), roundsMax: 3 });
    } catch (e) {
      thrown = e;
    }
    expect(isTesseraError(thrown, 'SIMULATION_FAILED')).toBe(true);
    const bad = [
      { nodes: 0, seeds: 1 },
      { nodes: 10, seeds: 0 },
      { nodes: 10, seeds: 11 },
      { nodes: 10, seeds: 1, lossRate: 1 },
      { nodes: 10.5, seeds: 1 },
    ];
    for (const options of bad) {
      expect(() => convergenceRounds({ ...options, random: new Prng(1) })).toThrow(
        /must be|lossRate/,
      );
    }
  });
});

describe('rounds grow with log N', () => {
  // Medians over 5 seeds. Cost: the N = 300 runs take about a second in all.
  const sizes = [
    { nodes: 10, seeds: 1 },
    { nodes: 100, seeds: 3 },
    { nodes: 300, seeds: 3 },
  ];
  let measured: { nodes: number; converge: number; disseminate: number }[] = [];
  beforeAll(() => {
    measured = sizes.map(({ nodes, seeds }) => ({
      nodes,
      converge: median(
        runs.map((s) => convergenceRounds({ nodes, seeds, random: new Prng(s) }).rounds),
      ),
      disseminate: median(
        runs.map((s) => disseminationRounds({ nodes, seeds, random: new Prng(100 + s) }).rounds),
      ),
    }));
  });

  it('one change reaches everyone in at most log2(N) + 2 rounds', () => {
    for (const m of measured) expect(m.disseminate).toBeLessThanOrEqual(Math.log2(m.nodes) + 2);
  });

  it('30 times the nodes costs a few more rounds, not 30 times as many', () => {
    const [small, , large] = measured;
    // log2(300 / 10) = 4.9: each doubling of the cluster may cost about one more round.
    expect(large!.disseminate - small!.disseminate).toBeLessThanOrEqual(Math.log2(30) + 1);
    expect(large!.converge - small!.converge).toBeLessThanOrEqual(2 * Math.log2(30) + 1);
    expect(large!.disseminate).toBeGreaterThanOrEqual(small!.disseminate);
  });

  it('a cluster starting from scratch converges in at most 2 log2(N) + 4 rounds', () => {
    // From scratch a node knows only the seeds: every node reaches a seed in round 1, then the
    // seeds' full view spreads epidemically, and the last nodes still have to pull theirs.
    for (const m of measured) expect(m.converge).toBeLessThanOrEqual(2 * Math.log2(m.nodes) + 4);
  });
});
