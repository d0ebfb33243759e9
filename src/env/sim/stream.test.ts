import { describe, expect, it } from 'vitest';
import { connectTimeoutMsDefault, type Connection, type Env } from '../types.js';
import { concatBytes, equalBytes } from '../../util/bytes.js';
import { isTesseraError, type TesseraError } from '../../util/errors.js';
import { sendBufferBytesMax } from './stream.js';
import { SimWorld } from './world.js';
import type { NetworkFaults } from './faults.js';

/** What one side of a connection observed. */
interface Observed {
  chunks: Uint8Array[];
  closes: (TesseraError | undefined)[];
  drains: number;
}

function observe(conn: Connection): Observed {
  const seen: Observed = { chunks: [], closes: [], drains: 0 };
  conn.setHandlers({
    onData: (chunk) => seen.chunks.push(chunk),
    onClose: (error) => seen.closes.push(error),
    onDrain: () => seen.drains++,
  });
  return seen;
}

/** Two nodes, a listener on s:7000, and one established connection between them. */
async function pair(
  seed: number,
  faults: Partial<NetworkFaults> = {},
  autoObserve = true,
): Promise<{
  world: SimWorld;
  client: Connection;
  server: Connection;
  clientSeen: Observed;
  serverSeen: Observed;
  serverEnv: Env;
  clientEnv: Env;
}> {
  const world = new SimWorld({ seed, network: faults });
  const serverEnv = world.addNode('s').env;
  const clientEnv = world.addNode('c').env;
  let server: Connection | undefined;
  let serverSeen: Observed = { chunks: [], closes: [], drains: 0 };
  await world.settle(
    serverEnv.net.listen({ host: 's', port: 7000 }, (conn) => {
      server = conn;
      if (autoObserve) serverSeen = observe(conn);
    }),
  );
  const client = await world.settle(clientEnv.net.connect({ host: 's', port: 7000 }));
  expect(server).toBeDefined();
  const clientSeen = observe(client);
  return { world, client, server: server!, clientSeen, serverSeen, serverEnv, clientEnv };
}

async function errorOf(world: SimWorld, promise: Promise<unknown>): Promise<unknown> {
  return world.settle(promise).then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('simulated streams', () => {
  it('delivers bytes in order, exactly once, under splitting, delay and loss', async () => {
    for (const seed of [1, 2, 3]) {
      const faults = { splitRate: 0.5, lossRate: 0.2, meanDelayMs: 2, maxDelayMs: 20 };
      const { world, client, server, clientEnv, serverSeen } = await pair(seed, faults);
      const sent: Uint8Array[] = [];
      for (let i = 0; i < 300; i++) {
        const chunk = clientEnv.random.bytes(clientEnv.random.between(1, 200));
        sent.push(chunk);
        client.write(chunk);
        if (i % 10 === 0) await world.runFor(clientEnv.random.between(0, 5));
      }
      await world.run();
      expect(equalBytes(concatBytes(serverSeen.chunks), concatBytes(sent))).toBe(true);
      // Splitting really happened: more chunks arrived than were written.
      expect(serverSeen.chunks.length).toBeGreaterThan(sent.length * 1.2);
      expect(server.closed).toBe(false);
    }
  });

  it('delivers both directions independently', async () => {
    const { world, client, server, clientSeen, serverSeen } = await pair(4);
    client.write(new Uint8Array([1, 2, 3]));
    server.write(new Uint8Array([9, 8]));
    await world.run();
    expect(concatBytes(serverSeen.chunks)).toEqual(new Uint8Array([1, 2, 3]));
    expect(concatBytes(clientSeen.chunks)).toEqual(new Uint8Array([9, 8]));
  });

  it('buffers data that arrives before setHandlers', async () => {
    const { world, client, server } = await pair(5, { splitRate: 0 }, false);
    client.write(new Uint8Array([1]));
    client.write(new Uint8Array([2]));
    await world.run();
    const seen = observe(server);
    expect(seen.chunks).toEqual([]);
    await world.run();
    expect(concatBytes(seen.chunks)).toEqual(new Uint8Array([1, 2]));
  });

  it('applies back-pressure: write says false past the high-water mark, then onDrain', async () => {
    const { world, client, server, clientSeen, serverSeen } = await pair(6);
    server.pause();
    const chunk = new Uint8Array(64 * 1024);
    let accepted = 0;
    while (client.write(chunk)) accepted++;
    expect((accepted + 1) * chunk.length).toBeGreaterThanOrEqual(sendBufferBytesMax);
    expect(accepted * chunk.length).toBeLessThan(sendBufferBytesMax);
    await world.runFor(100);
    // Paused: nothing delivered, so no room was made.
    expect(serverSeen.chunks).toEqual([]);
    expect(clientSeen.drains).toBe(0);
    server.resume();
    await world.run();
    expect(clientSeen.drains).toBe(1);
    expect(concatBytes(serverSeen.chunks).length).toBe((accepted + 1) * chunk.length);
  });

  it('pause stops delivery until resume', async () => {
    const { world, client, server, serverSeen } = await pair(7, { splitRate: 0 });
    client.write(new Uint8Array([1]));
    await world.run();
    server.pause();
    client.write(new Uint8Array([2]));
    client.end();
    await world.run();
    expect(serverSeen.chunks.length).toBe(1);
    expect(serverSeen.closes).toEqual([]); // the close waits behind the unread byte
    server.resume();
    await world.run();
    expect(concatBytes(serverSeen.chunks)).toEqual(new Uint8Array([1, 2]));
    expect(serverSeen.closes).toEqual([undefined]);
  });

  it('end closes in order on both sides after the queued bytes', async () => {
    const { world, client, server, clientSeen, serverSeen } = await pair(8);
    client.write(new Uint8Array(5000).fill(7));
    client.end();
    expect(client.closed).toBe(true); // as in env/real: nothing more may be written
    expect(client.write(new Uint8Array([1]))).toBe(false);
    await world.run();
    expect(concatBytes(serverSeen.chunks).length).toBe(5000);
    expect(serverSeen.closes).toEqual([undefined]);
    expect(clientSeen.closes).toEqual([undefined]);
    expect(server.closed).toBe(true);
    expect(client.closed).toBe(true);
  });

  it('destroy resets: the peer sees CONNECTION_CLOSED, the local side an orderly close', async () => {
    const { world, client, server, clientSeen, serverSeen } = await pair(9);
    client.write(new Uint8Array([1]));
    client.destroy();
    expect(client.closed).toBe(true);
    await world.run();
    expect(clientSeen.closes).toEqual([undefined]);
    expect(serverSeen.closes).toHaveLength(1);
    expect(isTesseraError(serverSeen.closes[0], 'CONNECTION_CLOSED')).toBe(true);
    expect(serverSeen.chunks).toEqual([]); // the queued byte was discarded
    expect(server.closed).toBe(true);
  });

  it('resets connections at resetRate, telling both sides', async () => {
    const { world, client, clientSeen, serverSeen } = await pair(10);
    world.setNetworkFaults({ resetRate: 1 });
    client.write(new Uint8Array([1, 2, 3]));
    await world.run();
    expect(isTesseraError(serverSeen.closes[0], 'CONNECTION_CLOSED')).toBe(true);
    expect(isTesseraError(clientSeen.closes[0], 'CONNECTION_CLOSED')).toBe(true);
    expect(serverSeen.closes).toHaveLength(1);
    expect(clientSeen.closes).toHaveLength(1);
  });

  it('refuses connections to a port nobody listens on, after a network delay', async () => {
    const world = new SimWorld({ seed: 11 });
    world.addNode('s');
    const env = world.addNode('c').env;
    const error = await errorOf(world, env.net.connect({ host: 's', port: 1 }));
    expect(isTesseraError(error, 'CONNECTION_REFUSED')).toBe(true);
    expect(world.nowMicros()).toBeGreaterThan(0);
  });

  it('times out connecting to a crashed or unknown host, by the client clock', async () => {
    const world = new SimWorld({ seed: 12 });
    world.addNode('s');
    const env = world.addNode('c', { clockDriftPpm: 100_000 }).env;
    world.crash('s');
    const error = await errorOf(
      world,
      env.net.connect({ host: 's', port: 7000 }, { timeoutMs: 1_100 }),
    );
    expect(isTesseraError(error, 'DEADLINE_EXCEEDED')).toBe(true);
    expect(world.nowMs()).toBe(1_000); // 1100 ms on a clock 10% fast
    const unknown = await errorOf(world, env.net.connect({ host: 'nowhere', port: 7000 }));
    expect(isTesseraError(unknown, 'DEADLINE_EXCEEDED')).toBe(true);
    expect(world.nowMs()).toBeCloseTo(1_000 + connectTimeoutMsDefault / 1.1, 2);
  });

  it('connects once a partition heals within the timeout (SYN retry)', async () => {
    const world = new SimWorld({ seed: 13 });
    const s = world.addNode('s').env;
    const c = world.addNode('c').env;
    await world.settle(s.net.listen({ host: 's', port: 7000 }, () => {}));
    world.partition(['s'], ['c']);
    world.after(1_500, () => world.heal());
    const conn = await world.settle(
      c.net.connect({ host: 's', port: 7000 }, { timeoutMs: 10_000 }),
    );
    expect(conn.remote).toEqual({ host: 's', port: 7000 });
    expect(world.nowMs()).toBeGreaterThan(1_500);
  });

  it('holds stream bytes across a partition and delivers them, in order, after heal', async () => {
    const { world, client, server, clientSeen, serverSeen } = await pair(14, { splitRate: 0.5 });
    world.partition(['c'], ['s']);
    for (let i = 0; i < 50; i++) client.write(new Uint8Array([i]));
    server.write(new Uint8Array([200]));
    await world.runFor(10_000);
    expect(serverSeen.chunks).toEqual([]);
    expect(clientSeen.chunks).toEqual([]);
    world.heal();
    for (let i = 50; i < 60; i++) client.write(new Uint8Array([i]));
    await world.run();
    expect(concatBytes(serverSeen.chunks)).toEqual(
      new Uint8Array(Array.from({ length: 60 }, (_, i) => i)),
    );
    expect(concatBytes(clientSeen.chunks)).toEqual(new Uint8Array([200]));
  });

  it('a one-way partition holds one direction only', async () => {
    const { world, client, server, clientSeen, serverSeen } = await pair(15);
    world.partitionOneWay(['c'], ['s']);
    client.write(new Uint8Array([1]));
    server.write(new Uint8Array([2]));
    await world.runFor(1_000);
    expect(serverSeen.chunks).toEqual([]);
    expect(concatBytes(clientSeen.chunks)).toEqual(new Uint8Array([2]));
    world.heal();
    await world.run();
    expect(concatBytes(serverSeen.chunks)).toEqual(new Uint8Array([1]));
  });

  it('a crashed peer resets its connections after a network delay', async () => {
    const { world, clientSeen } = await pair(16);
    const crashedAt = world.nowMicros();
    world.crash('s');
    expect(clientSeen.closes).toEqual([]);
    await world.run();
    expect(clientSeen.closes).toHaveLength(1);
    expect(isTesseraError(clientSeen.closes[0], 'CONNECTION_CLOSED')).toBe(true);
    expect(world.nowMicros()).toBeGreaterThan(crashedAt);
  });

  it('the reset of a crashed peer waits for a partition to heal', async () => {
    const { world, clientSeen } = await pair(17);
    world.partition(['s'], ['c']);
    world.crash('s');
    await world.runFor(5_000);
    expect(clientSeen.closes).toEqual([]);
    world.heal();
    await world.run();
    expect(isTesseraError(clientSeen.closes[0], 'CONNECTION_CLOSED')).toBe(true);
  });

  it('the crashed side hears nothing more, and its writes go nowhere', async () => {
    const { world, client, server, serverSeen } = await pair(18);
    world.crash('s');
    client.write(new Uint8Array([1]));
    expect(server.write(new Uint8Array([2]))).toBe(false);
    await world.run();
    expect(serverSeen.chunks).toEqual([]);
    expect(serverSeen.closes).toEqual([]);
  });
});

describe('simulated listeners', () => {
  it('rejects a taken address, picks ephemeral ports deterministically, binds any-host', async () => {
    const world = new SimWorld({ seed: 20 });
    const env = world.addNode('s').env;
    const l1 = await world.settle(env.net.listen({ host: '0.0.0.0', port: 7000 }, () => {}));
    expect(l1.address).toEqual({ host: 's', port: 7000 });
    const taken = await errorOf(
      world,
      env.net.listen({ host: 's', port: 7000 }, () => {}),
    );
    expect(isTesseraError(taken, 'ADDRESS_IN_USE')).toBe(true);
    const e1 = await world.settle(env.net.listen({ host: 's', port: 0 }, () => {}));
    const e2 = await world.settle(env.net.listen({ host: 's', port: 0 }, () => {}));
    expect([e1.address.port, e2.address.port]).toEqual([49152, 49153]);
    const other = await errorOf(
      world,
      env.net.listen({ host: 'elsewhere', port: 1 }, () => {}),
    );
    expect(isTesseraError(other, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('close stops accepting but keeps accepted connections', async () => {
    const world = new SimWorld({ seed: 21 });
    const s = world.addNode('s').env;
    const c = world.addNode('c').env;
    const accepted: Connection[] = [];
    const listener = await world.settle(
      s.net.listen({ host: 's', port: 7000 }, (conn) => accepted.push(conn)),
    );
    const conn = await world.settle(c.net.connect({ host: 's', port: 7000 }));
    const seen = observe(accepted[0]!);
    await world.settle(listener.close());
    const refused = await errorOf(world, c.net.connect({ host: 's', port: 7000 }));
    expect(isTesseraError(refused, 'CONNECTION_REFUSED')).toBe(true);
    conn.write(new Uint8Array([42]));
    await world.run();
    expect(concatBytes(seen.chunks)).toEqual(new Uint8Array([42]));
  });

  it('a listener is gone after a crash, and the port is free for the next incarnation', async () => {
    const world = new SimWorld({ seed: 22 });
    const node = world.addNode('s');
    const c = world.addNode('c').env;
    await world.settle(node.env.net.listen({ host: 's', port: 7000 }, () => {}));
    node.crash();
    node.restart();
    world.crash('s');
    const down = await errorOf(world, c.net.connect({ host: 's', port: 7000 }, { timeoutMs: 100 }));
    expect(isTesseraError(down, 'DEADLINE_EXCEEDED')).toBe(true);
    node.restart();
    const refused = await errorOf(world, c.net.connect({ host: 's', port: 7000 }));
    expect(isTesseraError(refused, 'CONNECTION_REFUSED')).toBe(true);
    await world.settle(node.env.net.listen({ host: 's', port: 7000 }, () => {}));
    await world.settle(c.net.connect({ host: 's', port: 7000 }));
  });

  it('connects a node to itself through localhost', async () => {
    const world = new SimWorld({ seed: 23 });
    const env = world.addNode('n').env;
    let seen: Observed | undefined;
    await world.settle(
      env.net.listen({ host: 'localhost', port: 9 }, (conn) => (seen = observe(conn))),
    );
    const conn = await world.settle(env.net.connect({ host: '127.0.0.1', port: 9 }));
    expect(conn.remote).toEqual({ host: 'n', port: 9 });
    conn.write(new Uint8Array([5]));
    await world.run();
    expect(concatBytes(seen!.chunks)).toEqual(new Uint8Array([5]));
  });

  it('a throwing onData crashes only its own node', async () => {
    const { world, client, server, clientSeen } = await pair(24);
    server.setHandlers({
      onData: () => {
        throw new Error('handler bug');
      },
      onClose: () => {},
    });
    client.write(new Uint8Array([1]));
    await world.run();
    expect(world.nodeErrors.map((e) => e.node)).toEqual(['s']);
    expect(world.node('s').alive).toBe(false);
    expect(world.node('c').alive).toBe(true);
    expect(isTesseraError(clientSeen.closes[0], 'CONNECTION_CLOSED')).toBe(true);
  });
});
