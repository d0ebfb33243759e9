/**
 * A throw-away 3-server ZooKeeper ensemble on loopback for `tessera bench lock --compare
 * zookeeper`, driven with node-zookeeper-client (a devDependency: the comparison is a benchmark,
 * not part of the shipped service).
 *
 * The servers are started with `java` and the Debian package's jars directly
 * (QuorumPeerMain, one zoo.cfg per server), not through zkServer.sh, which reads the system
 * /etc/zookeeper configuration. Each server has its own dataDir and myid, its client port and
 * its quorum and election ports, all free loopback ports picked at start, and `forceSync=yes`:
 * the transaction log is fsynced before a write is acknowledged, as the Raft log is on the
 * tessera side. Debian/Ubuntu: `apt-get install zookeeper`.
 *
 * Clients are spread round-robin over the three servers, one ZooKeeper session each, as in the
 * ZooKeeper paper's throughput benchmark: a write goes to the leader through the client's server
 * (Zab), a read (`getData`) is answered by the client's own server from its local replica. So
 * ZooKeeper reads are not linearizable (the tessera and etcd reads are), and read throughput
 * grows with the number of servers; the bench prints this next to the ratios.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zookeeper from 'node-zookeeper-client';
import { freeTcpUdpPort } from './lock-cluster.js';

export const ZOOKEEPER_INSTALL = 'apt-get install zookeeper';

/** Where the Debian package puts the server jar (its manifest's Class-Path names the rest). */
const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
/** A logging binding that discards: without one slf4j warns and logs nothing anyway. */
const SLF4J_NOP_JAR = '/usr/share/java/slf4j-nop.jar';
const SERVER_MAIN = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';
const ENSEMBLE_SIZE = 3;
const serveTimeoutMs = 60_000;
const connectTimeoutMs = 20_000;
const sessionTimeoutMs = 30_000;
const stopGraceMs = 5_000;

/** True when `java` runs and the ZooKeeper server jar is installed. */
export function zookeeperAvailable(): boolean {
  return (
    existsSync(ZOOKEEPER_JAR) && spawnSync('java', ['-version'], { stdio: 'ignore' }).status === 0
  );
}

/** The server version, from the jar's name in /usr/share/java (Debian installs zookeeper-X.Y.Z.jar). */
export function zookeeperVersion(): string {
  const out = spawnSync('sh', ['-c', 'ls /usr/share/java/zookeeper-[0-9]*.jar'], {
    encoding: 'utf8',
  }).stdout;
  return /zookeeper-(\d+\.\d+\.\d+)\.jar/.exec(out ?? '')?.[1] ?? 'unknown';
}

export interface ZooKeeperEnsemble {
  /** `host:port` of each server's client port. */
  readonly servers: readonly string[];
  /** setData of `value` on the existing znode `path` by client `client`. */
  put(client: number, path: string, value: Uint8Array): Promise<void>;
  /** getData by client `client` (served by its own server); resolves to the byte length. */
  get(client: number, path: string): Promise<number>;
  /** Creates the persistent znode `path` holding `value` (its parent must exist); an existing one is overwritten. */
  create(client: number, path: string, value: Uint8Array): Promise<void>;
  stop(): Promise<void>;
}

interface Server {
  readonly id: number;
  readonly client: number;
  readonly quorum: number;
  readonly election: number;
}

function zooCfg(s: Server, dataDir: string, all: readonly Server[]): string {
  return [
    'tickTime=2000',
    'initLimit=10',
    'syncLimit=5',
    `dataDir=${dataDir}`,
    `clientPort=${s.client}`,
    'clientPortAddress=127.0.0.1',
    // fsync the transaction log before acknowledging (ZooKeeper's default, stated on purpose).
    'forceSync=yes',
    'maxClientCnxns=0',
    'admin.enableServer=false',
    '4lw.commands.whitelist=srvr,ruok',
    'autopurge.purgeInterval=0',
    ...all.map((p) => `server.${p.id}=127.0.0.1:${p.quorum}:${p.election}`),
    '',
  ].join('\n');
}

/** Sends a four-letter command to a client port; resolves to the reply ('' on any failure). */
function fourLetter(port: number, cmd: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    sock.setTimeout(2000, () => sock.destroy());
    sock.on('connect', () => sock.end(cmd));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', () => undefined);
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stopProcess(p: ChildProcess): Promise<void> {
  return new Promise((done) => {
    if (p.exitCode !== null || p.signalCode !== null) return done();
    const kill = setTimeout(() => p.kill('SIGKILL'), stopGraceMs);
    p.once('exit', () => {
      clearTimeout(kill);
      done();
    });
    p.kill('SIGTERM');
  });
}

function connectClient(server: string): Promise<zookeeper.Client> {
  const c = zookeeper.createClient(server, { sessionTimeout: sessionTimeoutMs, retries: 0 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      c.close();
      reject(new Error(`no ZooKeeper session with ${server} within ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    c.once('connected', () => {
      clearTimeout(timer);
      resolve(c);
    });
    c.connect();
  });
}

/**
 * Starts three ZooKeeper servers in a temporary directory, waits until all serve (one leader,
 * two followers), and opens `clients` sessions, client `c` on server `c % 3`.
 */
export async function startZooKeeper(clients: number): Promise<ZooKeeperEnsemble> {
  const root = mkdtempSync(join(tmpdir(), 'tessera-zookeeper-'));
  const taken = new Set<number>();
  const port = async () => {
    const p = await freeTcpUdpPort(taken);
    taken.add(p);
    return p;
  };
  const servers: Server[] = [];
  for (let id = 1; id <= ENSEMBLE_SIZE; id++) {
    servers.push({ id, client: await port(), quorum: await port(), election: await port() });
  }
  const procs: ChildProcess[] = [];
  const sessions: zookeeper.Client[] = [];
  const stop = async () => {
    for (const s of sessions) s.close();
    await Promise.all(procs.map(stopProcess));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (const s of servers) {
      const dir = join(root, `zk${s.id}`);
      const dataDir = join(dir, 'data');
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(join(dataDir, 'myid'), `${s.id}\n`);
      writeFileSync(join(dir, 'zoo.cfg'), zooCfg(s, dataDir, servers));
      const log = openSync(join(dir, 'server.log'), 'a');
      procs.push(
        spawn(
          'java',
          [
            '-Xms256m',
            '-Xmx512m',
            '-cp',
            `${ZOOKEEPER_JAR}:${SLF4J_NOP_JAR}`,
            `-Dzookeeper.log.dir=${dir}`,
            // Also as a system property, which is where FileTxnLog reads it.
            '-Dzookeeper.forceSync=yes',
            SERVER_MAIN,
            join(dir, 'zoo.cfg'),
          ],
          { stdio: ['ignore', log, log] },
        ),
      );
      closeSync(log);
    }
    const deadline = Date.now() + serveTimeoutMs;
    for (;;) {
      const modes = await Promise.all(servers.map((s) => fourLetter(s.client, 'srvr')));
      const roles = modes.map((m) => /Mode: (\w+)/.exec(m)?.[1]);
      if (roles.filter((r) => r === 'leader').length === 1 && roles.every((r) => r !== undefined))
        break;
      const dead = procs.find((p) => p.exitCode !== null);
      if (dead !== undefined) throw new Error(`a ZooKeeper server exited (${dead.exitCode})`);
      if (Date.now() > deadline) {
        throw new Error(`the ZooKeeper ensemble did not serve within ${serveTimeoutMs} ms`);
      }
      await sleep(200);
    }
    const addresses = servers.map((s) => `127.0.0.1:${s.client}`);
    for (let c = 0; c < clients; c++) sessions.push(await connectClient(addresses[c % 3]!));
  } catch (err) {
    await stop();
    throw err;
  }

  const session = (c: number) => sessions[c % sessions.length]!;
  const put = (client: number, path: string, value: Uint8Array) =>
    new Promise<void>((resolve, reject) => {
      session(client).setData(path, Buffer.from(value), (err) => (err ? reject(err) : resolve()));
    });
  return {
    servers: servers.map((s) => `127.0.0.1:${s.client}`),
    put,
    get(client, path) {
      return new Promise((resolve, reject) => {
        session(client).getData(path, (err, data) => (err ? reject(err) : resolve(data.length)));
      });
    },
    async create(client, path, value) {
      const made = await new Promise<boolean>((resolve, reject) => {
        session(client).create(path, Buffer.from(value), (err) => {
          if (err === null) resolve(true);
          else if ('getCode' in err && err.getCode() === zookeeper.Exception.NODE_EXISTS)
            resolve(false);
          else reject(err);
        });
      });
      if (!made) await put(client, path, value);
    },
    stop,
  };
}
