import { describe, expect, it } from 'vitest';
import type { Env, File, FileSystem } from '../env/index.js';
import { SimWorld, startWallMicrosDefault, type SimNode } from '../env/sim/index.js';
import { Mutation } from '../model/index.js';
import { fromUtf8, toHex, utf8 } from '../util/bytes.js';
import { TesseraError } from '../util/errors.js';
import { codeOf } from '../util/testing/code-of.js';
import { expectInvalid } from '../util/testing/expect-invalid.js';
import {
  decodeHint,
  encodeHint,
  frameHintRecord,
  HINT_WINDOW_MICROS_DEFAULT,
  HintStore,
  parseHintFileName,
  scanHintFile,
  type HintSend,
} from './hint-store.js';

const T = '127.0.0.1:7001';
const DIR = '/ring/hints';
const HOUR = 3_600_000_000;
const crashSeedsCount = 150;
/** When the tests' hints were made: the simulator's wall clock at time zero. */
const CREATED = startWallMicrosDefault;

function mutationOf(i: number): Mutation {
  const n = String(i).padStart(4, '0');
  return new Mutation(utf8(`row-${n}`)).put('f', 'q', `v${n}`, 1000 + i);
}

function rowOf(m: Mutation): number {
  return Number(fromUtf8(m.row).slice(4));
}

function recordBytesOf(i: number): number {
  return frameHintRecord(encodeHint({ table: 'kv', mutation: mutationOf(i), createdMicros: 0 }))
    .length;
}

/** A send that records the rows it delivered, optionally waiting or failing on the n-th call. */
function recorder(env: Env, options: { delayMs?: number; failAt?: number } = {}) {
  const rows: number[] = [];
  let calls = 0;
  const send: HintSend = async (table, m) => {
    expect(table).toBe('kv');
    calls++;
    if (calls === options.failAt) throw new TesseraError('CONNECTION_CLOSED', 'replica went away');
    if (options.delayMs !== undefined) await env.timers.sleep(options.delayMs);
    rows.push(rowOf(m));
  };
  return { rows, send };
}

async function setup(
  seed: number,
  options?: { maxBytesPerTarget?: number; segmentBytesMax?: number },
) {
  const world = new SimWorld({ seed });
  const node = world.addNode('n1');
  const run = <T>(p: Promise<T>): Promise<T> => world.settle(p);
  const store = await run(HintStore.open(node.env, DIR, options));
  const now = () => node.env.clock.nowMicros();
  return { world, node, run, store, now };
}

async function addAll(run: <T>(p: Promise<T>) => Promise<T>, store: HintStore, rows: number[]) {
  for (const i of rows) expect(await run(store.add(T, 'kv', mutationOf(i), CREATED))).toBe(true);
}

function hintFiles(node: SimNode): [string, Uint8Array][] {
  return [...node.disk.snapshot()]
    .filter(([path]) => path.startsWith(`${DIR}/`))
    .map(([path, bytes]) => [path.slice(DIR.length + 1), bytes]);
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

describe('hint payload and framing (docs/formats/hints.md)', () => {
  it('encodes the worked example byte for byte', () => {
    const m = new Mutation(utf8('r1')).put('f', 'q', 'v', 1000).deleteRow(999);
    const payload = encodeHint({ table: 'kv', mutation: m, createdMicros: 1_767_225_600_000_000 });
    expect(toHex(payload)).toBe(
      '01' +
        '0040204648470600' +
        '026b76' +
        '027231' +
        '02' +
        '01016601710176' +
        'e803000000000000' +
        '05e703000000000000',
    );
    expect(toHex(frameHintRecord(payload))).toBe(
      '28000000' + 'f2c8dc1d' + '8bfc3d80' + toHex(payload),
    );
    expect(toHex(utf8(T))).toBe('3132372e302e302e313a37303031');
    expect(parseHintFileName('3132372e302e302e313a37303031.1.hints')).toEqual({
      target: T,
      seq: 1,
      corrupt: false,
    });
  });

  it('round-trips every op type and refuses ops without a timestamp', () => {
    const m = new Mutation(utf8('row'))
      .put('f', 'q', 'value', 5)
      .deleteVersion('f', 'q', 6)
      .deleteColumn('g', new Uint8Array([0, 255]), 7)
      .deleteFamily('h', 8)
      .deleteRow(Number.MAX_SAFE_INTEGER);
    const hint = decodeHint(encodeHint({ table: 't', mutation: m, createdMicros: 42 }));
    expect(hint.table).toBe('t');
    expect(hint.createdMicros).toBe(42);
    expect(hint.mutation.row).toEqual(m.row);
    expect(hint.mutation.ops).toEqual(m.ops);
    expectInvalid(() =>
      encodeHint({ table: 't', mutation: new Mutation('r').put('f', 'q', 'v'), createdMicros: 1 }),
    );
    expectInvalid(() =>
      encodeHint({ table: 't', mutation: new Mutation('r').deleteRow(), createdMicros: 1 }),
    );
    expectInvalid(() => encodeHint({ table: 't', mutation: new Mutation('r'), createdMicros: 1 }));
    expectInvalid(() => encodeHint({ table: '', mutation: mutationOf(1), createdMicros: 1 }));
    expectInvalid(() => encodeHint({ table: 't', mutation: mutationOf(1), createdMicros: -1 }));
  });

  it('ignores names it did not write', () => {
    for (const name of [
      'x.1.hints',
      '31.01.hints',
      '3.1.hints',
      'ff.1.hints',
      '31.1.tmp',
      '31.hints',
    ]) {
      expect(parseHintFileName(name)).toBeUndefined();
    }
    expect(parseHintFileName('31.7.corrupt')).toEqual({ target: '1', seq: 7, corrupt: true });
  });
});

describe('reading a hint file back', () => {
  const records = [1, 2, 3].map((i) =>
    frameHintRecord(encodeHint({ table: 'kv', mutation: mutationOf(i), createdMicros: i })),
  );
  const file = new Uint8Array(records.reduce((n, r) => n + r.length, 0));
  records.reduce((at, r) => (file.set(r, at), at + r.length), 0);
  const second = records[0]!.length;
  const third = second + records[1]!.length;

  it('stops cleanly at a torn tail wherever a crash cuts the file, and at a zero-filled one', () => {
    for (let cut = 0; cut <= file.length; cut++) {
      const scan = scanHintFile(file.subarray(0, cut));
      const whole = cut >= file.length ? 3 : cut >= third ? 2 : cut >= second ? 1 : 0;
      expect(scan.end).toBe(
        cut === file.length || cut === second || cut === third || cut === 0 ? 'clean' : 'torn',
      );
      expect(scan.hints.map((h) => rowOf(h.mutation))).toEqual([1, 2, 3].slice(0, whole));
      const zeroFilled = new Uint8Array(file.length + 7);
      zeroFilled.set(file.subarray(0, cut));
      expect(scanHintFile(zeroFilled).end).not.toBe('corrupt');
    }
  });

  it('calls any damaged byte of a middle record CORRUPTION and delivers only what precedes it', () => {
    for (let at = second; at < third; at++) {
      for (const bit of [0x01, 0x80]) {
        const damaged = file.slice();
        damaged[at]! ^= bit;
        const scan = scanHintFile(damaged);
        expect(scan.end, `byte ${at}`).toBe('corrupt');
        expect(scan.hints.map((h) => rowOf(h.mutation))).toEqual([1]);
        expect(scan.validBytes).toBe(second);
        expect(scan.lostBytes).toBe(file.length - second);
      }
    }
  });

  it('never delivers a damaged last record', () => {
    for (let at = third; at < file.length; at++) {
      const damaged = file.slice();
      damaged[at]! ^= 0x10;
      const scan = scanHintFile(damaged);
      expect(scan.hints.map((h) => rowOf(h.mutation))).toEqual([1, 2]);
      // A whole header is never torn by a crash: damage there is CORRUPTION even at the end.
      if (at < third + 12) expect(scan.end).toBe('corrupt');
    }
  });

  it('calls a payload that passes its checksum but does not decode CORRUPTION', () => {
    const bad = frameHintRecord(new Uint8Array([1, 2, 3]));
    for (const bytes of [
      new Uint8Array([...records[0]!, ...bad]),
      new Uint8Array([...records[0]!, ...bad, ...records[1]!]),
    ]) {
      const scan = scanHintFile(bytes);
      expect(scan.end).toBe('corrupt');
      expect(scan.reason).toMatch(/undecodable/);
      expect(scan.hints.length).toBe(1);
    }
  });
});

describe('HintStore', () => {
  it('delivers added hints in order, then removes its files', async () => {
    const { node, run, store, now } = await setup(1);
    await addAll(run, store, range(0, 20));
    expect(store.targets()).toEqual([T]);
    expect(store.hasHints(T)).toBe(true);
    expect(store.stats()).toEqual([
      {
        target: T,
        hints: 20,
        bytes: 20 * recordBytesOf(0),
        dropped: 0,
        corrupt: 0,
        corruptBytes: 0,
      },
    ]);
    const { rows, send } = recorder(node.env);
    expect(await run(store.replay(T, now(), HOUR, send))).toEqual({
      delivered: 20,
      expired: 0,
      remaining: 0,
    });
    expect(rows).toEqual(range(0, 20));
    expect(hintFiles(node)).toEqual([]);
    expect(store.stats()).toEqual([]);
    expect(store.targets()).toEqual([]);
    expect(store.hasHints(T)).toBe(false);
    expect(await run(store.replay('127.0.0.1:9', now(), HOUR, send))).toEqual({
      delivered: 0,
      expired: 0,
      remaining: 0,
    });
  });

  it('recovers its counts after a restart', async () => {
    const { node, run, store } = await setup(2);
    await addAll(run, store, range(0, 3));
    expect(await run(store.add('10.0.0.2:7001', 'kv', mutationOf(9), CREATED))).toBe(true);
    const before = store.stats();
    await run(store.close());
    expect(await codeOf(store.add(T, 'kv', mutationOf(1), CREATED))).toBe('SHUTTING_DOWN');
    const again = await run(HintStore.open(node.env, DIR));
    expect(again.stats()).toEqual(before);
    expect(again.targets()).toEqual(['10.0.0.2:7001', T]);
  });

  /**
   * One lifetime of a store: hints added at random times (some while a replay runs, when
   * `replay`; some failing, when `faults`), a crash at a random time, a restart. Every
   * acknowledged hint must then be delivered — before the crash or by a replay after it — and
   * nothing that was not issued; a torn tail must never read as damage.
   */
  async function crashRun(seed: number, options: { faults: boolean; replay: boolean }) {
    const { world, node, store } = await setup(seed);
    if (options.faults) world.setDiskFaults('n1', { writeErrorRate: 0.05, syncErrorRate: 0.1 });
    const issued: number[] = [];
    const acked = new Set<number>();
    let failed = 0;
    const early = recorder(node.env, { delayMs: 0.05 });
    const count = world.random.between(1, 40);
    void (async () => {
      for (let i = 0; i < count; i++) {
        if (world.random.chance(0.5)) await node.env.timers.sleep(world.random.float() * 0.3);
        issued.push(i);
        store.add(T, 'kv', mutationOf(i), CREATED).then(
          (ok) => ok && acked.add(i),
          () => failed++,
        );
      }
    })();
    if (options.replay) {
      world.after(world.random.float() * 1.5, () => {
        store.replay(T, node.env.clock.nowMicros(), HOUR, early.send).catch(() => undefined);
      });
    }
    world.after(world.random.float() * 4, () => world.crash('n1'), 'crash');
    await world.run();
    node.restart();
    if (options.faults) world.setDiskFaults('n1', { writeErrorRate: 0, syncErrorRate: 0 });
    const run = <T>(p: Promise<T>): Promise<T> => world.settle(p);
    let torn = 0;
    for (const [, bytes] of hintFiles(node)) {
      const scan = scanHintFile(bytes);
      expect(scan.end, `seed ${seed}`).not.toBe('corrupt');
      if (scan.end === 'torn') torn++;
    }
    const reopened = await run(HintStore.open(node.env, DIR));
    expect(reopened.stats().every((s) => s.corrupt === 0)).toBe(true);
    // The next lifetime appends to a new file, never after a torn tail.
    expect(await run(reopened.add(T, 'kv', mutationOf(9999), CREATED))).toBe(true);
    const late = recorder(node.env);
    const result = await run(reopened.replay(T, node.env.clock.nowMicros(), HOUR, late.send));
    expect(late.rows.at(-1)).toBe(9999);
    const kept = late.rows.slice(0, -1);
    for (const i of acked) {
      expect([...early.rows, ...kept], `seed ${seed}: acknowledged hint ${i}`).toContain(i);
    }
    expect(
      kept.every((row, k) => issued.includes(row) && (k === 0 || row > kept[k - 1]!)),
      `seed ${seed} ${JSON.stringify({ kept, issued, early: early.rows, files: hintFiles(node).map((f) => f[0]) })}`,
    ).toBe(true);
    if (!options.faults && !options.replay) {
      // One file, appended in call order, and a crash keeps a prefix of it: a prefix survives.
      // (Across files it need not: a later file's fsync may finish before an earlier one's.)
      expect(kept, `seed ${seed}`).toEqual(issued.slice(0, kept.length));
    }
    expect(result.remaining).toBe(0);
    expect(hintFiles(node)).toEqual([]);
    return {
      acked: acked.size,
      kept: kept.length,
      issued: issued.length,
      torn,
      early: early.rows.length,
      failed,
    };
  }

  it(`keeps every acknowledged hint across a crash, and reads any torn tail (${crashSeedsCount} seeds)`, async () => {
    const totals = { acked: 0, unackedKept: 0, unackedLost: 0, torn: 0 };
    for (let seed = 0; seed < crashSeedsCount; seed++) {
      const r = await crashRun(seed, { faults: false, replay: false });
      totals.acked += r.acked;
      totals.unackedKept += r.kept - r.acked;
      totals.unackedLost += r.issued - r.kept;
      totals.torn += r.torn;
    }
    // Each outcome must occur, or the test proves nothing.
    expect(totals.acked).toBeGreaterThan(crashSeedsCount);
    expect(totals.unackedKept).toBeGreaterThan(10);
    expect(totals.unackedLost).toBeGreaterThan(10);
    expect(totals.torn).toBeGreaterThan(5);
  });

  it(`keeps every acknowledged hint through crashes in replays and disk faults (${crashSeedsCount} seeds)`, async () => {
    let early = 0;
    let both = 0;
    let failed = 0;
    for (let seed = 1000; seed < 1000 + crashSeedsCount; seed++) {
      const r = await crashRun(seed, { faults: seed % 2 === 0, replay: true });
      early += r.early;
      if (r.early > 0 && r.kept > 0) both++;
      failed += r.failed;
    }
    // Replays must have delivered before crashes, with hints left for after, or this proves little.
    expect(early).toBeGreaterThan(crashSeedsCount);
    expect(both).toBeGreaterThan(10);
    expect(failed).toBeGreaterThan(10);
  });

  it('counts a damaged record as CORRUPTION, delivers the ones before it and never the rest', async () => {
    const { node, run, store, now } = await setup(3);
    await addAll(run, store, range(0, 5));
    await run(store.close());
    const [[name, bytes]] = hintFiles(node) as [[string, Uint8Array]];
    const size = recordBytesOf(0);
    // Flip a byte in the middle of the third record's payload, through the file system.
    const at = 2 * size + 20;
    const file = await run(node.env.fs.open(`${DIR}/${name}`));
    await run(file.write(at, new Uint8Array([bytes[at]! ^ 0x04])));
    await run(file.sync());
    await run(file.close());

    const reopened = await run(HintStore.open(node.env, DIR));
    expect(reopened.stats()).toEqual([
      { target: T, hints: 2, bytes: 2 * size, dropped: 0, corrupt: 1, corruptBytes: 3 * size },
    ]);
    const { rows, send } = recorder(node.env);
    expect(await run(reopened.replay(T, now(), HOUR, send))).toEqual({
      delivered: 2,
      expired: 0,
      remaining: 0,
    });
    expect(rows).toEqual([0, 1]);
    // Kept aside for an operator, counted once, and out of the way of new hints.
    expect(hintFiles(node).map(([n]) => n)).toEqual([name.replace('.hints', '.corrupt')]);
    expect(reopened.hasHints(T)).toBe(false);
    expect(reopened.stats()).toEqual([
      { target: T, hints: 0, bytes: 0, dropped: 0, corrupt: 1, corruptBytes: 3 * size },
    ]);
    await run(reopened.close());
    const third = await run(HintStore.open(node.env, DIR));
    expect(third.stats()).toEqual([]);
    await addAll(run, third, [7]);
    const second = recorder(node.env);
    await run(third.replay(T, now(), HOUR, second.send));
    expect(second.rows).toEqual([7]);
  });

  it('skips and counts hints older than the window', async () => {
    const { node, run, store, now } = await setup(4);
    const t0 = now();
    for (const [i, age] of [
      [0, 4 * HOUR],
      [1, HOUR],
      [2, 3 * HOUR + 1],
      [3, 0],
    ] as const) {
      expect(await run(store.add(T, 'kv', mutationOf(i), t0 - age))).toBe(true);
    }
    const { rows, send } = recorder(node.env);
    expect(await run(store.replay(T, t0, HINT_WINDOW_MICROS_DEFAULT, send))).toEqual({
      delivered: 2,
      expired: 2,
      remaining: 0,
    });
    expect(rows).toEqual([1, 3]);
    expect(hintFiles(node)).toEqual([]);
  });

  it('keeps undelivered hints when a send fails, and a later replay delivers them', async () => {
    // One hint per segment: a failure keeps the segment it happened in and all after it.
    const { node, run, store, now } = await setup(5, { segmentBytesMax: 1 });
    await addAll(run, store, range(0, 10));
    const failing = recorder(node.env, { failAt: 5 });
    expect(await codeOf(run(store.replay(T, now(), HOUR, failing.send)))).toBe('CONNECTION_CLOSED');
    expect(failing.rows).toEqual([0, 1, 2, 3]);
    expect(store.stats()[0]?.hints).toBe(6);
    expect(hintFiles(node).length).toBe(6);
    const ok = recorder(node.env);
    expect(await run(store.replay(T, now(), HOUR, ok.send))).toEqual({
      delivered: 6,
      expired: 0,
      remaining: 0,
    });
    expect(ok.rows).toEqual(range(4, 10));
    expect(hintFiles(node)).toEqual([]);
  });

  it('keeps a whole segment when a send in it fails (resending is idempotent)', async () => {
    const { node, run, store, now } = await setup(6);
    await addAll(run, store, range(0, 30));
    const failing = recorder(node.env, { failAt: 12, delayMs: 1 });
    expect(await codeOf(run(store.replay(T, now(), HOUR, failing.send)))).toBe('CONNECTION_CLOSED');
    expect(failing.rows.length).toBeLessThan(30);
    expect(store.stats()[0]?.hints).toBe(30);
    const ok = recorder(node.env);
    await run(store.replay(T, now(), HOUR, ok.send));
    expect(ok.rows).toEqual(range(0, 30));
    expect(store.hasHints(T)).toBe(false);
  });

  it('neither loses nor deletes hints added while a replay runs', async () => {
    const { node, run, store, now } = await setup(7);
    await addAll(run, store, range(0, 5));
    const first = recorder(node.env, { delayMs: 50 });
    const racing = [
      store.add(T, 'kv', mutationOf(5), CREATED),
      store.add(T, 'kv', mutationOf(6), CREATED),
    ];
    const replaying = store.replay(T, now(), HOUR, first.send);
    // A second call while one runs gets the running one.
    expect(store.replay(T, now(), HOUR, recorder(node.env).send)).toBe(replaying);
    const during = [7, 8, 9].map((i) => store.add(T, 'kv', mutationOf(i), CREATED));
    await run(node.env.timers.sleep(20));
    expect(await run(store.add(T, 'kv', mutationOf(10), CREATED))).toBe(true);
    const result = await run(replaying);
    expect(await run(Promise.all([...racing, ...during]))).toEqual([true, true, true, true, true]);
    expect(first.rows).not.toContain(10);
    // `remaining` counts what was acknowledged when the replay ended; 10 was, before it did.
    expect(result.remaining).toBeGreaterThanOrEqual(1);
    const left = store.stats()[0]!.hints;
    expect(left).toBe(11 - result.delivered);
    expect(store.hasHints(T)).toBe(true);
    const second = recorder(node.env);
    const next = await run(store.replay(T, now(), HOUR, second.send));
    expect(next.delivered).toBe(left);
    expect([...first.rows, ...second.rows].sort((a, b) => a - b)).toEqual(range(0, 11));
    expect(hintFiles(node)).toEqual([]);
  });

  it('waits for appends already queued when a replay begins', async () => {
    const { node, run, store, now } = await setup(12);
    await addAll(run, store, [0]);
    // Issued but not yet on disk: the first is being written, the rest wait for the next group.
    const queued = range(1, 5).map((i) => store.add(T, 'kv', mutationOf(i), CREATED));
    for (let k = 0; k < 10; k++) await Promise.resolve(); // Lets them reach the writer's queue.
    expect(hintFiles(node).map(([, bytes]) => bytes.length)).toEqual([recordBytesOf(0)]);
    const first = recorder(node.env);
    const replaying = store.replay(T, now(), HOUR, first.send);
    expect(await run(Promise.all(queued))).toEqual([true, true, true, true]);
    await run(replaying);
    const second = recorder(node.env);
    await run(store.replay(T, now(), HOUR, second.send));
    expect([...first.rows, ...second.rows]).toEqual(range(0, 5));
    expect(first.rows).toEqual(range(0, 5));
  });

  it('drops and counts hints past maxBytesPerTarget', async () => {
    const size = recordBytesOf(0);
    const { node, run, store, now } = await setup(8, { maxBytesPerTarget: 3 * size });
    const results = await run(
      Promise.all(range(0, 5).map((i) => store.add(T, 'kv', mutationOf(i), CREATED))),
    );
    expect(results).toEqual([true, true, true, false, false]);
    expect(await run(store.add('10.0.0.2:7001', 'kv', mutationOf(0), CREATED))).toBe(true);
    expect(store.stats().find((s) => s.target === T)).toEqual({
      target: T,
      hints: 3,
      bytes: 3 * size,
      dropped: 2,
      corrupt: 0,
      corruptBytes: 0,
    });
    await run(store.replay(T, now(), HOUR, recorder(node.env).send));
    expect(await run(store.add(T, 'kv', mutationOf(9), CREATED))).toBe(true);
  });

  it('shares fsyncs among concurrent adds (group commit)', async () => {
    const world = new SimWorld({ seed: 9 });
    const counted = countingSyncs(world.addNode('n1').env);
    const run = <T>(p: Promise<T>): Promise<T> => world.settle(p);
    const store = await run(HintStore.open(counted.env, DIR));
    const n = 100;
    const start = counted.syncs();
    const results = await run(
      Promise.all(range(0, n).map((i) => store.add(T, 'kv', mutationOf(i), CREATED))),
    );
    expect(results.every((ok) => ok)).toBe(true);
    expect(counted.syncs() - start).toBeLessThanOrEqual(5);
    // Sequential adds cannot share: one fsync each, which shows the counter counts.
    const before = counted.syncs();
    await addAll(run, store, range(n, n + 5));
    expect(counted.syncs() - before).toBe(5);
  });

  it('refuses bad input with INVALID_ARGUMENT', async () => {
    const { run, store } = await setup(10);
    expect(await codeOf(store.add('', 'kv', mutationOf(1), CREATED))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(store.add('x'.repeat(101), 'kv', mutationOf(1), CREATED))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await codeOf(store.add(T, 'kv', new Mutation('r').put('f', 'q', 'v'), 0))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await codeOf(store.replay(T, 1, -1, async () => undefined))).toBe('INVALID_ARGUMENT');
    expect(store.stats()).toEqual([]);
    const world = new SimWorld({ seed: 11 });
    const env = world.addNode('n1').env;
    expect(await codeOf(world.settle(HintStore.open(env, DIR, { maxBytesPerTarget: 0 })))).toBe(
      'INVALID_ARGUMENT',
    );
    await run(store.close());
  });
});

/** The env with a file system that counts File.sync() calls (the sim offers no counter). */
function countingSyncs(env: Env): { env: Env; syncs: () => number } {
  let syncs = 0;
  const wrapFile = (file: File): File =>
    new Proxy(file, {
      get(target, prop) {
        if (prop === 'sync') {
          return () => {
            syncs++;
            return target.sync();
          };
        }
        const v: unknown = Reflect.get(target, prop);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  const fs = new Proxy(env.fs, {
    get(target, prop) {
      if (prop === 'open') {
        return async (...args: Parameters<FileSystem['open']>) =>
          wrapFile(await target.open(...args));
      }
      const v: unknown = Reflect.get(target, prop);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return {
    env: {
      name: env.name,
      clock: env.clock,
      timers: env.timers,
      random: env.random,
      net: env.net,
      fs,
    },
    syncs: () => syncs,
  };
}
