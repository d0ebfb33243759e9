/**
 * The Raft paper's safety properties (Figure 3), each checked over many seeded random runs
 * with message loss, duplication and reordering, partitions, crashes with restart from disk,
 * and log compaction. Every failure names its seed.
 */
import { describe, expect, it } from 'vitest';
import { Prng } from '../util/prng.js';
import { SafetyChecker, checkLogMatching } from './testing/checkers.js';
import { Network } from './testing/network.js';
import type { NodeId } from './types.js';

const SEEDS = 300;
const STEPS_PER_RUN = 3000;

interface RunResult {
  readonly net: Network;
  readonly checker: SafetyChecker;
}

function randomRun(seed: number): RunResult {
  const rng = new Prng(seed);
  const ids: NodeId[] = seed % 2 === 0 ? [1, 2, 3] : [1, 2, 3, 4, 5];
  const net = new Network(ids, seed, {
    electionTicks: 10,
    appendEntriesMax: 4,
    inflightAppendsMax: 3,
    preVote: seed % 3 !== 0,
    checkQuorum: seed % 4 !== 0,
  });
  const checker = new SafetyChecker();
  net.observer = checker;
  net.dropRate = 0.05;
  net.duplicateRate = 0.02;
  const readsAsked = new Map<string, number>();
  for (let step = 0; step < STEPS_PER_RUN; step++) {
    const p = rng.int(100);
    const id = rng.pick(ids);
    if (p < 55) net.deliverRandom();
    else if (p < 80) net.tick(id);
    else if (p < 88) net.propose(net.leader() ?? id, `${seed}:${step}`);
    else if (p < 90) net.partition(rng.shuffle([...ids]).slice(0, 1 + rng.int(ids.length - 1)));
    else if (p < 93) net.heal();
    else if (p < 95) net.crash(id);
    else if (p < 97) net.compact(id);
    else if (p < 98) {
      const ctx = `${seed}:${step}`;
      readsAsked.set(ctx, Math.max(0, ...checker.committed.keys()));
      net.act(id, (r) => r.readIndex(ctx));
    } else if (p < 99) changeMembership(net, ids, rng);
    else transferLeadership(net, rng);
  }
  checkLogMatching(net);
  checkReads(net, readsAsked);
  return { net, checker };
}

/**
 * Read-index linearizability: a read point is at least every commit index any node had
 * reported when the read was asked for, so the read sees every write acknowledged before it.
 */
function checkReads(net: Network, asked: ReadonlyMap<string, number>): void {
  for (const [id, reads] of net.reads) {
    for (const read of reads) {
      const [ctx, index] = read.split('@') as [string, string];
      const floor = asked.get(ctx);
      expect(floor, `node ${id} got an answer to a read nobody asked`).toBeDefined();
      expect(Number(index), `read ${ctx} at node ${id}`).toBeGreaterThanOrEqual(floor!);
    }
  }
}

/** At the leader: remove a voter while all are in, else add the missing one back. */
function changeMembership(net: Network, ids: readonly NodeId[], rng: Prng): void {
  const leader = net.leader();
  if (leader === undefined) return;
  const voters = net.raft(leader).status().config.voters;
  const missing = ids.filter((id) => !voters.includes(id));
  const change =
    missing.length > 0
      ? { kind: 'add' as const, id: missing[0]! }
      : { kind: 'remove' as const, id: rng.pick(voters.filter((v) => v !== leader)) };
  net.act(leader, (r) => r.proposeConfChange(change));
}

function transferLeadership(net: Network, rng: Prng): void {
  const leader = net.leader();
  if (leader === undefined) return;
  const voters = net
    .raft(leader)
    .status()
    .config.voters.filter((v) => v !== leader);
  if (voters.length > 0) net.act(leader, (r) => r.transferLeadership(rng.pick(voters)));
}

/**
 * Faults off: a leader must emerge, commit a new entry, and every voter must apply it. A lost
 * snapshot or a pending transfer costs an election timeout, so allow many rounds.
 */
function settle(net: Network): void {
  net.heal();
  net.dropRate = 0;
  net.duplicateRate = 0;
  let finalIndex = 0;
  const done = () => {
    const leader = net.leader();
    if (leader === undefined || finalIndex === 0) return false;
    const indexes = net
      .raft(leader)
      .status()
      .config.voters.map((id) => net.apps.get(id)!.index);
    return indexes.every((i) => i >= finalIndex && i === indexes[0]);
  };
  for (let round = 0; round < 300 && !done(); round++) {
    const leader = net.leader();
    if (finalIndex === 0 && leader !== undefined) {
      const r = net.act(leader, (raft) => raft.propose(new TextEncoder().encode('final')));
      if (r.ok) finalIndex = r.index;
    }
    net.run(1);
  }
  expect(done()).toBe(true);
  checkLogMatching(net);
}

function forSeeds(fn: (seed: number) => void): void {
  for (let seed = 1; seed <= SEEDS; seed++) {
    try {
      fn(seed);
    } catch (err) {
      throw new Error(`seed ${seed}: ${String(err)}`, { cause: err });
    }
  }
}

describe('Raft safety over random fault schedules', () => {
  // One pass over the seeds checks every property (the checker watches each step); the tests
  // below re-assert each property by name against the recorded results.
  const results: RunResult[] = [];
  const runAll = () => {
    if (results.length === 0) forSeeds((seed) => results.push(randomRun(seed)));
    return results;
  };

  it('Election Safety: at most one leader can be elected in a given term', () => {
    const runs = runAll();
    const leaderTerms = runs.reduce((n, r) => n + r.checker.leaders.size, 0);
    expect(leaderTerms).toBeGreaterThan(SEEDS); // the runs did elect (and re-elect) leaders
  });

  it('Leader Append-Only: a leader never overwrites or deletes entries in its log', () => {
    // Checked at every step a leader takes by SafetyChecker.checkLeader; nearly every run
    // must have had leaders for the check to mean anything.
    const withLeaders = runAll().filter((r) => r.checker.leaders.size > 0).length;
    expect(withLeaders).toBeGreaterThan(SEEDS * 0.95);
  });

  it('Log Matching: same index and term means identical logs up to that index', () => {
    for (const r of runAll()) checkLogMatching(r.net);
  });

  it('Leader Completeness: committed entries are present in the logs of all later leaders', () => {
    const committed = runAll().reduce((n, r) => n + r.checker.committed.size, 0);
    expect(committed).toBeGreaterThan(SEEDS * 10);
  });

  it('State Machine Safety: every node applies the same entry at each index', () => {
    const applied = runAll().reduce((n, r) => n + r.checker.applyCount, 0);
    expect(applied).toBeGreaterThan(SEEDS * 10);
  });

  it('read-index: answers are never older than what was committed when the read began', () => {
    const answered = runAll().reduce(
      (n, r) => n + [...r.net.reads.values()].reduce((k, v) => k + v.length, 0),
      0,
    );
    expect(answered).toBeGreaterThan(SEEDS);
  });

  it('liveness: with faults healed, a leader emerges and every node converges', () => {
    forSeeds((seed) => {
      settle(runAll()[seed - 1]!.net);
    });
  });

  it('is deterministic: the same seed gives the same run', () => {
    const a = randomRun(42).net;
    const b = randomRun(42).net;
    for (const id of a.ids) expect(a.raft(id).status()).toEqual(b.raft(id).status());
  });
});
