/**
 * Small statistics helpers: percentiles of samples, and the median/min/max of repeated runs that
 * every figure in BENCHMARKS.md is reported as.
 */

/** The q-quantile (0..1) of samples, nearest-rank on a sorted copy. NaN for no samples. */
export const quantile = (samples: ArrayLike<number>, q: number): number => {
  if (samples.length === 0) return Number.NaN
  const sorted = Float64Array.from(samples as ArrayLike<number>).sort()
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]!
}

export interface Percentiles {
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly count: number
}

export const percentiles = (samples: ArrayLike<number>): Percentiles => {
  if (samples.length === 0) return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN, count: 0 }
  const sorted = Float64Array.from(samples as ArrayLike<number>).sort()
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]!, count: sorted.length }
}

export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly runs: number
}

export const summarize = (values: ReadonlyArray<number>): Summary => {
  const finite = values.filter((v) => Number.isFinite(v))
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: values.length }
  const sorted = [...finite].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: values.length }
}

/** A monotonic clock in milliseconds shared by every process on the machine (CLOCK_MONOTONIC). */
export const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6
