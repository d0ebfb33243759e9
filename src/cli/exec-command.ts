import { Command } from 'commander';
import type { Database } from '../client/table-api.js';
import { runSource, type ShellSession } from './shell/commands.js';
import { formatError } from './shell/format.js';
import {
  monoSeconds,
  openTarget,
  withTargetOptions,
  type DatabaseTarget,
} from './shell-command.js';

/**
 * `tessera exec "<command>[; <command>…]" [--connect …] [--embedded <dir>]` — runs shell
 * commands for scripts: results on stdout; on the first failure `ERROR <CODE>: message` on
 * stderr and exit code 1.
 */
export function execCommand(): Command {
  return withTargetOptions(
    new Command('exec')
      .description('run shell commands (separated by ; or newlines) and exit; non-zero on error')
      .argument(
        '<commands>',
        `e.g. "put 'users', 'row1', 'info:name', 'Ada'; get 'users', 'row1'"`,
      ),
  ).action(async (source: string, opts: DatabaseTarget) => {
    let db: Database;
    try {
      db = await openTarget(opts);
    } catch (err) {
      process.stderr.write(`${formatError(err)}\n`);
      process.exitCode = 1;
      return;
    }
    try {
      const session: ShellSession = { db, tableNames: [] };
      const outcome = await runSource(session, source, {
        out: (t) => void process.stdout.write(t),
        err: (t) => void process.stderr.write(`${t}\n`),
        now: monoSeconds,
      });
      if (outcome.failed) process.exitCode = 1;
    } finally {
      await db.close();
    }
  });
}
