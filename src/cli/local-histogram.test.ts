import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { Prng } from '../util/prng.js';
import { LocalHistogram } from './local-histogram.js';

const buckets = [0.00005, 0.0001, 0.00025, 0.001, 0.01, 0.1, 1];

/** Exposition lines as `name{sorted labels}` → value, comments kept apart. */
function parse(text: string): { samples: Map<string, number>; comments: string[] } {
  const samples = new Map<string, number>();
  const comments: string[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      comments.push(line);
      continue;
    }
    const m = /^([^{ ]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`bad line ${line}`);
    const labels = (m[2] ?? '').split(',').filter(Boolean).sort().join(',');
    samples.set(`${m[1]}{${labels}}`, Number(m[3]));
  }
  return { samples, comments };
}

describe('LocalHistogram', () => {
  it("exposes what prom-client's Histogram does for the same observations", async () => {
    const theirs = new Registry();
    const ours = new Registry();
    theirs.setDefaultLabels({ proc: 'n1' });
    ours.setDefaultLabels({ proc: 'n1' });
    const h = new Histogram({
      name: 'x_seconds',
      help: 'Some durations',
      labelNames: ['method'] as const,
      buckets,
      registers: [theirs],
    });
    const l = new LocalHistogram({
      name: 'x_seconds',
      help: 'Some durations',
      labelName: 'method',
      buckets,
      registers: [ours],
    });
    const p = new Prng(5);
    for (let i = 0; i < 2000; i++) {
      const method = p.pick(['table.get', 'table.mutate', 'echo']);
      // Values on the bounds, between them, above the last and zero.
      const value = p.chance(0.3) ? p.pick([0, ...buckets, 3]) : p.int(2_000_000) / 1e6;
      h.labels(method).observe(value);
      l.observe(method, value);
    }
    const a = parse(await theirs.metrics());
    const b = parse(await ours.metrics());
    expect(b.comments).toEqual(a.comments);
    expect(b.samples.size).toBe(a.samples.size);
    for (const [k, v] of a.samples) expect([k, b.samples.get(k)]).toEqual([k, v]);
    ours.resetMetrics();
    expect(parse(await ours.metrics()).samples.size).toBe(0);
  });

  it('refuses buckets that do not increase', () => {
    expect(
      () =>
        new LocalHistogram({
          name: 'y',
          help: 'y',
          labelName: 'm',
          buckets: [1, 1],
          registers: [],
        }),
    ).toThrow(RangeError);
  });
});
