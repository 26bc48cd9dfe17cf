/**
 * `validateBasic` for each chain type: structural checks only, no signatures and no chain state.
 * Each returns a `Check` (`{ ok: true }` or `{ ok: false, code, reason, at? }`) and never throws on
 * bad input, so a gossip validator can map the result straight to ACCEPT / REJECT.
 */
import { equalBytes, sha256, toHex } from '../crypto/index.js'
import { certificateShape, encodeBlock, encodeHeader, encodeTx } from './codec.js'
import { type Check, fail, OK } from './errors.js'
import { indexLeaf } from './hash.js'
import { MAX_KEY_EPOCH_TX_BYTES, MAX_MANAGER_TX_BYTES, MAX_TX_BYTES } from './limits.js'
import { EMPTY_ROOT, merkleRoot } from './merkle.js'
import { checked } from './shape.js'
import type { Block, Header, IndexUpdate, RecordTx } from './types.js'

/**
 * Shape, lengths, limits and encoded size (≤ MAX_TX_BYTES; a key epoch ≤ MAX_KEY_EPOCH_TX_BYTES) of a tx; a record tx lists no index
 * label twice (such a tx could never be part of a valid block).
 */
export function validateTx (tx: unknown): Check {
  const shape = checked(() => { encodeTx(tx as never) })
  if (!shape.ok || (tx as { type: string }).type !== 'record') return shape
  const seen = new Set<string>()
  for (const u of (tx as RecordTx).indexUpdates) {
    const l = toHex(u.label)
    if (seen.has(l)) return fail('DUPLICATE', `index label ${l} appears twice in the tx`)
    seen.add(l)
  }
  return OK
}

/**
 * Shape and limits of a header, plus what can be checked from the header alone: record ids unique
 * and no more than txCount; a height-0 header has the genesis form (no txs, empty roots, indexStart 0).
 */
export function validateHeader (header: unknown): Check {
  const shape = checked(() => { encodeHeader(header as never) })
  if (!shape.ok) return shape
  const h = header as Header
  if (h.recordIds.length > h.txCount) return fail('MISMATCH', `header lists ${h.recordIds.length} record ids but only ${h.txCount} txs`)
  const seen = new Set<string>()
  for (let i = 0; i < h.recordIds.length; i++) {
    const k = toHex(h.recordIds[i] as Uint8Array)
    if (seen.has(k)) return fail('DUPLICATE', `record id ${k} listed twice in the header`, i)
    seen.add(k)
  }
  if (h.height === 0 && (h.txCount !== 0 || h.indexCount !== 0 || h.indexStart !== 0 ||
      !equalBytes(h.txRoot, EMPTY_ROOT) || !equalBytes(h.indexRoot, EMPTY_ROOT) || !equalBytes(h.configHash, h.nextConfigHash))) {
    return fail('INVALID', 'a height-0 header must be a genesis header (no txs, no index updates, empty roots, one configuration)')
  }
  return OK
}

/** All index updates of a block's record txs, in tx order: the leaves of `indexRoot` (via `indexLeaf`). */
export function blockIndexUpdates (block: Block): IndexUpdate[] {
  const out: IndexUpdate[] = []
  for (const tx of block.txs) if (tx.type === 'record') out.push(...tx.indexUpdates)
  return out
}

/**
 * Everything `validateHeader` checks, every tx's `validateTx`, the block's encoded size
 * (≤ MAX_BLOCK_BYTES), and that the header agrees with the body: txCount, recordIds (the record
 * txs' ids in order), txRoot (Merkle root of the encoded txs), indexCount and indexRoot (Merkle root
 * of `indexLeaf` of every index update of every record tx, in tx order); no record id and no index
 * label and no tx twice in the block.
 */
export function validateBlock (block: unknown): Check {
  const shape = checked(() => { encodeBlock(block as never) })
  if (!shape.ok) return shape
  const b = block as Block
  const header = validateHeader(b.header)
  if (!header.ok) return header
  const h = b.header
  if (b.txs.length !== h.txCount) return fail('MISMATCH', `header txCount ${h.txCount} but the block has ${b.txs.length} txs`)

  const encoded: Uint8Array[] = []
  for (let i = 0; i < b.txs.length; i++) {
    const r = checked(() => { encoded.push(encodeTx(b.txs[i] as never)) })
    if (!r.ok) return fail(r.code, `tx ${i}: ${r.reason} (MAX_TX_BYTES ${MAX_TX_BYTES}, a key epoch MAX_KEY_EPOCH_TX_BYTES ${MAX_KEY_EPOCH_TX_BYTES}, a manager change MAX_MANAGER_TX_BYTES ${MAX_MANAGER_TX_BYTES})`, i)
  }

  const seenTxs = new Set<string>()
  for (let i = 0; i < encoded.length; i++) {
    const k = toHex(sha256(encoded[i] as Uint8Array))
    if (seenTxs.has(k)) return fail('DUPLICATE', `tx ${i} appears twice in the block`, i)
    seenTxs.add(k)
  }

  const recordIds: Uint8Array[] = []
  const seenRecords = new Set<string>()
  const seenLabels = new Set<string>()
  const leaves: Uint8Array[] = []
  for (let i = 0; i < b.txs.length; i++) {
    const tx = b.txs[i]
    if (tx?.type !== 'record') continue
    const k = toHex(tx.recordId)
    if (seenRecords.has(k)) return fail('DUPLICATE', `record id ${k} appears twice in the block`, i)
    seenRecords.add(k)
    recordIds.push(tx.recordId)
    for (const u of tx.indexUpdates) {
      const l = toHex(u.label)
      if (seenLabels.has(l)) return fail('DUPLICATE', `index label ${l} appears twice in the block`, i)
      seenLabels.add(l)
      leaves.push(indexLeaf(u))
    }
  }
  if (recordIds.length !== h.recordIds.length || recordIds.some((id, i) => !equalBytes(id, h.recordIds[i] as Uint8Array))) {
    return fail('MISMATCH', 'header recordIds differ from the ids of the block\'s record txs in order')
  }
  if (!equalBytes(merkleRoot(encoded), h.txRoot)) return fail('MISMATCH', 'header txRoot is not the Merkle root of the block\'s txs')
  if (leaves.length !== h.indexCount) return fail('MISMATCH', `header indexCount ${h.indexCount} but the block has ${leaves.length} index updates`)
  if (!equalBytes(merkleRoot(leaves), h.indexRoot)) return fail('MISMATCH', 'header indexRoot is not the Merkle root of the block\'s index updates')
  return OK
}

/** Shape and limits of a commit certificate (no signature checks: see `verifyCertificate`). */
export function validateCertificate (cert: unknown): Check {
  return checked(() => { certificateShape(cert) })
}
