import * as hdr from 'hdr-histogram-js';

/** Latency in microseconds, recorded into an HDR histogram (1 µs to 60 s, 3 significant digits). */
export class LatencyHistogram {
  private readonly h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });

  record(micros: number): void {
    this.h.recordValue(Math.max(1, Math.round(micros)));
  }

  get count(): number {
    return this.h.totalCount;
  }

  /** Percentile in milliseconds. */
  percentileMs(p: number): number {
    return this.h.getValueAtPercentile(p) / 1000;
  }

  maxMs(): number {
    return this.h.maxValue / 1000;
  }
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
