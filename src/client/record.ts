/**
 * The doctor's side of paper 1's submit flow (Fig. 6), producing the submission a node accepts:
 * encrypt the three fields under the patient's field keys, build the searchable-index updates for
 * both indexes (patient → record; keywords, file type, birth year → symptom field), and sign
 * (recordId, H(cip1..3), attachment hashes, H(index updates), time) with the doctor's ML-DSA key.
 */
import { encodeSubmission, indexUpdatesHash, type RecordTx } from '../blocks/index.js'
import { sha256, type PqBackend } from '../crypto/index.js'
import { encryptFields, signRecord, type FieldKeys, type RecordFields } from '../records/index.js'
import type { SseClient } from '../sse/index.js'

export interface RecordDraft {
  recordId: Uint8Array
  fieldKeys: FieldKeys
  fields: RecordFields
  keywords: readonly string[]
  fileType?: string
  birthYear?: number
  /** Index 1: the patient's id and per-patient index key (omit to skip index 1). */
  patient?: { id: Uint8Array, key: Uint8Array }
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
  const signature = signRecord(pq, doctor.sigSecretKey, {
    recordId: d.recordId, cipherHashes: fieldHashes, attachmentHashes: [], indexUpdatesHash: indexUpdatesHash(indexUpdates), time: d.time
  })
  const tx: RecordTx = {
    type: 'record', recordId: d.recordId, doctor: doctor.id, fields: fieldHashes, attachments: [], indexUpdates, time: d.time, signature
  }
  return { tx, blobs: [...cip], bytes: encodeSubmission(tx, cip) }
}
