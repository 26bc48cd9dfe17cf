/**
 * The compact form of a proposed block, as a PBFT value travels in a PRE-PREPARE: the header and
 * the SHA-256 of each tx's canonical encoding, in block order, instead of the txs themselves.
 * Every replica already holds most txs (they are gossiped on `/tx/1` when submitted); a replica
 * that lacks some fetches them from the proposer, checks that each hashes to its listed hash and
 * rebuilds the block (`Block` with the same header), whose `txRoot` is then checked as usual.
 *
 * Canonical dag-cbor `{ header, txHashes }`; the key `txHashes` (not `txs`) keeps it apart from an
 * encoded block, which a value may also be (a certified block adopted by sync): neither decodes as
 * the other.
 */
import { concatBytes } from '../crypto/index.js'
import { decodeCanonical, encodeCanonical, encodeHeader, headerShape } from './codec.js'
import { BlockError } from './errors.js'
import { HASH_BYTES, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, MAX_HEADER_BYTES } from './limits.js'
import { bytes, list, record } from './shape.js'
import type { Block, Header } from './types.js'

export interface CompactBlock {
  header: Header
  /** SHA-256 of each tx's canonical encoding (`encodeTx`), in block order. */
  txHashes: Uint8Array[]
}

const KEYS = ['header', 'txHashes'] as const
export const MAX_COMPACT_BLOCK_BYTES = MAX_HEADER_BYTES + MAX_BLOCK_TXS * (HASH_BYTES + 2) + 64

function compactShape (v: unknown): CompactBlock {
  const o = record(v, 'compact block', KEYS)
  headerShape(o.header)
  list(o.txHashes, 'compact block txHashes', MAX_BLOCK_TXS).forEach((h, i) => bytes(h, `compact block txHashes[${i}]`, HASH_BYTES))
  return o as unknown as CompactBlock
}

export function encodeCompactBlock (c: CompactBlock): Uint8Array {
  return encodeCanonical(c, MAX_COMPACT_BLOCK_BYTES, compactShape, 'compact block')
}

/** Throws BlockError on anything but a canonical compact block. */
export function decodeCompactBlock (data: Uint8Array): CompactBlock {
  return decodeCanonical(data, MAX_COMPACT_BLOCK_BYTES, compactShape, 'compact block')
}

/**
 * The canonical encoding of `{ header, txs }` (= `encodeBlock`) assembled from the header and the
 * txs' canonical encodings, without encoding any tx again: dag-cbor sorts map keys by length, so
 * `txs` comes before `header`, and canonical parts make a canonical whole.
 */
export function encodeBlockFromParts (header: Header, txBytes: readonly Uint8Array[]): Uint8Array {
  const n = txBytes.length
  if (n > MAX_BLOCK_TXS) throw new BlockError('OVERSIZED', `block has ${n} txs, at most ${MAX_BLOCK_TXS} allowed`)
  const head = encodeHeader(header)
  const arr = n < 24 ? [0x80 + n] : n < 256 ? [0x98, n] : [0x99, n >> 8, n & 0xff]
  const parts: Uint8Array[] = [Uint8Array.of(0xa2, 0x63, 0x74, 0x78, 0x73, ...arr), ...txBytes, Uint8Array.of(0x66, 0x68, 0x65, 0x61, 0x64, 0x65, 0x72), head]
  const out = concatBytes(...parts)
  if (out.length > MAX_BLOCK_BYTES) throw new BlockError('OVERSIZED', `block encodes to ${out.length} bytes, at most ${MAX_BLOCK_BYTES} allowed`)
  return out
}

/** The compact form of a block, given each tx's hash (`txHashes[i]` = SHA-256 of `encodeTx(block.txs[i])`). */
export function compactOf (block: Block, txHashes: Uint8Array[]): CompactBlock {
  return { header: block.header, txHashes }
}
