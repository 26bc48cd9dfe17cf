/**
 * The doctor's side of paper 1's submit flow (Fig. 6), producing the submission a node accepts:
 * encrypt the three fields under the patient's field keys, build the searchable-index updates for
 * both indexes (patient → record; keywords, file type, birth year → symptom field), and sign
 * (recordId, owner, H(cip1..3), attachment hashes, H(index updates), time) with the doctor's ML-DSA key.
 * Also `buildGrantTx`: a signed grant by the record's doctor or owner.
 */
import { encodeSubmission, indexUpdatesHash, type GrantTx, type RecordTx } from '../blocks/index.js'
import { sha256, type KeyPair, type PqBackend } from '../crypto/index.js'
import { createGrant, encryptAttachment, encryptFields, kemKeyId, normalizeFields, signGrant, signRecord, type Attachment, type FieldKeyMap, type FieldKeys, type RecordFields } from '../records/index.js'
import type { SseClient } from '../sse/index.js'

export interface RecordDraft {
  recordId: Uint8Array
  /** The record's owner id from the patient (SHA-256 of its per-record owner key, `recordOwnerId`). */
  owner: Uint8Array
  fieldKeys: FieldKeys
  fields: RecordFields
  keywords: readonly string[]
  fileType?: string
  birthYear?: number
  /** Index 1: the patient's id and per-patient index key (omit to skip index 1). */
  patient?: { id: Uint8Array, key: Uint8Array }
  /** Encrypted attachments, each under its own key, in order (attachment i is blob 3 + i). */
  attachments?: ReadonlyArray<Attachment & { key: Uint8Array }>
  time: number
}

export interface DoctorKeys {
  id: Uint8Array
  sigSecretKey: Uint8Array
}

export interface BuiltSubmission {
  tx: RecordTx
  blobs: Uint8Array[]
  bytes: Uint8Array
}

export function buildRecordSubmission (pq: PqBackend, doctor: DoctorKeys, sse: SseClient, consortiumKey: Uint8Array, d: RecordDraft): BuiltSubmission {
  const cip = encryptFields(d.fieldKeys, d.recordId, d.fields)
  const fieldHashes = [sha256(cip[0]), sha256(cip[1]), sha256(cip[2])] as [Uint8Array, Uint8Array, Uint8Array]
  const indexUpdates = sse.indexRecord({
    writer: doctor.id,
    recordId: d.recordId,
    fieldHashes,
    consortiumKey,
    patient: d.patient,
    keywords: d.keywords,
    fileType: d.fileType,
    birthYear: d.birthYear
  })
  const att = (d.attachments ?? []).map((a, i) => encryptAttachment(a.key, d.recordId, i, a))
  const attachmentHashes = att.map((c) => sha256(c))
  const signature = signRecord(pq, doctor.sigSecretKey, {
    recordId: d.recordId, owner: d.owner, cipherHashes: fieldHashes, attachmentHashes, indexUpdatesHash: indexUpdatesHash(indexUpdates), time: d.time
  })
  const tx: RecordTx = {
    type: 'record', recordId: d.recordId, doctor: doctor.id, owner: d.owner, fields: fieldHashes, attachments: attachmentHashes, indexUpdates, time: d.time, signature
  }
  const blobs = [...cip, ...att]
  return { tx, blobs, bytes: encodeSubmission(tx, blobs) }
}

export interface GrantDraft {
  recordId: Uint8Array
  /** Fields to share (0 personal info, 1 symptoms, 2 prescriptions; any order). */
  fields: readonly number[]
  /** Keys of at least the granted fields. */
  fieldKeys: FieldKeys | FieldKeyMap
  granteeKemPublicKey: Uint8Array
  time: number
}

/**
 * A grant tx signed by `grantor`: the record's doctor (its identity key) or the record's owner
 * (the patient's per-record owner key, `deriveRecordOwnerKey`). Nodes refuse any other grantor
 * (`UNAUTHORIZED_GRANTOR`).
 */
export function buildGrantTx (pq: PqBackend, grantor: KeyPair, d: GrantDraft): GrantTx {
  const fields = normalizeFields(d.fields)
  const grantorId = sha256(grantor.publicKey)
  const wrapped = createGrant(pq, { recordId: d.recordId, fields, fieldKeys: d.fieldKeys, granteeKemPublicKey: d.granteeKemPublicKey, grantorId })
  const parts = { recordId: d.recordId, grantor: grantorId, grantee: kemKeyId(d.granteeKemPublicKey), fields, wrapped, time: d.time }
  return { type: 'grant', ...parts, grantorKey: grantor.publicKey, signature: signGrant(pq, grantor.secretKey, parts) }
}
