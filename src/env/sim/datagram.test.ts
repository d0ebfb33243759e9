import { describe, expect, it } from 'vitest';
import type { Address, DatagramSocket } from '../types.js';
import { isTesseraError } from '../../util/errors.js';
import type { NetworkFaults } from './faults.js';
import { SimWorld } from './world.js';

const messagesCount = 4_000;

/** Sends numbered datagrams a→b, one every 0.1 ms, and returns the numbers b received, in order. */
async function exchange(seed: number, faults: Partial<NetworkFaults>): Promise<number[]> {
  const world = new SimWorld({ seed, network: faults });
  const a = world.addNode('a').env;
  const b = world.addNode('b').env;
  const sa = await world.settle(a.net.bindDatagram({ host: 'a', port: 5000 }));
  const sb = await world.settle(b.net.bindDatagram({ host: 'b', port: 5000 }));
  const received: number[] = [];
  sb.setHandler((data, from) => {
    expect(from).toEqual({ host: 'a', port: 5000 });
    received.push(new DataView(data.buffer, data.byteOffset).getUint32(0));
  });
  for (let i = 0; i < messagesCount; i++) {
    const data = new Uint8Array(4);
    new DataView(data.buffer).setUint32(0, i);
    sa.send({ host: 'b', port: 5000 }, data);
    await world.runFor(0.1);
  }
  await world.run();
  return received;
}

function countInversions(received: number[]): number {
  let inversions = 0;
  let highest = -1;
  for (const n of received) {
    if (n < highest) inversions++;
    highest = Math.max(highest, n);
  }
  return inversions;
}

/** Fewest messages that must be moved to restore send order: n minus the longest increasing run. */
function displaced(received: number[]): number {
  const tails: number[] = [];
  for (const n of received) {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tails[mid]! < n) lo = mid + 1;
      else hi = mid;
    }
    tails[lo] = n;
  }
  return received.length - tails.length;
}

describe('simulated datagrams', () => {
  it('without faults, arrive once each and in order', async () => {
    const received = await exchange(1, {});
    expect(received).toEqual(Array.from({ length: messagesCount }, (_, i) => i));
  });

  it('are lost at lossRate', async () => {
    const received = await exchange(2, { lossRate: 0.1 });
    const lost = messagesCount - new Set(received).size;
    expect(lost / messagesCount).toBeGreaterThan(0.08);
    expect(lost / messagesCount).toBeLessThan(0.12);
    expect(received.length).toBe(new Set(received).size);
    expect(countInversions(received)).toBe(0);
  });

  it('are duplicated at duplicateRate', async () => {
    const received = await exchange(3, { duplicateRate: 0.05 });
    const duplicates = received.length - new Set(received).size;
    expect(new Set(received).size).toBe(messagesCount);
    expect(duplicates / messagesCount).toBeGreaterThan(0.035);
    expect(duplicates / messagesCount).toBeLessThan(0.065);
  });

  it('are reordered at reorderRate', async () => {
    const received = await exchange(4, { reorderRate: 0.1 });
    expect(new Set(received).size).toBe(messagesCount);
    expect(received.length).toBe(messagesCount);
    // Each held-back message is overtaken by later ones: about reorderRate of all are out of place.
    expect(countInversions(received)).toBeGreaterThan(0);
    const moved = displaced(received);
    expect(moved / messagesCount).toBeGreaterThan(0.07);
    expect(moved / messagesCount).toBeLessThan(0.13);
  });

  it('are dropped across a partition and flow again after heal', async () => {
    const world = new SimWorld({ seed: 5 });
    const a = world.addNode('a').env;
    const b = world.addNode('b').env;
    const sa = await world.settle(a.net.bindDatagram({ host: 'a', port: 1 }));
    const sb = await world.settle(b.net.bindDatagram({ host: 'b', port: 1 }));
    const got: number[] = [];
    sb.setHandler((data) => got.push(data[0]!));
    const to: Address = { host: 'b', port: 1 };
    world.partitionOneWay(['a'], ['b']);
    sa.send(to, new Uint8Array([1]));
    await world.run();
    world.heal();
    sa.send(to, new Uint8Array([2]));
    await world.run();
    expect(got).toEqual([2]);
  });

  it('bind rejects a taken port; close frees it; unheard messages vanish quietly', async () => {
    const world = new SimWorld({ seed: 6 });
    const a = world.addNode('a').env;
    const b = world.addNode('b').env;
    const s1 = await world.settle(a.net.bindDatagram({ host: 'a', port: 1 }));
    const taken = await world
      .settle(a.net.bindDatagram({ host: 'a', port: 1 }))
      .catch((e: unknown) => e);
    expect(isTesseraError(taken, 'ADDRESS_IN_USE')).toBe(true);
    s1.send({ host: 'b', port: 99 }, new Uint8Array([1]));
    await world.settle(s1.close());
    const again: DatagramSocket = await world.settle(a.net.bindDatagram({ host: 'a', port: 1 }));
    expect(again.address).toEqual({ host: 'a', port: 1 });
    const sb = await world.settle(b.net.bindDatagram({ host: 'b', port: 0 }));
    expect(sb.address.port).toBe(49152);
    expect(() => again.send({ host: 'b', port: 1 }, new Uint8Array(70_000))).toThrow(/exceeds/);
    await world.run();
  });

  it('a crashed node stops receiving; its socket is gone', async () => {
    const world = new SimWorld({ seed: 7 });
    const a = world.addNode('a').env;
    const nodeB = world.addNode('b');
    const sa = await world.settle(a.net.bindDatagram({ host: 'a', port: 1 }));
    const sb = await world.settle(nodeB.env.net.bindDatagram({ host: 'b', port: 1 }));
    let got = 0;
    sb.setHandler(() => got++);
    sa.send({ host: 'b', port: 1 }, new Uint8Array([1]));
    nodeB.crash();
    await world.run();
    expect(got).toBe(0);
    nodeB.restart();
    await world.settle(nodeB.env.net.bindDatagram({ host: 'b', port: 1 }));
  });
});
