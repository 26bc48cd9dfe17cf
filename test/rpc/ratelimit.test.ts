import assert from 'node:assert/strict'
import { RateLimiter } from '../../src/rpc/index.js'

describe('rpc RateLimiter (token bucket, clock passed in)', () => {
  it('grants the burst, then refills at perSecond', () => {
    const rl = new RateLimiter({ perSecond: 10, burst: 3 })
    assert.deepEqual([0, 0, 0].map(() => rl.take('a', 1, 1000)), [0, 0, 0])
    assert.equal(rl.take('a', 1, 1000), 100, 'one token in 100 ms')
    assert.equal(rl.take('a', 1, 1050), 50)
    assert.equal(rl.take('a', 1, 1100), 0)
    assert.equal(rl.take('a', 1, 1100), 100)
    // Never more than the burst, however long the client was idle.
    assert.deepEqual([1, 2, 3, 4].map(() => rl.take('a', 1, 1_000_000)), [0, 0, 0, 100])
  })

  it('keeps one bucket per client', () => {
    const rl = new RateLimiter({ perSecond: 1, burst: 1 })
    assert.equal(rl.take('a', 1, 0), 0)
    assert.equal(rl.take('a', 1, 0), 1000)
    assert.equal(rl.take('b', 1, 0), 0)
  })

  it('a cost above the tokens takes nothing; above the burst it waits for a full bucket', () => {
    const rl = new RateLimiter({ perSecond: 2, burst: 4 })
    assert.equal(rl.take('a', 3, 0), 0)
    assert.equal(rl.take('a', 2, 0), 500)
    assert.equal(rl.take('a', 1, 0), 0, 'the refused call took nothing')
    assert.equal(rl.take('a', 9, 0), 2000)
  })

  it('forgets idle clients instead of growing without bound', () => {
    const rl = new RateLimiter({ perSecond: 1, burst: 1 })
    for (let i = 0; i < 10_000; i++) rl.take(`c${i}`, 1, 0)
    assert.equal(rl.size, 10_000)
    rl.take('new', 1, 5_000) // every earlier bucket has refilled by now
    assert.equal(rl.size, 1)
    for (let i = 0; i < 10_001; i++) rl.take(`d${i}`, 1, 5_000) // all active: the oldest are dropped
    assert.ok(rl.size <= 10_000)
  })

  it('rejects nonsensical limits', () => {
    assert.throws(() => new RateLimiter({ perSecond: 0, burst: 1 }), RangeError)
    assert.throws(() => new RateLimiter({ perSecond: 1, burst: 0.5 }), RangeError)
    assert.throws(() => new RateLimiter({ perSecond: Number.NaN, burst: 1 }), RangeError)
  })
})
