/**
 * The narrow view of the world that the simulated devices (clock, disk, network) need: virtual
 * time, an event queue, the trace, and a safe way to call into node code.
 *
 * Devices never hold the SimWorld itself, so each can be read (and tested) on its own.
 */

/**
 * One incarnation of one node. Every event that would call into node code carries the lifetime
 * it belongs to; when the node crashes, `alive` turns false and those events are skipped, so
 * code of a dead incarnation never runs again and its promises never settle.
 */
export interface Lifetime {
  readonly node: string;
  readonly incarnation: number;
  alive: boolean;
}

export interface SimEvent {
  readonly atMicros: number;
  /** Insertion order: events at the same time run first-in first-out. */
  readonly seq: number;
  /** Null for events that belong to the world or the network rather than to one node. */
  readonly owner: Lifetime | null;
  /** Folded into the trace when the event runs. */
  readonly label: string;
  readonly run: () => void;
  cancelled: boolean;
}

export interface Kernel {
  nowMicros(): number;
  /** Queues `run` at virtual time `atMicros` (never earlier than now). */
  schedule(atMicros: number, owner: Lifetime | null, label: string, run: () => void): SimEvent;
  cancel(event: SimEvent): void;
  /** Folds a line (prefixed with the virtual time) into the trace digest. */
  trace(line: string): void;
  /**
   * Calls node code. A throw, or a rejection of a returned promise, is recorded as that node's
   * error instead of escaping into the simulator.
   */
  invoke(owner: Lifetime, fn: () => unknown): void;
}

/**
 * A promise that never settles: what every operation of a dead incarnation returns, the way a
 * crashed process never hears back from its pending system calls.
 */
export function never<T>(): Promise<T> {
  return new Promise<T>(() => {});
}
