import { Command, InvalidArgumentError } from 'commander';
import {
  SCENARIOS,
  findScenario,
  formatOutcome,
  replayCommand,
  runScenario,
} from '../sim/index.js';

function parseSeed(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError('a non-negative integer');
  return n;
}

/**
 * `tessera sim <scenario> --seed N` — one run: verdict, then `trace <digest>` as the last line.
 * `tessera sim <scenario> --runs K [--first-seed S]` — K seeds in a row (the long run); stops
 * at the first failure and prints its replay command.
 */
export function simCommand(): Command {
  return new Command('sim')
    .description('run a deterministic simulator scenario (verdict, then the trace digest)')
    .argument('[scenario]', `one of: ${SCENARIOS.map((s) => s.name).join(', ')}`)
    .option('--seed <n>', 'the seed of a single run', parseSeed)
    .option('--runs <k>', 'run k consecutive seeds', parseSeed)
    .option('--first-seed <s>', 'first seed for --runs', parseSeed, 1)
    .option('--list', 'list scenarios')
    .option('-v, --verbose', 'print scenario notes')
    .action(async (name: string | undefined, opts: SimOptions, cmd: Command) => {
      if (opts.list || name === undefined) {
        for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(12)} ${s.description}\n`);
        return;
      }
      const scenario = findScenario(name);
      if (!scenario) cmd.error(`unknown scenario '${name}' (try --list)`, { exitCode: 2 });
      if (opts.runs !== undefined && opts.seed !== undefined) {
        cmd.error('--seed names one run; with --runs give the first seed as --first-seed', {
          exitCode: 2,
        });
      }
      if (opts.runs !== undefined) {
        process.exitCode = await runMany(scenario!, opts.firstSeed, opts.runs);
        return;
      }
      const outcome = await runScenario(scenario!, opts.seed ?? 1);
      for (const line of formatOutcome(outcome, opts.verbose)) process.stdout.write(`${line}\n`);
      process.exitCode = outcome.passed ? 0 : 1;
    });
}

interface SimOptions {
  seed?: number;
  runs?: number;
  firstSeed: number;
  list?: boolean;
  verbose?: boolean;
}

async function runMany(
  scenario: NonNullable<ReturnType<typeof findScenario>>,
  firstSeed: number,
  runs: number,
): Promise<number> {
  const started = Date.now();
  for (let i = 0; i < runs; i++) {
    const seed = firstSeed + i;
    const outcome = await runScenario(scenario, seed);
    if (!outcome.passed) {
      for (const line of formatOutcome(outcome)) process.stdout.write(`${line}\n`);
      process.stdout.write(`FAILED at seed ${seed} after ${i} passing runs\n`);
      return 1;
    }
    if ((i + 1) % 100 === 0 || i + 1 === runs) {
      const rate = ((i + 1) / ((Date.now() - started) / 1000)).toFixed(1);
      process.stderr.write(`  ${scenario.name}: ${i + 1}/${runs} seeds passed (${rate} runs/s)\n`);
    }
  }
  process.stdout.write(
    `PASS ${scenario.name}: ${runs} seeds from ${firstSeed} (replay any: ${replayCommand(scenario.name, firstSeed)})\n`,
  );
  return 0;
}
