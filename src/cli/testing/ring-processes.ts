/**
 * For tests that run Tessera as a user would, as real processes of the BUILT bin/tessera.js:
 * `tessera node --ring` processes on loopback ports under one temporary directory, the CLI run
 * as a child process, and polling a node's `ring.describe` until the ring gets somewhere.
 *
 * The SIGKILL tests of src/ring and the CLI's end-to-end tests need the same start-up (wait for
 * the node's JSON `ready` line, keep the tail of every node's stderr to explain a failure),
 * the same SIGKILL-and-wait (a restart on the port must find it free) and the same clean-up
 * (no process of a test outlives it). One copy keeps them from drifting apart.
 *
 * Test-only: it lives in src/cli because only there (and in tests) does the determinism lint
 * allow child processes, files, Date and timers; no production code imports it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { parseAddress, type Env } from '../../env/index.js';
import { realEnv } from '../../env/real/index.js';
import type { RingDescription } from '../../ring/index.js';
import { RpcClient } from '../../wire/index.js';
import { checkDescription } from '../ring-command.js';

export const tesseraJs = fileURLToPath(new URL('../../../bin/tessera.js', import.meta.url));
export const mainJs = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));
/** `npm test` builds first; a test run directly may find no build. */
export const haveBuild = existsSync(mainJs);
export const underNpmTest = process.env.npm_lifecycle_event === 'test';

/** Characters of the nodes' stderr kept (their last ones) to explain a failure. */
const stderrTailMax = 8000;

/** Whether a process with this id is still there (signal 0 checks without signalling). */
export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/**
 * Inside a `describe` of tests that need the build: without one, registers a test that fails
 * under `npm test` (which builds first, so a missing build is a bug) or else a skipped test
 * that says why, and returns true: the caller then registers nothing else.
 */
export function skippedWithoutBuild(title: string): boolean {
  if (haveBuild) return false;
  const why = `${mainJs} is missing: run \`npm run build\` first (npm test does)`;
  if (underNpmTest) {
    it('has the built tessera command', () => expect.fail(why));
  } else {
    console.warn(`${title} skipped: ${why}`);
    it.skip(`${title} (skipped: ${why})`, () => {});
  }
  return true;
}

/** What a run of the CLI left. */
export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface TesseraOptions {
  readonly cwd?: string;
  /** Told of the child as soon as it is spawned, to kill it should the test end first. */
  readonly spawned?: (proc: ChildProcess) => void;
}

/**
 * Runs `tessera <args>` as a child process, asynchronously: this process keeps reading the
 * pipes of the nodes it started (a synchronous run would leave them full and the nodes stuck).
 */
export function tessera(args: readonly string[], options: TesseraOptions = {}): Promise<Run> {
  const proc = spawn(process.execPath, [tesseraJs, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  options.spawned?.(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((done) => proc.once('close', (status) => done({ status, stdout, stderr })));
}

/** SIGKILLs the process and resolves once it is gone, so that its port is free for a restart. */
export async function kill(node: { readonly proc: ChildProcess }): Promise<void> {
  if (node.proc.exitCode !== null || node.proc.signalCode !== null) return;
  const exited = new Promise((done) => node.proc.once('exit', done));
  node.proc.kill('SIGKILL');
  await exited;
}

export interface PollOptions {
  readonly timeoutMs: number;
  readonly pollMs: number;
  /** More to say when it times out (the nodes' stderr, say). */
  readonly context?: () => string;
}

/**
 * Asks every `pollMs` until `done` holds of the answer, and returns that answer; after
 * `timeoutMs`, throws with the last answer. An `ask` that throws ends the polling with its error.
 */
export async function pollUntil<T>(
  what: string,
  ask: () => Promise<T>,
  done: (answer: T) => boolean,
  options: PollOptions,
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const answer = await ask();
    if (done(answer)) return answer;
    if (Date.now() > deadline) {
      const context = options.context?.() ?? '';
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(answer)}\n${context}`);
    }
    await sleep(options.pollMs);
  }
}

/** Every one of `count` endpoints is alive and normal. */
export const allAlive = (count: number) => (d: RingDescription) =>
  d.endpoints.length === count && d.endpoints.every((e) => e.alive && e.status === 'normal');

/** A started `tessera node --ring`: `address` is the one its ready line gave. */
export interface RingProcess {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly address: string;
}

export interface StartOptions {
  /** `host:port`; a restart passes the address of the first start (a node's id on the ring). */
  readonly listen?: string;
  readonly seeds?: readonly string[];
  /** Flags for this node only, after the ones every node gets. */
  readonly flags?: readonly string[];
}

export interface RingProcessesOptions {
  /** `tessera node` flags every node gets, besides --ring, --name, --dir, --listen, --vnodes 16. */
  readonly flags?: readonly string[];
  /** Time limits of each RPC that `call` and `describe` make; 2 s each by default. */
  readonly connectMs?: number;
  readonly callMs?: number;
  /** Time between two asks of `waitRing`; 200 ms by default. */
  readonly pollMs?: number;
}

/**
 * The ring nodes of one test file, under one temporary directory (a node's directory is named
 * after it, so that a restart finds its data), and every other process it started.
 */
export class RingProcesses {
  /** Holds each node's directory; removed by dispose(). */
  readonly dir: string;
  /** A real Env for the test's own clients (rooted at `dir`). */
  readonly env: Env;
  private readonly flags: readonly string[];
  private readonly connectMs: number;
  private readonly callMs: number;
  private readonly pollMs: number;
  /** The latest start of each node, in the order of their first starts. */
  private readonly byName = new Map<string, RingProcess>();
  /** Every process started and not exited yet, nodes and CLI runs, for dispose(). */
  private readonly live = new Set<ChildProcess>();
  private stderr = '';

  /** `name` names the directory (`tessera-<name>-…`) and the Env. */
  constructor(name: string, options: RingProcessesOptions = {}) {
    this.dir = mkdtempSync(join(tmpdir(), `tessera-${name}-`));
    this.env = realEnv({ name: `${name}-test`, root: this.dir });
    this.flags = options.flags ?? [];
    this.connectMs = options.connectMs ?? 2000;
    this.callMs = options.callMs ?? 2000;
    this.pollMs = options.pollMs ?? 200;
  }

  /** The nodes that have been ready, each as of its latest start, in the order of first starts. */
  get nodes(): RingProcess[] {
    return [...this.byName.values()];
  }

  node(name: string): RingProcess {
    const node = this.byName.get(name);
    if (node === undefined) throw new Error(`no node ${name} has started`);
    return node;
  }

  address(name: string): string {
    return this.node(name).address;
  }

  /** The last characters the nodes wrote to stderr, all of them interleaved. */
  stderrTail(): string {
    return this.stderr;
  }

  /** Starts `tessera node --ring` (again, for a restart) and resolves once it is ready. */
  start(name: string, options: StartOptions = {}): Promise<RingProcess> {
    const args = [tesseraJs, 'node', '--ring', '--name', name, '--dir', join(this.dir, name)];
    args.push('--listen', options.listen ?? '127.0.0.1:0', '--vnodes', '16', ...this.flags);
    if (options.seeds !== undefined && options.seeds.length > 0) {
      args.push('--seeds', options.seeds.join(','));
    }
    args.push(...(options.flags ?? []));
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.track(proc);
    proc.stderr!.on('data', (b: Buffer) => {
      this.stderr = (this.stderr + b.toString()).slice(-stderrTailMax);
    });
    return new Promise((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        let msg: { event?: string; address?: string; ring?: boolean };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          return; // not the ready line
        }
        if (msg.event === 'ready' && msg.ring === true && typeof msg.address === 'string') {
          const node = { name, proc, address: msg.address };
          this.byName.set(name, node);
          resolve(node);
        }
      });
      proc.once('exit', (code, signal) =>
        reject(new Error(`${name} exited before ready (${code}, ${signal})\n${this.stderr}`)),
      );
    });
  }

  /**
   * Starts a fresh ring: the first node alone (it has no one to join), then the others at once,
   * each seeded with the first. Resolves with them in the order of `names`, all ready.
   */
  async startRing<const Names extends readonly string[]>(
    names: Names,
  ): Promise<{ -readonly [K in keyof Names]: RingProcess }> {
    const [first, ...others] = names;
    if (first === undefined) throw new Error('a ring needs at least one node');
    const seed = await this.start(first);
    const rest = await Promise.all(others.map((n) => this.start(n, { seeds: [seed.address] })));
    return [seed, ...rest] as { -readonly [K in keyof Names]: RingProcess };
  }

  /** `tessera <args>` as a child process, killed by dispose() should it still run then. */
  tessera(args: readonly string[], cwd?: string): Promise<Run> {
    return tessera(args, { ...(cwd === undefined ? {} : { cwd }), spawned: (p) => this.track(p) });
  }

  /** One RPC to one node, on a fresh connection. */
  async call(address: string, method: string, args: unknown): Promise<unknown> {
    const c = await RpcClient.connect(this.env, parseAddress(address), {
      timeoutMs: this.connectMs,
    });
    try {
      return await c.call(method, args, { timeoutMs: this.callMs });
    } finally {
      await c.close();
    }
  }

  /** The ring as `address` sees it, checked as `tessera ring` checks it. */
  async describe(address: string): Promise<RingDescription> {
    return checkDescription(await this.call(address, 'ring.describe', {}), address);
  }

  /**
   * Polls `address`'s ring.describe until `done` holds, and returns that description. A node
   * that does not answer (down, restarting) is asked again; the error on timeout shows the last
   * answer or failure and the nodes' stderr.
   */
  async waitRing(
    address: string,
    what: string,
    timeoutMs: number,
    done: (d: RingDescription) => boolean,
  ): Promise<RingDescription> {
    const answer = await pollUntil(
      `${what} (asking ${address})`,
      () => this.describe(address).catch((err: unknown) => String(err)),
      (d) => typeof d !== 'string' && done(d),
      { timeoutMs, pollMs: this.pollMs, context: () => this.stderr },
    );
    return answer as RingDescription;
  }

  /** SIGKILLs every process still running, waits for them, and removes the directory. */
  async dispose(): Promise<void> {
    await Promise.all([...this.live].map((proc) => kill({ proc })));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private track(proc: ChildProcess): void {
    this.live.add(proc);
    proc.once('exit', () => this.live.delete(proc));
  }
}
