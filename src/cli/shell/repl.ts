/**
 * The interactive shell: a node:readline loop with persistent history, tab completion of
 * command and table names, multi-line input (a statement runs once its brackets and quotes
 * balance), Ctrl-C to cancel the line (or the running command) and Ctrl-D to leave.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import { commandNames, runSource, type ShellSession } from './commands.js';
import { isInputComplete } from './lexer.js';

/** Lines of history kept in memory and on disk. */
export const historyLinesMax = 1000;

export interface ReplOptions {
  readonly session: ShellSession;
  readonly input: NodeJS.ReadableStream;
  readonly output: NodeJS.WritableStream;
  readonly errorOutput: NodeJS.WritableStream;
  /** Whether input is a terminal: prompts, completion and Ctrl-C handling. */
  readonly terminal: boolean;
  /** History file; undefined for none. */
  readonly historyFile: string | undefined;
  /** Monotonic seconds. */
  readonly now: () => number;
}

/** `$TESSERA_HISTORY` (empty: no history), else `~/.tessera_history`. */
export function historyPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = env['TESSERA_HISTORY'];
  if (v !== undefined) return v === '' ? undefined : v;
  return join(homedir(), '.tessera_history');
}

/** The newest `historyLinesMax` lines of the file, newest first (readline's order). */
function loadHistory(file: string | undefined): string[] {
  if (file === undefined || !existsSync(file)) return [];
  try {
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    const kept = lines.slice(-historyLinesMax);
    // Keep the file from growing without bound.
    if (lines.length > 2 * historyLinesMax) writeFileSync(file, `${kept.join('\n')}\n`);
    return kept.reverse();
  } catch {
    return [];
  }
}

function saveHistoryLine(file: string | undefined, line: string): void {
  if (file === undefined || line.trim() === '') return;
  try {
    appendFileSync(file, `${line}\n`);
  } catch {
    // History is a convenience; a read-only home directory must not break the shell.
  }
}

/**
 * Completions for `line` (readline's completer contract: the candidates and the text they
 * replace): command names at the start, table names inside the first quoted argument.
 */
export function complete(line: string, tables: readonly string[]): [string[], string] {
  const cmd = /^\s*([A-Za-z_]*)$/.exec(line);
  if (cmd) {
    const word = cmd[1]!;
    const hits = commandNames.filter((c) => c.startsWith(word));
    return [hits.length === 1 ? [`${hits[0]!} `] : hits, word];
  }
  const table = /^\s*[A-Za-z_]+\s*\(?\s*(['"])([^'"]*)$/.exec(line);
  if (table) {
    const [, q, prefix] = table as unknown as [string, string, string];
    const hits = [...tables].sort().filter((t) => t.startsWith(prefix));
    return [hits.map((t) => `${q}${t}${q}`), `${q}${prefix}`];
  }
  return [[], line];
}

function prompt(n: number, continued: boolean): string {
  return `tessera:${String(n).padStart(3, '0')}${continued ? '*' : '>'} `;
}

/** Runs the shell until exit, quit or end of input; resolves to the exit code. */
export async function runRepl(o: ReplOptions): Promise<number> {
  const history = o.terminal ? loadHistory(o.historyFile) : [];
  const rl: Interface = createInterface({
    input: o.input,
    output: o.output,
    terminal: o.terminal,
    historySize: historyLinesMax,
    history,
    removeHistoryDuplicates: true,
    ...(o.terminal
      ? {
          completer: (line: string): [string[], string] => complete(line, o.session.tableNames),
        }
      : {}),
  });
  const write = (t: string): void => void o.output.write(t);
  const io = {
    out: write,
    err: (t: string) => void o.errorOutput.write(`${t}\n`),
    now: o.now,
  };

  let buffer = '';
  let count = 1;
  let failed = false;
  let exited = false;
  let running: AbortController | undefined;
  let chain: Promise<void> = Promise.resolve();

  const showPrompt = (): void => {
    if (!o.terminal) return;
    rl.setPrompt(prompt(count, buffer !== ''));
    rl.prompt();
  };

  rl.on('SIGINT', () => {
    if (running !== undefined) {
      running.abort();
      write('^C (cancelling)\n');
      return;
    }
    if (buffer === '' && rl.line === '') {
      write('\n(To leave, press Ctrl-D or type exit)\n');
    } else {
      write('^C\n');
    }
    buffer = '';
    // Drop what is typed on the current line (readline has no public call for this).
    Object.assign(rl as unknown as { line: string; cursor: number }, { line: '', cursor: 0 });
    showPrompt();
  });

  const handle = async (line: string): Promise<void> => {
    if (exited) return;
    if (o.terminal) saveHistoryLine(o.historyFile, line);
    buffer = buffer === '' ? line : `${buffer}\n${line}`;
    if (!isInputComplete(buffer)) {
      showPrompt();
      return;
    }
    const source = buffer;
    buffer = '';
    if (source.trim() === '') {
      showPrompt();
      return;
    }
    count++;
    running = new AbortController();
    o.session.signal = running.signal;
    try {
      const r = await runSource(o.session, source, io);
      if (r.failed) failed = true;
      if (r.exit) {
        exited = true;
        rl.close();
        return;
      }
    } finally {
      running = undefined;
      delete o.session.signal;
    }
    showPrompt();
  };

  const closed = new Promise<void>((resolve) => rl.once('close', resolve));
  rl.on('line', (line) => {
    chain = chain.then(() => handle(line));
  });
  if (o.terminal) {
    write("Tessera shell. Type 'help' for the commands, 'exit' or Ctrl-D to leave.\n");
  }
  showPrompt();
  await closed;
  await chain;
  if (!exited && buffer.trim() !== '') {
    // End of input inside an open statement: run it so its error is reported.
    const r = await runSource(o.session, buffer, io);
    if (r.failed) failed = true;
  }
  if (o.terminal && !exited) write('\n');
  // Interactive errors are shown and forgotten; piped scripts report failure in the exit code.
  return failed && !o.terminal ? 1 : 0;
}
