/**
 * Validation of a submission on `/pqmed/<chainId>/tx/1` (and of a submission arriving over RPC,
 * which goes through the same checks before it is gossiped).
 *
 * A submission is a tx plus the ciphertext blobs it commits to (cip1..cip3 and attachments of a
 * record), which ride along so every manager stores them before the block is proposed.
 *
 * | check | verdict |
 * |---|---|
 * | bytes decode as `{ tx, blobs }`, total size within limit | REJECT `MALFORMED` / `TOO_LARGE` |
 * | tx passes `validateTx` (shapes, lengths, limits) | REJECT `INVALID_TX` |
 * | record: blobs are exactly the fields and attachments, each hashing to the committed hash | REJECT `BLOB_MISMATCH` |
 * | record: the doctor is registered in genesis | REJECT `UNREGISTERED_DOCTOR` |
 * | record: the ML-DSA signature holds over (recordId, owner, hashes, indexUpdatesHash, time) | REJECT `BAD_SIGNATURE` |
 * | patient: self-signed, id = SHA-256(signing key) | REJECT `BAD_SIGNATURE` |
 * | grant: the record is committed | IGNORE `UNKNOWN_RECORD` |
 * | grant: grantor = SHA-256(grantorKey), and grantor is the record's doctor (with its registered key) or the record's owner (`authorizeGrant`) | REJECT `UNAUTHORIZED_GRANTOR` |
 * | grant: the authorized grantor's ML-DSA signature holds and the wrapped header matches | REJECT `BAD_SIGNATURE` |
 * | record or grant: signed by a doctor key that was revoked or rotated (registry) | REJECT `INACTIVE_DOCTOR` |
 * | doctor / user-node: signed by a current hospital's manager key | REJECT `UNAUTHORIZED_HOSPITAL` / `BAD_SIGNATURE` |
 * | doctor / user-node: about the signing hospital's own doctor or user node | REJECT `UNAUTHORIZED_HOSPITAL` |
 * | doctor / user-node: a valid transition (unknown or inactive doctor, key in use, peer admitted already), an add within the caps (`GOVERNANCE_CAPS`) | IGNORE `GOVERNANCE_CONFLICT` |
 * | record id / patient id already committed, or the same tx already committed | IGNORE `DUPLICATE` |
 * | record: an index label already committed (a client with lost or stale counters) | IGNORE `DUPLICATE_LABEL` |
 * | key-epoch: the rules of `app/key-epochs.ts` (next epoch, a current manager's signature, wrapped to exactly the active doctors) | see there |
 *
 * A record whose index labels repeat within the tx fails `validateTx` (REJECT `INVALID_TX`); one whose
 * label is written by another pending tx is refused by the mempool (`DUPLICATE_LABEL`). The labels
 * are IGNOREd rather than REJECTed when committed: an honest manager may gossip such a tx that it
 * admitted just before the other one committed. See docs/CONSENSUS.md, "A committed block always applies".
 */
import * as dagCbor from '@ipld/dag-cbor'
import { decodeTx, indexUpdatesHash, isGovernanceTx, MAX_SUBMISSION_BYTES, validateTx, type GovernanceTx, type KeyEpochTx, type ManagerTx, type Tx } from '../../blocks/index.js'
import { equalBytes, fromHex, sha256, toHex, type SigVerifier } from '../../crypto/index.js'
import { authorizeGrant, verifyPatientSignature, verifyRecordTx } from '../../records/index.js'
import type { NodeErrorCode } from '../errors.js'
import { accept, ignore, reject, type Validation } from './result.js'

export { encodeSubmission } from '../../blocks/index.js'

/** Largest submission carried over gossip (tx + ciphertexts; src/blocks/limits.ts). Larger attachments are refused. */
export { MAX_SUBMISSION_BYTES }

export interface Submission {
  tx: Tx
  /** Encoded tx (canonical), as received. */
  txBytes: Uint8Array
  /** For a record: cip1, cip2, cip3, then each attachment. Empty otherwise. */
  blobs: Uint8Array[]
}

/** What validation needs to know about the chain: narrow, async lookups. */
export interface TxContext {
  verifier: SigVerifier
  /** ML-DSA public key of a registered doctor, by doctor id. */
  doctorKey: (doctorId: Uint8Array) => Uint8Array | undefined
  /** True if a record with this id is committed. */
  recordCommitted: (recordId: Uint8Array) => Promise<boolean>
  /** The committed record tx with this id, if any. */
  committedRecord: (recordId: Uint8Array) => Promise<Tx | undefined>
  /** The enrolled patient's ML-DSA public key, if the patient tx is committed (duplicate enrollments). */
  patientKey: (patientId: Uint8Array) => Promise<Uint8Array | undefined>
  /** True if exactly this tx is committed. */
  txCommitted: (txBytes: Uint8Array) => Promise<boolean>
  /** True if an index update with this label is committed (the index is append-only). */
  labelCommitted: (label: Uint8Array) => Promise<boolean>
  /** The governance registry (src/node/app/governance.ts); without it, governance txs are refused. */
  governance?: GovernanceContext
  /** Why a key-epoch tx cannot be the next epoch (`KeyEpochs.check`, app/key-epochs.ts); absent: key epochs are refused. */
  keyEpoch?: (tx: KeyEpochTx) => { verdict: 'IGNORE' | 'REJECT', code: NodeErrorCode, reason: string } | undefined
  /** Whether a manager change may be committed next (src/blocks/consortium.ts `ConsortiumHistory.check`). */
  managerChange?: (tx: ManagerTx) => { ok: true } | { ok: false, code: string, reason: string }
}

/** What tx validation asks the governance registry. */
export interface GovernanceContext {
  /** Whether a governance tx may be committed next (hospital signature, ownership, transition). */
  check: (tx: GovernanceTx) => { ok: true } | { ok: false, code: 'BAD_SIGNATURE' | 'UNAUTHORIZED_HOSPITAL' | 'GOVERNANCE_CONFLICT' | 'INACTIVE_DOCTOR', reason: string }
  /** Why doctor id `id` may no longer sign (revoked or rotated), or undefined. */
  inactive: (doctorId: Uint8Array) => string | undefined
  /** The active key entry of the doctor that `id` was (following rotations), for grants on its records. */
  current: (doctorId: Uint8Array) => { id: string, sigPublicKey: Uint8Array } | undefined
}

export function decodeSubmission (bytes: Uint8Array): Validation<Submission> {
  if (bytes.length > MAX_SUBMISSION_BYTES) return reject('TOO_LARGE', `submission of ${bytes.length} bytes exceeds ${MAX_SUBMISSION_BYTES}`)
  let raw: unknown
  try { raw = dagCbor.decode(bytes) } catch { return reject('MALFORMED', 'not dag-cbor') }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return reject('MALFORMED', 'submission must be a map')
  const o = raw as Record<string, unknown>
  if (Object.keys(o).length !== 2 || !(o.tx instanceof Uint8Array) || !Array.isArray(o.blobs) || !o.blobs.every((b) => b instanceof Uint8Array)) {
    return reject('MALFORMED', 'submission must be { tx: bytes, blobs: bytes[] }')
  }
  let tx: Tx
  try { tx = decodeTx(o.tx) } catch (err) { return reject('INVALID_TX', (err as Error).message) }
  return accept({ tx, txBytes: o.tx, blobs: o.blobs as Uint8Array[] })
}

/** Full validation of a decoded submission against the chain. */
export async function validateSubmission (s: Submission, ctx: TxContext): Promise<Validation<Submission>> {
  const basic = validateTx(s.tx)
  if (!basic.ok) return reject('INVALID_TX', basic.reason)
  const tx = s.tx
  if (await ctx.txCommitted(s.txBytes)) return ignore('DUPLICATE', 'tx already committed')
  if (tx.type === 'record') {
    const expected = [...tx.fields, ...tx.attachments]
    if (s.blobs.length !== expected.length) return reject('BLOB_MISMATCH', `expected ${expected.length} ciphertexts, got ${s.blobs.length}`)
    for (let i = 0; i < expected.length; i++) {
      if (!equalBytes(sha256(s.blobs[i] as Uint8Array), expected[i] as Uint8Array)) return reject('BLOB_MISMATCH', `ciphertext ${i} does not match its committed hash`)
    }
    const inactive = ctx.governance?.inactive(tx.doctor)
    if (inactive !== undefined) return reject('INACTIVE_DOCTOR', inactive)
    const sig = verifyRecordTx(ctx.verifier, ctx.doctorKey, tx, indexUpdatesHash(tx.indexUpdates))
    if (!sig.ok) return reject(sig.code, sig.code === 'UNREGISTERED_DOCTOR' ? `doctor ${toHex(tx.doctor)} is not registered (genesis or a hospital's doctor add)` : sig.reason)
    if (await ctx.recordCommitted(tx.recordId)) return ignore('DUPLICATE', `record ${toHex(tx.recordId)} already committed`)
    for (const u of tx.indexUpdates) {
      if (await ctx.labelCommitted(u.label)) {
        return ignore('DUPLICATE_LABEL', `index label ${toHex(u.label)} is already committed: the submitting client's index counters are behind (recover them from the node and rebuild the record); nothing was stored`)
      }
    }
    return accept(s)
  }
  if (s.blobs.length !== 0) return reject('BLOB_MISMATCH', `${tx.type} tx carries no ciphertexts`)
  if (tx.type === 'patient') {
    if (!equalBytes(sha256(tx.sigPublicKey), tx.patientId)) return reject('BAD_SIGNATURE', 'patientId is not SHA-256 of the signing key')
    if (!verifyPatientSignature(ctx.verifier, tx, tx.signature)) return reject('BAD_SIGNATURE', 'patient enrollment signature does not verify')
    if (await ctx.patientKey(tx.patientId) !== undefined) return ignore('DUPLICATE', 'patient already enrolled')
    return accept(s)
  }
  if (isGovernanceTx(tx)) {
    if (ctx.governance === undefined) return reject('INVALID_TX', `this node does not accept ${tx.type} txs`)
    const g = ctx.governance.check(tx)
    if (!g.ok) return g.code === 'GOVERNANCE_CONFLICT' ? ignore(g.code, g.reason) : reject(g.code, g.reason)
    return accept(s)
  }
  if (tx.type === 'key-epoch') {
    const v = ctx.keyEpoch === undefined ? { verdict: 'REJECT' as const, code: 'INVALID_TX' as const, reason: 'this node does not accept key epochs' } : ctx.keyEpoch(tx)
    return v === undefined ? accept(s) : v.verdict === 'IGNORE' ? ignore(v.code, v.reason) : reject(v.code, v.reason)
  }
  if (tx.type === 'manager') {
    // ≥ 2f+1 current managers' signatures over the change, against the configuration in effect, none pending
    const c = ctx.managerChange?.(tx) ?? { ok: false as const, code: 'INVALID', reason: 'this node does not take manager changes' }
    if (!c.ok) {
      if (c.code === 'CHANGE_PENDING' || c.code === 'STALE_CONFIG') return ignore(c.code, c.reason)
      return reject(c.code === 'BAD_SIGNATURE' ? 'BAD_SIGNATURE' : 'BAD_MANAGER_CHANGE', `${c.code}: ${c.reason}`)
    }
    return accept(s)
  }
  if (tx.type !== 'grant') return reject('INVALID_TX', 'unknown tx kind')
  // grant: only the record's doctor or its owner may grant (one rule for every checker: authorizeGrant)
  const record = await ctx.committedRecord(tx.recordId)
  if (record === undefined || record.type !== 'record') return ignore('UNKNOWN_RECORD', `record ${toHex(tx.recordId)} is not committed (yet)`)
  const inactive = ctx.governance?.inactive(tx.grantor)
  if (inactive !== undefined) return reject('INACTIVE_DOCTOR', inactive)
  // a rotated doctor grants on its earlier records with its current key
  const cur = ctx.governance?.current(record.doctor)
  const doctor = cur !== undefined ? { ...record, doctor: fromHex(cur.id) } : record
  const auth = authorizeGrant(ctx.verifier, tx, doctor, cur?.sigPublicKey ?? ctx.doctorKey(record.doctor))
  if (!auth.ok) return reject(auth.code, auth.reason)
  return accept(s)
}
