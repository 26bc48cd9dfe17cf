/**
 * IPFS content ids of a record's ciphertexts. A ciphertext (field or attachment) is an IPFS block
 * under the CIDv1 with the `raw` codec and a sha2-256 multihash whose digest is the SHA-256 the
 * record tx commits to, so the CID follows from the hash on chain and any IPFS implementation
 * checks the bytes it receives against it. Printed in base32 (`bafkrei…`), IPFS's default for v1.
 */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { RecordError } from './errors.js'

/** The multihash code of sha2-256. */
export const SHA2_256_CODE = 0x12

/** CIDv1 (raw, sha2-256) of a ciphertext whose SHA-256 is `hash`. */
export function blobCid (hash: Uint8Array): CID {
  if (hash.length !== 32) throw new RecordError('BAD_INPUT', `a ciphertext hash is 32 bytes, got ${hash.length}`)
  return CID.createV1(raw.code, Digest.create(SHA2_256_CODE, hash))
}

/** The base32 string of `blobCid(hash)`. */
export function blobCidString (hash: Uint8Array): string {
  return blobCid(hash).toString()
}

/** The SHA-256 a ciphertext CID names, or undefined if it is not a CIDv1 with the raw codec and a sha2-256 multihash. */
export function blobHashOfCid (cid: CID): Uint8Array | undefined {
  if (cid.version !== 1 || cid.code !== raw.code || cid.multihash.code !== SHA2_256_CODE || cid.multihash.digest.length !== 32) return undefined
  return cid.multihash.digest
}

/**
 * Parses a ciphertext CID string (any multibase the `multiformats` base decoders know for v1,
 * e.g. base32 `bafkrei…`) and returns the SHA-256 it names. Throws RecordError BAD_INPUT naming
 * what is wrong: not a CID, or a CID of something other than a raw sha2-256 block.
 */
export function blobHashFromCidString (s: string): Uint8Array {
  let cid: CID
  try { cid = CID.parse(s.trim()) } catch (err) {
    throw new RecordError('BAD_INPUT', `${JSON.stringify(s)} is not a CID: ${(err as Error).message}`)
  }
  const hash = blobHashOfCid(cid)
  if (hash === undefined) {
    throw new RecordError('BAD_INPUT', `CID ${cid.toString()} is not a ciphertext CID: pqmed ciphertexts are CIDv1 raw (0x55) sha2-256 blocks (bafkrei…), got version ${cid.version}, codec 0x${cid.code.toString(16)}, multihash 0x${cid.multihash.code.toString(16)}`)
  }
  return Uint8Array.from(hash)
}
