import { describe, expect, it } from 'vitest';
import { SimWorld, type SimNode } from '../env/sim/index.js';
import { equalBytes, utf8 } from '../util/bytes.js';
import { isTesseraError } from '../util/errors.js';
import type { Prng } from '../util/prng.js';
import { readLog, recordBytes, recordBytesMax } from './log/index.js';
import { Wal, groupBytesMax } from './wal.js';
import { codeOf } from '../util/testing/code-of.js';

const path = '/wal/000001.log';
const crashSeedsCount = 200;
const faultSeedsCount = 100;

async function sim(seed = 1) {
  const world = new SimWorld({ seed });
  const node = world.addNode('n1');
  const run = <T>(p: Promise<T>): Promise<T> => world.settle(p, { timeoutMs: 60_000 });
  await run(node.env.fs.mkdir('/wal'));
  await run(node.env.fs.syncDir('/'));
  return { world, node, run };
}

function payloadOf(i: number, prng: Prng): Uint8Array {
  const body = utf8(`record-${i}:`);
  const out = new Uint8Array(body.length + prng.between(0, 60));
  out.set(body);
  out.fill(0x61 + (i % 26), body.length);
  return out;
}

/** The durable length of the WAL file on the simulated disk. */
function durableLength(node: SimNode): number {
  return node.disk.durableSnapshot().get(path)?.length ?? 0;
}

function expectPayloads(records: readonly Uint8Array[], payloads: readonly Uint8Array[]): void {
  expect(records.length).toBe(payloads.length);
  records.forEach((r, i) => expect(equalBytes(r, payloads[i]!)).toBe(true));
}

describe('Wal, sync always', () => {
  it('reports to onSync the time a group took to become durable, its write included', async () => {
    const { node, run } = await sim();
    // Fixed latencies: every write and metadata op 200 µs, every fsync 700 µs. An O_DSYNC append
    // is a write and its fsync (900 µs); the fsync call after it only a metadata op.
    node.disk.setFaults({
      minLatencyMicros: 200,
      meanLatencyMicros: 200,
      maxLatencyMicros: 200,
      meanSyncLatencyMicros: 700,
      maxSyncLatencyMicros: 700,
    });
    const wal = await run(Wal.create(node.env, path));
    const heard: number[] = [];
    wal.onSync = (micros) => heard.push(micros);
    await run(wal.append(utf8('one')));
    await run(Promise.all([wal.append(utf8('two')), wal.append(utf8('three'))]));
    expect(heard.length).toBe(wal.syncCount);
    expect(heard.length).toBeGreaterThanOrEqual(2);
    for (const micros of heard) expect(micros).toBeGreaterThanOrEqual(900);
  });

  it('groups 100 concurrent appends under one or two fsyncs, all durable', async () => {
    const { node, run } = await sim();
    const wal = await run(Wal.create(node.env, path));
    const payloads = Array.from({ length: 100 }, (_, i) => utf8(`value ${i}`));
    const ends: number[] = [];
    let end = 0;
    for (const p of payloads) ends.push((end += recordBytes(p.length)));
    const resolved: number[] = [];
    const appends = payloads.map((p, i) =>
      wal.append(p).then(() => {
        // Durable on the simulated disk, not merely written, when the append resolves.
        expect(durableLength(node)).toBeGreaterThanOrEqual(ends[i]!);
        resolved.push(i);
      }),
    );
    await run(Promise.all(appends));
    expect(wal.syncCount).toBeLessThanOrEqual(2);
    expect(resolved).toEqual(payloads.map((_, i) => i));
    expect(wal.size).toBe(end);
    expect(wal.durableSize).toBe(end);
    await run(wal.close());
    expectPayloads((await run(readLog(node.env.fs, path))).records, payloads);
  });

  it('covers appends that arrive during an fsync with one next fsync', async () => {
    const { world, node, run } = await sim(2);
    const wal = await run(Wal.create(node.env, path));
    const payloads: Uint8Array[] = [];
    const done: Promise<void>[] = [];
    // 300 appends spread over 30 ms of virtual time; an fsync takes about 1 ms.
    const driver = (async () => {
      for (let i = 0; i < 300; i++) {
        if (world.random.chance(0.7)) await node.env.timers.sleep(world.random.float() * 0.2);
        const p = payloadOf(i, world.random);
        payloads.push(p);
        const end = wal.size;
        done.push(
          wal.append(p).then(() => {
            expect(durableLength(node)).toBeGreaterThan(end);
          }),
        );
      }
    })();
    await run(driver);
    await run(Promise.all(done));
    expect(wal.syncCount).toBeGreaterThan(3);
    expect(wal.syncCount).toBeLessThan(100);
    await run(wal.close());
    expectPayloads((await run(readLog(node.env.fs, path))).records, payloads);
  });

  it('splits queued appends into groups of at most groupBytesMax', async () => {
    const { node, run } = await sim();
    const wal = await run(Wal.create(node.env, path));
    const mib = new Uint8Array(1024 * 1024).fill(1);
    // Three framed MiB records fit in 4 MiB, four do not: 10 records make groups of 3, 3, 3, 1.
    expect(3 * recordBytes(mib.length)).toBeLessThanOrEqual(groupBytesMax);
    expect(4 * recordBytes(mib.length)).toBeGreaterThan(groupBytesMax);
    await run(Promise.all(Array.from({ length: 10 }, () => wal.append(mib))));
    expect(wal.syncCount).toBe(4);
    await run(wal.close());
    expect((await run(readLog(node.env.fs, path))).records.length).toBe(10);
  });

  it('copies the payload, so the caller may reuse its buffer at once', async () => {
    const { node, run } = await sim();
    const wal = await run(Wal.create(node.env, path));
    const buf = utf8('original');
    const done = wal.append(buf);
    buf.fill(0x7a);
    await run(done);
    await run(wal.close());
    expect((await run(readLog(node.env.fs, path))).records).toEqual([utf8('original')]);
  });

  it('refuses an oversized record without failing, and appends after close', async () => {
    const { node, run } = await sim();
    const wal = await run(Wal.create(node.env, path));
    expect(await codeOf(wal.append(new Uint8Array(recordBytesMax + 1)))).toBe('INVALID_ARGUMENT');
    await run(wal.append(utf8('fine')));
    const queued = wal.append(utf8('queued before close'));
    const closed = wal.close();
    expect(await codeOf(wal.append(utf8('late')))).toBe('IO_ERROR');
    expect(await codeOf(wal.sync())).toBe('IO_ERROR');
    await run(Promise.all([queued, closed]));
    await run(wal.close()); // twice is fine
    expect((await run(readLog(node.env.fs, path))).records).toEqual([
      utf8('fine'),
      utf8('queued before close'),
    ]);
  });

  it('sync() with nothing queued forces one fsync; close() with nothing to sync needs none', async () => {
    const { node, run } = await sim();
    const wal = await run(Wal.create(node.env, path));
    await run(wal.sync());
    expect(wal.syncCount).toBe(1);
    await run(wal.close());
    expect(wal.syncCount).toBe(1);
  });

  it('rejects every waiter of a failed group and refuses appends afterwards', async () => {
    for (const fault of ['writeErrorRate', 'syncErrorRate'] as const) {
      const { world, node, run } = await sim(3);
      const wal = await run(Wal.create(node.env, path));
      await run(wal.append(utf8('durable')));
      world.setDiskFaults('n1', { [fault]: 1 });
      const group = [wal.append(utf8('a')), wal.append(utf8('b')), wal.append(utf8('c'))];
      const codes = await run(Promise.all(group.map(codeOf)));
      expect(codes).toEqual(['IO_ERROR', 'IO_ERROR', 'IO_ERROR']);
      world.setDiskFaults('n1', { [fault]: 0 });
      const refused = await wal.append(utf8('after')).catch((e: unknown) => e);
      expect(isTesseraError(refused, 'IO_ERROR')).toBe(true);
      expect((refused as Error).message).toMatch(/failed earlier/);
      expect((refused as Error).cause).toBeDefined();
      expect(await codeOf(wal.sync())).toBe('IO_ERROR');
      // close still closes the file, and says that not everything is durable.
      expect(await codeOf(run(wal.close()))).toBe('IO_ERROR');
      node.restart();
      const read = await run(readLog(node.env.fs, path));
      expect(read.records[0]).toEqual(utf8('durable'));
    }
  });
});

describe('Wal, sync interval', () => {
  it('makes appends wait for their write once more than intervalQueueBytesMax are queued', async () => {
    const { world, node, run } = await sim(5);
    const wal = await run(Wal.create(node.env, path, { sync: 'interval', intervalMs: 1000 }));
    const settled: boolean[] = [];
    const mib = new Uint8Array(1024 * 1024);
    const appends = Array.from({ length: 6 }, (_, i) => {
      settled[i] = false;
      return wal.append(mib).then(() => {
        settled[i] = true;
      });
    });
    await Promise.resolve();
    await Promise.resolve();
    // Four MiB fit the queue and resolved at once; the rest wait for the disk.
    expect(settled).toEqual([true, true, true, false, false, false]);
    await run(Promise.all(appends));
    await world.runFor(1);
    expect(wal.size).toBe(recordBytes(mib.length) * 6);
    await run(wal.close());
  });

  it('resolves appends once queued, writes them soon, and fsyncs on the timer only when there is work', async () => {
    const { world, node, run } = await sim(4);
    const wal = await run(Wal.create(node.env, path, { sync: 'interval', intervalMs: 10 }));
    await run(Promise.all([wal.append(utf8('a')), wal.append(utf8('b'))]));
    expect(wal.syncCount).toBe(0);
    await world.runFor(1); // the background write lands

    expect(wal.size).toBe(recordBytes(1) * 2);
    expect(wal.durableSize).toBe(0);
    expect(durableLength(node)).toBe(0);
    await world.runFor(15);
    expect(wal.syncCount).toBe(1);
    expect(wal.durableSize).toBe(wal.size);
    expect(durableLength(node)).toBe(wal.size);
    await world.runFor(100); // idle: no needless fsyncs
    expect(wal.syncCount).toBe(1);
    await run(wal.append(utf8('c')));
    await run(wal.sync()); // forced
    expect(wal.syncCount).toBe(2);
    expect(durableLength(node)).toBe(wal.size);
    await run(wal.append(utf8('d')));
    await run(wal.close()); // fsyncs what is not durable yet
    expect(wal.syncCount).toBe(3);
    expect(durableLength(node)).toBe(wal.size);
    await world.runFor(100); // the timer is gone
    expect(wal.syncCount).toBe(3);
    expect((await run(readLog(node.env.fs, path))).records.length).toBe(4);
  });

  it('sync() covers appends still queued when it is called', async () => {
    const { node, run } = await sim(5);
    const wal = await run(Wal.create(node.env, path, { sync: 'interval', intervalMs: 1000 }));
    const appends = Array.from({ length: 20 }, (_, i) => wal.append(utf8(`r${i}`)));
    await run(wal.sync());
    expect(durableLength(node)).toBe(20 * recordBytes(2) + 10 * 1); // r10..r19 are 3 bytes
    expect(wal.syncCount).toBe(1);
    await run(Promise.all(appends));
    await run(wal.close());
  });

  it('rejects a bad interval', async () => {
    const { node, run } = await sim();
    for (const intervalMs of [0, -5, NaN, Infinity]) {
      expect(await codeOf(run(Wal.create(node.env, path, { sync: 'interval', intervalMs })))).toBe(
        'INVALID_ARGUMENT',
      );
    }
  });
});

describe('Wal crash recovery in the simulator', () => {
  /**
   * Several lifetimes of one WAL: each opens it (create, then openForAppend at the valid length
   * recovered), appends at random times and crashes at a random time. After each restart every
   * append that resolved must be there, in order, after everything recovered before, and
   * nothing else but a prefix of the unacknowledged ones. Finally the log must take appends
   * again and read back clean.
   */
  async function crashRun(seed: number, faults: boolean) {
    const { world, node, run } = await sim(seed);
    const stats = { acked: 0, unackedKept: 0, torn: 0 };
    let recovered: Uint8Array[] = [];
    let validLength = 0;
    for (let lifetime = 0; lifetime < 3; lifetime++) {
      const wal = await run(
        lifetime === 0
          ? Wal.create(node.env, path)
          : Wal.openForAppend(node.env, path, validLength),
      );
      if (faults) world.setDiskFaults('n1', { writeErrorRate: 0.02, syncErrorRate: 0.05 });
      const payloads: Uint8Array[] = [];
      const acked: number[] = [];
      const count = world.random.between(1, 60);
      void (async () => {
        for (let i = 0; i < count; i++) {
          if (world.random.chance(0.6)) await node.env.timers.sleep(world.random.float() * 0.5);
          const p = payloadOf(i, world.random);
          payloads.push(p);
          wal.append(p).then(
            () => acked.push(i),
            () => undefined,
          );
        }
      })();
      world.after(world.random.float() * 30, () => world.crash('n1'), 'crash');
      await world.run();
      expect(node.alive).toBe(false);

      node.restart();
      if (faults) world.setDiskFaults('n1', { writeErrorRate: 0, syncErrorRate: 0 });
      const read = await run(readLog(node.env.fs, path));
      // Acknowledged appends resolve in order, so they are a prefix of the issued ones.
      expect(acked).toEqual(acked.map((_, i) => i));
      const kept = read.records.length - recovered.length;
      expect(kept).toBeGreaterThanOrEqual(acked.length);
      expect(kept).toBeLessThanOrEqual(payloads.length);
      expectPayloads(read.records, [...recovered, ...payloads.slice(0, kept)]);
      stats.acked += acked.length;
      stats.unackedKept += kept - acked.length;
      if (read.tornTail) stats.torn++;
      recovered = read.records;
      validLength = read.validLength;
    }
    const wal = await run(Wal.openForAppend(node.env, path, validLength));
    await run(wal.append(utf8('last')));
    await run(wal.close());
    const again = await run(readLog(node.env.fs, path));
    expect(again.tornTail).toBe(false);
    expectPayloads(again.records, [...recovered, utf8('last')]);
    return stats;
  }

  it(`keeps every acknowledged append across crashes (${crashSeedsCount} seeds)`, async () => {
    const totals = { acked: 0, unackedKept: 0, torn: 0 };
    for (let seed = 0; seed < crashSeedsCount; seed++) {
      const r = await crashRun(seed, false);
      totals.acked += r.acked;
      totals.unackedKept += r.unackedKept;
      totals.torn += r.torn;
    }
    // Each interesting outcome must occur, or the test proves nothing.
    expect(totals.acked).toBeGreaterThan(crashSeedsCount);
    expect(totals.unackedKept).toBeGreaterThan(10);
    expect(totals.torn).toBeGreaterThan(10);
  });

  it(`keeps every acknowledged append with disk faults injected (${faultSeedsCount} seeds)`, async () => {
    for (let seed = 1000; seed < 1000 + faultSeedsCount; seed++) await crashRun(seed, true);
  });
});
