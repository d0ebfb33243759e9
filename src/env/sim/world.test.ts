import { describe, expect, it } from 'vitest';
import { isTesseraError } from '../../util/errors.js';
import { runWorkload } from './testdata/workload.js';
import { SimWorld } from './world.js';

describe('SimWorld determinism', () => {
  it('gives the same digest for the same seed and a different one for another seed', async () => {
    const first = await runWorkload(42, new SimWorld({ seed: 42 }));
    const second = await runWorkload(42, new SimWorld({ seed: 42 }));
    const other = await runWorkload(43, new SimWorld({ seed: 43 }));
    // The workload must be nontrivial for the comparison to mean anything.
    expect(first.eventsExecuted).toBeGreaterThan(2_000);
    expect(first.recentTrace().length).toBeGreaterThan(0);
    expect(second.digest()).toBe(first.digest());
    expect(second.eventsExecuted).toBe(first.eventsExecuted);
    expect(second.recentTrace()).toEqual(first.recentTrace());
    expect(other.digest()).not.toBe(first.digest());
    // The server's disk went through a crash and kept the same bytes in both runs.
    const disk1 = first.node('s1').disk.snapshot().get('/data/log');
    const disk2 = second.node('s1').disk.snapshot().get('/data/log');
    expect(disk1).toBeDefined();
    expect(disk2).toEqual(disk1);
  });

  it('is fast enough for thousands of messages', async () => {
    const world = new SimWorld({ seed: 7 });
    const started = process.hrtime.bigint();
    await runWorkload(7, world);
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    expect(world.eventsExecuted).toBeGreaterThan(2_000);
    expect(elapsedMs).toBeLessThan(5_000);
  });

  it('forks randomness per purpose: scenario draws do not shift node draws', async () => {
    const draws = async (scenarioDraws: number): Promise<number[]> => {
      const world = new SimWorld({ seed: 5 });
      for (let i = 0; i < scenarioDraws; i++) world.random.uint32();
      const node = world.addNode('n1');
      return [node.env.random.uint32(), node.env.random.uint32()];
    };
    expect(await draws(0)).toEqual(await draws(10));
  });
});

describe('SimWorld running', () => {
  it('runs events in time order and jumps virtual time', async () => {
    const world = new SimWorld({ seed: 1 });
    const seen: string[] = [];
    world.after(30, () => seen.push(`c@${world.nowMs()}`));
    world.after(10, () => seen.push(`a@${world.nowMs()}`));
    world.after(10, () => seen.push(`b@${world.nowMs()}`));
    const result = await world.run();
    expect(seen).toEqual(['a@10', 'b@10', 'c@30']);
    expect(result).toEqual({ events: 3, stopped: 'idle' });
  });

  it('stops at untilMs and moves the clock there', async () => {
    const world = new SimWorld({ seed: 1 });
    let fired = 0;
    world.after(50, () => fired++);
    world.after(150, () => fired++);
    const result = await world.run({ untilMs: 100 });
    expect(result.stopped).toBe('until');
    expect(fired).toBe(1);
    expect(world.nowMs()).toBe(100);
    await world.run();
    expect(fired).toBe(2);
  });

  it('runUntil says whether the predicate came true within the timeout', async () => {
    const world = new SimWorld({ seed: 1 });
    const env = world.addNode('n1').env;
    let ticks = 0;
    env.timers.every(10, () => ticks++);
    expect(await world.runUntil(() => ticks >= 5, { timeoutMs: 1_000 })).toBe(true);
    expect(world.nowMs()).toBe(50);
    expect(await world.runUntil(() => ticks >= 1_000, { timeoutMs: 100 })).toBe(false);
    expect(world.nowMs()).toBe(150);
  });

  it('raises SIMULATION_FAILED past eventsPerRunMax', async () => {
    const world = new SimWorld({ seed: 1, eventsPerRunMax: 100 });
    world.addNode('n1').env.timers.every(1, () => {});
    const error = await world.run().catch((e: unknown) => e);
    expect(isTesseraError(error, 'SIMULATION_FAILED')).toBe(true);
  });

  it('settle runs the world until a node-side promise settles', async () => {
    const world = new SimWorld({ seed: 1 });
    const env = world.addNode('n1').env;
    await world.settle(env.timers.sleep(25));
    expect(world.nowMs()).toBe(25);
    const never = new Promise<void>(() => {});
    const error = await world.settle(never, { timeoutMs: 10 }).catch((e: unknown) => e);
    expect(isTesseraError(error, 'DEADLINE_EXCEEDED')).toBe(true);
  });

  it('drains promise continuations before the next event', async () => {
    const world = new SimWorld({ seed: 1 });
    const env = world.addNode('n1').env;
    const order: string[] = [];
    env.timers.after(1, () => {
      void (async () => {
        await null;
        await null;
        order.push('continuation of first');
      })();
    });
    env.timers.after(1, () => order.push('second'));
    await world.run();
    expect(order).toEqual(['continuation of first', 'second']);
  });
});

describe('SimWorld nodes', () => {
  it('crash drops old-incarnation timers and never settles their promises', async () => {
    const world = new SimWorld({ seed: 3 });
    const node = world.addNode('n1');
    const env1 = node.env;
    let timerFired = false;
    let sleepSettled = false;
    let diskSettled = false;
    env1.timers.after(10, () => (timerFired = true));
    env1.timers.sleep(10).finally(() => (sleepSettled = true));
    env1.fs
      .writeFile('/x', new Uint8Array([1]), { sync: true })
      .finally(() => (diskSettled = true));
    node.crash();
    expect(node.alive).toBe(false);
    expect(node.incarnation).toBe(2);
    await world.run({ untilMs: 1_000 });
    expect(timerFired).toBe(false);
    expect(sleepSettled).toBe(false);
    expect(diskSettled).toBe(false);
    // New timers of the dead incarnation are inert too.
    let late = false;
    env1.timers.after(1, () => (late = true));
    await world.run({ untilMs: 2_000 });
    expect(late).toBe(false);
    expect(node.disk.snapshot().has('/x')).toBe(false);
  });

  it('restart runs main again with a fresh Env on the same disk', async () => {
    const world = new SimWorld({ seed: 3 });
    const node = world.addNode('n1');
    const boots: number[] = [];
    const envs = new Set<unknown>();
    node.start(async (env) => {
      envs.add(env);
      const old = (await env.fs.exists('/boots'))
        ? await env.fs.readFile('/boots')
        : new Uint8Array(0);
      const next = new Uint8Array([...old, old.length + 1]);
      await env.fs.writeFile('/boots.tmp', next, { sync: true });
      await env.fs.rename('/boots.tmp', '/boots');
      await env.fs.syncDir('/');
      boots.push(next.length);
    });
    await world.run();
    node.restart();
    await world.run();
    world.restart('n1');
    await world.run();
    expect(boots).toEqual([1, 2, 3]);
    expect(envs.size).toBe(3);
    expect(node.incarnation).toBe(3);
  });

  it('records a throwing node callback and crashes the node by default', async () => {
    const world = new SimWorld({ seed: 3 });
    const node = world.addNode('n1');
    let laterFired = false;
    node.env.timers.after(5, () => {
      throw new Error('boom');
    });
    node.env.timers.after(10, () => (laterFired = true));
    await world.run();
    expect(world.nodeErrors).toHaveLength(1);
    expect(world.nodeErrors[0]!.node).toBe('n1');
    expect(String(world.nodeErrors[0]!.error)).toContain('boom');
    expect(node.alive).toBe(false);
    expect(laterFired).toBe(false);
    expect(world.recentTrace().some((l) => l.includes('error n1#1 Error: boom'))).toBe(true);
  });

  it('records a rejected async main and can fail the run instead', async () => {
    const world = new SimWorld({ seed: 3, onNodeError: 'fail' });
    world.addNode('n1').start(async (env) => {
      await env.timers.sleep(1);
      throw new Error('async boom');
    });
    await expect(world.run()).rejects.toThrow('async boom');
    expect(world.nodeErrors).toHaveLength(1);
  });

  it("'record' keeps the node running", async () => {
    const world = new SimWorld({ seed: 3, onNodeError: 'record' });
    const node = world.addNode('n1');
    node.env.timers.after(1, () => {
      throw new Error('ignored');
    });
    await world.run();
    expect(world.nodeErrors).toHaveLength(1);
    expect(node.alive).toBe(true);
  });

  it('rejects duplicate and malformed node names', () => {
    const world = new SimWorld({ seed: 1 });
    world.addNode('n1');
    expect(() => world.addNode('n1')).toThrow(/already exists/);
    expect(() => world.addNode('a:b')).toThrow(/bad node name/);
    expect(() => world.partition(['n1'], ['nope'])).toThrow(/no node named/);
  });
});
