import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { formatAddress, parseAddress, type Env } from '../env/index.js';
import { realEnv } from '../env/real/index.js';
import type { DescribedEndpoint, DescribedTable, RingDescription } from '../ring/index.js';
import { TesseraError, toTesseraError, type ErrorCode } from '../util/errors.js';
import { RpcClient } from '../wire/index.js';
import type { ClusterFile } from './local-command.js';
import { formatError } from './shell/format.js';
import { DEFAULT_NODE_ADDRESS } from './shell-command.js';

/** Default time allowed to connect to one address, and for its `ring.describe` to answer. */
const timeoutMsDefault = 2_000;
/** Spaces between two columns of the status table. */
const columnGap = 2;
const columnHeaders = ['Status', 'State', 'Address', 'Name', 'Load', 'Tokens', 'Owns', 'Rack'];
/** Binary units of the Load column, after plain bytes. */
const loadUnits = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/**
 * Failures that say "this address cannot answer now", after which the next address is tried.
 * Anything else (UNKNOWN_METHOD from a node started without --ring, a malformed answer) is
 * the answer, and is reported.
 */
export const unreachableCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CONNECTION_REFUSED',
  'CONNECTION_CLOSED',
  'DEADLINE_EXCEEDED',
  'SHUTTING_DOWN',
  'IO_ERROR',
]);

/** A repair session as `ring.describe` reports it (ring-protocol.ts's RepairSessionInfo). */
export type RepairSession = NonNullable<RingDescription['repairs']>[number];
/** One hint target's counts as `ring.describe` reports them (hint-store.ts's HintStats). */
export type DescribedHints = NonNullable<RingDescription['hints']>[number];

interface RingOptions {
  connect?: string;
  table?: string;
  json?: boolean;
  timeout: number;
}

export function parseTimeoutMs(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('a positive integer');
  return n;
}

/**
 * `tessera ring [--connect HOST:PORT[,…]] [--table NAME] [--json] [--timeout MS]` — the state of
 * a hashed-table ring as one of its nodes sees it, after Cassandra's `nodetool status`. It
 * calls `ring.describe` on the first address that answers: the --connect list in order, else
 * the ring nodes of `./data/cluster.json` (`tessera local --ring`), else 127.0.0.1:7701.
 *
 * The output is kept stable for scripts. One block per datacenter, in name order, separated by
 * a blank line; each block is a `Datacenter: NAME` line, a header and one line per endpoint in
 * address order, columns left-aligned to their widest cell (over all blocks) and two spaces
 * apart:
 *
 *     Datacenter: dc1
 *     Status  State    Address         Name   Load     Tokens  Owns   Rack
 *     Up      Normal   127.0.0.1:7701  node1  1.2 MiB  64      33.9%  rack1
 *     Down    Normal   127.0.0.1:7702  node2  980 KiB  64      31.0%  rack1
 *     Up      Joining  127.0.0.1:7703  node3  0 B      64      35.1%  rack1
 *
 * Status is Up or Down (the answering node's failure detector); State is Joining, Normal,
 * Leaving or Left; Load is the endpoint's bytes on disk as gossiped (B, then KiB, MiB, GiB…:
 * one decimal below 10, none from 10); Tokens is its number of tokens; Owns its share of the
 * token space as primary replica, one decimal (the column sums to about 100%). With `--table
 * NAME`, a first line `Table: NAME (replication factor N; Owns is effective ownership)` (for a
 * per-datacenter replication, `replication dc1=3, dc2=2`) and Owns is then the share of that
 * table's data each endpoint holds as any replica, summing to the replication factor × 100%,
 * as `nodetool status <keyspace>` prints it.
 *
 * Then, each after a blank line and only when there is something to say: `Progress:` with one
 * `  ADDRESS (NAME)  TEXT` line per endpoint gossiping a progress (a bootstrap, decommission,
 * removenode or repair under way); `Hints on ADDRESS, per target:` with the answering node's
 * pending hints; `Last repair on ADDRESS: …`, the answering node's latest repair session.
 *
 * `--json` prints the whole RingDescription (src/ring/ring-protocol.ts) as one line of JSON
 * instead (with --table, after checking that the table exists).
 * Exit code 0; 1 with one line `ERROR <CODE>: message` on stderr when no address answers, the
 * node is not a ring node, or the table is not a hashed table of the ring.
 */
export function ringCommand(): Command {
  return new Command('ring')
    .description('show the hashed-table ring: endpoints, status, load and ownership')
    .option('--connect <addresses>', 'ring nodes to ask, first reachable: host:port[,host:port…]')
    .option('--table <name>', "show this hashed table's effective ownership")
    .option('--json', 'print the ring description as JSON')
    .option(
      '--timeout <ms>',
      'per-address connect and answer timeout in milliseconds',
      parseTimeoutMs,
      timeoutMsDefault,
    )
    .action(async (opts: RingOptions) => {
      try {
        const addresses = splitAddresses(opts.connect ?? defaultRingAddresses());
        const description = await describeRing(addresses, opts.timeout);
        if (opts.table !== undefined) tableOf(description, opts.table);
        const out =
          opts.json === true
            ? JSON.stringify(description)
            : formatRingStatus(description, opts.table);
        process.stdout.write(`${out}\n`);
      } catch (err) {
        reportError(err);
      }
    });
}

/** Prints a failure as the one line `ERROR <CODE>: message` on stderr; exit code 1. */
export function reportError(err: unknown): void {
  process.stderr.write(`${formatError(err).replace(/\s*\n\s*/g, ' ')}\n`);
  process.exitCode = 1;
}

/**
 * The ring nodes of `<cwd>/data/cluster.json` (written by `tessera local`) as a --connect
 * list: those marked `ring`, else every node (a node without the ring then says so), else
 * DEFAULT_NODE_ADDRESS.
 */
export function defaultRingAddresses(cwd: string = process.cwd()): string {
  const file = join(cwd, 'data', 'cluster.json');
  if (!existsSync(file)) return DEFAULT_NODE_ADDRESS;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<ClusterFile>;
    const nodes = (parsed.processes ?? []).filter(
      (p) => p.role === 'node' && typeof p.address === 'string',
    );
    const ring = nodes.filter((p) => p.ring === true);
    const chosen = ring.length > 0 ? ring : nodes;
    return chosen.length > 0 ? chosen.map((p) => p.address).join(',') : DEFAULT_NODE_ADDRESS;
  } catch {
    return DEFAULT_NODE_ADDRESS;
  }
}

/** A --connect list as formatted addresses; INVALID_ARGUMENT when it holds none. */
export function splitAddresses(list: string): string[] {
  const addresses = list
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '')
    .map((a) => formatAddress(parseAddress(a)));
  if (addresses.length === 0) {
    throw new TesseraError('INVALID_ARGUMENT', '--connect needs host:port[,host:port…]');
  }
  return addresses;
}

/** `ring.describe` from the first of `addresses` that answers. */
async function describeRing(
  addresses: readonly string[],
  timeoutMs: number,
): Promise<RingDescription> {
  const env = realEnv({ name: 'ring', root: process.cwd() });
  const failures: string[] = [];
  let last: TesseraError | undefined;
  for (const address of addresses) {
    let client: RpcClient | undefined;
    try {
      client = await RpcClient.connect(env, parseAddress(address), { timeoutMs });
      const reply = await client.call('ring.describe', {}, { timeoutMs });
      return checkDescription(reply, address);
    } catch (err) {
      const e = notRingNode(err, address);
      if (!unreachableCodes.has(e.code)) throw e;
      failures.push(e.message.includes(address) ? e.message : `${address}: ${e.message}`);
      last = e;
    } finally {
      await client?.close().catch(() => undefined);
    }
  }
  throw new TesseraError(
    last?.code ?? 'CONNECTION_REFUSED',
    `no ring node answered (${failures.join('; ')})`,
  );
}

/** The failure as a TesseraError; UNKNOWN_METHOD says the node was started without --ring. */
function notRingNode(err: unknown, address: string): TesseraError {
  const e = toTesseraError(err);
  if (e.code !== 'UNKNOWN_METHOD') return e;
  return new TesseraError(
    'UNKNOWN_METHOD',
    `${address} is not a ring node (it was started without --ring)`,
    { address },
  );
}

/**
 * One ring node asked again and again (`tessera repair`, `decommission`, `removenode` follow
 * what they started by polling `ring.describe`): a dropped connection is opened again at the
 * next call, so a node that restarts or a connection that breaks mid-way costs a poll, not the
 * command.
 */
export class RingNodeLink {
  private client: RpcClient | undefined;

  private constructor(
    readonly env: Env,
    readonly address: string,
    private readonly timeoutMs: number,
  ) {}

  /**
   * A link to the first of `addresses` that accepts a connection (the next is tried only when
   * one does not: a request that may have been carried out is never sent twice).
   */
  static async open(
    env: Env,
    addresses: readonly string[],
    timeoutMs: number,
  ): Promise<RingNodeLink> {
    const failures: string[] = [];
    let last: TesseraError | undefined;
    for (const address of addresses) {
      const link = new RingNodeLink(env, address, timeoutMs);
      try {
        await link.connected();
        return link;
      } catch (err) {
        const e = toTesseraError(err);
        if (!unreachableCodes.has(e.code)) throw e;
        failures.push(e.message.includes(address) ? e.message : `${address}: ${e.message}`);
        last = e;
      }
    }
    throw new TesseraError(
      last?.code ?? 'CONNECTION_REFUSED',
      `no ring node answered (${failures.join('; ')})`,
    );
  }

  private async connected(): Promise<RpcClient> {
    this.client ??= await RpcClient.connect(this.env, parseAddress(this.address), {
      timeoutMs: this.timeoutMs,
    });
    return this.client;
  }

  /** Calls `method`; after a failure the connection is dropped, to be opened at the next call. */
  async call(method: string, body: unknown): Promise<unknown> {
    try {
      const client = await this.connected();
      return await client.call(method, body, { timeoutMs: this.timeoutMs });
    } catch (err) {
      const e = notRingNode(err, this.address);
      if (unreachableCodes.has(e.code)) await this.drop();
      throw e;
    }
  }

  async describe(): Promise<RingDescription> {
    return checkDescription(await this.call('ring.describe', {}), this.address);
  }

  private async drop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.drop();
  }
}

/** Polls made before a node that stopped answering is given up on (10 s at 500 ms). */
export const UNANSWERED_POLLS_MAX = 20;

/**
 * Calls `step` with the node's description every `intervalMs` until it returns a result.
 * Polls the node cannot answer (it restarts, the connection broke) are skipped, up to
 * UNANSWERED_POLLS_MAX in a row; any other failure ends the wait.
 */
export async function pollDescription<T>(
  link: RingNodeLink,
  intervalMs: number,
  step: (d: RingDescription) => T | undefined,
): Promise<T> {
  let unanswered = 0;
  for (;;) {
    let d: RingDescription | undefined;
    try {
      d = await link.describe();
      unanswered = 0;
    } catch (err) {
      const e = toTesseraError(err);
      if (!unreachableCodes.has(e.code) || ++unanswered >= UNANSWERED_POLLS_MAX) {
        throw new TesseraError(e.code, `${link.address} stopped answering: ${e.message}`);
      }
    }
    if (d !== undefined) {
      const result = step(d);
      if (result !== undefined) return result;
    }
    await link.env.timers.sleep(intervalMs);
  }
}

const isObj = (x: unknown): x is Record<string, unknown> =>
  typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x >= 0;
const repairScopes: readonly unknown[] = ['all', 'local', 'primary'];
const repairStates: readonly unknown[] = ['running', 'done', 'incomplete', 'failed'];
const repairCounts = [
  'groups',
  'groupsDone',
  'groupsIncomplete',
  'leavesCompared',
  'leavesDiffering',
  'rowsCompared',
  'bytesCompared',
  'rowsStreamed',
  'bytesStreamed',
] as const;
const hintCounts = ['hints', 'bytes', 'dropped', 'corrupt', 'corruptBytes'] as const;
const coordinatorCounts = [
  'hintsStored',
  'hintsHandedOff',
  'readRepairs',
  'backgroundReadRepairs',
  'replicasRepaired',
] as const;

function isRepairSession(r: unknown): boolean {
  if (!isObj(r)) return false;
  const stats = r['stats'];
  return (
    ['id', 'table'].every((k) => typeof r[k] === 'string') &&
    repairScopes.includes(r['scope']) &&
    repairStates.includes(r['state']) &&
    isCount(r['startedMicros']) &&
    isCount(r['finishedMicros']) &&
    isObj(stats) &&
    repairCounts.every((k) => isCount(stats[k])) &&
    Array.isArray(stats['errors']) &&
    (stats['errors'] as unknown[]).every((e) => typeof e === 'string')
  );
}

const isHints = (h: unknown): boolean =>
  isObj(h) && typeof h['target'] === 'string' && hintCounts.every((k) => isCount(h[k]));

/**
 * The reply, checked to be a RingDescription: it came from the network. The fields a node of
 * part 2 adds (an endpoint's `progress`, `repairs`, `hints`, `coordinator`) may be absent, as
 * from an older node, but not malformed.
 */
export function checkDescription(v: unknown, from: string): RingDescription {
  const bad = (what: string) =>
    new TesseraError('PROTOCOL_ERROR', `${from} answered ring.describe with ${what}`);
  if (!isObj(v) || typeof v['self'] !== 'string') throw bad('no self');
  const { endpoints, tables, repairs, hints, coordinator } = v;
  if (!Array.isArray(endpoints) || !Array.isArray(tables)) throw bad('no endpoints or tables');
  for (const e of endpoints as unknown[]) {
    if (
      !isObj(e) ||
      !['id', 'name', 'datacenter', 'rack', 'status'].every((k) => typeof e[k] === 'string') ||
      typeof e['alive'] !== 'boolean' ||
      !['load', 'owns'].every((k) => typeof e[k] === 'number' && Number.isFinite(e[k])) ||
      !Array.isArray(e['tokens']) ||
      (e['progress'] !== undefined && typeof e['progress'] !== 'string')
    ) {
      throw bad('a malformed endpoint');
    }
  }
  for (const t of tables as unknown[]) {
    if (
      !isObj(t) ||
      typeof t['name'] !== 'string' ||
      typeof t['replicationFactor'] !== 'number' ||
      !isObj(t['owns']) ||
      !Object.values(t['owns']).every((x) => typeof x === 'number' && Number.isFinite(x))
    ) {
      throw bad('a malformed table');
    }
  }
  if (repairs !== undefined && !(Array.isArray(repairs) && repairs.every(isRepairSession))) {
    throw bad('malformed repair sessions');
  }
  if (hints !== undefined && !(Array.isArray(hints) && hints.every(isHints))) {
    throw bad('malformed hint counts');
  }
  if (
    coordinator !== undefined &&
    !(isObj(coordinator) && coordinatorCounts.every((k) => isCount(coordinator[k])))
  ) {
    throw bad('malformed coordinator counts');
  }
  return v as unknown as RingDescription;
}

function tableOf(d: RingDescription, name: string): DescribedTable {
  const table = d.tables.find((t) => t.name === name);
  if (table === undefined) {
    const names = d.tables.map((t) => t.name);
    throw new TesseraError(
      'NOT_FOUND',
      `no hashed table '${name}' in the ring (hashed tables: ${names.length === 0 ? 'none' : names.join(', ')})`,
      { table: name },
    );
  }
  return table;
}

/**
 * The status table of a ring description (format in ringCommand's comment); with `table`,
 * that hashed table's effective ownership. NOT_FOUND when the table is not in the ring.
 */
export function formatRingStatus(d: RingDescription, table?: string): string {
  const t = table === undefined ? undefined : tableOf(d, table);
  const byAddress = [...d.endpoints].sort((a, b) =>
    a.id.localeCompare(b.id, 'en', { numeric: true }),
  );
  const datacenters = [...new Set(byAddress.map((e) => e.datacenter))].sort();
  const row = (e: DescribedEndpoint) => [
    e.alive ? 'Up' : 'Down',
    stateName(e.status),
    e.id,
    e.name,
    formatLoad(e.load),
    String(e.tokens.length),
    formatShare(t === undefined ? e.owns : (t.owns[e.id] ?? 0)),
    e.rack,
  ];
  const rows = byAddress.map(row);
  const widths = columnHeaders.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + columnGap))).join('');
  const blocks = datacenters.map((dc) =>
    [
      `Datacenter: ${dc}`,
      line(columnHeaders),
      ...byAddress.filter((e) => e.datacenter === dc).map((e) => line(row(e))),
    ].join('\n'),
  );
  const head =
    t === undefined
      ? []
      : [`Table: ${t.name} (${replicationText(t)}; Owns is effective ownership)`];
  const named = (e: DescribedEndpoint) => `${e.id} (${e.name})`;
  const sections = [[...head, blocks.join('\n\n')].join('\n')];
  const moving = byAddress.filter((e) => (e.progress ?? '') !== '');
  if (moving.length > 0) {
    const w = Math.max(...moving.map((e) => named(e).length));
    sections.push(
      ['Progress:', ...moving.map((e) => `  ${named(e).padEnd(w + columnGap)}${e.progress}`)].join(
        '\n',
      ),
    );
  }
  const hints = (d.hints ?? []).filter((h) => h.hints > 0 || h.dropped > 0 || h.corrupt > 0);
  if (hints.length > 0) {
    const nameOf = (id: string) => {
      const e = d.endpoints.find((x) => x.id === id);
      return e === undefined ? id : named(e);
    };
    const w = Math.max(...hints.map((h) => nameOf(h.target).length));
    sections.push(
      [
        `Hints on ${d.self}, per target:`,
        ...hints.map((h) => `  ${nameOf(h.target).padEnd(w + columnGap)}${hintText(h)}`),
      ].join('\n'),
    );
  }
  const last = d.repairs?.at(-1);
  if (last !== undefined) sections.push(`Last repair on ${d.self}: ${repairSummaryLine(last)}`);
  return sections.join('\n\n');
}

function stateName(status: string): string {
  return status === '' ? '?' : status[0]!.toUpperCase() + status.slice(1);
}

function hintText(h: DescribedHints): string {
  const parts = [`${h.hints} hint${h.hints === 1 ? '' : 's'}, ${formatLoad(h.bytes)}`];
  if (h.dropped > 0) parts.push(`${h.dropped} dropped (over the per-target limit)`);
  if (h.corrupt > 0) parts.push(`${h.corrupt} damaged file(s), ${formatLoad(h.corruptBytes)} lost`);
  return parts.join('; ');
}

/** What a repair session covers: `kv (scope all)`, `every hashed table (scope primary)`. */
export function repairTarget(r: RepairSession): string {
  return `${r.table === '*' ? 'every hashed table' : r.table} (scope ${r.scope})`;
}

/**
 * One line on a repair session: `#3 of kv (scope all) done in 3.2 s: 12/12 replica sets, 5 of
 * 49152 leaves differing, 12 MiB compared, 20 rows (3.1 KiB) streamed`.
 */
export function repairSummaryLine(r: RepairSession): string {
  const s = r.stats;
  const when =
    r.state === 'running'
      ? 'running'
      : `${r.state} in ${formatSeconds((r.finishedMicros - r.startedMicros) / 1e6)}`;
  const incomplete = s.groupsIncomplete > 0 ? ` (${s.groupsIncomplete} incomplete)` : '';
  return (
    `${r.id} of ${repairTarget(r)} ${when}: ${s.groupsDone}/${s.groups} replica sets${incomplete}, ` +
    `${s.leavesDiffering} of ${s.leavesCompared} leaves differing, ` +
    `${formatLoad(s.bytesCompared)} compared, ` +
    `${s.rowsStreamed} rows (${formatLoad(s.bytesStreamed)}) streamed`
  );
}

/** Seconds for people: `0.4 s`, `12.3 s`, `2 min 5 s`, `1 h 2 min`. */
export function formatSeconds(seconds: number): string {
  const t = Math.max(0, seconds);
  if (t < 60) return `${t.toFixed(1)} s`;
  const whole = Math.round(t);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
}

function replicationText(t: DescribedTable): string {
  if (t.datacenters === undefined) return `replication factor ${t.replicationFactor}`;
  const perDc = Object.entries(t.datacenters)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([dc, n]) => `${dc}=${n}`);
  return `replication ${perDc.join(', ')}`;
}

/** A share of 1 as a percentage with one decimal: 0.339 → `33.9%`. */
export function formatShare(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** Bytes in binary units: `0 B`, `980 B`, `1.2 MiB`, `980 KiB` (one decimal below 10). */
export function formatLoad(bytes: number): string {
  if (!(bytes >= 1024)) return `${Math.max(0, Math.round(bytes))} B`;
  let value = bytes / 1024;
  let unit = 0;
  for (;;) {
    const text = value < 10 ? value.toFixed(1) : value.toFixed(0);
    // Rounding may reach 1024 (1023.6 KiB): that is 1.0 of the next unit.
    if (Number(text) < 1024 || unit === loadUnits.length - 1) return `${text} ${loadUnits[unit]}`;
    value /= 1024;
    unit++;
  }
}
