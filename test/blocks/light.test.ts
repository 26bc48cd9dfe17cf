import assert from 'node:assert/strict'
import { MemoVerifier, buildBlock, genesisHeader, headerHash, verifyHeaderLink, type Header } from '../../src/blocks/index.js'
import { loadPqBackend, sha256, sigKeygen, type PqBackend, type SigVerifier } from '../../src/crypto/index.js'
import { recordTx } from './helpers.js'

const CHAIN = 'pqmed-test'

describe('blocks/light: verifyHeaderLink with a known hash, MemoVerifier', function () {
  this.timeout(20_000)
  let pq: PqBackend
  before(async () => { pq = await loadPqBackend() })

  it('verifyHeaderLink uses the prev hash it is given (the received bytes\' hash) instead of encoding prev again', () => {
    const g: Header = genesisHeader(CHAIN, sha256(Uint8Array.of(1)), sha256(Uint8Array.of(2)))
    const h1 = buildBlock({ chainId: CHAIN, height: 1, prevHash: headerHash(g), time: 1000, proposer: 1, view: 0, indexStart: 0, configHash: g.configHash, nextConfigHash: g.configHash, txs: [recordTx(1)] }).header
    assert.deepEqual(verifyHeaderLink(g, h1, headerHash(g)), { ok: true })
    const r = verifyHeaderLink(g, h1, sha256(Uint8Array.of(2)))
    assert.equal(r.ok, false)
    if (!r.ok) assert.equal(r.code, 'BROKEN_LINK')
  })

  it('MemoVerifier verifies a signature once, never remembers a bad one, and forgets the oldest beyond its size', () => {
    const k = sigKeygen(new Uint8Array(32).fill(3))
    let calls = 0
    const counting: SigVerifier = { verify: (s, m, pk) => { calls++; return pq.verify(s, m, pk) } }
    const memo = new MemoVerifier(counting, 2)
    const msgs = [1, 2, 3].map((i) => Uint8Array.of(i))
    const sigs = msgs.map((m) => pq.sign(m, k.secretKey))
    assert.equal(memo.verify(sigs[0]!, msgs[0]!, k.publicKey), true)
    assert.equal(memo.verify(sigs[0]!, msgs[0]!, k.publicKey), true)
    assert.equal(calls, 1)
    // the same signature on another message, or a bad one, is verified (and fails) every time
    assert.equal(memo.verify(sigs[0]!, msgs[1]!, k.publicKey), false)
    assert.equal(memo.verify(sigs[0]!, msgs[1]!, k.publicKey), false)
    assert.equal(calls, 3)
    assert.equal(memo.verify(sigs[1]!, msgs[1]!, k.publicKey), true)
    assert.equal(memo.verify(sigs[2]!, msgs[2]!, k.publicKey), true) // evicts sigs[0]
    assert.equal(calls, 5)
    assert.equal(memo.verify(sigs[0]!, msgs[0]!, k.publicKey), true)
    assert.equal(calls, 6)
    assert.equal(memo.verified, 6)
    assert.throws(() => new MemoVerifier(counting, 0), RangeError)
  })
})
