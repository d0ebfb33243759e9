/**
 * `tessera ring`, first on fixed ring descriptions (the stable table format, datacenter
 * grouping, effective ownership, a reply from the network checked before use, the default
 * addresses from `./data/cluster.json`), then end to end: three real `tessera node --ring`
 * processes on free ports (node1 first, with no seeds; nodes 2 and 3 seeded with node1's
 * address), asked by the BUILT command as a child process, as a user would:
 *
 * - the three endpoints converge to Up/Normal, their Owns summing to ~100%;
 * - `--table` shows a hashed table's effective ownership, summing to RF × 100%;
 * - a SIGKILLed node is shown Down once the phi-accrual detector convicts it;
 * - an unreachable address is skipped for the next, and when none answers the command prints
 *   one `ERROR CONNECTION_REFUSED: …` line and exits 1.
 *
 * The end-to-end part needs the build (`npm test` builds first); run directly without one it is
 * skipped (and says so); under `npm test` a missing build is a failure.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RingDescription } from '../ring/index.js';
import { isTesseraError } from '../util/errors.js';
import type { ClusterFile } from './local-command.js';
import {
  checkDescription,
  defaultRingAddresses,
  formatLoad,
  formatRingStatus,
  formatSeconds,
  type RepairSession,
} from './ring-command.js';
import {
  allAlive,
  kill,
  pollUntil,
  RingProcesses,
  skippedWithoutBuild,
} from './testing/ring-processes.js';

const endpoint = (
  id: string,
  over: Partial<RingDescription['endpoints'][number]> = {},
): RingDescription['endpoints'][number] => ({
  id,
  name: `n-${id.split(':')[1]}`,
  datacenter: 'dc1',
  rack: 'rack1',
  status: 'normal',
  alive: true,
  load: 0,
  tokens: ['1', '2'],
  owns: 0.25,
  generation: 1,
  heartbeat: 1,
  schema: '0-0',
  ...over,
});

const repairSession = (over: Partial<RepairSession> = {}): RepairSession => ({
  id: '10.0.0.1:10#1',
  table: 'kv',
  scope: 'all',
  state: 'done',
  startedMicros: 1_000_000,
  finishedMicros: 3_500_000,
  stats: {
    groups: 4,
    groupsDone: 4,
    groupsIncomplete: 0,
    leavesCompared: 16384,
    leavesDiffering: 7,
    rowsCompared: 900,
    bytesCompared: 1024 * 1024,
    rowsStreamed: 30,
    bytesStreamed: 3072,
    errors: [],
  },
  ...over,
});

const fixture: RingDescription = {
  self: '10.0.0.1:10',
  endpoints: [
    endpoint('10.0.0.1:10', { name: 'node10', load: 1.25 * 1024 * 1024, owns: 0.339 }),
    endpoint('10.0.0.1:9', { name: 'node9', alive: false, load: 980 * 1024, owns: 0.31 }),
    endpoint('10.0.0.2:7701', {
      name: 'far',
      datacenter: 'dc2',
      rack: 'r7',
      status: 'joining',
      tokens: ['5'],
      load: 12,
      owns: 0.351,
    }),
  ],
  tables: [
    { name: 'kv', replicationFactor: 2, owns: { '10.0.0.1:10': 0.7, '10.0.0.1:9': 0.6 } },
    { name: 'geo', replicationFactor: 3, datacenters: { dc2: 1, dc1: 2 }, owns: {} },
  ],
};

describe('tessera ring output', () => {
  it('prints one block per datacenter in name order, endpoints in address order, aligned', () => {
    expect(formatRingStatus(fixture)).toBe(
      [
        'Datacenter: dc1',
        'Status  State    Address        Name    Load     Tokens  Owns   Rack',
        'Down    Normal   10.0.0.1:9     node9   980 KiB  2       31.0%  rack1',
        'Up      Normal   10.0.0.1:10    node10  1.3 MiB  2       33.9%  rack1',
        '',
        'Datacenter: dc2',
        'Status  State    Address        Name    Load     Tokens  Owns   Rack',
        'Up      Joining  10.0.0.2:7701  far     12 B     1       35.1%  r7',
      ].join('\n'),
    );
  });

  it('shows Leaving and Left endpoints, then progress, hints and the last repair', () => {
    const d: RingDescription = {
      ...fixture,
      endpoints: [
        endpoint('10.0.0.1:10', { name: 'node10', progress: '' }),
        endpoint('10.0.0.1:11', {
          name: 'node11',
          status: 'leaving',
          alive: false,
          progress: 'decommission: 3/12 streams, 1.2 MB',
        }),
        endpoint('10.0.0.1:12', { name: 'node12', status: 'left', owns: 0 }),
        endpoint('10.0.0.1:13', { name: 'node13', status: 'left', owns: 0 }),
      ],
      hints: [
        { target: '10.0.0.1:11', hints: 3, bytes: 2048, dropped: 0, corrupt: 0, corruptBytes: 0 },
        { target: '10.0.0.1:10', hints: 0, bytes: 0, dropped: 0, corrupt: 0, corruptBytes: 0 },
        { target: '10.9.9.9:1', hints: 1, bytes: 10, dropped: 2, corrupt: 0, corruptBytes: 0 },
      ],
      repairs: [
        repairSession({ id: '10.0.0.1:10#1', state: 'failed' }),
        repairSession({ id: '10.0.0.1:10#2' }),
      ],
    };
    expect(formatRingStatus(d).split('\n')).toEqual([
      'Datacenter: dc1',
      'Status  State    Address      Name    Load  Tokens  Owns   Rack',
      'Up      Normal   10.0.0.1:10  node10  0 B   2       25.0%  rack1',
      'Down    Leaving  10.0.0.1:11  node11  0 B   2       25.0%  rack1',
      'Up      Left     10.0.0.1:12  node12  0 B   2       0.0%   rack1',
      'Up      Left     10.0.0.1:13  node13  0 B   2       0.0%   rack1',
      '',
      'Progress:',
      '  10.0.0.1:11 (node11)  decommission: 3/12 streams, 1.2 MB',
      '',
      'Hints on 10.0.0.1:10, per target:',
      '  10.0.0.1:11 (node11)  3 hints, 2.0 KiB',
      '  10.9.9.9:1            1 hint, 10 B; 2 dropped (over the per-target limit)',
      '',
      'Last repair on 10.0.0.1:10: 10.0.0.1:10#2 of kv (scope all) done in 2.5 s: 4/4 replica ' +
        'sets, 7 of 16384 leaves differing, 1.0 MiB compared, 30 rows (3.0 KiB) streamed',
    ]);
  });

  it("with a table: a header naming it and its replication, and the table's ownership", () => {
    const kv = formatRingStatus(fixture, 'kv').split('\n');
    expect(kv[0]).toBe('Table: kv (replication factor 2; Owns is effective ownership)');
    expect(kv[1]).toBe('Datacenter: dc1');
    expect(kv[3]).toMatch(/^Down\s+Normal\s+10\.0\.0\.1:9\s.*\s60\.0%\s+rack1$/);
    expect(kv[4]).toMatch(/^Up\s+Normal\s+10\.0\.0\.1:10\s.*\s70\.0%\s+rack1$/);
    // An endpoint the table has no share on shows 0.0%.
    expect(kv[8]).toMatch(/\s0\.0%\s+r7$/);
    expect(formatRingStatus(fixture, 'geo').split('\n')[0]).toBe(
      'Table: geo (replication dc1=2, dc2=1; Owns is effective ownership)',
    );
    let err: unknown;
    try {
      formatRingStatus(fixture, 'nope');
    } catch (e) {
      err = e;
    }
    expect(isTesseraError(err, 'NOT_FOUND')).toBe(true);
    expect(String(err)).toContain('hashed tables: kv, geo');
  });

  it('formats loads in binary units', () => {
    expect(formatLoad(0)).toBe('0 B');
    expect(formatLoad(1023)).toBe('1023 B');
    expect(formatLoad(1024)).toBe('1.0 KiB');
    expect(formatLoad(980 * 1024)).toBe('980 KiB');
    expect(formatLoad(1.2 * 1024 * 1024)).toBe('1.2 MiB');
    expect(formatLoad(1023.7 * 1024)).toBe('1.0 MiB');
    expect(formatLoad(3 * 1024 ** 4)).toBe('3.0 TiB');
  });

  it('formats durations for people', () => {
    expect(formatSeconds(0.04)).toBe('0.0 s');
    expect(formatSeconds(12.34)).toBe('12.3 s');
    expect(formatSeconds(125)).toBe('2 min 5 s');
    expect(formatSeconds(3725)).toBe('1 h 2 min');
  });

  it('checks a reply before use', () => {
    expect(checkDescription(fixture, 'x:1')).toBe(fixture);
    const full = {
      ...fixture,
      endpoints: [{ ...fixture.endpoints[0], progress: 'bootstrap: 1/2 streams' }],
      repairs: [repairSession()],
      hints: [{ target: 'a:1', hints: 1, bytes: 9, dropped: 0, corrupt: 0, corruptBytes: 0 }],
      coordinator: {
        hintsStored: 1,
        hintsHandedOff: 1,
        readRepairs: 0,
        backgroundReadRepairs: 0,
        replicasRepaired: 0,
      },
    };
    expect(checkDescription(full, 'x:1')).toBe(full);
    const stats = repairSession().stats;
    const broken: unknown[] = [
      { ...full, endpoints: [{ ...fixture.endpoints[0], progress: 3 }] },
      { ...full, repairs: {} },
      { ...full, repairs: [{ ...repairSession(), state: 'paused' }] },
      { ...full, repairs: [{ ...repairSession(), scope: 'some' }] },
      { ...full, repairs: [{ ...repairSession(), stats: { ...stats, groups: -1 } }] },
      { ...full, repairs: [{ ...repairSession(), stats: { ...stats, errors: [7] } }] },
      { ...full, repairs: [{ ...repairSession(), id: undefined }] },
      { ...full, hints: [{ target: 'a:1', hints: '1', bytes: 9 }] },
      { ...full, hints: [{ hints: 1, bytes: 9, dropped: 0, corrupt: 0, corruptBytes: 0 }] },
      { ...full, coordinator: { ...full.coordinator, readRepairs: Number.NaN } },
      { ...full, coordinator: [] },
      null,
      { endpoints: [], tables: [] },
      { self: 'a:1', endpoints: [] },
      { ...fixture, endpoints: [{ ...fixture.endpoints[0], alive: 'yes' }] },
      { ...fixture, endpoints: [{ ...fixture.endpoints[0], owns: Number.NaN }] },
      { ...fixture, tables: [{ name: 'kv', replicationFactor: 2 }] },
      { ...fixture, tables: [{ name: 'kv', replicationFactor: 2, owns: { 'a:1': '0.5' } }] },
    ];
    for (const b of broken) {
      let err: unknown;
      try {
        checkDescription(b, 'x:1');
      } catch (e) {
        err = e;
      }
      expect(isTesseraError(err, 'PROTOCOL_ERROR'), JSON.stringify(b)).toBe(true);
    }
  });

  it('asks the ring nodes of ./data/cluster.json by default, else 127.0.0.1:7701', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'tessera-ring-cwd-'));
    try {
      expect(defaultRingAddresses(cwd)).toBe('127.0.0.1:7701');
      mkdirSync(join(cwd, 'data'));
      const write = (processes: ClusterFile['processes']) =>
        writeFileSync(
          join(cwd, 'data', 'cluster.json'),
          JSON.stringify({ version: 1, state: 'running', launcherPid: 1, dataDir: cwd, processes }),
        );
      const p = (name: string, address: string, role: 'node' | 'lock', ring?: true) => ({
        role,
        name,
        address,
        pid: 1,
        dir: cwd,
        ...(ring ? { ring } : {}),
      });
      write([
        p('lock1', 'h:1', 'lock'),
        p('node1', 'h:2', 'node', true),
        p('node2', 'h:3', 'node', true),
      ]);
      expect(defaultRingAddresses(cwd)).toBe('h:2,h:3');
      write([p('node1', 'h:2', 'node'), p('lock1', 'h:1', 'lock'), p('node2', 'h:3', 'node')]);
      expect(defaultRingAddresses(cwd)).toBe('h:2,h:3');
      write([p('lock1', 'h:1', 'lock')]);
      expect(defaultRingAddresses(cwd)).toBe('127.0.0.1:7701');
      writeFileSync(join(cwd, 'data', 'cluster.json'), '{not json');
      expect(defaultRingAddresses(cwd)).toBe('127.0.0.1:7701');
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

// --- End to end -------------------------------------------------------------------------------

/** Time for three fresh nodes to see each other alive and Normal. */
const convergeMs = 15_000;
/** Time for the phi-accrual detector to convict a SIGKILLed node (threshold 8, 1 s gossip). */
const convictMs = 20_000;
const pollMs = 250;

const cluster = new RingProcesses('ring-e2e');
const dir = cluster.dir;

async function describeVia(address: string): Promise<RingDescription> {
  const run = await cluster.tessera(['ring', '--json', '--connect', address]);
  expect(run.status, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as RingDescription;
}

/** Polls `tessera ring --json` until `done` holds; the last description is in the error. */
function pollRing(
  address: string,
  what: string,
  ms: number,
  done: (d: RingDescription) => boolean,
): Promise<RingDescription> {
  const context = () => cluster.stderrTail();
  return pollUntil(what, () => describeVia(address), done, { timeoutMs: ms, pollMs, context });
}

/**
 * The endpoint lines of a status table, as cells split at spaces: Status, State, Address, Name,
 * the Load's number and unit, Tokens, Owns, Rack.
 */
function endpointLines(out: string): string[][] {
  return out
    .split('\n')
    .filter((l) => /^(Up|Down)\s/.test(l))
    .map((l) => l.split(/\s+/));
}

/** The Owns column of endpoint lines, in percent. */
const ownsOf = (lines: string[][]) => lines.map((cells) => Number(cells[7]!.replace('%', '')));
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

describe('tessera ring, end to end (three real ring nodes)', () => {
  if (skippedWithoutBuild('tessera ring end to end')) return;

  beforeAll(async () => {
    await cluster.startRing(['node1', 'node2', 'node3']);
  });

  afterAll(() => cluster.dispose());

  const addressOf = (name: string) => cluster.address(name);

  it('shows three Up/Normal endpoints whose Owns sums to 100%', async () => {
    const d = await pollRing(
      addressOf('node1'),
      'three alive Normal endpoints',
      convergeMs,
      allAlive(3),
    );
    expect(d.self).toBe(addressOf('node1'));
    expect(d.endpoints.map((e) => e.id).sort()).toEqual(cluster.nodes.map((n) => n.address).sort());
    expect(d.endpoints.every((e) => e.tokens.length === 16)).toBe(true);

    // node2 has the same view once converged; its table is the human form of it.
    await pollRing(
      addressOf('node2'),
      'node2 to see three alive',
      convergeMs,
      (r) => r.endpoints.filter((e) => e.alive && e.status === 'normal').length === 3,
    );
    const run = await cluster.tessera(['ring', '--connect', addressOf('node2')]);
    expect(run.status, run.stderr).toBe(0);
    const out = run.stdout.split('\n');
    expect(out[0]).toBe('Datacenter: dc1');
    expect(out[1]).toMatch(/^Status\s+State\s+Address\s+Name\s+Load\s+Tokens\s+Owns\s+Rack$/);
    const lines = endpointLines(run.stdout);
    expect(lines).toHaveLength(3);
    for (const cells of lines) {
      expect(cells.slice(0, 2)).toEqual(['Up', 'Normal']);
      expect(cells[3]).toBe(cluster.nodes.find((n) => n.address === cells[2])?.name);
      expect(cells[6]).toBe('16');
      expect(cells[8]).toBe('rack1');
    }
    // Each share is printed to 0.1%: the sum is 100% within the rounding of three.
    expect(Math.abs(sum(ownsOf(lines)) - 100)).toBeLessThanOrEqual(0.15);
    expect(ownsOf(lines).every((o) => o > 0 && o < 100)).toBe(true);
  });

  it("--table shows a hashed table's effective ownership, summing to RF × 100%", async () => {
    const create = await cluster.tessera([
      'exec',
      '--connect',
      addressOf('node1'),
      "create 'kv', {NAME => 'f'}, {PLACEMENT => 'hashed', REPLICATION => 2}",
    ]);
    expect(create.status, create.stderr).toBe(0);
    const run = await cluster.tessera(['ring', '--connect', addressOf('node1'), '--table', 'kv']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.split('\n')[0]).toBe(
      'Table: kv (replication factor 2; Owns is effective ownership)',
    );
    const owns = ownsOf(endpointLines(run.stdout));
    expect(owns).toHaveLength(3);
    expect(Math.abs(sum(owns) - 200)).toBeLessThanOrEqual(0.15);
    expect(owns.every((o) => o > 0 && o <= 100)).toBe(true);

    const missing = await cluster.tessera([
      'ring',
      '--connect',
      addressOf('node1'),
      '--table',
      'nope',
    ]);
    expect(missing.status).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/^ERROR NOT_FOUND: no hashed table 'nope'.*kv.*\n$/);
  });

  it('shows a SIGKILLed node as Down; skips it for the next address; fails clearly alone', async () => {
    const victim = cluster.node('node3');
    await kill(victim);
    await pollRing(addressOf('node1'), 'node3 to be Down', convictMs, (r) =>
      r.endpoints.some((e) => e.id === victim.address && !e.alive),
    );
    const run = await cluster.tessera(['ring', '--connect', addressOf('node1')]);
    expect(run.status, run.stderr).toBe(0);
    const lines = endpointLines(run.stdout);
    expect(lines.filter((c) => c[0] === 'Down').map((c) => c[2])).toEqual([victim.address]);
    expect(lines.filter((c) => c[0] === 'Up')).toHaveLength(2);

    // The dead address alone: one clear line, exit code 1.
    const alone = await cluster.tessera(['ring', '--connect', victim.address]);
    expect(alone.status).toBe(1);
    expect(alone.stdout).toBe('');
    expect(alone.stderr).toMatch(/^ERROR CONNECTION_REFUSED: no ring node answered \(.+\)\n$/);
    expect(alone.stderr).toContain(victim.address);

    // First reachable: the dead address is skipped for node2.
    const next = await cluster.tessera([
      'ring',
      '--json',
      '--connect',
      `${victim.address},${addressOf('node2')}`,
    ]);
    expect(next.status, next.stderr).toBe(0);
    expect((JSON.parse(next.stdout) as RingDescription).self).toBe(addressOf('node2'));

    // Without --connect: the ring nodes of ./data/cluster.json, the dead one first.
    const cwd = join(dir, 'cwd');
    mkdirSync(join(cwd, 'data'), { recursive: true });
    const clusterFile: ClusterFile = {
      version: 1,
      state: 'running',
      launcherPid: process.pid,
      dataDir: join(cwd, 'data'),
      processes: [victim, ...cluster.nodes.filter((n) => n !== victim)].map((n, i) => ({
        role: 'node',
        name: n.name,
        address: n.address,
        pid: n.proc.pid ?? i,
        dir: join(dir, n.name),
        ring: true,
      })),
    };
    writeFileSync(join(cwd, 'data', 'cluster.json'), JSON.stringify(clusterFile));
    const byDefault = await cluster.tessera(['ring', '--json'], cwd);
    expect(byDefault.status, byDefault.stderr).toBe(0);
    expect((JSON.parse(byDefault.stdout) as RingDescription).self).toBe(
      cluster.nodes.filter((n) => n !== victim)[0]!.address,
    );
  });
});
