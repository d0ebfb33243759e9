import { describe, expect, it } from 'vitest';
import type { Cell } from '../../storage/row-resolver.js';
import { fromUtf8, utf8 } from '../../util/bytes.js';
import { formatOutcome, runScenario } from '../runner.js';
import {
  makeStorageScenario,
  storageScenario,
  StorageChecker,
  type BatchRecord,
  type Observation,
  type Op,
} from './storage.js';

/** Seeds per CI run; `node bin/tessera.js sim storage --runs 2000` runs thousands. */
const ciSeeds = Number(process.env.TESSERA_SIM_SEEDS ?? 150);

describe('storage scenario', () => {
  it('is a pure function of its seed: seed 7 twice gives one digest, seed 8 another', async () => {
    const a = await runScenario(storageScenario, 7);
    const b = await runScenario(storageScenario, 7);
    const c = await runScenario(storageScenario, 8);
    expect(a.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(b.digest).toBe(a.digest);
    expect(c.digest).not.toBe(a.digest);
    expect(a.summary).toBe(b.summary);
    expect(a.virtualMs).toBe(b.virtualMs);
  });

  it(`holds its properties for ${ciSeeds} seeds`, async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= ciSeeds; seed++) {
      const outcome = await runScenario(storageScenario, seed);
      if (!outcome.passed) failures.push(formatOutcome(outcome).join('\n'));
    }
    expect(failures, failures.join('\n\n')).toEqual([]);
  });

  it('exercises what it claims: crashes in recovery, clean closes, I/O errors, both WAL modes, flushes and compactions', async () => {
    const totals = new Map<string, number>();
    const modes = new Set<string>();
    for (let seed = 1; seed <= 12; seed++) {
      const outcome = await runScenario(storageScenario, seed);
      for (const m of outcome.summary.matchAll(/(\d+) ([a-zA-Z/ ]+?)(?=[,;()]|$)/g)) {
        totals.set(m[2]!.trim(), (totals.get(m[2]!.trim()) ?? 0) + Number(m[1]));
      }
      modes.add(/wal=(\w+)/.exec(outcome.summary)![1]!);
    }
    for (const what of [
      'acked',
      'rejected',
      'in flight',
      'lost',
      'in recovery',
      'clean closes',
      'I/O errors',
      'reads checked',
      'flushes',
      'compactions',
    ]) {
      expect(totals.get(what) ?? 0, what).toBeGreaterThan(0);
    }
    expect([...modes].sort()).toEqual(['always', 'interval']);
  });
});

describe('storage scenario checkers', () => {
  it('catch a store that acknowledges writes before the WAL is durable, and print the replay', async () => {
    const outcome = await runScenario(makeStorageScenario({ ackBeforeWalSync: true }), 3);
    expect(outcome.passed).toBe(false);
    expect(outcome.violations.join('\n')).toMatch(/is missing; it must be there: acknowledged/);
    const printed = formatOutcome(outcome);
    expect(printed.join('\n')).toContain('replay: npx tessera sim storage --seed 3');
    expect(printed.at(-1)).toMatch(/^trace [0-9a-f]{64}$/);
  });

  it('catch half a batch (cells and marker written separately)', async () => {
    let caught = 0;
    for (let seed = 1; seed <= 3; seed++) {
      const outcome = await runScenario(makeStorageScenario({ splitBatches: true }), seed);
      if (outcome.violations.some((v) => /of row \S+ expected \d+ cells, read \d+/.test(v))) {
        caught++;
      }
    }
    expect(caught).toBe(3);
  });

  const rowA = utf8('r00');
  const rowB = utf8('r01');
  const f = utf8('f');
  const q = utf8('a');
  const put = (row: Uint8Array, ts: number, value: string): Op => ({
    kind: 'put',
    row,
    family: f,
    qualifier: q,
    ts,
    value: utf8(value),
  });

  /** A checker with batches issued in lifetime 1, settled as given. */
  function history(walMode: 'always' | 'interval', batches: Op[][], acked: number[]) {
    const checker = new StorageChecker(walMode, ['r00', 'r01']);
    const records = batches.map((ops) => checker.register(1, ops, false, 0));
    for (const i of acked) checker.settle(records[i]!, 1);
    return { checker, records };
  }

  /** What a store holding exactly `present` (in order) shows, as the node would read it. */
  function read(
    checker: StorageChecker,
    present: readonly BatchRecord[],
    epoch: number,
    tamper?: (cells: Map<string, Cell[]>) => void,
  ): Observation {
    const cells = new Map<string, Cell[]>();
    for (const row of checker.allRows) cells.set(row, []);
    const latest = new Map<string, Cell>();
    for (const b of present) {
      for (const op of [...b.ops, b.marker]) {
        const cell: Cell = { ...op, timestamp: op.ts };
        latest.set(`${fromUtf8(op.row)}/${fromUtf8(op.qualifier)}/${op.ts}`, cell);
      }
    }
    for (const [key, cell] of latest) cells.get(key.split('/')[0]!)!.push(cell);
    for (const list of cells.values()) {
      list.sort(
        (x, y) =>
          fromUtf8(x.family).localeCompare(fromUtf8(y.family)) ||
          fromUtf8(x.qualifier).localeCompare(fromUtf8(y.qualifier)) ||
          y.timestamp - x.timestamp,
      );
    }
    tamper?.(cells);
    const scanned = [...cells]
      .filter(([, c]) => c.length > 0)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([row, c]) => ({ row: utf8(row), cells: c }));
    return {
      kind: 'open',
      epoch,
      tick: checker.tick(),
      issuedBefore: checker.batches.length,
      gets: cells,
      scanned,
    };
  }

  it('accept a reopen that kept every acknowledged batch and a prefix of the rest', () => {
    const { checker, records } = history(
      'always',
      [[put(rowA, 10, 'x')], [put(rowA, 20, 'y'), put(rowB, 20, 'z')], [put(rowB, 30, 'w')]],
      [0, 1],
    );
    checker.observe(read(checker, records.slice(0, 2), 2));
    expect(checker.violations).toEqual([]);
    expect(records.map((r) => r.fate)).toEqual(['survived', 'survived', 'lost']);
  });

  it('flag a lost acknowledged batch', () => {
    const { checker, records } = history(
      'always',
      [[put(rowA, 10, 'x')], [put(rowA, 20, 'y')]],
      [0, 1],
    );
    checker.observe(read(checker, records.slice(0, 1), 2));
    expect(checker.violations.join('\n')).toMatch(/batch 1 .* is missing; it must be there/);
  });

  it('flag survivors that are not a prefix of the commit order', () => {
    const { checker, records } = history(
      'interval',
      [[put(rowA, 10, 'x')], [put(rowA, 20, 'y')], [put(rowB, 30, 'z')]],
      [],
    );
    checker.observe(read(checker, [records[0]!, records[2]!], 2));
    expect(checker.violations.join('\n')).toMatch(
      /not a prefix of the commit order: batch 2 .* is there, the earlier batch 1/,
    );
  });

  it('flag half a batch, and a batch that comes back after it was lost', () => {
    const { checker, records } = history(
      'interval',
      [[put(rowA, 10, 'x'), put(rowB, 10, 'y')], [put(rowB, 20, 'z')]],
      [],
    );
    // Batch 0's marker is there but its cell in r01 is not.
    checker.observe(read(checker, [records[0]!], 2, (cells) => cells.set('r01', [])));
    expect(checker.violations.join('\n')).toMatch(/row r01 expected 1 cells, read 0; missing/);
    const later = new StorageChecker('interval', ['r00', 'r01']);
    const rs = [[put(rowA, 10, 'x')], [put(rowA, 20, 'y')]].map((ops) =>
      later.register(1, ops, false, 0),
    );
    later.observe(read(later, [rs[0]!], 2));
    expect(later.violations).toEqual([]);
    later.observe(read(later, rs, 3));
    expect(later.violations.join('\n')).toMatch(/batch 1 .* was missing after an earlier reopen/);
  });

  it('flag a cell no batch wrote', () => {
    const { checker, records } = history('always', [[put(rowA, 10, 'x')]], [0]);
    checker.observe(
      read(checker, records, 2, (cells) =>
        cells
          .get('r00')!
          .push({ row: rowA, family: f, qualifier: utf8('b'), timestamp: 5, value: utf8('?') }),
      ),
    );
    expect(checker.violations.join('\n')).toMatch(/unexpected f:b@5=.* \(written by no batch\)/);
  });
});
