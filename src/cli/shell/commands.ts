/**
 * The shell's commands, HBase-shell style: each takes parsed arguments, calls the public
 * Database/Table API, and returns a CommandResult (plain data that format.ts renders). No
 * printing and no clock here, so commands run the same in the REPL, in `tessera exec` and in
 * tests.
 *
 * This module is the registry and the dispatcher; the commands themselves live in
 * admin-commands.ts (tables), data-commands.ts (cells and rows) and general-commands.ts (help,
 * exit), on the argument helpers of arguments.ts.
 */
import { adminCommands } from './admin-commands.js';
import type { CommandDef, CommandResult, ShellSession } from './command-types.js';
import { dataCommands } from './data-commands.js';
import { formatError, formatResult } from './format.js';
import { generalCommands, helpTextFor } from './general-commands.js';
import { syntaxError } from './lexer.js';
import { parse, type Statement } from './parser.js';
import { unknownCommand } from './suggest.js';

export type { CommandResult, ShellSession } from './command-types.js';
export { countIntervalDefault, scanRowsMax } from './data-commands.js';
export { suggest } from './suggest.js';

const defs: readonly CommandDef[] = [...adminCommands, ...dataCommands, ...generalCommands];

const COMMANDS: ReadonlyMap<string, CommandDef> = new Map(defs.map((d) => [d.name, d]));

/** Every command name, for completion and suggestions. */
export const commandNames: readonly string[] = defs.map((d) => d.name);

/** The text of `help`: every command, grouped. */
export function helpText(): string {
  return helpTextFor(COMMANDS);
}

/** Runs one parsed statement against the session's database. */
export async function execute(session: ShellSession, stmt: Statement): Promise<CommandResult> {
  const def = COMMANDS.get(stmt.command) ?? COMMANDS.get(stmt.command.toLowerCase());
  if (def === undefined) throw unknownCommand(stmt.command, stmt, commandNames);
  const n = stmt.args.length;
  if (n < def.minArgs || n > def.maxArgs) {
    const at = n > def.maxArgs ? stmt.args[def.maxArgs]! : stmt;
    throw syntaxError(
      `${def.name} takes ${
        def.minArgs === def.maxArgs ? def.minArgs : `${def.minArgs} to ${def.maxArgs}`
      } argument(s), got ${n}`,
      at,
      `usage: ${def.usage[0]}`,
    );
  }
  return def.run({ session, stmt, args: stmt.args, commands: COMMANDS });
}

export interface RunIo {
  /** Result text (already newline-terminated). */
  readonly out: (text: string) => void;
  /** One error report (without a trailing newline). */
  readonly err: (text: string) => void;
  /** A monotonic clock in seconds, for the `in 0.0123 seconds` lines. */
  readonly now: () => number;
}

export interface RunOutcome {
  /** A statement failed (the statements after it did not run). */
  readonly failed: boolean;
  /** `exit` or `quit` ran. */
  readonly exit: boolean;
}

/**
 * Parses and runs `source` (one or more statements), printing each result; stops at the first
 * failure, reported as `ERROR <CODE>: message` with a caret under the column for input errors.
 */
export async function runSource(
  session: ShellSession,
  source: string,
  io: RunIo,
): Promise<RunOutcome> {
  let statements: Statement[];
  try {
    statements = parse(source);
  } catch (err) {
    io.err(formatError(err, source));
    return { failed: true, exit: false };
  }
  for (const stmt of statements) {
    const t0 = io.now();
    try {
      const result = await execute(session, stmt);
      if (result.kind === 'exit') return { failed: false, exit: true };
      io.out(formatResult(result, io.now() - t0));
    } catch (err) {
      io.err(formatError(err, source));
      return { failed: true, exit: false };
    }
  }
  return { failed: false, exit: false };
}
