import { assert } from '../../util/assert.js';
import { TesseraError, invalidArgument } from '../../util/errors.js';
import { Prng } from '../../util/prng.js';
import { yieldToMacrotask } from '../real/yield.js';
import type { Timer } from '../types.js';
import { startWallMicrosDefault } from './clock.js';
import type { DiskFaults, NetworkFaults } from './faults.js';
import type { Kernel, Lifetime } from './kernel.js';
import { SimNetwork } from './network.js';
import { SimNode, type SimNodeOptions } from './node.js';
import { EventQueue } from './scheduler.js';
import { TraceLog } from './trace.js';

/** Default bound on events in one run: far above any sane scenario, low enough to stop a spin. */
export const eventsPerRunMaxDefault = 5_000_000;
export const traceLinesMaxDefault = 200;
export const runUntilTimeoutMsDefault = 60_000;

/**
 * What happens when node code throws (or a promise it handed back rejects): 'crash' the node
 * (the default: a process with an uncaught error dies), only 'record' it, or 'fail' the run.
 * Every error is recorded in `nodeErrors` and the trace in all three cases.
 */
export type NodeErrorPolicy = 'crash' | 'record' | 'fail';

export interface SimWorldOptions {
  readonly seed: number;
  readonly network?: Partial<NetworkFaults>;
  /** Wall time at virtual time zero (default 2026-01-01T00:00:00Z). */
  readonly startWallMicros?: number;
  readonly eventsPerRunMax?: number;
  /** Trace lines kept in memory for recentTrace() (all lines always go into the digest). */
  readonly traceLinesMax?: number;
  readonly onNodeError?: NodeErrorPolicy;
}

export interface NodeError {
  readonly node: string;
  readonly incarnation: number;
  readonly atMicros: number;
  readonly error: unknown;
}

export interface RunOptions {
  /** Stop before the first event later than this virtual time (and move the clock to it). */
  readonly untilMs?: number;
  /** Stop after this many events. */
  readonly maxEvents?: number;
}

export interface RunResult {
  readonly events: number;
  readonly stopped: 'idle' | 'until' | 'maxEvents' | 'predicate';
}

/**
 * A whole simulated cluster in one process: nodes with clocks, disks and a network, driven by
 * one event queue on virtual time. A run is a pure function of the seed:
 *
 * - every random choice comes from a Prng forked from the seed, one per purpose (scenario,
 *   network, each node, each disk), so draws in one do not shift the others;
 * - events run one at a time in (time, insertion) order, and after each the loop waits for a
 *   macrotask, so every promise continuation the event set off finishes before the next event;
 * - every executed event folds a line into a SHA-256 digest, the run's fingerprint.
 */
export class SimWorld {
  readonly seed: number;
  /** For the scenario's own choices. */
  readonly random: Prng;
  readonly nodeErrors: NodeError[] = [];
  private readonly root: Prng;
  private readonly queue = new EventQueue();
  private readonly traceLog: TraceLog;
  private readonly network: SimNetwork;
  private readonly nodesByName = new Map<string, SimNode>();
  private readonly kernel: Kernel;
  private readonly startWallMicros: number;
  private readonly eventsPerRunMax: number;
  private readonly onNodeError: NodeErrorPolicy;
  private now = 0;
  private running = false;
  private failure: { readonly error: unknown } | undefined;
  private eventsTotal = 0;

  constructor(options: SimWorldOptions) {
    this.seed = options.seed;
    this.root = new Prng(options.seed);
    this.random = this.root.fork();
    this.startWallMicros = options.startWallMicros ?? startWallMicrosDefault;
    this.eventsPerRunMax = options.eventsPerRunMax ?? eventsPerRunMaxDefault;
    this.onNodeError = options.onNodeError ?? 'crash';
    this.traceLog = new TraceLog(options.traceLinesMax ?? traceLinesMaxDefault);
    this.kernel = {
      nowMicros: () => this.now,
      schedule: (atMicros, owner, label, run) => {
        assert(atMicros >= this.now, `event scheduled in the past: ${label}`);
        return this.queue.push(atMicros, owner, label, run);
      },
      cancel: (event) => this.queue.cancel(event),
      trace: (line) => this.traceLog.add(`t=${this.now} ${line}`),
      invoke: (owner, fn) => this.invoke(owner, fn),
    };
    const lifetimeOf = (host: string): Lifetime | undefined => {
      const node = this.nodesByName.get(host);
      return node === undefined
        ? undefined
        : { node: host, incarnation: node.incarnation, alive: node.alive };
    };
    this.network = new SimNetwork(this.kernel, this.root.fork(), lifetimeOf, options.network);
  }

  // --- Time ---------------------------------------------------------------------------------

  nowMicros(): number {
    return this.now;
  }

  nowMs(): number {
    return this.now / 1000;
  }

  get eventsExecuted(): number {
    return this.eventsTotal;
  }

  /** Events in the queue (cancelled ones not yet purged included). */
  get eventsPending(): number {
    return this.queue.size;
  }

  // --- Nodes --------------------------------------------------------------------------------

  addNode(name: string, options: SimNodeOptions = {}): SimNode {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw invalidArgument(`bad node name '${name}'`);
    if (this.nodesByName.has(name)) throw invalidArgument(`node ${name} already exists`);
    const deps = {
      kernel: this.kernel,
      network: this.network,
      startWallMicros: this.startWallMicros,
      compactQueue: () => this.queue.compact(),
    };
    const node = new SimNode(deps, name, this.root.fork(), this.root.fork(), options);
    this.nodesByName.set(name, node);
    this.kernel.trace(`add-node ${name} ${JSON.stringify(options)}`);
    return node;
  }

  node(name: string): SimNode {
    const node = this.nodesByName.get(name);
    if (node === undefined) throw invalidArgument(`no node named ${name}`);
    return node;
  }

  get nodes(): readonly SimNode[] {
    return [...this.nodesByName.values()];
  }

  crash(name: string): void {
    this.node(name).crash();
  }

  restart(name: string): void {
    this.node(name).restart();
  }

  // --- Faults -------------------------------------------------------------------------------

  get networkFaults(): NetworkFaults {
    return this.network.faults;
  }

  setNetworkFaults(change: Partial<NetworkFaults>): void {
    this.network.setFaults(change);
  }

  setDiskFaults(name: string, change: Partial<DiskFaults>): void {
    this.node(name).disk.setFaults(change);
  }

  /** Nothing crosses between the groups, in either direction, until heal(). */
  partition(groupA: readonly string[], groupB: readonly string[]): void {
    this.checkNames(groupA, groupB);
    this.network.partitionOneWay(groupA, groupB);
    this.network.partitionOneWay(groupB, groupA);
  }

  /** Nothing crosses from `from` to `to` (the other way still works) until heal(). */
  partitionOneWay(from: readonly string[], to: readonly string[]): void {
    this.checkNames(from, to);
    this.network.partitionOneWay(from, to);
  }

  /** Cuts one node off from every other node. */
  isolate(name: string): void {
    this.node(name);
    this.partition(
      [name],
      [...this.nodesByName.keys()].filter((n) => n !== name),
    );
  }

  heal(): void {
    this.network.heal();
  }

  // --- Running ------------------------------------------------------------------------------

  /** Runs events until the queue is empty, `untilMs` is reached or `maxEvents` have run. */
  run(options: RunOptions = {}): Promise<RunResult> {
    const until = options.untilMs === undefined ? Infinity : Math.round(options.untilMs * 1000);
    return this.loop(until, options.maxEvents ?? Infinity, undefined);
  }

  /** Runs for `durationMs` of virtual time. */
  runFor(durationMs: number): Promise<RunResult> {
    return this.run({ untilMs: this.nowMs() + durationMs });
  }

  /**
   * Runs until `predicate` holds (checked before each event, after the previous event's promise
   * continuations) or `timeoutMs` of virtual time pass; says whether it held.
   */
  async runUntil(
    predicate: () => boolean,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<boolean> {
    const timeoutMs = options.timeoutMs ?? runUntilTimeoutMsDefault;
    const until = this.now + Math.round(timeoutMs * 1000);
    const result = await this.loop(until, Infinity, predicate);
    return result.stopped === 'predicate';
  }

  /**
   * Runs the world until `promise` settles, then returns its value or throws its error: how a
   * test awaits node-side work. DEADLINE_EXCEEDED if it has not settled within `timeoutMs`.
   */
  async settle<T>(promise: Promise<T>, options: { readonly timeoutMs?: number } = {}): Promise<T> {
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    promise.then(
      (value) => (outcome = { ok: true, value }),
      (error: unknown) => (outcome = { ok: false, error }),
    );
    await this.runUntil(() => outcome !== undefined, options);
    if (outcome === undefined) {
      throw new TesseraError('DEADLINE_EXCEEDED', 'promise did not settle in the simulation', {
        seed: this.seed,
        atMicros: this.now,
      });
    }
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  /**
   * Runs a scenario step `delayMs` from now as an event of the world (not of any node): the way
   * to crash, partition or heal at a chosen virtual time. Errors it throws fail the run.
   */
  after(delayMs: number, fn: () => unknown, label = 'step'): Timer {
    if (!(Number.isFinite(delayMs) && delayMs >= 0)) throw invalidArgument(`bad delay ${delayMs}`);
    const at = this.now + Math.round(delayMs * 1000);
    const event = this.queue.push(at, null, `scenario ${label}`, () => {
      const result = fn();
      if (isThenable(result)) result.then(undefined, (err: unknown) => this.fail(err));
    });
    return { cancel: () => this.queue.cancel(event) };
  }

  // --- Trace --------------------------------------------------------------------------------

  /** Adds a scenario line to the trace (and so to the digest). */
  trace(line: string): void {
    this.kernel.trace(`note ${line}`);
  }

  /** Hex SHA-256 over every trace line so far: equal for equal seeds, or something leaked. */
  digest(): string {
    return this.traceLog.digest();
  }

  /** The last trace lines (see traceLinesMax), oldest first: for failure reports. */
  recentTrace(): string[] {
    return this.traceLog.recent();
  }

  // --- Internals ----------------------------------------------------------------------------

  private async loop(
    untilMicros: number,
    maxEvents: number,
    predicate: (() => boolean) | undefined,
  ): Promise<RunResult> {
    assert(!this.running, 'SimWorld is already running (run calls do not nest)');
    this.running = true;
    try {
      // Let the caller's pending continuations queue their first events.
      await yieldToMacrotask();
      let events = 0;
      for (;;) {
        this.throwFailure();
        if (predicate?.() === true) return { events, stopped: 'predicate' };
        if (events >= maxEvents) return { events, stopped: 'maxEvents' };
        const next = this.queue.peek();
        if (next === undefined || next.atMicros > untilMicros) {
          if (Number.isFinite(untilMicros)) this.now = Math.max(this.now, untilMicros);
          return { events, stopped: next === undefined ? 'idle' : 'until' };
        }
        if (events >= this.eventsPerRunMax) {
          throw new TesseraError(
            'SIMULATION_FAILED',
            `more than ${this.eventsPerRunMax} events in one run (a periodic timer and no untilMs?)`,
            { seed: this.seed, atMicros: this.now },
          );
        }
        this.queue.pop();
        this.now = next.atMicros;
        this.traceLog.add(`t=${this.now} ${next.label}`);
        events++;
        this.eventsTotal++;
        try {
          next.run();
        } catch (err) {
          // Node code is wrapped by invoke(); what lands here is a scenario or simulator bug.
          this.fail(err);
        }
        await yieldToMacrotask();
      }
    } finally {
      this.running = false;
    }
  }

  private invoke(owner: Lifetime, fn: () => unknown): void {
    if (!owner.alive) return;
    try {
      const result = fn();
      if (isThenable(result)) result.then(undefined, (err: unknown) => this.nodeFailed(owner, err));
    } catch (err) {
      this.nodeFailed(owner, err);
    }
  }

  private nodeFailed(owner: Lifetime, error: unknown): void {
    this.nodeErrors.push({
      node: owner.node,
      incarnation: owner.incarnation,
      atMicros: this.now,
      error,
    });
    this.kernel.trace(`error ${owner.node}#${owner.incarnation} ${describeError(error)}`);
    if (!owner.alive) return;
    switch (this.onNodeError) {
      case 'crash':
        this.node(owner.node).crash();
        return;
      case 'fail':
        this.fail(error);
        return;
      case 'record':
        return;
    }
  }

  private fail(error: unknown): void {
    if (this.failure === undefined) this.failure = { error };
  }

  private throwFailure(): void {
    const failure = this.failure;
    if (failure === undefined) return;
    this.failure = undefined;
    throw failure.error;
  }

  private checkNames(...groups: (readonly string[])[]): void {
    for (const group of groups) for (const name of group) this.node(name);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function describeError(error: unknown): string {
  if (error instanceof TesseraError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
