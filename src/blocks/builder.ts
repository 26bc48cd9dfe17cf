/**
 * Building blocks and extracting what a light client needs to check one tx or one index update
 * against a header: the element, its position and its RFC 6962 audit path.
 */
import { equalBytes } from '../crypto/index.js'
import { encodeTx } from './codec.js'
import { assertOk, BlockError } from './errors.js'
import { indexLeaf } from './hash.js'
import { leafHash, merkleLevels, merkleRoot, proofFromLevels, verifyInclusion } from './merkle.js'
import type { Block, Header, IndexUpdate, Tx } from './types.js'
import { blockIndexUpdates, validateBlock } from './validate.js'

export interface BlockParams {
  chainId: string
  height: number
  prevHash: Uint8Array
  time: number
  proposer: number
  view: number
  /** Position of the block's first index update in the chain-wide sequence (previous indexStart + indexCount). */
  indexStart: number
  /** configHash of the consortium configuration certifying this block, and of the one certifying the next. */
  configHash: Uint8Array
  nextConfigHash: Uint8Array
  txs: Tx[]
}

/**
 * Assembles a block, computing recordIds, txRoot, txCount, indexRoot and indexCount from `txs`.
 * Throws `BlockError` if the result would not pass `validateBlock` (bad tx, duplicate record id or
 * label, size limits).
 */
export function buildBlock (p: BlockParams): Block {
  if (!Array.isArray(p?.txs)) throw new BlockError('INVALID', 'txs must be a list')
  const txs = p.txs.slice()
  const encoded = txs.map((tx) => encodeTx(tx))
  const recordIds: Uint8Array[] = []
  for (const tx of txs) if (tx.type === 'record') recordIds.push(tx.recordId)
  const updates = txs.flatMap((tx) => tx.type === 'record' ? tx.indexUpdates : [])
  const header: Header = {
    chainId: p.chainId,
    height: p.height,
    prevHash: p.prevHash,
    time: p.time,
    proposer: p.proposer,
    view: p.view,
    recordIds,
    txRoot: merkleRoot(encoded),
    txCount: txs.length,
    indexRoot: merkleRoot(updates.map(indexLeaf)),
    indexCount: updates.length,
    indexStart: p.indexStart,
    configHash: p.configHash,
    nextConfigHash: p.nextConfigHash
  }
  const block: Block = { header, txs }
  assertOk(validateBlock(block))
  return block
}

/** A tx with its audit path in `header.txRoot`. */
export interface TxInclusion {
  tx: Tx
  /** Position of the tx in its block. */
  txIndex: number
  /** The block's txCount (the tree size). */
  txCount: number
  height: number
  proof: Uint8Array[]
}

/** An index update with its audit path in `header.indexRoot`. */
export interface IndexInclusion {
  update: IndexUpdate
  /** Position among the block's index updates. */
  index: number
  /** Chain-wide position: `header.indexStart + index`. */
  position: number
  /** The block's indexCount (the tree size). */
  indexCount: number
  height: number
  proof: Uint8Array[]
}

/** Index of the record tx with `recordId` in `block`, or -1. */
export function txIndexOfRecord (block: Block, recordId: Uint8Array): number {
  return block.txs.findIndex((tx) => tx.type === 'record' && equalBytes(tx.recordId, recordId))
}

/** Inclusion proof of tx `txIndex` (any tx type) of `block`. Throws RangeError if out of range. */
export function recordInclusion (block: Block, txIndex: number): TxInclusion {
  const leaves = block.txs.map((tx) => leafHash(encodeTx(tx)))
  const proof = proofFromLevels(merkleLevels(leaves), txIndex)
  return { tx: block.txs[txIndex] as Tx, txIndex, txCount: block.txs.length, height: block.header.height, proof }
}

/** Inclusion proof of the block's `i`-th index update (tx order). Throws RangeError if out of range. */
export function indexInclusion (block: Block, i: number): IndexInclusion {
  const updates = blockIndexUpdates(block)
  const proof = proofFromLevels(merkleLevels(updates.map((u) => leafHash(indexLeaf(u)))), i)
  return { update: updates[i] as IndexUpdate, index: i, position: block.header.indexStart + i, indexCount: updates.length, height: block.header.height, proof }
}

/** True iff `inc.tx` is tx `inc.txIndex` of the block whose (certified) header is `header`. Never throws. */
export function verifyRecordInclusion (header: Header, inc: TxInclusion): boolean {
  try {
    if (inc.height !== header.height || inc.txCount !== header.txCount) return false
    if (inc.tx.type === 'record' && !header.recordIds.some((id) => equalBytes(id, (inc.tx as { recordId: Uint8Array }).recordId))) return false
    return verifyInclusion(encodeTx(inc.tx), inc.txIndex, header.txCount, inc.proof, header.txRoot)
  } catch {
    return false
  }
}

/** True iff `inc.update` is the index update at chain-wide `inc.position` committed by `header`. Never throws. */
export function verifyIndexInclusion (header: Header, inc: IndexInclusion): boolean {
  try {
    if (inc.height !== header.height || inc.indexCount !== header.indexCount) return false
    if (inc.position !== header.indexStart + inc.index) return false
    return verifyInclusion(indexLeaf(inc.update), inc.index, header.indexCount, inc.proof, header.indexRoot)
  } catch {
    return false
  }
}
