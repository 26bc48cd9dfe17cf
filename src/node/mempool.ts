/**
 * Pending submissions of a manager, in arrival order, keyed by tx hash. Bounded: when full, new
 * submissions are refused (the submitter is told), never silently dropped.
 */
import { toHex, sha256 } from '../crypto/index.js'
import type { Tx } from '../blocks/index.js'
import type { Submission } from './validation/tx.js'

export class Mempool {
  private readonly items = new Map<string, Submission>()
  readonly capacity: number
  constructor (capacity = 20_000) { this.capacity = capacity }

  get size (): number { return this.items.size }
  static key (txBytes: Uint8Array): string { return toHex(sha256(txBytes)) }
  has (txBytes: Uint8Array): boolean { return this.items.has(Mempool.key(txBytes)) }
  hasKey (key: string): boolean { return this.items.has(key) }

  /** Adds a validated submission; false if already present. Throws when full. */
  add (s: Submission): boolean {
    const k = Mempool.key(s.txBytes)
    if (this.items.has(k)) return false
    if (this.items.size >= this.capacity) throw Object.assign(new Error(`mempool full (${this.capacity} pending)`), { code: 'MEMPOOL_FULL' })
    this.items.set(k, s)
    return true
  }

  /** Up to `max` txs in arrival order whose encoded size stays under `maxBytes`, skipping those `skip` rejects. */
  take (max: number, maxBytes: number, skip: (s: Submission) => boolean): Tx[] {
    const out: Tx[] = []
    let bytes = 0
    for (const s of this.items.values()) {
      if (out.length >= max) break
      if (skip(s)) continue
      if (bytes + s.txBytes.length > maxBytes) break
      bytes += s.txBytes.length
      out.push(s.tx)
    }
    return out
  }

  removeKey (key: string): void { this.items.delete(key) }

  /** Drops every submission for which `stale` is true (e.g. committed by another tx). */
  prune (stale: (s: Submission) => boolean): void {
    for (const [k, s] of this.items) if (stale(s)) this.items.delete(k)
  }
}
