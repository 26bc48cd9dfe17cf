import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { loadPqBackend, noblePq, type PqBackend } from '../../src/crypto/index.js'
import {
  grantSigningPayload, kemKeyId, kemPublicKeyFromSecretKey, normalizeFields, patientSigningPayload, principalId,
  recordSigningPayload, signPatient, verifyPatientSignature, encodeJsonField, decodeJsonField, FIELD_NAMES, FIELD_INDEX,
  type PatientSigningParts, type RecordSigningParts
} from '../../src/records/index.js'
import { bytes32, doctor, patient, recordId, researcher, stranger, TIME, throwsCode } from './fixtures.js'

describe('records: signing payloads and patient enrollment', () => {
  let pq: PqBackend
  before(async () => { pq = await loadPqBackend() })
  const parts: RecordSigningParts = {
    recordId,
    owner: bytes32('owner'),
    cipherHashes: [bytes32('h1'), bytes32('h2'), bytes32('h3')],
    attachmentHashes: [bytes32('a0')],
    indexUpdatesHash: bytes32('iu'),
    time: TIME
  }

  it('the record payload is canonical dag-cbor with a domain tag, as a plain Uint8Array', () => {
    const p = recordSigningPayload(parts)
    assert.equal(p.constructor, Uint8Array) // liboqs refuses Buffers
    assert.deepEqual(dagCbor.decode(p), ['pqmed/record-sig/2', recordId, parts.owner, [...parts.cipherHashes], [...parts.attachmentHashes], parts.indexUpdatesHash, TIME])
    assert.deepEqual(recordSigningPayload({ ...parts, cipherHashes: parts.cipherHashes.map((h) => h.slice()) }), p)
    // moving an attachment hash into the field list or dropping it changes the payload (no ambiguity)
    assert.notDeepEqual(recordSigningPayload({ ...parts, attachmentHashes: [] }), p)
  })

  it('the record payload checks every length and the time', () => {
    throwsCode(() => recordSigningPayload({ ...parts, cipherHashes: parts.cipherHashes.slice(0, 2) }), 'BAD_INPUT')
    throwsCode(() => recordSigningPayload({ ...parts, cipherHashes: [bytes32('x'), bytes32('y'), new Uint8Array(31)] }), 'BAD_INPUT')
    throwsCode(() => recordSigningPayload({ ...parts, attachmentHashes: Array(17).fill(bytes32('a')) as Uint8Array[] }), 'BAD_INPUT')
    throwsCode(() => recordSigningPayload({ ...parts, indexUpdatesHash: new Uint8Array(0) }), 'BAD_INPUT')
    throwsCode(() => recordSigningPayload({ ...parts, time: 1.5 }), 'BAD_INPUT')
  })

  it('payloads of different kinds never coincide', () => {
    const grant = grantSigningPayload({ recordId, grantor: patient.id, grantee: kemKeyId(researcher.kem.publicKey), fields: [1], wrapped: new Uint8Array(10), time: TIME })
    assert.equal((dagCbor.decode(grant) as unknown[])[0], 'pqmed/grant-sig/1')
    assert.equal(grant.constructor, Uint8Array)
  })

  it('patient enrollment: self-signed, id bound to the key', () => {
    const p: PatientSigningParts = { patientId: principalId(patient.sig.publicKey), sigPublicKey: patient.sig.publicKey, kemPublicKey: patient.kem.publicKey, time: TIME }
    const sig = signPatient(pq, patient.sig.secretKey, p)
    assert.equal(verifyPatientSignature(pq, p, sig), true)
    assert.equal(verifyPatientSignature(noblePq, p, sig), true)
    assert.equal(verifyPatientSignature(pq, { ...p, kemPublicKey: stranger.kem.publicKey }, sig), false)
    assert.equal(verifyPatientSignature(pq, { ...p, time: TIME + 1 }, sig), false)
    // someone else's key with the patient's id: the id no longer matches the key
    assert.equal(verifyPatientSignature(pq, { ...p, sigPublicKey: stranger.sig.publicKey }, signPatient(pq, stranger.sig.secretKey, { ...p, sigPublicKey: stranger.sig.publicKey, patientId: stranger.id })), false)
    throwsCode(() => patientSigningPayload({ ...p, patientId: doctor.id }), 'BAD_INPUT')
    throwsCode(() => patientSigningPayload({ ...p, kemPublicKey: patient.sig.publicKey }), 'BAD_INPUT')
    assert.equal(patientSigningPayload(p).constructor, Uint8Array)
  })

  it('helpers: ids, KEM key embedded in the secret key, field names, JSON fields', () => {
    assert.deepEqual(kemPublicKeyFromSecretKey(doctor.kem.secretKey), doctor.kem.publicKey)
    assert.equal(principalId(doctor.sig.publicKey).length, 32)
    throwsCode(() => principalId(doctor.kem.publicKey), 'BAD_INPUT')
    assert.deepEqual(FIELD_NAMES, ['personalInfo', 'symptoms', 'prescriptions'])
    assert.deepEqual(FIELD_INDEX, { personalInfo: 0, symptoms: 1, prescriptions: 2 })
    assert.deepEqual(normalizeFields([2, 0]), [0, 2])
    assert.deepEqual(decodeJsonField(encodeJsonField({ a: [1, 'ü'] })), { a: [1, 'ü'] })
    throwsCode(() => encodeJsonField(undefined), 'BAD_INPUT')
    throwsCode(() => encodeJsonField(10n), 'BAD_INPUT')
  })
})
