import assert from 'node:assert/strict'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { describe, it } from 'mocha'
import {
  buildBlock, configHash, encodeHeader, genesisHeader, headerHash, voteSignBytes, type CommitCertificate, type Header
} from '../../src/blocks/index.js'
import { loadPqBackend, sha256, sigKeygen, type KeyPair, type PqBackend } from '../../src/crypto/index.js'
import { MemKv, pad } from '../../src/node/kv.js'
import { genesisConsortium } from '../../src/node/genesis.js'
import { HeaderChain } from '../../src/node/light-headers.js'
import { quietLog } from '../../src/node/log.js'
import { encodeCertifiedHeader } from '../../src/node/messages.js'
import { recordTx } from '../blocks/helpers.js'

/**
 * The headers-topic validator of a light node (`HeaderChain.onGossip`): every header arrives from
 * f + 1 publishers, each copy with its own certificate. The certificate of a header is verified
 * once; the other copies are answered from memory (counted with a verifier that counts ML-DSA calls).
 */
const CHAIN = 'pqmed-light-headers'

describe('node/light-headers: certified headers from gossip', function () {
  this.timeout(60_000)
  let pq: PqBackend
  let keys: KeyPair[]
  let headers: Header[]
  let genesis: { chainId: string, managers: Array<{ name: string, sigPublicKey: Uint8Array, peerId: string, addrs: string[] }> }
  let cfg: Uint8Array
  before(async () => {
    pq = await loadPqBackend()
    keys = [1, 2, 3, 4].map((i) => sigKeygen(new Uint8Array(32).fill(i)))
    genesis = { chainId: CHAIN, managers: keys.map((k, i) => ({ name: `m${i}`, sigPublicKey: k.publicKey, peerId: `peer-${i}`, addrs: [] })) }
    cfg = configHash(genesisConsortium(genesis as never))
    headers = [genesisHeader(CHAIN, sha256(Uint8Array.of(7)), cfg)]
    for (let h = 1; h <= 4; h++) {
      const prev = headers[h - 1]!
      headers.push(buildBlock({ chainId: CHAIN, height: h, prevHash: headerHash(prev), time: 1000 * h, proposer: h % 4, view: 0, indexStart: prev.indexStart + prev.indexCount, configHash: cfg, nextConfigHash: cfg, txs: [recordTx(2)] }).header)
    }
  })

  /** A certificate of `h` signed by `signers` (each publisher builds its own from the commit votes it saw). */
  const certify = (h: Header, signers: number[]): CommitCertificate => {
    const msg = voteSignBytes('commit', CHAIN, h.height, 0, headerHash(h))
    return { chainId: CHAIN, height: h.height, view: 0, headerHash: headerHash(h), signatures: signers.map((v) => ({ validator: v, signature: pq.sign(msg, keys[v]!.secretKey) })) }
  }
  const copy = (h: Header, signers: number[]): Uint8Array => encodeCertifiedHeader(h, certify(h, signers))

  /** A header chain at genesis whose ML-DSA verifications are counted; no manager to sync from. */
  const open = async (kv = new MemKv()): Promise<{ chain: HeaderChain, calls: () => number }> => {
    let calls = 0
    const counting: PqBackend = { ...pq, verify: (sig, msg, pk) => { calls++; return pq.verify(sig, msg, pk) } }
    const none = { request: async () => { throw new Error('no manager in this test') } }
    const chain = new HeaderChain({
      genesis: genesis as never,
      genesisHeader: headers[0]!,
      pq: counting,
      kv,
      log: quietLog,
      peers: { managers: () => [], distrust: () => {} },
      status: none,
      sync: none
    })
    await chain.open()
    return { chain, calls: () => calls }
  }

  it('two publishers\' copies of a header, validated concurrently: the certificate is verified once', async () => {
    const { chain, calls } = await open()
    const verdicts = await Promise.all([chain.onGossip(copy(headers[1]!, [0, 1, 2])), chain.onGossip(copy(headers[1]!, [1, 2, 3]))])
    assert.deepEqual(verdicts, [TopicValidatorResult.Accept, TopicValidatorResult.Ignore])
    assert.equal(chain.height, 1)
    assert.equal(calls(), 3, 'one certificate of 3 signatures verified, the second copy answered from memory')
    assert.equal(chain.signaturesVerified, 3)
    assert.equal(chain.stats.gossip, 1)
    await chain.close()
  })

  it('a repeated certified header beyond the head is not verified again, and is appended as soon as the gap is filled', async () => {
    const { chain, calls } = await open()
    assert.equal(await chain.onGossip(copy(headers[1]!, [0, 1, 2])), TopicValidatorResult.Accept)
    assert.equal(calls(), 3)
    // height 3 arrives before 2 (a gap: the node would sync): its certificate is verified once
    assert.equal(await chain.onGossip(copy(headers[3]!, [0, 1, 2])), TopicValidatorResult.Accept)
    assert.equal(calls(), 6)
    assert.equal(await chain.onGossip(copy(headers[3]!, [1, 2, 3])), TopicValidatorResult.Ignore)
    assert.equal(calls(), 6, 'the other publisher\'s copy of height 3 costs no verification')
    assert.equal(chain.height, 1)
    // height 2 closes the gap: height 3, certified before, follows at once
    assert.equal(await chain.onGossip(copy(headers[2]!, [0, 2, 3])), TopicValidatorResult.Accept)
    assert.equal(calls(), 9)
    assert.equal(chain.height, 3)
    assert.equal(chain.stats.gossip, 3)
    assert.equal(await chain.onGossip(copy(headers[3]!, [0, 1, 3])), TopicValidatorResult.Ignore)
    assert.equal(calls(), 9)
    assert.equal(chain.height, 3)
    assert.deepEqual(chain.certificate?.signatures.map((s) => s.validator), [0, 1, 2])
    await chain.close()
  })

  it('every check still applies: a bad certificate is rejected and not remembered, a header that does not link is not appended', async () => {
    const { chain, calls } = await open()
    const bad = certify(headers[1]!, [0, 1, 2])
    bad.signatures[2] = { validator: 2, signature: bad.signatures[1]!.signature }
    assert.equal(await chain.onGossip(encodeCertifiedHeader(headers[1]!, bad)), TopicValidatorResult.Reject)
    assert.equal(await chain.onGossip(copy(headers[1]!, [0, 1])), TopicValidatorResult.Reject, 'no quorum')
    assert.equal(chain.height, 0)
    const before = calls()
    // a good copy: signatures 0 and 1 were verified (and remembered) while checking the bad one
    assert.equal(await chain.onGossip(copy(headers[1]!, [0, 1, 2])), TopicValidatorResult.Accept)
    assert.equal(calls() - before, 3, 'fresh signatures (new randomness): each verified')
    assert.equal(chain.height, 1)
    // certified, but its prevHash is not our head's hash
    const forkPrev = { ...headers[1]!, time: 1001 }
    const fork = buildBlock({ chainId: CHAIN, height: 2, prevHash: headerHash(forkPrev), time: 2000, proposer: 2, view: 0, indexStart: headers[2]!.indexStart, configHash: cfg, nextConfigHash: cfg, txs: [recordTx(2)] }).header
    assert.equal(await chain.onGossip(copy(fork, [0, 1, 2])), TopicValidatorResult.Ignore)
    assert.equal(chain.height, 1)
    assert.equal(await chain.onGossip(Uint8Array.of(1, 2, 3)), TopicValidatorResult.Reject)
    await chain.close()
  })

  it('headers appended from gossip are stored as received, with the head and its certificate, and reopen', async () => {
    const kv = new MemKv()
    const { chain } = await open(kv)
    for (let h = 1; h <= 4; h++) assert.equal(await chain.onGossip(copy(headers[h]!, [0, 1, 2])), TopicValidatorResult.Accept)
    await chain.flushed()
    for (let h = 1; h <= 4; h++) assert.deepEqual(await kv.get(`hdr/${pad(h)}`), encodeHeader(headers[h]!))
    const again = (await open(kv)).chain
    assert.equal(again.height, 4)
    assert.deepEqual(again.headHashBytes, headerHash(headers[4]!))
    assert.equal(again.certificate?.height, 4)
    assert.deepEqual(await again.header(2), headers[2])
    await chain.close()
    await again.close()
  })
})
