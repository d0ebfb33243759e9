/**
 * Linearizability checking: the Wing & Gong search with Lowe's memoization, split by
 * P-compositionality, as in Knossos and Porcupine.
 *
 * The history of one partition becomes a doubly linked list of call and return entries in
 * time order. The search walks it from the front: at a call it tries to linearize that
 * operation now (the model must accept it); if it can, the operation's call and return are
 * lifted out of the list and the walk restarts from the front. Reaching a return entry means
 * the operation it belongs to was not linearized before it returned: backtrack by undoing the
 * last linearization and trying the next candidate. The list empties exactly when every
 * operation is linearized. Lowe's cache remembers each (set of linearized operations, model
 * state) already explored, so equivalent orders are explored once.
 *
 * Indeterminate operations have their return at the end of time, so they may be linearized at
 * any point after their call (at the very end, they have no visible effect: "never happened").
 *
 * The search is exponential in the worst case, so it runs under a budget (steps, and an
 * optional stop predicate the caller may drive by wall-clock time); running out gives
 * `unknown`. The checker itself reads no clock (src/sim is deterministic code).
 *
 * On a violation the report is minimized: a binary search finds the shortest prefix of the
 * partition's history that is already not linearizable. It ends with the return of the
 * operation that cannot be placed (`failed`); everything before that return linearizes
 * (`prefix` is one such order), and `concurrent` lists the operations overlapping it.
 */
import type { Operation } from './history.js';
import type { Model, Partition } from './models.js';

export type Verdict = 'linearizable' | 'not-linearizable' | 'unknown';

export interface CheckOptions {
  /** Upper bound on search steps over all partitions. Default DEFAULT_MAX_STEPS. */
  readonly maxSteps?: number;
  /** Polled every STOP_POLL_STEPS steps; returning true ends the check with `unknown`. */
  readonly shouldStop?: () => boolean;
}

// Each step may add one entry to the memo cache, so this also bounds its memory (~1 GB).
export const DEFAULT_MAX_STEPS = 10_000_000;
const STOP_POLL_STEPS = 4096;

export interface FailureWindow {
  /** The partition (key) that is not linearizable; '' for a single-part model. */
  readonly partition: string;
  /** The operation that cannot be linearized before it returns. */
  readonly failed: Operation;
  /** Operations whose intervals overlap `failed`'s (they could be ordered either way). */
  readonly concurrent: readonly Operation[];
  /** A linearization of everything that had to precede the failure, in order. */
  readonly prefix: readonly Operation[];
  /** The model state after `prefix`, formatted. */
  readonly stateAfterPrefix: string;
  /**
   * The smallest window to look at, by call: the last operation of `prefix` to finish before
   * the failed and determinate concurrent operations began (it pinned the state they saw), the
   * rest of `prefix` after it, `failed`, and the determinate `concurrent` operations.
   */
  readonly window: readonly Operation[];
  /** False when the budget ran out while minimizing; the report is then less tight. */
  readonly minimized: boolean;
}

export interface CheckResult {
  readonly verdict: Verdict;
  readonly model: string;
  readonly operations: number;
  readonly partitions: number;
  readonly steps: number;
  /** Set when the verdict is `not-linearizable`. */
  readonly failure?: FailureWindow;
  /** Set when the verdict is `unknown`: the partition that exhausted the budget. */
  readonly exhaustedIn?: string;
}

/** Checks `ops` (from buildOperations) against `model`. */
export function checkLinearizability<S>(
  model: Model<S>,
  ops: readonly Operation[],
  options: CheckOptions = {},
): CheckResult {
  const budget = new Budget(options.maxSteps ?? DEFAULT_MAX_STEPS, options.shouldStop);
  const parts = model.partition(ops);
  const base = { model: model.name, operations: ops.length, partitions: parts.length };
  let exhaustedIn: string | undefined;
  for (const part of parts) {
    const outcome = search(model, part.ops, budget);
    if (outcome.kind === 'unknown') {
      // Keep going: a later partition may still prove a violation.
      exhaustedIn ??= part.label;
      continue;
    }
    if (outcome.kind === 'fail') {
      const failure = minimize(model, part, outcome.stuck, budget);
      return { ...base, verdict: 'not-linearizable', steps: budget.steps, failure };
    }
  }
  if (exhaustedIn !== undefined) {
    return { ...base, verdict: 'unknown', steps: budget.steps, exhaustedIn };
  }
  return { ...base, verdict: 'linearizable', steps: budget.steps };
}

class Budget {
  steps = 0;
  private exhausted = false;
  constructor(
    private readonly maxSteps: number,
    private readonly shouldStop: (() => boolean) | undefined,
  ) {}

  /** Counts one step; false once the budget is spent (and from then on). */
  take(): boolean {
    if (this.exhausted) return false;
    this.steps++;
    if (this.steps > this.maxSteps) this.exhausted = true;
    else if (this.steps % STOP_POLL_STEPS === 0 && this.shouldStop?.() === true) {
      this.exhausted = true;
    }
    return !this.exhausted;
  }

  get spent(): boolean {
    return this.exhausted;
  }
}

interface Stuck<S> {
  /** Position of the return entry the search could not pass. */
  readonly position: number;
  readonly failed: Operation;
  readonly linearized: readonly Operation[];
  readonly state: S;
}

type SearchOutcome<S> =
  | { readonly kind: 'ok' }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'fail'; readonly stuck: Stuck<S> };

interface Entry {
  readonly isCall: boolean;
  readonly op: Operation;
  /** Index of the operation within the partition: its bit in the linearized set. */
  readonly index: number;
  readonly position: number;
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

function buildList(ops: readonly Operation[]): Entry {
  const entries: Entry[] = [];
  ops.forEach((op, index) => {
    const call: Entry = {
      isCall: true,
      op,
      index,
      position: op.call,
      match: null,
      prev: null,
      next: null,
    };
    const ret: Entry = {
      isCall: false,
      op,
      index,
      position: op.ret,
      match: null,
      prev: null,
      next: null,
    };
    call.match = ret;
    entries.push(call, ret);
  });
  entries.sort((a, b) =>
    a.position < b.position ? -1 : a.position > b.position ? 1 : a.index - b.index,
  );
  const head: Entry = {
    isCall: false,
    op: undefined as unknown as Operation,
    index: -1,
    position: -Infinity,
    match: null,
    prev: null,
    next: null,
  };
  let last = head;
  for (const e of entries) {
    last.next = e;
    e.prev = last;
    last = e;
  }
  return head;
}

/** Removes a call entry and its return from the list. */
function lift(call: Entry): void {
  call.prev!.next = call.next;
  call.next!.prev = call.prev; // a call is always followed by its return
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next !== null) ret.next.prev = ret.prev;
}

/** Puts back what `lift` removed (in reverse order). */
function unlift(call: Entry): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next !== null) ret.next.prev = ret;
  call.prev!.next = call;
  call.next!.prev = call;
}

function search<S>(model: Model<S>, ops: readonly Operation[], budget: Budget): SearchOutcome<S> {
  const head = buildList(ops);
  const linearized = new Uint32Array(Math.ceil(ops.length / 32) || 1);
  const seen = new Set<string>();
  const stack: { entry: Entry; state: S }[] = [];
  let state = model.init();
  let entry = head.next;
  let stuck: Stuck<S> | undefined;

  while (head.next !== null) {
    if (!budget.take()) return { kind: 'unknown' };
    if (entry === null) throw new Error('linearizability search: walked off the list');
    if (entry.isCall) {
      const result = model.step(state, entry.op);
      if (result.ok) {
        const word = entry.index >>> 5;
        const bit = 1 << (entry.index & 31);
        linearized[word]! |= bit;
        const key = `${linearized.join(',')}|${model.stateKey(result.state)}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ entry, state });
          state = result.state;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[word]! &= ~bit;
      }
      entry = entry.next;
      continue;
    }
    // A return whose operation is not linearized yet: this branch is dead.
    if (
      stuck === undefined ||
      entry.position > stuck.position ||
      (entry.position === stuck.position && stack.length > stuck.linearized.length)
    ) {
      stuck = describeStuck(entry, stack, state);
    }
    const top = stack.pop();
    if (top === undefined) return { kind: 'fail', stuck };
    entry = top.entry;
    state = top.state;
    linearized[entry.index >>> 5]! &= ~(1 << (entry.index & 31));
    unlift(entry);
    entry = entry.next;
  }
  return { kind: 'ok' };
}

function describeStuck<S>(at: Entry, stack: readonly { entry: Entry }[], state: S): Stuck<S> {
  return {
    position: at.position,
    failed: at.op,
    linearized: stack.map((s) => s.entry.op),
    state,
  };
}

/** The partition's history cut just after position `end`: later operations vanish, and those
 * still running at the cut become indeterminate (the model's partition then drops any that
 * cannot matter, such as indeterminate reads). */
function truncate<S>(model: Model<S>, ops: readonly Operation[], end: number): Operation[] {
  const out: Operation[] = [];
  for (const op of ops) {
    if (op.call > end) continue;
    out.push(op.ret <= end ? op : { ...op, status: 'info', output: undefined, ret: Infinity });
  }
  return model.partition(out).flatMap((p) => p.ops);
}

function minimize<S>(
  model: Model<S>,
  part: Partition,
  whole: Stuck<S>,
  budget: Budget,
): FailureWindow {
  // Candidate cuts: the returns of determinate operations. Not linearizable is monotone in the
  // prefix, and the whole partition (its last return) is known to fail.
  const cuts = part.ops
    .filter((op) => op.ret !== Infinity)
    .map((op) => op.ret)
    .sort((a, b) => a - b);
  let lo = 0;
  let hi = cuts.length - 1;
  let best: Stuck<S> | undefined;
  while (lo <= hi && !budget.spent) {
    const mid = (lo + hi) >>> 1;
    const outcome = search(model, truncate(model, part.ops, cuts[mid]!), budget);
    if (outcome.kind === 'unknown') break;
    if (outcome.kind === 'fail') {
      best = outcome.stuck;
      hi = mid - 1;
    } else {
      lo = mid + 1;
    }
  }
  const minimized = best !== undefined && lo > hi;
  const stuck = minimized ? best! : whole;
  return report(model, part, stuck, minimized);
}

function report<S>(
  model: Model<S>,
  part: Partition,
  stuck: Stuck<S>,
  minimized: boolean,
): FailureWindow {
  // Truncation rewrote some operations as indeterminate; report them as recorded.
  const original = new Map(part.ops.map((op) => [op.id, op]));
  const restore = (op: Operation): Operation => original.get(op.id) ?? op;
  const failed = restore(stuck.failed);
  const concurrent = part.ops.filter(
    (op) => op !== failed && op.call < failed.ret && op.ret > failed.call,
  );
  const prefix = stuck.linearized.map(restore);
  const determinate = concurrent.filter((op) => op.status === 'ok');
  const start = Math.min(failed.call, ...determinate.map((op) => op.call));
  const tail = prefix.filter((op) => op.ret > start);
  // The latest operation that finished before the window opened pinned the state it starts from.
  const pinned = prefix
    .filter((op) => op.ret <= start)
    .reduce<Operation | undefined>(
      (a, op) => (a === undefined || op.ret > a.ret ? op : a),
      undefined,
    );
  const windowOps = new Set<Operation>(pinned !== undefined ? [pinned, ...tail] : tail);
  windowOps.add(failed);
  for (const op of determinate) windowOps.add(op);
  return {
    partition: part.label,
    failed,
    concurrent,
    prefix,
    stateAfterPrefix: model.formatState(stuck.state),
    window: [...windowOps].sort((a, b) => a.call - b.call),
    minimized,
  };
}
