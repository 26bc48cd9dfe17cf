import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import {
  BlockError, decodeTx, encodeTx, governanceSigningPayload, hospitalId, signGovernanceTx, validateTx, verifyGovernanceSignature,
  type DoctorTx, type UnsignedGovernanceTx, type UserNodeTx
} from '../../src/blocks/index.js'
import { kemKeygen, loadPqBackend, sha256, sigKeygen, type PqBackend } from '../../src/crypto/index.js'

const PEER = '12D3KooWGRUVh7hS8aS3dVcjYnVMjKMbXu5yYsDmjymnWNEi3Dc4'

describe('blocks/governance: doctor and user-node txs', function () {
  this.timeout(60_000)
  let pq: PqBackend
  const manager = sigKeygen(new Uint8Array(32).fill(1))
  const otherManager = sigKeygen(new Uint8Array(32).fill(2))
  const doctor = { sig: sigKeygen(new Uint8Array(32).fill(3)), kem: kemKeygen(new Uint8Array(64).fill(4)) }
  const hospital = hospitalId(manager.publicKey)
  const add: UnsignedGovernanceTx = { type: 'doctor', action: 'add', hospital, doctor: sha256(doctor.sig.publicKey), name: 'Dr. Ada', sigPublicKey: doctor.sig.publicKey, kemPublicKey: doctor.kem.publicKey, time: 1000 }
  const revoke: UnsignedGovernanceTx = { type: 'doctor', action: 'revoke', hospital, doctor: sha256(doctor.sig.publicKey), time: 1001 }
  const user: UnsignedGovernanceTx = { type: 'user-node', action: 'add', hospital, peerId: PEER, time: 1002 }

  before(async () => { pq = await loadPqBackend() })

  it('hospital id is SHA-256 of the manager key', () => {
    assert.deepEqual(hospitalId(manager.publicKey), sha256(manager.publicKey))
  })

  it('signed txs round-trip through the canonical codec and verify under the hospital key only', () => {
    for (const u of [add, revoke, user]) {
      const tx = signGovernanceTx(pq, 'pqmed-test', manager.secretKey, u) as DoctorTx | UserNodeTx
      const back = decodeTx(encodeTx(tx))
      assert.deepEqual(back, tx)
      assert.equal(validateTx(tx).ok, true)
      assert.equal(verifyGovernanceSignature(pq, 'pqmed-test', manager.publicKey, tx), true)
      assert.equal(verifyGovernanceSignature(pq, 'pqmed-test', otherManager.publicKey, tx), false, 'another hospital\'s key')
      assert.equal(verifyGovernanceSignature(pq, 'pqmed-other', manager.publicKey, tx), false, 'another chain')
    }
  })

  it('the signature covers every field (domain-separated payload)', () => {
    const tx = signGovernanceTx(pq, 'pqmed-test', manager.secretKey, add) as DoctorTx
    assert.equal(verifyGovernanceSignature(pq, 'pqmed-test', manager.publicKey, { ...tx, name: 'Dr. Eve' } as DoctorTx), false)
    assert.equal(verifyGovernanceSignature(pq, 'pqmed-test', manager.publicKey, { ...tx, time: 1 }), false)
    const payload = dagCbor.decode<unknown[]>(governanceSigningPayload('pqmed-test', add))
    assert.equal(payload[0], 'pqmed/governance-sig/1')
    assert.equal(payload[1], 'pqmed-test')
  })

  it('refuses wrong shapes: extra or missing fields per action, a doctor id that is not its key hash, a bad peer id', () => {
    const sig = new Uint8Array(pq.sign(new Uint8Array(1), manager.secretKey))
    const bad: unknown[] = [
      { ...add, signature: sig, doctor: new Uint8Array(32) }, // add: doctor must be SHA-256(sigPublicKey)
      { ...revoke, signature: sig, name: 'x' }, // revoke carries no name
      { ...add, signature: sig, action: 'remove' },
      { ...add, signature: sig, name: '' },
      { type: 'doctor', action: 'rotate', hospital, doctor: sha256(doctor.sig.publicKey), sigPublicKey: doctor.sig.publicKey, time: 1, signature: sig }, // no kem key
      { ...user, signature: sig, peerId: 'not a peer id!' },
      { ...user, signature: sig, action: 'revoke' }
    ]
    for (const b of bad) assert.throws(() => encodeTx(b as DoctorTx), BlockError, JSON.stringify(Object.keys(b as object)))
  })
})
