/** Per-client token buckets (pure: the clock is passed in). */

export interface RateLimit {
  /** Tokens refilled per second (sustained calls per second). */
  perSecond: number
  /** Bucket size (largest burst of calls). */
  burst: number
}

interface Bucket { tokens: number, at: number }

/** Most clients tracked at once; beyond it, buckets that have refilled completely are forgotten. */
const MAX_CLIENTS = 10_000

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  readonly limit: RateLimit

  constructor (limit: RateLimit) {
    if (!(Number.isFinite(limit.perSecond) && limit.perSecond > 0)) throw new RangeError('rateLimit.perSecond must be a positive number')
    if (!(Number.isFinite(limit.burst) && limit.burst >= 1)) throw new RangeError('rateLimit.burst must be at least 1')
    this.limit = { perSecond: limit.perSecond, burst: limit.burst }
  }

  /**
   * Takes `cost` tokens from `client`'s bucket at time `nowMs`. Returns 0 when granted, otherwise
   * the milliseconds until that many tokens will be available (nothing is taken).
   */
  take (client: string, cost: number, nowMs: number): number {
    const { perSecond, burst } = this.limit
    let b = this.buckets.get(client)
    if (b === undefined) {
      if (this.buckets.size >= MAX_CLIENTS) this.prune(nowMs)
      b = { tokens: burst, at: nowMs }
      this.buckets.set(client, b)
    } else {
      b.tokens = Math.min(burst, b.tokens + Math.max(0, nowMs - b.at) * perSecond / 1000)
      b.at = nowMs
    }
    if (b.tokens >= cost) {
      b.tokens -= cost
      return 0
    }
    return Math.ceil((Math.min(cost, burst) - b.tokens) * 1000 / perSecond)
  }

  /** Number of clients currently tracked. */
  get size (): number { return this.buckets.size }

  private prune (nowMs: number): void {
    const { perSecond, burst } = this.limit
    for (const [k, b] of this.buckets) {
      if (b.tokens + (nowMs - b.at) * perSecond / 1000 >= burst) this.buckets.delete(k)
    }
    // Every client is active: drop the oldest entries (Map keeps insertion order) rather than grow.
    for (const k of this.buckets.keys()) {
      if (this.buckets.size < MAX_CLIENTS) break
      this.buckets.delete(k)
    }
  }
}
