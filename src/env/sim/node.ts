import type { Env } from '../types.js';
import { assert } from '../../util/assert.js';
import type { Prng } from '../../util/prng.js';
import { SimClock, SimTimers, type ClockSettings } from './clock.js';
import { SimDisk } from './disk.js';
import type { DiskFaults } from './faults.js';
import { SimFileSystem } from './fs.js';
import type { Kernel, Lifetime } from './kernel.js';
import type { SimNetwork } from './network.js';

export interface SimNodeOptions {
  /** Wall-clock skew of this node (see ClockSettings). */
  readonly clockOffsetMicros?: number;
  /** Clock rate error in parts per million; timers fire by this drifted clock. */
  readonly clockDriftPpm?: number;
  readonly disk?: Partial<DiskFaults>;
}

/** A node's process entry point, run at boot and again at every restart. */
export type NodeMain = (env: Env) => void | Promise<void>;

/** What a node needs from its world. */
export interface NodeDeps {
  readonly kernel: Kernel;
  readonly network: SimNetwork;
  readonly startWallMicros: number;
  /** Drops dead events from the queue after a crash. */
  readonly compactQueue: () => void;
}

/**
 * One simulated machine: a clock and a disk that persist, and a sequence of incarnations
 * (process lifetimes). Each incarnation gets a fresh Env; a crash ends the current one at once
 * (FoundationDB's rule: its timers, pending I/O and connections vanish; its promises never
 * settle) and applies the crash rule to the disk. `restart` begins the next incarnation and runs
 * the recorded main again on the same disk.
 */
export class SimNode {
  readonly clock: SimClock;
  readonly disk: SimDisk;
  private lifetime: Lifetime;
  private currentEnv: Env;
  private incarnationNow = 1;
  private main: NodeMain | undefined;

  constructor(
    private readonly deps: NodeDeps,
    readonly name: string,
    private readonly random: Prng,
    diskRandom: Prng,
    options: SimNodeOptions = {},
  ) {
    const kernel = deps.kernel;
    this.clock = new SimClock(() => kernel.nowMicros(), deps.startWallMicros, {
      offsetMicros: options.clockOffsetMicros ?? 0,
      driftPpm: options.clockDriftPpm ?? 0,
    });
    this.disk = new SimDisk(kernel, name, diskRandom, options.disk);
    this.lifetime = { node: name, incarnation: 1, alive: true };
    this.currentEnv = this.makeEnv(this.lifetime);
  }

  /** The Env of the current incarnation (of the last one, while the node is down). */
  get env(): Env {
    return this.currentEnv;
  }

  get alive(): boolean {
    return this.lifetime.alive;
  }

  /** Counts process lifetimes from 1; a crash moves it on. */
  get incarnation(): number {
    return this.incarnationNow;
  }

  /** Records `main` and boots it in an event at the current virtual time. */
  start(main: NodeMain): void {
    assert(this.main === undefined, `node ${this.name} already started`);
    assert(this.lifetime.alive, `node ${this.name} is down; restart() it instead`);
    this.main = main;
    this.boot();
  }

  crash(): void {
    if (!this.lifetime.alive) return;
    const kernel = this.deps.kernel;
    kernel.trace(`crash ${this.name}#${this.lifetime.incarnation}`);
    this.lifetime.alive = false;
    this.incarnationNow++;
    this.disk.crash();
    this.deps.network.crashed(this.lifetime);
    this.deps.compactQueue();
  }

  /** Starts the next incarnation (crashing the current one first if it is up). */
  restart(): void {
    this.crash();
    this.lifetime = { node: this.name, incarnation: this.incarnationNow, alive: true };
    this.currentEnv = this.makeEnv(this.lifetime);
    this.deps.kernel.trace(`restart ${this.name}#${this.incarnationNow}`);
    if (this.main !== undefined) this.boot();
  }

  /** Changes skew (a wall-clock jump) or drift from now on. */
  setClock(settings: ClockSettings): void {
    this.clock.set(settings);
    this.deps.kernel.trace(`clock ${this.name} ${JSON.stringify(settings)}`);
  }

  private boot(): void {
    const main = this.main!;
    const owner = this.lifetime;
    const env = this.currentEnv;
    const kernel = this.deps.kernel;
    kernel.schedule(kernel.nowMicros(), owner, `boot ${this.name}#${owner.incarnation}`, () =>
      kernel.invoke(owner, () => main(env)),
    );
  }

  private makeEnv(owner: Lifetime): Env {
    const { kernel, network } = this.deps;
    return Object.freeze({
      name: this.name,
      clock: this.clock,
      timers: new SimTimers(kernel, owner, this.clock),
      random: this.random.fork(),
      fs: new SimFileSystem(this.disk, owner),
      net: network.forIncarnation(owner, this.clock),
    });
  }
}
