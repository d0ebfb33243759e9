/**
 * LockClient against three real LockReplicas (SimNodes, simulated TCP): basic operations and
 * redirects, a session that survives a leader crash, a session that expires when its client
 * dies (its ephemeral node goes, its lock and its election pass to the next waiter), and a
 * watch that re-arms across a leader failover without losing an event.
 */
import { describe, expect, it } from 'vitest';
import { SimWorld } from '../env/sim/index.js';
import { RpcServer } from '../wire/index.js';
import { TesseraError } from '../util/errors.js';
import { LockReplica, type LockPeer } from '../lock/replica.js';
import { registerLockService } from '../lock/service.js';
import { LockClient, type ClientWatchEvent } from './lock-client.js';

const IDS = [1, 2, 3] as const;
const ADDRESSES = IDS.map((id) => `n${id}:7100`);

function startCluster(world: SimWorld): Map<number, LockReplica> {
  const replicas = new Map<number, LockReplica>();
  const peers: LockPeer[] = IDS.map((id) => ({
    id,
    raft: { host: `n${id}`, port: 7000 },
    client: { host: `n${id}`, port: 7100 },
  }));
  for (const id of IDS) {
    world.addNode(`n${id}`).start(async (env) => {
      const replica = await LockReplica.start({ env, id, peers, dir: '/lock', tickMs: 10 });
      const server = new RpcServer(env);
      registerLockService(server, replica);
      await server.listen({ host: env.name, port: 7100 });
      replicas.set(id, replica);
    });
  }
  return replicas;
}

async function setup(seed: number): Promise<{
  world: SimWorld;
  replicas: Map<number, LockReplica>;
  leader: () => LockReplica | undefined;
}> {
  const world = new SimWorld({ seed });
  const replicas = startCluster(world);
  const leader = (): LockReplica | undefined =>
    [...replicas.values()].find((r) => r.isLeader && world.node(`n${r.id}`).alive);
  const ok = await world.runUntil(() => replicas.size === 3 && leader() !== undefined, {
    timeoutMs: 10_000,
  });
  expect(ok).toBe(true);
  return { world, replicas, leader };
}

const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof TesseraError ? e.code : String(e)),
  );

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('LockClient', () => {
  it('does basic operations, found through a follower', async () => {
    const { world, leader } = await setup(11);
    const follower = IDS.find((id) => id !== leader()!.id)!;
    const env = world.addNode('c').env;
    // Only a follower's address: the client follows its report of the leader.
    const client = await world.settle(LockClient.connect(env, [`n${follower}:7100`]));
    expect(client.connectedTo).toBe(`n${leader()!.id}:7100`);
    expect(client.session).toBeGreaterThan(0);

    expect(await world.settle(client.create('/a', { data: bytes('x') }))).toMatchObject({
      path: '/a',
      stat: { version: 0 },
    });
    const got = await world.settle(client.get('/a'));
    expect(new TextDecoder().decode(got.data)).toBe('x');
    expect(await world.settle(client.set('/a', bytes('y'), 0))).toMatchObject({ version: 1 });
    expect(await codeOf(world.settle(client.set('/a', bytes('z'), 0)))).toBe('BAD_VERSION');
    const seq = await world.settle(client.create('/a/s-', { sequential: true, ephemeral: true }));
    expect(seq.stat.ephemeralOwner).toBe(client.session);
    expect(await world.settle(client.list('/a'))).toEqual([seq.path.slice('/a/'.length)]);
    expect(await world.settle(client.exists('/nope'))).toBeNull();
    await world.settle(
      client.multi([
        { type: 'check', path: '/a', expectedVersion: 1 },
        { type: 'create', path: '/b', data: new Uint8Array(0) },
      ]),
    );
    await world.settle(client.delete('/b', 0));
    expect(await world.settle(client.exists('/b'))).toBeNull();

    const lock = await world.settle(client.acquire('/l'));
    expect(lock.granted).toBe(true);
    const token = lock.granted ? lock.token : -1;
    expect(await world.settle(client.checkSequencer('/l', token))).toBe(true);
    await world.settle(client.release('/l'));
    expect(await world.settle(client.checkSequencer('/l', token))).toBe(false);

    expect(await world.settle(client.status())).toMatchObject({ role: 'leader' });
    await world.settle(client.close());
    // Closing the session deleted its ephemeral node.
    const other = await world.settle(LockClient.connect(env, ADDRESSES));
    expect(await world.settle(other.list('/a'))).toEqual([]);
  });

  it('keeps its session, ephemeral node and lock across a leader crash', async () => {
    const { world, leader } = await setup(12);
    const env = world.addNode('c').env;
    const client = await world.settle(LockClient.connect(env, ADDRESSES, { ttlMs: 3_000 }));
    const session = client.session;
    await world.settle(client.create('/eph', { ephemeral: true }));
    const lock = await world.settle(client.acquire('/l'));
    expect(lock.granted).toBe(true);
    const token = lock.granted ? lock.token : -1;

    const old = leader()!.id;
    world.crash(`n${old}`);
    // Well beyond the TTL: only keep-alives against the new leader keep the session.
    await world.runFor(8_000);
    expect(leader()?.id).not.toBe(old);
    expect(client.sessionAlive).toBe(true);
    expect(client.session).toBe(session);
    expect(leader()!.stateMachine.session(session)).toBeDefined();
    expect(client.connectedTo).toBe(`n${leader()!.id}:7100`);
    expect(await world.settle(client.exists('/eph'))).toMatchObject({ ephemeralOwner: session });
    expect(await world.settle(client.checkSequencer('/l', token))).toBe(true);
    expect(await world.settle(client.acquire('/l'))).toEqual({
      granted: true,
      mode: 'exclusive',
      token,
    });
  });

  it('loses its session when keep-alives stop: ephemeral gone, lock and election passed on', async () => {
    const { world } = await setup(13);
    const a = await world.settle(
      LockClient.connect(world.addNode('ca').env, ADDRESSES, { ttlMs: 1_000 }),
    );
    const b = await world.settle(
      LockClient.connect(world.addNode('cb').env, ADDRESSES, { ttlMs: 1_000 }),
    );
    await world.settle(a.create('/eph', { ephemeral: true }));
    const lockA = await world.settle(a.acquire('/l'));
    expect(lockA.granted).toBe(true);
    expect(await world.settle(b.acquire('/l'))).toMatchObject({ granted: false, position: 0 });
    await world.settle(a.elect('/boss', 'alpha'));
    expect(await world.settle(b.leader('/boss'))).toBe('alpha');
    let bElected = false;
    void b.elect('/boss', 'beta').then(() => (bElected = true));
    await world.runFor(500);
    expect(bElected).toBe(false);

    world.crash('ca'); // the client dies: no more keep-alives
    expect(await world.runUntil(() => bElected, { timeoutMs: 5_000 })).toBe(true);
    expect(await world.settle(b.exists('/eph'))).toBeNull();
    expect(await world.settle(b.leader('/boss'))).toBe('beta');
    const lockB = await world.settle(b.acquire('/l'));
    expect(lockB.granted).toBe(true);
    if (lockA.granted && lockB.granted) {
      expect(lockB.token).toBeGreaterThan(lockA.token);
      expect(await world.settle(b.checkSequencer('/l', lockA.token))).toBe(false);
    }
  });

  it('delivers watch events in order across a leader failover', async () => {
    const { world, leader } = await setup(14);
    const watcher = await world.settle(
      LockClient.connect(world.addNode('cw').env, ADDRESSES, { ttlMs: 3_000 }),
    );
    const writer = await world.settle(
      LockClient.connect(world.addNode('cx').env, ADDRESSES, { ttlMs: 3_000 }),
    );
    const events: ClientWatchEvent[] = [];
    const children: ClientWatchEvent[] = [];
    const handle = watcher.watch('/w', 'data', (e) => events.push(e));
    const childHandle = watcher.watch('/', 'children', (e) => children.push(e));
    await world.settle(Promise.all([handle.ready, childHandle.ready]));

    await world.settle(writer.create('/w', { data: bytes('0') }));
    await world.settle(writer.set('/w', bytes('1'), 0));
    await world.settle(writer.set('/w', bytes('2'), 1));
    // Crash the leader right after a write: the watcher may not have heard of it yet.
    const old = leader()!.id;
    world.crash(`n${old}`);
    await world.settle(writer.set('/w', bytes('3'), 2));
    expect(leader()!.id).not.toBe(old);
    await world.settle(writer.set('/w', bytes('4'), 3));
    await world.settle(writer.delete('/w', 4));

    expect(await world.runUntil(() => events.length >= 6, { timeoutMs: 10_000 })).toBe(true);
    await world.runFor(500);
    expect(events.map((e) => e.type)).toEqual([
      'created',
      'dataChanged',
      'dataChanged',
      'dataChanged',
      'dataChanged',
      'deleted',
    ]);
    for (let i = 1; i < events.length; i++) {
      expect(events[i]!.index).toBeGreaterThan(events[i - 1]!.index);
    }
    // The children watch on '/' saw the create and the delete of '/w'.
    expect(children.map((e) => e.type)).toEqual(['childrenChanged', 'childrenChanged']);
    handle.cancel();
    childHandle.cancel();
    await world.settle(writer.create('/w'));
    await world.runFor(500);
    expect(events).toHaveLength(6);
  });
});
