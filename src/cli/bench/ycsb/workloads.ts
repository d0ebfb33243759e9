/**
 * The YCSB core workloads A–F (YCSB's `workloads/workload[a-f]` property files over
 * `site.ycsb.workloads.CoreWorkload`), as data plus a pure, seeded operation stream.
 *
 * Defaults as CoreWorkload: table `usertable`, 10 fields of 100 bytes, `insertorder=hashed`,
 * `readallfields=true`, `writeallfields=false` (an update writes one random field), scans of
 * uniform length 1..maxscanlength. Operations are returned as data; the runner performs them
 * and acknowledges inserts, which is the only input the stream takes from outside.
 */
import { Prng } from '../../../util/prng.js';
import {
  AcknowledgedCounterGenerator,
  CounterGenerator,
  DiscreteGenerator,
  fieldNames,
  fieldValue,
  FIELD_LENGTH,
  keyName,
  ScrambledZipfianGenerator,
  SkewedLatestGenerator,
  UniformGenerator,
  type NumberGenerator,
} from './generators.js';

export const TABLE_NAME = 'usertable';
/** YCSB's `fieldcount` default. */
export const FIELD_COUNT = 10;
export const FIELD_NAMES: readonly string[] = fieldNames(FIELD_COUNT);

export type WorkloadName = 'a' | 'b' | 'c' | 'd' | 'e' | 'f';
export const WORKLOAD_NAMES: readonly WorkloadName[] = ['a', 'b', 'c', 'd', 'e', 'f'];

export type OpKind = 'read' | 'update' | 'insert' | 'scan' | 'readModifyWrite';
export const OP_KINDS: readonly OpKind[] = ['read', 'update', 'insert', 'scan', 'readModifyWrite'];

export interface WorkloadSpec {
  readonly name: WorkloadName;
  readonly description: string;
  readonly proportions: Readonly<Record<OpKind, number>>;
  readonly requestDistribution: 'zipfian' | 'latest' | 'uniform';
  readonly minScanLength: number;
  readonly maxScanLength: number;
}

const none: Record<OpKind, number> = {
  read: 0,
  update: 0,
  insert: 0,
  scan: 0,
  readModifyWrite: 0,
};

function spec(
  name: WorkloadName,
  description: string,
  proportions: Partial<Record<OpKind, number>>,
  requestDistribution: WorkloadSpec['requestDistribution'] = 'zipfian',
  maxScanLength = 1000,
): WorkloadSpec {
  return Object.freeze({
    name,
    description,
    proportions: Object.freeze({ ...none, ...proportions }),
    requestDistribution,
    minScanLength: 1,
    maxScanLength,
  });
}

/** YCSB's workloada … workloadf. */
export const WORKLOADS: Readonly<Record<WorkloadName, WorkloadSpec>> = Object.freeze({
  a: spec('a', 'update heavy: 50% read, 50% update, zipfian', { read: 0.5, update: 0.5 }),
  b: spec('b', 'read mostly: 95% read, 5% update, zipfian', { read: 0.95, update: 0.05 }),
  c: spec('c', 'read only: 100% read, zipfian', { read: 1 }),
  d: spec('d', 'read latest: 95% read, 5% insert, latest', { read: 0.95, insert: 0.05 }, 'latest'),
  e: spec(
    'e',
    'short ranges: 95% scan (1–100 rows, uniform), 5% insert, zipfian start',
    { scan: 0.95, insert: 0.05 },
    'zipfian',
    100,
  ),
  f: spec('f', 'read-modify-write: 50% read, 50% read-modify-write, zipfian', {
    read: 0.5,
    readModifyWrite: 0.5,
  }),
});

export type FieldValues = ReadonlyMap<string, Uint8Array>;

/** One operation, as data. `keynum` of an insert must be acknowledged once it is done. */
export type YcsbOp =
  | { readonly kind: 'read'; readonly key: string }
  | { readonly kind: 'update'; readonly key: string; readonly values: FieldValues }
  | {
      readonly kind: 'insert';
      readonly key: string;
      readonly keynum: number;
      readonly values: FieldValues;
    }
  | { readonly kind: 'scan'; readonly key: string; readonly count: number }
  | { readonly kind: 'readModifyWrite'; readonly key: string; readonly values: FieldValues };

export interface WorkloadParams {
  readonly records: number;
  readonly operations: number;
  readonly seed: number;
  readonly fieldLength?: number;
}

/**
 * The operation stream of one workload run: `loadOp(i)` for the load phase, `nextOp()` for the
 * run phase. Deterministic for a seed, except that D's and E's key choices (as in YCSB) depend
 * on which inserts have been acknowledged when they are drawn.
 */
export class WorkloadStream {
  private readonly valueRng: Prng;
  private readonly fieldLength: number;
  private readonly opChooser: DiscreteGenerator<OpKind>;
  private readonly fieldChooser: UniformGenerator;
  private readonly scanLength: UniformGenerator;
  private readonly insertSequence: AcknowledgedCounterGenerator;
  private readonly keyChooser: NumberGenerator;
  private readonly loadSequence: CounterGenerator;

  constructor(
    readonly spec: WorkloadSpec,
    readonly params: WorkloadParams,
  ) {
    const root = new Prng(params.seed);
    // One fork per purpose, so that e.g. value bytes never shift the key choices.
    this.valueRng = root.fork();
    this.fieldLength = params.fieldLength ?? FIELD_LENGTH;
    const p = spec.proportions;
    this.opChooser = new DiscreteGenerator(
      root.fork(),
      OP_KINDS.filter((k) => p[k] > 0).map((k) => [k, p[k]] as const),
    );
    this.fieldChooser = new UniformGenerator(root.fork(), 0, FIELD_COUNT - 1);
    this.scanLength = new UniformGenerator(root.fork(), spec.minScanLength, spec.maxScanLength);
    this.insertSequence = new AcknowledgedCounterGenerator(params.records);
    this.loadSequence = new CounterGenerator(0);
    const keyRng = root.fork();
    switch (spec.requestDistribution) {
      case 'uniform':
        this.keyChooser = new UniformGenerator(keyRng, 0, params.records - 1);
        break;
      case 'latest':
        this.keyChooser = new SkewedLatestGenerator(keyRng, this.insertSequence);
        break;
      case 'zipfian': {
        // As CoreWorkload: size the key space for the inserts expected (times a fudge factor
        // of 2) so that new keys do not shift which keys are popular; unborn keys are redrawn.
        const expectedNewKeys = Math.floor(params.operations * p.insert * 2);
        this.keyChooser = new ScrambledZipfianGenerator(
          keyRng,
          0,
          params.records + expectedNewKeys,
        );
        break;
      }
    }
  }

  /** The next insert of the load phase: keys 0, 1, … in turn, every field written. */
  loadOp(): YcsbOp & { kind: 'insert' } {
    const keynum = this.loadSequence.nextValue();
    return { kind: 'insert', key: keyName(keynum), keynum, values: this.allValues() };
  }

  nextOp(): YcsbOp {
    const kind = this.opChooser.next();
    switch (kind) {
      case 'read':
        return { kind, key: keyName(this.nextKeynum()) };
      case 'update':
        return { kind, key: keyName(this.nextKeynum()), values: this.oneValue() };
      case 'readModifyWrite':
        return { kind, key: keyName(this.nextKeynum()), values: this.oneValue() };
      case 'scan':
        return { kind, key: keyName(this.nextKeynum()), count: this.scanLength.nextValue() };
      case 'insert': {
        const keynum = this.insertSequence.nextValue();
        return { kind, key: keyName(keynum), keynum, values: this.allValues() };
      }
    }
  }

  /** Marks a run-phase insert done, so later reads may choose its key. */
  acknowledge(op: YcsbOp): void {
    if (op.kind === 'insert' && op.keynum >= this.params.records) {
      this.insertSequence.acknowledge(op.keynum);
    }
  }

  /** CoreWorkload.nextKeynum: a key that has been inserted (redraw while it is not). */
  private nextKeynum(): number {
    for (;;) {
      const k = this.keyChooser.nextValue();
      if (k <= this.insertSequence.lastValue()) return k;
    }
  }

  private allValues(): FieldValues {
    return new Map(FIELD_NAMES.map((f) => [f, fieldValue(this.valueRng, this.fieldLength)]));
  }

  private oneValue(): FieldValues {
    const field = FIELD_NAMES[this.fieldChooser.nextValue()]!;
    return new Map([[field, fieldValue(this.valueRng, this.fieldLength)]]);
  }
}
