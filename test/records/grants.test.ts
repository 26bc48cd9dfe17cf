import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { loadPqBackend, sha256, sigKeygen, type KeyPair, type PqBackend } from '../../src/crypto/index.js'
import {
  authorizeGrant, createGrant, grantSigningPayload, inspectGrant, kemKeyId, openGrant, openRecord, sealRecord, signGrant,
  verifyGrant, verifyGrantSignature, type GrantSigningParts, type SealedRecord
} from '../../src/records/index.js'
import { doctor, fieldKeys, fields, flip, indexUpdatesHash, otherRecordId, patient, recordId, researcher, stranger, TIME, throwsCode, owner } from './fixtures.js'

describe('records: access grants', () => {
  let pq: PqBackend
  let sealed: SealedRecord
  before(async () => {
    pq = await loadPqBackend()
    sealed = sealRecord(pq, doctor.sig.secretKey, { recordId, owner, fieldKeys, fields, indexUpdatesHash, time: TIME })
  })
  const grantTo = (kemPk: Uint8Array, fs: number[]): Uint8Array => createGrant(pq, { recordId, fields: fs, fieldKeys, granteeKemPublicKey: kemPk, grantorId: patient.id })

  it('a grant of fields [1] reveals field 1 only', () => {
    const wrapped = grantTo(researcher.kem.publicKey, [1])
    const g = openGrant(pq, wrapped, researcher.kem.secretKey, { recordId })
    assert.deepEqual([...g.keys.keys()], [1])
    assert.deepEqual(g.keys.get(1), fieldKeys[1])
    // the blob carries exactly one wrapped key: no bytes of keys 0 or 2 are in it, even encrypted
    assert.equal(wrapped.length, grantTo(researcher.kem.publicKey, [2]).length)
    assert.equal(grantTo(researcher.kem.publicKey, [0, 1]).length - wrapped.length, 32)
    const seen = openRecord(pq, doctor.sig.publicKey, sealed, sealed, g.keys)
    assert.deepEqual(seen, { symptoms: fields.symptoms })
    // the granted key does not open the other fields
    throwsCode(() => openRecord(pq, doctor.sig.publicKey, sealed, sealed, new Map([[0, fieldKeys[1]], [2, fieldKeys[1]]])), 'WRONG_KEY')
  })

  it('only the listed fields are wrapped, whatever keys are passed; any order, canonical output', () => {
    const wrapped = createGrant(pq, { recordId, fields: [2, 0], fieldKeys: new Map([[0, fieldKeys[0]], [2, fieldKeys[2]], [1, fieldKeys[1]]]), granteeKemPublicKey: researcher.kem.publicKey, grantorId: patient.id })
    const g = openGrant(pq, wrapped, researcher.kem.secretKey, { recordId })
    assert.deepEqual(g.fields, [0, 2])
    assert.deepEqual(g.keys, new Map([[0, fieldKeys[0]], [2, fieldKeys[2]]]))
    assert.deepEqual(inspectGrant(wrapped), { recordId, grantorId: patient.id, grantee: kemKeyId(researcher.kem.publicKey), fields: [0, 2] })
  })

  it('a grant to A cannot be opened by B → WRONG_KEY', () => {
    const wrapped = grantTo(researcher.kem.publicKey, [1, 2])
    throwsCode(() => openGrant(pq, wrapped, stranger.kem.secretKey, { recordId }), 'WRONG_KEY')
    // even if B rewrites the recipient id in the header, the KEM and the AEAD refuse
    const rewritten = wrapped.slice(); rewritten.set(kemKeyId(stranger.kem.publicKey), 67)
    throwsCode(() => openGrant(pq, rewritten, stranger.kem.secretKey, { recordId }), 'TAMPERED')
  })

  it('opened with the wrong expected record id → WRONG_RECORD_ID; re-labelled header → TAMPERED', () => {
    const wrapped = grantTo(researcher.kem.publicKey, [1])
    throwsCode(() => openGrant(pq, wrapped, researcher.kem.secretKey, { recordId: otherRecordId }), 'WRONG_RECORD_ID')
    const relabelled = wrapped.slice(); relabelled.set(otherRecordId, 3)
    throwsCode(() => openGrant(pq, relabelled, researcher.kem.secretKey, { recordId: otherRecordId }), 'TAMPERED')
    // widening [1] to [2] keeps the length valid but breaks authentication
    const widened = wrapped.slice(); widened[2] = 0b100
    throwsCode(() => openGrant(pq, widened, researcher.kem.secretKey, { recordId }), 'TAMPERED')
    throwsCode(() => openGrant(pq, flip(wrapped, -3), researcher.kem.secretKey, { recordId }), 'TAMPERED')
  })

  it('malformed blobs and bad inputs', () => {
    const wrapped = grantTo(researcher.kem.publicKey, [1])
    const m = wrapped.slice(); m[2] = 0b011 // claims two keys, carries one
    throwsCode(() => inspectGrant(m), 'MALFORMED')
    const z = wrapped.slice(); z[2] = 0
    throwsCode(() => inspectGrant(z), 'MALFORMED')
    throwsCode(() => inspectGrant(wrapped.subarray(0, 50)), 'MALFORMED')
    throwsCode(() => inspectGrant(new Uint8Array(5000)), 'TOO_LARGE')
    throwsCode(() => grantTo(researcher.kem.publicKey, []), 'BAD_INPUT')
    throwsCode(() => grantTo(researcher.kem.publicKey, [1, 1]), 'BAD_INPUT')
    throwsCode(() => grantTo(researcher.kem.publicKey, [3]), 'BAD_INPUT')
    throwsCode(() => createGrant(pq, { recordId, fields: [0], fieldKeys: new Map([[1, fieldKeys[1]]]), granteeKemPublicKey: researcher.kem.publicKey, grantorId: patient.id }), 'BAD_INPUT')
    throwsCode(() => createGrant(pq, { recordId, fields: [0], fieldKeys, granteeKemPublicKey: researcher.kem.publicKey, grantorId: new Uint8Array(3) }), 'BAD_INPUT')
  })

  describe('grant signature (consent log entry)', () => {
    let parts: GrantSigningParts
    let signature: Uint8Array
    before(() => {
      const wrapped = grantTo(researcher.kem.publicKey, [1, 2])
      parts = { recordId, grantor: patient.id, grantee: kemKeyId(researcher.kem.publicKey), fields: [1, 2], wrapped, time: TIME }
      signature = signGrant(pq, patient.sig.secretKey, parts)
    })

    it('verifies, and binds every part', () => {
      assert.equal(verifyGrantSignature(pq, patient.sig.publicKey, parts, signature), true)
      const variants: GrantSigningParts[] = [
        { ...parts, recordId: otherRecordId },
        { ...parts, grantee: kemKeyId(stranger.kem.publicKey) },
        { ...parts, fields: [2] },
        { ...parts, wrapped: flip(parts.wrapped, 10) },
        { ...parts, time: TIME + 1 }
      ]
      for (const v of variants) assert.equal(verifyGrantSignature(pq, patient.sig.publicKey, v, signature), false)
      assert.equal(verifyGrantSignature(pq, patient.sig.publicKey, parts, flip(signature, 7)), false)
    })

    it('a key whose id is not the grantor is refused, even with a valid signature of that key', () => {
      const byStranger = signGrant(pq, stranger.sig.secretKey, parts)
      assert.equal(verifyGrantSignature(pq, stranger.sig.publicKey, parts, byStranger), false)
      assert.deepEqual(verifyGrant(pq, stranger.sig.publicKey, { ...parts, signature: byStranger }), { valid: false, signature: true, grantorKey: false, wrappedConsistent: true })
    })

    it('verifyGrant flags a wrapped blob that does not match the tx', () => {
      const otherWrapped = grantTo(stranger.kem.publicKey, [1, 2])
      const tx = { ...parts, wrapped: otherWrapped }
      const sig = signGrant(pq, patient.sig.secretKey, tx)
      assert.deepEqual(verifyGrant(pq, patient.sig.publicKey, { ...tx, signature: sig }), { valid: false, signature: true, grantorKey: true, wrappedConsistent: false })
    })

    it('the payload requires a canonical field list', () => {
      throwsCode(() => grantSigningPayload({ ...parts, fields: [2, 1] }), 'BAD_INPUT')
      throwsCode(() => grantSigningPayload({ ...parts, fields: [] }), 'BAD_INPUT')
      assert.equal(verifyGrantSignature(pq, patient.sig.publicKey, { ...parts, fields: [2, 1] }, signature), false)
      assert.deepEqual(dagCbor.decode(grantSigningPayload(parts)), ['pqmed/grant-sig/1', recordId, patient.id, parts.grantee, [1, 2], sha256(parts.wrapped), TIME])
    })
  })

  describe('authorizeGrant: only the record\'s doctor or its owner may grant', () => {
    // the patient's per-record owner key (in the client it is derived from the PUF secret and the record id)
    const ownerKey: KeyPair = sigKeygen(sha256(new TextEncoder().encode('owner key of record-1')))
    const record = { recordId, doctor: doctor.id, owner: sha256(ownerKey.publicKey) }
    const grantBy = (key: KeyPair, fs = [1, 2]): GrantSigningParts & { grantorKey: Uint8Array, signature: Uint8Array } => {
      const grantor = sha256(key.publicKey)
      const wrapped = createGrant(pq, { recordId, fields: fs, fieldKeys, granteeKemPublicKey: researcher.kem.publicKey, grantorId: grantor })
      const parts = { recordId, grantor, grantee: kemKeyId(researcher.kem.publicKey), fields: fs, wrapped, time: TIME }
      return { ...parts, grantorKey: key.publicKey, signature: signGrant(pq, key.secretKey, parts) }
    }

    it('the record\'s owner and the record\'s doctor (with its registered key) may grant', () => {
      assert.deepEqual(authorizeGrant(pq, grantBy(ownerKey), record, doctor.sig.publicKey), { ok: true, role: 'owner' })
      assert.deepEqual(authorizeGrant(pq, grantBy(doctor.sig), record, doctor.sig.publicKey), { ok: true, role: 'doctor' })
    })

    it('a stranger, or the patient\'s identity key, is UNAUTHORIZED_GRANTOR even with a valid signature', () => {
      for (const k of [stranger.sig, patient.sig]) {
        const r = authorizeGrant(pq, grantBy(k), record, doctor.sig.publicKey)
        assert.equal(r.ok, false)
        assert.equal(!r.ok && r.code, 'UNAUTHORIZED_GRANTOR')
      }
    })

    it('grantorKey must hash to grantor; the doctor id needs the registered doctor key', () => {
      // the owner's id with a stranger's key and signature
      const forged = { ...grantBy(stranger.sig), grantor: record.owner }
      assert.equal((authorizeGrant(pq, forged, record, doctor.sig.publicKey) as { code?: string }).code, 'UNAUTHORIZED_GRANTOR')
      // the owner's key under the doctor's id
      const g = grantBy(ownerKey)
      assert.equal((authorizeGrant(pq, { ...g, grantorKey: stranger.sig.publicKey }, record, doctor.sig.publicKey) as { code?: string }).code, 'UNAUTHORIZED_GRANTOR')
      // a doctor grant when the doctor's key is unknown (not registered) is refused
      assert.equal((authorizeGrant(pq, grantBy(doctor.sig), record, undefined) as { code?: string }).code, 'UNAUTHORIZED_GRANTOR')
      // a grant for another record
      assert.equal((authorizeGrant(pq, grantBy(ownerKey), { ...record, recordId: otherRecordId }, doctor.sig.publicKey) as { code?: string }).code, 'UNAUTHORIZED_GRANTOR')
    })

    it('an authorized grantor with a bad signature or a mismatched wrapped blob is BAD_SIGNATURE', () => {
      const g = grantBy(ownerKey)
      assert.equal((authorizeGrant(pq, { ...g, signature: flip(g.signature, 5) }, record, undefined) as { code?: string }).code, 'BAD_SIGNATURE')
      assert.equal((authorizeGrant(pq, { ...g, time: TIME + 1 }, record, undefined) as { code?: string }).code, 'BAD_SIGNATURE')
    })
  })
})
