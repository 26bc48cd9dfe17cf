import assert from 'node:assert/strict'
import { loadPqBackend, noblePq, type PqBackend } from '../../src/crypto/index.js'
import {
  createGrant, createKeyTransfer, decodeJsonField, decryptAttachment, decryptFields, kemKeyId, openGrant,
  openKeyTransfer, openRecord, sealRecord, signGrant, verifyGrant, verifyGrantSignature, verifyRecord,
  verifyRecordSignature, FIELD_PRESCRIPTIONS, FIELD_SYMPTOMS
} from '../../src/records/index.js'
import { bytes32, doctor, fieldKeys, fields, indexUpdatesHash, patient, recordId, researcher, TIME, owner } from './fixtures.js'

describe('records: paper 1 flow (patient → doctor → sealed record → verify → decrypt → grant)', () => {
  let pq: PqBackend
  before(async () => { pq = await loadPqBackend() })

  it('runs the whole flow end to end', () => {
    // 1. patient → doctor: cip0
    const cip0 = createKeyTransfer(pq, { recordId, patientId: patient.id, fieldKeys, personalInfo: fields.personalInfo }, doctor.kem.publicKey)
    // 2. doctor opens cip0
    const t = openKeyTransfer(pq, cip0, doctor.kem.secretKey, { recordId, patientId: patient.id })
    assert.deepEqual(t.recordId, recordId)
    assert.deepEqual(t.patientId, patient.id)
    assert.deepEqual(t.fieldKeys, fieldKeys)
    assert.deepEqual(decodeJsonField(t.personalInfo), { name: 'Ada Patient', born: 1980, sex: 'F' })
    // 3-4. doctor fills, encrypts, signs
    const scan = new Uint8Array(4096).map((_, i) => i * 7)
    const sealed = sealRecord(pq, doctor.sig.secretKey, {
      recordId,
      owner,
      fieldKeys: t.fieldKeys,
      fields: { personalInfo: t.personalInfo, symptoms: fields.symptoms, prescriptions: fields.prescriptions },
      attachments: [{ key: bytes32('att-0'), name: 'chest-xray.png', mediaType: 'image/png', data: scan }],
      indexUpdatesHash,
      time: TIME
    })
    assert.equal(sealed.cip.length, 3)
    assert.equal(sealed.cipherHashes.length, 3)
    assert.equal(sealed.attachmentHashes.length, 1)
    assert.equal(sealed.time, TIME)
    // 6. anyone verifies with the doctor's public key
    const v = verifyRecord(pq, doctor.sig.publicKey, sealed, sealed)
    assert.deepEqual(v, { valid: true, signature: true, cip: ['valid', 'valid', 'valid'], attachments: ['valid'] })
    assert.equal(verifyRecordSignature(pq, doctor.sig.publicKey, sealed, sealed.signature), true)
    // hashes only (what the chain holds), no ciphertexts
    const onChain = { recordId, owner, cipherHashes: sealed.cipherHashes, attachmentHashes: sealed.attachmentHashes, indexUpdatesHash, time: TIME, signature: sealed.signature }
    assert.deepEqual(verifyRecord(pq, doctor.sig.publicKey, onChain), { valid: true, signature: true, cip: ['unchecked', 'unchecked', 'unchecked'], attachments: ['unchecked'] })
    // the patient decrypts with its own field keys
    const opened = openRecord(pq, doctor.sig.publicKey, onChain, { cip: sealed.cip }, fieldKeys)
    assert.deepEqual(opened, fields)
    assert.deepEqual(decryptFields(fieldKeys, recordId, sealed.cip), fields)
    assert.deepEqual(decryptAttachment(bytes32('att-0'), recordId, 0, sealed.attachments[0] as Uint8Array), { name: 'chest-xray.png', mediaType: 'image/png', data: scan })
    // the patient grants symptoms + prescriptions to a researcher
    const wrapped = createGrant(pq, { recordId, fields: [FIELD_PRESCRIPTIONS, FIELD_SYMPTOMS], fieldKeys, granteeKemPublicKey: researcher.kem.publicKey, grantorId: patient.id })
    const grant = { recordId, grantor: patient.id, grantee: kemKeyId(researcher.kem.publicKey), fields: [1, 2], wrapped, time: TIME + 1 }
    const signature = signGrant(pq, patient.sig.secretKey, grant)
    assert.equal(verifyGrantSignature(pq, patient.sig.publicKey, grant, signature), true)
    assert.deepEqual(verifyGrant(pq, patient.sig.publicKey, { ...grant, signature }), { valid: true, signature: true, grantorKey: true, wrappedConsistent: true })
    const g = openGrant(pq, wrapped, researcher.kem.secretKey, { recordId })
    assert.deepEqual(g.fields, [1, 2])
    assert.deepEqual(g.grantorId, patient.id)
    const seen = openRecord(pq, doctor.sig.publicKey, onChain, { cip: sealed.cip }, g.keys)
    assert.deepEqual(seen, { symptoms: fields.symptoms, prescriptions: fields.prescriptions })
    assert.deepEqual(decodeJsonField(seen.symptoms as Uint8Array), ['fever', 'cough'])
  })

  it('the doctor can grant too (it holds the keys after cip0)', () => {
    const wrapped = createGrant(pq, { recordId, fields: [0], fieldKeys, granteeKemPublicKey: researcher.kem.publicKey, grantorId: doctor.id })
    const grant = { recordId, grantor: doctor.id, grantee: kemKeyId(researcher.kem.publicKey), fields: [0], wrapped, time: TIME }
    const sig = signGrant(pq, doctor.sig.secretKey, grant)
    assert.equal(verifyGrantSignature(pq, doctor.sig.publicKey, grant, sig), true)
    assert.equal(verifyGrantSignature(pq, patient.sig.publicKey, grant, sig), false)
  })
})

describe('records: cross-backend (noble ↔ liboqs)', function () {
  this.timeout(20000)
  let oqs: PqBackend
  before(async function () {
    oqs = await loadPqBackend({ backend: 'liboqs', warn: () => {} })
    if (oqs.name !== 'liboqs') this.skip()
  })

  const seal = (pq: PqBackend): ReturnType<typeof sealRecord> => sealRecord(pq, doctor.sig.secretKey, { recordId, owner, fieldKeys, fields, indexUpdatesHash, time: TIME })

  it('sealed with noble, verified with liboqs', () => {
    const s = seal(noblePq)
    assert.equal(verifyRecord(oqs, doctor.sig.publicKey, s, s).valid, true)
    assert.equal(verifyRecord(oqs, doctor.sig.publicKey, { ...s, time: TIME + 1 }, s).valid, false)
  })

  it('sealed with liboqs, verified with noble', () => {
    const s = seal(oqs)
    assert.equal(verifyRecord(noblePq, doctor.sig.publicKey, s, s).valid, true)
    assert.equal(verifyRecord(noblePq, doctor.sig.publicKey, { ...s, indexUpdatesHash: bytes32('x') }, s).valid, false)
  })

  it('cip0 and grants interoperate both ways', () => {
    for (const [a, b] of [[noblePq, oqs], [oqs, noblePq]] as const) {
      const cip0 = createKeyTransfer(a, { recordId, patientId: patient.id, fieldKeys, personalInfo: fields.personalInfo }, doctor.kem.publicKey)
      assert.deepEqual(openKeyTransfer(b, cip0, doctor.kem.secretKey).fieldKeys, fieldKeys)
      const wrapped = createGrant(a, { recordId, fields: [2], fieldKeys, granteeKemPublicKey: researcher.kem.publicKey, grantorId: patient.id })
      assert.deepEqual(openGrant(b, wrapped, researcher.kem.secretKey, { recordId }).keys.get(2), fieldKeys[2])
    }
  })
})
