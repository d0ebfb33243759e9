import { describe, expect, it } from 'vitest';
import type { FileSystem } from '../types.js';
import { fromUtf8, utf8 } from '../../util/bytes.js';
import { isTesseraError, type ErrorCode } from '../../util/errors.js';
import { SimWorld } from './world.js';

/** A node's file system whose calls run the world until they settle. */
function setup(seed = 1): {
  world: SimWorld;
  fs: FileSystem;
  run: <T>(p: Promise<T>) => Promise<T>;
  expectCode: (p: Promise<unknown>, code: ErrorCode) => Promise<void>;
} {
  const world = new SimWorld({ seed });
  const fs = world.addNode('n1').env.fs;
  return {
    world,
    fs,
    run: (p) => world.settle(p),
    expectCode: (p, code) => expectCode(world, p, code),
  };
}

/** Runs the world until `promise` settles and checks that it failed with `code`. */
async function expectCode(
  world: SimWorld,
  promise: Promise<unknown>,
  code: ErrorCode,
): Promise<void> {
  const error = await world.settle(promise).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isTesseraError(error) ? error.code : error).toBe(code);
}

describe('simulated FileSystem contract', () => {
  it('creates, writes, reads, appends and sizes files', async () => {
    const { fs, run, expectCode } = setup();
    const f = await run(fs.open('/a', { create: true }));
    expect(f.path).toBe('/a');
    await run(f.write(0, utf8('hello')));
    expect(await run(f.append(utf8(' world')))).toBe(5);
    expect(await run(f.size())).toBe(11);
    expect(fromUtf8(await run(f.read(0, 100)))).toBe('hello world');
    expect(fromUtf8(await run(f.read(6, 3)))).toBe('wor');
    expect(await run(f.read(11, 5))).toEqual(new Uint8Array(0));
    expect(await run(f.read(50, 5))).toEqual(new Uint8Array(0));
    // Writing past the end zero-fills the gap.
    await run(f.write(13, utf8('!')));
    expect(await run(f.read(10, 10))).toEqual(new Uint8Array([100, 0, 0, 33]));
    await run(f.truncate(2));
    expect(fromUtf8(await run(fs.readFile('/a')))).toBe('he');
    await run(f.truncate(4));
    expect(await run(fs.readFile('/a'))).toEqual(new Uint8Array([104, 101, 0, 0]));
    await run(f.close());
    await run(f.close());
    await expectCode(f.read(0, 1), 'IO_ERROR');
  });

  it('copies buffers in and out', async () => {
    const { fs, run } = setup();
    const data = utf8('abc');
    const f = await run(fs.open('/a', { create: true }));
    const pending = f.write(0, data);
    data[0] = 120; // the caller reuses its buffer before the write completes
    await run(pending);
    const read = await run(f.read(0, 3));
    read[1] = 120;
    expect(fromUtf8(await run(f.read(0, 3)))).toBe('abc');
  });

  it('honours create, exclusive, truncate and readOnly', async () => {
    const { fs, run, expectCode } = setup();
    await expectCode(fs.open('/missing'), 'NOT_FOUND');
    await run(fs.writeFile('/a', utf8('data')));
    await expectCode(fs.open('/a', { create: true, exclusive: true }), 'ALREADY_EXISTS');
    const same = await run(fs.open('/a', { create: true }));
    expect(await run(same.size())).toBe(4);
    const cut = await run(fs.open('/a', { truncate: true }));
    expect(await run(cut.size())).toBe(0);
    await run(fs.writeFile('/a', utf8('data')));
    const ro = await run(fs.open('/a', { readOnly: true }));
    expect(fromUtf8(await run(ro.read(0, 4)))).toBe('data');
    await expectCode(ro.write(0, utf8('x')), 'IO_ERROR');
    await expectCode(ro.append(utf8('x')), 'IO_ERROR');
    await expectCode(ro.truncate(0), 'IO_ERROR');
    await expectCode(fs.open('/a', { readOnly: true, truncate: true }), 'INVALID_ARGUMENT');
    await expectCode(fs.open('/nodir/a', { create: true }), 'NOT_FOUND');
    await expectCode(fs.open('/a/b', { create: true }), 'NOT_DIRECTORY');
    await run(fs.mkdir('/d'));
    await expectCode(fs.open('/d'), 'IO_ERROR');
    await expectCode(fs.readFile('/d'), 'IO_ERROR');
  });

  it('writeFile creates or replaces', async () => {
    const { fs, run, expectCode } = setup();
    await run(fs.writeFile('/a', utf8('long contents')));
    await run(fs.writeFile('/a', utf8('short'), { sync: true }));
    expect(fromUtf8(await run(fs.readFile('/a')))).toBe('short');
    await expectCode(fs.readFile('/b'), 'NOT_FOUND');
  });

  it('mkdir, recursive mkdir, list sorted by bytes, stat and exists', async () => {
    const { fs, run, expectCode } = setup();
    await run(fs.mkdir('/x'));
    await expectCode(fs.mkdir('/x'), 'ALREADY_EXISTS');
    await expectCode(fs.mkdir('/p/q'), 'NOT_FOUND');
    await run(fs.mkdir('/p/q/r', { recursive: true }));
    await run(fs.mkdir('/p/q', { recursive: true }));
    await run(fs.mkdir('/', { recursive: true }));
    await run(fs.writeFile('/p/file', utf8('12345')));
    await expectCode(fs.mkdir('/p/file/sub', { recursive: true }), 'NOT_DIRECTORY');
    await expectCode(fs.mkdir('/p/file', { recursive: true }), 'ALREADY_EXISTS');
    // Byte order of UTF-8: 'B' < 'a' < 'é' (0xC3) < '😀' (0xF0); UTF-16 would put '😀' (0xD83D)
    // before 'ﬀ' (0xFB00), but UTF-8 byte order puts it after.
    for (const name of ['a', 'B', 'é', '😀', 'ﬀ', 'a0'])
      await run(fs.writeFile(`/x/${name}`, utf8('')));
    expect(await run(fs.list('/x'))).toEqual(['B', 'a', 'a0', 'é', 'ﬀ', '😀']);
    expect(await run(fs.list('/'))).toEqual(['p', 'x']);
    expect(await run(fs.list('p'))).toEqual(['file', 'q']);
    await expectCode(fs.list('/p/file'), 'NOT_DIRECTORY');
    await expectCode(fs.list('/nope'), 'NOT_FOUND');
    expect(await run(fs.stat('/p/file'))).toEqual({ size: 5, isDirectory: false });
    expect(await run(fs.stat('/p/q'))).toEqual({ size: 0, isDirectory: true });
    await expectCode(fs.stat('/p/none'), 'NOT_FOUND');
    expect(await run(fs.exists('/p/q/r'))).toBe(true);
    expect(await run(fs.exists('/p/file'))).toBe(true);
    expect(await run(fs.exists('/p/none'))).toBe(false);
    expect(await run(fs.exists('/p/file/under'))).toBe(false);
    await expectCode(fs.exists('/..'), 'INVALID_ARGUMENT');
  });

  it('renames files and directories atomically, replacing files', async () => {
    const { fs, run, expectCode } = setup();
    await run(fs.writeFile('/a', utf8('A')));
    await run(fs.writeFile('/b', utf8('B')));
    await run(fs.rename('/a', '/b'));
    expect(await run(fs.list('/'))).toEqual(['b']);
    expect(fromUtf8(await run(fs.readFile('/b')))).toBe('A');
    await run(fs.mkdir('/d/e', { recursive: true }));
    await run(fs.writeFile('/d/e/f', utf8('F')));
    await run(fs.rename('/d', '/moved'));
    expect(fromUtf8(await run(fs.readFile('/moved/e/f')))).toBe('F');
    await run(fs.rename('/b', '/b'));
    await expectCode(fs.rename('/none', '/x'), 'NOT_FOUND');
    await expectCode(fs.rename('/b', '/none/x'), 'NOT_FOUND');
    await expectCode(fs.rename('/b', '/moved'), 'IO_ERROR');
    await expectCode(fs.rename('/moved', '/moved/e/inside'), 'INVALID_ARGUMENT');
    await expectCode(fs.rename('/moved', '/b'), 'NOT_DIRECTORY');
    // An open file keeps working across a rename of its name.
    const f = await run(fs.open('/b'));
    await run(fs.rename('/b', '/c'));
    await run(f.append(utf8('!')));
    expect(fromUtf8(await run(fs.readFile('/c')))).toBe('A!');
  });

  it('removes files, empty directories, and trees only when recursive', async () => {
    const { fs, run, expectCode } = setup();
    await run(fs.mkdir('/t/u', { recursive: true }));
    await run(fs.writeFile('/t/u/f', utf8('x')));
    await expectCode(fs.remove('/t'), 'IO_ERROR');
    await run(fs.remove('/t/u/f'));
    await run(fs.remove('/t/u'));
    await run(fs.mkdir('/t/u/v', { recursive: true }));
    await run(fs.remove('/t', { recursive: true }));
    expect(await run(fs.exists('/t'))).toBe(false);
    await expectCode(fs.remove('/t'), 'NOT_FOUND');
    await expectCode(fs.remove('/'), 'INVALID_ARGUMENT');
  });

  it('checks arguments', async () => {
    const { fs, run, expectCode } = setup();
    const f = await run(fs.open('/a', { create: true }));
    await expectCode(f.read(-1, 1), 'INVALID_ARGUMENT');
    await expectCode(f.write(1.5, utf8('x')), 'INVALID_ARGUMENT');
    await expectCode(f.truncate(-3), 'INVALID_ARGUMENT');
    await expectCode(fs.syncDir('/a'), 'NOT_DIRECTORY');
    await expectCode(fs.syncDir('/none'), 'NOT_FOUND');
  });

  it('takes virtual time per operation, syncs slower than writes', async () => {
    const { world, fs, run } = setup();
    const f = await run(fs.open('/a', { create: true }));
    let writeMicros = 0;
    let syncMicros = 0;
    for (let i = 0; i < 50; i++) {
      const t0 = world.nowMicros();
      await run(f.append(utf8('x')));
      const t1 = world.nowMicros();
      await run(f.sync());
      writeMicros += t1 - t0;
      syncMicros += world.nowMicros() - t1;
    }
    expect(writeMicros).toBeGreaterThan(0);
    expect(syncMicros).toBeGreaterThan(writeMicros * 3);
  });

  it("makes a dsync file's writes durable when they resolve, and only then", async () => {
    for (const dsync of [true, false]) {
      const world = new SimWorld({ seed: 4 });
      const node = world.addNode('n1');
      const run = <T>(p: Promise<T>): Promise<T> => world.settle(p);
      const f = await run(node.env.fs.open('/a', { create: true, dsync }));
      await run(node.env.fs.syncDir('/'));
      await run(f.append(utf8('first')));
      await run(f.write(5, utf8('+second')));
      const durable = node.disk.durableSnapshot().get('/a');
      expect(fromUtf8(durable ?? new Uint8Array(0))).toBe(dsync ? 'first+second' : '');
      // A truncate is not covered: sync() makes it durable.
      await run(f.truncate(5));
      expect(node.disk.durableSnapshot().get('/a')?.length).toBe(dsync ? 12 : 0);
      await run(f.sync());
      expect(fromUtf8(node.disk.durableSnapshot().get('/a')!)).toBe('first');
    }
  });

  it('completes operations on one file in issue order', async () => {
    const { fs, run } = setup();
    const f = await run(fs.open('/a', { create: true }));
    const offsets = await run(
      Promise.all(Array.from({ length: 100 }, (_, i) => f.append(utf8(String(i % 10))))),
    );
    expect(offsets).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const text = fromUtf8(await run(fs.readFile('/a')));
    expect(text).toBe(Array.from({ length: 100 }, (_, i) => String(i % 10)).join(''));
  });
});

describe('disk fault injection', () => {
  it('fails reads, writes and syncs at the configured rates, and can be changed at run time', async () => {
    const world = new SimWorld({ seed: 11 });
    const node = world.addNode('n1', { disk: { writeErrorRate: 0.3 } });
    const fs = node.env.fs;
    const f = await world.settle(fs.open('/a', { create: true }));
    let failed = 0;
    for (let i = 0; i < 400; i++) {
      await world.settle(f.append(utf8('x'))).catch((e: unknown) => {
        expect(isTesseraError(e, 'IO_ERROR')).toBe(true);
        failed++;
      });
    }
    expect(failed).toBeGreaterThan(80);
    expect(failed).toBeLessThan(160);
    // A failed write had no effect.
    expect(await world.settle(f.size())).toBe(400 - failed);

    world.setDiskFaults('n1', { writeErrorRate: 0, readErrorRate: 1, syncErrorRate: 1 });
    await world.settle(f.append(utf8('y')));
    await expectCode(world, f.read(0, 1), 'IO_ERROR');
    await expectCode(world, fs.readFile('/a'), 'IO_ERROR');
    await expectCode(world, f.sync(), 'IO_ERROR');
    await expectCode(world, fs.syncDir('/'), 'IO_ERROR');
    // The failed sync left the data unsynced.
    expect(node.disk.durableSnapshot().has('/a')).toBe(false);

    world.setDiskFaults('n1', { readErrorRate: 0, syncErrorRate: 0 });
    expect((await world.settle(fs.readFile('/a'))).length).toBe(401 - failed);
    expect(() => world.setDiskFaults('n1', { readErrorRate: 2 })).toThrow(/rates/);
  });
});
