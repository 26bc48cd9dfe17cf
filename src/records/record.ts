/**
 * The doctor's signature over a record (paper 1 Fig. 2 steps 4-6, Fig. 6 step 4, Fig. 7), and the
 * doctor-side `sealRecord` / reader-side `verifyRecord` / `openRecord` that wrap the whole envelope.
 *
 * Record signing payload (canonical dag-cbor, domain-separated):
 * `['pqmed/record-sig/2', recordId, owner, [SHA-256(cip1), SHA-256(cip2), SHA-256(cip3)],
 *   [SHA-256(attachment_0), ...], indexUpdatesHash, time]`.
 * Version 2 added `owner` (SHA-256 of the patient's per-record owner key, `RecordTx.owner`), so the
 * doctor vouches for who may grant on the record besides itself.
 */
import { encodeCanonical } from './cbor.js'
import { equalBytes, sha256, type PqBackend, type SigVerifier } from '../crypto/index.js'
import { assertAttachment, encryptAttachment, type Attachment } from './attachment.js'
import { ATTACHMENT_KEY_BYTES, MAX_ATTACHMENTS, TAG } from './constants.js'
import { assert32, assertBytes, assertSigPublicKey, assertSigSecretKey, assertTime, RecordError } from './errors.js'
import { decryptField, encryptFields } from './field.js'
import { FIELD_NAMES, type FieldIndex, type FieldKeyMap, type FieldKeys, type RecordFields } from './fields.js'

/** What the doctor signs. `SealedRecord` and `SignedRecord` are structurally compatible with it. */
export interface RecordSigningParts {
  recordId: Uint8Array
  /** The record's owner id (`RecordTx.owner`): SHA-256 of the patient's per-record owner key. */
  owner: Uint8Array
  /** SHA-256 of cip1, cip2, cip3 (`RecordTx.fields`). */
  cipherHashes: readonly Uint8Array[]
  /** SHA-256 of each encrypted attachment, in attachment order (`RecordTx.attachments`); may be empty. */
  attachmentHashes: readonly Uint8Array[]
  /** 32-byte hash of the record's index updates, computed by the caller. */
  indexUpdatesHash: Uint8Array
  /** Client timestamp, ms since the epoch. */
  time: number
}

export interface SignedRecord extends RecordSigningParts {
  signature: Uint8Array
}

/** Canonical signing payload. Throws BAD_INPUT on a wrong length or count, or a bad time. */
export function recordSigningPayload (parts: RecordSigningParts): Uint8Array {
  if (parts === null || typeof parts !== 'object') throw new RecordError('BAD_INPUT', 'record parts must be an object')
  assert32(parts.recordId, 'recordId')
  assert32(parts.owner, 'owner')
  if (!Array.isArray(parts.cipherHashes) || parts.cipherHashes.length !== 3) throw new RecordError('BAD_INPUT', 'cipherHashes must hold 3 hashes')
  parts.cipherHashes.forEach((h, i) => { assert32(h, `cipherHashes[${i}]`) })
  if (!Array.isArray(parts.attachmentHashes) || parts.attachmentHashes.length > MAX_ATTACHMENTS) {
    throw new RecordError('BAD_INPUT', `attachmentHashes must be an array of at most ${MAX_ATTACHMENTS} hashes`)
  }
  parts.attachmentHashes.forEach((h, i) => { assert32(h, `attachmentHashes[${i}]`) })
  assert32(parts.indexUpdatesHash, 'indexUpdatesHash')
  assertTime(parts.time)
  return encodeCanonical([TAG.recordSig, parts.recordId, parts.owner, [...parts.cipherHashes], [...parts.attachmentHashes], parts.indexUpdatesHash, parts.time])
}

/** ML-DSA-65 signature of the doctor over `recordSigningPayload(parts)`. */
export function signRecord (pq: PqBackend, doctorSigSecretKey: Uint8Array, parts: RecordSigningParts): Uint8Array {
  assertSigSecretKey(doctorSigSecretKey)
  return pq.sign(recordSigningPayload(parts), doctorSigSecretKey)
}

/** True iff `signature` is the doctor's valid signature over `parts`. Never throws: malformed input gives false. */
export function verifyRecordSignature (verifier: SigVerifier, doctorSigPublicKey: Uint8Array, parts: RecordSigningParts, signature: Uint8Array): boolean {
  try {
    assertSigPublicKey(doctorSigPublicKey)
    return verifier.verify(signature, recordSigningPayload(parts), doctorSigPublicKey)
  } catch {
    return false
  }
}

/**
 * A committed record tx as far as its signature is concerned: structurally `RecordTx` of
 * src/blocks (which this pure library does not import).
 */
export interface RecordTxSignature {
  recordId: Uint8Array
  /** SHA-256 of the doctor's ML-DSA public key. */
  doctor: Uint8Array
  owner: Uint8Array
  fields: readonly Uint8Array[]
  attachments: readonly Uint8Array[]
  time: number
  signature: Uint8Array
}

/** Outcome of `verifyRecordTx`: the doctor is registered, and its signature holds. */
export type RecordTxCheck =
  | { ok: true }
  | { ok: false, code: 'UNREGISTERED_DOCTOR' | 'BAD_SIGNATURE', reason: string }

/**
 * The one check of a record tx's doctor signature, used by every verifier (manager admission and
 * block validation, light node, RPC `ehr_verifyRecord`, client re-verification): the doctor id
 * names a registered doctor (`doctorKey`, by doctor id), and that doctor's ML-DSA-65 signature
 * holds over the record's signing parts. `indexUpdatesHash` is `indexUpdatesHash(tx.indexUpdates)`
 * of src/blocks (the caller computes it: this library does not import the chain codec). Never
 * throws.
 */
export function verifyRecordTx (
  verifier: SigVerifier,
  doctorKey: (doctorId: Uint8Array) => Uint8Array | undefined,
  tx: RecordTxSignature,
  indexUpdatesHash: Uint8Array
): RecordTxCheck {
  let pk: Uint8Array | undefined
  try { pk = doctorKey(tx.doctor) } catch { pk = undefined }
  if (pk === undefined) return { ok: false, code: 'UNREGISTERED_DOCTOR', reason: 'the record\'s doctor is not registered' }
  const ok = verifyRecordSignature(verifier, pk, {
    recordId: tx.recordId, owner: tx.owner, cipherHashes: tx.fields, attachmentHashes: tx.attachments, indexUpdatesHash, time: tx.time
  }, tx.signature)
  return ok ? { ok: true } : { ok: false, code: 'BAD_SIGNATURE', reason: 'record signature does not verify under the doctor\'s key' }
}

export interface AttachmentToSeal extends Attachment {
  /** The attachment's own 32-byte key. */
  key: Uint8Array
}

export interface SealRecordInput {
  recordId: Uint8Array
  /** The record's owner id (from the patient, see `RecordSigningParts.owner`). */
  owner: Uint8Array
  fieldKeys: FieldKeys
  fields: RecordFields
  attachments?: readonly AttachmentToSeal[]
  indexUpdatesHash: Uint8Array
  time: number
}

/** A sealed record: everything the doctor's client submits (ciphertexts go to storage, hashes on chain). */
export interface SealedRecord extends SignedRecord {
  /** [cip1, cip2, cip3] */
  cip: [Uint8Array, Uint8Array, Uint8Array]
  cipherHashes: [Uint8Array, Uint8Array, Uint8Array]
  /** Encrypted attachments, in order. */
  attachments: Uint8Array[]
  attachmentHashes: Uint8Array[]
}

/**
 * The doctor's client in one call: encrypts the three fields and the attachments, hashes the
 * ciphertexts and signs the record. Every input (including attachment sizes: TOO_LARGE) is checked
 * before any encryption.
 */
export function sealRecord (pq: PqBackend, doctorSigSecretKey: Uint8Array, input: SealRecordInput): SealedRecord {
  if (input === null || typeof input !== 'object') throw new RecordError('BAD_INPUT', 'seal input must be an object')
  assertSigSecretKey(doctorSigSecretKey)
  assert32(input.recordId, 'recordId')
  assert32(input.owner, 'owner')
  assert32(input.indexUpdatesHash, 'indexUpdatesHash')
  assertTime(input.time)
  const atts = input.attachments ?? []
  if (!Array.isArray(atts) || atts.length > MAX_ATTACHMENTS) throw new RecordError('BAD_INPUT', `attachments must be an array of at most ${MAX_ATTACHMENTS}`)
  atts.forEach((a, i) => {
    assertAttachment(a, `attachments[${i}]`)
    assertBytes(a.key, `attachments[${i}].key`, ATTACHMENT_KEY_BYTES)
  })
  const cip = encryptFields(input.fieldKeys, input.recordId, input.fields)
  const attachments = atts.map((a, i) => encryptAttachment(a.key, input.recordId, i, a))
  const cipherHashes: [Uint8Array, Uint8Array, Uint8Array] = [sha256(cip[0]), sha256(cip[1]), sha256(cip[2])]
  const attachmentHashes = attachments.map((c) => sha256(c))
  const parts: RecordSigningParts = { recordId: input.recordId, owner: input.owner, cipherHashes, attachmentHashes, indexUpdatesHash: input.indexUpdatesHash, time: input.time }
  const signature = signRecord(pq, doctorSigSecretKey, parts)
  return { ...parts, cip, cipherHashes, attachments, attachmentHashes, signature }
}

/** `valid`: checked and matching; `invalid`: checked and not matching; `unchecked`: ciphertext not provided. */
export type CheckResult = 'valid' | 'invalid' | 'unchecked'

export interface RecordVerification {
  /** The signature holds and no provided ciphertext mismatches its signed hash. */
  valid: boolean
  signature: boolean
  /** Per field ciphertext cip1..cip3: does SHA-256 of the provided ciphertext equal the signed hash? */
  cip: [CheckResult, CheckResult, CheckResult]
  /** Per attachment, aligned with `attachmentHashes` (a provided ciphertext beyond them is `invalid`). */
  attachments: CheckResult[]
}

export interface RecordCiphertexts {
  cip?: readonly (Uint8Array | undefined)[]
  attachments?: readonly (Uint8Array | undefined)[]
}

function check (expected: Uint8Array | undefined, provided: Uint8Array | undefined): CheckResult {
  if (provided === undefined) return 'unchecked'
  if (!(provided instanceof Uint8Array) || !(expected instanceof Uint8Array)) return 'invalid'
  return equalBytes(sha256(provided), expected) ? 'valid' : 'invalid'
}

/**
 * Verifies a signed record (paper 1 Fig. 7): the doctor's signature, and for each ciphertext
 * provided, that its SHA-256 is the hash in `record`. Each check is reported separately (a hash
 * check compares with the record's hash even when the signature fails); `valid` needs them all.
 * Never throws.
 */
export function verifyRecord (verifier: SigVerifier, doctorSigPublicKey: Uint8Array, record: SignedRecord, ciphertexts: RecordCiphertexts = {}): RecordVerification {
  const isObject = record !== null && typeof record === 'object'
  const signature = isObject && verifyRecordSignature(verifier, doctorSigPublicKey, record, record.signature)
  const hashes = isObject && Array.isArray(record.cipherHashes) ? record.cipherHashes : []
  const cips = Array.isArray(ciphertexts?.cip) ? ciphertexts.cip : []
  const cip: [CheckResult, CheckResult, CheckResult] = [0, 1, 2].map((i) => check(hashes[i], cips[i])) as [CheckResult, CheckResult, CheckResult]
  const attHashes = isObject && Array.isArray(record.attachmentHashes) ? record.attachmentHashes : []
  const attCips = Array.isArray(ciphertexts?.attachments) ? ciphertexts.attachments : []
  const n = Math.max(attHashes.length, attCips.length)
  const attachments: CheckResult[] = []
  for (let i = 0; i < n; i++) attachments.push(check(attHashes[i], attCips[i]))
  const extraCip = cips.length > 3 ? 'invalid' : null
  const valid = signature && extraCip === null && !cip.includes('invalid') && !attachments.includes('invalid')
  return { valid, signature, cip, attachments }
}

/** Fields of a record that a reader could decrypt (those for which it holds a key and a ciphertext). */
export type OpenedRecord = Partial<RecordFields>

/**
 * The reader's path: verifies the record (BAD_SIGNATURE if the signature fails, TAMPERED if a
 * provided ciphertext does not match its signed hash), then decrypts every field for which both a
 * key (a full triple, or a grant's Map) and a ciphertext are given.
 */
export function openRecord (verifier: SigVerifier, doctorSigPublicKey: Uint8Array, record: SignedRecord, ciphertexts: RecordCiphertexts, keys: FieldKeys | FieldKeyMap): OpenedRecord {
  const v = verifyRecord(verifier, doctorSigPublicKey, record, ciphertexts)
  if (!v.signature) throw new RecordError('BAD_SIGNATURE', 'the doctor\'s signature over the record does not verify')
  if (!v.valid) throw new RecordError('TAMPERED', 'a ciphertext does not match the hash the doctor signed')
  if (!(keys instanceof Map) && !Array.isArray(keys)) throw new RecordError('BAD_INPUT', 'keys must be a field key triple or a Map')
  const out: OpenedRecord = {}
  for (const f of [0, 1, 2] as FieldIndex[]) {
    const key = keys instanceof Map ? keys.get(f) : (keys as FieldKeys)[f]
    const c = ciphertexts.cip?.[f]
    if (key !== undefined && c !== undefined) out[FIELD_NAMES[f]] = decryptField(key, record.recordId, f, c)
  }
  return out
}
