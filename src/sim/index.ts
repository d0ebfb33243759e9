/**
 * The simulator's scenarios and runner: `tessera sim <scenario> --seed N` runs one of these in
 * a SimWorld (src/env/sim) and prints its verdict and trace digest.
 */
import type { Scenario } from './scenario.js';
import { lockScenario } from './scenarios/lock.js';
import { ringScenario } from './scenarios/ring.js';
import { rpcScenario } from './scenarios/rpc.js';
import { storageScenario } from './scenarios/storage.js';

export type { Scenario, ScenarioContext, ScenarioResult } from './scenario.js';
export { runScenario, formatOutcome, replayCommand, type SimRunOutcome } from './runner.js';

export const SCENARIOS: readonly Scenario[] = [
  rpcScenario,
  storageScenario,
  lockScenario,
  ringScenario,
];

export function findScenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
