/**
 * Pending submissions of a manager, in arrival order, keyed by tx hash. Bounded: when full, new
 * submissions are refused (the submitter is told), never silently dropped.
 *
 * The mempool never holds two txs that claim the same index label, record id or patient id: a
 * block is built from one mempool, and a block with any of them twice can never be applied (every
 * replica refuses it, and the leader would propose it again and again), so such a pair is refused
 * at admission, first come first served: `DUPLICATE_LABEL` for a label, `DUPLICATE` for a record
 * or patient id.
 */
import { toHex, sha256 } from '../crypto/index.js'
import type { Tx } from '../blocks/index.js'
import type { Submission } from './validation/tx.js'
import { governanceClaims } from './app/governance.js'
import { MempoolError } from './errors.js'

export { MempoolError } from './errors.js'

/** What a tx claims that no other tx in a block may claim: `l:` index labels, `r:` its record id, `p:` a patient id. */
export function claimsOf (tx: Tx): string[] {
  if (tx.type === 'record') return [`r:${toHex(tx.recordId)}`, ...tx.indexUpdates.map((u) => `l:${toHex(u.label)}`)]
  if (tx.type === 'patient') return [`p:${toHex(tx.patientId)}`]
  if (tx.type === 'doctor' || tx.type === 'user-node') return governanceClaims(tx) // `g:` a doctor id or new key, `u:` a peer id
  if (tx.type === 'key-epoch') return [`e:${tx.epoch}`]
  if (tx.type === 'manager') return [`m:${toHex(tx.baseConfig)}`] // one change of the manager set at a time
  return []
}

const CLAIM_NAMES: Record<string, string> = { l: 'index label', r: 'record id', p: 'patient id', g: 'doctor id or key', u: 'user node', e: 'key epoch', m: 'manager change of configuration' }

/** A readable name of a claim, e.g. `index label ab12…`. */
export function claimName (claim: string): string { return `${CLAIM_NAMES[claim[0] as string] ?? 'claim'} ${claim.slice(2)}` }

/** Tx bytes → hash (hex); byte arrays are never mutated once they hold a tx. */
const keyCache = new WeakMap<Uint8Array, string>()

export class Mempool {
  private readonly items = new Map<string, Submission>()
  /** Claim (see `claimsOf`) → key of the pending tx that holds it. */
  private readonly claims = new Map<string, string>()
  readonly capacity: number
  constructor (capacity = 20_000) { this.capacity = capacity }

  get size (): number { return this.items.size }
  /** Bytes of the pending txs (metrics; O(size)). */
  get bytes (): number { let n = 0; for (const s of this.items.values()) n += s.txBytes.length; return n }
  /** A tx's hash (hex SHA-256 of its bytes), computed once per byte array (remembered by identity). */
  static key (txBytes: Uint8Array): string {
    let k = keyCache.get(txBytes)
    if (k === undefined) { k = toHex(sha256(txBytes)); keyCache.set(txBytes, k) }
    return k
  }
  has (txBytes: Uint8Array): boolean { return this.items.has(Mempool.key(txBytes)) }
  hasKey (key: string): boolean { return this.items.has(key) }
  get (key: string): Submission | undefined { return this.items.get(key) }

  /** A claim of `tx` (see `claimsOf`) that another pending tx already holds, if any. */
  conflict (tx: Tx, key: string): string | undefined {
    for (const c of claimsOf(tx)) {
      const owner = this.claims.get(c)
      if (owner !== undefined && owner !== key) return c
    }
    return undefined
  }

  /** Adds a validated submission; false if already present. Throws MEMPOOL_FULL, DUPLICATE_LABEL or DUPLICATE. */
  add (s: Submission): boolean {
    const k = Mempool.key(s.txBytes)
    if (this.items.has(k)) return false
    const c = this.conflict(s.tx, k)
    if (c !== undefined) throw new MempoolError(c.startsWith('l:') ? 'DUPLICATE_LABEL' : 'DUPLICATE', `${claimName(c)} is already claimed by a pending tx ${String(this.claims.get(c))}`)
    if (this.items.size >= this.capacity) throw new MempoolError('MEMPOOL_FULL', `mempool full (${this.capacity} pending)`)
    this.items.set(k, s)
    for (const c of claimsOf(s.tx)) this.claims.set(c, k)
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
    for (const c of claimsOf(s.tx)) if (this.claims.get(c) === key) this.claims.delete(c)
  }

  /** Drops every submission for which `stale` is true (e.g. committed by another tx). */
  prune (stale: (s: Submission) => boolean): void {
    for (const [k, s] of [...this.items]) if (stale(s)) this.removeKey(k)
  }
}
