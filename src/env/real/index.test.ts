import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from '../../util/bytes.js';
import { isTesseraError } from '../../util/errors.js';
import { realEnv } from './index.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-env-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('realEnv', () => {
  it('wires every part of the Env, with the file system rooted at `root`', async () => {
    const env = realEnv({ name: 'node-1', root: dir });
    expect(env.name).toBe('node-1');
    await env.fs.writeFile('/hello', utf8('hi'));
    expect(fromUtf8(await env.fs.readFile('hello'))).toBe('hi');
    expect(Math.abs(env.clock.nowMicros() - Date.now() * 1000)).toBeLessThan(5_000_000);
    await env.timers.sleep(1);
    const listener = await env.net.listen({ host: '127.0.0.1', port: 0 }, (c) => c.destroy());
    await listener.close();
  });

  it('names itself after the process by default and repeats a seeded random stream', () => {
    const a = realEnv({ root: dir, seed: 7 });
    const b = realEnv({ root: dir, seed: 7 });
    expect(a.name).toBe(`pid-${process.pid}`);
    expect(a.random.bytes(8)).toEqual(b.random.bytes(8));
  });

  it('needs a root', () => {
    let err: unknown;
    try {
      realEnv({ root: '' });
    } catch (e) {
      err = e;
    }
    expect(isTesseraError(err, 'INVALID_ARGUMENT')).toBe(true);
  });
});
