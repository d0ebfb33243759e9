/**
 * A throw-away `tessera node --sync always` for `tessera bench ycsb`: the comparison with a
 * fsync-always Redis needs the durable node, said explicitly (it is also the default). With
 * `ring`, the node joins a hashed-table ring through its seeds (tessera-ring.ts starts those);
 * every node keeps the node command's memory default, as the single node does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { peakRssKiB, stopServer } from './server-process.js';
import { trackServer } from './spawned-servers.js';

const tesseraBin = fileURLToPath(new URL('../../../../bin/tessera.js', import.meta.url));
/** Lines of the node's stderr kept to explain an early exit. */
const stderrLinesMax = 20;

export interface YcsbNodeOptions {
  /** The node's name in its logs and, for a ring node, in the ring (default `ycsb-node`). */
  readonly name?: string;
  /** Start with `--ring`, joining through `seeds` (none: the node forms a ring of its own). */
  readonly ring?: { readonly seeds: readonly string[] };
}

export interface YcsbNode {
  readonly address: string;
  readonly pid: number;
  readonly proc: ChildProcess;
  peakRssKiB(): number | undefined;
  /** The last lines the node wrote to stderr, to explain a failure. */
  stderrTail(): string;
  /** SIGTERM, wait for the exit, remove the directory; once, however often it is called. */
  stop(): Promise<void>;
}

function nodeArgs(dir: string, options: YcsbNodeOptions): string[] {
  const args = [tesseraBin, 'node', '--name', options.name ?? 'ycsb-node', '--dir', dir];
  args.push('--listen', '127.0.0.1:0', '--sync', 'always');
  if (options.ring !== undefined) {
    args.push('--ring');
    if (options.ring.seeds.length > 0) args.push('--seeds', options.ring.seeds.join(','));
  }
  return args;
}

export function startYcsbNode(options: YcsbNodeOptions = {}): Promise<YcsbNode> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-ycsb-'));
  const proc = spawn(process.execPath, nodeArgs(dir, options), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: proc.stderr! }).on('line', (line) => {
    stderr.push(line);
    if (stderr.length > stderrLinesMax) stderr.shift();
  });
  const stderrTail = () => stderr.join('\n');
  // Tracked from the spawn, so that a signal while it starts stops it too (spawned-servers.ts).
  const stop = trackServer(() => stopServer(proc, dir));
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
        resolve({
          address: msg.address,
          pid,
          proc,
          peakRssKiB: () => peakRssKiB(pid),
          stderrTail,
          stop,
        });
      }
    });
    proc.once('exit', (code) => {
      // Removes the directory and untracks the node; a no-op after a stop.
      void stop();
      reject(new Error(`tessera node exited early (code ${code}):\n${stderrTail()}`));
    });
  });
}
