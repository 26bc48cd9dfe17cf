import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { concatBytes, fromHex, randomBytes, sha256, toHex, u32be, utf8 } from '../../src/crypto/index.js'
import {
  EMPTY_ROOT, inclusionProof, leafHash, merkleLevels, merkleRoot, merkleRootFromHashes, nodeHash, proofFromLevels,
  verifyInclusion, verifyInclusionHash
} from '../../src/blocks/index.js'

interface Vectors {
  referenceTree: { emptyRoot: string, leaves: string[], rootsBySize: Record<string, string>, paths: Array<{ index: number, treeSize: number, path: string[] }> }
  nodeHashes: { nodeHashesByLevel: string[][] }
  treeHasher: { emptyHash: string, leaves: Array<{ leaf: string, hash: string }>, nodes: Array<{ left: string, right: string, hash: string }> }
  ctLogInclusion: { leaf: string, leafHash: string, leafIndex: number, treeSize: number, auditPath: string[], root: string }
}
const V = JSON.parse(readFileSync(new URL('../fixtures/ct/rfc6962-vectors.json', import.meta.url), 'utf8')) as Vectors
const leaves = V.referenceTree.leaves.map(fromHex)

/** The RFC 6962 definition, recursively (reference for the iterative implementation). */
function largestPow2Below (n: number): number { let k = 1; while (k * 2 < n) k *= 2; return k }
function refRoot (d: Uint8Array[]): Uint8Array {
  if (d.length === 0) return sha256()
  if (d.length === 1) return leafHash(d[0]!)
  const k = largestPow2Below(d.length)
  return nodeHash(refRoot(d.slice(0, k)), refRoot(d.slice(k)))
}
function refPath (m: number, d: Uint8Array[]): Uint8Array[] {
  if (d.length <= 1) return []
  const k = largestPow2Below(d.length)
  return m < k ? [...refPath(m, d.slice(0, k)), refRoot(d.slice(k))] : [...refPath(m - k, d.slice(k)), refRoot(d.slice(0, k))]
}

/** Number of hashes in the audit path of leaf i in a tree of m leaves. */
function pathLength (i: number, m: number): number {
  let len = 0
  for (let size = m, j = i; size > 1; size = Math.ceil(size / 2), j = Math.floor(j / 2)) if ((j ^ 1) < size) len++
  return len
}

/** Distinct leaves (a 4-byte counter, then 0..43 random bytes), so no leaf can stand for another. */
function randomLeaves (n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => concatBytes(u32be(i), randomBytes(Math.floor(Math.random() * 44))))
}

describe('blocks/merkle: RFC 6962 tree', () => {
  describe('Certificate Transparency test vectors (test/fixtures/ct)', () => {
    it('hashes the empty tree, leaves and nodes as the CT tree hasher', () => {
      assert.equal(toHex(EMPTY_ROOT), V.treeHasher.emptyHash)
      assert.equal(toHex(merkleRoot([])), V.referenceTree.emptyRoot)
      for (const l of V.treeHasher.leaves) assert.equal(toHex(leafHash(fromHex(l.leaf))), l.hash)
      for (const n of V.treeHasher.nodes) assert.equal(toHex(nodeHash(fromHex(n.left), fromHex(n.right))), n.hash)
    })

    it('computes the roots for sizes 1..8 of the reference leaves', () => {
      for (let size = 1; size <= 8; size++) {
        assert.equal(toHex(merkleRoot(leaves.slice(0, size))), V.referenceTree.rootsBySize[String(size)], `size ${size}`)
      }
    })

    it('computes every complete subtree hash of transparency-dev/merkle NodeHashes', () => {
      const levels = merkleLevels(leaves.map(leafHash))
      V.nodeHashes.nodeHashesByLevel.forEach((level, l) => {
        assert.deepEqual(levels[l]!.map(toHex), level, `level ${l}`)
      })
    })

    it('produces and verifies the reference audit paths, and rejects their corruptions', () => {
      for (const p of V.referenceTree.paths) {
        const root = fromHex(V.referenceTree.rootsBySize[String(p.treeSize)]!)
        const tree = leaves.slice(0, p.treeSize)
        const path = p.path.map(fromHex)
        assert.deepEqual(inclusionProof(tree, p.index).map(toHex), p.path, `path ${p.index}/${p.treeSize}`)
        const leaf = leaves[p.index]!
        assert.ok(verifyInclusion(leaf, p.index, p.treeSize, path, root))
        // Corruptions from the CT verifier tests (VerifierCheck).
        assert.ok(!verifyInclusion(leaf, p.index - 1, p.treeSize, path, root))
        assert.ok(!verifyInclusion(leaf, p.index + 1, p.treeSize, path, root))
        assert.ok(!verifyInclusion(leaf, p.index ^ 2, p.treeSize, path, root))
        assert.ok(!verifyInclusion(leaf, p.index, p.treeSize * 2, path, root))
        assert.ok(!verifyInclusion(leaf, p.index, Math.floor(p.treeSize / 2), path, root))
        assert.ok(!verifyInclusion(utf8('WrongLeaf'), p.index, p.treeSize, path, root))
        assert.ok(!verifyInclusion(leaf, p.index, p.treeSize, path, EMPTY_ROOT))
        for (let j = 0; j < path.length; j++) {
          const wrong = path.slice(); wrong[j] = EMPTY_ROOT
          assert.ok(!verifyInclusion(leaf, p.index, p.treeSize, wrong, root))
        }
        assert.ok(!verifyInclusion(leaf, p.index, p.treeSize, [...path, new Uint8Array(0)], root))
        assert.ok(!verifyInclusion(leaf, p.index, p.treeSize, [...path, root], root))
        if (path.length > 0) assert.ok(!verifyInclusion(leaf, p.index, p.treeSize, path.slice(0, -1), root))
        assert.ok(!verifyInclusion(leaf, p.index, p.treeSize, [new Uint8Array(0), ...path], root))
        assert.ok(!verifyInclusion(leaf, p.index, p.treeSize, [root, ...path], root))
      }
    })

    it('verifies a real CT log inclusion proof (leaf 848049 of 3630887)', () => {
      const c = V.ctLogInclusion
      const leaf = fromHex(c.leaf)
      const path = c.auditPath.map(fromHex)
      assert.equal(toHex(leafHash(leaf)), c.leafHash)
      assert.ok(verifyInclusion(leaf, c.leafIndex, c.treeSize, path, fromHex(c.root)))
      assert.ok(verifyInclusionHash(fromHex(c.leafHash), c.leafIndex, c.treeSize, path, fromHex(c.root)))
      assert.ok(!verifyInclusion(leaf, c.leafIndex, c.treeSize, path, new Uint8Array(32)))
      assert.ok(!verifyInclusion(leaf, c.leafIndex + 1, c.treeSize, path, fromHex(c.root)))
      assert.ok(!verifyInclusion(leaf, c.leafIndex, c.treeSize + 1_000_000, path, fromHex(c.root)))
    })

    it('rejects the invalid inputs of the CT VerifyPath tests without throwing', () => {
      for (const [i, n] of [[0, 0], [0, 1], [1, 0], [2, 1]] as const) {
        assert.equal(verifyInclusion(new Uint8Array(0), i, n, [], new Uint8Array(0)), false)
        assert.equal(verifyInclusion(new Uint8Array(0), i, n, [], EMPTY_ROOT), false)
      }
    })
  })

  describe('randomized', () => {
    it('agrees with the recursive RFC definition (roots and paths) for sizes 0..70', () => {
      for (let n = 0; n <= 70; n++) {
        const d = randomLeaves(n)
        assert.deepEqual(merkleRoot(d), refRoot(d), `root ${n}`)
        for (let m = 0; m < n; m++) assert.deepEqual(inclusionProof(d, m), refPath(m, d), `path ${m}/${n}`)
      }
    })

    it('for every size 1..300 every index verifies; tampered proofs, leaves, indices and sizes fail', () => {
      for (let n = 1; n <= 300; n++) {
        const d = randomLeaves(n)
        const levels = merkleLevels(d.map(leafHash))
        const root = merkleRoot(d)
        assert.deepEqual(levels[levels.length - 1]![0], root)
        for (let i = 0; i < n; i++) assert.ok(verifyInclusion(d[i]!, i, n, proofFromLevels(levels, i), root), `${i}/${n}`)
        for (const i of new Set([0, n - 1, Math.floor(Math.random() * n)])) {
          const proof = proofFromLevels(levels, i)
          assert.equal(pathLength(i, n), proof.length)
          const leaf = d[i]!
          assert.ok(!verifyInclusion(Uint8Array.of(...leaf, 0), i, n, proof, root), 'extended leaf')
          assert.ok(!verifyInclusion(leaf, i, n, proof, nodeHash(root, root)), 'other root')
          assert.ok(!verifyInclusion(leaf, n, n, proof, root), 'index = size')
          assert.ok(!verifyInclusion(leaf, -1, n, proof, root), 'negative index')
          assert.ok(!verifyInclusion(leaf, i + 0.5, n, proof, root), 'fractional index')
          // The tree size is not bound by the root alone (e.g. leaf 0 has paths of the same shape in
          // trees of 3 and 4 leaves): a header commits to txCount/indexCount next to each root.
          // A size with a path of another length must fail, though.
          for (const m of [n - 1, n + 1, 2 * n, Math.floor(n / 2)]) {
            if (m > i && pathLength(i, m) !== proof.length) {
              assert.ok(!verifyInclusion(leaf, i, m, proof, root), `size ${m}`)
            }
          }
          if (n > 1) assert.ok(!verifyInclusion(leaf, (i + 1) % n, n, proof, root), 'other index')
          for (let j = 0; j < proof.length; j++) {
            const t = proof.map((h) => h.slice()); t[j]![j % 32]! ^= 1
            assert.ok(!verifyInclusion(leaf, i, n, t, root), `flipped proof[${j}]`)
          }
          if (proof.length > 0) {
            assert.ok(!verifyInclusion(leaf, i, n, proof.slice(1), root), 'dropped first')
            assert.ok(!verifyInclusion(leaf, i, n, proof.slice(0, -1), root), 'dropped last')
            assert.ok(!verifyInclusion(leaf, i, n, [...proof.slice(0, 1), proof[0]!.subarray(0, 31), ...proof.slice(1)], root), 'short hash')
          }
          assert.ok(!verifyInclusion(leaf, i, n, [...proof, randomBytes(32)], root), 'extra element')
        }
      }
    })

    it('never throws on garbage', () => {
      const junk: unknown[] = [null, undefined, 'x', 7, {}, [1], [null], new Uint8Array(31), NaN, Infinity, 2 ** 60]
      for (const a of junk) {
        for (const b of junk) {
          assert.equal(verifyInclusion(a as Uint8Array, b as number, 4, [], EMPTY_ROOT), false)
          assert.equal(verifyInclusion(new Uint8Array(1), 0, a as number, b as Uint8Array[], EMPTY_ROOT), false)
          assert.equal(verifyInclusionHash(EMPTY_ROOT, 0, 1, [], a as Uint8Array), false)
        }
      }
    })

    it('proofFromLevels and inclusionProof reject an out-of-range index', () => {
      assert.throws(() => inclusionProof([], 0), RangeError)
      assert.throws(() => inclusionProof([new Uint8Array(1)], 1), RangeError)
      assert.throws(() => inclusionProof([new Uint8Array(1)], -1), RangeError)
    })

    it('merkleRootFromHashes does not alias its input for a single leaf', () => {
      const h = leafHash(utf8('a'))
      const r = merkleRootFromHashes([h])
      assert.deepEqual(r, h)
      assert.notEqual(r, h)
    })
  })

  it('computes the root of 100 000 leaves (iterative: no recursion depth), and proves a leaf against it', function () {
    // (a time is measured by npm run bench:*, never asserted here: this machine's load varies)
    const d = Array.from({ length: 100_000 }, (_, i) => utf8(`leaf-${i}`))
    const root = merkleRoot(d)
    assert.equal(root.length, 32)
    const levels = merkleLevels(d.map(leafHash))
    assert.ok(verifyInclusion(d[77_777]!, 77_777, d.length, proofFromLevels(levels, 77_777), root))
  })
})
