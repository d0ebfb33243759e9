import { constants } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from '../../util/bytes.js';
import { isTesseraError, type ErrorCode } from '../../util/errors.js';
import { RealFileSystem } from './fs.js';

let dir: string;
let fs: RealFileSystem;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-fs-'));
  fs = new RealFileSystem(dir);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function expectCode(p: Promise<unknown>, code: ErrorCode, path?: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isTesseraError(err, code), `expected ${code}, got ${String(err)}`).toBe(true);
  if (path !== undefined && isTesseraError(err)) expect(err.details?.path).toBe(path);
}

describe('RealFileSystem open', () => {
  it('fails NOT_FOUND for a missing file unless create is set', async () => {
    await expectCode(fs.open('a'), 'NOT_FOUND', 'a');
    const f = await fs.open('a', { create: true });
    expect(f.path).toBe('a');
    expect(await f.size()).toBe(0);
    await f.close();
  });

  it('with exclusive fails ALREADY_EXISTS for an existing file', async () => {
    await fs.writeFile('a', utf8('x'));
    await expectCode(fs.open('a', { create: true, exclusive: true }), 'ALREADY_EXISTS', 'a');
    const f = await fs.open('b', { create: true, exclusive: true });
    await f.close();
  });

  it('truncates on open when asked', async () => {
    await fs.writeFile('a', utf8('hello'));
    const f = await fs.open('a', { truncate: true });
    expect(await f.size()).toBe(0);
    await f.close();
    expect(await fs.readFile('a')).toEqual(new Uint8Array(0));
  });

  it('readOnly refuses writes with IO_ERROR', async () => {
    await fs.writeFile('a', utf8('hello'));
    const f = await fs.open('a', { readOnly: true });
    expect(fromUtf8(await f.read(0, 5))).toBe('hello');
    await expectCode(f.write(0, utf8('j')), 'IO_ERROR', 'a');
    await expectCode(f.append(utf8('j')), 'IO_ERROR', 'a');
    // A failed write makes every later sync fail: those bytes will never be durable.
    await expectCode(f.sync(), 'IO_ERROR', 'a');
    await f.close();
    await expectCode(fs.open('a', { readOnly: true, truncate: true }), 'INVALID_ARGUMENT');
  });

  it('refuses to open a directory', async () => {
    await fs.mkdir('d');
    await expectCode(fs.open('d'), 'IO_ERROR', 'd');
    await expectCode(fs.open('d', { readOnly: true }), 'IO_ERROR', 'd');
  });

  it('fails NOT_DIRECTORY when a parent is a file', async () => {
    await fs.writeFile('f', utf8('x'));
    await expectCode(fs.open('f/g', { create: true }), 'NOT_DIRECTORY', 'f/g');
    await expectCode(fs.open('nodir/g', { create: true }), 'NOT_FOUND', 'nodir/g');
  });
});

describe('RealFile', () => {
  it('reads, writes, extends with zeros and truncates', async () => {
    const f = await fs.open('a', { create: true });
    await f.write(0, utf8('hello'));
    await f.write(8, utf8('!'));
    expect(await f.size()).toBe(9);
    expect(await f.read(0, 100)).toEqual(new Uint8Array([...utf8('hello'), 0, 0, 0, 33]));
    expect(fromUtf8(await f.read(1, 3))).toBe('ell');
    expect(await f.read(9, 10)).toEqual(new Uint8Array(0));
    expect(await f.read(50, 10)).toEqual(new Uint8Array(0));
    await f.truncate(4);
    expect(await f.size()).toBe(4);
    expect(fromUtf8(await f.read(0, 100))).toBe('hell');
    expect(await f.append(utf8('o'))).toBe(4);
    await f.sync();
    await f.close();
    expect(fromUtf8(await fs.readFile('a'))).toBe('hello');
  });

  it('opens a dsync file with O_DSYNC (Linux: seen in /proc/self/fdinfo) and works as any file', async () => {
    const flagsOf = async (name: string): Promise<number | undefined> => {
      if (process.platform !== 'linux') return undefined;
      const target = join(dir, name);
      for (const fd of await readdir('/proc/self/fd')) {
        const link = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
        if (link !== target) continue;
        const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8');
        return parseInt(/flags:\s*([0-7]+)/.exec(info)![1]!, 8);
      }
      throw new Error(`no descriptor open on ${target}`);
    };
    const d = await fs.open('d', { create: true, dsync: true });
    const plain = await fs.open('p', { create: true });
    const dsyncBit = constants.O_DSYNC;
    const dFlags = await flagsOf('d');
    if (dFlags !== undefined) {
      expect(dFlags & dsyncBit).toBe(dsyncBit);
      expect((await flagsOf('p'))! & dsyncBit).toBe(0);
    }
    expect(await d.append(utf8('hello'))).toBe(0);
    await d.write(5, utf8('!'));
    await d.sync(); // only waits: every write returned durable
    await d.truncate(2);
    await d.sync(); // a truncate is not covered by O_DSYNC: this one fdatasyncs
    expect(await d.size()).toBe(2);
    await d.close();
    await plain.close();
    expect(fromUtf8(await fs.readFile('d'))).toBe('he');
  });

  it('returns plain Uint8Arrays, not pooled Buffers', async () => {
    await fs.writeFile('a', utf8('abc'));
    const f = await fs.open('a');
    const r = await f.read(0, 3);
    expect(r.buffer.byteLength).toBe(3);
    await f.close();
  });

  it('append returns offsets from the current end, including at open', async () => {
    await fs.writeFile('a', utf8('abc'));
    const f = await fs.open('a');
    expect(await f.append(utf8('de'))).toBe(3);
    expect(await f.append(utf8('f'))).toBe(5);
    await f.close();
    expect(fromUtf8(await fs.readFile('a'))).toBe('abcdef');
  });

  it('size sees growth through another handle', async () => {
    const writer = await fs.open('a', { create: true });
    const reader = await fs.open('a', { readOnly: true });
    await writer.append(utf8('hello'));
    expect(await reader.size()).toBe(5);
    expect(fromUtf8(await reader.read(0, 5))).toBe('hello');
    await Promise.all([writer.close(), reader.close()]);
  });

  it('concurrent appends never overlap', async () => {
    const f = await fs.open('log', { create: true });
    const records = Array.from({ length: 200 }, (_, i) => utf8(`record-${i};`.repeat(1 + (i % 7))));
    const offsets = await Promise.all(records.map((r) => f.append(r)));
    await f.sync();
    const total = records.reduce((n, r) => n + r.length, 0);
    expect(await f.size()).toBe(total);
    for (let i = 0; i < records.length; i++) {
      expect(await f.read(offsets[i]!, records[i]!.length)).toEqual(records[i]);
    }
    const sorted = [...offsets].sort((a, b) => a - b);
    expect(new Set(offsets).size).toBe(records.length);
    expect(sorted[0]).toBe(0);
    await f.close();
  });

  it('orders truncate after earlier writes and before later ones', async () => {
    const f = await fs.open('a', { create: true });
    const w1 = f.append(utf8('0123456789'));
    const t = f.truncate(3);
    const w2 = f.append(utf8('xyz'));
    expect(await w1).toBe(0);
    await t;
    expect(await w2).toBe(3);
    expect(fromUtf8(await f.read(0, 100))).toBe('012xyz');
    await f.close();
  });

  it('copies written bytes, so the caller may reuse its buffer at once', async () => {
    const f = await fs.open('a', { create: true });
    const buf = utf8('aaaa');
    const w1 = f.append(buf);
    buf.fill(98); // 'b'
    const w2 = f.write(4, buf);
    const w3 = fs.writeFile('b', buf);
    buf.fill(99);
    await Promise.all([w1, w2, w3]);
    expect(fromUtf8(await f.read(0, 8))).toBe('aaaabbbb');
    expect(fromUtf8(await fs.readFile('b'))).toBe('bbbb');
    await f.close();
  });

  it('sync covers writes issued before it', async () => {
    const f = await fs.open('a', { create: true });
    const appends = [f.append(utf8('a')), f.append(utf8('b'))];
    await f.sync();
    expect(await f.size()).toBe(2);
    await Promise.all(appends);
    await f.close();
  });

  it('fails operations after close; close twice is fine', async () => {
    const f = await fs.open('a', { create: true });
    await f.close();
    await f.close();
    await expectCode(f.append(utf8('x')), 'IO_ERROR', 'a');
    await expectCode(f.read(0, 1), 'IO_ERROR', 'a');
  });

  it('rejects negative or fractional positions', async () => {
    const f = await fs.open('a', { create: true });
    await expectCode(f.read(-1, 1), 'INVALID_ARGUMENT');
    await expectCode(f.write(1.5, utf8('x')), 'INVALID_ARGUMENT');
    await expectCode(f.truncate(-2), 'INVALID_ARGUMENT');
    await f.close();
  });
});

describe('RealFileSystem whole-file and directory operations', () => {
  it('writeFile creates and replaces; readFile reads', async () => {
    await fs.writeFile('a', utf8('first'));
    await fs.writeFile('a', utf8('2nd'), { sync: true });
    expect(fromUtf8(await fs.readFile('a'))).toBe('2nd');
    await expectCode(fs.readFile('missing'), 'NOT_FOUND', 'missing');
    await expectCode(fs.writeFile('no/such/dir', utf8('x')), 'NOT_FOUND', 'no/such/dir');
  });

  it('rename replaces the target atomically', async () => {
    await fs.writeFile('a', utf8('new'));
    await fs.writeFile('b', utf8('old'));
    await fs.rename('a', 'b');
    expect(await fs.exists('a')).toBe(false);
    expect(fromUtf8(await fs.readFile('b'))).toBe('new');
    await expectCode(fs.rename('a', 'c'), 'NOT_FOUND', 'a');
  });

  it('list is sorted by byte order', async () => {
    await fs.mkdir('d');
    // UTF-16 order would put U+1F600 (a surrogate pair) before U+FF21; UTF-8 order does not.
    const names = ['b', 'B', 'a10', 'a9', '\u{1F600}', '\uFF21', '_'];
    for (const n of names) await fs.writeFile(`d/${n}`, utf8(n));
    expect(await fs.list('d')).toEqual(['B', '_', 'a10', 'a9', 'b', '\uFF21', '\u{1F600}']);
    expect(await fs.list('/')).toEqual(['d']);
    await expectCode(fs.list('nope'), 'NOT_FOUND', 'nope');
    await expectCode(fs.list('d/b'), 'NOT_DIRECTORY', 'd/b');
  });

  it('mkdir: ALREADY_EXISTS unless recursive; NOT_FOUND for a missing parent', async () => {
    await fs.mkdir('d');
    await expectCode(fs.mkdir('d'), 'ALREADY_EXISTS', 'd');
    await fs.mkdir('d', { recursive: true });
    await expectCode(fs.mkdir('x/y'), 'NOT_FOUND', 'x/y');
    await fs.mkdir('x/y/z', { recursive: true });
    expect((await fs.stat('x/y/z')).isDirectory).toBe(true);
    await fs.syncDir('x/y');
    await fs.syncDir('');
  });

  it('syncDir needs an existing directory', async () => {
    await fs.writeFile('f', utf8('x'));
    await expectCode(fs.syncDir('f'), 'NOT_DIRECTORY', 'f');
    await expectCode(fs.syncDir('missing'), 'NOT_FOUND', 'missing');
  });

  it('remove: files, empty directories, trees with recursive', async () => {
    await fs.writeFile('f', utf8('x'));
    await fs.remove('f');
    expect(await fs.exists('f')).toBe(false);
    await expectCode(fs.remove('f'), 'NOT_FOUND', 'f');
    await expectCode(fs.remove('f', { recursive: true }), 'NOT_FOUND', 'f');

    await fs.mkdir('empty');
    await fs.remove('empty');
    expect(await fs.exists('empty')).toBe(false);

    await fs.mkdir('t/u', { recursive: true });
    await fs.writeFile('t/u/v', utf8('x'));
    await expectCode(fs.remove('t'), 'IO_ERROR', 't');
    await fs.remove('t', { recursive: true });
    expect(await fs.exists('t')).toBe(false);
  });

  it('exists and stat', async () => {
    await fs.writeFile('f', utf8('12345'));
    expect(await fs.exists('f')).toBe(true);
    expect(await fs.exists('g')).toBe(false);
    expect(await fs.exists('f/g')).toBe(false);
    expect(await fs.stat('f')).toEqual({ size: 5, isDirectory: false });
    expect((await fs.stat('')).isDirectory).toBe(true);
    await expectCode(fs.stat('g'), 'NOT_FOUND', 'g');
  });

  it('error messages name the path and the errno', async () => {
    const err = await fs.readFile('missing/file').catch((e: unknown) => e);
    expect(isTesseraError(err, 'NOT_FOUND')).toBe(true);
    if (!isTesseraError(err)) return;
    expect(err.message).toContain("'missing/file'");
    expect(err.message).toContain('ENOENT');
    expect(err.details?.errno).toBe('ENOENT');
  });
});

describe('RealFileSystem root', () => {
  it('resolves every path under the root; a leading slash names the root', async () => {
    await fs.writeFile('/a', utf8('x'));
    expect(fs.resolve('/a')).toBe(join(dir, 'a'));
    expect(fs.resolve('b/../a')).toBe(join(dir, 'a'));
    expect(fs.resolve('')).toBe(dir);
    expect(fromUtf8(await fs.readFile('a'))).toBe('x');
  });

  it('refuses paths that escape the root with INVALID_ARGUMENT', async () => {
    for (const p of ['..', '../x', 'a/../../x', '/../x', `../${dir.split('/').pop()}/a`]) {
      await expectCode(fs.readFile(p), 'INVALID_ARGUMENT', p);
      await expectCode(fs.open(p, { create: true }), 'INVALID_ARGUMENT', p);
      await expectCode(fs.exists(p), 'INVALID_ARGUMENT', p);
    }
    await expectCode(fs.rename('a', '../a'), 'INVALID_ARGUMENT', '../a');
    await expectCode(fs.remove('..', { recursive: true }), 'INVALID_ARGUMENT', '..');
    await expectCode(fs.remove('/', { recursive: true }), 'INVALID_ARGUMENT', '/');
    await expectCode(fs.remove('a/..'), 'INVALID_ARGUMENT', 'a/..');
    await expectCode(fs.readFile('a\0b'), 'INVALID_ARGUMENT');
  });

  it('accepts names that merely start with dots', async () => {
    await fs.writeFile('..hidden', utf8('x'));
    expect(await fs.list('')).toEqual(['..hidden']);
  });

  it('follows symbolic links inside the root (the check is lexical)', async () => {
    await fs.mkdir('real');
    await symlink(join(dir, 'real'), join(dir, 'link'));
    await fs.writeFile('link/f', utf8('x'));
    expect(await fs.list('real')).toEqual(['f']);
  });
});
