/**
 * The ring heals and changes shape, on the simulator: hints written for a down replica are
 * replayed when it is back; a sloppy quorum lets a write count hints held by other nodes; a
 * read that finds replicas disagreeing writes the winner back; a Merkle-tree repair leaves
 * every replica with identical data while streaming only what differs; a node that bootstraps
 * streams exactly the ranges that move to it; decommission and removenode hand a node's ranges
 * to their new replicas. Each check reads the replicas' own stores, not a coordinated read.
 */
import { describe, expect, it } from 'vitest';
import { startNodeService, type RunningNode } from '../api/index.js';
import { connect, type Database as ClientDatabase } from '../client/index.js';
import type { Env } from '../env/index.js';
import { SimWorld } from '../env/sim/index.js';
import { Database, familyOptionsLookup, Mutation } from '../model/index.js';
import { resolveRawEntries } from '../storage/index.js';
import { toHex, utf8 } from '../util/bytes.js';
import { MerkleTree } from './merkle.js';
import { murmur3Token } from './murmur3.js';
import { buildLeaves, tokenIntervals } from './range-data.js';
import { replicasFor } from './replication.js';
import { rangeChanges } from './token-ranges.js';
import { TokenRing } from './token-ring.js';
import type { RingNode, RingNodeOptions } from './ring-node.js';
import { TOKEN_MAX, TOKEN_MIN } from './murmur3.js';

const port = 7100;
const idOf = (name: string) => `${name}:${port}`;

type Extra = Partial<Omit<RingNodeOptions, 'database' | 'address' | 'name' | 'dir'>>;

class Ring {
  readonly nodes = new Map<string, RunningNode>();
  client!: ClientDatabase;
  constructor(readonly world: SimWorld) {}

  start(name: string, extra: Extra = {}): void {
    this.world.addNode(name).start(async (env: Env) => {
      const database = await Database.open(env, { dir: '/db' });
      const node = await startNodeService(env, {
        name,
        listen: { host: name, port },
        database,
        ring: { name, dir: '/ring', seeds: [idOf('n1')], vnodes: 16, ringDelayMs: 2000, ...extra },
      });
      this.nodes.set(name, node);
    });
  }

  ring(name: string): RingNode {
    return this.nodes.get(name)!.ring!;
  }

  now(name: string): number {
    return this.world.node(name).env.clock.monoMicros();
  }

  /** Every listed node sees every listed node up. */
  allSee(names: readonly string[]): boolean {
    return names.every((n) => {
      const r = this.nodes.get(n)?.ring;
      if (r === undefined || !this.world.node(n).alive) return false;
      return names.every((m) => r.membership.isAlive(idOf(m), this.now(n)));
    });
  }

  async waitAllSee(names: readonly string[]): Promise<void> {
    expect(await this.world.runUntil(() => this.allSee(names), { timeoutMs: 60_000 })).toBe(true);
  }

  /** What a read of every version sees in the node's replica of `table`, row by row. */
  async contents(name: string, table: string): Promise<Map<string, string>> {
    const t = this.ring(name).replicaTablet(table);
    const out = new Map<string, string>();
    const gen = t.rawScanBatches();
    for (;;) {
      const step = await this.world.settle(gen.next());
      if (step.done === true) break;
      for (const r of step.value) {
        const cells = resolveRawEntries(
          r.row,
          r.entries,
          { now: 1 },
          familyOptionsLookup(t.schema),
        );
        if (cells.length === 0) continue;
        out.set(
          toHex(r.row),
          cells
            .map((c) => `${toHex(c.family)}:${toHex(c.qualifier)}@${c.timestamp}=${toHex(c.value)}`)
            .join(','),
        );
      }
    }
    return out;
  }

  /** The Merkle root of the node's whole replica of `table`. */
  async root(name: string, table: string): Promise<string> {
    const t = this.ring(name).replicaTablet(table);
    const iv = tokenIntervals([{ lo: TOKEN_MIN + 1n, hi: TOKEN_MAX }]);
    const r = await this.world.settle(buildLeaves(t, t.schema, iv, 1, 10, 1));
    return toHex(MerkleTree.fromLeaves(10, r.leaves[0]!).root);
  }
}

async function ringOf(seed: number, names: readonly string[], extra: Extra = {}): Promise<Ring> {
  const world = new SimWorld({ seed });
  const ring = new Ring(world);
  for (const n of names) ring.start(n, extra);
  const client = world.addNode('client');
  await ring.waitAllSee(names);
  ring.client = await world.settle(
    connect(client.env, names.map(idOf), { timeoutMs: 10_000, tokenAware: false }),
  );
  return ring;
}

const kvSpec = (extra: Record<string, unknown> = {}) => ({
  name: 'kv',
  families: [{ name: 'f' }],
  placement: { hashed: { replicationFactor: 3, ...extra } },
});

/** The rows (hex) each named node holds a replica of, by the node's current ring. */
function expectedRows(ring: Ring, by: string, rows: readonly string[], name: string): string[] {
  const r = ring.ring(by);
  const schema = r.schema.schemaOf('kv')!;
  return rows
    .filter((row) =>
      replicasFor(r.membership.ring, murmur3Token(utf8(row)), {
        kind: 'simple',
        replicationFactor:
          schema.placement.kind === 'hashed' ? schema.placement.replicationFactor : 1,
      }).includes(idOf(name)),
    )
    .map((row) => toHex(utf8(row)))
    .sort();
}

describe('ring healing', () => {
  it('replays hints to a replica that was down, without any read or repair', async () => {
    const ring = await ringOf(21, ['n1', 'n2', 'n3']);
    const { world, client } = ring;
    await world.settle(client.createTable(kvSpec()));
    const kv = client.table('kv');
    world.crash('n3');
    expect(
      await world.runUntil(
        () =>
          !ring.ring('n1').membership.isAlive(idOf('n3'), ring.now('n1')) &&
          !ring.ring('n2').membership.isAlive(idOf('n3'), ring.now('n2')),
        { timeoutMs: 30_000 },
      ),
    ).toBe(true);
    const rows = Array.from({ length: 30 }, (_, i) => `h${i}`);
    for (const row of rows)
      await world.settle(kv.put(row, { 'f:a': row }, { consistency: 'QUORUM' }));
    const hinted = [...ring.ring('n1').hints.stats(), ...ring.ring('n2').hints.stats()];
    expect(hinted.reduce((a, s) => a + s.hints, 0)).toBe(30);
    world.restart('n3');
    await ring.waitAllSee(['n1', 'n2', 'n3']);
    expect(
      await world.runUntil(
        () => ring.ring('n1').hints.targets().length + ring.ring('n2').hints.targets().length === 0,
        { timeoutMs: 30_000 },
      ),
    ).toBe(true);
    const n3 = await ring.contents('n3', 'kv');
    expect([...n3.keys()].sort()).toEqual(rows.map((r) => toHex(utf8(r))).sort());
    expect(await ring.root('n3', 'kv')).toBe(await ring.root('n1', 'kv'));
    await world.settle(client.close());
  });

  it('writes no hints for a replica silent longer than the hint window', async () => {
    const ring = await ringOf(27, ['n1', 'n2', 'n3'], { hintWindowMs: 10_000 });
    const { world, client } = ring;
    await world.settle(client.createTable(kvSpec()));
    const kv = client.table('kv');
    world.crash('n3');
    await world.runFor(4_000);
    await world.settle(kv.put('early', { 'f:a': 'x' }, { consistency: 'QUORUM' }));
    await world.runFor(500); // hints are stored after the write is acknowledged
    const held = () =>
      ['n1', 'n2'].reduce(
        (n, m) =>
          n +
          ring
            .ring(m)
            .hints.stats()
            .reduce((k, s) => k + s.hints, 0),
        0,
      );
    expect(held()).toBe(1);
    await world.runFor(10_000);
    await world.settle(kv.put('late', { 'f:a': 'x' }, { consistency: 'QUORUM' }));
    await world.runFor(500);
    expect(held()).toBe(1);
    const skipped = ['n1', 'n2'].reduce(
      (n, m) => n + ring.ring(m).coordinator.stats.hintsSkipped,
      0,
    );
    expect(skipped).toBe(1);
    await world.settle(client.close());
  });

  it('counts hints held by other nodes only for a table with a sloppy quorum', async () => {
    const names = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const ring = await ringOf(22, names);
    const { world, client } = ring;
    await world.settle(client.createTable(kvSpec({ sloppyQuorum: true })));
    await world.settle(client.createTable({ ...kvSpec(), name: 'strict' }));
    // A row whose replicas do not include n1, the coordinator; two of them go down.
    const n1 = ring.ring('n1');
    const schema = n1.schema.schemaOf('kv')!;
    let row = '';
    for (let i = 0; ; i++) {
      const reps = n1.coordinator.replicasOf(schema, utf8(`s${i}`));
      if (!reps.includes(idOf('n1'))) {
        row = `s${i}`;
        break;
      }
    }
    const replicas = n1.coordinator.replicasOf(schema, utf8(row));
    const downs = replicas.slice(0, 2).map((id) => id.split(':')[0]!);
    for (const d of downs) world.crash(d);
    expect(
      await world.runUntil(
        () => downs.every((d) => !n1.membership.isAlive(idOf(d), ring.now('n1'))),
        { timeoutMs: 30_000 },
      ),
    ).toBe(true);
    const only = await world.settle(
      connect(world.node('client').env, [idOf('n1')], { tokenAware: false, timeoutMs: 10_000 }),
    );
    // Strict: QUORUM needs 2 live replicas of 3, one is left.
    await expect(
      world.settle(only.table('strict').put(row, { 'f:a': 'x' }, { consistency: 'QUORUM' })),
    ).rejects.toMatchObject({ code: 'REPLICAS_UNAVAILABLE' });
    // Sloppy: the live replica and a fallback holding a hint make the quorum.
    await world.settle(only.table('kv').put(row, { 'f:a': 'sloppy' }, { consistency: 'QUORUM' }));
    expect(n1.coordinator.stats.hintsHandedOff).toBe(1);
    for (const d of downs) world.restart(d);
    await ring.waitAllSee(names);
    // Every replica ends up with the write: the fallback's hint and n1's own were replayed.
    expect(
      await world.runUntil(() => names.every((n) => ring.ring(n).hints.targets().length === 0), {
        timeoutMs: 30_000,
      }),
    ).toBe(true);
    for (const id of replicas) {
      const c = await ring.contents(id.split(':')[0]!, 'kv');
      expect(c.has(toHex(utf8(row)))).toBe(true);
    }
    await world.settle(only.close());
    await world.settle(client.close());
  });

  it('writes the winner back to a stale replica when a read finds them disagreeing', async () => {
    const ring = await ringOf(23, ['n1', 'n2', 'n3'], { coordinator: { readRepairChance: 0 } });
    const { world, client } = ring;
    await world.settle(client.createTable(kvSpec()));
    const kv = client.table('kv');
    const { timestamp } = await world.settle(
      kv.put('rr', { 'f:a': 'one' }, { consistency: 'ALL' }),
    );
    // n1 and n2 alone get a newer value (as when n3 missed a write and its hint expired).
    for (const n of ['n1', 'n2']) {
      await world.settle(
        ring
          .ring(n)
          .write(idOf(n), 'kv', new Mutation(utf8('rr')).put('f', 'a', 'two', timestamp + 5), 1000),
      );
    }
    expect((await ring.contents('n3', 'kv')).get(toHex(utf8('rr')))).not.toContain(
      toHex(utf8('two')),
    );
    const row = await world.settle(kv.get('rr', { consistency: 'ALL' }));
    expect(row?.text('f:a')).toBe('two');
    // The read repaired n3 before it answered.
    expect((await ring.contents('n3', 'kv')).get(toHex(utf8('rr')))).toContain(toHex(utf8('two')));
    const repaired = ['n1', 'n2', 'n3'].reduce(
      (a, n) => a + ring.ring(n).coordinator.stats.replicasRepaired,
      0,
    );
    expect(repaired).toBe(1);
    // Agreeing replicas are answered from one full read and digests: nothing more to repair.
    await world.settle(kv.get('rr', { consistency: 'ALL' }));
    const after = ['n1', 'n2', 'n3'].reduce(
      (a, n) => a + ring.ring(n).coordinator.stats.readRepairs,
      0,
    );
    expect(after).toBe(1);
    await world.settle(client.close());
  });

  it('repairs diverged replicas to identical data, streaming only the differing ranges', async () => {
    const names = ['n1', 'n2', 'n3', 'n4'];
    const ring = await ringOf(24, names);
    const { world, client } = ring;
    await world.settle(client.createTable(kvSpec()));
    const kv = client.table('kv');
    const rows = Array.from({ length: 400 }, (_, i) => `r${i}`);
    for (const row of rows)
      await world.settle(kv.put(row, { 'f:a': `v-${row}` }, { consistency: 'ALL' }));
    // Divergence written straight into single replicas: a newer value, a delete and a new row.
    const n2 = ring.ring('n2');
    const schema = n2.schema.schemaOf('kv')!;
    const holderOf = (row: string) =>
      n2.coordinator.replicasOf(schema, utf8(row))[0]!.split(':')[0]!;
    const base = world.node('n1').env.clock.nowMicros() + 1_000_000;
    const diverge: [string, Mutation][] = [
      ['r5', new Mutation(utf8('r5')).put('f', 'a', 'newer', base)],
      ['r6', new Mutation(utf8('r6')).deleteRow(base)],
      ['extra', new Mutation(utf8('extra')).put('f', 'a', 'only-one', base)],
    ];
    for (const [row, m] of diverge) {
      const h = holderOf(row);
      await world.settle(ring.ring(h).write(idOf(h), 'kv', m, 1000));
    }
    const rootsBefore = new Set<string>();
    for (const n of names) rootsBefore.add(await ring.root(n, 'kv'));
    ring.ring('n1').startRepair('kv', 'all');
    await world.settle(ring.ring('n1').repairDone());
    const info = ring.ring('n1').describe().repairs!.at(-1)!;
    expect(info.state).toBe('done');
    expect(info.stats.leavesDiffering).toBeGreaterThan(0);
    // Only the leaves holding the three rows were streamed, of the 1,200 replicas.
    expect(info.stats.rowsStreamed).toBeGreaterThan(0);
    // Each diverged row goes both ways between its odd replica and the two others (4 streams
    // of 3 rows at most, less where a row exists on one side only); at depth 15 a leaf holds
    // ~0.04 rows, so hardly anything else travels.
    expect(info.stats.rowsStreamed).toBeLessThanOrEqual(14);
    expect(info.stats.rowsCompared).toBeGreaterThanOrEqual(1200);
    // Every replica of every row holds identical data.
    const contents = new Map<string, Map<string, string>>();
    for (const n of names) contents.set(n, await ring.contents(n, 'kv'));
    for (const row of [...rows, 'extra']) {
      const reps = n2.coordinator.replicasOf(schema, utf8(row)).map((id) => id.split(':')[0]!);
      const seen = new Set(reps.map((n) => contents.get(n)!.get(toHex(utf8(row))) ?? '(none)'));
      expect([row, seen.size]).toEqual([row, 1]);
    }
    expect(contents.get(holderOf('r6'))!.has(toHex(utf8('r6')))).toBe(false);
    // A second repair finds nothing to stream.
    ring.ring('n3').startRepair(undefined, 'all');
    await world.settle(ring.ring('n3').repairDone());
    const again = ring.ring('n3').describe().repairs!.at(-1)!;
    expect([again.state, again.stats.leavesDiffering, again.stats.rowsStreamed]).toEqual([
      'done',
      0,
      0,
    ]);
    await world.settle(client.close());
  });

  it('bootstraps a new node with exactly its ranges, then decommissions it', async () => {
    const names = ['n1', 'n2', 'n3'];
    const ring = await ringOf(25, names);
    const { world, client } = ring;
    await world.settle(client.createTable(kvSpec()));
    const kv = client.table('kv');
    const rows = Array.from({ length: 300 }, (_, i) => `b${i}`);
    for (const row of rows) await world.settle(kv.put(row, { 'f:a': row }, { consistency: 'ALL' }));
    ring.start('n4', { bootstrap: true });
    expect(await world.runUntil(() => ring.nodes.has('n4'), { timeoutMs: 10_000 })).toBe(true);
    expect(ring.ring('n4').membership.status).toBe('joining');
    // Writes while it streams reach it too (pending ranges).
    const during = Array.from({ length: 20 }, (_, i) => `d${i}`);
    for (const row of during)
      await world.settle(kv.put(row, { 'f:a': row }, { consistency: 'QUORUM' }));
    expect(
      await world.runUntil(() => ring.ring('n4').membership.status === 'normal', {
        timeoutMs: 60_000,
      }),
    ).toBe(true);
    expect(
      await world.runUntil(
        () => names.every((n) => ring.ring(n).membership.ring.endpoints.length === 4),
        { timeoutMs: 30_000 },
      ),
    ).toBe(true);
    const all = [...rows, ...during];
    const held = [...(await ring.contents('n4', 'kv')).keys()].sort();
    expect(held).toEqual(expectedRows(ring, 'n4', all, 'n4'));
    // About a quarter of the replicas moved: n4 holds ~3/4 of 320 rows... of the 960 replicas, ~240.
    const moved = ring.ring('n4').lastMovement!;
    expect(moved.rows / (rows.length * 3)).toBeGreaterThan(0.25 * 0.7);
    expect(moved.rows / (rows.length * 3)).toBeLessThan(0.25 * 1.3);

    ring.ring('n4').decommission();
    expect(
      await world.runUntil(() => ring.ring('n4').membership.status === 'left', {
        timeoutMs: 60_000,
      }),
    ).toBe(true);
    expect(
      await world.runUntil(
        () => names.every((n) => ring.ring(n).membership.ring.endpoints.length === 3),
        { timeoutMs: 30_000 },
      ),
    ).toBe(true);
    for (const n of names) {
      const have = [...(await ring.contents(n, 'kv')).keys()].sort();
      expect(have).toEqual(expectedRows(ring, 'n1', all, n));
    }
    // A decommissioned node does not come back with tokens that are others' now.
    world.crash('n4');
    world.restart('n4');
    await world.runFor(1000);
    expect(world.nodeErrors.map((e) => [e.node, (e.error as { code?: string }).code])).toEqual([
      ['n4', 'RING_STATE'],
    ]);
    await world.settle(client.close());
  });

  it('a decommissioned node hands its hints over; a gaining node that is down fails it', async () => {
    const names = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
    const ring = await ringOf(28, names, { vnodes: 2 });
    const { world, client } = ring;
    await world.settle(
      client.createTable({ ...kvSpec(), placement: { hashed: { replicationFactor: 2 } } }),
    );
    // A node that gains nothing when n6 leaves: n6 may hold hints for it while it is down.
    const n6 = ring.ring('n6');
    const before = n6.membership.ring;
    const after = TokenRing.of(before.endpoints.filter((e) => e.id !== idOf('n6')));
    const strategy = { kind: 'simple', replicationFactor: 2 } as const;
    const gaining = new Set(rangeChanges(before, after, strategy).flatMap((c) => c.gained));
    const down = names.find((n) => n !== 'n6' && !gaining.has(idOf(n)))!;
    expect(down).toBeDefined();
    world.crash(down);
    expect(
      await world.runUntil(() => !n6.membership.isAlive(idOf(down), ring.now('n6')), {
        timeoutMs: 30_000,
      }),
    ).toBe(true);
    // Writes coordinated by n6 to rows `down` replicates: n6 keeps their hints.
    const via6 = await world.settle(
      connect(world.node('client').env, [idOf('n6')], { tokenAware: false, timeoutMs: 10_000 }),
    );
    const schema = n6.schema.schemaOf('kv')!;
    const rows: string[] = [];
    for (let i = 0; rows.length < 5; i++) {
      if (n6.coordinator.replicasOf(schema, utf8(`h${i}`)).includes(idOf(down))) rows.push(`h${i}`);
    }
    for (const row of rows) {
      await world.settle(via6.table('kv').put(row, { 'f:a': row }, { consistency: 'ONE' }));
    }
    await world.runFor(500);
    expect(n6.hints.stats().find((h) => h.target === idOf(down))?.hints).toBe(5);
    n6.decommission();
    expect(await world.runUntil(() => n6.membership.status === 'left', { timeoutMs: 60_000 })).toBe(
      true,
    );
    expect(n6.hints.targets()).toEqual([]);
    // The hints went to a live node, which delivers them once `down` is back.
    world.restart(down);
    const live = names.filter((n) => n !== 'n6');
    await ring.waitAllSee(live);
    expect(
      await world.runUntil(() => live.every((n) => ring.ring(n).hints.targets().length === 0), {
        timeoutMs: 30_000,
      }),
    ).toBe(true);
    const held = await ring.contents(down, 'kv');
    for (const row of rows) expect(held.has(toHex(utf8(row)))).toBe(true);

    // A node that would gain ranges is down: the decommission fails and the node stays.
    const n5 = ring.ring('n5');
    const now5 = n5.membership.ring;
    const without5 = TokenRing.of(now5.endpoints.filter((e) => e.id !== idOf('n5')));
    const gainer = rangeChanges(now5, without5, strategy)
      .flatMap((c) => c.gained)[0]!
      .split(':')[0]!;
    world.crash(gainer);
    expect(
      await world.runUntil(() => !n5.membership.isAlive(idOf(gainer), ring.now('n5')), {
        timeoutMs: 30_000,
      }),
    ).toBe(true);
    n5.decommission();
    expect(n5.membership.status).toBe('leaving');
    expect(
      await world.runUntil(() => n5.membership.status !== 'leaving', { timeoutMs: 120_000 }),
    ).toBe(true);
    expect(n5.membership.status).toBe('normal');
    expect(n5.describe().endpoints.find((e) => e.id === idOf('n5'))?.progress).toMatch(
      /^decommission failed: /,
    );
    await world.settle(via6.close());
    await world.settle(client.close());
  });

  it('removes a dead node and rebuilds its replicas from the survivors', async () => {
    const names = ['n1', 'n2', 'n3', 'n4'];
    const ring = await ringOf(26, names);
    const { world, client } = ring;
    await world.settle(client.createTable(kvSpec()));
    const kv = client.table('kv');
    const rows = Array.from({ length: 200 }, (_, i) => `m${i}`);
    for (const row of rows) await world.settle(kv.put(row, { 'f:a': row }, { consistency: 'ALL' }));
    world.crash('n4');
    expect(
      await world.runUntil(() => !ring.ring('n1').membership.isAlive(idOf('n4'), ring.now('n1')), {
        timeoutMs: 30_000,
      }),
    ).toBe(true);
    expect(() => ring.ring('n1').removeNode(idOf('n1'))).toThrow(/decommission/);
    expect(() => ring.ring('n1').removeNode(idOf('n2'))).toThrow(/alive/);
    ring.ring('n1').removeNode(idOf('n4'));
    const live = ['n1', 'n2', 'n3'];
    expect(
      await world.runUntil(
        () => live.every((n) => ring.ring(n).membership.statusOf(idOf('n4')) === 'left'),
        { timeoutMs: 60_000 },
      ),
    ).toBe(true);
    // With three nodes left at RF 3, every survivor holds every row.
    for (const n of live) {
      expect([...(await ring.contents(n, 'kv')).keys()].length).toBe(rows.length);
    }
    expect(await world.settle(kv.get('m7', { consistency: 'ALL' }))).toBeDefined();
    await world.settle(client.close());
  });
});
