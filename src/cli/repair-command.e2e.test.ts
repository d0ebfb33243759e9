/**
 * `tessera repair`, `tessera decommission` and `tessera removenode`, and the ring flags of
 * `tessera node`: first their pure parts on fixed input (the summary a finished session prints,
 * when a followed movement is over, the flag parsers), then end to end on real `tessera node
 * --ring` processes run as a user would, with the BUILT command as a child process:
 *
 * - repair: three nodes hold a hashed table at RF 3; node3 is SIGKILLed, rows are written and
 *   overwritten at QUORUM through node1, and node3 comes back. The nodes run with `--hint-window
 *   1ms`, so the hints kept for node3 have expired when they would be replayed: node3 misses
 *   those writes, as a read at ONE that node3 answers itself shows. `tessera repair kv --json`
 *   run on node1 exits 0 having streamed rows, and node3 then answers every row, at its latest
 *   value, alone; a second repair finds nothing differing;
 * - decommission: a fourth node started with `--bootstrap` joins and takes rows; `tessera
 *   decommission` on it exits 0 once it has left, `tessera ring` lists it as left, and each of
 *   the three others then answers, alone, every row written while the fourth held a share;
 * - removenode: a fifth node, bootstrapped the same way and given rows, is SIGKILLed; once
 *   node1 convicts it, `tessera removenode` run on node1 exits 0 when it is left, and each of
 *   the three others then answers, alone, every row the dead node held a replica of;
 * - removenode of a live node and decommission of an unreachable one fail with one clear line.
 *
 * The end-to-end part needs the build (`npm test` builds first); run directly without one it is
 * skipped (and says so); under `npm test` a missing build is a failure.
 */
import { InvalidArgumentError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Database } from '../client/index.js';
import type { ConsistencyLevel } from '../model/index.js';
import type { RingDescription } from '../ring/index.js';
import { parseChance, parseDurationMs, parseStreamRate } from './node-command.js';
import { formatRepairErrors, formatRepairSummary, repairProgressLine } from './repair-command.js';
import { decommissionStep, removalStep } from './ring-admin-command.js';
import type { RepairSession } from './ring-command.js';
import { kill, RingProcesses, skippedWithoutBuild } from './testing/ring-processes.js';

// --- Pure parts -------------------------------------------------------------------------------

const session = (over: Partial<RepairSession> = {}): RepairSession => ({
  id: '10.0.0.1:7701#2',
  table: 'kv',
  scope: 'all',
  state: 'done',
  startedMicros: 10_000_000,
  finishedMicros: 12_000_000,
  stats: {
    groups: 3,
    groupsDone: 3,
    groupsIncomplete: 0,
    leavesCompared: 12288,
    leavesDiffering: 12,
    rowsCompared: 300,
    bytesCompared: 2 * 1024 * 1024,
    rowsStreamed: 100,
    bytesStreamed: 40 * 1024,
    errors: [],
  },
  ...over,
});

const ep = (id: string, status: string, progress = ''): RingDescription['endpoints'][number] => ({
  id,
  name: `n${id.split(':')[1]}`,
  datacenter: 'dc1',
  rack: 'rack1',
  status,
  alive: true,
  load: 0,
  tokens: ['1'],
  owns: 0.5,
  generation: 1,
  heartbeat: 1,
  schema: '',
  progress,
});
const ring = (self: string, ...endpoints: RingDescription['endpoints']): RingDescription => ({
  self,
  endpoints,
  tables: [],
});

describe('tessera repair, decommission, removenode: output and flags', () => {
  it('summarizes a finished repair session', () => {
    expect(formatRepairSummary(session())).toBe(
      [
        'Repair 10.0.0.1:7701#2 of kv (scope all): done in 2.0 s',
        '  replica sets  3 of 3 compared (0 incomplete)',
        '  leaves        12 differing of 12288 compared',
        '  compared      300 rows, 2.0 MiB (1.0 MiB/s)',
        '  streamed      100 rows, 40 KiB (20 KiB/s)',
      ].join('\n'),
    );
    expect(formatRepairSummary(session({ table: '*', scope: 'primary' })).split('\n')[0]).toBe(
      'Repair 10.0.0.1:7701#2 of every hashed table (scope primary): done in 2.0 s',
    );
    expect(repairProgressLine(session())).toBe(
      'repair 10.0.0.1:7701#2: 3/3 replica sets, 12 of 12288 leaves differing, 2.0 MiB compared, ' +
        '100 rows (40 KiB) streamed',
    );
    const incomplete = session({ state: 'incomplete' });
    incomplete.stats.groupsIncomplete = 1;
    incomplete.stats.errors.push('10.0.0.1:7703: CONNECTION_REFUSED');
    expect(formatRepairErrors(incomplete).split('\n')).toEqual([
      'repair incomplete: 1 of 3 replica sets were not compared on all their replicas (a replica ' +
        'was down or failed); run it again once they are up',
      '  10.0.0.1:7703: CONNECTION_REFUSED',
    ]);
  });

  it('follows a decommission until the node is left, or normal again', () => {
    const printed: string[] = [];
    const print = (t: string) => printed.push(t);
    expect(decommissionStep(ring('h:4', ep('h:4', 'leaving', 'decommission: 1/4')), print)).toBe(
      undefined,
    );
    expect(printed).toEqual(['decommission: 1/4']);
    expect(
      decommissionStep(ring('h:4', ep('h:4', 'left', 'decommissioned: streamed 9 rows'))),
    ).toEqual({
      ok: true,
      line: 'h:4 (n4) has left the ring: decommissioned: streamed 9 rows; it can be stopped now',
    });
    expect(decommissionStep(ring('h:4', ep('h:4', 'normal', 'decommission failed: x')))).toEqual({
      ok: false,
      line: 'h:4: decommission failed: x',
    });
    // Normal again with another progress (a repair's) is a failure too.
    expect(decommissionStep(ring('h:4', ep('h:4', 'normal', 'repair kv')))?.ok).toBe(false);
  });

  it('follows a removenode until the endpoint is left or gone, or normal again', () => {
    const asked = (status: string | undefined, progress: string) =>
      ring(
        'h:1',
        ep('h:1', 'normal', progress),
        ...(status === undefined ? [] : [ep('h:3', status)]),
      );
    expect(removalStep(asked('leaving', 'removenode h:3: 2/4 streams'), 'h:3')).toBe(undefined);
    expect(removalStep(asked('left', 'removed h:3: streamed 5 rows'), 'h:3')).toEqual({
      ok: true,
      line: 'h:3 has been removed from the ring: removed h:3: streamed 5 rows',
    });
    expect(removalStep(asked(undefined, ''), 'h:3')?.ok).toBe(true);
    expect(removalStep(asked('normal', 'removenode h:3 failed: y'), 'h:3')).toEqual({
      ok: false,
      line: 'h:1: removenode h:3 failed: y',
    });
  });

  it('parses the ring flags of tessera node', () => {
    expect(parseDurationMs('3h')).toBe(3 * 3600 * 1000);
    expect(parseDurationMs('30m')).toBe(30 * 60 * 1000);
    expect(parseDurationMs('10s')).toBe(10_000);
    expect(parseDurationMs('1.5s')).toBe(1500);
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('250')).toBe(250);
    expect(parseDurationMs('0')).toBe(0);
    for (const bad of ['', 's', '-1s', '3d', '1e3', '1 h', 'ten']) {
      expect(() => parseDurationMs(bad), bad).toThrow(InvalidArgumentError);
    }
    expect(() => parseDurationMs('0', 1)).toThrow(/at least 1 ms/);
    expect(() => parseDurationMs('600h', 0, 2 ** 31 - 1)).toThrow(/at most/);
    expect(parseChance('0')).toBe(0);
    expect(parseChance('0.25')).toBe(0.25);
    expect(parseChance('1')).toBe(1);
    for (const bad of ['', '-0.1', '1.01', 'NaN', 'x']) {
      expect(() => parseChance(bad), bad).toThrow(InvalidArgumentError);
    }
    expect(parseStreamRate('0')).toBe(0);
    expect(parseStreamRate('64')).toBe(64 * 1024 * 1024);
    expect(parseStreamRate('0.5')).toBe(512 * 1024);
    for (const bad of ['', '-1', 'fast', 'Infinity']) {
      expect(() => parseStreamRate(bad), bad).toThrow(InvalidArgumentError);
    }
  });
});

// --- End to end -------------------------------------------------------------------------------

/** Time for fresh (or restarted) nodes to see each other alive and normal. */
const convergeMs = 15_000;
/** Time for the phi-accrual detector to convict a SIGKILLed node (threshold 8, 1 s gossip). */
const convictMs = 20_000;
/** Time for a bootstrap or a decommission with --ring-delay 1s to finish. */
const movementMs = 20_000;
/** The end-to-end tests wait for several of the above in turn. */
const slowTestMs = 120_000;
const rowsBefore = 60;
const rowsWhileDown = 60;
const rowsOverwritten = 20;
const rowsWithNode4 = 60;

/** Every node runs with expired hints (see the header), no background read repair and a 1 s ring delay. */
const ringFlags = ['--hint-window', '1ms', '--read-repair-chance', '0', '--ring-delay', '1s'];

const cluster = new RingProcesses('repair-e2e', { flags: ringFlags });
const env = cluster.env;
const dbs: Database[] = [];

/** A client of one node only, that coordinates every request itself (no token-aware routing). */
async function clientOf(address: string, consistency: ConsistencyLevel): Promise<Database> {
  const db = await connect(env, address, { tokenAware: false, consistency, timeoutMs: 10_000 });
  dbs.push(db);
  return db;
}

const key = (prefix: string, i: number) => `${prefix}${String(i).padStart(3, '0')}`;

/** Writes rows `prefix000…` with `value` + index, all in parallel, at the client's level or `consistency`. */
async function writeRows(
  db: Database,
  prefix: string,
  count: number,
  value: string,
  consistency?: ConsistencyLevel,
) {
  const kv = db.table('kv');
  const options = consistency === undefined ? {} : { consistency };
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      kv.put(key(prefix, i), { 'f:v': `${value}${i}` }, options),
    ),
  );
}

/** Each row's value as the client reads it (undefined when the row is missing). */
async function readRows(db: Database, prefix: string, count: number) {
  const kv = db.table('kv');
  return Promise.all(
    Array.from({ length: count }, async (_, i) => (await kv.get(key(prefix, i)))?.text('f:v')),
  );
}

const expected = (value: string, count: number, from = 0) =>
  Array.from({ length: count }, (_, i) => `${value}${i + from}`);

/** Every node in `ids` sees exactly those endpoints alive and normal (besides left ones). */
const agreed = (ids: readonly string[]) => (d: RingDescription) =>
  ids.every((id) => d.endpoints.some((e) => e.id === id && e.alive && e.status === 'normal')) &&
  d.endpoints.filter((e) => e.status !== 'left').length === ids.length;

describe('tessera repair and decommission, end to end (real ring nodes)', () => {
  if (skippedWithoutBuild('tessera repair end to end')) return;

  beforeAll(async () => {
    await cluster.startRing(['node1', 'node2', 'node3']);
  });

  afterAll(async () => {
    await Promise.all(dbs.map((db) => db.close().catch(() => undefined)));
    await cluster.dispose();
  });

  const addressOf = (name: string) => cluster.address(name);
  /** A node that joins the running ring with --bootstrap, seeded with node1. */
  const bootstrap = (name: string) =>
    cluster.start(name, { seeds: [addressOf('node1')], flags: ['--bootstrap'] });

  it(
    'repair brings a replica that missed writes (hints expired) back in step',
    async () => {
      const three = ['node1', 'node2', 'node3'].map(addressOf);
      for (const a of three)
        await cluster.waitRing(a, `${a} to see three normal nodes`, convergeMs, agreed(three));
      const db1 = await clientOf(addressOf('node1'), 'ALL');
      await db1.createTable({
        name: 'kv',
        families: [{ name: 'f' }],
        placement: { hashed: { replicationFactor: 3 } },
      });
      await writeRows(db1, 'a', rowsBefore, 'v1-');

      // node3 misses new rows and overwrites of old ones.
      await kill(cluster.node('node3'));
      await writeRows(db1, 'b', rowsWhileDown, 'w-', 'QUORUM');
      await writeRows(db1, 'a', rowsOverwritten, 'v2-', 'QUORUM');
      await cluster.start('node3', { seeds: [addressOf('node1')], listen: addressOf('node3') });
      for (const a of three)
        await cluster.waitRing(a, `${a} to see node3 back`, convergeMs, agreed(three));
      // Hints for node3 were kept while it was down and are dropped, expired, once it is back.
      await cluster.waitRing(
        addressOf('node1'),
        'node1 to drop its expired hints',
        convergeMs,
        (d) => (d.hints ?? []).every((h) => h.hints === 0),
      );

      // node3, asked alone at ONE, answers from its own replica: it lacks what it missed.
      const db3 = await clientOf(addressOf('node3'), 'ONE');
      expect(await readRows(db3, 'b', rowsWhileDown)).toEqual(Array(rowsWhileDown).fill(undefined));
      expect(await readRows(db3, 'a', rowsOverwritten)).toEqual(expected('v1-', rowsOverwritten));

      const run = await cluster.tessera([
        'repair',
        'kv',
        '--connect',
        addressOf('node1'),
        '--json',
      ]);
      expect(run.status, `${run.stderr}\n${cluster.stderrTail()}`).toBe(0);
      const s = JSON.parse(run.stdout) as RepairSession;
      expect(s).toMatchObject({ table: 'kv', scope: 'all', state: 'done' });
      expect(s.id.startsWith(`${addressOf('node1')}#`)).toBe(true);
      expect(s.stats.groups).toBeGreaterThan(0);
      expect(s.stats.groupsDone).toBe(s.stats.groups);
      expect(s.stats.leavesDiffering).toBeGreaterThan(0);
      expect(s.stats.rowsStreamed).toBeGreaterThanOrEqual(rowsWhileDown + rowsOverwritten);
      expect(s.stats.errors).toEqual([]);
      // Not a terminal: one progress line per change on stderr, naming the session.
      expect(run.stderr).toContain(`repair ${s.id}: `);

      expect(await readRows(db3, 'b', rowsWhileDown)).toEqual(expected('w-', rowsWhileDown));
      expect(await readRows(db3, 'a', rowsBefore)).toEqual([
        ...expected('v2-', rowsOverwritten),
        ...expected('v1-', rowsBefore - rowsOverwritten, rowsOverwritten),
      ]);

      // In step now: a second repair, run on node2 and printed for people, finds nothing.
      const again = await cluster.tessera(['repair', 'kv', '--connect', addressOf('node2')]);
      expect(again.status, again.stderr).toBe(0);
      const lines = again.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^Repair \S+#1 of kv \(scope all\): done in \d+\.\d s$/);
      expect(lines[2]).toMatch(/^ {2}leaves {8}0 differing of [1-9]\d* compared$/);
      expect(lines[4]).toMatch(/^ {2}streamed {6}0 rows, 0 B \(0 B\/s\)$/);

      // tessera ring shows node1's last repair.
      const status = await cluster.tessera(['ring', '--connect', addressOf('node1')]);
      expect(status.status, status.stderr).toBe(0);
      expect(status.stdout).toContain(`Last repair on ${addressOf('node1')}: ${s.id} of kv`);
    },
    slowTestMs,
  );

  it('fails clearly: removenode of a live node, decommission of no node', async () => {
    const live = await cluster.tessera([
      'removenode',
      addressOf('node2'),
      '--connect',
      addressOf('node1'),
    ]);
    expect(live.status).toBe(1);
    expect(live.stdout).toBe('');
    expect(live.stderr).toMatch(/^ERROR RING_STATE: .*alive.*\n$/);

    const nobody = await cluster.tessera(['decommission', '--connect', '127.0.0.1:1']);
    expect(nobody.status).toBe(1);
    expect(nobody.stderr).toMatch(/^ERROR CONNECTION_REFUSED: no ring node answered \(.+\)\n$/);

    const unnamed = await cluster.tessera(['decommission']);
    expect(unnamed.status).toBe(1);
    expect(unnamed.stderr).toContain("required option '--connect <address>' not specified");
  });

  it(
    'a node added with --bootstrap can be decommissioned; its rows stay on the others',
    async () => {
      const node4 = await bootstrap('node4');
      const four = ['node1', 'node2', 'node3', 'node4'].map(addressOf);
      for (const a of four)
        await cluster.waitRing(a, `${a} to see node4 normal`, movementMs, agreed(four));

      // Rows written while node4 holds a share: each of the others misses some of them.
      const db1 = await clientOf(addressOf('node1'), 'ALL');
      await writeRows(db1, 'c', rowsWithNode4, 'n4-');

      const run = await cluster.tessera(['decommission', '--connect', node4.address]);
      expect(run.status, `${run.stderr}\n${cluster.stderrTail()}`).toBe(0);
      const quoted = node4.address.replace(/\./g, '\\.');
      expect(run.stdout).toMatch(
        new RegExp(
          `^${quoted} \\(node4\\) has left the ring: decommissioned: streamed [1-9]\\d* rows; ` +
            'it can be stopped now\n$',
        ),
      );
      expect(run.stderr).toContain('decommission: ');

      const three = ['node1', 'node2', 'node3'].map(addressOf);
      for (const a of three) {
        await cluster.waitRing(a, `${a} to see node4 left`, convergeMs, (d) =>
          d.endpoints.some((e) => e.id === node4.address && e.status === 'left'),
        );
      }
      const status = await cluster.tessera(['ring', '--connect', addressOf('node1')]);
      expect(status.status, status.stderr).toBe(0);
      expect(status.stdout).toMatch(new RegExp(`^(Up|Down)\\s+Left\\s+${node4.address}\\s`, 'm'));

      await kill(node4);
      for (const a of three) {
        const alone = await clientOf(a, 'ONE');
        expect(await readRows(alone, 'c', rowsWithNode4), a).toEqual(
          expected('n4-', rowsWithNode4),
        );
      }
    },
    slowTestMs,
  );

  it(
    'removenode rebuilds the replicas of a dead node; its rows stay on the others',
    async () => {
      const node5 = await bootstrap('node5');
      const three = ['node1', 'node2', 'node3'].map(addressOf);
      const four = [...three, node5.address];
      for (const a of four)
        await cluster.waitRing(a, `${a} to see node5 normal`, movementMs, agreed(four));
      const db1 = await clientOf(addressOf('node1'), 'ALL');
      await writeRows(db1, 'd', rowsWithNode4, 'n5-');

      await kill(node5);
      await cluster.waitRing(addressOf('node1'), 'node1 to see node5 down', convictMs, (d) =>
        d.endpoints.some((e) => e.id === node5.address && !e.alive),
      );
      const run = await cluster.tessera([
        'removenode',
        node5.address,
        '--connect',
        addressOf('node1'),
      ]);
      expect(run.status, `${run.stderr}\n${cluster.stderrTail()}`).toBe(0);
      const quoted = node5.address.replace(/\./g, '\\.');
      expect(run.stdout).toMatch(
        new RegExp(
          `^${quoted} has been removed from the ring: removed ${quoted}: streamed [1-9]\\d* rows\n$`,
        ),
      );
      expect(run.stderr).toContain(`removenode ${node5.address}`);
      for (const a of three) {
        await cluster.waitRing(a, `${a} to see node5 left`, convergeMs, (d) =>
          d.endpoints.some((e) => e.id === node5.address && e.status === 'left'),
        );
        const alone = await clientOf(a, 'ONE');
        expect(await readRows(alone, 'd', rowsWithNode4), a).toEqual(
          expected('n5-', rowsWithNode4),
        );
      }
    },
    slowTestMs,
  );
});
