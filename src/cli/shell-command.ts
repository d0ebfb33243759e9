import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { connect, openEmbedded } from '../client/index.js';
import type { Database } from '../client/table-api.js';
import { realEnv } from '../env/real/index.js';
import { invalidArgument } from '../util/errors.js';
import type { ShellSession } from './shell/commands.js';
import { historyPath, runRepl } from './shell/repl.js';

/** Where the shell connects when neither --connect nor --embedded is given and no cluster.json. */
export const DEFAULT_NODE_ADDRESS = '127.0.0.1:7701';

export interface DatabaseTarget {
  /** `host:port[,host:port…]`. */
  readonly connect?: string;
  /** A database directory opened in this process. */
  readonly embedded?: string;
}

/**
 * The first node's address in `<cwd>/data/cluster.json` (written by `tessera local`), else
 * DEFAULT_NODE_ADDRESS.
 */
export function defaultAddress(cwd: string = process.cwd()): string {
  const file = join(cwd, 'data', 'cluster.json');
  if (!existsSync(file)) return DEFAULT_NODE_ADDRESS;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as {
      processes?: readonly { role?: unknown; address?: unknown }[];
    };
    const node = parsed.processes?.find((p) => p.role === 'node' && typeof p.address === 'string');
    return typeof node?.address === 'string' ? node.address : DEFAULT_NODE_ADDRESS;
  } catch {
    return DEFAULT_NODE_ADDRESS;
  }
}

/** Opens the database the options name: embedded, the --connect addresses, or the default. */
export async function openTarget(target: DatabaseTarget): Promise<Database> {
  if (target.connect !== undefined && target.embedded !== undefined) {
    throw invalidArgument('give --connect or --embedded, not both');
  }
  if (target.embedded !== undefined) {
    const dir = resolve(target.embedded);
    const env = realEnv({ name: 'shell', root: dirname(dir) });
    return openEmbedded(env, basename(dir));
  }
  const addresses = (target.connect ?? defaultAddress())
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  if (addresses.length === 0) throw invalidArgument('--connect needs host:port[,host:port…]');
  return connect(realEnv({ name: 'shell', root: process.cwd() }), addresses);
}

/** Adds the shared --connect / --embedded options. */
export function withTargetOptions(cmd: Command): Command {
  return cmd
    .option('--connect <addresses>', 'nodes to connect to: host:port[,host:port…]')
    .option('--embedded <dir>', 'open the database in <dir> inside this process (no server)');
}

/** Seconds on a monotonic clock, for the `in 0.0123 seconds` lines. */
export function monoSeconds(): number {
  return performance.now() / 1000;
}

/**
 * `tessera shell [--connect host:port[,…]] [--embedded <dir>]` — the interactive HBase-style
 * shell (commands in docs/shell.md). Reading from a pipe runs the lines as a script and exits
 * non-zero when one fails.
 */
export function shellCommand(): Command {
  return withTargetOptions(
    new Command('shell').description('interactive shell (HBase-style commands; see docs/shell.md)'),
  ).action(async (opts: DatabaseTarget) => {
    const db = await openTarget(opts);
    const session: ShellSession = { db, tableNames: [] };
    try {
      session.tableNames = await db.listTables();
    } catch {
      // Completion only; the first real command reports what is wrong.
    }
    try {
      const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
      process.exitCode = await runRepl({
        session,
        input: process.stdin,
        output: process.stdout,
        errorOutput: process.stderr,
        terminal,
        historyFile: historyPath(),
        now: monoSeconds,
      });
    } finally {
      await db.close();
    }
  });
}
