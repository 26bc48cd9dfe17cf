/**
 * The GGM-tree constrained PRF of Diana (Bost, Minaud, Ohrimenko, CCS 2017), instantiated with
 * HMAC-SHA256: a node key `k` has children `HMAC(k, 0x00)` and `HMAC(k, 0x01)`; the tree has depth
 * `TREE_DEPTH`, so leaf `i` (0 ≤ i < 2^32) is reached by the bits of `i`, most significant first.
 * A leaf's label is `HMAC(leaf, 0x02)`. Holding a node lets one derive exactly the leaves below it.
 */
import { createHmac } from 'node:crypto'
import { SseError } from './errors.js'

/** Depth of every tree: 2^32 updates per (writer, term). */
export const TREE_DEPTH = 32
/** Number of leaves of a tree (exclusive upper bound of a counter). */
export const TREE_LEAVES = 2 ** TREE_DEPTH
export const NODE_KEY_BYTES = 32
export const LABEL_BYTES = 32

const CHILD0 = Uint8Array.of(0)
const CHILD1 = Uint8Array.of(1)
const LABEL = Uint8Array.of(2)

/** A subtree: the node at `depth` (0 = root) whose leaves are `[index·2^(D−depth), (index+1)·2^(D−depth))`. */
export interface NodePosition {
  depth: number
  index: number
}

/** A node position together with its key: one element of a search token. */
export interface GgmNode extends NodePosition {
  key: Uint8Array
}

/**
 * HMAC-SHA256 of one byte, on the hot path of searches. Same function as the suite's
 * `hmacSha256`, but the digest goes through a latin1 ('binary') string into Node's shared Buffer pool
 * instead of a fresh ArrayBuffer per call: a search derives thousands of keys, and the freshly
 * allocated backing stores made each young-generation GC cost tens of milliseconds on a large heap.
 */
function hmacByte (key: Uint8Array, msg: Uint8Array): Uint8Array {
  const b = Buffer.from(createHmac('sha256', key).update(msg).digest('binary'), 'latin1')
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

export function childKey (key: Uint8Array, bit: number): Uint8Array {
  return hmacByte(key, bit === 0 ? CHILD0 : CHILD1)
}

export function leafLabel (leaf: Uint8Array): Uint8Array {
  return hmacByte(leaf, LABEL)
}

/** First leaf and number of leaves below a node position. */
export function nodeSpan (pos: NodePosition): { start: number, size: number } {
  const size = 2 ** (TREE_DEPTH - pos.depth)
  return { start: pos.index * size, size }
}

/** Key of the node at `pos`, derived from the root key (costs `pos.depth` HMACs). */
export function deriveNode (root: Uint8Array, pos: NodePosition): Uint8Array {
  let k = root
  for (let d = 0; d < pos.depth; d++) {
    const bit = Math.floor(pos.index / 2 ** (pos.depth - 1 - d)) % 2
    k = childKey(k, bit)
  }
  return k
}

/**
 * The minimal set of tree nodes whose leaves are exactly `[start, end)`, in increasing order
 * (at most 2·TREE_DEPTH − 2 nodes; for `[0, c)` exactly popcount(c) nodes).
 */
export function coverRange (start: number, end: number): NodePosition[] {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > TREE_LEAVES || start > end) {
    throw new SseError('BAD_INPUT', `bad leaf range [${start}, ${end})`)
  }
  const out: NodePosition[] = []
  let a = start
  while (a < end) {
    let h = 0
    while (h < TREE_DEPTH && a % 2 ** (h + 1) === 0 && a + 2 ** (h + 1) <= end) h++
    out.push({ depth: TREE_DEPTH - h, index: a / 2 ** h })
    a += 2 ** h
  }
  return out
}

/** Calls `visit(leafIndex, leafKey)` for every leaf below `node`, in increasing order. */
export function forEachLeaf (node: GgmNode, visit: (leaf: number, key: Uint8Array) => void): void {
  const walk = (key: Uint8Array, height: number, start: number): void => {
    if (height === 0) { visit(start, key); return }
    walk(childKey(key, 0), height - 1, start)
    walk(childKey(key, 1), height - 1, start + 2 ** (height - 1))
  }
  const { start } = nodeSpan(node)
  walk(node.key, TREE_DEPTH - node.depth, start)
}

/**
 * Derives consecutive leaves of one tree cheaply by keeping the last root-to-leaf path: going from
 * leaf i to leaf i+1 recomputes only the levels below their common ancestor (2 HMACs amortized).
 */
export class LeafPath {
  private readonly path: Uint8Array
  private last = -1

  constructor (root: Uint8Array) {
    this.path = new Uint8Array((TREE_DEPTH + 1) * NODE_KEY_BYTES)
    this.path.set(root, 0)
  }

  leaf (i: number): Uint8Array {
    if (!Number.isInteger(i) || i < 0 || i >= TREE_LEAVES) throw new SseError('BAD_INPUT', `leaf index out of range: ${i}`)
    let from = 0 // first depth whose node must be recomputed (node at depth d+1 from node at depth d)
    if (this.last >= 0) {
      const diff = (this.last ^ i) >>> 0
      if (diff === 0) return this.path.slice(TREE_DEPTH * NODE_KEY_BYTES)
      from = TREE_DEPTH - 1 - (31 - Math.clz32(diff))
    }
    for (let d = from; d < TREE_DEPTH; d++) {
      const bit = (i >>> (TREE_DEPTH - 1 - d)) & 1
      const parent = this.path.subarray(d * NODE_KEY_BYTES, (d + 1) * NODE_KEY_BYTES)
      this.path.set(childKey(parent, bit), (d + 1) * NODE_KEY_BYTES)
    }
    this.last = i
    return this.path.slice(TREE_DEPTH * NODE_KEY_BYTES)
  }
}
