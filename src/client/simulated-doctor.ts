/**
 * A doctor's client that writes synthetic records (devnet seeding, tests, benchmarks): draws a
 * record from the synthetic generator, derives the patient's field and index keys from a
 * per-patient secret (standing for the patient's PUF secret), including the record's owner id,
 * and builds the signed submission.
 */
import { randomBytes, sha256, utf8, type PqBackend } from '../crypto/index.js'
import { deriveFieldKeys, deriveIndexKey, recordOwnerId } from '../puf/index.js'
import { SseClient } from '../sse/index.js'
import { buildRecordSubmission, type BuiltSubmission, type DoctorKeys } from './record.js'
import { syntheticRecord, type SyntheticRecord } from './synthetic.js'

export interface SimulatedRecord extends BuiltSubmission {
  synthetic: SyntheticRecord
  patientId: Uint8Array
  patientSecret: Uint8Array
}

export class SimulatedDoctor {
  readonly sse: SseClient
  readonly keys: DoctorKeys
  readonly consortiumKey: Uint8Array
  private readonly pq: PqBackend

  constructor (pq: PqBackend, keys: DoctorKeys, consortiumKey: Uint8Array, sse = new SseClient()) {
    this.pq = pq
    this.keys = keys
    this.consortiumKey = consortiumKey
    this.sse = sse
  }

  /** A record for synthetic patient number `patient` (patients recur, so index 1 has several records each). */
  record (rng: () => number, patient: number): SimulatedRecord {
    const s = syntheticRecord(rng)
    const patientSecret = sha256(utf8(`pqmed synthetic patient ${patient}`))
    const patientId = sha256(utf8(`pqmed synthetic patient id ${patient}`))
    const recordId = randomBytes(32)
    const built = buildRecordSubmission(this.pq, this.keys, this.sse, this.consortiumKey, {
      recordId,
      owner: recordOwnerId(patientSecret, recordId),
      fieldKeys: deriveFieldKeys(patientSecret, recordId),
      fields: {
        personalInfo: utf8(JSON.stringify(s.personalInfo)),
        symptoms: utf8(JSON.stringify({ disease: s.disease, symptoms: s.symptoms, fileType: s.fileType })),
        prescriptions: utf8(JSON.stringify({ prescriptions: s.prescriptions }))
      },
      keywords: s.keywords,
      fileType: s.fileType,
      birthYear: s.birthYear,
      patient: { id: patientId, key: deriveIndexKey(patientSecret, 'patient-index') },
      time: Date.now()
    })
    return { ...built, synthetic: s, patientId, patientSecret }
  }
}
