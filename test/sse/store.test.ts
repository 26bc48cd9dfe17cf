import assert from 'node:assert/strict'
import { randomBytes } from '../../src/crypto/index.js'
import { MemoryIndexStore, SseError, type SseErrorCode } from '../../src/sse/index.js'

const code = (c: SseErrorCode) => (e: unknown): boolean => e instanceof SseError && e.code === c

describe('sse/store', () => {
  it('is append-only: keeps positions, rejects duplicate labels and non-increasing positions', () => {
    const s = new MemoryIndexStore()
    const a = { label: randomBytes(32), value: randomBytes(82) }
    s.append(a, { height: 3, index: 10 })
    assert.deepEqual(s.get(a.label), { label: a.label, value: a.value, position: { height: 3, index: 10 } })
    assert.throws(() => s.append(a, { height: 3, index: 11 }), code('DUPLICATE_LABEL'))
    assert.throws(() => s.append({ label: randomBytes(32), value: randomBytes(8) }, { height: 3, index: 10 }), code('BAD_POSITION'))
    assert.throws(() => s.append({ label: randomBytes(32), value: randomBytes(8) }, { height: 2, index: 12 }), code('BAD_POSITION'))
    assert.throws(() => s.append({ label: randomBytes(32), value: randomBytes(8) }, { height: 3, index: -1 }), code('BAD_POSITION'))
    assert.throws(() => s.append({ label: randomBytes(31), value: randomBytes(8) }, { height: 3, index: 12 }), code('BAD_INPUT'))
    assert.throws(() => s.append({ label: randomBytes(32), value: randomBytes(129) }, { height: 3, index: 12 }), code('BAD_INPUT'))
    assert.throws(() => s.append({ label: randomBytes(32), value: new Uint8Array(0) }, { height: 3, index: 12 }), code('BAD_INPUT'))
    const b = { label: randomBytes(32), value: randomBytes(128) }
    s.append(b, { height: 4, index: 12 })
    assert.equal(s.size, 2)
    assert.equal(s.get(randomBytes(32)), undefined)
    assert.equal(s.get(randomBytes(5)), undefined)
    const got = s.get(b.label)
    assert.ok(got !== undefined)
    got.value[0] = (got.value[0] as number) ^ 1 // a copy: the store is not changed through it
    assert.deepEqual(s.get(b.label)?.value, b.value)
    assert.deepEqual([...s.entries()].map((e) => e.position.index), [10, 12])
  })

  it('spans several pages', () => {
    const s = new MemoryIndexStore()
    const labels: Uint8Array[] = []
    for (let i = 0; i < 70_000; i++) { const l = randomBytes(32); labels.push(l); s.append({ label: l, value: Uint8Array.of(i & 0xff) }, { height: 1, index: i }) }
    for (const i of [0, 65_535, 65_536, 69_999]) assert.deepEqual(s.get(labels[i] as Uint8Array)?.position, { height: 1, index: i })
  })
})
