/**
 * One `tessera node --ring --sync always` process of `tessera bench repair`, which, unlike the
 * YCSB ring's nodes (ycsb/tessera-node.ts), must survive being stopped: the benchmark stops a
 * replica, writes past it, and starts it again on the same data. So the node keeps its
 * directory across `halt()` and `start()`, and it keeps its address too, because a ring node's
 * address is its id on the ring (a restart on another port would be a new node with the old
 * node's tokens in its node.json). The first start listens on port 0; later ones on the port
 * that start got.
 *
 * The node is tracked (ycsb/spawned-servers.ts) from its creation until `dispose()`, so that a
 * signal to the benchmark stops it and removes its directory as it does the YCSB ring's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { peakRssKiB } from '../ycsb/server-process.js';
import { trackServer } from '../ycsb/spawned-servers.js';

const tesseraBin = fileURLToPath(new URL('../../../../bin/tessera.js', import.meta.url));
/** Lines of the node's stderr kept to explain an early exit. */
const stderrLinesMax = 20;
/** Time a node has to stop after SIGTERM before it is killed, so that none is left behind. */
const stopTimeoutMs = 10_000;

export interface RingProcessOptions {
  /** The node's name in its logs and in the ring. */
  readonly name: string;
  /** Seeds it joins through; none: it forms a ring of its own. */
  readonly seeds: readonly string[];
  /** More `tessera node` flags (`--hint-window 1ms`, `--bootstrap`, ...). */
  readonly flags: readonly string[];
}

export class RingProcess {
  private readonly dir = mkdtempSync(join(tmpdir(), 'tessera-repair-bench-'));
  private proc: ChildProcess | undefined;
  private listen = '127.0.0.1:0';
  private readonly stderr: string[] = [];
  /** Stops the node and removes its directory, once; untracks it (spawned-servers.ts). */
  readonly dispose: () => Promise<void>;
  /** Process ids of every start, oldest first, so that a caller can check none is left. */
  readonly pids: number[] = [];
  private peakKiB: number | undefined;

  constructor(readonly options: RingProcessOptions) {
    this.dispose = trackServer(async () => {
      await this.halt();
      rmSync(this.dir, { recursive: true, force: true });
    });
  }

  /** `host:port`, the node's id on the ring; set by the first start. */
  get address(): string {
    if (this.listen.endsWith(':0')) throw new Error(`${this.options.name} has not started yet`);
    return this.listen;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The largest peak resident set (VmHWM, KiB) of its processes so far, read while running. */
  peakRssKiB(): number | undefined {
    const now = this.proc?.pid === undefined ? undefined : peakRssKiB(this.proc.pid);
    if (now !== undefined) this.peakKiB = Math.max(this.peakKiB ?? 0, now);
    return this.peakKiB;
  }

  stderrTail(): string {
    return this.stderr.join('\n');
  }

  /** Starts the node (again) and resolves once it prints its `ready` line. */
  start(): Promise<void> {
    if (this.running) throw new Error(`${this.options.name} is running already`);
    const args = [tesseraBin, 'node', '--name', this.options.name, '--dir', this.dir];
    args.push('--listen', this.listen, '--sync', 'always', '--ring');
    if (this.options.seeds.length > 0) args.push('--seeds', this.options.seeds.join(','));
    args.push(...this.options.flags);
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    if (proc.pid !== undefined) this.pids.push(proc.pid);
    createInterface({ input: proc.stderr! }).on('line', (line) => {
      this.stderr.push(line);
      if (this.stderr.length > stderrLinesMax) this.stderr.shift();
    });
    return new Promise((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        let msg: { event?: string; address?: string };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          return;
        }
        if (msg.event === 'ready' && typeof msg.address === 'string') {
          this.listen = msg.address;
          resolve();
        }
      });
      proc.once('exit', (code, signal) => {
        reject(
          new Error(
            `${this.options.name} exited (${code ?? signal}) before it was ready:\n${this.stderrTail()}`,
          ),
        );
      });
    });
  }

  /**
   * Stops the process with `signal` and waits for it to exit (SIGKILL after 10 s); the
   * directory stays, for a later start().
   */
  async halt(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.proc;
    if (proc === undefined || !this.running) return;
    this.peakRssKiB();
    const exited = new Promise<void>((done) => proc.once('exit', () => done()));
    proc.kill(signal);
    const abort = new AbortController();
    const late = sleep(stopTimeoutMs, true, { signal: abort.signal }).catch(() => false);
    const tooLate = await Promise.race([exited.then(() => false), late]);
    abort.abort();
    if (tooLate) {
      proc.kill('SIGKILL');
      await exited;
    }
  }
}
