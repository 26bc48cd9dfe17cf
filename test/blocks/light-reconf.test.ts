/**
 * Light verification across manager changes: a client holding only the genesis header and the
 * genesis configuration follows a chain through a join and a removal, verifying one run of
 * headers per configuration (each ending at the header announcing the next set, whose hash it
 * checks), and refuses a chain forged by the removed set.
 */
import assert from 'node:assert/strict'
import { loadPqBackend, sha256, sigKeygen, utf8, type KeyPair, type PqBackend } from '../../src/crypto/index.js'
import {
  applyChange, buildBlock, checkConfigLinks, type Check, type CommitCertificate, configHash, configKeys, type ConsortiumConfig, firstConfigChange,
  genesisConfig, genesisHeader, type Header, headerHash, hospitalIdOf, verifyHeaderChain, voteSignBytes
} from '../../src/blocks/index.js'
import { recordTx } from './helpers.js'

const CHAIN = 'pqmed-test'
const key = (i: number): KeyPair => sigKeygen(sha256(utf8(`light-reconf/${i}`)))

describe('blocks: light verification across manager changes', function () {
  this.timeout(120_000)
  let pq: PqBackend
  let keys: KeyPair[]
  let sets: ConsortiumConfig[]
  /** Global key index of each manager of each set. */
  let members: number[][]

  before(async () => {
    pq = await loadPqBackend()
    keys = [0, 1, 2, 3, 4].map(key)
    const g = genesisConfig([0, 1, 2, 3].map((i) => ({ name: `h${i}`, sigPublicKey: (keys[i] as KeyPair).publicKey, peerId: `peer-${i}`, addrs: [] })))
    const k4 = keys[4] as KeyPair
    const joined = applyChange(g, { action: 'add', manager: { hospitalId: hospitalIdOf(k4.publicKey), name: 'h4', sigPublicKey: k4.publicKey, peerId: 'peer-4', addrs: [] } }, 5)
    const left = applyChange(joined, { action: 'remove', hospitalId: hospitalIdOf((keys[1] as KeyPair).publicKey) }, 9)
    sets = [g, joined, left]
    members = [[0, 1, 2, 3], [0, 1, 2, 3, 4], [0, 2, 3, 4]]
  })

  const setAt = (h: number): number => h < 5 ? 0 : h < 9 ? 1 : 2

  /** Headers 0..n; header h names the set of h and of h + 1. */
  function chain (n: number, set: (h: number) => number = setAt): Header[] {
    const out: Header[] = [genesisHeader(CHAIN, sha256(utf8('doc')), configHash(sets[0] as ConsortiumConfig))]
    for (let h = 1; h <= n; h++) {
      const prev = out[h - 1] as Header
      out.push(buildBlock({
        chainId: CHAIN, height: h, prevHash: headerHash(prev), time: h, proposer: 0, view: 0, indexStart: prev.indexStart + prev.indexCount,
        configHash: configHash(sets[set(h)] as ConsortiumConfig), nextConfigHash: configHash(sets[set(h + 1)] as ConsortiumConfig), txs: [recordTx(1, 0)]
      }).header)
    }
    return out
  }

  function certify (h: Header, signers: number[], set: number): CommitCertificate {
    const bytes = voteSignBytes('commit', CHAIN, h.height, 0, headerHash(h))
    return { chainId: CHAIN, height: h.height, view: 0, headerHash: headerHash(h), signatures: signers.map((g) => ({ validator: (members[set] as number[]).indexOf(g), signature: pq.sign(bytes, (keys[g] as KeyPair).secretKey) })) }
  }

  /** What HeaderChain.doSync does: one run per configuration, the next set learned by hash. */
  function follow (headers: Header[], certOf: (h: Header) => CommitCertificate, known: ConsortiumConfig[]): Check {
    let trusted = headers[0] as Header
    let rest = headers.slice(1)
    while (rest.length > 0) {
      const cut = firstConfigChange(rest)
      const run = cut >= 0 ? rest.slice(0, cut + 1) : rest
      const links = checkConfigLinks(trusted, run)
      if (!links.ok) return links
      const config = known.find((c) => Buffer.from(configHash(c)).equals(trusted.nextConfigHash))
      if (config === undefined) return { ok: false, code: 'UNKNOWN_CONFIG', reason: 'configuration not known' }
      const last = run[run.length - 1] as Header
      const v = verifyHeaderChain(trusted, run, certOf(last), { chainId: CHAIN, managers: configKeys(config), verifier: pq })
      if (!v.ok) return v
      trusted = last
      rest = rest.slice(run.length)
    }
    return { ok: true }
  }

  it('follows a join and a removal, one run per configuration, each certificate checked against its height\'s set', () => {
    const hs = chain(12)
    const honest = (h: Header): CommitCertificate => {
      const s = setAt(h.height)
      return certify(h, (members[s] as number[]).slice(0, s === 1 ? 4 : 3), s)
    }
    assert.deepEqual(follow(hs, honest, sets), { ok: true })
    // the runs end at heights 4 and 8 (the headers announcing the next set)
    assert.deepEqual(hs.slice(1).map((h, i) => i).filter((i) => firstConfigChange([hs[i + 1] as Header]) === 0).map((i) => i + 1), [4, 8])
    // without the learned configuration, verification stops at the boundary
    const r = follow(hs, honest, [sets[0] as ConsortiumConfig])
    assert.equal(r.ok, false)
    if (!r.ok) assert.equal(r.code, 'UNKNOWN_CONFIG')
  })

  it('refuses a run that skips over a configuration change with one certificate (the newest header\'s set cannot vouch for the old set\'s headers)', () => {
    const hs = chain(10)
    const links = checkConfigLinks(hs[0] as Header, hs.slice(1))
    assert.equal(links.ok, false)
    if (!links.ok) { assert.equal(links.code, 'STALE_CONFIG'); assert.equal(links.at, 3) }
  })

  it('refuses a chain forged by a removed set: old managers certifying heights the new set certifies', () => {
    // the removed hospital 1 with hospitals 0 and 2 (a quorum of the genesis set) forge heights 9..12 claiming no change happened
    const forged = chain(12, (h) => h < 5 ? 0 : h < 9 ? 1 : 1)
    const honestTo8 = chain(12).slice(0, 9)
    // heights 9.. of the forgery link to the genuine header 8, which announced set 2
    const fake = [...honestTo8]
    for (let h = 9; h <= 12; h++) {
      const prev = fake[h - 1] as Header
      fake.push(buildBlock({ chainId: CHAIN, height: h, prevHash: headerHash(prev), time: h, proposer: 0, view: 0, indexStart: prev.indexStart + prev.indexCount, configHash: (forged[h] as Header).configHash, nextConfigHash: (forged[h] as Header).nextConfigHash, txs: [recordTx(1, 0)] }).header)
    }
    const certOf = (h: Header): CommitCertificate => h.height <= 8 ? certify(h, (members[setAt(h.height)] as number[]).slice(0, setAt(h.height) === 1 ? 4 : 3), setAt(h.height)) : certify(h, [0, 1, 2, 3], 1)
    const r = follow(fake, certOf, sets)
    assert.equal(r.ok, false)
    if (!r.ok) assert.equal(r.code, 'STALE_CONFIG', r.reason)
    // and if the forgery names set 2, the old managers' signatures do not make a certificate of set 2
    const claimed = [...honestTo8]
    for (let h = 9; h <= 12; h++) {
      const prev = claimed[h - 1] as Header
      claimed.push(buildBlock({ chainId: CHAIN, height: h, prevHash: headerHash(prev), time: h, proposer: 0, view: 0, indexStart: prev.indexStart + prev.indexCount, configHash: configHash(sets[2] as ConsortiumConfig), nextConfigHash: configHash(sets[2] as ConsortiumConfig), txs: [recordTx(2, 0)] }).header)
    }
    const byOld = (h: Header): CommitCertificate => {
      if (h.height <= 8) return certOf(h)
      const bytes = voteSignBytes('commit', CHAIN, h.height, 0, headerHash(h))
      return { chainId: CHAIN, height: h.height, view: 0, headerHash: headerHash(h), signatures: [0, 1, 2].map((g) => ({ validator: g, signature: pq.sign(bytes, (keys[g] as KeyPair).secretKey) })) }
    }
    const r2 = follow(claimed, byOld, sets)
    assert.equal(r2.ok, false)
    if (!r2.ok) assert.equal(r2.code, 'BAD_SIGNATURE')
  })
})
