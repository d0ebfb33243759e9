/**
 * A throw-away `tessera node --sync always` for `tessera bench ycsb`: the comparison with a
 * fsync-always Redis needs the durable node, said explicitly (it is also the default).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { peakRssKiB, stopServer } from './server-process.js';

const tesseraBin = fileURLToPath(new URL('../../../../bin/tessera.js', import.meta.url));
/** Lines of the node's stderr kept to explain an early exit. */
const stderrLinesMax = 20;

export interface YcsbNode {
  readonly address: string;
  readonly pid: number;
  readonly proc: ChildProcess;
  peakRssKiB(): number | undefined;
  stop(): Promise<void>;
}

export function startYcsbNode(): Promise<YcsbNode> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-ycsb-'));
  const args = [tesseraBin, 'node', '--name', 'ycsb-node', '--dir', dir, '--listen', '127.0.0.1:0'];
  args.push('--sync', 'always');
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  createInterface({ input: proc.stderr! }).on('line', (line) => {
    stderr.push(line);
    if (stderr.length > stderrLinesMax) stderr.shift();
  });
  const stop = () => stopServer(proc, dir);
  return new Promise((resolve, reject) => {
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let msg: { event?: string; address?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return;
      }
      if (msg.event === 'ready' && msg.address) {
        const pid = proc.pid!;
        resolve({ address: msg.address, pid, proc, peakRssKiB: () => peakRssKiB(pid), stop });
      }
    });
    proc.once('exit', (code) => {
      rmSync(dir, { recursive: true, force: true });
      reject(new Error(`tessera node exited early (code ${code}):\n${stderr.join('\n')}`));
    });
  });
}
