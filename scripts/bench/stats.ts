/** Small statistics for the benchmark: percentiles of samples, and median/min/max over runs. */

/** The q-quantile (0..1) of ascending `sorted` samples, nearest rank; NaN when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  samples: number;
}

export function percentiles(samples: readonly number[]): Percentiles {
  const s = [...samples].sort((a, b) => a - b);
  return {
    p50: quantile(s, 0.5),
    p95: quantile(s, 0.95),
    p99: quantile(s, 0.99),
    max: s[s.length - 1] ?? NaN,
    samples: s.length,
  };
}

/** One figure over several runs: the median, the spread, and every run's value. */
export interface Figure {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function figure(values: readonly number[]): Figure {
  const v = values.filter((x) => Number.isFinite(x));
  const s = [...v].sort((a, b) => a - b);
  const mid = s.length / 2;
  const median = s.length === 0 ? NaN : s.length % 2 === 1 ? s[Math.floor(mid)]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN, runs: [...values] };
}

/** High-resolution wall-clock milliseconds, comparable across processes on one machine. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Set on Ctrl-C: every wait gives up at once, so the benchmark unwinds and cleans up after itself. */
export const interruption = { requested: false };

export class InterruptedError extends Error {
  constructor() {
    super('interrupted');
  }
}

/** Polls `cond` every `intervalMs` until it holds; throws after `timeoutMs`, naming `what`. */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 120_000,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (interruption.requested) throw new InterruptedError();
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}
