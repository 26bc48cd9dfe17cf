/**
 * In-memory view of what is committed, rebuilt from the chain store at start.
 *
 * `conflict` checks everything `apply` (and `ChainStore.append`) assume of a block against what is
 * committed; `validateProposal` refuses a block for which it finds anything, so a committed block
 * always applies (docs/CONSENSUS.md, "A committed block always applies").
 */
import { encodeTx, type Block } from '../../blocks/index.js'
import { toHex } from '../../crypto/index.js'
import { MemoryIndexStore, checkIndexUpdate } from '../../sse/index.js'
import { Mempool } from '../mempool.js'

/** Each tx's hash (hex SHA-256 of its canonical encoding; `encodeTx` keeps the bytes it decoded or built). */
export function txKeys (block: Block): string[] {
  return block.txs.map((tx) => Mempool.key(encodeTx(tx)))
}

export class Committed {
  readonly records = new Set<string>()
  /** Doctor and owner ids of each committed record (hex id), to check grants synchronously. */
  readonly recordParties = new Map<string, { doctor: Uint8Array, owner: Uint8Array }>()
  /** Tx hash (hex SHA-256 of the encoded tx) → height it was committed at. */
  readonly txs = new Map<string, number>()
  readonly patients = new Map<string, Uint8Array>()
  readonly index = new MemoryIndexStore()

  hasLabel (label: Uint8Array): boolean { return this.index.get(label) !== undefined }

  /**
   * Why `block` cannot be applied on top of the committed state, or undefined if it can: a tx
   * committed already or twice in the block, a record id or patient committed already or twice, a
   * grant for a record that is not committed, an index label committed already or twice.
   * `labelCommitted` may overrule that a committed label counts as committed (fault injection only).
   */
  conflict (block: Block, opts: { labelCommitted?: (label: Uint8Array) => boolean, keys?: string[] } = {}): string | undefined {
    const keys = opts.keys ?? txKeys(block)
    const txs = new Set<string>()
    const records = new Set<string>()
    const patients = new Set<string>()
    const labels = new Set<string>()
    for (const [i, tx] of block.txs.entries()) {
      const at = `tx ${i}`
      const key = keys[i] as string
      if (this.txs.has(key) || txs.has(key)) return `${at}: tx ${key} is already committed or twice in the block`
      txs.add(key)
      if (tx.type === 'record') {
        const id = toHex(tx.recordId)
        if (this.records.has(id) || records.has(id)) return `${at}: record ${id} is already committed or twice in the block`
        records.add(id)
        for (const [j, u] of tx.indexUpdates.entries()) {
          const l = toHex(u.label)
          const prior = this.index.get(u.label)
          if (prior !== undefined && (opts.labelCommitted?.(u.label) ?? true)) return `${at} (record ${id}), index update ${j}: label ${l} is already committed at height ${prior.position.height} (position ${prior.position.index})`
          if (labels.has(l)) return `${at} (record ${id}), index update ${j}: label ${l} is written twice in the block`
          labels.add(l)
          try { checkIndexUpdate(u) } catch (err) { return `${at} (record ${id}), index update ${j}: ${(err as Error).message}` }
        }
      } else if (tx.type === 'patient') {
        const id = toHex(tx.patientId)
        if (this.patients.has(id) || patients.has(id)) return `${at}: patient ${id} is already enrolled or twice in the block`
        patients.add(id)
      } else if (tx.type === 'grant' && !this.records.has(toHex(tx.recordId))) {
        return `${at}: grant for record ${toHex(tx.recordId)}, which is not committed`
      }
    }
    return undefined
  }

  apply (block: Block, keys: string[] = txKeys(block)): void {
    const h = block.header
    let pos = h.indexStart
    for (const [i, tx] of block.txs.entries()) {
      this.txs.set(keys[i] as string, h.height)
      if (tx.type === 'record') {
        this.records.add(toHex(tx.recordId))
        this.recordParties.set(toHex(tx.recordId), { doctor: tx.doctor, owner: tx.owner })
        for (const u of tx.indexUpdates) this.index.append(u, { height: h.height, index: pos++ })
      } else if (tx.type === 'patient') this.patients.set(toHex(tx.patientId), tx.sigPublicKey)
    }
  }
}
