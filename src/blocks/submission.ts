import * as dagCbor from '@ipld/dag-cbor'
import { encodeTx } from './codec.js'
import type { Tx } from './types.js'

/**
 * The wire form of a submission, as a client sends it to a node and a node gossips it:
 * dag-cbor `{ tx: <canonical tx bytes>, blobs: [cip1, cip2, cip3, ...attachments] }` for a record
 * (the ciphertexts whose SHA-256 the tx commits to), `blobs: []` for other txs.
 */
export function encodeSubmission (tx: Tx, blobs: readonly Uint8Array[]): Uint8Array {
  return dagCbor.encode({ blobs: [...blobs], tx: encodeTx(tx) })
}
