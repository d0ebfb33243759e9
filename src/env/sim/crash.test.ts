import { describe, expect, it } from 'vitest';
import { concatBytes, equalBytes, fromUtf8, utf8 } from '../../util/bytes.js';
import { Prng } from '../../util/prng.js';
import { ByteBuffer } from './byte-buffer.js';
import { SimWorld } from './world.js';

const seedsCount = 200;

function startsWith(whole: Uint8Array, prefix: Uint8Array): boolean {
  return whole.length >= prefix.length && equalBytes(whole.subarray(0, prefix.length), prefix);
}

describe('crash durability of file contents', () => {
  it('keeps synced bytes always, and of unsynced appends a prefix, possibly torn', async () => {
    let lostAll = 0;
    let keptSome = 0;
    let torn = 0;
    for (let seed = 0; seed < seedsCount; seed++) {
      const world = new SimWorld({ seed });
      const node = world.addNode('n1');
      const fs = node.env.fs;
      const synced = utf8(`synced-${seed}|`);
      const f = await world.settle(fs.open('/log', { create: true }));
      await world.settle(f.append(synced));
      await world.settle(f.sync());
      await world.settle(fs.syncDir('/'));
      const records: Uint8Array[] = [];
      for (let i = 0; i < 5; i++) {
        records.push(utf8(`record-${i}-${'x'.repeat(i * 7)};`));
        await world.settle(f.append(records[i]!));
      }
      node.crash();
      const after = node.disk.snapshot().get('/log')!;
      const intended = concatBytes([synced, ...records]);
      expect(startsWith(after, synced)).toBe(true);
      expect(startsWith(intended, after)).toBe(true);
      if (after.length === synced.length) lostAll++;
      if (after.length >= synced.length + records[0]!.length) keptSome++;
      let boundary = synced.length;
      const boundaries = new Set([boundary]);
      for (const r of records) boundaries.add((boundary += r.length));
      if (!boundaries.has(after.length)) torn++;
      // What survived is now durable: a second crash changes nothing.
      node.restart();
      node.crash();
      expect(node.disk.snapshot().get('/log')).toEqual(after);
    }
    // Each outcome class must actually occur, or the test proves nothing.
    expect(lostAll).toBeGreaterThan(10);
    expect(keptSome).toBeGreaterThan(50);
    expect(torn).toBeGreaterThan(20);
  });

  it('never invents bytes: every outcome is durable state plus a prefix of ops, last one torn', async () => {
    for (let seed = 0; seed < seedsCount; seed++) {
      const world = new SimWorld({ seed });
      const node = world.addNode('n1');
      const fs = node.env.fs;
      const prng = new Prng(seed * 7 + 1);
      const f = await world.settle(fs.open('/f', { create: true }));
      await world.settle(f.write(0, prng.bytes(prng.between(0, 40))));
      await world.settle(f.sync());
      await world.settle(fs.syncDir('/'));
      const durable = node.disk.snapshot().get('/f')!;
      const ops: (
        { kind: 'write'; position: number; data: Uint8Array } | { kind: 'truncate'; length: number }
      )[] = [];
      for (let i = 0; i < 4; i++) {
        if (prng.chance(0.25)) {
          const length = prng.between(0, 50);
          ops.push({ kind: 'truncate', length });
          await world.settle(f.truncate(length));
        } else {
          const position = prng.between(0, 50);
          const data = prng.bytes(prng.between(1, 12));
          ops.push({ kind: 'write', position, data });
          await world.settle(f.write(position, data));
        }
      }
      node.crash();
      const after = node.disk.snapshot().get('/f')!;
      const outcomes = possibleOutcomes(durable, ops);
      expect(outcomes.some((o) => equalBytes(o, after))).toBe(true);
    }
  });

  it('loses a write whose completion had not happened at the crash', async () => {
    const world = new SimWorld({ seed: 5 });
    const node = world.addNode('n1');
    const fs = node.env.fs;
    const f = await world.settle(fs.open('/f', { create: true }));
    await world.settle(fs.syncDir('/'));
    void f.append(utf8('in flight'));
    node.crash();
    await world.run();
    expect(node.disk.snapshot().get('/f')).toEqual(new Uint8Array(0));
  });

  it('keeps or loses an unsynced writeFile whole-or-torn, but tmp+sync+rename is atomic', async () => {
    const seen = new Set<string>();
    for (let seed = 0; seed < seedsCount; seed++) {
      const world = new SimWorld({ seed });
      const node = world.addNode('n1');
      const fs = node.env.fs;
      await world.settle(fs.writeFile('/config', utf8('old-config'), { sync: true }));
      await world.settle(fs.syncDir('/'));
      await world.settle(fs.writeFile('/config.tmp', utf8('new-config'), { sync: true }));
      await world.settle(fs.rename('/config.tmp', '/config'));
      // Crash either before or after the directory sync, chosen by the seed.
      if (seed % 2 === 0) await world.settle(fs.syncDir('/'));
      node.crash();
      const text = fromUtf8(node.disk.snapshot().get('/config')!);
      expect(['old-config', 'new-config']).toContain(text);
      if (seed % 2 === 0) expect(text).toBe('new-config');
      seen.add(text);
    }
    expect(seen.size).toBe(2);
  });
});

describe('crash durability of directory entries', () => {
  it('reverts unsynced creates, renames, removes and mkdirs; keeps synced ones', async () => {
    const world = new SimWorld({ seed: 2 });
    const node = world.addNode('n1');
    const fs = node.env.fs;
    const run = <T>(p: Promise<T>): Promise<T> => world.settle(p);
    await run(fs.mkdir('/dir'));
    await run(fs.syncDir('/'));
    await run(fs.writeFile('/dir/kept', utf8('k'), { sync: true }));
    await run(fs.writeFile('/dir/renamed', utf8('r'), { sync: true }));
    await run(fs.writeFile('/dir/removed', utf8('x'), { sync: true }));
    await run(fs.syncDir('/dir'));
    // Unsynced namespace changes:
    await run(fs.writeFile('/dir/created', utf8('c'), { sync: true }));
    await run(fs.rename('/dir/renamed', '/dir/renamed2'));
    await run(fs.remove('/dir/removed'));
    await run(fs.mkdir('/newdir'));
    await run(fs.writeFile('/newdir/file', utf8('n'), { sync: true }));
    await run(fs.syncDir('/newdir'));
    expect(await run(fs.list('/dir'))).toEqual(['created', 'kept', 'renamed2']);
    node.crash();
    node.restart();
    const fs2 = node.env.fs;
    expect(await run(fs2.list('/'))).toEqual(['dir']);
    expect(await run(fs2.list('/dir'))).toEqual(['kept', 'removed', 'renamed']);
    expect(fromUtf8(await run(fs2.readFile('/dir/renamed')))).toBe('r');
    // The same changes again, now made durable.
    await run(fs2.writeFile('/dir/created', utf8('c'), { sync: true }));
    await run(fs2.rename('/dir/renamed', '/dir/renamed2'));
    await run(fs2.remove('/dir/removed'));
    await run(fs2.syncDir('/dir'));
    node.crash();
    expect([...node.disk.snapshot().keys()]).toEqual([
      '/dir/created',
      '/dir/kept',
      '/dir/renamed2',
    ]);
    expect(node.disk.durableSnapshot()).toEqual(node.disk.snapshot());
  });

  it('brings back a recursively removed tree when the parent was not synced', async () => {
    const world = new SimWorld({ seed: 2 });
    const node = world.addNode('n1');
    node.disk.volume.putDurable('/t/u/f', utf8('deep'));
    const fs = node.env.fs;
    await world.settle(fs.remove('/t', { recursive: true }));
    expect(node.disk.snapshot().size).toBe(0);
    node.crash();
    expect(fromUtf8(node.disk.snapshot().get('/t/u/f')!)).toBe('deep');
  });

  it('keeps the tree a tree after crossing unsynced directory renames', async () => {
    const world = new SimWorld({ seed: 2 });
    const node = world.addNode('n1');
    node.disk.volume.putDurable('/A/B/f', utf8('f'));
    const fs = node.env.fs;
    const run = <T>(p: Promise<T>): Promise<T> => world.settle(p);
    // Durable tables end up with A in B and B in A: a cycle if replayed naively.
    await run(fs.rename('/A/B', '/B'));
    await run(fs.syncDir('/'));
    await run(fs.rename('/A', '/B/A'));
    await run(fs.syncDir('/B'));
    node.crash();
    expect(node.disk.volume.directories().length).toBeLessThan(10);
  });
});

/** Every content a crash may leave: durable + ops[0..k-1] whole + op k (any prefix), k in 0..n. */
function possibleOutcomes(
  durable: Uint8Array,
  ops: readonly (
    { kind: 'write'; position: number; data: Uint8Array } | { kind: 'truncate'; length: number }
  )[],
): Uint8Array[] {
  const outcomes: Uint8Array[] = [durable];
  const base = new ByteBuffer(durable);
  for (const op of ops) {
    if (op.kind === 'write') {
      for (let t = 1; t <= op.data.length; t++) {
        const b = base.clone();
        b.write(op.position, op.data.subarray(0, t));
        outcomes.push(b.toBytes());
      }
      base.write(op.position, op.data);
    } else {
      base.truncate(op.length);
      outcomes.push(base.toBytes());
    }
  }
  return outcomes;
}
