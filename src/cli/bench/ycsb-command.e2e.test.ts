/**
 * `tessera bench ycsb` as a user runs it: a real process that, started without the load
 * generator's V8 flags, runs itself again with them (load-generator-flags.ts), spawns its own
 * node, and passes the child's report and exit code through.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LOAD_GENERATOR_V8_FLAGS } from './load-generator-flags.js';

const tesseraJs = fileURLToPath(new URL('../../../bin/tessera.js', import.meta.url));

function bench(args: readonly string[]) {
  return spawnSync(process.execPath, [tesseraJs, 'bench', 'ycsb', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
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
});
