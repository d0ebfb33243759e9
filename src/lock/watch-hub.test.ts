/**
 * WatchHub on its own: answers from history, parks until a match, times out, resyncs when its
 * bounded history no longer reaches back, and bounds parked polls per connection.
 */
import { describe, expect, it } from 'vitest';
import { SimWorld } from '../env/sim/index.js';
import { TesseraError } from '../util/errors.js';
import {
  WATCH_HISTORY_MAX,
  WATCH_POLLS_PER_CONNECTION_MAX,
  WatchHub,
  type WatchPollReply,
} from './watch-hub.js';

function hubOf(seed: number): { world: SimWorld; hub: WatchHub } {
  const world = new SimWorld({ seed });
  return { world, hub: new WatchHub(world.addNode('s').env, 10) };
}

describe('WatchHub', () => {
  it('answers from history, in log order, one entry at a time', async () => {
    const { world, hub } = hubOf(1);
    hub.notice({ type: 'applied', index: 11, events: [{ path: '/a', type: 'created' }] });
    hub.notice({ type: 'applied', index: 12, events: [{ path: '/b', type: 'created' }] });
    hub.notice({
      type: 'applied',
      index: 13,
      events: [
        { path: '/a', type: 'dataChanged' },
        { path: '/a', type: 'deleted' },
      ],
    });
    const poll = (afterIndex: number): Promise<WatchPollReply> =>
      world.settle(hub.poll({ path: '/a', kind: 'data', afterIndex, connection: 'c' }, 1_000));
    expect(await poll(10)).toMatchObject({ index: 11, events: [{ type: 'created' }] });
    expect(await poll(11)).toMatchObject({
      index: 13,
      events: [{ type: 'dataChanged' }, { type: 'deleted' }],
    });
    // Nothing more: parks, then times out at the last index heard of.
    expect(await poll(13)).toEqual({ index: 13, events: [], resync: false, timeout: true });
  });

  it('wakes a parked poll on a matching entry only', async () => {
    const { world, hub } = hubOf(2);
    const p = hub.poll({ path: '/a', kind: 'children', afterIndex: 10, connection: 'c' }, 5_000);
    let done: WatchPollReply | undefined;
    void p.then((r) => (done = r));
    hub.notice({ type: 'applied', index: 11, events: [{ path: '/a', type: 'dataChanged' }] });
    await world.runFor(10);
    expect(done).toBeUndefined();
    hub.notice({ type: 'applied', index: 12, events: [{ path: '/a', type: 'childrenChanged' }] });
    expect(await world.settle(p)).toMatchObject({ index: 12, timeout: false });
    expect(hub.parkedCount).toBe(0);
  });

  it('asks for a resync once the history no longer reaches back', async () => {
    const { world, hub } = hubOf(3);
    for (let i = 0; i <= WATCH_HISTORY_MAX; i++) {
      hub.notice({ type: 'applied', index: 11 + i, events: [{ path: '/x', type: 'dataChanged' }] });
    }
    const r = await world.settle(
      hub.poll({ path: '/a', kind: 'data', afterIndex: 10, connection: 'c' }, 1_000),
    );
    expect(r).toMatchObject({ resync: true, index: hub.lastIndex });
    hub.notice({ type: 'restored', index: 50_000 });
    const after = await world.settle(
      hub.poll({ path: '/a', kind: 'data', afterIndex: 20_000, connection: 'c' }, 1_000),
    );
    expect(after).toMatchObject({ resync: true, index: 50_000 });
  });

  it('keeps exactly the last WATCH_HISTORY_MAX events as it wraps around', async () => {
    const { world, hub } = hubOf(5);
    // Two and a half times around the ring: event i is at index 11 + i, on path /p(i % 7).
    const total = WATCH_HISTORY_MAX * 2 + WATCH_HISTORY_MAX / 2;
    for (let i = 0; i < total; i++) {
      hub.notice({
        type: 'applied',
        index: 11 + i,
        events: [{ path: `/p${i % 7}`, type: 'dataChanged' }],
      });
    }
    const poll = (path: string, afterIndex: number) =>
      world.settle(hub.poll({ path, kind: 'data', afterIndex, connection: 'c' }, 1_000));
    const oldestKept = 11 + total - WATCH_HISTORY_MAX;
    // Just before the oldest kept event: answered from the history, not resynced.
    const first = await poll(`/p${(oldestKept - 11) % 7}`, oldestKept - 1);
    expect(first).toMatchObject({ index: oldestKept, resync: false });
    // The first match after an index is the next event on that path, wherever it sits.
    const mid = oldestKept + 1000;
    expect(await poll(`/p${(mid - 11) % 7}`, mid - 3)).toMatchObject({ index: mid });
    // One event older than the history: resync.
    expect(await poll('/p0', oldestKept - 2)).toMatchObject({ resync: true });
  });

  it('bounds parked polls per connection and frees them on abort', async () => {
    const { world, hub } = hubOf(4);
    const acs = Array.from({ length: WATCH_POLLS_PER_CONNECTION_MAX }, () => new AbortController());
    const parked = acs.map((ac) =>
      hub.poll({ path: '/a', kind: 'data', afterIndex: 10, connection: 'c' }, 60_000, ac.signal),
    );
    for (const p of parked) p.catch(() => undefined);
    const refused = await hub
      .poll({ path: '/a', kind: 'data', afterIndex: 10, connection: 'c' }, 60_000)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TesseraError);
    expect((refused as TesseraError).code).toBe('OVERLOADED');
    // Another connection is not affected.
    const other = hub.poll({ path: '/a', kind: 'data', afterIndex: 10, connection: 'd' }, 100);
    expect(await world.settle(other)).toMatchObject({ timeout: true });
    for (const ac of acs) ac.abort(new TesseraError('CONNECTION_CLOSED', 'gone'));
    await world.runFor(1);
    expect(hub.parkedCount).toBe(0);
  });
});
