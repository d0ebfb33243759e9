/**
 * A histogram with one label, counted in plain arrays and handed to a prom-client Registry at
 * scrape time, for observations on a hot path. prom-client's own Histogram hashes the label
 * set of every observation into a string key; at one observation per RPC request that was ~2%
 * of a loaded node's time. This one keeps a Float64Array of bucket counts per label value and
 * builds the exposition values (cumulative buckets with `le`, `_sum`, `_count`) only when the
 * registry asks, in the shape prom-client's Histogram.get() returns, so the text it writes is
 * the same (metrics.test.ts and local-histogram.test.ts compare them).
 */
import type { Metric, Registry } from 'prom-client';

interface Series {
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; the last slot is above every bound. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

export interface LocalHistogramOptions {
  readonly name: string;
  readonly help: string;
  readonly labelName: string;
  /** Upper bounds, strictly increasing. */
  readonly buckets: readonly number[];
  readonly registers: readonly Registry[];
}

export class LocalHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly labelName: string;
  private readonly bounds: Float64Array;
  private readonly series = new Map<string, Series>();

  constructor(o: LocalHistogramOptions) {
    this.name = o.name;
    this.help = o.help;
    this.labelName = o.labelName;
    this.bounds = Float64Array.from(o.buckets);
    for (let i = 1; i < this.bounds.length; i++) {
      if (!(this.bounds[i]! > this.bounds[i - 1]!)) {
        throw new RangeError(`histogram ${o.name}: buckets must increase`);
      }
    }
    // prom-client's Registry takes any object with its metrics' name, get() and reset().
    for (const r of o.registers) r.registerMetric(this as unknown as Metric);
  }

  /** Records one observation of `value` under the label value `label`. */
  observe(label: string, value: number): void {
    let s = this.series.get(label);
    if (s === undefined) {
      s = { counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      this.series.set(label, s);
    }
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  /** The exposition values, as prom-client's Histogram.get() gives them. */
  get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: { value: number; labels: Record<string, string | number>; metricName: string }[];
  }> {
    const values: {
      value: number;
      labels: Record<string, string | number>;
      metricName: string;
    }[] = [];
    for (const [label, s] of this.series) {
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.counts[i]!;
        values.push({
          value: cumulative,
          labels: {
            le: i < this.bounds.length ? this.bounds[i]! : '+Inf',
            [this.labelName]: label,
          },
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({
        value: s.sum,
        labels: { [this.labelName]: label },
        metricName: `${this.name}_sum`,
      });
      values.push({
        value: s.count,
        labels: { [this.labelName]: label },
        metricName: `${this.name}_count`,
      });
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }

  reset(): void {
    this.series.clear();
  }
}
