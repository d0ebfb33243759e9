/**
 * A simulator scenario: a workload plus a fault schedule run inside one SimWorld, and checkers
 * that live outside the simulated nodes. A scenario run is a pure function of its seed.
 *
 * Shape (after TigerBeetle's VOPR and FoundationDB's workloads): a safety phase with faults on,
 * then a liveness phase with every fault healed, then checks over the recorded history.
 */
import type { SimWorld } from '../env/sim/index.js';

export interface ScenarioContext {
  readonly seed: number;
  readonly world: SimWorld;
  /** Scenario-level notes for the verdict (printed with --verbose). */
  log(line: string): void;
}

export interface ScenarioResult {
  /** Empty when every property held; otherwise one line per violated property. */
  readonly violations: readonly string[];
  /** A one-line summary of what ran (counts of operations, faults, outcomes). */
  readonly summary: string;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}
