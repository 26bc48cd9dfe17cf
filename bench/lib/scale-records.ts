/**
 * Records for `bench:scale`, built with the real client code exactly as `SimulatedDoctor.record`
 * builds them (synthetic record, per-patient field and index keys, AES-256-GCM fields, SSE index
 * updates for both indexes, ML-DSA-65 signature), plus a seeded free-text clinical note in the
 * symptoms and prescriptions fields so the three ciphertexts total about 2.5 KB, as a real
 * consultation note would (the synthetic fields alone are ~0.5 KB).
 *
 * One shortcut: a record's owner id (`RecordTx.owner`, 32 bytes) is a hash of the patient's secret
 * and the record id instead of the SHA-256 of the per-record ML-DSA owner key (`recordOwnerId`),
 * whose key generation (pure-JS ML-DSA) cost more than everything else in a record together. The
 * owner id is opaque to every node (no check can tell), and the bench never grants access to its
 * records (a grant would need the owner's key).
 */
import { buildRecordSubmission, type DoctorKeys } from '../../src/client/record.js'
import { CONDITIONS, syntheticRecord } from '../../src/client/synthetic.js'
import { framed, sha256, utf8, type PqBackend } from '../../src/crypto/index.js'
import { deriveFieldKeys, deriveIndexKey } from '../../src/puf/index.js'
import type { SseClient } from '../../src/sse/index.js'

const WORDS = [
  ...new Set(CONDITIONS.flatMap((c) => [...c.symptoms, ...c.drugs, c.disease]).flatMap((s) => s.split(' '))),
  'patient', 'reports', 'since', 'days', 'weeks', 'denies', 'history', 'of', 'on', 'examination', 'no', 'mild', 'moderate', 'severe',
  'bilateral', 'left', 'right', 'afebrile', 'stable', 'review', 'in', 'follow-up', 'advised', 'blood', 'pressure', 'pulse', 'regular',
  'chest', 'clear', 'abdomen', 'soft', 'non-tender', 'plan', 'referral', 'labs', 'ordered', 'and', 'with', 'the', 'to', 'a'
]

/** `bytes` characters of seeded clinical-note text. */
export function clinicalNote (rng: () => number, bytes: number): string {
  const out: string[] = []
  let n = 0
  while (n < bytes) {
    const w = WORDS[Math.floor(rng() * WORDS.length)] as string
    out.push(w); n += w.length + 1
  }
  return out.join(' ').slice(0, bytes)
}

export interface ScaleRecord {
  /** The submission's bytes (tx + ciphertexts), as a doctor's client sends it. */
  bytes: Uint8Array
  recordId: Uint8Array
  /** Index-2 keywords the record was indexed under (raw). */
  keywords: string[]
}

export interface ScaleRecordOptions {
  /** Synthetic patient number: its keys are derived from it, as `SimulatedDoctor` does. */
  patient: number
  /** Characters of clinical note added to the symptoms (60 %) and prescriptions (40 %) fields. */
  noteBytes: number
  recordId: Uint8Array
}

export function scaleRecord (pq: PqBackend, doctor: DoctorKeys, sse: SseClient, consortiumKey: Uint8Array, rng: () => number, o: ScaleRecordOptions): ScaleRecord {
  const s = syntheticRecord(rng)
  const patientSecret = sha256(utf8(`pqmed synthetic patient ${o.patient}`))
  const patientId = sha256(utf8(`pqmed synthetic patient id ${o.patient}`))
  const history = clinicalNote(rng, Math.round(o.noteBytes * 0.6))
  const plan = clinicalNote(rng, o.noteBytes - history.length)
  const built = buildRecordSubmission(pq, doctor, sse, consortiumKey, {
    recordId: o.recordId,
    owner: sha256(framed(utf8('pqmed bench:scale record owner'), patientSecret, o.recordId)),
    fieldKeys: deriveFieldKeys(patientSecret, o.recordId),
    fields: {
      personalInfo: utf8(JSON.stringify(s.personalInfo)),
      symptoms: utf8(JSON.stringify({ disease: s.disease, symptoms: s.symptoms, fileType: s.fileType, history })),
      prescriptions: utf8(JSON.stringify({ prescriptions: s.prescriptions, plan }))
    },
    keywords: s.keywords,
    fileType: s.fileType,
    birthYear: s.birthYear,
    patient: { id: patientId, key: deriveIndexKey(patientSecret, 'patient-index') },
    time: Date.now()
  })
  return { bytes: built.bytes, recordId: o.recordId, keywords: s.keywords }
}
