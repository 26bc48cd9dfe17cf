import assert from 'node:assert/strict'
import { coverRange, deriveNode, forEachLeaf, LeafPath, nodeSpan, TREE_DEPTH, TREE_LEAVES, SseError, leafLabel } from '../../src/sse/index.js'
import { randomBytes, toHex } from '../../src/crypto/index.js'
import { prng } from './helpers.js'

function popcount (n: number): number { let c = 0; while (n > 0) { c += n % 2; n = Math.floor(n / 2) } return c }

describe('sse/ggm', () => {
  it('covers [a, b) exactly, in order, with at most 2·depth − 2 maximal nodes; [0, c) with popcount(c) nodes', () => {
    const rnd = prng(1)
    const cases: Array<[number, number]> = [[0, 0], [0, 1], [0, TREE_LEAVES], [1, TREE_LEAVES - 1], [5, 6], [TREE_LEAVES - 1, TREE_LEAVES]]
    for (let i = 0; i < 500; i++) {
      const a = Math.floor(rnd() * 5000); cases.push([a, a + Math.floor(rnd() * 5000)])
      const b = Math.floor(rnd() * TREE_LEAVES); cases.push([Math.floor(b * rnd()), b])
    }
    for (const [a, b] of cases) {
      const cover = coverRange(a, b)
      let at = a
      for (const pos of cover) {
        const { start, size } = nodeSpan(pos)
        assert.equal(start, at)
        // maximal: the parent would not fit in [a, b)
        if (pos.depth > 0) {
          const parent = nodeSpan({ depth: pos.depth - 1, index: Math.floor(pos.index / 2) })
          assert.ok(parent.start < a || parent.start + parent.size > b)
        }
        at = start + size
      }
      assert.equal(at, b)
      assert.ok(cover.length <= 2 * TREE_DEPTH - 2)
      if (a === 0) assert.equal(cover.length, popcount(b))
    }
    assert.throws(() => coverRange(3, 2), (e: unknown) => e instanceof SseError && e.code === 'BAD_INPUT')
    assert.throws(() => coverRange(0, TREE_LEAVES + 1), (e: unknown) => e instanceof SseError && e.code === 'BAD_INPUT')
  })

  it('derives the same leaves from the root, from a cover, and along a cached path', () => {
    const root = randomBytes(32)
    const path = new LeafPath(root)
    const fromCover = new Map<number, string>()
    for (const pos of coverRange(0, 300)) forEachLeaf({ ...pos, key: deriveNode(root, pos) }, (i, k) => fromCover.set(i, toHex(k)))
    assert.equal(fromCover.size, 300)
    const rnd = prng(2)
    const order = [...Array(300).keys(), ...Array.from({ length: 50 }, () => Math.floor(rnd() * 300)), 0, 299, 7]
    for (const i of order) {
      const direct = toHex(deriveNode(root, { depth: TREE_DEPTH, index: i }))
      assert.equal(direct, fromCover.get(i))
      assert.equal(toHex(path.leaf(i)), direct)
    }
    const last = TREE_LEAVES - 1
    assert.equal(toHex(path.leaf(last)), toHex(deriveNode(root, { depth: TREE_DEPTH, index: last })))
    assert.notEqual(toHex(leafLabel(path.leaf(0))), toHex(path.leaf(0)))
    assert.throws(() => path.leaf(TREE_LEAVES), (e: unknown) => e instanceof SseError)
  })
})
