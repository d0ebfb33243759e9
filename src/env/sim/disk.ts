import { TesseraError } from '../../util/errors.js';
import type { Prng } from '../../util/prng.js';
import { diskFaultsDefault, mergeDiskFaults, sampleLatency, type DiskFaults } from './faults.js';
import { never, type Kernel, type Lifetime } from './kernel.js';
import { Volume } from './volume.js';

/** Which fault rate and which latency an operation draws. */
export type DiskOpKind = 'read' | 'write' | 'sync' | 'meta';

/**
 * Operations on one file complete in the order they were issued (as on one file descriptor);
 * namespace operations (open, rename, list, ...) share one lane of their own. Different lanes
 * interleave freely, so the seed decides how two files' operations race.
 */
export type DiskLane = number | 'meta';

/**
 * A node's disk: the Volume plus time and failure. It belongs to the node and outlives its
 * incarnations; each operation is submitted on behalf of one incarnation and completes as an
 * event of that incarnation, so a crash drops completions that had not happened yet — those
 * operations never reached the disk.
 */
export class SimDisk {
  /** The disk's contents; tests may read it directly, synchronously. */
  readonly volume = new Volume();
  private faultsNow: DiskFaults;
  private readonly laneLastMicros = new Map<DiskLane, number>();

  constructor(
    private readonly kernel: Kernel,
    readonly nodeName: string,
    private readonly prng: Prng,
    faults: Partial<DiskFaults> = {},
  ) {
    this.faultsNow = mergeDiskFaults(diskFaultsDefault, faults);
  }

  get faults(): DiskFaults {
    return this.faultsNow;
  }

  setFaults(change: Partial<DiskFaults>): void {
    this.faultsNow = mergeDiskFaults(this.faultsNow, change);
    this.kernel.trace(`disk-faults ${this.nodeName} ${JSON.stringify(change)}`);
  }

  /**
   * Runs `op` against the volume after the operation's latency, unless the fault model fails it
   * first (the operation then has no effect). Settles only if `owner` is still alive then.
   */
  submit<T>(
    owner: Lifetime,
    lane: DiskLane,
    kind: DiskOpKind,
    label: string,
    op: () => T,
  ): Promise<T> {
    if (!owner.alive) return never();
    const f = this.faultsNow;
    const latency =
      kind === 'sync'
        ? sampleLatency(
            this.prng,
            f.minLatencyMicros,
            f.meanSyncLatencyMicros,
            f.maxSyncLatencyMicros,
          )
        : sampleLatency(this.prng, f.minLatencyMicros, f.meanLatencyMicros, f.maxLatencyMicros);
    const at = Math.max(
      this.kernel.nowMicros() + Math.round(latency),
      this.laneLastMicros.get(lane) ?? 0,
    );
    this.laneLastMicros.set(lane, at);
    return new Promise<T>((resolve, reject) => {
      this.kernel.schedule(at, owner, `disk ${this.nodeName} ${label}`, () => {
        if (this.prng.chance(this.errorRate(kind))) {
          this.kernel.trace(`disk ${this.nodeName} injected IO_ERROR`);
          reject(
            new TesseraError('IO_ERROR', `injected disk fault: ${label}`, { node: this.nodeName }),
          );
          return;
        }
        try {
          resolve(op());
        } catch (err) {
          if (err instanceof TesseraError)
            this.kernel.trace(`disk ${this.nodeName} -> ${err.code}`);
          reject(err);
        }
      });
    });
  }

  /** Power loss: applies the crash rule to the volume and traces what each file kept. */
  crash(): void {
    for (const o of this.volume.crash(this.prng)) {
      if (o.opsPending === 0) continue;
      const torn = o.tornBytes === undefined ? '' : ` torn=${o.tornBytes}B`;
      this.kernel.trace(
        `disk ${this.nodeName} crash ${o.path} kept=${o.opsKept}/${o.opsPending}${torn}`,
      );
    }
  }

  /** Current contents of every file (path → bytes), unsynced data included. */
  snapshot(): Map<string, Uint8Array> {
    return this.volume.snapshot();
  }

  /** The contents that a crash is guaranteed to keep. */
  durableSnapshot(): Map<string, Uint8Array> {
    return this.volume.durableSnapshot();
  }

  private errorRate(kind: DiskOpKind): number {
    switch (kind) {
      case 'read':
        return this.faultsNow.readErrorRate;
      case 'write':
        return this.faultsNow.writeErrorRate;
      case 'sync':
        return this.faultsNow.syncErrorRate;
      case 'meta':
        return 0;
    }
  }
}
