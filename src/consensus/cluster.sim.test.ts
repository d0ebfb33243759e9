/**
 * Three RaftNodes in one SimWorld, each on its own simulated machine (own disk, own clock),
 * talking through lossy, duplicating, reordering datagrams. A client proposes unique values
 * while nodes crash (losing unsynced bytes) and restart from their disks, and partitions come
 * and go. Then the faults stop, every node is up, and a barrier proposal must commit.
 *
 * Checked from outside the nodes:
 * - State Machine Safety: every apply at index i, on any node in any incarnation, is the same
 *   entry (term, kind, data); applies are consecutive.
 * - Election Safety: at most one leader per term (sampled before every event).
 * - Durability: every proposal whose promise resolved is in every node's applied sequence at
 *   the end; the sequences are prefixes of one another, without duplicates.
 * - Determinism: the same seed twice gives the same world digest.
 */
import { describe, expect, it } from 'vitest';
import { SimWorld } from '../env/sim/index.js';
import type { Env } from '../env/types.js';
import { fromUtf8, toHex, utf8 } from '../util/bytes.js';
import { decodeMessage, encodeMessage } from './codec.js';
import { RaftNode } from './driver.js';
import type { Entry, Snapshot } from './types.js';

const SEEDS = 100;
const PORT = 7000;
const IDS = [1, 2, 3] as const;
const SAFETY_PHASE_MS = 3_000;
const LIVENESS_TIMEOUT_MS = 20_000;

interface View {
  readonly incarnation: number;
  node: RaftNode | undefined;
  values: string[];
  lastIndex: number;
}

interface Outcome {
  readonly digest: string;
  readonly acked: number;
  readonly crashes: number;
  /** Snapshots received from a leader (not loaded at start). */
  readonly installs: number;
}

function nameOf(id: number): string {
  return `n${id}`;
}

async function runSeed(seed: number): Promise<Outcome> {
  const world = new SimWorld({
    seed,
    network: { lossRate: 0.03, duplicateRate: 0.02, reorderRate: 0.05 },
  });
  const views = new Map<number, View>();
  const allNodes: RaftNode[] = [];
  const committedAt = new Map<number, string>();
  const leaders = new Map<number, number>();
  const violations: string[] = [];
  const acked = new Set<string>();
  let crashes = 0;
  let installs = 0;

  const fail = (what: string) => {
    if (violations.length < 10) violations.push(`t=${world.nowMs()}ms ${what}`);
  };

  const main = (id: number) => async (env: Env) => {
    const view: View = {
      incarnation: world.node(nameOf(id)).incarnation,
      node: undefined,
      values: [],
      lastIndex: 0,
    };
    views.set(id, view);
    const socket = await env.net.bindDatagram({ host: env.name, port: PORT });
    const node = await RaftNode.start({
      env,
      id,
      voters: IDS,
      dir: '/raft',
      tickMs: 10,
      requestTimeoutMs: 2_000,
      snapshotEntries: 16,
      transport: {
        send: (to, msg) => socket.send({ host: nameOf(to), port: PORT }, encodeMessage(msg)),
      },
      apply: (e: Entry) => {
        if (e.index !== view.lastIndex + 1) {
          fail(`${nameOf(id)} applied ${e.index} after ${view.lastIndex}`);
        }
        const key = `${e.term}|${e.kind}|${toHex(e.data)}`;
        const seen = committedAt.get(e.index);
        if (seen === undefined) committedAt.set(e.index, key);
        else if (seen !== key) fail(`${nameOf(id)} applied ${key} at ${e.index}, others ${seen}`);
        if (e.kind === 'normal') view.values.push(fromUtf8(e.data));
        view.lastIndex = e.index;
      },
      restore: (s: Snapshot) => {
        if (view.node) installs++;
        view.values = JSON.parse(fromUtf8(s.data)) as string[];
        view.lastIndex = s.meta.index;
      },
      capture: () => utf8(JSON.stringify(view.values)),
    });
    allNodes.push(node);
    socket.setHandler((data) => {
      let msg;
      try {
        msg = decodeMessage(data);
      } catch {
        return;
      }
      node.receive(msg);
    });
    view.node = node;
  };
  for (const id of IDS) world.addNode(nameOf(id)).start(main(id));

  /** Nodes of live incarnations that finished starting. */
  const live = (): { id: number; node: RaftNode; view: View }[] => {
    const out = [];
    for (const id of IDS) {
      const view = views.get(id);
      const sim = world.node(nameOf(id));
      if (view?.node && sim.alive && sim.incarnation === view.incarnation) {
        out.push({ id, node: view.node, view });
      }
    }
    return out;
  };
  const leader = () => {
    let best: { id: number; node: RaftNode; view: View } | undefined;
    let bestTerm = -1;
    for (const n of live()) {
      const s = n.node.status();
      if (s.role === 'leader' && s.term > bestTerm) {
        best = n;
        bestTerm = s.term;
      }
    }
    return best;
  };
  const checkLeaders = (): void => {
    for (const n of live()) {
      const s = n.node.status();
      if (s.role !== 'leader') continue;
      const prev = leaders.get(s.term);
      if (prev === undefined) leaders.set(s.term, n.id);
      else if (prev !== n.id) fail(`two leaders in term ${s.term}: ${prev} and ${n.id}`);
    }
  };

  // The client: a unique value every 5-30 ms, to the leader when there is one.
  let nextValue = 0;
  let clientOn = true;
  const clientStep = (): void => {
    if (!clientOn) return;
    const candidates = live();
    const target = leader() ?? candidates[world.random.int(Math.max(1, candidates.length))];
    if (target) {
      const value = `v${nextValue++}`;
      target.node.propose(utf8(value)).then(
        () => acked.add(value),
        () => undefined,
      );
    }
    world.after(world.random.between(5, 30), clientStep, 'propose');
  };
  world.after(50, clientStep, 'propose');

  // Faults: crash/restart and partition/heal, at random times in the safety phase.
  for (
    let t = world.random.between(100, 400);
    t < SAFETY_PHASE_MS;
    t += world.random.between(150, 500)
  ) {
    const victim = nameOf(IDS[world.random.int(IDS.length)]!);
    if (world.random.chance(0.5)) {
      const downMs = world.random.between(20, 400);
      world.after(
        t,
        () => {
          crashes++;
          world.crash(victim);
        },
        `crash ${victim}`,
      );
      world.after(t + downMs, () => world.restart(victim), `restart ${victim}`);
    } else {
      const healMs = world.random.between(50, 600);
      world.after(t, () => world.isolate(victim), `isolate ${victim}`);
      world.after(t + healMs, () => world.heal(), 'heal');
    }
  }

  await world.runUntil(
    () => {
      checkLeaders();
      return false;
    },
    { timeoutMs: SAFETY_PHASE_MS + 700 },
  );

  // Liveness: no faults, everyone up, and a barrier proposal must commit everywhere.
  clientOn = false;
  world.heal();
  world.setNetworkFaults({ lossRate: 0, duplicateRate: 0, reorderRate: 0 });
  for (const id of IDS) if (!world.node(nameOf(id)).alive) world.restart(nameOf(id));
  let barrierIndex: number | undefined;
  let barrierPending = false;
  let barriers = 0;
  const live3 = await world.runUntil(
    () => {
      checkLeaders();
      if (barrierIndex === undefined && !barrierPending) {
        const l = leader();
        if (l) {
          barrierPending = true;
          const value = `barrier${barriers++}`;
          l.node.propose(utf8(value)).then(
            (r) => {
              acked.add(value);
              barrierIndex = r.index;
            },
            () => (barrierPending = false),
          );
        }
      }
      return (
        barrierIndex !== undefined &&
        live().length === IDS.length &&
        live().every((n) => n.view.lastIndex >= barrierIndex!)
      );
    },
    { timeoutMs: LIVENESS_TIMEOUT_MS },
  );
  if (!live3) fail('liveness: the barrier did not commit on every node');

  const sequences = live().map((n) => n.view.values);
  for (const seq of sequences) {
    if (new Set(seq).size !== seq.length) fail('a value was applied twice');
    for (const v of acked) if (!seq.includes(v)) fail(`acknowledged ${v} missing on a node`);
  }
  for (const a of sequences) {
    for (const b of sequences) {
      const n = Math.min(a.length, b.length);
      for (let i = 0; i < n; i++) {
        if (a[i] !== b[i]) {
          fail(`applied sequences differ at ${i}: ${a[i]} vs ${b[i]}`);
          break;
        }
      }
    }
  }
  for (const node of allNodes) {
    if (node.failure !== undefined) fail(`node ${node.id} failed: ${String(node.failure)}`);
  }
  for (const e of world.nodeErrors) fail(`node error on ${e.node}: ${String(e.error)}`);

  if (violations.length > 0) {
    throw new Error(
      `seed ${seed} failed (replay: runSeed(${seed}) in cluster.sim.test.ts):\n` +
        `${violations.join('\n')}\n--- recent trace ---\n${world.recentTrace().slice(-40).join('\n')}`,
    );
  }
  return { digest: world.digest(), acked: acked.size, crashes, installs };
}

describe('RaftNode cluster in the simulator', () => {
  it(`keeps acknowledged proposals and agrees on the log over ${SEEDS} seeds`, async () => {
    let acked = 0;
    let crashes = 0;
    let installs = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const outcome = await runSeed(seed);
      acked += outcome.acked;
      crashes += outcome.crashes;
      installs += outcome.installs;
    }
    // The workload did real work: most seeds acknowledged many values through crashes.
    expect(acked).toBeGreaterThan(SEEDS * 20);
    expect(crashes).toBeGreaterThan(SEEDS);
    // Compaction made lagging followers catch up from snapshots.
    expect(installs).toBeGreaterThan(0);
  });

  it('is deterministic: the same seed twice gives the same digest', async () => {
    const a = await runSeed(1234);
    const b = await runSeed(1234);
    expect(a.digest).toBe(b.digest);
    expect(a.acked).toBe(b.acked);
  });
});
