/**
 * Hashes and identifiers of chain values: all SHA-256 over canonical dag-cbor encodings, so any two
 * implementations agree. `headerCid` wraps the same digest as an IPLD CID (CIDv1, dag-cbor, sha2-256).
 */
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import * as dagCbor from '@ipld/dag-cbor'
import { concatBytes, sha256 } from '../crypto/index.js'
import { encodeBlock, encodeHeader, encodeTx, indexUpdateShape } from './codec.js'
import { BlockError } from './errors.js'
import { HASH_BYTES } from './limits.js'
import { EMPTY_ROOT } from './merkle.js'
import { chainId as chainIdShape } from './shape.js'
import type { Block, Header, IndexUpdate, Tx } from './types.js'

/** Multihash code of sha2-256. */
const SHA2_256 = 0x12

/** SHA-256 of the canonical header encoding: what `prevHash` links to and what managers sign. */
export function headerHash (header: Header): Uint8Array {
  return sha256(encodeHeader(header))
}

/** SHA-256 of the canonical tx encoding (the tx id used by mempools and gossip dedup). */
export function txHash (tx: Tx): Uint8Array {
  return sha256(encodeTx(tx))
}

/** The Merkle leaf of an index update in `indexRoot`: `label (32 bytes) ‖ value`. The fixed-length label makes it unambiguous. */
export function indexLeaf (update: IndexUpdate): Uint8Array {
  indexUpdateShape(update)
  return concatBytes(update.label, update.value)
}

/** CIDv1 (dag-cbor, sha2-256) of already-encoded dag-cbor bytes. */
export function dagCborCid (encoded: Uint8Array): CID {
  return CID.createV1(dagCbor.code, Digest.create(SHA2_256, sha256(encoded)))
}

/** CID of the header's encoding; its multihash digest equals `headerHash(header)`. */
export function headerCid (header: Header): CID {
  return dagCborCid(encodeHeader(header))
}

/** CID of the block's encoding, for storing blocks as IPLD blocks (e.g. in Helia). */
export function blockCid (block: Block): CID {
  return dagCborCid(encodeBlock(block))
}

/**
 * The height-0 header: deterministic from the chain id and the hash of the genesis document
 * (which lists the managers), carried in `prevHash`, and the hash of the genesis consortium
 * configuration (`configHash(genesisConfig(genesis.managers))`, src/blocks/consortium.ts) as both
 * `configHash` and `nextConfigHash`. No txs, empty roots, time 0. Block 1 links to
 * `headerHash(genesisHeader(...))`.
 */
export function genesisHeader (chainId: string, genesisDocHash: Uint8Array, genesisConfigHash: Uint8Array): Header {
  chainIdShape(chainId, 'chainId')
  if (!(genesisDocHash instanceof Uint8Array) || genesisDocHash.length !== HASH_BYTES) {
    throw new BlockError('INVALID', `genesisDocHash must be ${HASH_BYTES} bytes`)
  }
  if (!(genesisConfigHash instanceof Uint8Array) || genesisConfigHash.length !== HASH_BYTES) {
    throw new BlockError('INVALID', `genesisConfigHash must be ${HASH_BYTES} bytes`)
  }
  return {
    chainId,
    height: 0,
    prevHash: genesisDocHash.slice(),
    time: 0,
    proposer: 0,
    view: 0,
    recordIds: [],
    txRoot: EMPTY_ROOT.slice(),
    txCount: 0,
    indexRoot: EMPTY_ROOT.slice(),
    indexCount: 0,
    indexStart: 0,
    configHash: genesisConfigHash.slice(),
    nextConfigHash: genesisConfigHash.slice()
  }
}

/**
 * The `indexUpdatesHash` a doctor signs (src/records): SHA-256 of the canonical dag-cbor list of
 * the record's index updates, in order. Binds the searchable index entries to the signed record,
 * so no one can attach forged index entries to a doctor's record.
 */
export function indexUpdatesHash (updates: readonly IndexUpdate[]): Uint8Array {
  return sha256(dagCbor.encode(['pqmed/index-updates/1', updates.map((u) => { indexUpdateShape(u); return [u.label, u.value] })]))
}
