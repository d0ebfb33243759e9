/**
 * A round-based simulator of many gossipers, to measure how fast gossip converges.
 *
 * It is not the cluster simulator (no clocks, sockets or failure detectors): it checks the
 * protocol's arithmetic. A round is one GOSSIP_INTERVAL_MS: every node ticks once, in a random
 * order, and each exchange a tick starts (SYN -> ACK -> ACK2) completes within the round,
 * synchronously, each message lost with probability `lossRate`. Every node is up, so the
 * failure detector is modelled as "every known endpoint is alive".
 *
 * Two figures come out:
 * - convergenceRounds: a cluster starting from scratch (every node knows only the seeds and
 *   publishes status=normal); rounds until every node holds every node's status;
 * - disseminationRounds: in an already converged cluster, one node changes its status; rounds
 *   until every node holds the new value. Epidemic push-pull spreads in O(log N) rounds.
 *
 * Knowledge is tracked incrementally from the `changed` list of each step, with an N x N bit
 * table, so that checking convergence costs nothing next to the gossip itself.
 */
import type { Random } from '../env/types.js';
import { assert } from '../util/assert.js';
import { TesseraError, invalidArgument } from '../util/errors.js';
import { Gossiper, type GossipStep, type Outgoing } from './gossip.js';

/** Nodes in one simulation: the knowledge table holds nodes^2 bytes. */
export const SIMULATION_NODES_MAX = 4096;
export const SIMULATION_ROUNDS_MAX_DEFAULT = 500;

export interface ConvergenceOptions {
  readonly nodes: number;
  /** The first `seeds` nodes (n0, n1, ...) are the seeds. */
  readonly seeds: number;
  readonly random: Random;
  /** Probability that any one message is lost (default 0). */
  readonly lossRate?: number;
  /** Give up (SIMULATION_FAILED) after this many rounds (default SIMULATION_ROUNDS_MAX_DEFAULT). */
  readonly roundsMax?: number;
}

export interface ConvergenceResult {
  readonly rounds: number;
  /** Messages sent in those rounds (SYN, ACK and ACK2, lost ones included). */
  readonly messages: number;
}

const statusKey = 'status';

/** Rounds until a cluster started from scratch knows every node's status everywhere. */
export function convergenceRounds(options: ConvergenceOptions): ConvergenceResult {
  const cluster = new GossipCluster(options);
  for (let i = 0; i < cluster.size; i++) cluster.setStatus(i, 'normal');
  return cluster.runUntilConverged(options.roundsMax ?? SIMULATION_ROUNDS_MAX_DEFAULT);
}

/**
 * Rounds for one status change (of a random node) to reach every node of a cluster that has
 * already converged; `messages` counts only those rounds.
 */
export function disseminationRounds(options: ConvergenceOptions): ConvergenceResult {
  const roundsMax = options.roundsMax ?? SIMULATION_ROUNDS_MAX_DEFAULT;
  const cluster = new GossipCluster(options);
  for (let i = 0; i < cluster.size; i++) cluster.setStatus(i, 'normal');
  cluster.runUntilConverged(roundsMax);
  cluster.setStatus(options.random.int(cluster.size), 'leaving');
  return cluster.runUntilConverged(roundsMax);
}

/** N gossipers on a lossy, instantaneous network, and who knows whose latest status. */
export class GossipCluster {
  readonly size: number;
  readonly gossipers: readonly Gossiper[];
  private readonly index = new Map<string, number>();
  private readonly random: Random;
  private readonly lossRate: number;
  /** The version of each node's latest status, 0 before it has one. */
  private readonly targetVersion: number[];
  /** known[i * size + j]: node i holds node j's latest status. */
  private readonly known: Uint8Array;
  private knownCount = 0;
  /** Messages sent so far (lost ones included). */
  messages = 0;

  constructor(options: ConvergenceOptions) {
    const { nodes, seeds } = options;
    const lossRate = options.lossRate ?? 0;
    if (!Number.isInteger(nodes) || nodes < 1 || nodes > SIMULATION_NODES_MAX) {
      throw invalidArgument(`nodes must be an integer in [1, ${SIMULATION_NODES_MAX}]`, { nodes });
    }
    if (!Number.isInteger(seeds) || seeds < 1 || seeds > nodes) {
      throw invalidArgument('seeds must be an integer in [1, nodes]', { seeds, nodes });
    }
    if (!(lossRate >= 0 && lossRate < 1)) {
      throw invalidArgument('lossRate must be in [0, 1)', { lossRate });
    }
    this.size = nodes;
    this.random = options.random.fork();
    this.lossRate = lossRate;
    const ids = Array.from({ length: nodes }, (_, i) => `n${i}`);
    const seedIds = ids.slice(0, seeds);
    ids.forEach((id, i) => this.index.set(id, i));
    this.gossipers = ids.map(
      (self) =>
        new Gossiper({ self, generation: 1, seeds: seedIds, random: options.random.fork() }),
    );
    this.targetVersion = new Array<number>(nodes).fill(0);
    this.known = new Uint8Array(nodes * nodes);
  }

  /** Node j publishes a new status; from now on only that version counts as known. */
  setStatus(j: number, value: string): void {
    const gossiper = this.gossipers[j]!;
    gossiper.setAppState(statusKey, value);
    this.targetVersion[j] = gossiper.appState(gossiper.self, statusKey)!.version;
    for (let i = 0; i < this.size; i++) {
      const cell = i * this.size + j;
      this.knownCount -= this.known[cell]!;
      this.known[cell] = 0;
    }
    this.observe(j, gossiper.self);
  }

  /** True when every node holds every node's latest status (each having set one). */
  converged(): boolean {
    return this.knownCount === this.size * this.size;
  }

  /** One round: every node ticks, in a random order, and its exchanges complete. */
  round(): void {
    const order = Array.from({ length: this.size }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = this.random.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const i of order)
      this.handle(
        i,
        this.gossipers[i]!.tick(() => true),
      );
  }

  runUntilConverged(roundsMax: number): ConvergenceResult {
    const messagesBefore = this.messages;
    let rounds = 0;
    while (!this.converged()) {
      if (rounds >= roundsMax) {
        throw new TesseraError(
          'SIMULATION_FAILED',
          `gossip did not converge in ${roundsMax} rounds`,
          {
            nodes: this.size,
            known: this.knownCount,
          },
        );
      }
      this.round();
      rounds++;
    }
    return { rounds, messages: this.messages - messagesBefore };
  }

  private handle(i: number, step: GossipStep): void {
    for (const id of step.changed) this.observe(i, id);
    for (const out of step.send) this.deliver(i, out);
  }

  private deliver(from: number, out: Outgoing): void {
    this.messages++;
    if (this.lossRate > 0 && this.random.chance(this.lossRate)) return;
    const to = this.index.get(out.to);
    assert(to !== undefined, `message to an unknown node ${out.to}`);
    this.handle(to, this.gossipers[to]!.receive(this.gossipers[from]!.self, out.message));
  }

  /** Node i's view of endpoint `id` may have changed. */
  private observe(i: number, id: string): void {
    const j = this.index.get(id);
    assert(j !== undefined, `unknown endpoint ${id}`);
    const cell = i * this.size + j;
    if (this.known[cell] === 1 || this.targetVersion[j] === 0) return;
    const version = this.gossipers[i]!.appState(id, statusKey)?.version ?? 0;
    if (version >= this.targetVersion[j]!) {
      this.known[cell] = 1;
      this.knownCount++;
    }
  }
}
