import { describe, expect, it } from 'vitest';
import { SimWorld } from '../env/sim/index.js';
import type { Env, FileSystem } from '../env/types.js';
import { LogWriter } from '../storage/log/index.js';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { encodeRecord, logFileName, snapshotFileName } from './raft-log-format.js';
import { RaftStorage } from './raft-storage.js';
import type { Entry, HardState, PersistedState, Ready, Snapshot } from './types.js';
import { codeOf } from '../util/testing/code-of.js';

const dir = '/raft';

function sim(seed = 1) {
  const world = new SimWorld({ seed });
  const node = world.addNode('n1');
  const run = <T>(p: Promise<T>): Promise<T> => world.settle(p, { timeoutMs: 60_000 });
  return { world, node, run };
}

function entry(index: number, term: number, text = `e${index}t${term}`): Entry {
  return { index, term, kind: 'normal', data: utf8(text) };
}

function ready(parts: { entries?: Entry[]; hardState?: HardState; snapshot?: Snapshot }): Ready {
  return {
    softState: { leader: 0, role: 'follower' },
    hardState: parts.hardState,
    snapshot: parts.snapshot,
    entries: parts.entries ?? [],
    committedEntries: [],
    messages: [],
    readStates: [],
  };
}

function range(lo: number, hi: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push(entry(i, term));
  return out;
}

/** A comparable view of persisted state (byte arrays as text). */
function view(p: PersistedState) {
  return {
    hardState: p.hardState,
    entries: p.entries.map((e) => `${e.index}/${e.term}/${e.kind}/${fromUtf8(e.data)}`),
    snapshot: p.snapshot && { meta: p.snapshot.meta, data: fromUtf8(p.snapshot.data) },
  };
}

/** An Env whose file system counts fsyncs of files. */
function countingSyncs(env: Env): { env: Env; syncs: () => number } {
  let syncs = 0;
  const fs: FileSystem = {
    ...env.fs,
    open: async (path, options) => {
      const file = await env.fs.open(path, options);
      return {
        ...file,
        path: file.path,
        size: () => file.size(),
        read: (p, l) => file.read(p, l),
        write: (p, d) => file.write(p, d),
        append: (d) => file.append(d),
        truncate: (l) => file.truncate(l),
        close: () => file.close(),
        sync: () => {
          syncs++;
          return file.sync();
        },
      };
    },
    readFile: (p) => env.fs.readFile(p),
    writeFile: (p, d, o) => env.fs.writeFile(p, d, o),
    rename: (a, b) => env.fs.rename(a, b),
    remove: (p, o) => env.fs.remove(p, o),
    list: (d) => env.fs.list(d),
    mkdir: (p, o) => env.fs.mkdir(p, o),
    syncDir: (p) => env.fs.syncDir(p),
    exists: (p) => env.fs.exists(p),
    stat: (p) => env.fs.stat(p),
  };
  return { env: { ...env, fs }, syncs: () => syncs };
}

describe('RaftStorage', () => {
  it('starts empty and replays entries, truncations and hard state', async () => {
    const { node, run } = sim();
    const first = await run(RaftStorage.open(node.env, dir));
    expect(view(first.persisted)).toEqual({
      hardState: { term: 0, vote: 0, commit: 0 },
      entries: [],
      snapshot: undefined,
    });
    const s = first.storage;
    await run(
      s.save(ready({ entries: range(1, 5, 1), hardState: { term: 1, vote: 1, commit: 2 } })),
    );
    // A new leader's entries replace the suffix from index 4.
    await run(
      s.save(ready({ entries: range(4, 6, 2), hardState: { term: 2, vote: 3, commit: 3 } })),
    );
    await run(s.save(ready({ hardState: { term: 2, vote: 3, commit: 5 } })));
    await run(s.close());

    const again = await run(RaftStorage.open(node.env, dir));
    expect(view(again.persisted)).toEqual({
      hardState: { term: 2, vote: 3, commit: 5 },
      entries: [
        '1/1/normal/e1t1',
        '2/1/normal/e2t1',
        '3/1/normal/e3t1',
        '4/2/normal/e4t2',
        '5/2/normal/e5t2',
        '6/2/normal/e6t2',
      ],
      snapshot: undefined,
    });
    await run(again.storage.close());
  });

  it('survives a crash: synced saves are kept', async () => {
    const { node, run } = sim(3);
    const { storage } = await run(RaftStorage.open(node.env, dir));
    await run(
      storage.save(ready({ entries: range(1, 3, 1), hardState: { term: 1, vote: 0, commit: 1 } })),
    );
    node.restart();
    const { persisted } = await run(RaftStorage.open(node.env, dir));
    expect(persisted.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(persisted.hardState).toEqual({ term: 1, vote: 0, commit: 1 });
  });

  it('shares one fsync among saves that arrive during an fsync (group commit)', async () => {
    const { node, run } = sim();
    const counted = countingSyncs(node.env);
    const { storage } = await run(RaftStorage.open(counted.env, dir));
    const before = counted.syncs();
    const saves = [1, 2, 3, 4].map((i) =>
      storage.save(ready({ entries: [entry(i, 1)], hardState: { term: 1, vote: 1, commit: 0 } })),
    );
    await run(Promise.all(saves));
    // The first save syncs alone; the three that queued behind it share the second fsync.
    expect(counted.syncs() - before).toBe(2);
    await run(storage.close());
    const { persisted } = await run(RaftStorage.open(node.env, dir));
    expect(persisted.entries.map((e) => e.index)).toEqual([1, 2, 3, 4]);
  });

  it('cuts a torn tail and appends after it', async () => {
    const { node, run } = sim();
    const { storage } = await run(RaftStorage.open(node.env, dir));
    await run(storage.save(ready({ entries: range(1, 3, 1) })));
    await run(storage.close());
    const path = `${dir}/${logFileName(0)}`;
    const whole = await run(node.env.fs.readFile(path));
    // Half of a copy of the first record: what a crash mid-append leaves.
    const f = await run(node.env.fs.open(path));
    await run(f.append(whole.subarray(0, 9)));
    await run(f.close());

    const reopened = await run(RaftStorage.open(node.env, dir));
    expect(reopened.persisted.entries.map((e) => e.index)).toEqual([1, 2, 3]);
    await run(reopened.storage.save(ready({ entries: [entry(4, 1)] })));
    await run(reopened.storage.close());
    const last = await run(RaftStorage.open(node.env, dir));
    expect(last.persisted.entries.map((e) => e.index)).toEqual([1, 2, 3, 4]);
  });

  it('reports damage before the end as CORRUPTION', async () => {
    const { node, run } = sim();
    const { storage } = await run(RaftStorage.open(node.env, dir));
    await run(storage.save(ready({ entries: range(1, 3, 1) })));
    await run(storage.save(ready({ hardState: { term: 1, vote: 1, commit: 3 } })));
    await run(storage.close());
    const path = `${dir}/${logFileName(0)}`;
    const bytes = await run(node.env.fs.readFile(path));
    bytes[20] = bytes[20]! ^ 0x40;
    await run(node.env.fs.writeFile(path, bytes, { sync: true }));
    expect(await codeOf(run(RaftStorage.open(node.env, dir)))).toBe('CORRUPTION');
  });

  it('reports well-framed records that do not fit together as CORRUPTION', async () => {
    const { node, run } = sim();
    await run(node.env.fs.mkdir(dir));
    const w = await run(LogWriter.create(node.env.fs, `${dir}/${logFileName(0)}`));
    await run(w.append(encodeRecord({ kind: 'entries', entries: [entry(1, 1)] })));
    await run(w.append(encodeRecord({ kind: 'entries', entries: [entry(3, 1)] })));
    await run(
      w.append(encodeRecord({ kind: 'hard-state', hardState: { term: 1, vote: 0, commit: 0 } })),
    );
    await run(w.sync());
    await run(w.close());
    expect(await codeOf(run(RaftStorage.open(node.env, dir)))).toBe('CORRUPTION');
  });

  it('refuses every save after a failed fsync', async () => {
    const { world, node, run } = sim();
    const { storage } = await run(RaftStorage.open(node.env, dir));
    world.setDiskFaults('n1', { syncErrorRate: 1 });
    expect(await codeOf(run(storage.save(ready({ entries: [entry(1, 1)] }))))).toBe('IO_ERROR');
    world.setDiskFaults('n1', { syncErrorRate: 0 });
    expect(await codeOf(run(storage.save(ready({ entries: [entry(2, 1)] }))))).toBe('IO_ERROR');
  });

  it('compacts into a fresh log with a snapshot file and deletes the old pair', async () => {
    const { node, run } = sim();
    const { storage } = await run(RaftStorage.open(node.env, dir));
    await run(
      storage.save(ready({ entries: range(1, 10, 1), hardState: { term: 1, vote: 1, commit: 8 } })),
    );
    const snap: Snapshot = {
      meta: { index: 6, term: 1, config: { voters: [1, 2, 3] } },
      data: utf8('S6'),
    };
    expect(await run(storage.readSnapshot())).toBeUndefined();
    await run(storage.compact(snap));
    await run(storage.save(ready({ entries: [entry(11, 1)] })));
    expect(await run(node.env.fs.list(dir))).toEqual([logFileName(1), snapshotFileName(1)]);
    // Read back for a follower: Raft holds only the metadata once it is durable.
    const back = (await run(storage.readSnapshot()))!;
    expect({ meta: back.meta, data: fromUtf8(back.data) }).toEqual({ meta: snap.meta, data: 'S6' });
    await run(storage.close());

    const again = await run(RaftStorage.open(node.env, dir));
    expect(view(again.persisted)).toEqual({
      hardState: { term: 1, vote: 1, commit: 8 },
      entries: range(7, 11, 1).map((e) => `${e.index}/1/normal/e${e.index}t1`),
      snapshot: { meta: snap.meta, data: 'S6' },
    });

    // A snapshot from the leader replaces everything.
    const installed: Snapshot = {
      meta: { index: 20, term: 3, config: { voters: [1, 2, 3] } },
      data: utf8('S20'),
    };
    await run(
      again.storage.save(
        ready({
          snapshot: installed,
          entries: [entry(21, 3)],
          hardState: { term: 3, vote: 0, commit: 20 },
        }),
      ),
    );
    await run(again.storage.close());
    expect(await run(node.env.fs.list(dir))).toEqual([logFileName(2), snapshotFileName(2)]);
    const last = await run(RaftStorage.open(node.env, dir));
    expect(view(last.persisted)).toEqual({
      hardState: { term: 3, vote: 0, commit: 20 },
      entries: ['21/3/normal/e21t3'],
      snapshot: { meta: installed.meta, data: 'S20' },
    });
  });

  it("writes a compaction's snapshot file while saves go on, and drops it once superseded", async () => {
    const { node, run } = sim(4);
    const { storage } = await run(RaftStorage.open(node.env, dir));
    await run(
      storage.save(ready({ entries: range(1, 10, 1), hardState: { term: 1, vote: 1, commit: 8 } })),
    );
    const s6: Snapshot = { meta: { index: 6, term: 1, config: { voters: [1] } }, data: utf8('S6') };
    const order: string[] = [];
    const compacted = storage.compact(s6).then(() => order.push('compact'));
    const saved = storage.save(ready({ entries: [entry(11, 1)] })).then(() => order.push('save'));
    await run(Promise.all([compacted, saved]));
    // The save did not wait for the snapshot file; the switch still carried entry 11 over.
    expect(order).toEqual(['save', 'compact']);
    expect(await run(node.env.fs.list(dir))).toEqual([logFileName(1), snapshotFileName(1)]);

    // A snapshot installed from the leader while a compaction's file is being written wins.
    const s8: Snapshot = { meta: { index: 8, term: 1, config: { voters: [1] } }, data: utf8('S8') };
    const s20: Snapshot = {
      meta: { index: 20, term: 3, config: { voters: [1] } },
      data: utf8('S20'),
    };
    const stale = storage.compact(s8);
    const installed = storage.save(
      ready({
        snapshot: s20,
        entries: [entry(21, 3)],
        hardState: { term: 3, vote: 0, commit: 20 },
      }),
    );
    await run(Promise.all([stale, installed]));
    await run(storage.close());
    expect(await run(node.env.fs.list(dir))).toEqual([logFileName(2), snapshotFileName(2)]);
    const again = await run(RaftStorage.open(node.env, dir));
    expect(view(again.persisted)).toEqual({
      hardState: { term: 3, vote: 0, commit: 20 },
      entries: ['21/3/normal/e21t3'],
      snapshot: { meta: s20.meta, data: 'S20' },
    });
    await run(again.storage.close());
  });

  it('keeps a snapshot larger than one log record can hold (a million lock nodes)', async () => {
    const { node, run } = sim(3);
    const { storage } = await run(RaftStorage.open(node.env, dir));
    await run(storage.save(ready({ entries: range(1, 3, 1) })));
    // 70 MiB: over the record framing's 64 MiB, so the file takes five records.
    const data = new Uint8Array(70 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) & 0xff;
    const snap: Snapshot = { meta: { index: 3, term: 1, config: { voters: [1] } }, data };
    await run(storage.compact(snap));
    await run(storage.close());
    const again = await run(RaftStorage.open(node.env, dir));
    const got = again.persisted.snapshot!;
    expect(got.meta).toEqual(snap.meta);
    expect(got.data.length).toBe(data.length);
    expect(Buffer.compare(got.data, data)).toBe(0);
    await run(again.storage.close());
  });

  it('a crash at any point of a snapshot switch opens to the old or the new state', async () => {
    const outcomes = new Set<string>();
    for (let seed = 1; seed <= 60; seed++) {
      const { world, node, run } = sim(seed);
      const { storage } = await run(RaftStorage.open(node.env, dir));
      await run(
        storage.save(
          ready({ entries: range(1, 8, 1), hardState: { term: 1, vote: 1, commit: 8 } }),
        ),
      );
      const snap: Snapshot = {
        meta: { index: 5, term: 1, config: { voters: [1] } },
        data: utf8('S5'),
      };
      storage.compact(snap).catch(() => undefined);
      await world.run({ maxEvents: world.random.int(40) });
      node.restart();
      const { persisted } = await run(RaftStorage.open(node.env, dir));
      const old = persisted.snapshot === undefined;
      outcomes.add(old ? 'old' : 'new');
      expect(persisted.hardState).toEqual({ term: 1, vote: 1, commit: 8 });
      expect(persisted.entries.map((e) => e.index)).toEqual(
        old ? [1, 2, 3, 4, 5, 6, 7, 8] : [6, 7, 8],
      );
      if (!old) expect(fromUtf8(persisted.snapshot!.data)).toBe('S5');
      const names = await run(node.env.fs.list(dir));
      expect(names).toEqual(old ? [logFileName(0)] : [logFileName(1), snapshotFileName(1)]);
    }
    expect([...outcomes].sort()).toEqual(['new', 'old']);
  });
});
