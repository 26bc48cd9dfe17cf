/**
 * Who leads (height, view): rotation with a blacklist of managers that recently failed to propose.
 *
 * The schedule is a pure function of the committed chain: every honest manager folds the same
 * sequence of decided heights and proposal origins (who proposed the committed block, in which
 * view: header fields, identical in every honest replica's copy of the block), so every honest
 * manager computes the same leader for every (height, view). Leader choice only affects liveness;
 * see docs/CONSENSUS.md ("Leader choice") for why safety does not depend on it.
 *
 * - Rotation: view 0 of height h goes to the first manager, in cyclic order from h mod n, that is
 *   not blacklisted; views 1, 2, ... go to the following ones (non-blacklisted managers first,
 *   then the blacklisted ones), so all n managers lead some view below n; from view n on the
 *   plain rotation (h + v) mod n applies whatever the blacklist says.
 * - Failure: when height h is decided with a block first proposed in view w, the leaders of
 *   views 0..w−1 at h did not get a block committed: each is blacklisted for
 *   `base × 2^(strikes−1)` heights (strikes: consecutive failures; at most 2^MAX_DOUBLINGS × base).
 * - Recovery: a manager whose block is committed loses its strikes and leaves the blacklist; an
 *   entry that expired is forgotten after another period of the same length without a failure.
 * - At most f managers are blacklisted at once (the most recent failures), so at least n − f
 *   managers rotate, and a Byzantine leader leads at most one height in a row before an honest
 *   one (f Byzantine managers: at most f heights in a row).
 */
import { ConsensusError } from './errors.js'

/** Who proposed a committed block, and in which view (the block header's `proposer` and `view`). */
export interface ProposalOrigin {
  proposer: number
  view: number
}

/** One blacklist entry: `manager` leads no view 0 at heights < `until`; forgotten at `forgetAt`. */
export interface LeaderEntry {
  manager: number
  strikes: number
  until: number
  forgetAt: number
}

/** Cap on the doublings of the blacklist period. */
export const MAX_BLACKLIST_DOUBLINGS = 8

export class LeaderSchedule {
  private entries: LeaderEntry[] = []

  /**
   * @param n managers
   * @param maxBlacklisted at most this many managers blacklisted at once (f)
   * @param base heights a first failure keeps a manager out of view-0 leadership (0: no blacklist, plain rotation)
   */
  constructor (readonly n: number, readonly maxBlacklisted: number, readonly base: number) {
    if (!Number.isInteger(base) || base < 0) throw new ConsensusError('BAD_CONFIG', 'leaderBlacklistHeights must be a non-negative integer')
  }

  /** Managers kept out of view-0 leadership at `height`, ascending. */
  blacklisted (height: number): number[] {
    return this.entries.filter((e) => height < e.until).map((e) => e.manager).sort((a, b) => a - b)
  }

  /** Leaders of views 0..n−1 at `height`: a permutation of the managers. */
  order (height: number): number[] {
    const out: number[] = []
    const late: number[] = []
    const bl = new Set(this.blacklisted(height))
    for (let k = 0; k < this.n; k++) {
      const m = (height + k) % this.n
      if (bl.has(m)) late.push(m)
      else out.push(m)
    }
    return out.concat(late)
  }

  leader (height: number, view: number): number {
    if (view >= this.n || this.entries.length === 0) return (height + view) % this.n
    return this.order(height)[view] as number
  }

  private period (strikes: number): number {
    return this.base * 2 ** Math.min(strikes - 1, MAX_BLACKLIST_DOUBLINGS)
  }

  /**
   * Folds in the decision of `height` (a block first proposed by `origin.proposer` in
   * `origin.view`). Returns true iff the stored entries changed.
   */
  decided (height: number, origin: ProposalOrigin): boolean {
    if (this.base === 0) return false
    const before = JSON.stringify(this.entries)
    const next = height + 1
    const order = this.order(height)
    const failed = new Set<number>()
    for (let v = 0; v < Math.min(origin.view, this.n); v++) failed.add(order[v] as number)
    failed.delete(origin.proposer)
    let entries = this.entries.filter((e) => e.forgetAt > next && e.manager !== origin.proposer)
    for (const m of [...failed].sort((a, b) => a - b)) {
      const old = entries.find((e) => e.manager === m)
      const strikes = (old?.strikes ?? 0) + 1
      const until = next + this.period(strikes)
      const entry = { manager: m, strikes, until, forgetAt: until + this.period(strikes) }
      entries = entries.filter((e) => e.manager !== m).concat(entry)
    }
    // at most f active entries: keep the latest failures (ties: more strikes, then lower index)
    const active = entries.filter((e) => next < e.until)
    if (active.length > this.maxBlacklisted) {
      const keep = new Set(active.sort((a, b) => b.until - a.until || b.strikes - a.strikes || a.manager - b.manager).slice(0, this.maxBlacklisted))
      entries = entries.filter((e) => next >= e.until || keep.has(e))
    }
    this.entries = entries.sort((a, b) => a.manager - b.manager)
    return JSON.stringify(this.entries) !== before
  }

  /** The stored entries (for the write-ahead log). */
  snapshot (): LeaderEntry[] {
    return this.entries.map((e) => ({ ...e }))
  }

  /** Replaces the entries (from the write-ahead log); entries naming no manager are dropped. */
  restore (entries: LeaderEntry[]): void {
    this.entries = entries.filter((e) => Number.isInteger(e.manager) && e.manager >= 0 && e.manager < this.n).map((e) => ({ ...e }))
      .sort((a, b) => a.manager - b.manager)
  }

  /** The height after which the entries say nothing any more (their last `forgetAt`), or null. */
  lastRelevantHeight (): number | null {
    return this.entries.length === 0 ? null : Math.max(...this.entries.map((e) => e.forgetAt))
  }
}
