/**
 * The general commands: help (the command list and each command's usage), consistency (the
 * session's consistency level, as cqlsh's CONSISTENCY) and exit/quit.
 */
import {
  CONSISTENCY_DEFAULT,
  CONSISTENCY_LEVELS,
  parseConsistency,
  type ConsistencyLevel,
} from '../../model/index.js';
import { argError, str } from './arguments.js';
import type { CommandContext, CommandDef, CommandResult } from './command-types.js';
import { unknownCommand } from './suggest.js';

function help(ctx: CommandContext): Promise<CommandResult> {
  const topic = ctx.args[0];
  if (topic === undefined) {
    return Promise.resolve({ kind: 'text', text: helpTextFor(ctx.commands) });
  }
  const name = str(topic, 'the command name').text;
  const def = ctx.commands.get(name);
  if (def === undefined) throw unknownCommand(name, topic, [...ctx.commands.keys()]);
  return Promise.resolve({ kind: 'text', text: commandHelp(def) });
}

/** `consistency` shows the session's level; `consistency ONE` sets it (any case). */
function consistency(ctx: CommandContext): Promise<CommandResult> {
  const arg = ctx.args[0];
  if (arg === undefined) {
    const current = ctx.session.consistency ?? CONSISTENCY_DEFAULT;
    return Promise.resolve({ kind: 'text', text: `Current consistency level is ${current}.` });
  }
  const name = str(arg, 'the consistency level').text;
  let level: ConsistencyLevel;
  try {
    level = parseConsistency(name);
  } catch {
    throw argError(
      arg,
      `unknown consistency level '${name}'`,
      `levels: ${CONSISTENCY_LEVELS.join(', ')}`,
    );
  }
  ctx.session.consistency = level;
  return Promise.resolve({ kind: 'text', text: `Consistency level set to ${level}.` });
}

function commandHelp(def: CommandDef): string {
  return [`${def.name}: ${def.summary}`, ...def.usage.map((u) => `  ${u}`)].join('\n');
}

/** The text of `help`: every command of `commands`, grouped. */
export function helpTextFor(commands: ReadonlyMap<string, CommandDef>): string {
  const groups: Record<CommandDef['group'], string> = {
    ddl: 'Tables',
    data: 'Data',
    general: 'General',
  };
  const out: string[] = [
    "Tessera shell. Commands take quoted arguments: put 'users', 'row1', 'info:name', 'Ada'",
    "Type help 'COMMAND' for one command's usage.",
    '',
  ];
  for (const g of ['ddl', 'data', 'general'] as const) {
    out.push(`${groups[g]}:`);
    for (const d of commands.values()) {
      if (d.group === g) out.push(`  ${d.name.padEnd(12)} ${d.summary}`);
    }
    out.push('');
  }
  out.push(
    'Strings: \'single\' (only \\\\ and \\\' escape) or "double" (\\xNN, \\n, \\t, \\\\, \\").',
    'Timestamps are microseconds since the epoch. End a line with ; or a newline.',
  );
  return out.join('\n');
}

/** The general commands, in the order help lists them. */
export const generalCommands: readonly CommandDef[] = [
  {
    name: 'help',
    group: 'general',
    summary: 'list commands, or show one command',
    usage: ['help', "help 'scan'"],
    minArgs: 0,
    maxArgs: 1,
    run: help,
  },
  {
    name: 'consistency',
    group: 'general',
    summary: 'show or set the consistency level of reads and writes (hashed tables)',
    usage: [
      'consistency',
      'consistency QUORUM',
      "consistency 'local_one'",
      `levels: ${CONSISTENCY_LEVELS.join(', ')} (default ${CONSISTENCY_DEFAULT}); ordered tables accept any`,
    ],
    minArgs: 0,
    maxArgs: 1,
    run: consistency,
  },
  {
    name: 'exit',
    group: 'general',
    summary: 'leave the shell (also quit, or Ctrl-D)',
    usage: ['exit'],
    minArgs: 0,
    maxArgs: 0,
    run: () => Promise.resolve({ kind: 'exit' }),
  },
  {
    name: 'quit',
    group: 'general',
    summary: 'leave the shell',
    usage: ['quit'],
    minArgs: 0,
    maxArgs: 0,
    run: () => Promise.resolve({ kind: 'exit' }),
  },
];
