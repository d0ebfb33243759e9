/**
 * A throw-away 3-member etcd cluster on loopback for `tessera bench lock --compare etcd`, driven
 * through etcd's HTTP/JSON gateway (`/v3/kv/put`, `/v3/kv/range`, base64 keys and values) with
 * Node's own http module: no extra dependencies. Debian: `apt-get install -y etcd-server
 * etcd-client`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpUdpPort } from './lock-cluster.js';

export const ETCD_INSTALL = 'apt-get install -y etcd-server etcd-client';

/** True when an `etcd` binary is on PATH. */
export function etcdAvailable(): boolean {
  return spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;
}

export function etcdVersion(): string {
  const out = spawnSync('etcd', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /etcd Version: (\S+)/.exec(out)?.[1] ?? 'unknown';
}

export interface EtcdCluster {
  /** Client URL of the member that leads (the others forward to it). */
  readonly leaderUrl: string;
  put(key: string, value: Uint8Array): Promise<void>;
  /** A linearizable read (etcd's default); resolves to the value's byte length (0 if absent). */
  get(key: string): Promise<number>;
  stop(): Promise<void>;
}

const b64 = (s: string | Uint8Array) =>
  (typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s)).toString('base64');

function post(agent: Agent, url: string, path: string, body: unknown): Promise<unknown> {
  const payload = JSON.stringify(body);
  const u = new URL(path, url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) {
            reject(new Error(`etcd ${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch (err) {
            reject(err as Error);
          }
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Starts three etcd members (fsync on, etcd's default) in a temporary directory. */
export async function startEtcd(clients: number): Promise<EtcdCluster> {
  const root = mkdtempSync(join(tmpdir(), 'tessera-etcd-'));
  const taken = new Set<number>();
  const port = async () => {
    const p = await freeTcpUdpPort(taken);
    taken.add(p);
    return p;
  };
  const members = [];
  for (let i = 1; i <= 3; i++) {
    members.push({ name: `m${i}`, client: await port(), peer: await port() });
  }
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const procs: ChildProcess[] = members.map((m) =>
    spawn(
      'etcd',
      [
        '--name',
        m.name,
        '--data-dir',
        join(root, m.name),
        '--listen-client-urls',
        `http://127.0.0.1:${m.client}`,
        '--advertise-client-urls',
        `http://127.0.0.1:${m.client}`,
        '--listen-peer-urls',
        `http://127.0.0.1:${m.peer}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${m.peer}`,
        '--initial-cluster',
        initial,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        'tessera-bench',
        '--log-level',
        'error',
      ],
      { stdio: 'ignore' },
    ),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: clients + 4 });
  const stop = async () => {
    agent.destroy();
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((done) => {
            if (p.exitCode !== null || p.signalCode !== null) return done();
            p.once('exit', () => done());
            p.kill('SIGTERM');
          }),
      ),
    );
    rmSync(root, { recursive: true, force: true });
  };
  const urls = members.map((m) => `http://127.0.0.1:${m.client}`);
  let leaderUrl: string | undefined;
  const deadline = Date.now() + 20_000;
  while (leaderUrl === undefined && Date.now() < deadline) {
    for (const url of urls) {
      try {
        const s = (await post(agent, url, '/v3/maintenance/status', {})) as {
          header?: { member_id?: string };
          leader?: string;
        };
        if (s.leader && s.leader !== '0' && s.header?.member_id === s.leader) leaderUrl = url;
      } catch {
        // not up yet
      }
    }
    if (leaderUrl === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  if (leaderUrl === undefined) {
    await stop();
    throw new Error('the etcd cluster did not elect a leader within 20 s');
  }
  const url = leaderUrl;
  return {
    leaderUrl: url,
    async put(key, value) {
      await post(agent, url, '/v3/kv/put', { key: b64(key), value: b64(value) });
    },
    async get(key) {
      const r = (await post(agent, url, '/v3/kv/range', { key: b64(key) })) as {
        kvs?: { value?: string }[];
      };
      const v = r.kvs?.[0]?.value;
      return v ? Buffer.from(v, 'base64').length : 0;
    },
    stop,
  };
}
