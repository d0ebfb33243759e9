/**
 * The types every shell command shares: the session a command runs in, the context it is
 * given, the definition the registry holds, and the CommandResult it returns (plain data that
 * format.ts renders).
 */
import type { Database, Row } from '../../client/table-api.js';
import type { ConsistencyLevel, TableSchema } from '../../model/index.js';
import type { Statement, Value } from './parser.js';

export interface ShellSession {
  readonly db: Database;
  /** Table names, for tab completion; refreshed by list, create, drop and truncate. */
  tableNames: string[];
  /** Cancels the running command (Ctrl-C in the REPL). */
  signal?: AbortSignal;
  /** Progress lines of long commands (count's INTERVAL). */
  progress?: (line: string) => void;
  /**
   * The consistency level every data command sends, set by the `consistency` command; unset
   * means CONSISTENCY_DEFAULT (QUORUM).
   */
  consistency?: ConsistencyLevel;
}

export type CommandResult =
  | { readonly kind: 'get'; readonly row: Row | undefined }
  | { readonly kind: 'scan'; readonly rows: readonly Row[]; readonly truncated: boolean }
  | { readonly kind: 'count'; readonly count: number }
  | { readonly kind: 'counter'; readonly value: bigint | undefined }
  | { readonly kind: 'describe'; readonly schema: TableSchema }
  | { readonly kind: 'list'; readonly tables: readonly string[] }
  /** Lines of text, then `N row(s) in …` with `rows` (0 for puts, creates…). */
  | { readonly kind: 'message'; readonly lines: readonly string[]; readonly rows: number }
  /** Text with no timing line. */
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'exit' };

/** What a command runs with: the session, the parsed statement and its arguments. */
export interface CommandContext {
  readonly session: ShellSession;
  readonly stmt: Statement;
  readonly args: readonly Value[];
  /** Every command by name, in registry order; help lists and looks up commands here. */
  readonly commands: ReadonlyMap<string, CommandDef>;
}

/** One command as the registry holds it: its help texts, its arity and its implementation. */
export interface CommandDef {
  readonly name: string;
  readonly group: 'data' | 'ddl' | 'general';
  readonly usage: readonly string[];
  readonly summary: string;
  readonly minArgs: number;
  readonly maxArgs: number;
  run(ctx: CommandContext): Promise<CommandResult>;
}
