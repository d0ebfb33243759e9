/**
 * YCSB's number generators, ported from `site.ycsb.generator` (YCSB 0.17) so that a workload
 * here draws the same distributions as the Java benchmark: uniform, zipfian (Gray et al.,
 * "Quickly Generating Billion-Record Synthetic Databases", SIGMOD 1994, with YCSB's incremental
 * zeta), scrambled zipfian (FNV-64 hashed), skewed-latest, counter and acknowledged counter.
 *
 * Every generator draws from an injected, seeded `Prng` (never Math.random), so a run is a pure
 * function of its seed. Key numbers stay below 2^53 (YCSB's scrambled zipfian tops out at 1e10),
 * so plain numbers suffice except inside the 64-bit FNV hash.
 */
import type { Prng } from '../../../util/prng.js';

/** YCSB's `ZipfianGenerator.ZIPFIAN_CONSTANT`. */
export const ZIPFIAN_CONSTANT = 0.99;
/** YCSB's ScrambledZipfianGenerator draws from this many items, then hashes into the key space. */
export const SCRAMBLED_ITEM_COUNT = 10_000_000_000;
/** zeta(SCRAMBLED_ITEM_COUNT + 1, 0.99), precomputed by YCSB (`ScrambledZipfianGenerator.ZETAN`). */
export const SCRAMBLED_ZETAN = 26.46902820178302;
/** YCSB's `fieldlength` default: every field value is 100 bytes. */
export const FIELD_LENGTH = 100;

export interface NumberGenerator {
  nextValue(): number;
  /** The value most recently returned (for counters: the last one handed out / acknowledged). */
  lastValue(): number;
}

/** Uniform integers in [lb, ub] inclusive (YCSB's UniformLongGenerator). */
export class UniformGenerator implements NumberGenerator {
  private last: number;
  constructor(
    private readonly rng: Prng,
    readonly lb: number,
    readonly ub: number,
  ) {
    if (!(Number.isSafeInteger(lb) && Number.isSafeInteger(ub) && lb <= ub)) {
      throw new RangeError(`uniform bounds must be safe integers with lb <= ub: ${lb}, ${ub}`);
    }
    this.last = lb;
  }

  nextValue(): number {
    this.last = this.lb + Math.floor(this.rng.float() * (this.ub - this.lb + 1));
    return this.last;
  }

  lastValue(): number {
    return this.last;
  }
}

/** zeta(st..n-1, theta) added to `initial`: sum of 1/(i+1)^theta for i in [st, n). */
export function zeta(st: number, n: number, theta: number, initial: number): number {
  let sum = initial;
  for (let i = st; i < n; i++) sum += 1 / Math.pow(i + 1, theta);
  return sum;
}

/**
 * Zipfian over [min, max]: item `min` is most popular, then `min+1`, … with frequency falling
 * like 1/rank^theta. As YCSB, `nextLong(itemcount)` may grow the item count; zeta is then
 * extended incrementally from the count it was last computed for.
 */
export class ZipfianGenerator implements NumberGenerator {
  private readonly items: number;
  private readonly base: number;
  private readonly theta: number;
  private readonly zeta2theta: number;
  private readonly alpha: number;
  private zetan: number;
  private eta: number;
  private countForZeta: number;
  private last: number;

  constructor(
    private readonly rng: Prng,
    min: number,
    max: number,
    constant = ZIPFIAN_CONSTANT,
    zetan?: number,
  ) {
    if (!(max >= min && constant > 0 && constant < 1)) {
      throw new RangeError(`zipfian needs min <= max and 0 < constant < 1: ${min}, ${max}`);
    }
    this.items = max - min + 1;
    this.base = min;
    this.theta = constant;
    this.zeta2theta = zeta(0, 2, constant, 0);
    this.alpha = 1 / (1 - constant);
    this.zetan = zetan ?? zeta(0, this.items, constant, 0);
    this.countForZeta = this.items;
    this.eta = this.etaFor();
    this.last = min;
  }

  // YCSB computes eta from the construction-time item count even after zeta grows; kept as is
  // so that the distribution matches the Java benchmark draw for draw.
  private etaFor(): number {
    return (1 - Math.pow(2 / this.items, 1 - this.theta)) / (1 - this.zeta2theta / this.zetan);
  }

  /** A draw from [base, base + itemcount), growing the item count first if it increased. */
  nextLong(itemcount: number): number {
    if (itemcount > this.countForZeta) {
      this.zetan = zeta(this.countForZeta, itemcount, this.theta, this.zetan);
      this.countForZeta = itemcount;
      this.eta = this.etaFor();
    }
    const u = this.rng.float();
    const uz = u * this.zetan;
    let ret: number;
    if (uz < 1) ret = this.base;
    else if (uz < 1 + Math.pow(0.5, this.theta)) ret = this.base + 1;
    else
      ret = this.base + Math.floor(itemcount * Math.pow(this.eta * u - this.eta + 1, this.alpha));
    this.last = ret;
    return ret;
  }

  nextValue(): number {
    return this.nextLong(this.items);
  }

  lastValue(): number {
    return this.last;
  }
}

const FNV_OFFSET_BASIS_64 = 0xcbf29ce484222325n;
const FNV_PRIME_64 = 1099511628211n;

/**
 * YCSB's `Utils.fnvhash64`: FNV-1a over the 8 little-endian octets of a long, then Math.abs of
 * the signed result. Used to scramble zipfian ranks and to spread `hashed` insert order.
 */
export function fnvhash64(value: number): bigint {
  return fnvhash64Big(value);
}

/** fnvhash64(value) % modulus, computed without losing precision above 2^53. */
export function fnvhash64Mod(value: number, modulus: number): number {
  return Number(fnvhash64Big(value) % BigInt(modulus));
}

function fnvhash64Big(value: number): bigint {
  let v = BigInt(value);
  let h = FNV_OFFSET_BASIS_64;
  for (let i = 0; i < 8; i++) {
    h ^= v & 0xffn;
    v >>= 8n;
    h = BigInt.asUintN(64, h * FNV_PRIME_64);
  }
  const signed = BigInt.asIntN(64, h);
  return signed < 0n ? -signed : signed;
}

/**
 * Zipfian popularity scattered over [min, max]: the popular items are not clustered at the low
 * end (YCSB's ScrambledZipfianGenerator: draw from 1e10 items, hash, take mod itemcount).
 */
export class ScrambledZipfianGenerator implements NumberGenerator {
  private readonly gen: ZipfianGenerator;
  private readonly itemcount: number;
  private last: number;

  constructor(
    rng: Prng,
    private readonly min: number,
    max: number,
  ) {
    this.itemcount = max - min + 1;
    this.gen = new ZipfianGenerator(
      rng,
      0,
      SCRAMBLED_ITEM_COUNT,
      ZIPFIAN_CONSTANT,
      SCRAMBLED_ZETAN,
    );
    this.last = min;
  }

  nextValue(): number {
    this.last = this.min + fnvhash64Mod(this.gen.nextValue(), this.itemcount);
    return this.last;
  }

  lastValue(): number {
    return this.last;
  }
}

/** Hands out base, base+1, … (YCSB's CounterGenerator). */
export class CounterGenerator implements NumberGenerator {
  protected counter: number;

  constructor(start: number) {
    this.counter = start;
  }

  nextValue(): number {
    return this.counter++;
  }

  lastValue(): number {
    return this.counter - 1;
  }
}

/** Most values an acknowledged counter tracks in flight (YCSB's WINDOW_SIZE, 2^20). */
export const ACK_WINDOW_SIZE = 1 << 20;

/**
 * A counter whose `lastValue()` is the highest value below which every value handed out has
 * been acknowledged (YCSB's AcknowledgedCounterGenerator): reads never pick a key whose insert
 * has not finished.
 */
export class AcknowledgedCounterGenerator extends CounterGenerator {
  private readonly window = new Uint8Array(ACK_WINDOW_SIZE);
  private limit: number;

  constructor(start: number) {
    super(start);
    this.limit = start - 1;
  }

  override lastValue(): number {
    return this.limit;
  }

  acknowledge(value: number): void {
    if (value - this.limit > ACK_WINDOW_SIZE) {
      throw new RangeError(`too many unacknowledged inserts (more than ${ACK_WINDOW_SIZE})`);
    }
    this.window[value % ACK_WINDOW_SIZE] = 1;
    let next = this.limit + 1;
    while (this.window[next % ACK_WINDOW_SIZE] === 1) {
      this.window[next % ACK_WINDOW_SIZE] = 0;
      next++;
    }
    this.limit = next - 1;
  }
}

/**
 * Recent items most popular (YCSB's SkewedLatestGenerator, workload D): a zipfian rank counted
 * back from the latest acknowledged insert.
 */
export class SkewedLatestGenerator implements NumberGenerator {
  private readonly zipfian: ZipfianGenerator;
  private last = 0;

  constructor(
    rng: Prng,
    private readonly basis: CounterGenerator,
  ) {
    this.zipfian = new ZipfianGenerator(rng, 0, basis.lastValue() - 1);
    this.nextValue();
  }

  nextValue(): number {
    const max = this.basis.lastValue();
    this.last = max - this.zipfian.nextLong(max);
    return this.last;
  }

  lastValue(): number {
    return this.last;
  }
}

/**
 * YCSB's CoreWorkload.buildKeyName with `insertorder=hashed` and `zeropadding=1`:
 * `user` + the FNV-64 hash of the key number in decimal.
 */
export function keyName(keynum: number): string {
  return `user${fnvhash64(keynum).toString()}`;
}

/** YCSB's `field0` … `field9`. */
export function fieldNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `field${i}`);
}

/**
 * A field value of `length` printable bytes, as YCSB's RandomByteIterator: each byte is
 * `' ' + (random & 63)`, so values are ASCII in [32, 95].
 */
export function fieldValue(rng: Prng, length = FIELD_LENGTH): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += 5) {
    let r = rng.uint32();
    for (let j = i; j < Math.min(length, i + 5); j++) {
      out[j] = 32 + (r & 63);
      r >>>= 6;
    }
  }
  return out;
}

/** YCSB's DiscreteGenerator: picks a label with probability weight / sum(weights). */
export class DiscreteGenerator<T> {
  private readonly total: number;

  constructor(
    private readonly rng: Prng,
    private readonly choices: readonly (readonly [T, number])[],
  ) {
    this.total = choices.reduce((s, [, w]) => s + w, 0);
    if (!(this.total > 0)) throw new RangeError('a discrete generator needs a positive weight');
  }

  next(): T {
    let val = this.rng.float();
    for (const [value, weight] of this.choices) {
      const p = weight / this.total;
      if (val < p) return value;
      val -= p;
    }
    return this.choices[this.choices.length - 1]![0];
  }
}
