/**
 * Summary statistics for benchmark samples.
 */

/**
 * The q-quantile (0 ≤ q ≤ 1) of an ascending-sorted array, by linear interpolation between the
 * two closest ranks (the "R-7" / NumPy default definition): `percentile([1, 2, 3, 4], 0.5)` is 2.5.
 * Throws RangeError on an empty array or a q outside [0, 1]. The array is not checked for order.
 */
export function percentile (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of an empty sample')
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${q}`)
  const pos = q * (sorted.length - 1)
  const lo = Math.floor(pos)
  const hi = Math.min(lo + 1, sorted.length - 1)
  const a = sorted[lo] as number
  const b = sorted[hi] as number
  return a + (b - a) * (pos - lo)
}

export interface Summary {
  count: number
  mean: number
  min: number
  max: number
  p50: number
  p95: number
}

/** Count, mean, min, max, median and 95th percentile of `values` (any order; not modified). */
export function summarize (values: readonly number[]): Summary {
  if (values.length === 0) throw new RangeError('summary of an empty sample')
  const s = [...values].sort((a, b) => a - b)
  let total = 0
  for (const v of s) total += v
  return { count: s.length, mean: total / s.length, min: s[0] as number, max: s[s.length - 1] as number, p50: percentile(s, 0.5), p95: percentile(s, 0.95) }
}
