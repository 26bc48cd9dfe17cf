import assert from 'node:assert/strict'
import { headerPublishers, leaderOf, maxFaulty } from '../../src/consensus/index.js'

describe('consensus: who publishes a certified header', () => {
  it('the leader of the committing view and the next f managers: f + 1 distinct publishers', () => {
    for (const n of [4, 5, 7, 10]) {
      for (let height = 1; height < 3 * n; height++) {
        for (const view of [0, 1, 2, 5]) {
          const ps = headerPublishers(height, view, n)
          assert.equal(ps.length, maxFaulty(n) + 1)
          assert.equal(new Set(ps).size, ps.length)
          assert.equal(ps[0], leaderOf(height, view, n))
          assert.ok(ps.every((p) => Number.isInteger(p) && p >= 0 && p < n))
        }
      }
    }
    assert.deepEqual(headerPublishers(1, 0, 4), [1, 2])
    assert.deepEqual(headerPublishers(3, 1, 4), [0, 1])
  })

  it('whichever f managers are faulty, at least one publisher is honest', () => {
    const n = 7
    const f = maxFaulty(n)
    // every subset of f managers
    const subsets = (k: number, from: number): number[][] => k === 0 ? [[]] : Array.from({ length: n - from }, (_, i) => from + i).flatMap((m) => subsets(k - 1, m + 1).map((s) => [m, ...s]))
    for (const faulty of subsets(f, 0)) {
      for (let height = 1; height <= n; height++) {
        assert.ok(headerPublishers(height, 0, n).some((p) => !faulty.includes(p)), `height ${height}, faulty ${faulty.join(',')}`)
      }
    }
  })
})
