/**
 * `tessera repair`: Cassandra's `nodetool repair` for the hashed-table ring. The work happens on
 * the node (a repair session, src/ring/repair.ts: Merkle trees compared per replica set, the
 * differing leaves' rows streamed); this command only starts the session with `ring.repair`
 * and follows it through `ring.describe`, which lists the node's recent sessions with their
 * counters. Following by polling, not by a long call, lets the session outlive the command (a
 * closed terminal does not stop a repair half-way) and lets a second command join a session
 * that runs already: the node answers `ring.repair` with the running session's id.
 */
import { Presets, SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError } from 'commander';
import { realEnv } from '../env/real/index.js';
import { TesseraError } from '../util/errors.js';
import {
  defaultRingAddresses,
  formatLoad,
  formatSeconds,
  parseTimeoutMs,
  pollDescription,
  repairTarget,
  reportError,
  RingNodeLink,
  splitAddresses,
  type RepairSession,
} from './ring-command.js';

/** How often the session is looked at. */
export const REPAIR_POLL_MS = 500;
/** Time allowed to connect, and for one call to answer. */
const timeoutMsDefault = 2_000;
const scopes = ['all', 'local', 'primary'] as const;
type Scope = (typeof scopes)[number];

interface RepairOptions {
  connect?: string;
  scope: Scope;
  json?: boolean;
  timeout: number;
}

function parseScope(v: string): Scope {
  if (!(scopes as readonly string[]).includes(v)) {
    throw new InvalidArgumentError(`expected ${scopes.join(', ')}`);
  }
  return v as Scope;
}

/**
 * `tessera repair [TABLE] [--connect HOST:PORT[,…]] [--scope all|local|primary] [--json]
 * [--timeout MS]` — runs a repair session on one ring node (the first of the addresses that
 * accepts a connection; by default those `tessera ring` asks) and waits for it, showing its
 * progress on stderr: a progress bar when stderr is a terminal, else one line per change.
 * Without TABLE every hashed table is repaired. Scope `all` (the default) compares every range
 * of the ring, so one command leaves every replica in agreement; `local` the ranges the node
 * holds; `primary` those it is first replica of (run on every node, each range once).
 *
 * Then a summary on stdout (docs/cli.md), or with `--json` the final session as one line of
 * JSON (ring-protocol.ts's RepairSessionInfo). Exit code 0 when the session is `done`; 1 when
 * it is `incomplete` (a replica was down or failed: those replica sets were not brought in
 * step) or `failed`, its errors on stderr; 1 with `ERROR <CODE>: message` when the node cannot
 * be reached, is not a ring node, or does not know the table.
 */
export function repairCommand(): Command {
  return new Command('repair')
    .description('repair hashed tables: compare replicas by Merkle trees and stream differences')
    .argument('[table]', 'the hashed table to repair (default: every hashed table)')
    .option(
      '--connect <addresses>',
      'ring node to run the repair on, first reachable: host:port[,…]',
    )
    .option('--scope <scope>', 'ranges to repair: all | local | primary', parseScope, 'all')
    .option('--json', 'print the finished session as JSON')
    .option(
      '--timeout <ms>',
      'connect and per-call timeout in milliseconds',
      parseTimeoutMs,
      timeoutMsDefault,
    )
    .action(async (table: string | undefined, opts: RepairOptions) => {
      let link: RingNodeLink | undefined;
      try {
        const env = realEnv({ name: 'repair', root: process.cwd() });
        const addresses = splitAddresses(opts.connect ?? defaultRingAddresses());
        link = await RingNodeLink.open(env, addresses, opts.timeout);
        const reply = await link.call('ring.repair', {
          ...(table === undefined ? {} : { table }),
          scope: opts.scope,
        });
        const id = (reply as { id?: unknown } | null)?.id;
        if (typeof id !== 'string' || id === '') {
          throw new TesseraError(
            'PROTOCOL_ERROR',
            `${link.address} answered ring.repair without an id`,
          );
        }
        const session = await follow(link, id, table ?? '*', opts.scope);
        process.stdout.write(
          opts.json === true ? `${JSON.stringify(session)}\n` : `${formatRepairSummary(session)}\n`,
        );
        if (session.state !== 'done') {
          process.stderr.write(`${formatRepairErrors(session)}\n`);
          process.exitCode = 1;
        }
      } catch (err) {
        reportError(err);
      } finally {
        await link?.close();
      }
    });
}

/** Polls the node until session `id` is over, showing its progress; resolves to it. */
async function follow(
  link: RingNodeLink,
  id: string,
  table: string,
  scope: Scope,
): Promise<RepairSession> {
  const progress = repairProgress();
  let seen = false;
  try {
    return await pollDescription(link, REPAIR_POLL_MS, (d) => {
      const s = d.repairs?.find((r) => r.id === id);
      if (s === undefined) {
        throw new TesseraError(
          'NOT_FOUND',
          `repair session ${id} is no longer listed by ${link.address} (it restarted, or ran newer sessions since)`,
        );
      }
      if (!seen && (s.table !== table || s.scope !== scope)) {
        progress.note(
          `a repair was already running on ${link.address}: following ${s.id} of ${repairTarget(s)}`,
        );
      }
      seen = true;
      progress.update(s);
      return s.state === 'running' ? undefined : s;
    });
  } finally {
    progress.stop();
  }
}

interface RepairProgress {
  update(s: RepairSession): void;
  /** A line said once, above the bar. */
  note(text: string): void;
  stop(): void;
}

/** A bar on a terminal; elsewhere (a log, a pipe) one line each time the counters change. */
function repairProgress(): RepairProgress {
  if (process.stderr.isTTY !== true) {
    let last = '';
    return {
      update: (s) => {
        const line = repairProgressLine(s);
        if (line !== last) process.stderr.write(`${line}\n`);
        last = line;
      },
      note: (text) => void process.stderr.write(`${text}\n`),
      stop: () => undefined,
    };
  }
  const bar = new SingleBar(
    {
      format:
        'repair {target} [{bar}] {value}/{total} replica sets | {differing} leaves differing | ' +
        '{compared} compared | {streamed} streamed',
      stream: process.stderr,
      hideCursor: true,
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update: (s) => {
      const payload = {
        target: s.table === '*' ? 'all tables' : s.table,
        differing: s.stats.leavesDiffering,
        compared: formatLoad(s.stats.bytesCompared),
        streamed: formatLoad(s.stats.bytesStreamed),
      };
      const total = Math.max(1, s.stats.groups);
      if (!started) bar.start(total, s.stats.groupsDone, payload);
      else {
        bar.setTotal(total);
        bar.update(s.stats.groupsDone, payload);
      }
      started = true;
    },
    note: (text) => void process.stderr.write(`${text}\n`),
    stop: () => {
      if (started) bar.stop();
    },
  };
}

/** `repair 127.0.0.1:7701#1: 3/12 replica sets, 5 of 12288 leaves differing, …`. */
export function repairProgressLine(s: RepairSession): string {
  const t = s.stats;
  return (
    `repair ${s.id}: ${t.groupsDone}/${t.groups} replica sets, ` +
    `${t.leavesDiffering} of ${t.leavesCompared} leaves differing, ` +
    `${formatLoad(t.bytesCompared)} compared, ` +
    `${t.rowsStreamed} rows (${formatLoad(t.bytesStreamed)}) streamed`
  );
}

/** Bytes per second in binary units, `0 B/s` for no time. */
function rate(bytes: number, seconds: number): string {
  return `${formatLoad(seconds > 0 ? bytes / seconds : 0)}/s`;
}

/**
 * The summary of a finished session (docs/cli.md):
 *
 *     Repair 127.0.0.1:7701#1 of kv (scope all): done in 2.1 s
 *       replica sets  1 of 1 compared (0 incomplete)
 *       leaves        12 differing of 4096 compared
 *       compared      300 rows, 1.2 MiB (585 KiB/s)
 *       streamed      100 rows, 40 KiB (19 KiB/s)
 */
export function formatRepairSummary(s: RepairSession): string {
  const t = s.stats;
  const seconds = Math.max(0, (s.finishedMicros - s.startedMicros) / 1e6);
  return [
    `Repair ${s.id} of ${repairTarget(s)}: ${s.state} in ${formatSeconds(seconds)}`,
    `  replica sets  ${t.groupsDone} of ${t.groups} compared (${t.groupsIncomplete} incomplete)`,
    `  leaves        ${t.leavesDiffering} differing of ${t.leavesCompared} compared`,
    `  compared      ${t.rowsCompared} rows, ${formatLoad(t.bytesCompared)} (${rate(t.bytesCompared, seconds)})`,
    `  streamed      ${t.rowsStreamed} rows, ${formatLoad(t.bytesStreamed)} (${rate(t.bytesStreamed, seconds)})`,
  ].join('\n');
}

/** Why a session did not finish `done`: a first line, then its errors, one per line. */
export function formatRepairErrors(s: RepairSession): string {
  const head =
    s.state === 'incomplete'
      ? `repair incomplete: ${s.stats.groupsIncomplete} of ${s.stats.groups} replica sets were not ` +
        'compared on all their replicas (a replica was down or failed); run it again once they are up'
      : `repair ${s.state}`;
  return [head, ...s.stats.errors.map((e) => `  ${e}`)].join('\n');
}
