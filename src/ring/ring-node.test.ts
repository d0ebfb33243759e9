/**
 * Ring nodes end to end on the simulator: three nodes gossip until each sees the others up, a
 * hashed table created at one is known to all, writes and reads go through any coordinator at
 * the levels asked, a crashed node is detected and skipped (ALL is then Unavailable, QUORUM
 * carries on), and a restarted node rejoins with its tokens and a larger generation.
 */
import { describe, expect, it } from 'vitest';
import { startNodeService, type RunningNode } from '../api/index.js';
import { connect, type Database as ClientDatabase } from '../client/index.js';
import type { Env } from '../env/index.js';
import { SimWorld } from '../env/sim/index.js';
import { Database, Mutation } from '../model/index.js';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { isTesseraError } from '../util/errors.js';
import { Prng } from '../util/prng.js';
import { RpcClient } from '../wire/index.js';
import { RING_METHODS } from './ring-protocol.js';
import { writeStateFile } from './state-file.js';

const port = 7100;
const names = ['n1', 'n2', 'n3'];
const ids = names.map((n) => `${n}:${port}`);

interface Cluster {
  readonly world: SimWorld;
  readonly nodes: Map<string, RunningNode>;
  readonly client: ClientDatabase;
}

/** table.get requests each node received, by node name. */
const getsServed = new Map<string, number>();

function startRingNode(
  world: SimWorld,
  name: string,
  nodes: Map<string, RunningNode>,
  place: { readonly datacenter?: string; readonly rack?: string } = {},
): void {
  world.addNode(name).start(async (env: Env) => {
    const database = await Database.open(env, { dir: '/db' });
    const node = await startNodeService(env, {
      name,
      listen: { host: name, port },
      database,
      ring: { name, dir: '/ring', seeds: [ids[0]!], vnodes: 16, ...place },
      rpc: {
        observer: {
          onCall: (method) => {
            if (method === 'table.get') getsServed.set(name, (getsServed.get(name) ?? 0) + 1);
          },
        },
      },
    });
    nodes.set(name, node);
  });
}

async function cluster(seed: number): Promise<Cluster> {
  const world = new SimWorld({ seed });
  const nodes = new Map<string, RunningNode>();
  for (const n of names) startRingNode(world, n, nodes);
  const client = world.addNode('client');
  expect(await world.runUntil(() => allSeeAll(world, nodes, names), { timeoutMs: 30_000 })).toBe(
    true,
  );
  const db = await world.settle(connect(client.env, ids, { timeoutMs: 10_000 }));
  return { world, nodes, client: db };
}

/** Every listed node sees every listed node up. */
function allSeeAll(world: SimWorld, nodes: Map<string, RunningNode>, live: string[]): boolean {
  return live.every((n) => {
    const ring = nodes.get(n)?.ring;
    if (ring === undefined || !world.node(n).alive) return false;
    const now = world.node(n).env.clock.monoMicros();
    return live.every((m) => ring.membership.isAlive(`${m}:${port}`, now));
  });
}

async function codeOf(world: SimWorld, p: Promise<unknown>): Promise<string> {
  try {
    await world.settle(p);
    return 'ok';
  } catch (err) {
    return isTesseraError(err) ? `${err.code}: ${err.message}` : String(err);
  }
}

describe('ring nodes', () => {
  it('coordinate hashed-table reads and writes at any node, around a crashed one', async () => {
    const { world, nodes, client } = await cluster(11);
    await world.settle(
      client.createTable({
        name: 'kv',
        families: [{ name: 'f' }],
        placement: { hashed: { replicationFactor: 3 } },
      }),
    );
    // The create was pushed to every live node before it was acknowledged.
    for (const n of names) expect(nodes.get(n)!.ring!.schema.schemaOf('kv')).toBeDefined();
    const kv = client.table('kv');
    await world.settle(kv.put('r1', { 'f:a': 'one' }, { consistency: 'ALL' }));
    // Every replica holds the row: read each node's own store.
    for (const n of names) {
      const cells = await world.settle(
        nodes.get(n)!.ring!.read(`${n}:${port}`, 'kv', utf8('r1'), 1000),
      );
      expect(cells.map((c) => fromUtf8(c.value))).toEqual(['one']);
    }
    world.crash('n3');
    // Until phi passes its threshold the dead node counts as up: ALL times out naming it.
    const early = await codeOf(world, kv.put('r1', { 'f:a': 'two' }, { consistency: 'ALL' }));
    expect(early).toMatch(/^REPLICA_TIMEOUT: Timeout: write of row 7231 in 'kv' at ALL needed 3/);
    expect(early).toContain('n3:7100');
    expect(
      await world.runUntil(
        () =>
          !nodes
            .get('n1')!
            .ring!.membership.isAlive('n3:7100', world.node('n1').env.clock.monoMicros()),
        { timeoutMs: 20_000 },
      ),
    ).toBe(true);
    expect(await codeOf(world, kv.put('r1', { 'f:a': 'three' }, { consistency: 'ALL' }))).toBe(
      "REPLICAS_UNAVAILABLE: Unavailable: write of row 7231 in 'kv' at ALL needs 3 replica(s), " +
        '2 alive (n1:7100, n2:7100); down: n3:7100',
    );
    await world.settle(kv.put('r1', { 'f:a': 'four' }, { consistency: 'QUORUM' }));
    const row = await world.settle(kv.get('r1', { consistency: 'QUORUM' }));
    expect(row?.text('f:a')).toBe('four');
    // A delete at QUORUM hides the row from a QUORUM read, whichever two replicas answer.
    await world.settle(kv.delete('r1', { consistency: 'QUORUM' }));
    expect(await world.settle(kv.get('r1', { consistency: 'QUORUM' }))).toBeUndefined();
    await world.settle(client.close());
  });

  it('resolves replicas that disagree from their raw rows, so a delete one of them missed wins', async () => {
    const { world, nodes, client } = await cluster(15);
    await world.settle(
      client.createTable({ name: 'kv', families: [{ name: 'f' }], placement: { hashed: {} } }),
    );
    const kv = client.table('kv');
    const { timestamp } = await world.settle(
      kv.put('r9', { 'f:a': 'one' }, { consistency: 'ALL' }),
    );
    // All three agree: the answer is theirs.
    expect((await world.settle(kv.get('r9', { consistency: 'ALL' })))?.text('f:a')).toBe('one');
    // A delete reaches n3 alone (as a write at ONE would, or one whose other replicas failed).
    const n3 = nodes.get('n3')!.ring!;
    await world.settle(
      n3.write('n3:7100', 'kv', new Mutation(utf8('r9')).deleteRow(timestamp + 1), 1000),
    );
    // n1 and n2 still answer 'one' on their own; n3 answers nothing. Merged, the delete wins.
    expect(await world.settle(kv.get('r9', { consistency: 'ALL' }))).toBeUndefined();
    await world.settle(client.close());
  });

  it('rejoins after a restart with the same tokens and a larger generation', async () => {
    const { world, nodes, client } = await cluster(12);
    const before = nodes.get('n1')!.ring!.membership.endpoint('n2:7100', 0)!;
    world.crash('n2');
    world.restart('n2');
    expect(
      await world.runUntil(
        () => {
          const e = nodes
            .get('n1')!
            .ring!.membership.endpoint('n2:7100', world.node('n1').env.clock.monoMicros());
          return e !== undefined && e.generation > before.generation && e.alive;
        },
        { timeoutMs: 30_000 },
      ),
    ).toBe(true);
    const after = nodes.get('n1')!.ring!.membership.endpoint('n2:7100', 0)!;
    expect(after.tokens).toEqual(before.tokens);
    expect(after.tokens).toHaveLength(16);
    await world.settle(client.close());
  });

  it('knows the whole ring the moment it restarts, and a new node waits to hear from a peer', async () => {
    const { world, nodes, client } = await cluster(14);
    // peers.json is written in the gossip round after the ring changed.
    await world.runFor(1_500);
    const old = nodes.get('n2');
    world.crash('n2');
    world.restart('n2');
    expect(await world.runUntil(() => nodes.get('n2') !== old, { timeoutMs: 10_000 })).toBe(true);
    // Before any gossip has come back, the ring already holds all three nodes (from peers.json),
    // the others not yet known to be up.
    const m = nodes.get('n2')!.ring!.membership;
    expect(m.ring.endpoints.map((e) => e.id)).toEqual(ids);
    expect(m.ready).toBe(true);
    expect(m.isAlive('n1:7100', world.node('n2').env.clock.monoMicros())).toBe(false);

    // A brand-new node that cannot reach its seed refuses to coordinate.
    const isolated = new Map<string, RunningNode>();
    startRingNode(world, 'n4', isolated);
    world.isolate('n4');
    expect(await world.runUntil(() => isolated.has('n4'), { timeoutMs: 10_000 })).toBe(true);
    const n4 = isolated.get('n4')!.ring!;
    expect(n4.membership.ready).toBe(false);
    const schema = nodes.get('n1')!.ring!.schema;
    await world.settle(
      client.createTable({ name: 'x', families: [{ name: 'f' }], placement: { hashed: {} } }),
    );
    const s = schema.schemaOf('x')!;
    expect(await codeOf(world, n4.coordinator.read(s, utf8('r'), {}, 'ONE'))).toBe(
      "REPLICAS_UNAVAILABLE: Unavailable: read of row 72 in 'x' at ONE: n4:7100 has not yet " +
        'heard from any other ring node, so it does not know where the row lives',
    );
    world.heal();
    expect(await world.runUntil(() => n4.membership.ready, { timeoutMs: 10_000 })).toBe(true);
    await world.settle(client.close());
  });

  it('routes a row straight to its replica once the client knows the ring', async () => {
    const { world, nodes, client } = await cluster(13);
    await world.settle(
      client.createTable({
        name: 'one',
        families: [{ name: 'f' }],
        placement: { hashed: { replicationFactor: 1 } },
      }),
    );
    const t = client.table('one');
    // A call for a table the client's ring view lacks refreshes the view (at most once a
    // second); later calls use it.
    await world.runFor(1_100);
    await world.settle(t.get('warm-up'));
    await world.runFor(100);
    getsServed.clear();
    const rows = Array.from({ length: 60 }, (_, i) => `row-${i}`);
    const owners = new Map<string, number>();
    const coordinator = nodes.get('n1')!.ring!.coordinator;
    const schema = nodes.get('n1')!.ring!.schema.schemaOf('one')!;
    for (const r of rows) {
      await world.settle(t.get(r));
      const owner = coordinator.replicasOf(schema, utf8(r))[0]!.split(':')[0]!;
      owners.set(owner, (owners.get(owner) ?? 0) + 1);
    }
    // Every get reached the node owning its row, not only the first address connected to.
    expect(Object.fromEntries(getsServed)).toEqual(Object.fromEntries(owners));
    expect(owners.size).toBe(3);
    await world.settle(client.close());
  });

  it('places replicas per datacenter and rack, and LOCAL_QUORUM carries on with the other datacenter cut off', async () => {
    const world = new SimWorld({ seed: 16 });
    const nodes = new Map<string, RunningNode>();
    const layout = [
      ['n1', 'east', 'r1'],
      ['n2', 'east', 'r2'],
      ['n3', 'east', 'r1'],
      ['n4', 'west', 'r1'],
      ['n5', 'west', 'r2'],
      ['n6', 'west', 'r1'],
    ] as const;
    for (const [name, datacenter, rack] of layout) {
      startRingNode(world, name, nodes, { datacenter, rack });
    }
    const all = layout.map(([n]) => n as string);
    expect(await world.runUntil(() => allSeeAll(world, nodes, all), { timeoutMs: 30_000 })).toBe(
      true,
    );
    const east = world.addNode('client');
    // The client knows only east's nodes (token-aware routing would reach west's too).
    const db = await world.settle(
      connect(east.env, ['n1:7100', 'n2:7100', 'n3:7100'], {
        tokenAware: false,
        timeoutMs: 10_000,
      }),
    );
    await world.settle(
      db.createTable({
        name: 'geo',
        families: [{ name: 'f' }],
        placement: { hashed: { datacenters: { east: 2, west: 2 } } },
      }),
    );
    const ring = nodes.get('n1')!.ring!;
    const schema = ring.schema.schemaOf('geo')!;
    const dcOf = new Map(layout.map(([n, dc]) => [`${n}:7100`, dc as string]));
    const rackOf = new Map(layout.map(([n, dc, r]) => [`${n}:7100`, `${dc}/${r}`]));
    for (let i = 0; i < 50; i++) {
      const replicas = ring.coordinator.replicasOf(schema, utf8(`row-${i}`));
      // Two replicas in each datacenter, on two different racks there.
      expect(replicas.filter((r) => dcOf.get(r) === 'east')).toHaveLength(2);
      expect(replicas.filter((r) => dcOf.get(r) === 'west')).toHaveLength(2);
      expect(new Set(replicas.map((r) => rackOf.get(r))).size).toBe(4);
    }
    const geo = db.table('geo');
    await world.settle(geo.put('k', { 'f:v': 'one' }, { consistency: 'ALL' }));
    // West is cut off from east (and from the client).
    world.partition(['n1', 'n2', 'n3', 'client'], ['n4', 'n5', 'n6']);
    // Every east node (any may coordinate) sees every west node down.
    const westDown = () =>
      ['n1', 'n2', 'n3'].every((e) =>
        ['n4', 'n5', 'n6'].every(
          (w) =>
            !nodes
              .get(e)!
              .ring!.membership.isAlive(`${w}:7100`, world.node(e).env.clock.monoMicros()),
        ),
      );
    expect(await world.runUntil(westDown, { timeoutMs: 30_000 })).toBe(true);
    // QUORUM needs 3 of the 4 replicas: Unavailable. LOCAL_QUORUM needs 2 of east's 2.
    const quorum = await codeOf(world, geo.put('k', { 'f:v': 'two' }, { consistency: 'QUORUM' }));
    expect(quorum).toMatch(
      /^REPLICAS_UNAVAILABLE: Unavailable: write of row 6b in 'geo' at QUORUM needs 3/,
    );
    await world.settle(geo.put('k', { 'f:v': 'three' }, { consistency: 'LOCAL_QUORUM' }));
    const row = await world.settle(geo.get('k', { consistency: 'LOCAL_QUORUM' }));
    expect(row?.text('f:v')).toBe('three');
    await world.settle(db.close());
  });

  it('answers malformed ring requests with INVALID_ARGUMENT, NOT_FOUND or RING_STATE and serves on', async () => {
    const { world, nodes, client } = await cluster(17);
    await world.settle(
      client.createTable({ name: 'kv', families: [{ name: 'f' }], placement: { hashed: {} } }),
    );
    const probe = world.addNode('probe');
    const rpc = await world.settle(RpcClient.connect(probe.env, { host: 'n1', port }));
    const p = new Prng(99);
    const junk = (depth: number): unknown => {
      switch (p.int(depth > 2 ? 6 : 9)) {
        case 0:
          return p.int(1000) - 500;
        case 1:
          return p.bytes(p.int(8));
        case 2:
          return ['kv', 'syn', 'ack', 'ack2', 'n2:7100', '', '12', '-5', 'all'][p.int(9)];
        case 3:
          return null;
        case 4:
          return p.chance(0.5);
        case 5:
          return 2 ** 60;
        case 6:
          return Array.from({ length: p.int(6) }, () => junk(depth + 1));
        default: {
          const keys = [
            'from',
            'message',
            'kind',
            'digests',
            'deltas',
            'requests',
            'table',
            'row',
            'mutation',
            'ops',
            'entries',
            'spec',
            'resolved',
            'endpoint',
            'app',
            'target',
            'intervals',
            'groupOf',
            'groups',
            'depth',
            'now',
            'after',
            'maxBytes',
            'maxRows',
            'rows',
            'scope',
            'id',
            'digest',
          ];
          const o: Record<string, unknown> = {};
          for (let i = p.int(5); i > 0; i--) o[p.pick(keys)] = junk(depth + 1);
          return o;
        }
      }
    };
    const codes = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      // Every method but ring.decommission, which a well-formed {} would start (and describe).
      const method = p.pick(
        RING_METHODS.filter((m) => m !== 'ring.decommission' && m !== 'ring.describe'),
      );
      try {
        await world.settle(rpc.call(method, junk(0), { timeoutMs: 2000 }));
        codes.add('ok');
      } catch (err) {
        codes.add(isTesseraError(err) ? err.code : `foreign ${String(err)}`);
      }
    }
    expect(
      [...codes].filter((c) => !['ok', 'INVALID_ARGUMENT', 'NOT_FOUND', 'RING_STATE'].includes(c)),
    ).toEqual([]);
    expect(codes).toContain('INVALID_ARGUMENT');
    // Still serving, and its ring unharmed.
    const d = (await world.settle(rpc.call('ring.describe', {}))) as { endpoints: unknown[] };
    expect(d.endpoints).toHaveLength(3);
    expect(nodes.get('n1')!.ring!.membership.ring.endpoints).toHaveLength(3);
    await world.settle(client.table('kv').put('r', { 'f:a': 'x' }));
    await world.settle(rpc.close());
    await world.settle(client.close());
  });

  it('refuses to start on a damaged node file', async () => {
    const world = new SimWorld({ seed: 3 });
    const env = world.addNode('n1').env;
    await world.settle(env.fs.mkdir('/ring', { recursive: true }));
    await world.settle(
      writeStateFile(env, '/ring', 'node.json', { version: 1, tokens: '1,2', generation: 5 }),
    );
    const good = await world.settle(env.fs.readFile('/ring/node.json'));
    const bad = good.slice();
    bad[5] = bad[5]! ^ 1;
    await world.settle(env.fs.writeFile('/ring/node.json', bad));
    const database = await world.settle(Database.open(env, { dir: '/db' }));
    const started = startNodeService(env, {
      name: 'n1',
      listen: { host: 'n1', port },
      database,
      ring: { name: 'n1', dir: '/ring', seeds: [] },
    });
    expect(await codeOf(world, started)).toMatch(
      /^CORRUPTION: \/ring\/node.json failed its checksum/,
    );
    await world.settle(database.close());
  });
});
