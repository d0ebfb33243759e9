/**
 * The real-process kill test: a separate Node process (testing/kill-writer.ts, run from the
 * BUILT output in dist/) writes to a Store with fsync-before-acknowledge while flushes and
 * compactions run, and is SIGKILLed at a random moment. The test then opens the store itself
 * and checks that every write the writer acknowledged is there with exactly its value, that the
 * newest version of every row is at least its newest acknowledged one, and that nothing else
 * is wrong: every cell found (acknowledged or not) has the value its row and timestamp define,
 * and every batch is all or nothing. Rounds continue on the same directory, so each open
 * recovers a store an earlier recovery produced.
 *
 * `npm test` builds before it runs vitest. Run directly without a build, the test is skipped
 * (and says so); run under `npm test`, a missing build is a failure.
 *
 * Knobs: TESSERA_KILL_ROUNDS (default 25), TESSERA_KILL_SEED (default fixed),
 * TESSERA_KILL_KEEP=1 keeps the directory for inspection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { realEnv } from '../env/real/index.js';
import { equalBytes, fromUtf8, utf8 } from '../util/bytes.js';
import { Prng } from '../util/prng.js';
import type { Cell } from './row-resolver.js';
import { Store } from './store.js';
import {
  batchRows,
  killFamily,
  killQualifier,
  killStoreOptions,
  valueFor,
} from './testing/kill-writer.js';

const writerJs = fileURLToPath(
  new URL('../../dist/storage/testing/kill-writer.js', import.meta.url),
);
const storageSrc = fileURLToPath(new URL('.', import.meta.url));
const haveWriter = existsSync(writerJs);
const underNpmTest = process.env.npm_lifecycle_event === 'test';

const rounds = Number(process.env.TESSERA_KILL_ROUNDS ?? 25);
const seed = Number(process.env.TESSERA_KILL_SEED ?? 0x6b696c6c);
/** No round starts after this much time, so the test stays well under a minute. */
const startBudgetMs = 40_000;
/** Rounds that must complete even on a slow machine. */
const roundsMin = Math.min(rounds, 8);
const readyTimeoutMs = 20_000;
/** Counters of round r start at (r + 1) * counterStride: runs never collide, later is newer. */
const counterStride = 10_000_000;

interface WriterRun {
  /** [row, counter] of every complete `ack` line received. */
  readonly acks: [string, number][];
  readonly flushes: number;
  readonly compactions: number;
  readonly trivialMoves: number;
  readonly startMs: number;
  readonly ranMs: number;
  readonly mode: KillMode;
}

const live = new Set<ChildProcess>();
let root: string | undefined;

afterAll(() => {
  for (const child of live) child.kill('SIGKILL');
  if (root && process.env.TESSERA_KILL_KEEP !== '1') rmSync(root, { recursive: true, force: true });
  else if (root) console.log(`kill test directory kept: ${root}`);
});

/**
 * How a round picks the moment of the kill, once the writer has run its random time:
 * 'now' kills right then; 'after-background' waits for the writer's next `stats` line (a flush
 * or compaction just finished, so the next one is typically under way: the kill lands in the
 * middle of background work rather than wherever the clock happened to be), or at most
 * `backgroundWaitMaxMs` more.
 */
type KillMode = 'now' | 'after-background';
const backgroundWaitMaxMs = 200;

/** Spawns the writer, waits for `ready`, lets it run `runMs`, SIGKILLs it, collects its acks. */
function runWriter(dir: string, first: number, runMs: number, mode: KillMode): Promise<WriterRun> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [writerJs, dir, String(first)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    const acks: [string, number][] = [];
    let flushes = 0;
    let compactions = 0;
    let trivialMoves = 0;
    let partial = '';
    let stderr = '';
    let readyAt: number | undefined;
    let killedAt: number | undefined;
    let armed = false;
    const kill = (): void => {
      if (killedAt !== undefined) return;
      killedAt = performance.now();
      child.kill('SIGKILL');
    };
    let problem: string | undefined;
    const readyTimer = setTimeout(() => {
      problem ??= `no "ready" within ${readyTimeoutMs} ms`;
      child.kill('SIGKILL');
    }, readyTimeoutMs);
    const onLine = (line: string): void => {
      const [word, a, b, c] = line.split(' ');
      if (word === 'ready' && readyAt === undefined) {
        readyAt = performance.now();
        clearTimeout(readyTimer);
        setTimeout(() => {
          if (mode === 'now') return kill();
          armed = true;
          setTimeout(kill, backgroundWaitMaxMs);
        }, runMs);
      } else if (word === 'ack' && readyAt !== undefined && a && Number.isSafeInteger(Number(b))) {
        acks.push([a, Number(b)]);
      } else if (word === 'stats' && readyAt !== undefined) {
        flushes = Number(a);
        compactions = Number(b);
        trivialMoves = Number(c);
        if (armed) kill();
      } else {
        problem ??= `unexpected line from writer: ${JSON.stringify(line)}`;
      }
    };
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      // A trailing partial line was cut by the kill: it does not count as received.
      partial = lines.pop()!;
      for (const line of lines) onLine(line);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (err) => (problem ??= `spawn failed: ${err.message}`));
    child.on('close', (code, signal) => {
      live.delete(child);
      clearTimeout(readyTimer);
      if (problem === undefined && (killedAt === undefined || signal !== 'SIGKILL')) {
        problem = `writer exited on its own (code ${code}, signal ${signal})`;
      }
      if (problem !== undefined) {
        reject(new Error(`${problem}; writer stderr:\n${stderr}`));
        return;
      }
      resolve({
        acks,
        flushes,
        compactions,
        trivialMoves,
        startMs: readyAt! - t0,
        ranMs: killedAt! - readyAt!,
        mode,
      });
    });
  });
}

interface Expected {
  /** Every acknowledged counter per row, over all rounds. */
  readonly acked: Map<string, Set<number>>;
}

interface Verified {
  readonly rows: number;
  readonly cells: number;
  /** Cells found that no ack line vouched for (durable but unacknowledged, or ack line lost). */
  readonly unackedCells: number;
  readonly gets: number;
}

const show = (cells: readonly Cell[]): string =>
  cells.map((c) => `${c.timestamp}=${fromUtf8(c.value).slice(0, 24)}`).join(', ');

/** Opens the store in this process and checks it against every ack so far; lists problems. */
async function verify(
  dir: string,
  expected: Expected,
  roundRows: ReadonlySet<string>,
  p: Prng,
  problems: string[],
): Promise<Verified> {
  const store = await Store.open(
    realEnv({ name: 'kill-test', root: dir, seed: p.uint32() }),
    killStoreOptions,
  );
  try {
    const found = new Map<string, Cell[]>();
    let prev: string | undefined;
    let cells = 0;
    for await (const r of store.scan()) {
      const row = fromUtf8(r.row);
      if (prev !== undefined && !(row > prev)) problems.push(`scan order: ${row} after ${prev}`);
      prev = row;
      found.set(row, r.cells);
      cells += r.cells.length;
    }
    // Every cell, acknowledged or not, must be one the writer could have written.
    const seenBatches = new Map<number, Set<string>>();
    let unackedCells = 0;
    for (const [row, rowCells] of found) {
      for (let i = 0; i < rowCells.length; i++) {
        const c = rowCells[i]!;
        const ts = c.timestamp;
        if (!equalBytes(c.family, killFamily) || !equalBytes(c.qualifier, killQualifier)) {
          problems.push(`foreign column in ${row}@${ts}`);
        }
        if (!batchRows(ts).includes(row)) problems.push(`cell ${row}@${ts} was never written`);
        if (fromUtf8(c.value) !== valueFor(row, ts)) {
          problems.push(`wrong value at ${row}@${ts}: ${fromUtf8(c.value).slice(0, 40)}`);
        }
        if (i > 0 && !(ts < rowCells[i - 1]!.timestamp)) {
          problems.push(`versions of ${row} out of order: ${show(rowCells)}`);
        }
        if (!expected.acked.get(row)?.has(ts)) unackedCells++;
        let batch = seenBatches.get(ts);
        if (!batch) seenBatches.set(ts, (batch = new Set()));
        batch.add(row);
      }
    }
    // All or nothing: a batch some of whose cells survived survived whole.
    for (const [ts, rows] of seenBatches) {
      const all = batchRows(ts);
      if (all.some((row) => !rows.has(row))) {
        problems.push(
          `torn batch ${ts}: rows [${all.join(' ')}], found only [${[...rows].join(' ')}]`,
        );
      }
    }
    // Every acknowledged write is there with exactly its value; nothing newer was lost.
    for (const [row, counters] of expected.acked) {
      const rowCells = found.get(row) ?? [];
      const have = new Map(rowCells.map((c) => [c.timestamp, fromUtf8(c.value)]));
      const missing = [...counters].filter((ts) => have.get(ts) !== valueFor(row, ts));
      if (missing.length > 0) {
        problems.push(
          `acknowledged write(s) lost: ${row}@[${missing.sort((a, b) => a - b).join(' ')}]; ` +
            `store has [${show(rowCells)}]`,
        );
      }
      const newestAcked = Math.max(...counters);
      const newest = rowCells[0];
      if (!newest || newest.timestamp < newestAcked) {
        problems.push(
          `${row}: newest acknowledged ${newestAcked}, store's newest ${newest?.timestamp ?? 'none'}`,
        );
      }
    }
    // The point-read path (memtable, bloom filters, file ranges) agrees with the scan.
    const sample = p.shuffle([...roundRows]).slice(0, 400);
    for (const row of sample) {
      const got = await store.get(utf8(row));
      const want = found.get(row) ?? [];
      if (show(got) !== show(want)) {
        problems.push(`get(${row}) = [${show(got)}] but scan has [${show(want)}]`);
      }
      const latest = await store.get(utf8(row), { maxVersions: 1 });
      if (latest.length !== 1 || latest[0]!.timestamp !== want[0]?.timestamp) {
        problems.push(
          `get(${row}, maxVersions 1) = [${show(latest)}], newest is ${want[0]?.timestamp}`,
        );
      }
    }
    return { rows: found.size, cells, unackedCells, gets: sample.length };
  } finally {
    await store.close();
  }
}

describe('Store under SIGKILL (real processes)', () => {
  if (!haveWriter) {
    const why = `${writerJs} is missing: run \`npm run build\` first (npm test does)`;
    if (underNpmTest) {
      it('has the built kill writer', () => expect.fail(why));
    } else {
      console.warn(`store.kill.test.ts skipped: ${why}`);
      it.skip(`acknowledged writes survive SIGKILL (skipped: ${why})`, () => {});
    }
    return;
  }
  const stale = readdirSync(storageSrc, { recursive: true, encoding: 'utf8' }).filter(
    (name) =>
      name.endsWith('.ts') &&
      !name.endsWith('.test.ts') &&
      statSync(join(storageSrc, name)).mtimeMs > statSync(writerJs).mtimeMs,
  );
  if (stale.length > 0) {
    console.warn(
      `store.kill.test.ts: the built writer is older than src/storage/{${stale.join(',')}}; ` +
        'it runs the old code until `npm run build`',
    );
  }

  it('every acknowledged write survives a SIGKILL during flushes and compactions, round after round', async () => {
    root = mkdtempSync(join(tmpdir(), 'tessera-kill-'));
    const p = new Prng(seed);
    const expected: Expected = { acked: new Map() };
    const problems: string[] = [];
    const log: string[] = [];
    const t0 = performance.now();
    let acksTotal = 0;
    let unackedNow = 0;
    let flushes = 0;
    let compactions = 0;
    let roundsWithFlush = 0;
    let roundsWithAcks = 0;
    let done = 0;
    for (let round = 0; round < rounds; round++) {
      if (done >= roundsMin && performance.now() - t0 > startBudgetMs) break;
      const runMs = p.between(50, 500);
      const mode: KillMode = p.chance(0.3) ? 'now' : 'after-background';
      const context = (what: string, err: unknown): Error =>
        new Error(
          `round ${round} (seed ${seed}; TESSERA_KILL_KEEP=1 keeps ${root}): ${what}: ` +
            `${err instanceof Error ? err.message : String(err)}` +
            `\n--- rounds so far:\n${log.join('\n')}`,
          { cause: err },
        );
      let run: WriterRun;
      try {
        run = await runWriter(root, (round + 1) * counterStride, runMs, mode);
      } catch (err) {
        throw context(`the writer failed (planned to run ${runMs} ms, kill ${mode})`, err);
      }
      const roundRows = new Set<string>();
      for (const [row, counter] of run.acks) {
        let set = expected.acked.get(row);
        if (!set) expected.acked.set(row, (set = new Set()));
        set.add(counter);
        roundRows.add(row);
      }
      const v0 = performance.now();
      let v: Verified;
      try {
        v = await verify(root, expected, roundRows, p, problems);
      } catch (err) {
        throw context(
          `reopening and reading the store after the kill failed (${run.acks.length} acks ` +
            `this round; the writer had flushed ${run.flushes}×, compacted ${run.compactions}×)`,
          err,
        );
      }
      const verifyMs = performance.now() - v0;
      acksTotal += run.acks.length;
      unackedNow = v.unackedCells;
      flushes += run.flushes;
      compactions += run.compactions;
      if (run.flushes > 0) roundsWithFlush++;
      if (run.acks.length > 0) roundsWithAcks++;
      done++;
      log.push(
        `round ${round}: start ${run.startMs.toFixed(0)} ms, ran ${run.ranMs.toFixed(0)} ms ` +
          `(planned ${runMs}, kill ${mode}), ${run.acks.length} acks, flushes ${run.flushes}, ` +
          `compactions ${run.compactions} (+${run.trivialMoves} moves); verify ` +
          `${verifyMs.toFixed(0)} ms: ${v.rows} rows, ${v.cells} cells ` +
          `(${v.unackedCells} unacknowledged), ${v.gets} gets`,
      );
      if (problems.length > 0) {
        throw context(
          `${problems.length} problem(s) after the kill`,
          new Error(problems.slice(0, 30).join('\n')),
        );
      }
    }
    const db = join(root, 'db');
    const tables = readdirSync(db).filter((n) => n.endsWith('.sst'));
    const totalMs = performance.now() - t0;
    console.log(
      `${log.join('\n')}\nkill test: ${done} rounds in ${(totalMs / 1000).toFixed(1)} s, ` +
        `${acksTotal} acks checked (each re-checked every later round), ${unackedNow} ` +
        `durable-but-unacknowledged cells at the end, writers flushed ${flushes}× and ` +
        `compacted ${compactions}×, ` +
        `${tables.length} tables now (seed ${seed})`,
    );
    expect(done).toBeGreaterThanOrEqual(roundsMin);
    expect(roundsWithAcks).toBeGreaterThan(done / 2);
    // The kills must land while background work runs, not only on an idle store.
    expect(roundsWithFlush).toBeGreaterThan(0);
    expect(compactions).toBeGreaterThan(0);
    expect(tables.length).toBeGreaterThan(0);
  }, 120_000);
});
