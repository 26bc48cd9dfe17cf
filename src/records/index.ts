/**
 * `src/records`: the record envelope of pqmed, a pure library (no I/O, no clock). Paper 1's
 * Fig. 2 / Fig. 6 flow, done with ML-KEM-768 and ML-DSA-65:
 *
 * 1. The patient's client wraps the record's three field keys and the personal information to the
 *    doctor's ML-KEM public key: `createKeyTransfer` → cip0 (KEM-DEM: ML-KEM → HKDF-SHA256 →
 *    AES-256-GCM, bound to the record id, the patient id and the doctor's KEM key).
 * 2. The doctor's client opens cip0 (`openKeyTransfer`), fills symptoms and prescriptions and calls
 *    `sealRecord`: three key-committing AES-256-GCM field ciphertexts cip1..cip3 bound to the record
 *    id and field name, optional encrypted attachments (≤ 10 MiB each), and an ML-DSA-65 signature
 *    over `recordSigningPayload` (record id, ciphertext hashes, attachment hashes, index-updates
 *    hash, time).
 * 3. Anyone checks the record with the doctor's public key (`verifyRecord`, each check reported
 *    separately); a key holder decrypts (`openRecord`, `decryptField`, `decryptAttachment`).
 * 4. Sharing is per field: `createGrant` wraps chosen field keys to a grantee's ML-KEM key, the
 *    grantor signs the consent-log entry (`signGrant`), the grantee opens it (`openGrant`).
 * 5. Patients enroll with a self-signed `patientSigningPayload`.
 *
 * Every failure is a `RecordError` with a stable `code`; the `verify*` functions return booleans
 * or reports and never throw.
 *
 * @example
 * ```ts
 * import { loadPqBackend, sigKeygen, kemKeygen, randomBytes, utf8, sha256 } from '../crypto/index.js'
 * import * as records from '../records/index.js'
 *
 * const pq = await loadPqBackend()
 * const patient = { sig: sigKeygen(patientSeed32), kem: kemKeygen(patientSeed64) }
 * const doctor = { sig: sigKeygen(doctorSeed32), kem: kemKeygen(doctorSeed64) }
 * const patientId = records.principalId(patient.sig.publicKey)
 * const recordId = randomBytes(32)
 * const fieldKeys = [k0, k1, k2] as const                     // from src/puf, per record
 *
 * // patient → doctor
 * const cip0 = records.createKeyTransfer(pq, { recordId, patientId, fieldKeys,
 *   personalInfo: records.encodeJsonField({ name: 'A. Patient', born: 1980 }) }, doctor.kem.publicKey)
 *
 * // doctor: open, fill, seal
 * const t = records.openKeyTransfer(pq, cip0, doctor.kem.secretKey, { recordId, patientId })
 * const sealed = records.sealRecord(pq, doctor.sig.secretKey, {
 *   recordId, fieldKeys: t.fieldKeys, indexUpdatesHash, time: now,
 *   fields: { personalInfo: t.personalInfo, symptoms: utf8('["fever"]'), prescriptions: utf8('["rest"]') },
 *   attachments: [{ key: attKey, name: 'xray.png', mediaType: 'image/png', data: png }]
 * })
 * // submit: sealed.cipherHashes / attachmentHashes / signature / time on chain, sealed.cip and
 * // sealed.attachments to storage
 *
 * // anyone: verify; the patient: decrypt
 * records.verifyRecord(pq, doctor.sig.publicKey, sealed, sealed).valid          // true
 * const fields = records.openRecord(pq, doctor.sig.publicKey, sealed, sealed, fieldKeys)
 *
 * // patient grants symptoms + prescriptions to a researcher
 * const wrapped = records.createGrant(pq, { recordId, fields: [1, 2], fieldKeys,
 *   granteeKemPublicKey: researcher.kem.publicKey, grantorId: patientId })
 * const grant = { recordId, grantor: patientId, grantee: records.kemKeyId(researcher.kem.publicKey),
 *   fields: [1, 2], wrapped, time: now }
 * const signature = records.signGrant(pq, patient.sig.secretKey, grant)
 * const { keys } = records.openGrant(pq, wrapped, researcher.kem.secretKey, { recordId })
 * records.openRecord(pq, doctor.sig.publicKey, sealed, sealed, keys)           // { symptoms, prescriptions }
 * ```
 */
export { RecordError, type RecordErrorCode } from './errors.js'
export * from './constants.js'
export * from './fields.js'
export { encryptField, encryptFields, decryptField, decryptFields, inspectField, FIELD_HEADER_BYTES, FIELD_CIPHERTEXT_OVERHEAD, MAX_FIELD_CIPHERTEXT_BYTES } from './field.js'
export { kemKeyId, kemPublicKeyFromSecretKey, KEM_DEM_OVERHEAD } from './kemdem.js'
export * from './keytransfer.js'
export * from './grant.js'
export * from './attachment.js'
export * from './record.js'
export * from './patient.js'
export { blobCid, blobCidString, blobHashOfCid, blobHashFromCidString, SHA2_256_CODE } from './cid.js'
export { indexKeyId, keyEpochContext, wrapIndexKey, openIndexKey, WRAPPED_INDEX_KEY_SEALED_BYTES, type WrappedIndexKey } from './index-key.js'
