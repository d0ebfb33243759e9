/**
 * Gossiper unit tests: the three-way exchange (SYN, ACK, ACK2), generations and versions, the
 * choice of peers, message bounds, and hostile input. Messages are delivered by hand through a
 * tiny synchronous network so that every step's output can be checked.
 */
import { describe, expect, it } from 'vitest';
import { expectInvalid } from '../util/testing/expect-invalid.js';
import { Prng } from '../util/prng.js';
import {
  GOSSIP_APP_STATES_MAX,
  GOSSIP_DELTA_CHARS_MAX,
  GOSSIP_DELTAS_MAX,
  GOSSIP_DIGESTS_MAX,
  GOSSIP_KEY_CHARS_MAX,
  GOSSIP_VALUE_CHARS_MAX,
  Gossiper,
  type EndpointDelta,
  type GossipMessage,
  type GossipStep,
  type Outgoing,
} from './gossip.js';

const allAlive = (): boolean => true;

function gossiper(self: string, seeds: readonly string[], generation = 1, seed = 1): Gossiper {
  return new Gossiper({ self, generation, seeds, random: new Prng(seed) });
}

/** Delivers messages until none are left; returns every step, as [receiver, step]. */
function deliver(
  nodes: ReadonlyMap<string, Gossiper>,
  from: string,
  sends: readonly Outgoing[],
): [string, GossipStep][] {
  const steps: [string, GossipStep][] = [];
  const queue = sends.map((o) => ({ from, o }));
  for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
    const to = nodes.get(item.o.to);
    if (to === undefined) continue;
    const step = to.receive(item.from, item.o.message);
    steps.push([to.self, step]);
    for (const o of step.send) queue.push({ from: to.self, o });
  }
  return steps;
}

/** One round: every node (in the given order) ticks and its exchanges complete. */
function round(nodes: ReadonlyMap<string, Gossiper>): void {
  for (const [id, g] of nodes) deliver(nodes, id, g.tick(allAlive).send);
}

function cluster(...gs: Gossiper[]): Map<string, Gossiper> {
  return new Map(gs.map((g) => [g.self, g]));
}

/** Everything `g` knows, as plain data, to check that nothing changed. */
function snapshot(g: Gossiper): unknown {
  return g.endpoints().map((id) => {
    const s = g.state(id)!;
    return [id, s.heartbeat, [...s.app.entries()]];
  });
}

function only<K extends GossipMessage['kind']>(
  step: GossipStep,
  kind: K,
): Extract<GossipMessage, { kind: K }> {
  expect(step.send).toHaveLength(1);
  const message = step.send[0]!.message;
  expect(message.kind).toBe(kind);
  return message as Extract<GossipMessage, { kind: K }>;
}

const delta = (
  endpoint: string,
  generation: number,
  heartbeatVersion: number,
  app: [string, string, number][] = [],
): EndpointDelta => ({ endpoint, generation, heartbeatVersion, app });

describe('exchange', () => {
  it('two nodes converge: the joiner is learnt from its SYN, the seed from the seed’s SYN', () => {
    const a = gossiper('a', ['a']);
    const b = gossiper('b', ['a'], 1, 2);
    a.setAppState('status', 'normal');
    b.setAppState('status', 'joining');
    const nodes = cluster(a, b);

    // b knows nobody: its SYN (only its own digest) goes to the seed, which asks for b's state.
    const bTick = b.tick(allAlive);
    expect(bTick.send.map((o) => o.to)).toEqual(['a']);
    const steps = deliver(nodes, 'b', bTick.send);
    expect(steps.map(([to, s]) => [to, s.send.map((o) => o.message.kind)])).toEqual([
      ['a', ['ack']],
      ['b', ['ack2']],
      ['a', []],
    ]);
    expect(steps[2]![1].changed).toEqual(['b']);
    expect(a.state('b')!.app.get('status')!.value).toBe('joining');
    // Cassandra's SYN handler answers only about the digests it was sent.
    expect(b.state('a')).toBeUndefined();

    deliver(nodes, 'a', a.tick(allAlive).send);
    expect(b.state('a')!.app.get('status')!.value).toBe('normal');
    expect(a.endpoints()).toEqual(['a', 'b']);
    expect(b.endpoints()).toEqual(['a', 'b']);
    for (const id of ['a', 'b']) expect(a.state(id)).toEqual(b.state(id));
  });

  it('three nodes with one seed learn each other through the seed', () => {
    const s = gossiper('s', ['s'], 1, 1);
    const x = gossiper('x', ['s'], 1, 2);
    const y = gossiper('y', ['s'], 1, 3);
    for (const g of [s, x, y]) g.setAppState('status', `up-${g.self}`);
    const nodes = cluster(s, x, y);
    let rounds = 0;
    while (x.state('y') === undefined || y.state('x') === undefined) {
      round(nodes);
      rounds++;
      expect(rounds).toBeLessThan(10);
    }
    round(nodes); // heartbeats of the last round settle
    expect(x.state('y')!.app.get('status')!.value).toBe('up-y');
    expect(y.state('x')!.app.get('status')!.value).toBe('up-x');
    for (const g of [s, x, y]) expect(g.endpoints()).toEqual(['s', 'x', 'y']);
  });

  it('one counter versions the heartbeat and the application states', () => {
    const a = gossiper('a', []);
    a.setAppState('k1', 'v'); // 1
    a.setAppState('k2', 'v'); // 2
    a.tick(allAlive); // heartbeat 3
    a.setAppState('k1', 'w'); // 4
    const s = a.state('a')!;
    expect(s.heartbeat).toEqual({ generation: 1, version: 3 });
    expect(s.app.get('k1')).toEqual({ value: 'w', version: 4 });
    expect(s.app.get('k2')).toEqual({ value: 'v', version: 2 });
  });

  it('answers a SYN with only the entries newer than its digest, and asks for what it lacks', () => {
    const a = gossiper('a', []);
    a.setAppState('k1', 'one'); // 1
    a.setAppState('k2', 'two'); // 2
    a.setAppState('k3', 'three'); // 3
    const ack = only(
      a.receive('b', {
        kind: 'syn',
        digests: [
          { endpoint: 'a', generation: 1, maxVersion: 1 },
          { endpoint: 'b', generation: 7, maxVersion: 5 },
        ],
      }),
      'ack',
    );
    expect(ack.deltas).toEqual([
      delta('a', 1, 0, [
        ['k2', 'two', 2],
        ['k3', 'three', 3],
      ]),
    ]);
    // b is unknown: ask for all of it (maxVersion 0).
    expect(ack.requests).toEqual([{ endpoint: 'b', generation: 7, maxVersion: 0 }]);

    // A digest that is up to date gets nothing; the ACK is not sent at all.
    const inSync = a.receive('b', {
      kind: 'syn',
      digests: [{ endpoint: 'a', generation: 1, maxVersion: 3 }],
    });
    expect(inSync.send).toEqual([]);
  });

  it('answers an ACK’s requests with the entries newer than each request', () => {
    const a = gossiper('a', []);
    a.setAppState('k1', 'one');
    a.setAppState('k2', 'two');
    a.receive('c', { kind: 'ack2', deltas: [delta('c', 3, 9, [['k', 'v', 4]])] });
    const ack2 = only(
      a.receive('b', {
        kind: 'ack',
        deltas: [],
        requests: [
          { endpoint: 'a', generation: 1, maxVersion: 1 },
          { endpoint: 'c', generation: 3, maxVersion: 9 }, // nothing newer than 9
          { endpoint: 'zz', generation: 1, maxVersion: 0 }, // unknown
        ],
      }),
      'ack2',
    );
    expect(ack2.deltas).toEqual([delta('a', 1, 0, [['k2', 'two', 2]])]);
  });

  it('asks for the newer entries of an endpoint it is behind on', () => {
    const a = gossiper('a', []);
    a.receive('b', { kind: 'ack2', deltas: [delta('b', 1, 4, [['k', 'v', 2]])] });
    const ack = only(
      a.receive('b', { kind: 'syn', digests: [{ endpoint: 'b', generation: 1, maxVersion: 8 }] }),
      'ack',
    );
    expect(ack).toEqual({
      kind: 'ack',
      deltas: [],
      requests: [{ endpoint: 'b', generation: 1, maxVersion: 4 }],
    });
  });

  it('reports a heartbeat-only advance as heard, not changed', () => {
    const a = gossiper('a', []);
    const first = a.receive('b', { kind: 'ack2', deltas: [delta('b', 1, 1, [['k', 'v', 1]])] });
    expect(first).toMatchObject({ heard: ['b'], changed: ['b'], restarted: [] });
    const beat = a.receive('b', { kind: 'ack2', deltas: [delta('b', 1, 2)] });
    expect(beat).toMatchObject({ heard: ['b'], changed: [], restarted: [] });
    const stale = a.receive('b', { kind: 'ack2', deltas: [delta('b', 1, 2, [['k', 'old', 1]])] });
    expect(stale).toMatchObject({ heard: [], changed: [], restarted: [] });
    expect(a.state('b')!.app.get('k')!.value).toBe('v');
  });
});

describe('generations', () => {
  it('a restarted endpoint (higher generation) replaces the old state and is reported', () => {
    const a = gossiper('a', ['a']);
    const b1 = gossiper('b', ['a'], 100, 2);
    b1.setAppState('old', 'x');
    b1.setAppState('status', 'normal');
    deliver(cluster(a, b1), 'b', b1.tick(allAlive).send);
    expect(a.state('b')!.heartbeat.generation).toBe(100);

    const b2 = gossiper('b', ['a'], 101, 3);
    b2.setAppState('status', 'joining');
    const steps = deliver(cluster(a, b2), 'b', b2.tick(allAlive).send);
    const applied = steps.find(([to, s]) => to === 'a' && s.restarted.length > 0);
    expect(applied?.[1]).toMatchObject({ heard: ['b'], changed: ['b'], restarted: ['b'] });
    const s = a.state('b')!;
    expect(s.heartbeat).toEqual({ generation: 101, version: 2 });
    expect([...s.app.keys()]).toEqual(['status']); // 'old' went with the old generation
    expect(s.app.get('status')!.value).toBe('joining');
  });

  it('ignores lower-generation updates, and pushes the newer generation back', () => {
    const a = gossiper('a', []);
    a.receive('b', { kind: 'ack2', deltas: [delta('b', 5, 3, [['status', 'normal', 2]])] });
    const before = snapshot(a);
    const step = a.receive('c', {
      kind: 'ack2',
      deltas: [delta('b', 4, 99, [['status', 'stale', 98]])],
    });
    expect(step).toMatchObject({ heard: [], changed: [], restarted: [] });
    expect(snapshot(a)).toEqual(before);

    // A peer gossiping the old generation gets the whole newer state.
    const ack = only(
      a.receive('c', { kind: 'syn', digests: [{ endpoint: 'b', generation: 4, maxVersion: 99 }] }),
      'ack',
    );
    expect(ack.deltas).toEqual([delta('b', 5, 3, [['status', 'normal', 2]])]);
    expect(ack.requests).toEqual([]);
  });

  it('never lets a peer overwrite its own state, whatever the generation', () => {
    const a = gossiper('a', [], 10);
    a.setAppState('status', 'normal');
    const before = snapshot(a);
    for (const generation of [9, 10, 11]) {
      const step = a.receive('b', {
        kind: 'ack2',
        deltas: [delta('a', generation, 999, [['status', 'evil', 999]])],
      });
      expect(step.heard).toEqual([]);
      expect(snapshot(a)).toEqual(before);
    }
    // Nor asks for it: a newer version or generation of itself is not wanted.
    for (const digest of [
      { endpoint: 'a', generation: 10, maxVersion: 999 },
      { endpoint: 'a', generation: 11, maxVersion: 0 },
    ]) {
      expect(a.receive('b', { kind: 'syn', digests: [digest] }).send).toEqual([]);
    }
    // An older generation of itself is corrected with its whole state.
    const ack = only(
      a.receive('b', { kind: 'syn', digests: [{ endpoint: 'a', generation: 9, maxVersion: 50 }] }),
      'ack',
    );
    expect(ack.deltas).toEqual([delta('a', 10, 0, [['status', 'normal', 1]])]);
  });

  it('forget keeps a removed endpoint out until it comes back with a higher generation', () => {
    const a = gossiper('a', []);
    a.receive('b', { kind: 'ack2', deltas: [delta('b', 3, 5, [['status', 'left', 4]])] });
    a.forget('b');
    expect(a.endpoints()).toEqual(['a']);
    expect(a.state('b')).toBeUndefined();
    a.forget('nobody'); // unknown: nothing happens

    // Gossip still carrying generation 3 neither brings it back nor is asked for.
    const late = a.receive('c', { kind: 'ack2', deltas: [delta('b', 3, 6, [['status', 'x', 6]])] });
    expect(late.changed).toEqual([]);
    expect(a.state('b')).toBeUndefined();
    const syn = a.receive('c', {
      kind: 'syn',
      digests: [{ endpoint: 'b', generation: 3, maxVersion: 7 }],
    });
    expect(syn.send).toEqual([]);
    // It is also no longer gossiped to.
    for (let i = 0; i < 20; i++) expect(a.tick(allAlive).send).toEqual([]);

    const back = a.receive('c', {
      kind: 'ack2',
      deltas: [delta('b', 4, 1, [['status', 'up', 1]])],
    });
    expect(back.changed).toEqual(['b']);
    expect(a.state('b')!.heartbeat.generation).toBe(4);
    expectInvalid(() => a.forget('a'));
  });
});

describe('choice of peers', () => {
  it('a node that knows nobody SYNs a seed; a lone seed stays quiet', () => {
    const j = gossiper('j', ['s1', 's2']);
    const targets = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const step = j.tick(allAlive);
      expect(step.send).toHaveLength(1);
      targets.add(step.send[0]!.to);
    }
    expect([...targets].sort()).toEqual(['s1', 's2']);
    expect(gossiper('s', ['s']).tick(allAlive).send).toEqual([]);
  });

  it('adds a seed when the live peer chosen was not one, with probability seeds/(live+unreachable)', () => {
    const a = gossiper('a', ['s'], 1, 5);
    const peers = ['s', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8', 'p9'];
    a.receive('x', { kind: 'ack2', deltas: peers.map((p) => delta(p, 1, 1)) });
    let toSeed = 0;
    const ticks = 2000;
    for (let i = 0; i < ticks; i++) {
      const to = a.tick(allAlive).send.map((o) => o.to);
      expect(to.length === 1 || (to.length === 2 && to[1] === 's' && to[0] !== 's')).toBe(true);
      if (to.includes('s')) toSeed++;
    }
    // P(seed) = P(live pick is s) + P(not) * 1/10 = 0.1 + 0.9 * 0.1 = 0.19.
    expect(toSeed / ticks).toBeGreaterThan(0.15);
    expect(toSeed / ticks).toBeLessThan(0.23);
  });

  it('gossips to an unreachable endpoint with probability unreachable/(live+1)', () => {
    const a = gossiper('a', [], 1, 6);
    a.receive('x', { kind: 'ack2', deltas: ['l', 'd1', 'd2', 'd3'].map((p) => delta(p, 1, 1)) });
    const isAlive = (id: string): boolean => id === 'l';
    // 3 unreachable, 1 live: 3/2 >= 1, so every round.
    for (let i = 0; i < 50; i++) {
      const to = a.tick(isAlive).send.map((o) => o.to);
      expect(to[0]).toBe('l');
      expect(to).toHaveLength(2);
      expect(['d1', 'd2', 'd3']).toContain(to[1]);
    }
    // 1 unreachable, 3 live: 1/4 of the rounds.
    const b = gossiper('b', [], 1, 7);
    b.receive('x', { kind: 'ack2', deltas: ['l1', 'l2', 'l3', 'd'].map((p) => delta(p, 1, 1)) });
    let toDead = 0;
    for (let i = 0; i < 2000; i++) {
      if (b.tick((id) => id !== 'd').send.some((o) => o.to === 'd')) toDead++;
    }
    expect(toDead / 2000).toBeGreaterThan(0.2);
    expect(toDead / 2000).toBeLessThan(0.3);
  });

  it('is deterministic: the same seeds give the same steps', () => {
    const run = (): string => {
      const ids = ['n0', 'n1', 'n2', 'n3', 'n4'];
      const nodes = cluster(...ids.map((id, i) => gossiper(id, ['n0'], 1, 100 + i)));
      const log: unknown[] = [];
      for (let r = 0; r < 8; r++) {
        for (const [id, g] of nodes) {
          if (r === 3) g.setAppState('load', `${id}-${r}`);
          const step = g.tick(allAlive);
          log.push([id, step], deliver(nodes, id, step.send));
        }
      }
      return JSON.stringify(log);
    };
    const first = run();
    expect(first.length).toBeGreaterThan(1000);
    expect(run()).toBe(first);
  });
});

describe('bounds', () => {
  it('one endpoint’s whole state always fits in one message', () => {
    expect(GOSSIP_APP_STATES_MAX * (GOSSIP_KEY_CHARS_MAX + GOSSIP_VALUE_CHARS_MAX)).toBeLessThan(
      GOSSIP_DELTA_CHARS_MAX,
    );
  });

  it('limits its own application states', () => {
    const a = gossiper('a', []);
    expectInvalid(() => a.setAppState('k', 'x'.repeat(GOSSIP_VALUE_CHARS_MAX + 1)));
    expectInvalid(() => a.setAppState('k'.repeat(GOSSIP_KEY_CHARS_MAX + 1), 'v'));
    expectInvalid(() => a.setAppState('', 'v'));
    for (let i = 0; i < GOSSIP_APP_STATES_MAX; i++) a.setAppState(`k${i}`, 'v');
    expectInvalid(() => a.setAppState('one-too-many', 'v'));
    a.setAppState('k0', 'w'); // replacing is fine
    expect(a.state('a')!.app.size).toBe(GOSSIP_APP_STATES_MAX);
  });

  it('sends at most GOSSIP_DIGESTS_MAX digests, its own first, without repeats', () => {
    const a = gossiper('a', []);
    const count = GOSSIP_DIGESTS_MAX + 500;
    for (let start = 0; start < count; start += GOSSIP_DELTAS_MAX / 2) {
      const deltas: EndpointDelta[] = [];
      for (let i = start; i < Math.min(count, start + GOSSIP_DELTAS_MAX / 2); i++) {
        deltas.push(delta(`e${i}`, 1, 1));
      }
      a.receive('x', { kind: 'ack2', deltas });
    }
    expect(a.endpoints()).toHaveLength(count + 1);
    const syn = a.tick(allAlive).send[0]!.message;
    if (syn.kind !== 'syn') throw new Error('expected a SYN');
    expect(syn.digests).toHaveLength(GOSSIP_DIGESTS_MAX);
    expect(syn.digests[0]!.endpoint).toBe('a');
    expect(new Set(syn.digests.map((d) => d.endpoint)).size).toBe(GOSSIP_DIGESTS_MAX);
    // The next round leaves out different ones.
    const next = a.tick(allAlive).send[0]!.message;
    if (next.kind !== 'syn') throw new Error('expected a SYN');
    expect(next.digests.map((d) => d.endpoint)).not.toEqual(syn.digests.map((d) => d.endpoint));
  });

  it('trims deltas to GOSSIP_DELTA_CHARS_MAX by whole endpoints, which a peer then accepts', () => {
    const a = gossiper('a', []);
    const big = 'v'.repeat(GOSSIP_VALUE_CHARS_MAX);
    const endpoints = Array.from({ length: 200 }, (_, i) => `e${i}`);
    for (let i = 0; i < endpoints.length; i += 50) {
      a.receive('x', {
        kind: 'ack2',
        deltas: endpoints.slice(i, i + 50).map((e) => delta(e, 2, 3, [['tokens', big, 2]])),
      });
    }
    const ack = only(
      a.receive('z', {
        kind: 'syn',
        digests: endpoints.map((endpoint) => ({ endpoint, generation: 1, maxVersion: 0 })),
      }),
      'ack',
    );
    const chars = ack.deltas.reduce(
      (n, d) => n + d.app.reduce((m, e) => m + 6 + e[1].length, 0),
      0,
    );
    expect(ack.deltas.length).toBeGreaterThan(100);
    expect(ack.deltas.length).toBeLessThan(200);
    expect(chars).toBeLessThanOrEqual(GOSSIP_DELTA_CHARS_MAX);
    for (const d of ack.deltas) expect(d).toEqual(delta(d.endpoint, 2, 3, [['tokens', big, 2]]));
    const z = gossiper('z', []);
    expect(z.receive('a', ack).changed).toHaveLength(ack.deltas.length);
  });

  it('rejects messages past the bounds', () => {
    const a = gossiper('a', []);
    const digests = Array.from({ length: GOSSIP_DIGESTS_MAX + 1 }, (_, i) => ({
      endpoint: `e${i}`,
      generation: 1,
      maxVersion: 1,
    }));
    expectInvalid(() => a.receive('b', { kind: 'syn', digests }));
    expectInvalid(() => a.receive('b', { kind: 'ack', deltas: [], requests: digests }));
    const deltas = Array.from({ length: GOSSIP_DELTAS_MAX + 1 }, (_, i) => delta(`e${i}`, 1, 1));
    expectInvalid(() => a.receive('b', { kind: 'ack2', deltas }));
    const manyKeys = Array.from(
      { length: GOSSIP_APP_STATES_MAX + 1 },
      (_, i): [string, string, number] => [`k${i}`, 'v', i + 1],
    );
    expectInvalid(() => a.receive('b', { kind: 'ack2', deltas: [delta('e', 1, 1, manyKeys)] }));
    const huge = 'v'.repeat(GOSSIP_VALUE_CHARS_MAX);
    const tooMuch = Array.from({ length: 200 }, (_, i) => delta(`e${i}`, 1, 1, [['k', huge, 1]]));
    expectInvalid(() => a.receive('b', { kind: 'ack2', deltas: tooMuch }));
    expect(a.endpoints()).toEqual(['a']);
  });

  it('refuses a same-generation delta that would give an endpoint too many keys', () => {
    const a = gossiper('a', []);
    const half = (from: number): [string, string, number][] =>
      Array.from({ length: GOSSIP_APP_STATES_MAX }, (_, i) => [`k${from + i}`, 'v', from + i + 1]);
    a.receive('b', { kind: 'ack2', deltas: [delta('e', 1, 1, half(0))] });
    const step = a.receive('b', {
      kind: 'ack2',
      deltas: [delta('e', 1, 999, half(GOSSIP_APP_STATES_MAX))],
    });
    expect(step.heard).toEqual([]);
    expect(a.state('e')!.app.size).toBe(GOSSIP_APP_STATES_MAX);
    expect(a.state('e')!.heartbeat.version).toBe(1);
  });
});

describe('hostile input', () => {
  const good = delta('c', 1, 1, [['status', 'normal', 1]]);
  const garbage: unknown[] = [
    null,
    undefined,
    5,
    'syn',
    [],
    {},
    { kind: 'nope' },
    { kind: 'syn' },
    { kind: 'syn', digests: {} },
    { kind: 'syn', digests: [null] },
    { kind: 'syn', digests: [{ endpoint: '', generation: 1, maxVersion: 1 }] },
    { kind: 'syn', digests: [{ endpoint: 42, generation: 1, maxVersion: 1 }] },
    { kind: 'syn', digests: [{ endpoint: 'x'.repeat(257), generation: 1, maxVersion: 1 }] },
    { kind: 'syn', digests: [{ endpoint: 'c', generation: -1, maxVersion: 1 }] },
    { kind: 'syn', digests: [{ endpoint: 'c', generation: 1.5, maxVersion: 1 }] },
    { kind: 'syn', digests: [{ endpoint: 'c', generation: NaN, maxVersion: 1 }] },
    { kind: 'syn', digests: [{ endpoint: 'c', generation: Infinity, maxVersion: 1 }] },
    { kind: 'syn', digests: [{ endpoint: 'c', generation: '1', maxVersion: 1 }] },
    { kind: 'syn', digests: [{ endpoint: 'c', generation: 1, maxVersion: 2 ** 53 }] },
    {
      kind: 'syn',
      digests: [
        { endpoint: 'b', generation: 1, maxVersion: 1 },
        { endpoint: 'b', generation: 1, maxVersion: 2 },
      ],
    },
    {
      kind: 'syn',
      digests: [
        { endpoint: 'zz', generation: 1, maxVersion: 1 },
        { endpoint: 'zz', generation: 2, maxVersion: 1 },
      ],
    },
    { kind: 'ack', deltas: [] },
    { kind: 'ack', requests: [] },
    { kind: 'ack2' },
    { kind: 'ack2', deltas: [{ ...good, app: 'x' }] },
    { kind: 'ack2', deltas: [{ ...good, app: [['k', 'v']] }] },
    { kind: 'ack2', deltas: [{ ...good, app: [['k', 'v', 1, 2]] }] },
    { kind: 'ack2', deltas: [{ ...good, app: [[1, 'v', 1]] }] },
    { kind: 'ack2', deltas: [{ ...good, app: [['k', null, 1]] }] },
    { kind: 'ack2', deltas: [{ ...good, app: [['k', 'v', 0]] }] },
    { kind: 'ack2', deltas: [{ ...good, app: [['', 'v', 1]] }] },
    { kind: 'ack2', deltas: [{ ...good, app: [{ 0: 'k', 1: 'v', 2: 1, length: 3 }] }] },
    {
      kind: 'ack2',
      deltas: [
        {
          ...good,
          app: [
            ['k', 'v', 1],
            ['k', 'w', 2],
          ],
        },
      ],
    },
    { kind: 'ack2', deltas: [{ ...good, heartbeatVersion: -3 }] },
    { kind: 'ack2', deltas: [{ ...good, generation: undefined }] },
    // A valid delta followed by a bad one: nothing of the message may be applied.
    { kind: 'ack2', deltas: [good, { ...good, endpoint: 'd', app: [['k', 'v', -1]] }] },
    { kind: 'ack2', deltas: [good, good] },
    // Valid deltas with bad requests: still nothing applied.
    { kind: 'ack', deltas: [good], requests: [{ endpoint: 'a', generation: 1 }] },
    { kind: 'ack', deltas: [good, 7], requests: [] },
  ];

  it('throws INVALID_ARGUMENT for garbage and changes nothing', () => {
    const a = gossiper('a', ['s']);
    a.setAppState('status', 'normal');
    a.receive('b', { kind: 'ack2', deltas: [delta('b', 1, 2, [['status', 'normal', 1]])] });
    const before = snapshot(a);
    for (const message of garbage) {
      expectInvalid(() => a.receive('b', message as GossipMessage));
      expect(snapshot(a), JSON.stringify(message)).toEqual(before);
    }
    expectInvalid(() => a.receive('', { kind: 'ack2', deltas: [] }));
    expectInvalid(() => a.receive(7 as unknown as string, { kind: 'ack2', deltas: [] }));
    expectInvalid(() => a.receive('a', { kind: 'ack2', deltas: [] }));
    expect(snapshot(a)).toEqual(before);

    // Still works afterwards.
    expect(a.receive('b', { kind: 'ack2', deltas: [good] }).changed).toEqual(['c']);
  });

  it('rejects bad options', () => {
    expectInvalid(() => gossiper('', []));
    expectInvalid(() => gossiper('a', [], -1));
    expectInvalid(() => gossiper('a', [], 1.5));
    expectInvalid(() => gossiper('a', ['']));
  });

  it('hands out state snapshots that callers cannot use to change it', () => {
    const a = gossiper('a', []);
    a.setAppState('status', 'normal');
    const view = a.state('a')!;
    (view.app as Map<string, unknown>).set('status', { value: 'evil', version: 99 });
    expect(a.state('a')!.app.get('status')!.value).toBe('normal');
    expect(a.appState('a', 'status')).toEqual({ value: 'normal', version: 1 });
  });
});
