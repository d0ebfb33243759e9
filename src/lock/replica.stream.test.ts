/**
 * Raft messages too big for a datagram travel over the stream transport: a follower that was
 * down while the leader compacted past it catches up through a snapshot larger than 64 KiB, and
 * a create with 512 KiB of data commits on all three replicas.
 */
import { describe, expect, it } from 'vitest';
import { SimWorld } from '../env/sim/index.js';
import { LockReplica, RAFT_DATAGRAM_BYTES_MAX, type LockPeer } from './replica.js';

const peers: LockPeer[] = [1, 2, 3].map((id) => ({
  id,
  raft: { host: `n${id}`, port: 7000 },
  client: { host: `n${id}`, port: 7100 },
}));

interface Cluster {
  readonly replicas: Map<number, LockReplica>;
  /** Replica id → indexes of the snapshots it restored since its latest start. */
  readonly restored: Map<number, number[]>;
  leader(): LockReplica | undefined;
}

function startCluster(world: SimWorld, snapshotEntries: number): Cluster {
  const replicas = new Map<number, LockReplica>();
  const restored = new Map<number, number[]>();
  for (const { id } of peers) {
    world.addNode(`n${id}`).start(async (env) => {
      replicas.delete(id);
      const replica = await LockReplica.start({
        env,
        id,
        peers,
        dir: '/lock',
        tickMs: 10,
        snapshotEntries,
      });
      const seen: number[] = [];
      restored.set(id, seen);
      replica.onApplied((n) => {
        if (n.type === 'restored') seen.push(n.index);
      });
      replicas.set(id, replica);
    });
  }
  return {
    replicas,
    restored,
    leader: () => [...replicas.values()].find((r) => r.isLeader),
  };
}

const filled = (bytes: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: bytes }, (_, i) => (i * 31 + seed) & 0xff);

describe('lock replica over the stream transport', () => {
  it('catches a lagging follower up through a snapshot larger than 64 KiB', async () => {
    const world = new SimWorld({ seed: 21 });
    const c = startCluster(world, 8);
    await world.runUntil(() => c.replicas.size === 3 && c.leader() !== undefined, {
      timeoutMs: 10_000,
    });
    const leader = c.leader()!;
    const lagging = [...c.replicas.values()].find((r) => r !== leader)!;
    world.crash(`n${lagging.id}`);
    c.replicas.delete(lagging.id);

    // 40 nodes of 8 KiB: ~320 KiB of state, five snapshots' worth of entries past the follower.
    for (let i = 0; i < 40; i++) {
      const out = await world.settle(
        leader.propose({ type: 'create', path: `/n${i}`, data: filled(8 * 1024, i) }),
        { timeoutMs: 10_000 },
      );
      expect(out).toMatchObject({ path: `/n${i}` });
    }
    await world.runFor(200);
    expect(leader.status().firstIndex).toBeGreaterThan(1); // compacted
    expect(leader.stateMachine.snapshot().length).toBeGreaterThan(64 * 1024);

    world.restart(`n${lagging.id}`);
    await world.runUntil(
      () =>
        (c.replicas.get(lagging.id)?.stateMachine.lastApplied ?? 0) >=
        leader.stateMachine.lastApplied,
      { timeoutMs: 20_000 },
    );
    const caughtUp = c.replicas.get(lagging.id)!;
    expect(c.restored.get(lagging.id)!.length).toBeGreaterThan(0);
    expect(caughtUp.stateMachine.nodeCount).toBe(leader.stateMachine.nodeCount);
    expect(caughtUp.stateMachine.snapshot()).toEqual(leader.stateMachine.snapshot());
    expect(leader.oversizedDrops).toBe(0);
  });

  it('commits a create with 512 KiB of data on all three replicas', async () => {
    const world = new SimWorld({ seed: 22 });
    const c = startCluster(world, 10_000);
    await world.runUntil(() => c.replicas.size === 3 && c.leader() !== undefined, {
      timeoutMs: 10_000,
    });
    const data = filled(512 * 1024, 7);
    expect(data.length).toBeGreaterThan(RAFT_DATAGRAM_BYTES_MAX);
    const out = await world.settle(c.leader()!.propose({ type: 'create', path: '/big', data }), {
      timeoutMs: 10_000,
    });
    expect(out).toMatchObject({ path: '/big' });
    const index = c.leader()!.status().commit;
    await world.runUntil(
      () => [...c.replicas.values()].every((r) => r.stateMachine.lastApplied >= index),
      { timeoutMs: 10_000 },
    );
    for (const r of c.replicas.values()) {
      expect(r.stateMachine.get('/big').data).toEqual(data);
    }
  });
});
