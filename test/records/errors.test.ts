import assert from 'node:assert/strict'
import { loadPqBackend, SUITE, type PqBackend } from '../../src/crypto/index.js'
import {
  createKeyTransfer, decodeJsonField, decryptField, encryptField, encryptFields, inspectField, openKeyTransfer,
  openRecord, sealRecord, verifyRecord, verifyRecordSignature, MAX_FIELD_BYTES, MAX_KEY_TRANSFER_BYTES,
  type SealedRecord
} from '../../src/records/index.js'
import { bytes32, doctor, fieldKeys, fields, flip, indexUpdatesHash, otherRecordId, patient, recordId, stranger, throwsCode, TIME, owner } from './fixtures.js'


describe('records: misuse is refused with the matching error code', () => {
  let pq: PqBackend
  let sealed: SealedRecord
  let cip0: Uint8Array
  before(async () => {
    pq = await loadPqBackend()
    sealed = sealRecord(pq, doctor.sig.secretKey, { recordId, owner, fieldKeys, fields, indexUpdatesHash, time: TIME })
    cip0 = createKeyTransfer(pq, { recordId, patientId: patient.id, fieldKeys, personalInfo: fields.personalInfo }, doctor.kem.publicKey)
  })

  describe('key transfer (cip0)', () => {
    it('opened with the wrong doctor key → WRONG_KEY', () => {
      throwsCode(() => openKeyTransfer(pq, cip0, stranger.kem.secretKey), 'WRONG_KEY')
    })
    it('for another record or from another patient → WRONG_RECORD_ID / WRONG_PATIENT', () => {
      throwsCode(() => openKeyTransfer(pq, cip0, doctor.kem.secretKey, { recordId: otherRecordId }), 'WRONG_RECORD_ID')
      throwsCode(() => openKeyTransfer(pq, cip0, doctor.kem.secretKey, { patientId: stranger.id }), 'WRONG_PATIENT')
    })
    it('tampered body, KEM ciphertext or header → TAMPERED', () => {
      throwsCode(() => openKeyTransfer(pq, flip(cip0, -1), doctor.kem.secretKey), 'TAMPERED')
      throwsCode(() => openKeyTransfer(pq, flip(cip0, 200), doctor.kem.secretKey), 'TAMPERED') // inside the KEM ciphertext
      // header re-labelled with another record id (and the expectation matching the lie)
      const relabelled = cip0.slice(); relabelled.set(otherRecordId, 2)
      throwsCode(() => openKeyTransfer(pq, relabelled, doctor.kem.secretKey, { recordId: otherRecordId }), 'TAMPERED')
      const otherPatient = cip0.slice(); otherPatient.set(stranger.id, 34)
      throwsCode(() => openKeyTransfer(pq, otherPatient, doctor.kem.secretKey), 'TAMPERED')
    })
    it('truncated, unknown version or kind → MALFORMED; oversize → TOO_LARGE', () => {
      throwsCode(() => openKeyTransfer(pq, cip0.subarray(0, 500), doctor.kem.secretKey), 'MALFORMED')
      const v2 = cip0.slice(); v2[0] = 2
      throwsCode(() => openKeyTransfer(pq, v2, doctor.kem.secretKey), 'MALFORMED')
      const k = cip0.slice(); k[1] = 0x02
      throwsCode(() => openKeyTransfer(pq, k, doctor.kem.secretKey), 'MALFORMED')
      throwsCode(() => openKeyTransfer(pq, new Uint8Array(MAX_KEY_TRANSFER_BYTES + 1), doctor.kem.secretKey), 'TOO_LARGE')
      throwsCode(() => createKeyTransfer(pq, { recordId, patientId: patient.id, fieldKeys, personalInfo: new Uint8Array(MAX_FIELD_BYTES + 1) }, doctor.kem.publicKey), 'TOO_LARGE')
    })
    it('bad lengths at the boundary → BAD_INPUT', () => {
      const ok = { recordId, patientId: patient.id, fieldKeys, personalInfo: fields.personalInfo }
      throwsCode(() => createKeyTransfer(pq, { ...ok, recordId: new Uint8Array(31) }, doctor.kem.publicKey), 'BAD_INPUT')
      throwsCode(() => createKeyTransfer(pq, { ...ok, patientId: new Uint8Array(33) }, doctor.kem.publicKey), 'BAD_INPUT')
      throwsCode(() => createKeyTransfer(pq, { ...ok, fieldKeys: [fieldKeys[0], fieldKeys[1], new Uint8Array(16)] }, doctor.kem.publicKey), 'BAD_INPUT')
      throwsCode(() => createKeyTransfer(pq, ok, doctor.sig.publicKey), 'BAD_INPUT') // a signature key is not a KEM key
      throwsCode(() => openKeyTransfer(pq, cip0, doctor.kem.publicKey), 'BAD_INPUT')
      throwsCode(() => openKeyTransfer(pq, cip0, doctor.kem.secretKey, { recordId: new Uint8Array(5) }), 'BAD_INPUT')
    })
    it('an empty personal info round-trips', () => {
      const c = createKeyTransfer(pq, { recordId, patientId: patient.id, fieldKeys, personalInfo: new Uint8Array(0) }, doctor.kem.publicKey)
      assert.equal(openKeyTransfer(pq, c, doctor.kem.secretKey).personalInfo.length, 0)
    })
  })

  describe('field ciphertexts', () => {
    it('swapped record id → WRONG_RECORD_ID', () => {
      throwsCode(() => decryptField(fieldKeys[1], otherRecordId, 1, sealed.cip[1]), 'WRONG_RECORD_ID')
    })
    it('ciphertext moved to another record with its header rewritten → TAMPERED (AAD binding)', () => {
      const moved = sealed.cip[1].slice(); moved.set(otherRecordId, 3)
      throwsCode(() => decryptField(fieldKeys[1], otherRecordId, 1, moved), 'TAMPERED')
    })
    it('swapped fields → WRONG_FIELD, and with a rewritten header → TAMPERED', () => {
      throwsCode(() => decryptField(fieldKeys[1], recordId, 1, sealed.cip[2]), 'WRONG_FIELD')
      // same key for two fields, so only the AAD (field name) tells them apart
      const sameKey = encryptFields([fieldKeys[0], fieldKeys[0], fieldKeys[0]], recordId, fields)
      const relabelled = sameKey[2].slice(); relabelled[2] = 1
      throwsCode(() => decryptField(fieldKeys[0], recordId, 1, relabelled), 'TAMPERED')
    })
    it('wrong key → WRONG_KEY (key commitment)', () => {
      throwsCode(() => decryptField(fieldKeys[0], recordId, 1, sealed.cip[1]), 'WRONG_KEY')
    })
    it('tampered ciphertext → TAMPERED, and verifyRecord flags that field only', () => {
      const bad = flip(sealed.cip[1], -20)
      throwsCode(() => decryptField(fieldKeys[1], recordId, 1, bad), 'TAMPERED')
      throwsCode(() => decryptField(fieldKeys[1], recordId, 1, flip(sealed.cip[1], -1)), 'TAMPERED') // GCM tag
      const v = verifyRecord(pq, doctor.sig.publicKey, sealed, { cip: [sealed.cip[0], bad, sealed.cip[2]] })
      assert.deepEqual(v, { valid: false, signature: true, cip: ['valid', 'invalid', 'valid'], attachments: [] })
      throwsCode(() => openRecord(pq, doctor.sig.publicKey, sealed, { cip: [sealed.cip[0], bad, sealed.cip[2]] }, fieldKeys), 'TAMPERED')
    })
    it('truncated or foreign bytes → MALFORMED; oversize → TOO_LARGE; bad inputs → BAD_INPUT', () => {
      throwsCode(() => decryptField(fieldKeys[0], recordId, 0, sealed.cip[0].subarray(0, 60)), 'MALFORMED')
      const v9 = sealed.cip[0].slice(); v9[0] = 9
      throwsCode(() => decryptField(fieldKeys[0], recordId, 0, v9), 'MALFORMED')
      const f7 = sealed.cip[0].slice(); f7[2] = 7
      throwsCode(() => inspectField(f7), 'MALFORMED')
      throwsCode(() => decryptField(fieldKeys[0], recordId, 0, new Uint8Array(MAX_FIELD_BYTES + 200)), 'TOO_LARGE')
      throwsCode(() => encryptField(fieldKeys[0], recordId, 0, new Uint8Array(MAX_FIELD_BYTES + 1)), 'TOO_LARGE')
      throwsCode(() => encryptFields(fieldKeys, recordId, { ...fields, symptoms: new Uint8Array(MAX_FIELD_BYTES + 1) }), 'TOO_LARGE')
      throwsCode(() => decryptField(new Uint8Array(16), recordId, 0, sealed.cip[0]), 'BAD_INPUT')
      throwsCode(() => decryptField(fieldKeys[0], recordId, 3 as 0, sealed.cip[0]), 'BAD_INPUT')
      throwsCode(() => encryptField(fieldKeys[0], new Uint8Array(31), 0, fields.symptoms), 'BAD_INPUT')
      throwsCode(() => decodeJsonField(new Uint8Array([0xff])), 'MALFORMED')
    })
  })

  describe('record signature', () => {
    it('tampered signature → false, and openRecord throws BAD_SIGNATURE', () => {
      const badSig = flip(sealed.signature, 100)
      assert.equal(verifyRecordSignature(pq, doctor.sig.publicKey, sealed, badSig), false)
      const v = verifyRecord(pq, doctor.sig.publicKey, { ...sealed, signature: badSig }, sealed)
      assert.deepEqual(v, { valid: false, signature: false, cip: ['valid', 'valid', 'valid'], attachments: [] })
      throwsCode(() => openRecord(pq, doctor.sig.publicKey, { ...sealed, signature: badSig }, sealed, fieldKeys), 'BAD_SIGNATURE')
    })
    it('a signature does not carry over to a different indexUpdatesHash, time, record id, hash list or signer', () => {
      assert.equal(verifyRecordSignature(pq, doctor.sig.publicKey, sealed, sealed.signature), true)
      const variants = [
        { ...sealed, indexUpdatesHash: bytes32('other index updates') },
        { ...sealed, time: TIME + 1 },
        { ...sealed, recordId: otherRecordId },
        { ...sealed, cipherHashes: [sealed.cipherHashes[1], sealed.cipherHashes[0], sealed.cipherHashes[2]] },
        { ...sealed, attachmentHashes: [bytes32('phantom attachment')] }
      ]
      for (const v of variants) assert.equal(verifyRecordSignature(pq, doctor.sig.publicKey, v, sealed.signature), false)
      assert.equal(verifyRecordSignature(pq, stranger.sig.publicKey, sealed, sealed.signature), false)
    })
    it('verify never throws on malformed input', () => {
      assert.equal(verifyRecordSignature(pq, doctor.sig.publicKey, { ...sealed, recordId: new Uint8Array(3) }, sealed.signature), false)
      assert.equal(verifyRecordSignature(pq, new Uint8Array(SUITE.sigPublicKeyBytes - 1), sealed, sealed.signature), false)
      assert.equal(verifyRecordSignature(pq, doctor.sig.publicKey, { ...sealed, time: 1.5 }, sealed.signature), false)
      assert.equal(verifyRecordSignature(pq, doctor.sig.publicKey, sealed, new Uint8Array(10)), false)
      assert.equal(verifyRecord(pq, doctor.sig.publicKey, null as unknown as SealedRecord).valid, false)
    })
    it('sealRecord checks its inputs before any work → BAD_INPUT', () => {
      const input = { recordId, owner, fieldKeys, fields, indexUpdatesHash, time: TIME }
      throwsCode(() => sealRecord(pq, doctor.sig.publicKey, input), 'BAD_INPUT')
      throwsCode(() => sealRecord(pq, doctor.sig.secretKey, { ...input, indexUpdatesHash: new Uint8Array(8) }), 'BAD_INPUT')
      throwsCode(() => sealRecord(pq, doctor.sig.secretKey, { ...input, time: -1 }), 'BAD_INPUT')
      throwsCode(() => sealRecord(pq, doctor.sig.secretKey, { ...input, time: Number.MAX_SAFE_INTEGER + 2 }), 'BAD_INPUT')
    })
  })
})
