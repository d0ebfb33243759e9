/**
 * The writer half of the real-process kill test (store.kill.test.ts): a Node program that opens
 * a Store (recovering whatever an earlier, killed writer left), prints `ready`, then writes
 * batches forever with several writes in flight until it is SIGKILLed.
 *
 *     node dist/storage/testing/kill-writer.js <root> <firstCounter> [inFlight]
 *
 * `root` is the Env's file-system root; the store lives in `<root>/db`. Every batch takes the
 * next counter c (starting at firstCounter) as the timestamp of all its cells and puts the rows
 * `batchRows(c)` (1-3 of them, some fresh, some overwrites of a small hot set) with the values
 * `valueFor(row, c)`. Both are pure functions of (row, c), so the test can check any cell it
 * finds — acknowledged or not — and the all-or-nothing of every batch.
 *
 * Output (stdout, one line each):
 *   ready                               the store is open (recovery done)
 *   ack <row> <counter>                 write() of that batch resolved (one line per row)
 *   stats <flushes> <compactions> <trivialMoves>   background work so far, when it changes
 * A line is printed only after write() resolved, so every complete line the parent received is
 * an acknowledged write; lines lost in the pipe at the kill are merely not counted. Errors go
 * to stderr and exit with status 1.
 *
 * Time and randomness come only from the Env (the determinism lint applies here).
 */
import { pathToFileURL } from 'node:url';
import { realEnv } from '../../env/real/index.js';
import { utf8 } from '../../util/bytes.js';
import { Prng } from '../../util/prng.js';
import type { StoreOptions } from '../options.js';
import { Store } from '../store.js';
import { WriteBatch } from '../write-batch.js';

/**
 * Tiny sizes (the smallest the options allow) so that memtable switches, flushes and compactions
 * run all the time, and overlap one another, while the writer does.
 */
export const killStoreOptions: StoreOptions = {
  dir: 'db',
  wal: { sync: 'always' },
  memoryBudgetBytes: 4 * 1024 * 1024,
  memtableBytes: 4 * 1024,
  targetFileBytes: 4 * 1024,
  levelBaseBytes: 16 * 1024,
  blockBytes: 1024,
  l0CompactionTrigger: 2,
};

export const killFamily = utf8('f');
export const killQualifier = utf8('q');

/** Rows overwritten again and again (across batches and runs). */
const hotRows = 256;

/** The rows of the batch with counter c: 1-3 distinct rows, each fresh or hot. */
export function batchRows(counter: number): string[] {
  const p = new Prng(counter);
  const n = p.between(1, 3);
  const rows: string[] = [];
  for (let i = 0; i < n; i++) {
    const row = p.chance(0.5) ? `h${String(p.int(hotRows)).padStart(3, '0')}` : `n${counter}.${i}`;
    if (!rows.includes(row)) rows.push(row);
  }
  return rows;
}

/**
 * The value put at (row, counter): names both, padded to 200-1000 bytes derived from them
 * (large enough that a memtable holds only a few batches).
 */
export function valueFor(row: string, counter: number): string {
  let h = counter >>> 0;
  for (let i = 0; i < row.length; i++) h = Math.imul(h ^ row.charCodeAt(i), 0x01000193) >>> 0;
  const head = `${row}@${counter}#${h.toString(16)}|`;
  const pad = 200 + (h % 800);
  let body = '';
  for (let i = 0; body.length < pad; i++) body += String.fromCharCode(97 + ((h >>> (i % 24)) % 26));
  return head + body;
}

async function main(argv: readonly string[]): Promise<void> {
  const [root, firstArg, inFlightArg] = argv;
  const first = Number(firstArg);
  const inFlight = Number(inFlightArg ?? 8);
  if (!root || !Number.isSafeInteger(first) || first < 1 || !(inFlight >= 1)) {
    throw new Error('usage: kill-writer <root> <firstCounter> [inFlight]');
  }
  const env = realEnv({ name: `kill-writer-${first}`, root, seed: first });
  const store = await Store.open(env, killStoreOptions);
  process.stdout.write('ready\n');
  let next = first;
  let reported = '';
  const reportStats = (): void => {
    const s = store.stats;
    const line = `stats ${s.flushes} ${s.compactions} ${s.trivialMoves}\n`;
    if (line !== reported) {
      reported = line;
      process.stdout.write(line);
    }
  };
  const writer = async (): Promise<never> => {
    for (;;) {
      const counter = next++;
      const rows = batchRows(counter);
      const batch = new WriteBatch();
      for (const row of rows) {
        batch.put(utf8(row), killFamily, killQualifier, counter, utf8(valueFor(row, counter)));
      }
      await store.write(batch);
      process.stdout.write(rows.map((row) => `ack ${row} ${counter}\n`).join(''));
      reportStats();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, writer));
}

const invokedAs = process.argv[1];
if (invokedAs !== undefined && import.meta.url === pathToFileURL(invokedAs).href) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`kill-writer failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
