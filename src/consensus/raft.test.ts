/**
 * Raft unit tests, named after the behaviour (and where it applies, the paper's sentence) they
 * check, each driven through the in-memory Network.
 */
import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../util/errors.js';
import { Prng } from '../util/prng.js';
import { decodeConfig } from './config.js';
import { Raft } from './raft.js';
import { SafetyChecker, checkLogMatching } from './testing/checkers.js';
import { Network } from './testing/network.js';
import type { RaftTuning } from './testing/network.js';
import { SNAPSHOT_DATA_ON_DISK, type Message, type NodeId } from './types.js';

const bytes = (s: string) => new TextEncoder().encode(s);

function cluster(ids: NodeId[] = [1, 2, 3], tuning: RaftTuning = {}, seed = 7): Network {
  const net = new Network(ids, seed, tuning);
  net.observer = new SafetyChecker();
  return net;
}

/** A cluster with `leader` elected and its no-op committed everywhere. */
function withLeader(
  leader: NodeId = 1,
  ids: NodeId[] = [1, 2, 3],
  tuning: RaftTuning = {},
): Network {
  const net = cluster(ids, tuning);
  net.campaign(leader);
  expect(net.leader()).toBe(leader);
  return net;
}

function status(net: Network, id: NodeId) {
  return net.raft(id).status();
}

/**
 * Delivers `msgs` (leader 1's heartbeats, say) to nodes 2 and 3, then steps each one's answers
 * at node 1; returns the read states and messages of node 1's Readys after each answer.
 */
function answerAtLeader(net: Network, msgs: readonly Message[]) {
  const states: { index: number; ctx: string }[] = [];
  const messages: Message[] = [];
  for (const m of msgs) net.raft(m.to).step(m);
  for (const id of [2, 3]) {
    const r = net.raft(id).ready();
    net.raft(id).advance(r);
    for (const m of r.messages) net.raft(1).step(m);
    const out = net.raft(1).ready();
    states.push(...out.readStates);
    messages.push(...out.messages);
    net.raft(1).advance(out);
  }
  return { states, messages };
}

describe('elections', () => {
  it('a follower that hears nothing for its randomized election timeout becomes leader', () => {
    const net = cluster();
    // The timeout is drawn from [10, 20) ticks: nobody campaigns before 10.
    net.tickAll(9);
    expect(net.inflight).toHaveLength(0);
    for (let round = 0; round < 20 && net.leader() === undefined; round++) net.run(1);
    const leader = net.leader()!;
    expect(status(net, leader).term).toBe(1);
    for (const id of net.ids) expect(status(net, id).leader).toBe(leader);
  });

  it('grants at most one vote per term, and persists it before answering', () => {
    const net = cluster();
    const r2 = net.raft(2);
    r2.step({ kind: 'vote', from: 1, to: 2, term: 1, lastIndex: 0, lastTerm: 0, transfer: false });
    const rd = r2.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
    expect(rd.messages).toEqual([
      { kind: 'vote-response', from: 2, to: 1, term: 1, reject: false },
    ]);
    r2.advance(rd);
    r2.step({ kind: 'vote', from: 3, to: 2, term: 1, lastIndex: 5, lastTerm: 1, transfer: false });
    expect(r2.ready().messages[0]).toMatchObject({ kind: 'vote-response', reject: true });
  });

  it('denies its vote to a candidate whose log is less up-to-date (§5.4.1)', () => {
    const net = withLeader(1);
    net.propose(1, 'a');
    net.stabilize();
    const r3 = new Raft({ id: 3, voters: [1, 2, 3], random: new Prng(1) });
    r3.step({ kind: 'vote', from: 1, to: 3, term: 9, lastIndex: 1, lastTerm: 1, transfer: false });
    expect(r3.ready().messages[0]).toMatchObject({ reject: false });
    const r2 = net.raft(2);
    r2.step({ kind: 'vote', from: 3, to: 2, term: 9, lastIndex: 1, lastTerm: 1, transfer: true });
    expect(r2.ready().messages[0]).toMatchObject({ kind: 'vote-response', reject: true, term: 9 });
  });

  it('refuses proposals beyond the uncommitted-entries bound', () => {
    const net = withLeader(1, [1, 2, 3], { uncommittedEntriesMax: 3 });
    net.isolate(1);
    expect([1, 2, 3].map(() => net.propose(1, 'x'))).toEqual([true, true, true]);
    expect(net.act(1, (r) => r.propose(bytes('y')))).toMatchObject({ reason: 'overloaded' });
  });

  it('refuses proposals on followers with a hint naming the leader', () => {
    const net = withLeader(1);
    const r = net.act(2, (raft) => raft.propose(bytes('x')));
    expect(r).toEqual({ ok: false, reason: 'not-leader', leaderHint: 1 });
  });

  it('rebuilds term, vote and log from the persisted state alone after a crash', () => {
    const net = withLeader(1);
    for (const s of ['a', 'b', 'c']) net.propose(1, s);
    net.stabilize();
    const before = net.ids.map((id) => status(net, id));
    for (const id of net.ids) net.crash(id);
    for (const [i, id] of net.ids.entries()) {
      const s = status(net, id);
      expect(s.term).toBe(before[i]!.term);
      expect(s.vote).toBe(before[i]!.vote);
      expect(s.lastIndex).toBe(before[i]!.lastIndex);
      expect(s.role).toBe('follower');
    }
    net.run(40);
    const leader = net.leader()!;
    net.propose(leader, 'd');
    net.run(2);
    for (const id of net.ids) expect(net.apps.get(id)!.applied).toEqual(['a', 'b', 'c', 'd']);
  });

  it('forbids using Raft between ready() and advance()', () => {
    const net = cluster();
    const r = net.raft(1);
    r.campaign();
    const rd = r.ready();
    expect(() => r.tick()).toThrow(/advance/);
    r.advance(rd);
    expect(() => r.advance(rd)).toThrow();
  });
});

describe('pre-vote', () => {
  it('a partitioned node rejoining does not disrupt the leader', () => {
    const net = withLeader(1);
    const term = status(net, 1).term;
    net.isolate(3);
    net.run(100); // 3 times out again and again, but only pre-campaigns
    expect(status(net, 3).term).toBe(term);
    expect(status(net, 3).role).toBe('pre-candidate');
    net.heal();
    net.run(3);
    expect(net.leader()).toBe(1);
    expect(status(net, 1).term).toBe(term);
    expect(status(net, 3).leader).toBe(1);
  });

  it('without pre-vote and check-quorum, the same rejoin deposes the leader (the problem)', () => {
    const net = withLeader(1, [1, 2, 3], { preVote: false, checkQuorum: false });
    const term = status(net, 1).term;
    net.isolate(3);
    net.run(100);
    expect(status(net, 3).term).toBeGreaterThan(term + 2);
    net.heal();
    net.run(40);
    expect(status(net, net.leader()!).term).toBeGreaterThan(term + 2);
  });
});

describe('check-quorum', () => {
  it('a leader that does not hear from a quorum within an election timeout steps down', () => {
    const net = withLeader(1);
    net.isolate(1);
    // The first check still counts answers from before the cut; the second one fails.
    net.run(10);
    expect(status(net, 1).role).toBe('leader');
    net.run(10);
    expect(status(net, 1).role).toBe('follower');
    expect(status(net, 1).leader).toBe(0);
    net.run(40);
    expect([2, 3]).toContain(net.leader());
  });

  it('followers in lease ignore vote requests from a higher term', () => {
    const net = withLeader(1);
    const r2 = net.raft(2);
    r2.step({ kind: 'vote', from: 3, to: 2, term: 50, lastIndex: 9, lastTerm: 9, transfer: false });
    expect(r2.hasReady()).toBe(false);
    expect(status(net, 2).term).toBe(1);
  });
});

describe('log replication', () => {
  it('commits and applies proposals on every node in order', () => {
    const net = withLeader(1);
    for (let i = 0; i < 10; i++) net.propose(1, `v${i}`);
    net.stabilize();
    net.run(1);
    for (const id of net.ids) {
      expect(net.apps.get(id)!.applied).toEqual([...Array(10).keys()].map((i) => `v${i}`));
    }
  });

  it('batches appends (entries and bytes bounds) and pipelines up to the in-flight bound', () => {
    const net = withLeader(1, [1, 2, 3], {
      appendEntriesMax: 3,
      appendBytesMax: 10,
      inflightAppendsMax: 2,
    });
    for (let i = 0; i < 20; i++) net.propose(1, `${i % 10}`);
    net.propose(1, 'abcdefgh'); // 8 bytes
    net.propose(1, 'ijklmnop'); // alone: with the one before it would exceed 10 bytes
    const appendsTo2 = (ms: Message[]) => ms.filter((m) => m.kind === 'append' && m.to === 2);
    // Nothing delivered yet: in replicate state, at most 2 appends outstanding.
    const first = appendsTo2(net.inflight);
    expect(first.length).toBeLessThanOrEqual(2);
    net.recordDelivered = true;
    net.stabilize();
    for (const m of appendsTo2(net.delivered)) {
      if (m.kind !== 'append') continue;
      expect(m.entries.length).toBeLessThanOrEqual(3);
      const size = m.entries.reduce((n, e) => n + e.data.length, 0);
      expect(size <= 10 || m.entries.length === 1).toBe(true);
    }
    expect(status(net, 2).commit).toBe(status(net, 1).lastIndex);
  });

  it('proposals stepped before one Ready share one append per follower', () => {
    const net = withLeader(1);
    const raft = net.raft(1);
    for (const text of ['a', 'b', 'c', 'd']) expect(raft.propose(bytes(text)).ok).toBe(true);
    const rd = raft.ready();
    const appends = rd.messages.filter((m) => m.kind === 'append');
    expect(appends.map((m) => m.to).sort()).toEqual([2, 3]);
    for (const m of appends) {
      if (m.kind === 'append')
        expect(m.entries.map((e) => e.data)).toEqual(['a', 'b', 'c', 'd'].map(bytes));
    }
    raft.advance(rd);
    for (const m of rd.messages) net.inflight.push(m);
    net.stabilize();
    expect(status(net, 2).commit).toBe(status(net, 1).lastIndex);
  });

  it("a follower's conflicting suffix is replaced, backtracking a term per round trip", () => {
    const net = withLeader(1);
    net.isolate(1);
    for (let i = 0; i < 50; i++) net.propose(1, `stale${i}`); // indexes 2..51, term 1
    net.partition([1], [2, 3]);
    net.run(30); // 2 or 3 takes over (term 2) once its lease on 1 runs out
    const second = net.leader()!;
    expect([2, 3]).toContain(second);
    for (let i = 0; i < 50; i++) net.propose(second, `new${i}`); // indexes 3..52, term 2
    net.stabilize();
    // A third leader (term 3) starts probing 1 at its last index, 52: every entry of 1 from
    // index 2 on conflicts. One rejection's hint skips the whole of term 1.
    const third = second === 2 ? 3 : 2;
    net.act(second, (r) => r.transferLeadership(third));
    net.stabilize();
    expect(net.leader()).toBe(third);
    net.heal();
    net.recordDelivered = true;
    net.run(3);
    const rejections = net.delivered.filter((m) => m.kind === 'append-response' && m.reject);
    expect(rejections.length).toBe(1);
    expect(status(net, 1).leader).toBe(third);
    expect(net.apps.get(1)!.applied).toEqual([...Array(50).keys()].map((i) => `new${i}`));
    checkLogMatching(net);
  });

  it('Figure 8: a leader never commits an entry from an earlier term by counting replicas', () => {
    const tuning = { preVote: false, checkQuorum: false };
    const net = cluster([1, 2, 3, 4, 5], tuning);
    net.campaign(1); // term 1, no-op at index 1 everywhere
    // (a) S1 replicates index 2 (term 1) to S2 only.
    net.partition([1, 2], [3, 4, 5]);
    net.propose(1, 'x');
    net.stabilize();
    expect(net.raft(2).termAt(2)).toBe(1);
    // (b) S5 wins term 2 with S3 and S4, appends index 2 (term 2) but replicates nothing.
    net.hook = (m) => (m.from === 5 && m.kind === 'append' ? undefined : m);
    net.campaign(5);
    expect(status(net, 5).role).toBe('leader');
    expect(net.raft(5).termAt(2)).toBe(2);
    // (c) S5 and S1 crash and restart; S1 wins term 3 and replicates index 2 (term 1) to S3
    // and S4: a majority holds it, but the entries of term 3 never reach anyone.
    net.crash(5);
    net.crash(1);
    net.partition([1, 2, 3, 4], [5]);
    net.hook = (m) =>
      m.from === 1 && m.kind === 'append'
        ? { ...m, entries: m.entries.filter((e) => e.term < 3) }
        : m;
    while (status(net, 1).role !== 'leader') net.campaign(1);
    expect(status(net, 1).term).toBe(3);
    net.run(3);
    expect(net.raft(3).termAt(2)).toBe(1);
    expect(net.raft(4).termAt(2)).toBe(1);
    expect(status(net, 1).commit).toBe(1); // replicated on S1..S4, yet not committed
    // (d) S5 may still win (its last term 2 beats term 1) and overwrite index 2 everywhere;
    // that is safe only because index 2 was never committed.
    net.hook = undefined;
    net.crash(1);
    net.partition([2, 3, 4, 5], [1]);
    while (status(net, 5).role !== 'leader') net.campaign(5);
    net.stabilize();
    for (const id of [2, 3, 4, 5]) expect(net.raft(id).termAt(2)).toBe(2);
    // (e) once an entry of the leader's own term commits, earlier ones commit with it.
    net.heal();
    net.propose(5, 'y');
    net.run(12);
    for (const id of net.ids) expect(net.raft(id).termAt(2)).toBe(2);
    expect(status(net, 1).commit).toBe(status(net, 5).lastIndex);
  });
});

describe('snapshots', () => {
  /** Leader 1 with node 3 cut off, having committed `count` proposals without it. */
  function withLaggard(count: number): Network {
    const net = withLeader(1);
    net.isolate(3);
    for (let i = 0; i < count; i++) net.propose(1, `v${i}`);
    net.stabilize();
    return net;
  }

  /** Heals the network; node 3 must be caught up by an InstallSnapshot from leader 1. */
  function expectCaughtUpBySnapshot(net: Network): void {
    net.heal();
    net.recordDelivered = true;
    net.run(2);
    expect(net.delivered.some((m) => m.kind === 'install-snapshot' && m.to === 3)).toBe(true);
    expect(status(net, 3).commit).toBe(status(net, 1).commit);
    expect(net.apps.get(3)!.digest).toBe(net.apps.get(1)!.digest);
  }

  it('a follower behind the first log index is caught up with InstallSnapshot', () => {
    const net = withLaggard(20);
    expect(net.compact(1)).toBe(true);
    expect(status(net, 1).firstIndex).toBe(status(net, 1).commit + 1);
    expectCaughtUpBySnapshot(net);
    // After the snapshot, plain appends carry on; a restart rebuilds from snapshot + tail.
    net.propose(1, 'after');
    net.run(1);
    net.crash(3);
    net.run(2);
    expect(net.apps.get(3)!.applied).toContain('after');
    expect(net.apps.get(3)!.digest).toBe(net.apps.get(1)!.digest);
  });

  it('rejects compaction beyond the applied index', () => {
    const net = withLeader(1);
    expect(() => net.raft(1).compact(99, new Uint8Array(0))).toThrow(/compact/);
    let captured = false;
    expect(() =>
      net.raft(1).compactCapturing(99, () => {
        captured = true;
        return new Uint8Array(0);
      }),
    ).toThrow(/compact/);
    expect(captured).toBe(false);
  });

  it('compactCapturing captures with the old snapshot let go, then sends the new one', () => {
    const net = withLaggard(10);
    expect(net.compact(1)).toBe(true);
    for (let i = 10; i < 20; i++) net.propose(1, `v${i}`);
    net.stabilize();
    const log = (net.raft(1) as unknown as { log: { latestSnapshot: unknown } }).log;
    let heldDuringCapture: unknown = 'not called';
    expect(net.compact(1, () => (heldDuringCapture = log.latestSnapshot))).toBe(true);
    // Nothing of the old snapshot is held while the new one is built.
    expect(heldDuringCapture).toBeUndefined();
    expectCaughtUpBySnapshot(net);
  });

  it('holds a durable snapshot as metadata only; its bytes are filled in as it is sent', () => {
    const net = withLaggard(10);
    expect(net.compact(1)).toBe(true);
    const index = status(net, 1).firstIndex - 1;
    net.raft(1).snapshotPersisted(index);
    const fromDisk: number[] = [];
    // What the driver does (RaftNode.sendSnapshotFromDisk): read the bytes back from storage.
    net.hook = (m) => {
      if (m.kind !== 'install-snapshot' || m.snapshot.data !== SNAPSHOT_DATA_ON_DISK) return m;
      fromDisk.push(m.snapshot.meta.index);
      return { ...m, snapshot: net.disks.get(1)!.snapshot! };
    };
    expectCaughtUpBySnapshot(net);
    expect(fromDisk.length).toBeGreaterThan(0);
    expect(new Set(fromDisk)).toEqual(new Set([index]));
  });

  it('a follower that needs a snapshot while the next one is captured waits for it', () => {
    const net = withLaggard(10);
    expect(net.compact(1)).toBe(true);
    for (let i = 10; i < 20; i++) net.propose(1, `v${i}`);
    net.stabilize();
    net.raft(1).releaseSnapshot(); // the application starts capturing, over several steps
    net.heal();
    net.recordDelivered = true;
    net.run(2);
    expect(net.delivered.some((m) => m.kind === 'install-snapshot')).toBe(false);
    expect(status(net, 3).commit).toBeLessThan(status(net, 1).commit);
    expect(net.compact(1)).toBe(true); // the capture is done: the new snapshot goes out
    expectCaughtUpBySnapshot(net);
  });
});

describe('membership change', () => {
  it('adds a voter: the config entry takes effect when appended, and the node catches up', () => {
    const net = withLeader(1);
    for (let i = 0; i < 5; i++) net.propose(1, `v${i}`);
    net.stabilize();
    net.addNode(4, []);
    const r = net.act(1, (raft) => raft.proposeConfChange({ kind: 'add', id: 4 }));
    expect(r.ok).toBe(true);
    // In force on the leader as soon as appended, before it commits.
    expect(status(net, 1).config.voters).toEqual([1, 2, 3, 4]);
    // One change at a time.
    const again = net.act(1, (raft) => raft.proposeConfChange({ kind: 'remove', id: 2 }));
    expect(again).toMatchObject({ ok: false, reason: 'conf-change-pending' });
    net.run(3);
    for (const id of [1, 2, 3, 4]) expect(status(net, id).config.voters).toEqual([1, 2, 3, 4]);
    expect(net.apps.get(4)!.applied).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
    // Quorum is now 3 of 4: with two nodes cut off nothing commits.
    net.partition([1, 2], [3, 4]);
    const before = status(net, 1).commit;
    net.propose(1, 'blocked');
    net.stabilize();
    expect(status(net, 1).commit).toBe(before);
  });

  it('removes a voter, then commits without it', () => {
    const net = withLeader(1);
    net.act(1, (raft) => raft.proposeConfChange({ kind: 'remove', id: 3 }));
    net.run(2);
    expect(status(net, 2).config.voters).toEqual([1, 2]);
    net.isolate(3);
    net.propose(1, 'two-of-two');
    net.run(2);
    expect(net.apps.get(2)!.applied).toEqual(['two-of-two']);
    const committedConfig = net.raft(1).entryAt(2)!;
    expect(committedConfig.kind).toBe('config');
    expect(decodeConfig(committedConfig.data).voters).toEqual([1, 2]);
  });

  it('a leader that removes itself steps down once the change commits, and others elect', () => {
    const net = withLeader(1);
    net.act(1, (raft) => raft.proposeConfChange({ kind: 'remove', id: 1 }));
    net.stabilize();
    expect(status(net, 1).role).toBe('follower');
    net.run(40);
    expect([2, 3]).toContain(net.leader());
    expect(status(net, 1).role).toBe('follower');
  });

  it('rejects an invalid change with INVALID_ARGUMENT', () => {
    const net = withLeader(1);
    try {
      net.raft(1).proposeConfChange({ kind: 'add', id: 2 });
      expect.unreachable();
    } catch (err) {
      expect(isTesseraError(err, 'INVALID_ARGUMENT')).toBe(true);
    }
  });
});

describe('leadership transfer', () => {
  it('catches the target up, then sends TimeoutNow; the target wins at once', () => {
    const net = withLeader(1);
    net.isolate(3);
    for (let i = 0; i < 5; i++) net.propose(1, `v${i}`);
    net.stabilize();
    net.heal();
    net.recordDelivered = true;
    const r = net.act(1, (raft) => raft.transferLeadership(3));
    expect(r.ok).toBe(true);
    expect(net.act(1, (raft) => raft.propose(bytes('during')))).toMatchObject({
      ok: false,
      reason: 'transferring',
    });
    net.stabilize();
    expect(net.delivered.some((m) => m.kind === 'timeout-now' && m.to === 3)).toBe(true);
    expect(net.leader()).toBe(3);
    expect(status(net, 1).leader).toBe(3);
    net.propose(3, 'after');
    net.run(1);
    expect(net.apps.get(1)!.applied).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'after']);
  });

  it('is abandoned after an election timeout if the target never catches up', () => {
    const net = withLeader(1);
    net.isolate(3);
    net.act(1, (raft) => raft.transferLeadership(3));
    net.partition([1, 2], [3]);
    net.run(10);
    expect(net.leader()).toBe(1);
    expect(status(net, 1).transferee).toBe(0);
    expect(net.propose(1, 'ok')).toBe(true);
  });
});

describe('read-index', () => {
  it('the leader answers with its commit index after a quorum confirms its leadership', () => {
    const net = withLeader(1);
    net.propose(1, 'w');
    net.stabilize();
    const raft = net.raft(1);
    raft.readIndex('r1');
    const rd = raft.ready();
    expect(rd.readStates).toEqual([]); // not before the heartbeat round
    expect(rd.messages.filter((m) => m.kind === 'heartbeat' && m.ctx === 'r1')).toHaveLength(2);
    raft.advance(rd);
    // The read state the heartbeat answers release.
    const { states } = answerAtLeader(net, rd.messages);
    expect(states).toEqual([{ index: status(net, 1).commit, ctx: 'r1' }]);
  });

  it('reads registered before one Ready share one heartbeat round', () => {
    const net = withLeader(1);
    net.propose(1, 'w');
    net.stabilize();
    const raft = net.raft(1);
    for (const ctx of ['r1', 'r2', 'r3']) raft.readIndex(ctx);
    const rd = raft.ready();
    const heartbeats = rd.messages.filter((m) => m.kind === 'heartbeat');
    // One per follower, carrying the newest read: its acks confirm the older ones too.
    expect(heartbeats.map((m) => (m.kind === 'heartbeat' ? [m.to, m.ctx] : []))).toEqual([
      [2, 'r3'],
      [3, 'r3'],
    ]);
    raft.advance(rd);
    const { states } = answerAtLeader(net, rd.messages);
    const commit = status(net, 1).commit;
    expect(states).toEqual(['r1', 'r2', 'r3'].map((ctx) => ({ index: commit, ctx })));
  });

  it('reads that arrive during a round wait for it, then share the next one', () => {
    const net = withLeader(1);
    net.propose(1, 'w');
    net.stabilize();
    const raft = net.raft(1);
    const heartbeatCtxs = (ms: readonly Message[]) =>
      ms.flatMap((m) => (m.kind === 'heartbeat' ? [m.ctx] : []));
    raft.readIndex('r1');
    const first = raft.ready();
    raft.advance(first);
    expect(heartbeatCtxs(first.messages)).toEqual(['r1', 'r1']);
    raft.readIndex('r2');
    raft.readIndex('r3');
    const during = raft.ready();
    raft.advance(during);
    expect(heartbeatCtxs(during.messages)).toEqual([]); // r1's round is still out
    const second = answerAtLeader(net, first.messages);
    expect(second.states.map((s) => s.ctx)).toEqual(['r1']);
    expect(heartbeatCtxs(second.messages)).toEqual(['r3', 'r3']);
    const third = answerAtLeader(net, second.messages);
    expect(third.states.map((s) => s.ctx)).toEqual(['r2', 'r3']);
    expect(heartbeatCtxs(third.messages)).toEqual([]);
  });

  it('a follower forwards the request and gets the read state back', () => {
    const net = withLeader(1);
    net.propose(1, 'w');
    net.stabilize();
    const got: string[] = [];
    const r2 = net.raft(2);
    expect(r2.readIndex('f1')).toEqual({ ok: true });
    const drive = () => {
      for (let i = 0; i < 10; i++) {
        for (const id of net.ids) {
          const raft = net.raft(id);
          if (!raft.hasReady()) continue;
          const rd = raft.ready();
          if (id === 2) got.push(...rd.readStates.map((s) => `${s.ctx}@${s.index}`));
          raft.advance(rd);
          for (const m of rd.messages) net.raft(m.to).step(m);
        }
      }
    };
    drive();
    expect(got).toEqual([`f1@${status(net, 1).commit}`]);
  });

  it('a new leader answers only once an entry of its own term has committed', () => {
    const net = cluster();
    net.hook = (m) => (m.kind === 'append' ? undefined : m); // its no-op cannot commit
    net.campaign(1);
    expect(net.leader()).toBe(1);
    net.act(1, (r) => r.readIndex('early'));
    net.stabilize();
    expect(net.reads.get(1)).toBeUndefined();
    net.hook = undefined;
    net.run(2);
    const noop = status(net, 1).commit;
    expect(net.raft(1).entryAt(noop)!.kind).toBe('noop');
    expect(net.reads.get(1)).toEqual([`early@${noop}`]);
  });

  it('a leader cut off from the quorum never answers', () => {
    const net = withLeader(1);
    net.isolate(1);
    const raft = net.raft(1);
    raft.readIndex('lost');
    let answered = false;
    for (let i = 0; i < 5; i++) {
      raft.tick();
      const rd = raft.ready();
      answered ||= rd.readStates.length > 0;
      raft.advance(rd);
    }
    expect(answered).toBe(false);
  });
});
