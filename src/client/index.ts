/**
 * `src/client`: the pqmed SDK. All cryptography happens here, on the client; nodes are reached
 * only over JSON-RPC (`RpcClient`) and never see plaintext or keys. Identities come from a PUF
 * enrollment (`newClientIdentity` / `loadClientIdentity`; keys re-derived at each load). See
 * docs/CLIENT.md.
 *
 * @example
 * ```ts
 * import { loadPqBackend } from '../crypto/index.js'
 * import { RpcClient, Patient, Doctor, newClientIdentity, openConsortiumKey, consortiumWriters, parseRecordInput } from './client/index.js'
 *
 * const pq = await loadPqBackend()
 * const rpc = new RpcClient('http://127.0.0.1:8645/')
 * const patient = Patient.fromIdentity(pq, newClientIdentity('Ana Silva', 'patient'))
 * await patient.enroll(rpc)                                                   // ehr_registerPatient
 *
 * const doctor = Doctor.fromIdentity(pq, doctorFile, { consortiumKey: openConsortiumKey(pq, ckFile, kemSk) })
 * const recordId = patient.newRecordId()
 * const cip0 = patient.keyTransfer(recordId, { name: 'Ana Silva', birthYear: 1984 }, doctor.kemPublicKey)
 * const handoff = doctor.openKeyTransfer(cip0, { recordId, patientId: patient.id })
 * await doctor.submitRecord(rpc, handoff, parseRecordInput({ disease: 'influenza', symptoms: ['fever'], prescriptions: ['rest'] }))
 *
 * (await patient.readRecord(rpc, recordId)).fields                            // all three fields
 * await patient.grant(rpc, recordId, [1, 2], researcherKemPublicKey)          // per-field grant
 * const found = await doctor.search(rpc, { keywords: ['fever'], birthYears: { from: 1980, to: 1990 } }, consortiumWriters(ckFile))
 * found.matches; found.omitted                                                 // omitted.length > 0: the node hid results
 * ```
 */
export * from './errors.js'
export * from './rpc.js'
export * from './identity.js'
export * from './consortium.js'
export * from './key-epochs.js'
export * from './input.js'
export * from './verify.js'
export * from './search.js'
export * from './access.js'
export * from './state.js'
export * from './patient.js'
export * from './doctor.js'
export { enrollNewIdentity, enrollExistingIdentity, registrationMayHaveBeenSent, type EnrollOutcome } from './enroll.js'
export * from './governance.js'
export { buildGrantTx, buildRecordSubmission, type BuiltSubmission, type DoctorKeys, type GrantDraft, type RecordDraft } from './record.js'
