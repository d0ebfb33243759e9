import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { realEnv } from '../../env/real/index.js';
import { SimWorld } from '../../env/sim/index.js';
import type { Env } from '../../env/types.js';
import { concatBytes, fromUtf8, toHex, utf8 } from '../../util/bytes.js';
import { isTesseraError } from '../../util/errors.js';
import { Prng } from '../../util/prng.js';
import { encodeRecordBytes, parseLog, recordHeaderBytes } from '../log/index.js';
import { manifestFileName, tableFileName, walFileName, type FileMeta } from './file-meta.js';
import { ModelSet, key, randomValidEdit, summarize, type GeneratorState } from './testdata/gen.js';
import { encodeVersionEdit, type VersionEdit } from './version-edit.js';
import { VersionSet, manifestFormatName, readManifestState } from './version-set.js';
import { codeOf } from '../../util/testing/code-of.js';

const dir = '/db';
/** These tests log edits without writing the tables they name. */
const noTables = { verifyTables: false } as const;

function sim(seed = 1) {
  const world = new SimWorld({ seed });
  const node = world.addNode('n1');
  const run = <T>(p: Promise<T>): Promise<T> => world.settle(p, { timeoutMs: 3_600_000 });
  return { world, node, run };
}

function table(fileNumber: number, level: number, lo: number, hi: number, seq = 1): FileMeta {
  return {
    fileNumber,
    level,
    size: 1000,
    entries: 10,
    smallest: key(lo),
    largest: key(hi),
    smallestSeq: seq,
    largestSeq: seq,
  };
}

function hexBytes(s: string): Uint8Array {
  return Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
}

function edit(change: Partial<VersionEdit>): VersionEdit {
  return { deletedFiles: [], addedFiles: [], ...change };
}

/** Applies `count` random valid edits, some concurrently; returns the model's final summary. */
async function applyRandomEdits(
  vs: VersionSet,
  run: <T>(p: Promise<T>) => Promise<T>,
  prng: Prng,
  count: number,
  model = new ModelSet(),
) {
  const gen: GeneratorState = { version: model.current, lastSequence: model.lastSequence };
  let batch: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const e = randomValidEdit(prng, gen, () => vs.newFileNumber());
    model.apply(e);
    gen.version = model.current;
    batch.push(vs.logAndApply(e));
    if (prng.chance(0.6)) {
      await run(Promise.all(batch));
      batch = [];
    }
  }
  await run(Promise.all(batch));
  return model;
}

describe('VersionSet.create', () => {
  it('writes MANIFEST-000001 with a snapshot, then CURRENT, all durable', async () => {
    const { node, run } = sim();
    const vs = await run(VersionSet.create(node.env, dir));
    expect(vs.manifestNumber).toBe(1);
    expect(vs.nextFileNumber).toBe(2);
    expect(vs.logNumber).toBe(0);
    expect(vs.lastSequence).toBe(0);
    expect(vs.current.totalFileCount()).toBe(0);
    const durable = node.disk.durableSnapshot();
    expect([...durable.keys()].sort()).toEqual(['/db/CURRENT', '/db/MANIFEST-000001']);
    expect(fromUtf8(durable.get('/db/CURRENT')!)).toBe('MANIFEST-000001\n');
    // The whole manifest of a new store: one record (framing: docs/formats/wal.md) holding the
    // snapshot edit of the worked example in docs/formats/manifest.md.
    const payload = '0120' + toHex(utf8(manifestFormatName)) + '0200' + '0302' + '0400';
    expect(payload).toBe(
      '0120746573736572612e696e7465726e616c2d6b65792e62797465776973652e7631020003020400',
    );
    const manifest = durable.get('/db/MANIFEST-000001')!;
    expect(toHex(manifest)).toBe(toHex(encodeRecordBytes(hexBytes(payload))));
    expect(toHex(manifest)).toBe('cb77a966' + '28000000' + '01' + '84be633a' + payload);
  });

  it('refuses a directory that already holds a store; recover needs one', async () => {
    const { node, run } = sim();
    expect(await codeOf(run(VersionSet.recover(node.env, dir)))).toBe('NOT_FOUND');
    expect(await run(VersionSet.exists(node.env, dir))).toBe(false);
    await run(VersionSet.create(node.env, dir));
    expect(await run(VersionSet.exists(node.env, dir))).toBe(true);
    expect(await codeOf(run(VersionSet.create(node.env, dir)))).toBe('ALREADY_EXISTS');
  });

  it('creates nested directories durably, also ones the caller made without syncing', async () => {
    const { node, run } = sim();
    await run(VersionSet.create(node.env, '/a/b/db'));
    await run(node.env.fs.mkdir('/c/d', { recursive: true }));
    await run(VersionSet.create(node.env, '/c/d'));
    node.crash();
    node.restart();
    for (const d of ['/a/b/db', '/c/d']) {
      const vs = await run(VersionSet.recover(node.env, d));
      expect(vs.current.totalFileCount()).toBe(0);
    }
  });
});

describe('VersionSet.logAndApply and recover', () => {
  it.each([
    ['without rollover', 1 << 30],
    ['with frequent rollovers', 2048],
  ])('recovers exactly the state of 400 random edits, %s', async (_what, manifestBytesMax) => {
    const { node, run } = sim(7);
    const vs = await run(VersionSet.create(node.env, dir, { manifestBytesMax }));
    const firstManifest = vs.manifestNumber;
    const model = await applyRandomEdits(vs, run, new Prng(42), 400);
    expect(summarize(vs)).toEqual(summarize(model));
    const rolled = vs.manifestNumber !== firstManifest;
    expect(rolled).toBe(manifestBytesMax < 1 << 20);
    const next = vs.nextFileNumber;
    await run(vs.close());
    node.crash();
    node.restart();
    const back = await run(VersionSet.recover(node.env, dir, { manifestBytesMax, ...noTables }));
    expect(summarize(back)).toEqual(summarize(model));
    expect(back.nextFileNumber).toBeGreaterThan(next);
    // Recovery starts a fresh manifest holding one snapshot; only it remains.
    const names = await run(node.env.fs.list(dir));
    expect(names.filter((n) => n.startsWith('MANIFEST-'))).toEqual([
      manifestFileName(back.manifestNumber),
    ]);
    const state = await run(readManifestState(node.env.fs, dir));
    expect(state.edits).toBe(1);
    // And it goes on working after recovery.
    const model2 = await applyRandomEdits(back, run, new Prng(43), 50, model);
    await run(back.close());
    node.restart();
    const again = await run(VersionSet.recover(node.env, dir, noTables));
    expect(summarize(again)).toEqual(summarize(model2));
  });

  it('serves concurrent callers one at a time in call order', async () => {
    const { node, run } = sim();
    const vs = await run(VersionSet.create(node.env, dir));
    const order: number[] = [];
    const promises: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      const n = vs.newFileNumber();
      promises.push(
        vs
          .logAndApply(edit({ lastSequence: i + 1, addedFiles: [table(n, 0, i, i, i + 1)] }))
          .then((v) => {
            order.push(i);
            // Each resolves with the version its own edit made, which is then current.
            expect(v.fileCount(0)).toBe(i + 1);
          }),
      );
    }
    await run(Promise.all(promises));
    expect(order).toEqual([...Array(30).keys()]);
    expect(vs.lastSequence).toBe(30);
    expect(vs.current.files(0)[0]!.largestSeq).toBe(30);
  });

  it('rejects an invalid edit (assertion) without writing it, and goes on', async () => {
    const { node, run } = sim();
    const vs = await run(VersionSet.create(node.env, dir));
    const n = vs.newFileNumber();
    const ok1 = vs.logAndApply(edit({ addedFiles: [table(n, 1, 0, 10)] }));
    const bad = vs.logAndApply(edit({ addedFiles: [table(n + 100, 1, 0, 10)] })); // never handed out
    const m = vs.newFileNumber();
    const overlap = vs.logAndApply(edit({ addedFiles: [table(m, 1, 5, 15)] }));
    const gone = vs.logAndApply(edit({ deletedFiles: [{ level: 2, fileNumber: n }] }));
    const ok2 = vs.logAndApply(edit({ addedFiles: [table(m, 1, 20, 30)] }));
    expect(await codeOf(run(ok1))).toBe('ok');
    expect(await codeOf(run(bad))).toBe('ASSERTION_FAILED');
    expect(await codeOf(run(overlap))).toBe('ASSERTION_FAILED');
    expect(await codeOf(run(gone))).toBe('ASSERTION_FAILED');
    expect(await codeOf(run(ok2))).toBe('ok');
    const before = summarize(vs);
    await run(vs.close());
    node.restart();
    expect(summarize(await run(VersionSet.recover(node.env, dir, noTables)))).toEqual(before);
  });

  it('asserts that logNumber never goes back and lastSequence never decreases', async () => {
    const { node, run } = sim();
    const vs = await run(VersionSet.create(node.env, dir));
    const wal = vs.newFileNumber();
    await run(vs.logAndApply(edit({ logNumber: wal })));
    expect(vs.logNumber).toBe(wal);
    expect(await codeOf(run(vs.logAndApply(edit({ logNumber: wal - 1 }))))).toBe(
      'ASSERTION_FAILED',
    );
    vs.lastSequence = 10;
    expect(() => (vs.lastSequence = 9)).toThrow(
      expect.objectContaining({ code: 'ASSERTION_FAILED' }),
    );
    // An edit's own lastSequence below the set's is ignored, above it moves the counter.
    await run(vs.logAndApply(edit({ lastSequence: 5 })));
    expect(vs.lastSequence).toBe(10);
    await run(vs.logAndApply(edit({ lastSequence: 50 })));
    expect(vs.lastSequence).toBe(50);
  });

  it('rolls the manifest over: snapshot in a new file, CURRENT switched, old one deleted', async () => {
    const { node, run } = sim(3);
    const vs = await run(VersionSet.create(node.env, dir, { manifestBytesMax: 1024 }));
    const seen = new Set<number>([vs.manifestNumber]);
    const model = new ModelSet();
    const prng = new Prng(5);
    for (let i = 0; i < 120; i++) {
      await applyRandomEdits(vs, run, prng, 1, model);
      seen.add(vs.manifestNumber);
      const names = await run(node.env.fs.list(dir));
      expect(names.filter((n) => n.startsWith('MANIFEST-'))).toEqual([
        manifestFileName(vs.manifestNumber),
      ]);
      expect(names.some((n) => n.endsWith('.dbtmp'))).toBe(false);
      expect(fromUtf8(await run(node.env.fs.readFile(`${dir}/CURRENT`)))).toBe(
        `${manifestFileName(vs.manifestNumber)}\n`,
      );
    }
    expect(seen.size).toBeGreaterThan(5);
    const state = await run(readManifestState(node.env.fs, dir));
    expect(state.manifestNumber).toBe(vs.manifestNumber);
    expect(summarize({ ...state, current: state.version })).toEqual(summarize(model));
  });

  it('does not roll over on every edit when the snapshot alone exceeds the limit', async () => {
    const { node, run } = sim();
    const vs = await run(VersionSet.create(node.env, dir, { manifestBytesMax: 64 }));
    const files = Array.from({ length: 40 }, (_, i) =>
      table(vs.newFileNumber(), 1, i * 10, i * 10 + 5),
    );
    await run(vs.logAndApply(edit({ addedFiles: files })));
    const rolls = new Set<number>();
    for (let i = 0; i < 40; i++) {
      await run(vs.logAndApply(edit({ lastSequence: i + 1 })));
      rolls.add(vs.manifestNumber);
    }
    // A 40-file snapshot is ~700 bytes; each counter edit ~10: doubling takes dozens of edits.
    expect(rolls.size).toBeLessThanOrEqual(2);
  });

  it('moves the next file number past every numbered file on disk', async () => {
    const { node, run } = sim();
    const vs = await run(VersionSet.create(node.env, dir));
    expect(vs.nextFileNumber).toBe(2);
    await run(node.env.fs.writeFile(`${dir}/${walFileName(50)}`, utf8('x'), { sync: true }));
    await run(node.env.fs.writeFile(`${dir}/${tableFileName(70)}`, utf8('x'), { sync: true }));
    await run(node.env.fs.writeFile(`${dir}/9999999.other`, utf8('x'), { sync: true }));
    await run(node.env.fs.syncDir(dir));
    await run(vs.close());
    node.restart();
    const back = await run(VersionSet.recover(node.env, dir, noTables));
    expect(back.manifestNumber).toBe(71);
    expect(back.nextFileNumber).toBe(72);
    back.markFileNumberUsed(100);
    expect(back.newFileNumber()).toBe(101);
  });
});

describe('VersionSet live files and obsolete-file deletion', () => {
  it('keeps files of pinned versions and pending outputs; deletes the rest', async () => {
    const { node, run } = sim();
    const fs = node.env.fs;
    const vs = await run(VersionSet.create(node.env, dir));
    const touch = async (name: string) => {
      await run(fs.writeFile(`${dir}/${name}`, utf8(name), { sync: true }));
    };
    const wal1 = vs.newFileNumber();
    await touch(walFileName(wal1));
    const t1 = vs.newFileNumber();
    const t2 = vs.newFileNumber();
    await touch(tableFileName(t1));
    await touch(tableFileName(t2));
    const walPinned = vs.newFileNumber(); // below logNumber, but the engine still needs it
    await touch(walFileName(walPinned));
    vs.pendingOutputs.add(walPinned);
    const wal2 = vs.newFileNumber();
    await touch(walFileName(wal2));
    await run(
      vs.logAndApply(
        edit({ logNumber: wal2, addedFiles: [table(t1, 0, 0, 10), table(t2, 0, 5, 20)] }),
      ),
    );
    // A reader pins this version.
    const pinned = vs.current;
    pinned.ref();
    const t3 = vs.newFileNumber();
    await touch(tableFileName(t3));
    await run(
      vs.logAndApply(
        edit({
          deletedFiles: [
            { level: 0, fileNumber: t1 },
            { level: 0, fileNumber: t2 },
          ],
          addedFiles: [table(t3, 1, 0, 20)],
        }),
      ),
    );
    expect(vs.liveVersionCount).toBe(2);
    expect([...vs.liveFileNumbers()].sort()).toEqual([t1, t2, t3].sort());
    // A compaction in progress, an orphan, a foreign file, a stale temp and manifest.
    const pending = vs.newFileNumber();
    vs.pendingOutputs.add(pending);
    await touch(tableFileName(pending));
    const orphan = vs.newFileNumber();
    await touch(tableFileName(orphan));
    await touch('LOCK');
    await touch('000001.dbtmp');
    await touch(manifestFileName(1_000));
    await run(fs.syncDir(dir));

    const numeric = (ns: number[]) => [...ns].sort((a, b) => a - b);
    const removed1 = await run(vs.deleteObsoleteFiles());
    expect(numeric(removed1)).toEqual(numeric([orphan, wal1, 1, 1_000]));
    expect(await run(fs.exists(`${dir}/${tableFileName(t1)}`))).toBe(true);
    expect(await run(fs.exists(`${dir}/${walFileName(walPinned)}`))).toBe(true);

    pinned.unref();
    expect(vs.liveVersionCount).toBe(1);
    expect(await run(vs.deleteObsoleteFiles())).toEqual([t1, t2]);
    vs.pendingOutputs.delete(pending);
    vs.pendingOutputs.delete(walPinned);
    expect(numeric(await run(vs.deleteObsoleteFiles()))).toEqual(numeric([pending, walPinned]));
    expect(await run(vs.deleteObsoleteFiles())).toEqual([]);
    // Deletions are durable: a crash does not bring the files back.
    node.crash();
    const left = [...node.disk.durableSnapshot().keys()].map((p) => p.slice(dir.length + 1));
    expect(left.sort()).toEqual(
      [
        'CURRENT',
        'LOCK',
        manifestFileName(vs.manifestNumber),
        tableFileName(t3),
        walFileName(wal2),
      ].sort(),
    );
  });
});

describe('VersionSet recovery from damaged stores', () => {
  async function storeWithEdits(seed: number) {
    const h = sim(seed);
    const vs = await h.run(VersionSet.create(h.node.env, dir));
    const states = [summarize(vs)];
    const model = new ModelSet();
    const gen: GeneratorState = { version: model.current, lastSequence: 0 };
    const prng = new Prng(seed);
    for (let i = 0; i < 6; i++) {
      const e = randomValidEdit(prng, gen, () => vs.newFileNumber());
      states.push(model.apply(e));
      gen.version = model.current;
      await h.run(vs.logAndApply(e));
    }
    await h.run(vs.close());
    const path = `${dir}/${manifestFileName(vs.manifestNumber)}`;
    const bytes = h.node.disk.durableSnapshot().get(path)!;
    return { ...h, path, bytes, states };
  }

  it('flipping a byte inside any record before the last is CORRUPTION naming the file', async () => {
    const { node, run, path, bytes } = await storeWithEdits(11);
    const log = parseLog(bytes, path);
    expect(log.records.length).toBe(7);
    const prng = new Prng(1);
    let checked = 0;
    for (let r = 0; r < log.records.length - 1; r++) {
      const rec = log.records[r]!;
      // Header and payload alike (the log's header checksum vouches for the length).
      const start = rec.byteOffset - bytes.byteOffset - recordHeaderBytes;
      for (let t = 0; t < 12; t++) {
        const damaged = new Uint8Array(bytes);
        const at = start + prng.int(recordHeaderBytes + rec.length);
        damaged[at] = damaged[at]! ^ (1 << prng.int(8));
        node.disk.volume.putDurable(path, damaged);
        node.restart();
        const err = await run(VersionSet.recover(node.env, dir, noTables)).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isTesseraError(err, 'CORRUPTION')).toBe(true);
        if (!isTesseraError(err)) continue;
        expect(err.message).toContain(path);
        expect(err.details?.path).toBe(path);
        checked++;
      }
    }
    expect(checked).toBe(72);
  });

  it('a torn last record is the edit in flight: dropped, the rest recovered', async () => {
    const { node, run, path, bytes, states } = await storeWithEdits(12);
    const log = parseLog(bytes, path);
    const last = log.records[log.records.length - 1]!;
    const lastStart = last.byteOffset - bytes.byteOffset - recordHeaderBytes;
    for (const image of [bytes.subarray(0, lastStart + 5), bytes.subarray(0, bytes.length - 1)]) {
      node.disk.volume.putDurable(path, image);
      node.restart();
      const state = await run(readManifestState(node.env.fs, dir));
      expect(state.tornTail).toBe(true);
      expect(state.edits).toBe(6);
      const back = await run(VersionSet.recover(node.env, dir, noTables));
      expect(summarize(back)).toEqual(states[5]);
      await run(back.close());
      // Recovery rewrote the store; put the original manifest back for the next image.
      node.disk.volume.putDurable(`${dir}/CURRENT`, utf8(`${path.slice(dir.length + 1)}\n`));
    }
  });

  it('a complete last record with a bad checksum is CORRUPTION, not a torn tail', async () => {
    // A synced edit may already have had effects (the store deletes the files it made obsolete),
    // so dropping it as torn could lose data; a crash only ever cuts a write short.
    const { node, run, path, bytes } = await storeWithEdits(12);
    const damaged = new Uint8Array(bytes);
    damaged[bytes.length - 1] = damaged[bytes.length - 1]! ^ 0x40;
    node.disk.volume.putDurable(path, damaged);
    node.restart();
    const err = await run(VersionSet.recover(node.env, dir, noTables)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isTesseraError(err, 'CORRUPTION'), String(err)).toBe(true);
    if (isTesseraError(err)) expect(err.details?.path).toBe(path);
  });

  it('a bad CURRENT, a missing manifest, or a foreign manifest is CORRUPTION naming the file', async () => {
    const { node, run } = sim();
    const put = (name: string, data: Uint8Array) =>
      node.disk.volume.putDurable(`${dir}/${name}`, data);
    const recoverError = async () => {
      node.restart();
      return run(VersionSet.recover(node.env, dir, noTables)).then(
        () => undefined,
        (e: unknown) => e,
      );
    };
    const expectCorruption = async (path: string, pattern: RegExp) => {
      const err = await recoverError();
      expect(isTesseraError(err, 'CORRUPTION'), String(err)).toBe(true);
      if (!isTesseraError(err)) return;
      expect(err.details?.path).toBe(path);
      expect(err.message).toMatch(pattern);
    };
    const snapshot = (change: Partial<VersionEdit> = {}) =>
      encodeRecordBytes(
        encodeVersionEdit({
          formatName: manifestFormatName,
          logNumber: 0,
          nextFileNumber: 5,
          lastSequence: 0,
          deletedFiles: [],
          addedFiles: [],
          ...change,
        }),
      );
    const manifestPath = `${dir}/MANIFEST-000004`;

    for (const text of [
      'MANIFEST-000004',
      'MANIFEST-4\n',
      'garbage\n',
      '',
      'MANIFEST-000004\n\n',
    ]) {
      put('CURRENT', utf8(text));
      await expectCorruption(`${dir}/CURRENT`, /does not name a manifest/);
    }
    put('CURRENT', utf8('MANIFEST-000004\n'));
    await expectCorruption(manifestPath, /does not exist/);

    put('MANIFEST-000004', new Uint8Array(0));
    await expectCorruption(manifestPath, /no complete record/);

    put('MANIFEST-000004', snapshot({ formatName: 'leveldb.BytewiseComparator' }));
    await expectCorruption(manifestPath, /format 'leveldb.BytewiseComparator'/);

    put('MANIFEST-000004', encodeRecordBytes(encodeVersionEdit(edit({ lastSequence: 3 }))));
    await expectCorruption(manifestPath, /not a snapshot/);

    put('MANIFEST-000004', snapshot({ lastSequence: undefined }));
    await expectCorruption(manifestPath, /no lastSequence/);

    const deletesMissing = encodeRecordBytes(
      encodeVersionEdit(edit({ deletedFiles: [{ level: 1, fileNumber: 3 }] })),
    );
    put('MANIFEST-000004', concatBytes([snapshot(), deletesMissing, snapshot()]));
    await expectCorruption(manifestPath, /edit 1: .*deletes file 3/);

    const overlapping = encodeRecordBytes(
      encodeVersionEdit(edit({ addedFiles: [table(2, 1, 0, 10), table(3, 1, 10, 20)] })),
    );
    put('MANIFEST-000004', concatBytes([snapshot(), overlapping]));
    await expectCorruption(manifestPath, /overlap/);

    const unknownTag = encodeRecordBytes(new Uint8Array([0x09, 0x01]));
    put('MANIFEST-000004', concatBytes([snapshot(), unknownTag, snapshot()]));
    await expectCorruption(manifestPath, /edit 1: unknown field tag 9/);

    // Every failed recovery wrote nothing: the store is as it was.
    expect(node.disk.volume.exists(manifestPath)).toBe(true);
    put('MANIFEST-000004', snapshot({ lastSequence: 77 }));
    node.restart();
    const vs = await run(VersionSet.recover(node.env, dir, noTables));
    expect(vs.lastSequence).toBe(77);
    expect(vs.manifestNumber).toBe(5);
  });
});

describe('VersionSet recovery checks that listed tables exist', () => {
  it('refuses a store whose manifest lists a missing table, unless told not to check', async () => {
    const { node, run } = sim();
    const fs = node.env.fs;
    const vs = await run(VersionSet.create(node.env, dir));
    const t = vs.newFileNumber();
    await run(fs.writeFile(`${dir}/${tableFileName(t)}`, utf8('table'), { sync: true }));
    await run(fs.syncDir(dir));
    await run(vs.logAndApply(edit({ addedFiles: [table(t, 1, 0, 10)] })));
    await run(vs.close());
    node.restart();
    const back = await run(VersionSet.recover(node.env, dir));
    expect([...back.current.allFileNumbers()]).toEqual([t]);
    await run(node.env.fs.remove(`${dir}/${tableFileName(t)}`));
    await run(node.env.fs.syncDir(dir));
    await run(back.close());
    node.restart();
    const err = await run(VersionSet.recover(node.env, dir)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isTesseraError(err, 'CORRUPTION')).toBe(true);
    if (!isTesseraError(err)) return;
    expect(err.message).toContain(tableFileName(t));
    expect(err.details?.path).toBe(`${dir}/${manifestFileName(back.manifestNumber)}`);
    node.restart();
    const unchecked = await run(VersionSet.recover(node.env, dir, noTables));
    expect([...unchecked.current.allFileNumbers()]).toEqual([t]);
  });
});

describe('VersionSet after an I/O failure', () => {
  it('refuses all later work (fail-stop); recovery finds the state before or after', async () => {
    // The failed sync leaves the record unsynced; a crash keeps it whole only rarely (kept and
    // not torn), hence many seeds to see both outcomes.
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 300; seed++) {
      const { world, node, run } = sim(seed);
      const vs = await run(VersionSet.create(node.env, dir));
      const n = vs.newFileNumber();
      await run(vs.logAndApply(edit({ addedFiles: [table(n, 0, 0, 5)] })));
      const before = summarize(vs);
      world.setDiskFaults('n1', { syncErrorRate: 1 });
      const m = vs.newFileNumber();
      const e = edit({ lastSequence: 9, addedFiles: [table(m, 0, 0, 5, 9)] });
      expect(await codeOf(run(vs.logAndApply(e)))).toBe('IO_ERROR');
      expect(summarize(vs)).toEqual(before);
      world.setDiskFaults('n1', { syncErrorRate: 0 });
      expect(await codeOf(run(vs.logAndApply(edit({}))))).toBe('IO_ERROR');
      expect(await codeOf(run(vs.deleteObsoleteFiles()))).toBe('IO_ERROR');
      node.crash();
      node.restart();
      const back = await run(VersionSet.recover(node.env, dir, noTables));
      const after = new ModelSet();
      after.apply(edit({ addedFiles: [table(n, 0, 0, 5)] }));
      const afterSummary = after.apply(e);
      const got = summarize(back);
      if (got.lastSequence === 0) {
        expect(got).toEqual(before);
        outcomes.add('before');
      } else {
        expect(got).toEqual(afterSummary);
        outcomes.add('after');
      }
    }
    expect([...outcomes].sort()).toEqual(['after', 'before']);
  });
});

describe('VersionSet on the real file system', () => {
  it('creates, applies, recovers and rolls over', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-manifest-'));
    try {
      const env: Env = realEnv({ name: 'manifest-test', root, seed: 1 });
      const run = <T>(p: Promise<T>) => p;
      const vs = await VersionSet.create(env, 'store', { manifestBytesMax: 4096 });
      const model = await applyRandomEdits(vs, run, new Prng(9), 150);
      const rolledTo = vs.manifestNumber;
      expect(rolledTo).toBeGreaterThan(1);
      await vs.close();
      const back = await VersionSet.recover(env, 'store', noTables);
      expect(summarize(back)).toEqual(summarize(model));
      expect(await back.deleteObsoleteFiles()).toEqual([]);
      const names = await env.fs.list('store');
      expect(names).toEqual(['CURRENT', manifestFileName(back.manifestNumber)]);
      await back.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
