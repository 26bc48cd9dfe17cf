/**
 * The patient's client: enrollment (`ehr_registerPatient`, self-signed), the key transfer cip0 to
 * a doctor (paper 1 Fig. 6 step 1), reading its own records with field keys re-derived from its
 * PUF secret, listing its records through index 1, and per-field grants (`ehr_grantAccess`),
 * signed with the record's owner key (derived per record from the PUF secret, docs/ACCESS.md).
 */
import { encodeSubmission, type GrantTx, type PatientTx } from '../blocks/index.js'
import { randomBytes, utf8, type KeyPair, type PqBackend } from '../crypto/index.js'
import { deriveFieldKeys, deriveIndexKey, deriveRecordOwnerKey, recordOwnerId } from '../puf/index.js'
import { createKeyTransfer, signPatient, type FieldKeys } from '../records/index.js'
import type { SubmitResultJson } from '../rpc/backend.js'
import { patientTerm, recoverCounters, SseClient, type CounterState, type VerifiedSearch } from '../sse/index.js'
import { readRecord, type ReadRecordResult } from './access.js'
import { ClientError } from './errors.js'
import { loadClientIdentity, type ClientIdentityFile, type LoadedIdentity } from './identity.js'
import type { PersonalInfo } from './input.js'
import { buildGrantTx } from './record.js'
import { b64, hex, RpcCallError, unb64, unhex, type RpcClient } from './rpc.js'
import { querySearch, runSearch } from './search.js'
import type { TrustAnchors } from './verify.js'

/** Purpose label of the patient's index-1 key (`deriveIndexKey`). */
export const PATIENT_INDEX_PURPOSE = 'patient-index'

/**
 * What cip0 carries as its "personal info" bytes: the personal information the doctor will seal
 * as cip1, the patient's index-1 key so the doctor can write the patient → record entry, and
 * (since v2) the record's owner id, which the doctor puts in the record tx and signs. The doctor's
 * client strips `patientIndexKey` and `owner` before encrypting cip1.
 */
export interface HandoffPayload {
  v: 2
  personalInfo: PersonalInfo
  /** base64, 32 bytes. */
  patientIndexKey: string
  /** Hex, 32 bytes: SHA-256 of the record's owner key (`recordOwnerId`). */
  owner: string
}

export interface PatientRecordList {
  /** Record ids found through index 1, verified. */
  recordIds: string[]
  search: VerifiedSearch
}

export class Patient {
  readonly name: string
  readonly id: Uint8Array
  readonly sigPublicKey: Uint8Array
  readonly kemPublicKey: Uint8Array
  readonly sse: SseClient
  private readonly ident: LoadedIdentity
  private readonly pq: PqBackend

  private constructor (pq: PqBackend, ident: LoadedIdentity, counters?: CounterState) {
    this.pq = pq
    this.ident = ident
    this.name = ident.name
    this.id = ident.keys.id
    this.sigPublicKey = ident.keys.sig.publicKey
    this.kemPublicKey = ident.keys.kem.publicKey
    this.sse = new SseClient({ counters })
  }

  /** Reproduces the PUF secret from the identity file (keys are re-derived at each load). */
  static fromIdentity (pq: PqBackend, file: ClientIdentityFile, counters?: CounterState): Patient {
    const ident = loadClientIdentity(file)
    if (ident.role !== 'patient') throw new ClientError('BAD_IDENTITY', `${ident.name} is a ${ident.role}, not a patient`)
    return new Patient(pq, ident, counters)
  }

  /** The three field keys of one of this patient's records. */
  fieldKeys (recordId: Uint8Array): FieldKeys { return deriveFieldKeys(this.ident.secret, recordId) }

  /** The per-record owner key pair (signs this patient's grants on the record). */
  ownerKey (recordId: Uint8Array): KeyPair { return deriveRecordOwnerKey(this.ident.secret, recordId) }

  /** The record's owner id (`RecordTx.owner`). */
  ownerId (recordId: Uint8Array): Uint8Array { return recordOwnerId(this.ident.secret, recordId) }

  /** The patient's index-1 key. */
  indexKey (): Uint8Array { return deriveIndexKey(this.ident.secret, PATIENT_INDEX_PURPOSE) }

  /** The self-signed enrollment tx as submission bytes. */
  enrollment (time: number): { tx: PatientTx, bytes: Uint8Array } {
    const parts = { patientId: this.id, sigPublicKey: this.sigPublicKey, kemPublicKey: this.kemPublicKey, time }
    const tx: PatientTx = { type: 'patient', ...parts, signature: signPatient(this.pq, this.ident.keys.sig.secretKey, parts) }
    return { tx, bytes: encodeSubmission(tx, []) }
  }

  /** This patient's enrollment as committed on chain: its height, or undefined if it is not enrolled. */
  async enrolledAt (rpc: RpcClient): Promise<number | undefined> {
    try {
      const p = await rpc.getPatient(this.id)
      if (p.kemPublicKey === b64(this.kemPublicKey) && p.sigPublicKey === b64(this.sigPublicKey)) return p.height
      throw new ClientError('BAD_IDENTITY', 'another key set is enrolled under this patient id')
    } catch (err) {
      if (!(err instanceof RpcCallError) || err.rpcName !== 'UNKNOWN_PATIENT') throw err
      return undefined
    }
  }

  /**
   * Enrolls the patient. Idempotent: if the same keys are already enrolled it returns
   * `already-enrolled` with the enrollment height, and if an enrollment of this patient is still
   * pending (an earlier attempt whose answer was lost: the node refuses a second one with
   * DUPLICATE) it waits up to `pendingWaitMs` for that one to commit.
   */
  async enroll (rpc: RpcClient, time = Date.now(), opts: { pendingWaitMs?: number } = {}): Promise<{ status: 'committed' | 'pending' | 'already-enrolled', height?: number, txHash?: string }> {
    const before = await this.enrolledAt(rpc)
    if (before !== undefined) return { status: 'already-enrolled', height: before }
    try {
      const r = await rpc.registerPatient(this.enrollment(time).bytes, true)
      return { status: r.status, height: r.height, txHash: r.txHash }
    } catch (err) {
      if (!(err instanceof RpcCallError) || err.rpcName !== 'DUPLICATE') throw err
      // another enrollment of this patient id is pending or committed: wait until it is on chain
      const deadline = Date.now() + (opts.pendingWaitMs ?? 30_000)
      for (;;) {
        const h = await this.enrolledAt(rpc)
        if (h !== undefined) return { status: 'already-enrolled', height: h }
        if (Date.now() > deadline) throw err
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
    }
  }

  /** A fresh record id. */
  newRecordId (): Uint8Array { return randomBytes(32) }

  /** cip0 for the doctor: this record's field keys, the personal information, the index-1 key and the record's owner id, wrapped to the doctor's ML-KEM key. */
  keyTransfer (recordId: Uint8Array, personalInfo: PersonalInfo, doctorKemPublicKey: Uint8Array): Uint8Array {
    const payload: HandoffPayload = { v: 2, personalInfo, patientIndexKey: b64(this.indexKey()), owner: hex(this.ownerId(recordId)) }
    return createKeyTransfer(this.pq, { recordId, patientId: this.id, fieldKeys: this.fieldKeys(recordId), personalInfo: utf8(JSON.stringify(payload)) }, doctorKemPublicKey)
  }

  /** Fetches, verifies and decrypts one of this patient's records (or fields granted to it). */
  async readRecord (rpc: RpcClient, recordId: Uint8Array, trust?: TrustAnchors): Promise<ReadRecordResult> {
    return await readRecord(this.pq, rpc, recordId, { kemPublicKey: this.kemPublicKey, kemSecretKey: this.ident.keys.kem.secretKey, secret: this.ident.secret }, trust)
  }

  /**
   * Grants `granteeKemPublicKey` the listed fields (0 personal info, 1 symptoms, 2 prescriptions)
   * of one of this patient's records, committed on chain as a consent-log entry. Signed with the
   * record's owner key, so nodes accept it only for a record whose owner id is this patient's.
   */
  async grant (rpc: RpcClient, recordId: Uint8Array, fields: readonly number[], granteeKemPublicKey: Uint8Array, time = Date.now()): Promise<SubmitResultJson & { tx: GrantTx }> {
    const tx = buildGrantTx(this.pq, this.ownerKey(recordId), { recordId, fields, fieldKeys: this.fieldKeys(recordId), granteeKemPublicKey, time })
    return { ...await rpc.grantAccess(encodeSubmission(tx, []), true), tx }
  }

  /**
   * Lists this patient's records through index 1 (`patient:<id>` under its own index key) over
   * the given writers (doctor ids). With `recover` (default true) the counts of each writer's
   * tree are first recovered by probing the node (`recoverCounters`), since the doctors hold them.
   */
  async listRecords (rpc: RpcClient, writers: readonly Uint8Array[], opts: { recover?: boolean } = {}): Promise<PatientRecordList> {
    const indexKey = this.indexKey()
    const term = patientTerm(this.id)
    if (opts.recover !== false) {
      await recoverCounters(this.sse, {
        indexKey,
        writers,
        terms: [term],
        probe: async (token) => {
          const { entries, verifyProof } = await querySearch(rpc, token)
          return entries.filter(verifyProof)
        },
        verifyProof: () => true
      })
    }
    const plan = this.sse.planSearch([{ indexKey, term }], writers)
    const search = await runSearch(rpc, plan)
    return { recordIds: [...new Set(search.locations.map((l) => hex(l.location.recordId)))], search }
  }
}

/** Parses a handoff payload from cip0's personal-info bytes. */
export function parseHandoffPayload (bytes: Uint8Array): { personalInfo: PersonalInfo, patientIndexKey: Uint8Array, owner: Uint8Array } {
  let o: Partial<HandoffPayload>
  try { o = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<HandoffPayload> } catch { throw new ClientError('BAD_INPUT', 'cip0 payload is not JSON') }
  if (o?.v !== 2 || o.personalInfo === null || typeof o.personalInfo !== 'object' || typeof o.patientIndexKey !== 'string' || typeof o.owner !== 'string') {
    throw new ClientError('BAD_INPUT', 'cip0 payload must be { v: 2, personalInfo, patientIndexKey, owner }')
  }
  const k = unb64(o.patientIndexKey)
  if (k.length !== 32) throw new ClientError('BAD_INPUT', 'patientIndexKey must be 32 bytes')
  return { personalInfo: o.personalInfo, patientIndexKey: k, owner: unhex(o.owner, 'cip0 owner') }
}
