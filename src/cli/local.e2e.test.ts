/**
 * End to end through `tessera local`, as a user meets Tessera: the BUILT launcher starts the
 * lock replicas and a node as real child processes under a temporary data directory; the test
 * reads `<dir>/cluster.json`, connects with the public client and
 *
 * - creates a table, writes, reads back and scans in key order;
 * - races checkAndMutate: of concurrent "create if absent" calls on one cell exactly one wins;
 * - SIGKILLs the node under a write load; the launcher restarts it; every acknowledged write is
 *   then read back with its value;
 * - sends malformed requests and malformed shell input, which get clear errors with stable
 *   codes while the node keeps serving;
 * - stops the cluster with SIGINT (cluster.json says `stopped`) and starts it again on the same
 *   directory, which finds its table and data;
 * - stops a cluster while it is restarting a killed node, and finds none of its processes left;
 * - starts `tessera local --ring 3`: three ring nodes and no lock service, which `tessera ring`
 *   shows alive, and which a SIGINT stops to the last process.
 *
 * `npm test` builds before vitest runs; run directly without a build, the test is skipped (and
 * says so); under `npm test` a missing build is a failure. TESSERA_E2E_KEEP=1 keeps the dir.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ClusterFile } from './local-command.js';
import type { RingDescription } from '../ring/index.js';
import { connect } from '../client/connect.js';
import type { Database } from '../client/table-api.js';
import { parseAddress } from '../env/index.js';
import { realEnv } from '../env/real/index.js';
import { Mutation } from '../model/index.js';
import { fromUtf8 } from '../util/bytes.js';
import { toTesseraError } from '../util/errors.js';
import { RpcClient } from '../wire/index.js';
import { skippedWithoutBuild, sleep, tessera, tesseraJs } from './testing/ring-processes.js';

const keep = process.env.TESSERA_E2E_KEEP === '1';

const dir = mkdtempSync(join(tmpdir(), 'tessera-e2e-'));
const env = realEnv({ name: 'e2e-test', root: dir });
let launcher: ChildProcess | undefined;
let launcherErr = '';
const dbs: Database[] = [];

afterAll(async () => {
  await Promise.all(dbs.map((db) => db.close().catch(() => undefined)));
  if (launcher && launcher.exitCode === null) {
    launcher.kill('SIGINT');
    await new Promise((done) => launcher!.once('exit', done));
  }
  if (keep) console.log(`e2e directory kept: ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
});

function readCluster(): ClusterFile | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as ClusterFile;
  } catch {
    return undefined; // not written yet, or mid-rename
  }
}

async function waitFor<T>(what: string, probe: () => T | undefined, ms = 30_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > until) {
      throw new Error(`timed out waiting for ${what}\n--- launcher stderr:\n${launcherErr}`);
    }
    await sleep(50);
  }
}

/** Starts `tessera local` on free ports; resolves with the running cluster file. */
async function startLocal(): Promise<ClusterFile> {
  launcherErr = '';
  launcher = spawn(
    process.execPath,
    [tesseraJs, 'local', '--dir', dir, '--base-port', '0', '--lock-base-port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  launcher.stderr!.on(
    'data',
    (b: Buffer) => (launcherErr = (launcherErr + b.toString()).slice(-8000)),
  );
  const pid = launcher.pid;
  return waitFor('cluster.json to say running', () => {
    const f = readCluster();
    return f?.state === 'running' && f.launcherPid === pid ? f : undefined;
  });
}

async function stopLocal(): Promise<number | null> {
  const l = launcher!;
  const exited = new Promise<number | null>((done) => l.once('exit', (code) => done(code)));
  l.kill('SIGINT');
  return exited;
}

function nodeOf(f: ClusterFile) {
  const node = f.processes.find((p) => p.role === 'node');
  if (!node) throw new Error('cluster.json lists no node');
  return node;
}

function exec(address: string, command: string) {
  return spawnSync(process.execPath, [tesseraJs, 'exec', '--connect', address, command], {
    encoding: 'utf8',
    timeout: 20_000,
  });
}

const rowKey = (i: number) => `row${String(i).padStart(6, '0')}`;

describe('tessera local, end to end (real processes)', () => {
  if (skippedWithoutBuild('tessera local end to end')) return;

  it('serves a table; checkAndMutate races have one winner; acknowledged writes survive SIGKILL; bad input gets clear errors; a restart finds the data', async () => {
    const first = await startLocal();
    expect(first.processes.filter((p) => p.role === 'lock')).toHaveLength(3);
    const address = nodeOf(first).address;
    const db = await connect(env, address);
    dbs.push(db);

    // Create, write, read back, scan in order.
    await db.createTable({ name: 'users', families: [{ name: 'info' }] });
    expect(await db.listTables()).toContain('users');
    const users = db.table('users');
    const order = Array.from({ length: 200 }, (_, i) => (i * 7919) % 200); // a shuffled order
    await Promise.all(order.map((i) => users.put(rowKey(i), { 'info:n': String(i) })));
    expect((await users.get(rowKey(42)))?.text('info:n')).toBe('42');
    expect(await users.get('no-such-row')).toBeUndefined();
    const scanned: string[] = [];
    for await (const row of users.scan({ batchRows: 17 })) scanned.push(fromUtf8(row.key));
    expect(scanned).toEqual(Array.from({ length: 200 }, (_, i) => rowKey(i)));

    // checkAndMutate: ten rounds of eight concurrent "set if absent" on one cell.
    for (let round = 0; round < 10; round++) {
      const row = `race${round}`;
      const wins = await Promise.all(
        Array.from({ length: 8 }, (_, who) =>
          users.checkAndMutate(
            row,
            { column: 'info:owner', absent: true },
            new Mutation(row).put('info', 'owner', `client${who}`),
          ),
        ),
      );
      expect(wins.filter(Boolean)).toHaveLength(1);
      const owner = (await users.get(row))?.text('info:owner');
      expect(owner).toBe(`client${wins.indexOf(true)}`);
    }

    // SIGKILL the node under a write load; every acknowledged write must survive.
    const acked = new Map<string, string>();
    let stop = false;
    let seq = 0;
    const writer = async (w: number) => {
      while (!stop) {
        const key = `k${w}-${seq++}`;
        const value = `v-${key}`;
        try {
          await users.put(key, { 'info:v': value }, { timeoutMs: 2_000 });
          acked.set(key, value);
        } catch {
          await sleep(20); // node down or restarting: outcome unknown, not counted
        }
      }
    };
    const writers = Array.from({ length: 8 }, (_, w) => writer(w));
    await sleep(800);
    const killedPid = nodeOf(first).pid;
    const ackedBeforeKill = acked.size;
    process.kill(killedPid, 'SIGKILL');
    const restarted = await waitFor('the launcher to restart the node', () => {
      const f = readCluster();
      return f !== undefined && nodeOf(f).pid !== killedPid ? f : undefined;
    });
    expect(nodeOf(restarted).address).toBe(address);
    await sleep(800);
    stop = true;
    await Promise.all(writers);
    expect(ackedBeforeKill).toBeGreaterThan(50);
    const after = await connect(env, address);
    dbs.push(after);
    const t = after.table('users');
    const missing: string[] = [];
    await Promise.all(
      [...acked].map(async ([key, value]) => {
        if ((await t.get(key))?.text('info:v') !== value) missing.push(key);
      }),
    );
    expect(missing, `acknowledged writes lost after SIGKILL (of ${acked.size})`).toEqual([]);

    // Malformed requests: clear errors, and the node keeps serving.
    const raw = await RpcClient.connect(env, parseAddress(address));
    for (const [method, body] of [
      ['table.mutate', { table: 'users', mutation: { row: 'not-bytes', ops: 5 } }],
      ['table.get', { table: 42 }],
      ['table.scan', { table: 'users', spec: { limit: -1 } }],
      ['table.create', { spec: { name: '', families: [] } }],
    ] as const) {
      const err = await raw.call(method, body).then(
        () => undefined,
        (e: unknown) => toTesseraError(e),
      );
      expect(err?.code, `${method} with a malformed body`).toBe('INVALID_ARGUMENT');
    }
    const noTable = await raw.call('table.get', { table: 'nope', row: new Uint8Array([1]) }).then(
      () => undefined,
      (e: unknown) => toTesseraError(e),
    );
    expect(noTable?.code).toBe('NOT_FOUND');
    await raw.close();
    expect((await t.get(rowKey(1)))?.text('info:n')).toBe('1');

    // Every process serves Prometheus metrics; the node's count the table operations above.
    const now = readCluster()!;
    for (const p of now.processes) expect(p.metrics, `${p.name} lists metrics`).toBeDefined();
    const nodeMetrics = await (await fetch(`http://${nodeOf(now).metrics!}/metrics`)).text();
    expect(nodeMetrics).toMatch(/tessera_rpc_requests_total\{[^}]*method="table\.mutate"/);
    expect(nodeMetrics).toMatch(/tessera_memtable_bytes\{[^}]*table="users"/);
    const lockMetrics = await Promise.all(
      now.processes
        .filter((p) => p.role === 'lock')
        .map(async (p) => (await fetch(`http://${p.metrics!}/metrics`)).text()),
    );
    expect(lockMetrics.join('\n')).toMatch(/tessera_raft_is_leader\{[^}]*\} 1/);

    // The shell, for scripts: a result, and malformed input with a clear error and exit code.
    const ok = exec(address, "get 'users', 'row000007'");
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('info:n');
    expect(ok.stdout).toContain('value=7');
    const bad = exec(address, "put 'users', 'row1'");
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/ERROR INVALID_ARGUMENT/);
    const unbalanced = exec(address, "get 'users, 'row1'");
    expect(unbalanced.status).not.toBe(0);
    expect(unbalanced.stderr).toMatch(/ERROR INVALID_ARGUMENT/);

    // Stop cleanly; start again on the same directory: the table and its data are there.
    await Promise.all(dbs.splice(0).map((d) => d.close()));
    expect(await stopLocal()).toBe(0);
    expect(readCluster()?.state).toBe('stopped');
    const second = await startLocal();
    const again = await connect(env, nodeOf(second).address);
    dbs.push(again);
    expect(await again.listTables()).toEqual(['users']);
    expect((await again.table('users').get(rowKey(199)))?.text('info:n')).toBe('199');
    const [someKey, someValue] = [...acked][0]!;
    expect((await again.table('users').get(someKey))?.text('info:v')).toBe(someValue);
  }, 120_000);

  it('stopped while it restarts a killed node, leaves no process behind', async () => {
    // Its own cluster: SIGKILL the node, and SIGINT the launcher the moment the restarted
    // node's process exists (before it is ready). The stop must wait for that restart and
    // stop the new process too, not only the ones it knew when the signal came.
    const own = mkdtempSync(join(tmpdir(), 'tessera-e2e-restart-'));
    const processesIn = (): number[] => {
      if (process.platform !== 'linux') return [];
      const pids: number[] = [];
      for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
        let cmdline = '';
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          continue; // gone already
        }
        if (cmdline.includes(own)) pids.push(Number(pid));
      }
      return pids;
    };
    const l = spawn(
      process.execPath,
      [tesseraJs, 'local', '--dir', own, '--base-port', '0', '--lock-base-port', '0'],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    try {
      const clusterOf = (): ClusterFile | undefined => {
        try {
          return JSON.parse(readFileSync(join(own, 'cluster.json'), 'utf8')) as ClusterFile;
        } catch {
          return undefined;
        }
      };
      const running = await waitFor('the second cluster to run', () => {
        const f = clusterOf();
        return f?.state === 'running' && f.launcherPid === l.pid ? f : undefined;
      });
      const killed = nodeOf(running).pid;
      const known = new Set(running.processes.map((p) => p.pid));
      process.kill(killed, 'SIGKILL');
      if (process.platform === 'linux') {
        await waitFor(
          'the node to be restarted',
          () => (processesIn().some((pid) => !known.has(pid) && pid !== l.pid) ? true : undefined),
          10_000,
        );
      }
      const exited = new Promise<number | null>((done) => l.once('exit', (code) => done(code)));
      l.kill('SIGINT');
      expect(await exited).toBe(0);
      // The launcher waited for every child to exit: nothing of this cluster may remain.
      expect(processesIn()).toEqual([]);
    } finally {
      if (l.exitCode === null && l.signalCode === null) l.kill('SIGKILL');
      for (const pid of processesIn()) process.kill(pid, 'SIGKILL');
      rmSync(own, { recursive: true, force: true });
    }
  }, 60_000);

  it('--ring 3 starts three ring nodes and no lock service; tessera ring sees them alive; SIGINT stops them all', async () => {
    const own = mkdtempSync(join(tmpdir(), 'tessera-e2e-ring-'));
    let out = '';
    let err = '';
    const l = spawn(
      process.execPath,
      [tesseraJs, 'local', '--dir', own, '--ring', '3', '--base-port', '0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    l.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    l.stderr!.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-8000)));
    const clusterOf = (): ClusterFile | undefined => {
      try {
        return JSON.parse(readFileSync(join(own, 'cluster.json'), 'utf8')) as ClusterFile;
      } catch {
        return undefined;
      }
    };
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    let pids: number[] = [];
    try {
      const running = await waitFor('the ring cluster to run', () => {
        const f = clusterOf();
        return f?.state === 'running' && f.launcherPid === l.pid ? f : undefined;
      });
      expect(running.processes.map((p) => [p.role, p.name, p.ring])).toEqual([
        ['node', 'node1', true],
        ['node', 'node2', true],
        ['node', 'node3', true],
      ]);
      pids = running.processes.map((p) => p.pid);
      expect(pids.every(alive)).toBe(true);
      expect(out).toContain('ring of 3 nodes');
      expect(out).toContain(`npx tessera ring --connect ${running.processes[0]!.address}`);
      expect(out).toContain(`{PLACEMENT => 'hashed', REPLICATION => 3}`);

      // `tessera ring` (as a child process) until all three are alive in node1's view.
      const addresses = running.processes.map((p) => p.address).sort();
      const until = Date.now() + 15_000;
      let last = '';
      for (;;) {
        const run = await tessera(['ring', '--json', '--connect', running.processes[0]!.address]);
        expect(run.status, run.stderr).toBe(0);
        last = run.stdout;
        const d = JSON.parse(run.stdout) as RingDescription;
        const up = d.endpoints
          .filter((e) => e.alive)
          .map((e) => e.id)
          .sort();
        if (JSON.stringify(up) === JSON.stringify(addresses)) break;
        if (Date.now() > until) throw new Error(`the ring did not converge: ${last}\n${err}`);
        await sleep(250);
      }

      const exited = new Promise<number | null>((done) => l.once('exit', (code) => done(code)));
      l.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(clusterOf()?.state).toBe('stopped');
      expect(pids.filter(alive)).toEqual([]);
    } finally {
      if (l.exitCode === null && l.signalCode === null) l.kill('SIGKILL');
      for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
      rmSync(own, { recursive: true, force: true });
    }
  }, 60_000);
});
