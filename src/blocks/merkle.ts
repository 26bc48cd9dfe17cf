/**
 * RFC 6962 (Certificate Transparency) Merkle tree over SHA-256, as specified in RFC 9162 §2.1:
 *
 * - leaf hash `SHA-256(0x00 ‖ leaf)`, interior node `SHA-256(0x01 ‖ left ‖ right)` (domain
 *   separation makes the tree second-preimage resistant);
 * - for n > 1 leaves, the left subtree holds the largest power of two strictly smaller than n;
 * - the empty tree's root is `SHA-256("")`.
 *
 * Roots are computed bottom-up and iteratively: pairing nodes level by level and promoting an odd
 * last node unchanged gives exactly the RFC's split rule, hashing every leaf once and every node once.
 * Audit paths are ordered from the leaf upwards, as in the RFC's `PATH(m, D[n])`.
 */
import { equalBytes, sha256 } from '../crypto/index.js'
import { HASH_BYTES } from './limits.js'

const LEAF_PREFIX = Uint8Array.of(0x00)
const NODE_PREFIX = Uint8Array.of(0x01)

/** Root of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Uint8Array = sha256()

export function leafHash (leaf: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, leaf)
}

export function nodeHash (left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right)
}

/**
 * All levels of the tree: `levels[0]` are the leaf hashes, the last level holds the root alone.
 * Keep it to serve many proofs of one tree without rehashing. Empty input gives `[[]]`.
 */
export function merkleLevels (leafHashes: readonly Uint8Array[]): Uint8Array[][] {
  const levels: Uint8Array[][] = [leafHashes.slice()]
  let level = levels[0] as Uint8Array[]
  while (level.length > 1) {
    const next: Uint8Array[] = new Array<Uint8Array>(Math.ceil(level.length / 2))
    for (let i = 0, j = 0; i < level.length; i += 2, j++) {
      next[j] = i + 1 < level.length ? nodeHash(level[i] as Uint8Array, level[i + 1] as Uint8Array) : level[i] as Uint8Array
    }
    levels.push(next)
    level = next
  }
  return levels
}

/** Root over already-hashed leaves (`leafHash` of each leaf). */
export function merkleRootFromHashes (leafHashes: readonly Uint8Array[]): Uint8Array {
  if (leafHashes.length === 0) return EMPTY_ROOT.slice()
  if (leafHashes.length === 1) return (leafHashes[0] as Uint8Array).slice()
  let level: Uint8Array[] = leafHashes.slice()
  while (level.length > 1) {
    const next: Uint8Array[] = new Array<Uint8Array>(Math.ceil(level.length / 2))
    for (let i = 0, j = 0; i < level.length; i += 2, j++) {
      next[j] = i + 1 < level.length ? nodeHash(level[i] as Uint8Array, level[i + 1] as Uint8Array) : level[i] as Uint8Array
    }
    level = next
  }
  return level[0] as Uint8Array
}

/** The RFC 6962 Merkle tree hash of `leaves` (raw leaf data, hashed here). */
export function merkleRoot (leaves: readonly Uint8Array[]): Uint8Array {
  return merkleRootFromHashes(leaves.map(leafHash))
}

/** Audit path of leaf `index` from precomputed `merkleLevels`. Throws RangeError if index is out of range. */
export function proofFromLevels (levels: readonly (readonly Uint8Array[])[], index: number): Uint8Array[] {
  const size = levels[0]?.length ?? 0
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new RangeError(`leaf index ${index} out of range for tree size ${size}`)
  const path: Uint8Array[] = []
  let i = index
  for (let l = 0; l < levels.length - 1; l++) {
    const level = levels[l] as readonly Uint8Array[]
    const sibling = i ^ 1
    if (sibling < level.length) path.push(level[sibling] as Uint8Array)
    i = Math.floor(i / 2)
  }
  return path
}

/** Audit path (RFC 6962 `PATH(index, D[n])`) for leaf `index` of `leaves` (raw leaf data). */
export function inclusionProof (leaves: readonly Uint8Array[], index: number): Uint8Array[] {
  return proofFromLevels(merkleLevels(leaves.map(leafHash)), index)
}

function isHash (x: unknown): x is Uint8Array {
  return x instanceof Uint8Array && x.length === HASH_BYTES
}

/**
 * Verifies an audit path given the leaf's hash (RFC 9162 §2.1.3.2). Returns false, never throws,
 * on any malformed input: index ≥ treeSize, non-integer sizes, a path of the wrong length, or
 * path elements that are not 32-byte hashes.
 */
export function verifyInclusionHash (leafHashBytes: Uint8Array, index: number, treeSize: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  try {
    if (!isHash(leafHashBytes) || !isHash(root) || !Array.isArray(proof)) return false
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(treeSize) || index < 0 || index >= treeSize) return false
    let fn = index
    let sn = treeSize - 1
    let r = leafHashBytes
    for (const p of proof) {
      if (!isHash(p)) return false
      if (sn === 0) return false
      if (fn % 2 === 1 || fn === sn) {
        r = nodeHash(p, r)
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2)
          sn = Math.floor(sn / 2)
        }
      } else {
        r = nodeHash(r, p)
      }
      fn = Math.floor(fn / 2)
      sn = Math.floor(sn / 2)
    }
    return sn === 0 && equalBytes(r, root)
  } catch {
    return false
  }
}

/** Verifies that `leaf` (raw data) is leaf `index` of the tree of `treeSize` leaves with root `root`. Never throws. */
export function verifyInclusion (leaf: Uint8Array, index: number, treeSize: number, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!(leaf instanceof Uint8Array)) return false
  return verifyInclusionHash(leafHash(leaf), index, treeSize, proof, root)
}
