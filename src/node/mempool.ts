/**
 * Pending submissions of a manager, in arrival order, keyed by tx hash. Bounded: when full, new
 * submissions are refused (the submitter is told), never silently dropped.
 *
 * The mempool never holds two txs that write the same index label: a block is built from one
 * mempool, and a block with a label twice (or a label already committed) can never be applied,
 * so such a pair is refused at admission (`DUPLICATE_LABEL`), first come first served.
 */
import { toHex, sha256 } from '../crypto/index.js'
import type { Tx } from '../blocks/index.js'
import type { Submission } from './validation/tx.js'

export class MempoolError extends Error {
  readonly code: 'MEMPOOL_FULL' | 'DUPLICATE_LABEL'
  constructor (code: MempoolError['code'], message: string) { super(message); this.name = 'MempoolError'; this.code = code }
}

function labelsOf (tx: Tx): string[] {
  return tx.type === 'record' ? tx.indexUpdates.map((u) => toHex(u.label)) : []
}

export class Mempool {
  private readonly items = new Map<string, Submission>()
  /** Index label (hex) → key of the pending tx that writes it. */
  private readonly labels = new Map<string, string>()
  readonly capacity: number
  constructor (capacity = 20_000) { this.capacity = capacity }

  get size (): number { return this.items.size }
  static key (txBytes: Uint8Array): string { return toHex(sha256(txBytes)) }
  has (txBytes: Uint8Array): boolean { return this.items.has(Mempool.key(txBytes)) }
  hasKey (key: string): boolean { return this.items.has(key) }

  /** A label of `tx` that another pending tx already writes, if any. */
  labelConflict (tx: Tx, key: string): string | undefined {
    for (const l of labelsOf(tx)) {
      const owner = this.labels.get(l)
      if (owner !== undefined && owner !== key) return l
    }
    return undefined
  }

  /** Adds a validated submission; false if already present. Throws MEMPOOL_FULL or DUPLICATE_LABEL. */
  add (s: Submission): boolean {
    const k = Mempool.key(s.txBytes)
    if (this.items.has(k)) return false
    const conflict = this.labelConflict(s.tx, k)
    if (conflict !== undefined) throw new MempoolError('DUPLICATE_LABEL', `index label ${conflict} is already written by a pending tx ${String(this.labels.get(conflict))}`)
    if (this.items.size >= this.capacity) throw new MempoolError('MEMPOOL_FULL', `mempool full (${this.capacity} pending)`)
    this.items.set(k, s)
    for (const l of labelsOf(s.tx)) this.labels.set(l, k)
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

  removeKey (key: string): void {
    const s = this.items.get(key)
    if (s === undefined) return
    this.items.delete(key)
    for (const l of labelsOf(s.tx)) if (this.labels.get(l) === key) this.labels.delete(l)
  }

  /** Drops every submission for which `stale` is true (e.g. committed by another tx). */
  prune (stale: (s: Submission) => boolean): void {
    for (const [k, s] of [...this.items]) if (stale(s)) this.removeKey(k)
  }
}
