import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { formatAddress, parseAddress } from '../env/index.js';
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
const unreachableCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'CONNECTION_REFUSED',
  'CONNECTION_CLOSED',
  'DEADLINE_EXCEEDED',
  'SHUTTING_DOWN',
  'IO_ERROR',
]);

interface RingOptions {
  connect?: string;
  table?: string;
  json?: boolean;
  timeout: number;
}

function parseTimeoutMs(v: string): number {
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
 *     Status  State   Address         Name   Load     Tokens  Owns   Rack
 *     Up      Normal  127.0.0.1:7701  node1  1.2 MiB  64      33.9%  rack1
 *     Down    Normal  127.0.0.1:7702  node2  980 KiB  64      31.0%  rack1
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
        process.stderr.write(`${formatError(err).replace(/\s*\n\s*/g, ' ')}\n`);
        process.exitCode = 1;
      }
    });
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

function splitAddresses(list: string): string[] {
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
      const e = toTesseraError(err);
      if (e.code === 'UNKNOWN_METHOD') {
        throw new TesseraError(
          'UNKNOWN_METHOD',
          `${address} is not a ring node (it was started without --ring)`,
          { address },
        );
      }
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

/** The reply, checked to be a RingDescription: it came from the network. */
export function checkDescription(v: unknown, from: string): RingDescription {
  const bad = (what: string) =>
    new TesseraError('PROTOCOL_ERROR', `${from} answered ring.describe with ${what}`);
  const isObj = (x: unknown): x is Record<string, unknown> =>
    typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObj(v) || typeof v['self'] !== 'string') throw bad('no self');
  const { endpoints, tables } = v;
  if (!Array.isArray(endpoints) || !Array.isArray(tables)) throw bad('no endpoints or tables');
  for (const e of endpoints as unknown[]) {
    if (
      !isObj(e) ||
      !['id', 'name', 'datacenter', 'rack', 'status'].every((k) => typeof e[k] === 'string') ||
      typeof e['alive'] !== 'boolean' ||
      !['load', 'owns'].every((k) => typeof e[k] === 'number' && Number.isFinite(e[k])) ||
      !Array.isArray(e['tokens'])
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
  return [...head, blocks.join('\n\n')].join('\n');
}

function replicationText(t: DescribedTable): string {
  if (t.datacenters === undefined) return `replication factor ${t.replicationFactor}`;
  const perDc = Object.entries(t.datacenters)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([dc, n]) => `${dc}=${n}`);
  return `replication ${perDc.join(', ')}`;
}

/** `normal` → `Normal`; an unknown status is shown as sent, capitalized. */
function stateName(status: string): string {
  return status === '' ? '?' : status[0]!.toUpperCase() + status.slice(1);
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
