import assert from 'node:assert/strict'
import { randomBytes } from '../../src/crypto/index.js'
import {
  decodeSearchToken, encodeSearchToken, serverSearch, validateSearchToken, MemoryIndexStore, SseError, TREE_DEPTH,
  type GgmNode, type SearchToken, type SseErrorCode
} from '../../src/sse/index.js'
import { prng } from './helpers.js'

const node = (depth: number, index: number, key = randomBytes(32)): GgmNode => ({ depth, index, key })
const code = (c: SseErrorCode) => (e: unknown): boolean => e instanceof SseError && e.code === c

describe('sse/token', () => {
  const good: SearchToken = { groups: [[node(26, 0), node(31, 64)], [node(32, 5)]], labels: [randomBytes(32)] }

  it('round-trips through the wire format (37 bytes a node)', () => {
    const bytes = encodeSearchToken(good)
    assert.equal(bytes.length, 1 + 2 + (1 + 2 * 37) + (1 + 37) + 2 + 32)
    assert.deepEqual(decodeSearchToken(bytes), good)
    assert.deepEqual(decodeSearchToken(encodeSearchToken({ groups: [], labels: [] })), { groups: [], labels: [] })
  })

  it('rejects malformed tokens with MALFORMED_TOKEN', () => {
    const bad: Array<[string, unknown]> = [
      ['not an object', 'token'],
      ['no labels', { groups: [] }],
      ['empty group', { groups: [[]], labels: [] }],
      ['depth above the tree', { groups: [[node(TREE_DEPTH + 1, 0)]], labels: [] }],
      ['negative depth', { groups: [[node(-1, 0)]], labels: [] }],
      ['index beyond its depth', { groups: [[node(3, 8)]], labels: [] }],
      ['fractional index', { groups: [[node(3, 1.5)]], labels: [] }],
      ['short key', { groups: [[node(32, 1, randomBytes(31))]], labels: [] }],
      ['duplicate node', { groups: [[node(32, 4), node(32, 4)]], labels: [] }],
      ['overlapping nodes', { groups: [[node(30, 1), node(32, 5)]], labels: [] }],
      ['out of order', { groups: [[node(32, 9), node(32, 4)]], labels: [] }],
      ['short label', { groups: [], labels: [randomBytes(31)] }],
      ['repeated label', { groups: [], labels: [good.labels[0], good.labels[0]] }]
    ]
    for (const [why, t] of bad) {
      assert.throws(() => validateSearchToken(t), code('MALFORMED_TOKEN'), why)
      assert.throws(() => serverSearch(new MemoryIndexStore(), t as SearchToken), code('MALFORMED_TOKEN'), why)
    }
    const bytes = encodeSearchToken(good)
    const variants: Array<[string, Uint8Array]> = [
      ['empty', new Uint8Array(0)],
      ['wrong version', Uint8Array.from([2, ...bytes.subarray(1)])],
      ['truncated', bytes.subarray(0, bytes.length - 1)],
      ['trailing byte', Uint8Array.from([...bytes, 0])],
      ['depth 33 on the wire', (() => { const b = bytes.slice(); b[4] = 33; return b })()],
      ['overlap on the wire', (() => { const b = bytes.slice(); b[4 + 37] = 26; b.fill(0, 4 + 37 + 1, 4 + 37 + 5); return b })()]
    ]
    for (const [why, b] of variants) assert.throws(() => decodeSearchToken(b), code('MALFORMED_TOKEN'), why)
  })

  it('rejects tokens beyond the limits with TOKEN_LIMIT, on objects and on the wire', () => {
    const many = { groups: Array.from({ length: 5 }, (_, i) => [node(32, i)]), labels: [] }
    assert.throws(() => validateSearchToken(many, { maxGroups: 4 }), code('TOKEN_LIMIT'))
    assert.throws(() => decodeSearchToken(encodeSearchToken(many), { maxGroups: 4 }), code('TOKEN_LIMIT'))
    const wide = { groups: [Array.from({ length: 9 }, (_, i) => node(32, i))], labels: [] }
    assert.throws(() => decodeSearchToken(encodeSearchToken(wide), { maxNodesPerGroup: 8 }), code('TOKEN_LIMIT'))
    const labels = { groups: [], labels: Array.from({ length: 3 }, () => randomBytes(32)) }
    assert.throws(() => decodeSearchToken(encodeSearchToken(labels), { maxLabels: 2 }), code('TOKEN_LIMIT'))
    // a node near the root would make the holder derive billions of labels
    assert.throws(() => serverSearch(new MemoryIndexStore(), { groups: [[node(0, 0)]], labels: [] }), code('TOKEN_LIMIT'))
    assert.throws(() => decodeSearchToken(encodeSearchToken({ groups: [[node(19, 0)]], labels: [] }), { maxLeaves: 2 ** 12 }), code('TOKEN_LIMIT'))
    assert.equal(validateSearchToken({ groups: [[node(14, 0)]], labels: [] }), 2 ** 18)
  })

  it('decoding mutated or random bytes throws only SseError', () => {
    const rnd = prng(9)
    const bytes = encodeSearchToken(good)
    for (let i = 0; i < 3000; i++) {
      const b = i % 3 === 0 ? randomBytes(Math.floor(rnd() * 200)) : bytes.slice(0, i % 2 === 0 ? bytes.length : Math.floor(rnd() * bytes.length))
      for (let k = 0; k < 3; k++) if (b.length > 0) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256)
      try { decodeSearchToken(b) } catch (e) { assert.ok(e instanceof SseError && (e.code === 'MALFORMED_TOKEN' || e.code === 'TOKEN_LIMIT'), String(e)) }
    }
  })
})
