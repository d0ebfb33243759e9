import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const tesseraBin = fileURLToPath(new URL('../../../bin/tessera.js', import.meta.url));

export interface SpawnedNode {
  readonly address: string;
  readonly proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `tessera node` on a free loopback port in a temporary directory (for benchmarks). */
export function spawnNode(): Promise<SpawnedNode> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  const proc = spawn(
    process.execPath,
    [tesseraBin, 'node', '--name', 'bench-node', '--dir', dir, '--listen', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const stop = () =>
    new Promise<void>((done) => {
      proc.once('exit', () => {
        rmSync(dir, { recursive: true, force: true });
        done();
      });
      proc.kill('SIGTERM');
    });
  return new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { event?: string; address?: string };
      if (msg.event === 'ready' && msg.address) resolve({ address: msg.address, proc, stop });
    });
    proc.once('exit', (code) => reject(new Error(`bench node exited early (code ${code})`)));
  });
}
