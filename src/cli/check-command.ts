import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import {
  buildOperations,
  checkLinearizability,
  findModel,
  formatOperation,
  MODELS,
  parseHistory,
  type CheckResult,
} from '../sim/checker/index.js';
import { isTesseraError } from '../util/errors.js';

/** Exit codes of `tessera check`. */
export const CHECK_EXIT = {
  /** The history is linearizable. */
  LINEARIZABLE: 0,
  /** The history is not linearizable (the failing window is printed). */
  NOT_LINEARIZABLE: 1,
  /** No verdict: the search budget (time or steps) ran out, or the input could not be read. */
  UNKNOWN: 2,
} as const;

const DEFAULT_TIMEOUT_MS = 10_000;
// Prefix operations printed before the failing window, for context.
const PREFIX_CONTEXT_OPS = 5;

function parsePositiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('a positive integer');
  return n;
}

interface CheckOptions {
  json?: boolean;
  timeoutMs: number;
  maxSteps?: number;
}

/**
 * `tessera check <model> <history-file> [--json] [--timeout-ms N] [--max-steps N]` — checks a
 * recorded history (Jepsen log, or EDN maps) for linearizability against a model.
 * Prints `linearizable`, `not linearizable` with the failing window, or
 * `unknown (budget exhausted)`. Exit codes: 0 linearizable, 1 not linearizable, 2 unknown or
 * unreadable input.
 */
export function checkCommand(): Command {
  return new Command('check')
    .description(
      'check a recorded history for linearizability (exit 0 linearizable, 1 not, 2 unknown/error)',
    )
    .argument('<model>', `one of: ${Object.keys(MODELS).join(', ')}`)
    .argument('<history>', 'history file: a Jepsen log or EDN maps, one event per line')
    .option('--json', 'print the result as JSON')
    .option(
      '--timeout-ms <n>',
      'give up with "unknown" after n ms',
      parsePositiveInt,
      DEFAULT_TIMEOUT_MS,
    )
    .option('--max-steps <n>', 'give up with "unknown" after n search steps', parsePositiveInt)
    .action((modelName: string, file: string, opts: CheckOptions, cmd: Command) => {
      const model = findModel(modelName);
      if (model === undefined) {
        cmd.error(`unknown model '${modelName}' (one of: ${Object.keys(MODELS).join(', ')})`, {
          exitCode: CHECK_EXIT.UNKNOWN,
        });
      }
      const started = Date.now();
      const deadline = started + opts.timeoutMs;
      let result: CheckResult;
      try {
        const ops = buildOperations(parseHistory(readFileSync(file, 'utf8')));
        result = checkLinearizability(model, ops, {
          shouldStop: () => Date.now() > deadline,
          ...(opts.maxSteps !== undefined ? { maxSteps: opts.maxSteps } : {}),
        });
      } catch (err) {
        const what = isTesseraError(err)
          ? `${err.code}: ${err.message}`
          : err instanceof Error
            ? err.message
            : String(err);
        process.stderr.write(`tessera check: ${file}: ${what}\n`);
        process.exitCode = CHECK_EXIT.UNKNOWN;
        return;
      }
      const elapsedMs = Date.now() - started;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ file, ...result, elapsedMs }, jsonValue, 2)}\n`);
      } else {
        for (const line of formatResult(result, elapsedMs)) process.stdout.write(`${line}\n`);
      }
      process.exitCode =
        result.verdict === 'linearizable'
          ? CHECK_EXIT.LINEARIZABLE
          : result.verdict === 'not-linearizable'
            ? CHECK_EXIT.NOT_LINEARIZABLE
            : CHECK_EXIT.UNKNOWN;
    });
}

function jsonValue(_key: string, value: unknown): unknown {
  return value === Infinity ? null : value;
}

function formatResult(result: CheckResult, elapsedMs: number): string[] {
  const stats =
    `${result.operations} operations, ${result.partitions} partition(s), ` +
    `${result.steps} steps, ${elapsedMs} ms`;
  if (result.verdict === 'linearizable') return ['linearizable', `  (${stats})`];
  if (result.verdict === 'unknown') {
    const where = result.exhaustedIn ? ` in partition ${JSON.stringify(result.exhaustedIn)}` : '';
    return ['unknown (budget exhausted)', `  (${stats}; ran out${where})`];
  }
  const f = result.failure!;
  const lines = ['not linearizable', `  (${stats})`];
  if (f.partition !== '') lines.push(`  key: ${JSON.stringify(f.partition)}`);
  lines.push(`  cannot linearize: ${formatOperation(f.failed)}`);
  const context = f.prefix.slice(-PREFIX_CONTEXT_OPS);
  lines.push(
    `  after a linearizable prefix of ${f.prefix.length} operation(s), leaving state ` +
      `${f.stateAfterPrefix}; its last ${context.length}:`,
  );
  for (const op of context) lines.push(`    ${formatOperation(op)}`);
  lines.push(`  concurrent with it (${f.concurrent.length}):`);
  for (const op of f.concurrent) lines.push(`    ${formatOperation(op)}`);
  lines.push(`  failing window (${f.window.length} operation(s), by call):`);
  for (const op of f.window) lines.push(`    ${formatOperation(op)}`);
  if (!f.minimized) lines.push('  (budget ran out while minimizing; the window may be wider)');
  return lines;
}
