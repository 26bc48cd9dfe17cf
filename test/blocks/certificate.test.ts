import assert from 'node:assert/strict'
import { loadPqBackend, type PqBackend, randomBytes, sha256, sigKeygen, type KeyPair } from '../../src/crypto/index.js'
import {
  buildBlock, type Check, type CommitCertificate, decodeCertificate, encodeCertificate, genesisHeader, type Header, headerHash,
  quorumSize, verifyCertificate, verifyHeaderChain, verifyHeaderLink, voteSignBytes, type VoteKind
} from '../../src/blocks/index.js'
import { recordTx } from './helpers.js'

/** Hash standing for the consortium configuration of these headers. */
const CFG = sha256(Uint8Array.of(0xcf))

const CHAIN = 'pqmed-test'
let pq: PqBackend
let keys: KeyPair[]

function sign (kind: VoteKind, h: { chainId: string, height: number, view: number, headerHash: Uint8Array }, validators: number[]): CommitCertificate {
  const msg = voteSignBytes(kind, h.chainId, h.height, h.view, h.headerHash)
  return { ...h, signatures: validators.map((v) => ({ validator: v, signature: pq.sign(msg, keys[v]!.secretKey) })) }
}
function certify (header: Header, validators: number[], view = 0): CommitCertificate {
  return sign('commit', { chainId: header.chainId, height: header.height, view, headerHash: headerHash(header) }, validators)
}
function ctx (n: number): { chainId: string, managers: Uint8Array[], verifier: PqBackend } {
  return { chainId: CHAIN, managers: keys.slice(0, n).map((k) => k.publicKey), verifier: pq }
}
function expectFail (c: Check, code: string): void {
  assert.equal(c.ok, false, 'expected a failure')
  if (!c.ok) assert.equal(c.code, code, c.reason)
}

/** genesis + `n` linked headers. */
function chain (n: number): Header[] {
  const out: Header[] = [genesisHeader(CHAIN, sha256(Uint8Array.of(42)), CFG)]
  for (let h = 1; h <= n; h++) {
    const prev = out[h - 1]!
    const b = buildBlock({ chainId: CHAIN, height: h, prevHash: headerHash(prev), time: 1000 * h, proposer: h % 4, view: 0, indexStart: prev.indexStart + prev.indexCount, configHash: CFG, nextConfigHash: CFG, txs: [recordTx(h % 3), recordTx(1)] })
    out.push(b.header)
  }
  return out
}

describe('blocks/certificate and light client (real ML-DSA-65 keys)', function () {
  this.timeout(20_000)
  before(async () => {
    pq = await loadPqBackend()
    keys = Array.from({ length: 7 }, (_, i) => sigKeygen(new Uint8Array(32).fill(i + 1)))
  })

  it('quorumSize = floor(2n/3) + 1', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 10, 100].map(quorumSize), [1, 2, 3, 3, 4, 5, 5, 7, 67])
    assert.throws(() => quorumSize(0), RangeError)
    assert.throws(() => quorumSize(2.5), RangeError)
  })

  describe('verifyCertificate', () => {
    const headers = chain(1)
    const h = headers[1]!
    const expected = { height: h.height, headerHash: headerHash(h) }

    it('accepts 3 of 4 and 5 of 7 (any order, round-tripped through the codec)', () => {
      assert.deepEqual(verifyCertificate(certify(h, [0, 1, 2]), ctx(4), expected), { ok: true })
      assert.deepEqual(verifyCertificate(certify(h, [3, 1, 0, 2]), ctx(4), expected), { ok: true })
      assert.deepEqual(verifyCertificate(decodeCertificate(encodeCertificate(certify(h, [6, 0, 2, 4, 5]))), ctx(7), expected), { ok: true })
      assert.deepEqual(verifyCertificate(certify(h, [1, 2, 3], 5), ctx(4)), { ok: true })
    })

    it('rejects 2 of 4 and 4 of 7 (NO_QUORUM)', () => {
      expectFail(verifyCertificate(certify(h, [0, 3]), ctx(4), expected), 'NO_QUORUM')
      expectFail(verifyCertificate(certify(h, [0, 1, 2, 3]), ctx(7), expected), 'NO_QUORUM')
      expectFail(verifyCertificate(certify(h, []), ctx(4), expected), 'NO_QUORUM')
    })

    it('rejects a duplicate signer, even when the rest would be a quorum', () => {
      const c = certify(h, [0, 1, 1])
      expectFail(verifyCertificate(c, ctx(4), expected), 'DUPLICATE_SIGNER')
      const d = certify(h, [0, 1, 2])
      d.signatures.push(d.signatures[0]!)
      expectFail(verifyCertificate(d, ctx(4), expected), 'DUPLICATE_SIGNER')
    })

    it('rejects a validator index outside the manager list', () => {
      expectFail(verifyCertificate(certify(h, [0, 1, 4]), ctx(4), expected), 'UNKNOWN_VALIDATOR')
      expectFail(verifyCertificate({ ...certify(h, [0, 1, 2]), signatures: [...certify(h, [0, 1, 2]).signatures, { validator: 200, signature: randomBytes(3309) }] }, ctx(4)), 'INVALID')
    })

    it('rejects the wrong height, header hash or chain', () => {
      const c = certify(h, [0, 1, 2])
      expectFail(verifyCertificate(c, ctx(4), { height: 2 }), 'WRONG_HEIGHT')
      expectFail(verifyCertificate(c, ctx(4), { headerHash: headerHash(headers[0]!) }), 'WRONG_HEADER')
      expectFail(verifyCertificate(c, { ...ctx(4), chainId: 'other-chain' }), 'WRONG_CHAIN')
      // a certificate relabelled to another chain/height/view no longer verifies
      expectFail(verifyCertificate({ ...c, chainId: 'other-chain' }, { ...ctx(4), chainId: 'other-chain' }), 'BAD_SIGNATURE')
      expectFail(verifyCertificate({ ...c, height: 9 }, ctx(4)), 'BAD_SIGNATURE')
      expectFail(verifyCertificate({ ...c, view: 1 }, ctx(4)), 'BAD_SIGNATURE')
      expectFail(verifyCertificate({ ...c, headerHash: randomBytes(32) }, ctx(4)), 'BAD_SIGNATURE')
    })

    it('does not count prepare votes', () => {
      const p = sign('prepare', { chainId: CHAIN, height: h.height, view: 0, headerHash: headerHash(h) }, [0, 1, 2])
      expectFail(verifyCertificate(p, ctx(4), expected), 'BAD_SIGNATURE')
      const mixed = certify(h, [0, 1])
      mixed.signatures.push(p.signatures[2]!)
      expectFail(verifyCertificate(mixed, ctx(4), expected), 'BAD_SIGNATURE')
    })

    it('rejects a tampered signature or a signature under another manager\'s index', () => {
      const c = certify(h, [0, 1, 2])
      c.signatures[1]!.signature[100]! ^= 0x01
      const r = verifyCertificate(c, ctx(4), expected)
      expectFail(r, 'BAD_SIGNATURE')
      assert.equal(!r.ok && r.at, 1)
      const swapped = certify(h, [0, 1, 2])
      swapped.signatures[2]!.validator = 3
      expectFail(verifyCertificate(swapped, ctx(4), expected), 'BAD_SIGNATURE')
    })

    it('returns INVALID (never throws) on malformed certificates or contexts', () => {
      const c = certify(h, [0, 1, 2])
      expectFail(verifyCertificate(null as never, ctx(4)), 'INVALID')
      expectFail(verifyCertificate({ ...c, signatures: 'x' } as never, ctx(4)), 'INVALID')
      expectFail(verifyCertificate(c, { ...ctx(4), managers: [] }), 'INVALID')
      expectFail(verifyCertificate(c, { ...ctx(4), managers: [randomBytes(10)] }), 'INVALID')
      expectFail(verifyCertificate(c, null as never), 'INVALID')
    })
  })

  describe('verifyHeaderChain', () => {
    const headers = chain(5)
    const [genesis, ...rest] = headers as [Header, ...Header[]]
    const newest = rest[rest.length - 1]!

    it('accepts a valid chain from genesis with a certificate on the newest header', () => {
      assert.deepEqual(verifyHeaderChain(genesis, rest, certify(newest, [0, 2, 3]), ctx(4)), { ok: true })
      assert.deepEqual(verifyHeaderChain(rest[1]!, rest.slice(2), certify(newest, [0, 1, 2, 3]), ctx(4)), { ok: true })
      assert.deepEqual(verifyHeaderChain(newest, [], certify(newest, [1, 2, 3]), ctx(4)), { ok: true })
      for (let i = 1; i < headers.length; i++) assert.deepEqual(verifyHeaderLink(headers[i - 1]!, headers[i]!), { ok: true })
    })

    it('rejects a broken link', () => {
      const tampered = rest.map((h) => ({ ...h }))
      tampered[2]!.prevHash = randomBytes(32)
      const r = verifyHeaderChain(genesis, tampered, certify(newest, [0, 1, 2]), ctx(4))
      expectFail(r, 'BROKEN_LINK')
      assert.equal(!r.ok && r.at, 2)
      // altering a middle header breaks the next link, even though the newest is certified
      const altered = rest.map((h) => ({ ...h }))
      altered[1]!.txRoot = randomBytes(32)
      const r2 = verifyHeaderChain(genesis, altered, certify(newest, [0, 1, 2]), ctx(4))
      expectFail(r2, 'BROKEN_LINK')
      assert.equal(!r2.ok && r2.at, 2)
    })

    it('rejects a gap, a repeated or a reordered header', () => {
      expectFail(verifyHeaderChain(genesis, [rest[0]!, rest[2]!, rest[3]!, rest[4]!], certify(newest, [0, 1, 2]), ctx(4)), 'NON_CONSECUTIVE')
      expectFail(verifyHeaderChain(genesis, [rest[0]!, rest[0]!], certify(rest[0]!, [0, 1, 2]), ctx(4)), 'NON_CONSECUTIVE')
      expectFail(verifyHeaderChain(genesis, [rest[1]!, rest[0]!], certify(rest[0]!, [0, 1, 2]), ctx(4)), 'NON_CONSECUTIVE')
    })

    it('rejects a header of another chain and a context for another chain', () => {
      const foreign = rest.map((h) => ({ ...h }))
      foreign[0]!.chainId = 'other-chain'
      expectFail(verifyHeaderChain(genesis, foreign, certify(newest, [0, 1, 2]), ctx(4)), 'WRONG_CHAIN')
      expectFail(verifyHeaderChain(genesis, rest, certify(newest, [0, 1, 2]), { ...ctx(4), chainId: 'other-chain' }), 'WRONG_CHAIN')
    })

    it('rejects time going backwards and a wrong indexStart', () => {
      const h1 = buildBlock({ chainId: CHAIN, height: 1, prevHash: headerHash(genesis), time: 10, proposer: 0, view: 0, indexStart: 0, configHash: CFG, nextConfigHash: CFG, txs: [recordTx(2)] }).header
      const back = buildBlock({ chainId: CHAIN, height: 2, prevHash: headerHash(h1), time: 9, proposer: 0, view: 0, indexStart: 2, configHash: CFG, nextConfigHash: CFG, txs: [] }).header
      expectFail(verifyHeaderLink(h1, back), 'BROKEN_LINK')
      const skip = buildBlock({ chainId: CHAIN, height: 2, prevHash: headerHash(h1), time: 11, proposer: 0, view: 0, indexStart: 3, configHash: CFG, nextConfigHash: CFG, txs: [] }).header
      expectFail(verifyHeaderLink(h1, skip), 'BROKEN_LINK')
      const good = buildBlock({ chainId: CHAIN, height: 2, prevHash: headerHash(h1), time: 10, proposer: 0, view: 0, indexStart: 2, configHash: CFG, nextConfigHash: CFG, txs: [] }).header
      assert.deepEqual(verifyHeaderLink(h1, good), { ok: true })
    })

    it('rejects a bad newest certificate', () => {
      expectFail(verifyHeaderChain(genesis, rest, certify(rest[3]!, [0, 1, 2]), ctx(4)), 'WRONG_HEIGHT')
      expectFail(verifyHeaderChain(genesis, rest, certify(newest, [0, 1]), ctx(4)), 'NO_QUORUM')
      const forged = { ...newest, txRoot: randomBytes(32) }
      expectFail(verifyHeaderChain(genesis, [...rest.slice(0, -1), forged], certify(newest, [0, 1, 2]), ctx(4)), 'WRONG_HEADER')
      const c = certify(newest, [0, 1, 2]); c.signatures[0]!.signature[0]! ^= 1
      expectFail(verifyHeaderChain(genesis, rest, c, ctx(4)), 'BAD_SIGNATURE')
      // signed by keys outside the manager set
      const outsiders = certify(newest, [4, 5, 6])
      expectFail(verifyHeaderChain(genesis, rest, outsiders, ctx(4)), 'UNKNOWN_VALIDATOR')
    })

    it('rejects an invalid header in the run and never throws on garbage', () => {
      const bad = rest.map((h) => ({ ...h }))
      bad[0]!.prevHash = randomBytes(31)
      expectFail(verifyHeaderChain(genesis, bad, certify(newest, [0, 1, 2]), ctx(4)), 'INVALID')
      expectFail(verifyHeaderChain(null as never, rest, certify(newest, [0, 1, 2]), ctx(4)), 'INVALID')
      expectFail(verifyHeaderChain(genesis, [null as never], certify(newest, [0, 1, 2]), ctx(4)), 'INVALID')
      expectFail(verifyHeaderChain(genesis, rest, null as never, ctx(4)), 'INVALID')
      expectFail(verifyHeaderLink(genesis, null as never), 'INVALID')
    })
  })
})
