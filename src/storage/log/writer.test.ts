import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { realEnv } from '../../env/real/index.js';
import { SimWorld } from '../../env/sim/index.js';
import type { File, FileSystem } from '../../env/types.js';
import { concatBytes, equalBytes, toHex, utf8 } from '../../util/bytes.js';
import { crc32c, maskCrc } from '../../util/crc32c.js';
import { isTesseraError } from '../../util/errors.js';
import { Prng } from '../../util/prng.js';
import { recordBytes, recordBytesMax } from './format.js';
import { readLog } from './reader.js';
import { LogWriter, encodeRecordBytes, parentDirectory } from './writer.js';
import { codeOf } from '../../util/testing/code-of.js';

const path = '/data/log';

function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

function sim(seed = 1) {
  const world = new SimWorld({ seed });
  const node = world.addNode('n1');
  const run = <T>(p: Promise<T>): Promise<T> => world.settle(p, { timeoutMs: 60_000 });
  return { world, node, run, fs: node.env.fs };
}

/** A FileSystem whose files count their appends and syncs. */
function counting(fs: FileSystem): { fs: FileSystem; appends: () => number; syncs: () => number } {
  let appends = 0;
  let syncs = 0;
  const wrap = (f: File): File => ({
    path: f.path,
    size: () => f.size(),
    read: (p, n) => f.read(p, n),
    write: (p, d) => f.write(p, d),
    append: (d) => (appends++, f.append(d)),
    sync: () => (syncs++, f.sync()),
    truncate: (n) => f.truncate(n),
    close: () => f.close(),
  });
  const wrapped: FileSystem = Object.create(fs) as FileSystem;
  wrapped.open = async (p, o) => wrap(await fs.open(p, o));
  return { fs: wrapped, appends: () => appends, syncs: () => syncs };
}

describe('LogWriter', () => {
  it('frames the worked example of docs/formats/wal.md byte for byte', () => {
    expect(toHex(encodeRecordBytes(utf8('hello')))).toBe('017a56ad050000000172c9d7ea68656c6c6f');
    expect(toHex(encodeRecordBytes(new Uint8Array(0)))).toBe('ac57607000000000010b59f08c');
    const doc = readFileSync(new URL('../../../docs/formats/wal.md', import.meta.url), 'utf8');
    expect(doc).toContain('`017a56ad 05000000 01 72c9d7ea 68656c6c6f`');
    expect(doc).toContain('`ac576070 00000000 01 0b59f08c`');
    expect(doc).toContain('crc        = mask(0xc7948569) = 0xad567a01');
    expect(doc).toContain('headerCrc  = mask(0x6f4d242a) = 0xead7c972');
    expect(doc).toContain('`05 00 00 00 01 72 c9 d7 ea 68 65 6c 6c 6f`');
    // The sums the document quotes, recomputed from their inputs.
    expect(crc32c(fromHex('0500000001'))).toBe(0x6f4d242a);
    expect(maskCrc(0x6f4d242a)).toBe(0xead7c972);
    expect(crc32c(fromHex('050000000172c9d7ea68656c6c6f'))).toBe(0xc7948569);
    expect(maskCrc(0xc7948569)).toBe(0xad567a01);
    expect(crc32c(fromHex('0000000001'))).toBe(0xb719f536);
    expect(maskCrc(0xb719f536)).toBe(0x8cf0590b);
    expect(crc32c(fromHex('00000000010b59f08c'))).toBe(0xb66a66ee);
    expect(maskCrc(0xb66a66ee)).toBe(0x706057ac);
  });

  it('round-trips append, appendMany and sync through the file system', async () => {
    const { run, fs } = sim();
    await run(fs.mkdir('/data'));
    const counted = counting(fs);
    const w = await run(LogWriter.create(counted.fs, path));
    const prng = new Prng(3);
    const payloads = Array.from({ length: 50 }, () => prng.bytes(prng.between(0, 200)));
    await run(w.append(payloads[0]!));
    expect(counted.appends()).toBe(1);
    await run(w.appendMany(payloads.slice(1)));
    expect(counted.appends()).toBe(2); // 49 records, one write
    await run(w.appendMany([]));
    expect(counted.appends()).toBe(2);
    await run(w.sync());
    const total = payloads.reduce((n, p) => n + recordBytes(p.length), 0);
    expect(w.size).toBe(total);
    expect(await run(fs.readFile(path))).toEqual(concatBytes(payloads.map((p) => w.encode(p))));
    await run(w.close());
    await run(w.close()); // twice is a no-op
    const read = await run(readLog(fs, path));
    expect(read.records).toEqual(payloads);
    expect(read).toMatchObject({ validLength: total, tornTail: false });
  });

  it('makes the new file durable: a crash right after create keeps it', async () => {
    const { run, node } = sim(4);
    await run(node.env.fs.mkdir('/data'));
    await run(node.env.fs.syncDir('/'));
    const w = await run(LogWriter.create(node.env.fs, path));
    await run(w.append(utf8('a')));
    await run(w.sync());
    node.restart();
    expect((await run(readLog(node.env.fs, path))).records).toEqual([utf8('a')]);
  });

  it('create empties an existing file', async () => {
    const { run, fs } = sim();
    await run(fs.writeFile('/log', utf8('old bytes')));
    const w = await run(LogWriter.create(fs, '/log'));
    expect(w.size).toBe(0);
    expect((await run(fs.readFile('/log'))).length).toBe(0);
  });

  it('openForAppend cuts a torn tail, durably, then appends after the valid records', async () => {
    const { run, node } = sim(5);
    const fs = node.env.fs;
    await run(fs.mkdir('/data'));
    await run(fs.syncDir('/'));
    const w = await run(LogWriter.create(fs, path));
    await run(w.appendMany([utf8('one'), utf8('two')]));
    const third = w.encode(utf8('three'));
    await run(w.close());
    const f = await run(fs.open(path));
    await run(f.append(third.subarray(0, third.length - 2))); // a torn record
    await run(f.sync());
    await run(f.close());
    const read = await run(readLog(fs, path));
    expect(read).toMatchObject({ tornTail: true, validLength: 2 * recordBytes(3) });

    const counted = counting(fs);
    const w2 = await run(LogWriter.openForAppend(counted.fs, path, read.validLength));
    expect(counted.syncs()).toBe(1);
    expect(w2.size).toBe(read.validLength);
    // The cut is durable before anything new lands.
    expect(node.disk.durableSnapshot().get(path)!.length).toBe(read.validLength);
    await run(w2.append(utf8('four')));
    await run(w2.sync());
    await run(w2.close());
    const again = await run(readLog(fs, path));
    expect(again.records).toEqual([utf8('one'), utf8('two'), utf8('four')]);
    expect(again.tornTail).toBe(false);
  });

  it('openForAppend refuses a valid length beyond the file, or a bad one', async () => {
    const { run, fs } = sim();
    const w = await run(LogWriter.create(fs, '/log'));
    await run(w.append(utf8('x')));
    await run(w.close());
    expect(await codeOf(run(LogWriter.openForAppend(fs, '/log', 100)))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(run(LogWriter.openForAppend(fs, '/log', -1)))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(run(LogWriter.openForAppend(fs, '/missing', 0)))).toBe('NOT_FOUND');
  });

  it('refuses a payload over recordBytesMax, writing nothing of the batch', async () => {
    const { run, fs } = sim();
    const w = await run(LogWriter.create(fs, '/log'));
    const tooBig = new Uint8Array(recordBytesMax + 1);
    expect(() => w.encode(tooBig)).toThrow(/exceeds the maximum/);
    expect(await codeOf(run(w.appendMany([utf8('ok'), tooBig])))).toBe('INVALID_ARGUMENT');
    expect(w.size).toBe(0);
    expect((await run(fs.readFile('/log'))).length).toBe(0);
    await run(w.append(utf8('still usable')));
    expect(w.size).toBe(recordBytes(12));
  });

  it('refuses all work after a failed write or sync, and after close', async () => {
    for (const fault of ['writeErrorRate', 'syncErrorRate'] as const) {
      const { world, run, fs } = sim();
      const w = await run(LogWriter.create(fs, '/log'));
      world.setDiskFaults('n1', { [fault]: 1 });
      const op = fault === 'writeErrorRate' ? w.append(utf8('a')) : w.sync();
      expect(await codeOf(run(op))).toBe('IO_ERROR');
      world.setDiskFaults('n1', { [fault]: 0 });
      const refused = await run(w.append(utf8('b'))).catch((e: unknown) => e);
      expect(isTesseraError(refused, 'IO_ERROR')).toBe(true);
      expect(String((refused as Error).message)).toMatch(/earlier write or sync/);
      expect(await codeOf(run(w.sync()))).toBe('IO_ERROR');
      await run(w.close());
      expect(await codeOf(run(w.append(utf8('c'))))).toBe('IO_ERROR');
    }
  });

  it('works on the real file system too', async () => {
    const root = mkdtempSync(join(tmpdir(), 'tessera-log-'));
    try {
      const env = realEnv({ root, seed: 1 });
      await env.fs.mkdir('/data');
      const w = await LogWriter.create(env.fs, path);
      const payloads = [utf8('alpha'), new Uint8Array(0), new Uint8Array(70_000).fill(9)];
      await Promise.all([w.append(payloads[0]!), w.appendMany(payloads.slice(1))]);
      await w.sync();
      await w.close();
      const read = await readLog(env.fs, path);
      expect(read.records.length).toBe(3);
      read.records.forEach((r, i) => expect(equalBytes(r, payloads[i]!)).toBe(true));
      const w2 = await LogWriter.openForAppend(env.fs, path, read.validLength);
      await w2.append(utf8('omega'));
      await w2.close();
      expect((await readLog(env.fs, path)).records.length).toBe(4);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('names the parent directory to sync', () => {
    expect(parentDirectory('/data/wal/000001.log')).toBe('/data/wal');
    expect(parentDirectory('/log')).toBe('/');
    expect(parentDirectory('log')).toBe('/');
    expect(parentDirectory('data/log')).toBe('data');
  });
});
