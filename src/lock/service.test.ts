/**
 * Every `lock.*` method once, over simulated TCP, against a one-replica lock service; then a
 * three-replica cluster's follower answers NOT_LEADER with the leader's client address.
 */
import { describe, expect, it } from 'vitest';
import { SimWorld } from '../env/sim/index.js';
import { RpcClient, RpcServer } from '../wire/index.js';
import { TesseraError } from '../util/errors.js';
import { COMMAND_BYTES_MAX, LockReplica, type LockPeer } from './replica.js';
import { registerLockService } from './service.js';

function peersOf(ids: readonly number[]): LockPeer[] {
  return ids.map((id) => ({
    id,
    raft: { host: `n${id}`, port: 7000 },
    client: { host: `n${id}`, port: 7100 },
  }));
}

function startCluster(world: SimWorld, ids: readonly number[]): Map<number, LockReplica> {
  const replicas = new Map<number, LockReplica>();
  const peers = peersOf(ids);
  for (const id of ids) {
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

const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof TesseraError ? e.code : String(e)),
  );

describe('lock service methods', () => {
  it('serves every method on a single replica', async () => {
    const world = new SimWorld({ seed: 5 });
    const replicas = startCluster(world, [1]);
    const client = world.addNode('c');
    await world.runUntil(() => replicas.get(1)?.isLeader === true, { timeoutMs: 5_000 });
    const rpc = await world.settle(RpcClient.connect(client.env, { host: 'n1', port: 7100 }));
    const call = (method: string, args: unknown): Promise<unknown> =>
      world.settle(rpc.call(method, args, { timeoutMs: 2_000 }));
    const data = new Uint8Array([7, 8]);

    expect(await call('lock.status', {})).toMatchObject({ id: 1, role: 'leader', leaderId: 1 });
    const { session } = (await call('lock.openSession', { ttlMs: 10_000 })) as { session: number };
    expect(session).toBeGreaterThan(0);
    expect(await call('lock.keepAlive', { session })).toMatchObject({ session });
    expect(await call('lock.create', { path: '/a', data })).toMatchObject({
      path: '/a',
      stat: { version: 0, dataLength: 2 },
    });
    expect(await call('lock.create', { path: '/a/e', ephemeral: true, session })).toMatchObject({
      path: '/a/e',
      stat: { ephemeralOwner: session },
    });
    const got = (await call('lock.get', { path: '/a' })) as { data: Uint8Array };
    expect([...got.data]).toEqual([7, 8]);
    expect(await call('lock.set', { path: '/a', data, expectedVersion: 0 })).toMatchObject({
      stat: { version: 1 },
    });
    expect(await codeOf(call('lock.set', { path: '/a', data, expectedVersion: 0 }))).toBe(
      'BAD_VERSION',
    );
    expect(await call('lock.exists', { path: '/nope' })).toEqual({ stat: null });
    expect(await call('lock.list', { path: '/a' })).toEqual({ children: ['e'] });
    expect(
      await call('lock.multi', {
        ops: [
          { type: 'check', path: '/a', expectedVersion: 1 },
          { type: 'create', path: '/b' },
        ],
      }),
    ).toEqual({ results: [expect.objectContaining({ type: 'checked' }), expect.anything()] });
    const lock = (await call('lock.acquire', { path: '/l', session })) as { token: number };
    expect(lock).toMatchObject({ granted: true, mode: 'exclusive' });
    expect(await call('lock.checkSequencer', { path: '/l', token: lock.token })).toEqual({
      valid: true,
    });
    expect(await call('lock.release', { path: '/l', session })).toEqual({ path: '/l' });
    expect(await call('lock.checkSequencer', { path: '/l', token: lock.token })).toEqual({
      valid: false,
    });
    expect(await call('lock.delete', { path: '/b' })).toEqual({ path: '/b' });
    expect(await call('lock.closeSession', { session })).toEqual({ session });
    // Closing the session deleted its ephemeral node.
    expect(await call('lock.list', { path: '/a' })).toEqual({ children: [] });
    expect(await codeOf(call('lock.get', { path: 'bad' }))).toBe('INVALID_PATH');
    expect(await codeOf(call('lock.set', { path: '/a' }))).toBe('INVALID_ARGUMENT');
  });

  it('expires a session that is not kept alive', async () => {
    const world = new SimWorld({ seed: 6 });
    const replicas = startCluster(world, [1]);
    const client = world.addNode('c');
    await world.runUntil(() => replicas.get(1)?.isLeader === true, { timeoutMs: 5_000 });
    const rpc = await world.settle(RpcClient.connect(client.env, { host: 'n1', port: 7100 }));
    const { session } = (await world.settle(rpc.call('lock.openSession', { ttlMs: 300 }))) as {
      session: number;
    };
    await world.runFor(1_500);
    expect(replicas.get(1)!.stateMachine.session(session)).toBeUndefined();
  });

  it('a follower redirects to the leader', async () => {
    const world = new SimWorld({ seed: 7 });
    const replicas = startCluster(world, [1, 2, 3]);
    const client = world.addNode('c');
    const leader = (): LockReplica | undefined => [...replicas.values()].find((r) => r.isLeader);
    await world.runUntil(() => replicas.size === 3 && leader() !== undefined, {
      timeoutMs: 10_000,
    });
    const follower = [...replicas.values()].find((r) => !r.isLeader)!;
    const rpc = await world.settle(
      RpcClient.connect(client.env, { host: `n${follower.id}`, port: 7100 }),
    );
    const err = await world
      .settle(rpc.call('lock.get', { path: '/' }, { timeoutMs: 2_000 }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe('NOT_LEADER');
    expect((err as TesseraError).details).toMatchObject({
      leaderHint: leader()!.id,
      leader: `n${leader()!.id}:7100`,
    });
  });

  it('replicates 1 KiB values in full appends, takes a 100 KB value, refuses an oversized command', async () => {
    const world = new SimWorld({ seed: 9 });
    const replicas = startCluster(world, [1, 2, 3]);
    const client = world.addNode('c');
    const leader = (): LockReplica | undefined => [...replicas.values()].find((r) => r.isLeader);
    await world.runUntil(() => replicas.size === 3 && leader() !== undefined, {
      timeoutMs: 10_000,
    });
    const rpc = await world.settle(
      RpcClient.connect(client.env, { host: `n${leader()!.id}`, port: 7100 }),
    );
    // 200 creates of 1 KiB in flight at once: appends batch many entries.
    const kib = new Uint8Array(1024).fill(1);
    const creates = Array.from({ length: 200 }, (_, i) =>
      rpc.call('lock.create', { path: `/n${i}`, data: kib }, { timeoutMs: 10_000 }),
    );
    await world.settle(Promise.all(creates), { timeoutMs: 30_000 });
    await world.runFor(500);
    for (const r of replicas.values()) {
      expect(r.stateMachine.nodeCount).toBeGreaterThanOrEqual(200);
      expect(r.oversizedDrops).toBe(0);
    }
    // Larger than a datagram: its append travels over the stream transport.
    expect(
      await world.settle(
        rpc.call(
          'lock.create',
          { path: '/big', data: new Uint8Array(100_000) },
          { timeoutMs: 2_000 },
        ),
      ),
    ).toMatchObject({ path: '/big', stat: { dataLength: 100_000 } });
    const err = await world
      .settle(
        leader()!.propose({
          type: 'create',
          path: '/huge',
          data: new Uint8Array(COMMAND_BYTES_MAX),
        }),
      )
      .catch((e: unknown) => e);
    expect((err as TesseraError).code).toBe('INVALID_ARGUMENT');
  });
});
