/**
 * The linearizability checker: history model, parsers (Jepsen logs, EDN), models and the
 * Wing–Gong–Lowe search. `tessera check <model> <history>` (src/cli/check-command.ts) is its
 * command-line face.
 */
import { buildOperations } from './history.js';
import { checkLinearizability, type CheckOptions, type CheckResult } from './linearizability.js';
import type { Model } from './models.js';
import { parseHistory } from './parse-jepsen-log.js';

export {
  buildOperations,
  formatOperation,
  formatValue,
  isEventType,
  type EventType,
  type HistoryEvent,
  type Operation,
  type Process,
} from './history.js';
export {
  checkLinearizability,
  DEFAULT_MAX_STEPS,
  type CheckOptions,
  type CheckResult,
  type FailureWindow,
  type Verdict,
} from './linearizability.js';
export {
  findModel,
  kvModel,
  MODELS,
  registerModel,
  type Model,
  type Partition,
  type RegisterValue,
  type StepResult,
  versionedRegisterModel,
  type VersionedRegister,
} from './models.js';
export {
  EdnList,
  EdnSymbol,
  Keyword,
  keyword,
  parseEdn,
  parseEdnAll,
  type EdnForm,
  type EdnValue,
} from './parse-edn.js';
export { parseEdnHistory, parseHistory, parseJepsenLog } from './parse-jepsen-log.js';

/** Parses a recorded history (Jepsen log or EDN maps, by its first character) and checks it. */
export function checkHistoryText<S>(
  model: Model<S>,
  text: string,
  options: CheckOptions = {},
): CheckResult {
  return checkLinearizability(model, buildOperations(parseHistory(text)), options);
}
