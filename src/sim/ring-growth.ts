/**
 * Ring growth, measured on the simulator: N ring nodes hold a hashed table (RF 3), an (N+1)th
 * node bootstraps, and we count what it streamed. Consistent hashing promises that a new node
 * takes about 1/(N+1) of the data — of every replica stored — and nothing else moves; with
 * virtual nodes and tokens chosen for the joiner (ring/token-allocation.ts) it should be close.
 *
 * Real node services on simulated machines, with real gossip, coordinators and streaming; only
 * the loading is direct: each row is written straight into the store of each of its replicas
 * (what a write at ALL would leave), because writing 10,000 rows through a 100-node ring's
 * coordinators costs far more simulated work than the measurement itself.
 *
 * Used by `tessera bench ring-growth` (docs/benchmarks.md) and by its test.
 */
import { startNodeService, type RunningNode } from '../api/index.js';
import type { Env } from '../env/index.js';
import { SimWorld } from '../env/sim/index.js';
import { Database, Mutation } from '../model/index.js';
import { murmur3Token, replicasFor, type RingNode } from '../ring/index.js';
import { utf8 } from '../util/bytes.js';

export interface GrowthOptions {
  readonly seed: number;
  /** Nodes before the new one joins (N). */
  readonly nodes: number;
  readonly rows: number;
  readonly vnodes?: number;
}

export interface GrowthResult {
  readonly nodes: number;
  readonly rows: number;
  /** Rows × RF: every replica stored before the join. */
  readonly replicas: number;
  /** Rows the new node received by streaming. */
  readonly moved: number;
  /** moved / replicas. */
  readonly fraction: number;
  /** 1 / (N + 1). */
  readonly expected: number;
  /** fraction / expected. */
  readonly ratio: number;
  /** Whether the new node ended holding exactly the rows it replicates. */
  readonly exact: boolean;
  /** Simulated seconds from the join to the new node turning normal. */
  readonly joinSeconds: number;
}

const PORT = 7100;
const RF = 3;
const TABLE = 'growth';

export async function measureRingGrowth(options: GrowthOptions): Promise<GrowthResult> {
  const world = new SimWorld({ seed: options.seed });
  const running = new Map<string, RunningNode>();
  const names = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
  const idOf = (n: string) => `${n}:${PORT}`;
  const start = (name: string, bootstrap: boolean) =>
    world.addNode(name).start(async (env: Env) => {
      const database = await Database.open(env, { dir: '/db' });
      running.set(
        name,
        await startNodeService(env, {
          name,
          listen: { host: name, port: PORT },
          database,
          ring: {
            name,
            dir: '/ring',
            seeds: [idOf('n1'), idOf('n2')],
            vnodes: options.vnodes ?? 64,
            ringDelayMs: 3000,
            bootstrap,
          },
        }),
      );
    });
  const ring = (n: string): RingNode => running.get(n)!.ring!;
  for (const n of names) start(n, false);
  // Converged: every node's ring holds every node. Polled between steps, not after every event.
  const everyoneKnows = (count: number, among: readonly string[]) =>
    among.every((n) => running.get(n)?.ring?.membership.ring.endpoints.length === count);
  for (let t = 0; !everyoneKnows(options.nodes, names); t++) {
    if (t > 300) throw new Error(`ring of ${options.nodes} did not converge`);
    await world.runFor(1000);
  }
  const first = ring('n1');
  await world.settle(
    first.schema.create(
      { name: TABLE, families: [{ name: 'f' }], placement: { hashed: { replicationFactor: RF } } },
      1,
    ),
  );
  await world.settle(first.pushSchema());
  for (let t = 0; !names.every((n) => ring(n).schema.schemaOf(TABLE) !== undefined); t++) {
    if (t > 120) throw new Error('the schema did not reach every node');
    await world.runFor(1000);
  }
  // Load: each row into each of its replicas' stores, 400 at a time.
  const strategy = { kind: 'simple', replicationFactor: RF } as const;
  const before = first.membership.ring;
  const rowKey = (i: number) => utf8(`row-${i}`);
  for (let i = 0; i < options.rows; i += 400) {
    const writes: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(options.rows, i + 400); j++) {
      const m = new Mutation(rowKey(j)).put('f', 'v', `value-${j}`, 1_000_000 + j);
      for (const id of replicasFor(before, murmur3Token(m.row), strategy)) {
        writes.push(ring(id.split(':')[0]!).write(id, TABLE, m, 10_000));
      }
    }
    await world.settle(Promise.all(writes));
  }
  // The (N+1)th node joins and streams its ranges.
  const joiner = `n${options.nodes + 1}`;
  const joinedAt = world.nowMs();
  start(joiner, true);
  for (let t = 0; running.get(joiner)?.ring?.membership.status !== 'normal'; t++) {
    if (t > 600) throw new Error(`${joiner} did not finish bootstrapping`);
    await world.runFor(500);
  }
  const joinSeconds = (world.nowMs() - joinedAt) / 1000;
  const moved = ring(joiner).lastMovement?.rows ?? 0;
  // What the joiner holds against what it replicates on the ring with it.
  const after = ring(joiner).membership.ring;
  let want = 0;
  for (let i = 0; i < options.rows; i++) {
    if (replicasFor(after, murmur3Token(rowKey(i)), strategy).includes(idOf(joiner))) want++;
  }
  let held = 0;
  const gen = ring(joiner).replicaTablet(TABLE).rawScanBatches();
  for (;;) {
    const step = await world.settle(gen.next());
    if (step.done === true) break;
    held += step.value.length;
  }
  const replicas = options.rows * RF;
  const fraction = moved / replicas;
  const expected = 1 / (options.nodes + 1);
  return {
    nodes: options.nodes,
    rows: options.rows,
    replicas,
    moved,
    fraction,
    expected,
    ratio: fraction / expected,
    exact: held === want && moved === want,
    joinSeconds,
  };
}
