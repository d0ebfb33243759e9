/**
 * `tessera bench ycsb` as a user runs it: a real process that, started without the load
 * generator's V8 flags, runs itself again with them (load-generator-flags.ts), spawns its own
 * node (or ring of nodes), and passes the child's report and exit code through.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processRunning, tesseraJs } from '../testing/ring-processes.js';
import { LOAD_GENERATOR_V8_FLAGS } from './load-generator-flags.js';

function bench(args: readonly string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [tesseraJs, 'bench', 'ycsb', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env,
  });
}

interface PhaseReport {
  operations: number;
  errors: number;
  firstError?: string;
  latency: { all?: { p50Us: number; p99Us: number } };
}

interface RingSystemReport {
  system: string;
  description: string;
  nodes?: number;
  replicationFactor?: number;
  consistency?: string;
  pids?: number[];
  peakRssKiBPerNode?: (number | null)[];
  peakRssKiBSum?: number;
  peakRssKiBMax?: number;
  load: PhaseReport;
  run: PhaseReport;
}

describe('tessera bench ycsb', () => {
  it('runs its load generator with its V8 flags and prints the report of that run', () => {
    const r = bench(['--workload', 'a', '--records', '50', '--operations', '50', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as {
      loadGenerator: { v8Flags: string[] };
      systems: { system: string; run: { operations: number; errors: number } }[];
    };
    for (const flag of LOAD_GENERATOR_V8_FLAGS)
      expect(report.loadGenerator.v8Flags).toContain(flag);
    expect(report.systems.map((s) => [s.system, s.run.operations, s.run.errors])).toEqual([
      ['tessera', 50, 0],
    ]);
  });

  it('passes a failure of the re-run through: its message and a non-zero exit code', () => {
    // Port 1 on loopback: nothing listens there.
    const r = bench([
      '--workload',
      'c',
      '--records',
      '5',
      '--operations',
      '5',
      '--target',
      'tessera://127.0.0.1:1',
    ]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/CONNECTION_REFUSED|ECONNREFUSED/);
  });

  it('runs a workload on a 3-node ring at RF=3 and QUORUM beside a 1-node ring, leaving nothing behind', () => {
    // Its own temporary directory, so that the nodes' data directories can be seen to go.
    const tmp = mkdtempSync(join(tmpdir(), 'tessera-ycsb-e2e-'));
    try {
      const args = ['--workload', 'a', '--ring', '3', '--compare', 'ring1'];
      args.push('--records', '300', '--operations', '600', '--json');
      const r = bench(args, { ...process.env, TMPDIR: tmp });
      expect(r.status, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as {
        systems: RingSystemReport[];
        ratios?: unknown;
        ringRatios?: {
          compared: string;
          throughput: number;
          p50: Record<string, number>;
          p99: Record<string, number>;
        };
      };
      const [ring3, ring1] = report.systems;
      expect(report.systems).toHaveLength(2);
      for (const s of report.systems) {
        expect([s.load.operations, s.load.errors, s.run.operations, s.run.errors]).toEqual([
          300, 0, 600, 0,
        ]);
      }
      expect([ring3!.nodes, ring3!.replicationFactor, ring3!.consistency]).toEqual([
        3,
        3,
        'QUORUM',
      ]);
      expect(ring3!.description).toMatch(
        /^3-node tessera ring on loopback, RF=3, QUORUM, WAL fsync/,
      );
      expect([ring1!.nodes, ring1!.replicationFactor, ring1!.consistency]).toEqual([
        1,
        1,
        'QUORUM',
      ]);
      expect(ring3!.pids).toHaveLength(3);
      expect(ring1!.pids).toHaveLength(1);
      const rss = ring3!.peakRssKiBPerNode!;
      expect(rss).toHaveLength(3);
      for (const kib of rss) expect(kib).toBeGreaterThan(0);
      expect(ring3!.peakRssKiBSum).toBe(rss.reduce((a, b) => a! + b!, 0));
      expect(ring3!.peakRssKiBMax).toBe(Math.max(...(rss as number[])));
      // `ratios` stays Redis's; the ring comparison has its own key, ring3 ÷ ring1.
      expect(report.ratios).toBeUndefined();
      const ratios = report.ringRatios!;
      expect(ratios.compared).toBe('ring1');
      expect(ratios.throughput).toBeGreaterThan(0);
      expect(ratios.p50['all']).toBeCloseTo(
        ring3!.run.latency.all!.p50Us / ring1!.run.latency.all!.p50Us,
      );
      expect(ratios.p99['all']).toBeCloseTo(
        ring3!.run.latency.all!.p99Us / ring1!.run.latency.all!.p99Us,
      );
      for (const pid of [...ring3!.pids!, ...ring1!.pids!]) expect(processRunning(pid)).toBe(false);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('rejects workload E on a ring up front: hashed tables cannot scan', () => {
    const r = bench(['--workload', 'e', '--ring', '3']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/INVALID_ARGUMENT: workload E scans .*cannot scan/);
    expect(r.stdout).toBe('');
  });

  it('stops its ring nodes and removes their directories when it is sent SIGTERM', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tessera-ycsb-e2e-'));
    try {
      const args = ['bench', 'ycsb', '--workload', 'c', '--ring', '3', '--records', '100000'];
      const proc = spawn(process.execPath, [tesseraJs, ...args, '--json'], {
        env: { ...process.env, TMPDIR: tmp },
        stdio: 'ignore',
      });
      const exited = new Promise<number | null>((done) => proc.once('exit', (code) => done(code)));
      // Each node makes its data directory when it is spawned; wait for all three.
      for (let i = 0; i < 300 && readdirSync(tmp).length < 3; i++) await sleep(50);
      expect(readdirSync(tmp)).toHaveLength(3);
      proc.kill('SIGTERM');
      expect(await exited).toBe(128 + 15);
      // A directory goes once its node has exited (server-process.ts), so none is left running.
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
