/**
 * `tessera bench repair` as a user runs it, at toy sizes: a real ring of node processes is
 * started, diverged, repaired twice and grown by a bootstrapping node, and the report says what
 * the repairs found and streamed; then nothing is left running and no directory is left.
 * Figures are not checked (benchmarks never run inside tests), only that each phase did its
 * work. Skipped without a build: the command runs bin/tessera.js, which runs dist/.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { haveBuild, processRunning, tesseraJs } from '../testing/ring-processes.js';

interface Repair {
  state: string;
  rowsCompared: number;
  rowsStreamed: number;
  leavesDiffering: number;
  mibCompared: number;
  mibStreamed: number;
  groupsIncomplete: number;
}

interface Foreground {
  operations: number;
  errors: number;
  firstError?: string;
  latency: { all: { count: number; p99Ms: number } };
}

describe.skipIf(!haveBuild)('tessera bench repair', () => {
  it('diverges a 3-node ring, repairs it alone and under load, bootstraps a 4th node, and leaves nothing behind', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tessera-repair-e2e-'));
    try {
      const args = ['bench', 'repair', '--rows', '600', '--value-size', '50'];
      args.push('--diverge-rows', '100', '--rate', '100', '--seconds', '1');
      args.push('--ring-delay', '300ms', '--json');
      const r = spawnSync(process.execPath, [tesseraJs, ...args], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, TMPDIR: tmp },
      });
      expect(r.status, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as {
        settings: { overwrites: number; added: number; nodeFlags: string[] };
        divergence: { rows: number }[];
        repairAlone: Repair;
        baseline: Foreground;
        repairUnderLoad: { repair: Repair; foreground: Foreground };
        bootstrap: { seconds: number; mibStored?: number; foreground: Foreground };
        pids: number[];
      };
      expect(report.settings).toMatchObject({ overwrites: 50, added: 50 });
      expect(report.settings.nodeFlags).toEqual(
        expect.arrayContaining(['--hint-window', '1ms', '--read-repair-chance', '0']),
      );
      expect(report.divergence.map((d) => d.rows)).toEqual([100, 100]);
      // Node 3 missed 100 rows each time and nothing else healed them (hints expired, no
      // read repair), so each repair found differing leaves and streamed at least those rows.
      for (const repair of [report.repairAlone, report.repairUnderLoad.repair]) {
        expect(repair.state).toBe('done');
        expect(repair.groupsIncomplete).toBe(0);
        expect(repair.leavesDiffering).toBeGreaterThan(0);
        expect(repair.rowsCompared).toBeGreaterThanOrEqual(3 * 600);
        expect(repair.rowsStreamed).toBeGreaterThanOrEqual(100);
        expect(repair.mibStreamed).toBeGreaterThan(0);
      }
      for (const fg of [
        report.baseline,
        report.repairUnderLoad.foreground,
        report.bootstrap.foreground,
      ]) {
        expect(fg.errors, fg.firstError).toBe(0);
        expect(fg.operations).toBeGreaterThan(0);
        expect(fg.latency.all.count).toBe(fg.operations);
      }
      expect(report.bootstrap.seconds).toBeGreaterThan(0);
      expect(report.pids).toHaveLength(6); // 4 nodes, node 3 started 3 times
      for (const pid of report.pids) expect(processRunning(pid)).toBe(false);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
