import { SimWorld } from '../env/sim/index.js';
import { toTesseraError } from '../util/errors.js';
import type { Scenario } from './scenario.js';

export interface SimRunOutcome {
  readonly scenario: string;
  readonly seed: number;
  readonly passed: boolean;
  readonly summary: string;
  readonly violations: readonly string[];
  /** Hex SHA-256 over everything that happened in the run: equal seeds give equal digests. */
  readonly digest: string;
  /** Virtual time the run covered, in milliseconds. */
  readonly virtualMs: number;
  /** The last trace lines, kept for failure reports. */
  readonly recentTrace: readonly string[];
  readonly notes: readonly string[];
}

/** The one command that replays a run; printed with every failure. */
export function replayCommand(scenario: string, seed: number): string {
  return `npx tessera sim ${scenario} --seed ${seed}`;
}

/**
 * Runs one scenario with one seed. A scenario that throws has failed (the exception is a
 * violation), so a crash inside the harness is reported with its seed like any other bug.
 */
export async function runScenario(scenario: Scenario, seed: number): Promise<SimRunOutcome> {
  const world = new SimWorld({ seed });
  const notes: string[] = [];
  let summary = '';
  let violations: string[];
  try {
    const result = await scenario.run({ seed, world, log: (line) => notes.push(line) });
    summary = result.summary;
    violations = [...result.violations];
  } catch (err) {
    const e = toTesseraError(err);
    violations = [`scenario threw ${e.code}: ${e.message}`];
  }
  return {
    scenario: scenario.name,
    seed,
    passed: violations.length === 0,
    summary,
    violations,
    digest: world.digest(),
    virtualMs: world.nowMs(),
    recentTrace: world.recentTrace(),
    notes,
  };
}

/** Formats a run the way `tessera sim` prints it; the last line is always `trace <digest>`. */
export function formatOutcome(outcome: SimRunOutcome, verbose = false): string[] {
  const lines: string[] = [];
  const verdict = outcome.passed ? 'PASS' : 'FAIL';
  lines.push(`${verdict} ${outcome.scenario} seed=${outcome.seed} virtual=${outcome.virtualMs}ms`);
  if (outcome.summary) lines.push(`  ${outcome.summary}`);
  for (const v of outcome.violations) lines.push(`  violation: ${v}`);
  if (verbose) for (const n of outcome.notes) lines.push(`  note: ${n}`);
  if (!outcome.passed) {
    lines.push('  last trace lines:');
    for (const t of outcome.recentTrace.slice(-20)) lines.push(`    ${t}`);
    lines.push(`  replay: ${replayCommand(outcome.scenario, outcome.seed)}`);
  }
  lines.push(`trace ${outcome.digest}`);
  return lines;
}
