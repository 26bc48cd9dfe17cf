import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { loadPqBackend, sha256, sigKeygen, utf8, type KeyPair, type PqBackend } from '../../src/crypto/index.js'
import {
  applyChange, BlockError, type Check, configFaulty, configHash, configQuorum, ConsortiumHistory, type ConsortiumConfig, type ConsortiumManager,
  decodeConsortiumConfig, decodeTx, encodeConsortiumConfig, encodeTx, genesisConfig, hospitalIdOf, hospitalKey, type ManagerChange,
  managerChangeSignBytes, managerIndex, type ManagerTx, MAX_MANAGER_TX_BYTES, MAX_TX_BYTES, MAX_VALIDATORS, verifyManagerTx
} from '../../src/blocks/index.js'

const CHAIN = 'pqmed-test'
const key = (i: number): KeyPair => sigKeygen(sha256(utf8(`consortium-test/${i}`)))
const peer = (i: number): string => `12D3KooWPeer${i}`

function expectFail (c: Check, code: string): void {
  assert.equal(c.ok, false, `expected ${code}, got ok`)
  if (!c.ok) assert.equal(c.code, code, c.reason)
}

function manager (i: number, k: KeyPair = key(i)): ConsortiumManager {
  return { hospitalId: hospitalIdOf(k.publicKey), name: `hospital-${i}`, sigPublicKey: k.publicKey, peerId: peer(i), addrs: [`/ip4/127.0.0.1/tcp/${4000 + i}`] }
}

describe('blocks/consortium: manager set, its hash and its changes', function () {
  this.timeout(60_000)
  let pq: PqBackend
  let keys: KeyPair[]
  let g: ConsortiumConfig

  before(async () => {
    pq = await loadPqBackend()
    keys = [0, 1, 2, 3, 4, 5].map(key)
    g = genesisConfig([0, 1, 2, 3].map((i) => ({ name: `hospital-${i}`, sigPublicKey: (keys[i] as KeyPair).publicKey, peerId: peer(i), addrs: [`/ip4/127.0.0.1/tcp/${4000 + i}`] })))
  })

  /** A change signed by the managers `signers` (indices into `keys`) of `base`. */
  function signed (base: ConsortiumConfig, change: ManagerChange, signers: number[], chainId = CHAIN, signWith?: (i: number) => KeyPair): ManagerTx {
    const baseConfig = configHash(base)
    const msg = managerChangeSignBytes(chainId, baseConfig, change, 1234)
    return {
      type: 'manager',
      action: change.action,
      baseConfig,
      change,
      time: 1234,
      signatures: signers.map((i) => {
        const k = signWith?.(i) ?? keys[i] as KeyPair
        return { hospitalId: hospitalIdOf((keys[i] as KeyPair).publicKey), signature: pq.sign(msg, k.secretKey) }
      })
    }
  }

  it('derives the genesis configuration, its quorum, and a canonical encoding whose hash commits to every field', () => {
    assert.equal(g.activationHeight, 1)
    assert.equal(g.managers.length, 4)
    assert.equal(configQuorum(g), 3)
    assert.equal(configFaulty(g), 1)
    assert.deepEqual(g.managers[2]?.hospitalId, sha256((keys[2] as KeyPair).publicKey))
    const bytes = encodeConsortiumConfig(g)
    assert.deepEqual(decodeConsortiumConfig(bytes), g)
    assert.deepEqual(configHash(g), sha256(bytes))
    assert.notDeepEqual(configHash({ ...g, activationHeight: 2 }), configHash(g))
    assert.notDeepEqual(configHash({ ...g, managers: [...g.managers].reverse() }), configHash(g), 'the order is part of the configuration')
    const raw = dagCbor.decode(bytes) as Record<string, unknown>
    assert.throws(() => decodeConsortiumConfig(Uint8Array.of(...bytes, 0)), BlockError)
    assert.throws(() => decodeConsortiumConfig(dagCbor.encode({ ...raw, extra: 1 })), /unknown field/)
    assert.throws(() => genesisConfig([{ name: 'a', sigPublicKey: (keys[0] as KeyPair).publicKey, peerId: peer(0), addrs: [] }, { name: 'b', sigPublicKey: (keys[0] as KeyPair).publicKey, peerId: peer(1), addrs: [] }]), /twice/)
  })

  it('verifies a change signed by 2f+1 current managers, and refuses too few, unknown, duplicate, forged, stale or foreign-chain signatures', () => {
    const add: ManagerChange = { action: 'add', manager: manager(4) }
    assert.deepEqual(verifyManagerTx(signed(g, add, [0, 1, 2]), CHAIN, g, pq), { ok: true })
    assert.deepEqual(verifyManagerTx(signed(g, add, [3, 1, 0, 2]), CHAIN, g, pq), { ok: true })
    expectFail(verifyManagerTx(signed(g, add, [0, 1]), CHAIN, g, pq), 'NO_QUORUM')
    expectFail(verifyManagerTx(signed(g, add, [0, 1, 1]), CHAIN, g, pq), 'DUPLICATE_SIGNER')
    expectFail(verifyManagerTx(signed(g, add, [0, 1, 5]), CHAIN, g, pq), 'UNKNOWN_VALIDATOR')
    expectFail(verifyManagerTx(signed(g, add, [0, 1, 2], CHAIN, (i) => i === 2 ? keys[5] as KeyPair : keys[i] as KeyPair), CHAIN, g, pq), 'BAD_SIGNATURE')
    expectFail(verifyManagerTx(signed(g, add, [0, 1, 2], 'other-chain'), CHAIN, g, pq), 'BAD_SIGNATURE')
    expectFail(verifyManagerTx(signed({ ...g, activationHeight: 9 }, add, [0, 1, 2]), CHAIN, g, pq), 'STALE_CONFIG')
    // the change itself must apply
    expectFail(verifyManagerTx(signed(g, { action: 'add', manager: manager(1) }, [0, 1, 2]), CHAIN, g, pq), 'DUPLICATE')
    expectFail(verifyManagerTx(signed(g, { action: 'remove', hospitalId: hospitalIdOf((keys[5] as KeyPair).publicKey) }, [0, 1, 2]), CHAIN, g, pq), 'UNKNOWN_VALIDATOR')
    expectFail(verifyManagerTx(signed(g, { action: 'rotate', hospitalId: g.managers[1]?.hospitalId as Uint8Array, sigPublicKey: (keys[2] as KeyPair).publicKey, peerId: peer(11), addrs: [] }, [0, 1, 2]), CHAIN, g, pq), 'DUPLICATE')
    // an added manager's hospital id is SHA-256 of its key (shape)
    const badAdd = signed(g, add, [0, 1, 2])
    assert.throws(() => encodeTx({ ...badAdd, change: { action: 'add', manager: { ...manager(4), hospitalId: sha256(utf8('x')) } } }), /SHA-256/)
  })

  it('round-trips a manager tx through the tx codec', () => {
    const tx = signed(g, { action: 'remove', hospitalId: g.managers[3]?.hospitalId as Uint8Array }, [0, 1, 2])
    const back = decodeTx(encodeTx(tx))
    assert.deepEqual(back, tx)
    assert.throws(() => encodeTx({ ...tx, action: 'add' }), /manager tx change/)
    assert.throws(() => encodeTx({ ...tx, change: { ...tx.change, action: 'rotate' } } as ManagerTx), /manager tx change/)
  })

  it('a manager tx of a 128-manager set (86 signatures, ~290 KB) encodes and decodes: MAX_MANAGER_TX_BYTES, not MAX_TX_BYTES; larger ones are refused', () => {
    const small = signed(g, { action: 'remove', hospitalId: g.managers[3]?.hospitalId as Uint8Array }, [0])
    const sig = (small.signatures[0] as ManagerTx['signatures'][number]).signature
    const many = (n: number): ManagerTx => ({ ...small, signatures: Array.from({ length: n }, (_, i) => ({ hospitalId: sha256(utf8(`h${i}`)), signature: sig })) })
    const q128 = Math.floor(2 * MAX_VALIDATORS / 3) + 1
    const bytes = encodeTx(many(q128))
    assert.ok(bytes.length > MAX_TX_BYTES && bytes.length <= MAX_MANAGER_TX_BYTES, `${bytes.length} bytes`)
    assert.equal((decodeTx(bytes) as ManagerTx).signatures.length, q128)
    // a record-sized limit for every other kind: 64 KiB + 1 bytes of anything else is refused before parsing
    assert.throws(() => decodeTx(new Uint8Array(MAX_TX_BYTES + 1)), /OVERSIZED|at most/)
  })

  it('applies add (appended), remove (later managers move up) and rotate (same id and place, new key)', () => {
    const added = applyChange(g, { action: 'add', manager: manager(4) }, 7)
    assert.equal(added.activationHeight, 7)
    assert.equal(added.managers.length, 5)
    assert.equal(configQuorum(added), 4)
    assert.equal(managerIndex(added, hospitalIdOf((keys[4] as KeyPair).publicKey)), 4)
    const removed = applyChange(added, { action: 'remove', hospitalId: g.managers[1]?.hospitalId as Uint8Array }, 9)
    assert.deepEqual(removed.managers.map((m) => m.name), ['hospital-0', 'hospital-2', 'hospital-3', 'hospital-4'])
    const h2 = g.managers[2]?.hospitalId as Uint8Array
    const rotated = applyChange(removed, { action: 'rotate', hospitalId: h2, sigPublicKey: (keys[5] as KeyPair).publicKey, peerId: peer(12), addrs: [] }, 12)
    assert.equal(managerIndex(rotated, h2), 1)
    assert.deepEqual(hospitalKey(rotated, h2), (keys[5] as KeyPair).publicKey)
    assert.equal(hospitalKey(rotated, g.managers[1]?.hospitalId as Uint8Array), undefined)
    assert.throws(() => applyChange(g, { action: 'add', manager: manager(4) }, 1), /activation height/)
    const one = genesisConfig([{ name: 'solo', sigPublicKey: (keys[0] as KeyPair).publicKey, peerId: peer(0), addrs: [] }])
    assert.throws(() => applyChange(one, { action: 'remove', hospitalId: one.managers[0]?.hospitalId as Uint8Array }, 2), /last manager/)
  })

  it('history: a change committed at c certifies from c + delay; a second change while one is pending is refused; a rotated key signs from the boundary', () => {
    let h = new ConsortiumHistory([g], 2)
    assert.throws(() => new ConsortiumHistory([g], 1), /delay/)
    const add = signed(g, { action: 'add', manager: manager(4) }, [0, 1, 2])
    assert.deepEqual(h.check(add, CHAIN, 5, pq), { ok: true })
    h = h.commit(add, 5)
    assert.equal(h.at(6).managers.length, 4, 'height c+1 is still certified by the old set')
    assert.equal(h.at(7).managers.length, 5, 'c + delay: the new set')
    assert.deepEqual(h.hashAt(6), configHash(g))
    assert.deepEqual(h.hashAt(7), configHash(h.latest))
    assert.equal(h.pendingAt(6), 7)
    assert.equal(h.pendingAt(7), null)
    // a second change while the first is pending: refused, whatever it is signed against
    const rotate: ManagerChange = { action: 'rotate', hospitalId: g.managers[0]?.hospitalId as Uint8Array, sigPublicKey: (keys[5] as KeyPair).publicKey, peerId: peer(10), addrs: [] }
    expectFail(h.check(signed(g, rotate, [0, 1, 2]), CHAIN, 6, pq), 'CHANGE_PENDING')
    expectFail(h.check(signed(h.latest, rotate, [0, 1, 2, 3]), CHAIN, 6, pq), 'CHANGE_PENDING')
    // in effect: signed against the old set it is stale; the new set needs 4 of 5
    expectFail(h.check(signed(g, rotate, [0, 1, 2]), CHAIN, 8, pq), 'STALE_CONFIG')
    expectFail(h.check(signed(h.latest, rotate, [0, 1, 2]), CHAIN, 8, pq), 'NO_QUORUM')
    const rot = signed(h.latest, rotate, [0, 1, 2, 4])
    assert.deepEqual(h.check(rot, CHAIN, 8, pq), { ok: true })
    h = h.commit(rot, 8)
    assert.equal(h.byHash(h.hashAt(10))?.activationHeight, 10)
    // from the boundary, hospital 0 signs with its new key; its old key's signature no longer counts
    const remove: ManagerChange = { action: 'remove', hospitalId: g.managers[3]?.hospitalId as Uint8Array }
    const withNew = signed(h.latest, remove, [0, 1, 2, 4], CHAIN, (i) => i === 0 ? keys[5] as KeyPair : keys[i] as KeyPair)
    assert.deepEqual(h.check(withNew, CHAIN, 10, pq), { ok: true })
    expectFail(h.check(signed(h.latest, remove, [0, 1, 2, 4]), CHAIN, 10, pq), 'BAD_SIGNATURE')
    // stored configurations restore the same history (what a restarted manager reads)
    const again = new ConsortiumHistory(h.configs.map((c) => decodeConsortiumConfig(encodeConsortiumConfig(c))), 2)
    assert.deepEqual(again.hashAt(10), h.hashAt(10))
    assert.throws(() => new ConsortiumHistory([h.configs[1] as ConsortiumConfig]), /height 1/)
  })
})
