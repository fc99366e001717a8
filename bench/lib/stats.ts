// Summaries of measured samples: percentiles by nearest rank (no interpolation: every figure reported is a
// value that was actually measured) and the peak rate of a sampled counter.

export interface Distribution {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** The nearest-rank percentile (0 < p ≤ 100) of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error("percentile of no samples");
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(samples: readonly number[]): Distribution {
  const sorted = [...samples].sort((a, b) => a - b);
  if (sorted.length === 0) return { count: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  return { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1)! };
}

export interface CounterSample {
  readonly atMs: number;
  readonly value: number;
}

/**
 * The highest rate (per second) of a monotonic counter over any window of at least `windowMs` between two
 * samples: short windows would turn one scrape's jitter into a false peak.
 */
export function peakRate(samples: readonly CounterSample[], windowMs = 1000): number {
  let peak = 0;
  let start = 0;
  for (let end = 1; end < samples.length; end++) {
    while (start + 1 < end && samples[end]!.atMs - samples[start + 1]!.atMs >= windowMs) start++;
    const elapsed = samples[end]!.atMs - samples[start]!.atMs;
    if (elapsed < windowMs) continue;
    peak = Math.max(peak, ((samples[end]!.value - samples[start]!.value) / elapsed) * 1000);
  }
  return peak;
}

/** Milliseconds rounded for reports: whole ms above 10, one decimal below. */
export function roundMs(ms: number): number {
  return ms >= 10 ? Math.round(ms) : Math.round(ms * 10) / 10;
}

export function roundDistribution(d: Distribution): Distribution {
  return { count: d.count, p50: roundMs(d.p50), p99: roundMs(d.p99), max: roundMs(d.max) };
}
