/**
 * Access grants (paper 1 Fig. 8 steps 3-5, per field): a key holder (the patient, signing with its
 * per-record owner key, or the record's doctor) wraps some of a record's field keys to a grantee's
 * ML-KEM-768 public key, and signs a consent-log entry (`GrantTx`) over the wrapped blob. Who may
 * grant is decided by `authorizeGrant` (docs/ACCESS.md).
 *
 * Wrapped format (version 1):
 * ```
 * offset  size  content
 * 0       1     FORMAT_VERSION (1)
 * 1       1     KIND.grant (0x02)
 * 2       1     field mask (bit i set iff field i is granted; non-zero, bits 0..2 only)
 * 3       32    record id
 * 35      32    grantor id (SHA-256 of the grantor's ML-DSA-65 public key: doctor id or owner id)
 * 67      32    grantee key id (SHA-256 of the grantee's ML-KEM-768 public key)
 * 99      1088  ML-KEM-768 ciphertext
 * 1187    ...   AES-256-GCM nonce ‖ E(the granted field keys, in field order) ‖ tag
 * ```
 * The header (record id, field list, grantor, grantee key id) is the AEAD associated data and
 * part of the HKDF info, so a wrapped blob cannot be re-labelled with another record or field list.
 * Only the listed fields' keys are ever encrypted: a grant of [1] carries one key.
 */
import { encodeCanonical } from './cbor.js'
import { concatBytes, equalBytes, sha256, type PqBackend, type SigVerifier } from '../crypto/index.js'
import { FIELD_KEY_BYTES, FORMAT_VERSION, KIND, TAG } from './constants.js'
import { assert32, assertBytes, assertSigPublicKey, assertSigSecretKey, assertTime, RecordError } from './errors.js'
import {
  fieldsToMask, isCanonicalFields, maskToFields, normalizeFields,
  type FieldIndex, type FieldKeyMap, type FieldKeys
} from './fields.js'
import { checkRecipient, KEM_DEM_OVERHEAD, kemDemOpen, kemDemSeal, kemKeyId } from './kemdem.js'

export const GRANT_HEADER_BYTES = 3 + 3 * 32
/** Largest valid wrapped grant (all three fields). */
export const MAX_GRANT_BYTES = GRANT_HEADER_BYTES + KEM_DEM_OVERHEAD + 3 * FIELD_KEY_BYTES

const TAGS = { aad: TAG.grantAad, kdf: TAG.grantKdf }

export interface GrantInput {
  recordId: Uint8Array
  /** Fields to share (any order; duplicates rejected). */
  fields: readonly number[]
  /** Keys of at least the granted fields (by index, or a full triple); keys of other fields are ignored, never wrapped. */
  fieldKeys: FieldKeyMap | FieldKeys
  granteeKemPublicKey: Uint8Array
  /** SHA-256 of the grantor's ML-DSA-65 public key. */
  grantorId: Uint8Array
}

export interface GrantHeader {
  recordId: Uint8Array
  grantorId: Uint8Array
  /** SHA-256 of the grantee's ML-KEM-768 public key (`GrantTx.grantee`). */
  grantee: Uint8Array
  /** Canonical (ascending) field list. */
  fields: FieldIndex[]
}

export interface OpenedGrant extends GrantHeader {
  /** The granted field keys, by field index; holds exactly `fields`. */
  keys: Map<FieldIndex, Uint8Array>
}

function keyOf (keys: FieldKeyMap | FieldKeys, f: FieldIndex): Uint8Array {
  const k = keys instanceof Map ? keys.get(f) : Array.isArray(keys) ? (keys as FieldKeys)[f] : undefined
  if (k === undefined) throw new RecordError('BAD_INPUT', `fieldKeys has no key for granted field ${f}`)
  assertBytes(k, `fieldKeys[${f}]`, FIELD_KEY_BYTES)
  return k
}

/** Wraps the granted fields' keys to the grantee. Returns the `wrapped` blob of a `GrantTx`. */
export function createGrant (pq: PqBackend, input: GrantInput): Uint8Array {
  if (input === null || typeof input !== 'object') throw new RecordError('BAD_INPUT', 'grant input must be an object')
  const { recordId, granteeKemPublicKey, grantorId } = input
  assert32(recordId, 'recordId')
  assert32(grantorId, 'grantorId')
  const fields = normalizeFields(input.fields)
  if (!(input.fieldKeys instanceof Map) && !Array.isArray(input.fieldKeys)) throw new RecordError('BAD_INPUT', 'fieldKeys must be a Map or an array of 3 keys')
  const keys = fields.map((f) => keyOf(input.fieldKeys, f))
  const header = new Uint8Array(GRANT_HEADER_BYTES)
  header[0] = FORMAT_VERSION
  header[1] = KIND.grant
  header[2] = fieldsToMask(fields)
  header.set(recordId, 3)
  header.set(grantorId, 35)
  header.set(kemKeyId(granteeKemPublicKey), 67)
  return kemDemSeal(pq, granteeKemPublicKey, header, TAGS, concatBytes(...keys))
}

/** Parses a wrapped grant's cleartext header (unauthenticated until opened). */
export function inspectGrant (wrapped: Uint8Array): GrantHeader {
  assertBytes(wrapped, 'wrapped grant')
  if (wrapped.length > MAX_GRANT_BYTES) throw new RecordError('TOO_LARGE', `wrapped grant is ${wrapped.length} bytes; the limit is ${MAX_GRANT_BYTES}`)
  if (wrapped.length < GRANT_HEADER_BYTES) throw new RecordError('MALFORMED', 'wrapped grant is truncated')
  if (wrapped[0] !== FORMAT_VERSION) throw new RecordError('MALFORMED', `unsupported grant version ${String(wrapped[0])}`)
  if (wrapped[1] !== KIND.grant) throw new RecordError('MALFORMED', 'not a wrapped grant')
  const fields = maskToFields(wrapped[2] as number)
  if (fields === null) throw new RecordError('MALFORMED', 'wrapped grant has an invalid field mask')
  if (wrapped.length !== GRANT_HEADER_BYTES + KEM_DEM_OVERHEAD + fields.length * FIELD_KEY_BYTES) {
    throw new RecordError('MALFORMED', 'wrapped grant length does not match its field list')
  }
  return {
    recordId: wrapped.slice(3, 35),
    grantorId: wrapped.slice(35, 67),
    grantee: wrapped.slice(67, 99),
    fields
  }
}

/**
 * Opens a grant with the grantee's ML-KEM-768 secret key. Errors: WRONG_RECORD_ID (the grant is
 * for another record), WRONG_KEY (addressed to another grantee), TAMPERED, MALFORMED, BAD_INPUT.
 */
export function openGrant (pq: PqBackend, wrapped: Uint8Array, granteeKemSecretKey: Uint8Array, expected: { recordId: Uint8Array }): OpenedGrant {
  if (expected === null || typeof expected !== 'object') throw new RecordError('BAD_INPUT', 'expected must be { recordId }')
  assert32(expected.recordId, 'expected.recordId')
  const h = inspectGrant(wrapped)
  if (!equalBytes(h.recordId, expected.recordId)) throw new RecordError('WRONG_RECORD_ID', 'grant is for another record')
  checkRecipient(h.grantee, granteeKemSecretKey, 'grant')
  const pt = kemDemOpen(pq, wrapped, GRANT_HEADER_BYTES, granteeKemSecretKey, TAGS, 'grant')
  const keys = new Map<FieldIndex, Uint8Array>()
  h.fields.forEach((f, i) => keys.set(f, pt.slice(i * FIELD_KEY_BYTES, (i + 1) * FIELD_KEY_BYTES)))
  return { ...h, keys }
}

/** What the grantor signs; the field names are those of `GrantTx`, so a GrantTx can be passed as is. */
export interface GrantSigningParts {
  recordId: Uint8Array
  /** SHA-256 of the grantor's ML-DSA-65 public key. */
  grantor: Uint8Array
  /** SHA-256 of the grantee's ML-KEM-768 public key. */
  grantee: Uint8Array
  /** Canonical: ascending, unique, non-empty, each in 0..2. */
  fields: readonly number[]
  wrapped: Uint8Array
  time: number
}

/**
 * Canonical signing payload of a grant:
 * `dag-cbor(['pqmed/grant-sig/1', recordId, grantor, grantee, fields, SHA-256(wrapped), time])`.
 * Throws BAD_INPUT on a wrong length, a non-canonical field list or a bad time.
 */
export function grantSigningPayload (parts: GrantSigningParts): Uint8Array {
  if (parts === null || typeof parts !== 'object') throw new RecordError('BAD_INPUT', 'grant parts must be an object')
  assert32(parts.recordId, 'recordId')
  assert32(parts.grantor, 'grantor')
  assert32(parts.grantee, 'grantee')
  if (!isCanonicalFields(parts.fields)) throw new RecordError('BAD_INPUT', 'fields must be ascending, unique, non-empty field indices (0..2)')
  assertBytes(parts.wrapped, 'wrapped')
  assertTime(parts.time)
  return encodeCanonical([TAG.grantSig, parts.recordId, parts.grantor, parts.grantee, [...parts.fields], sha256(parts.wrapped), parts.time])
}

export function signGrant (pq: PqBackend, grantorSigSecretKey: Uint8Array, parts: GrantSigningParts): Uint8Array {
  assertSigSecretKey(grantorSigSecretKey)
  return pq.sign(grantSigningPayload(parts), grantorSigSecretKey)
}

/**
 * True iff `signature` is the grantor's valid signature over `parts` and `parts.grantor` is
 * SHA-256(grantorSigPublicKey). Never throws: malformed input gives false.
 */
export function verifyGrantSignature (verifier: SigVerifier, grantorSigPublicKey: Uint8Array, parts: GrantSigningParts, signature: Uint8Array): boolean {
  try {
    assertSigPublicKey(grantorSigPublicKey)
    if (!equalBytes(sha256(grantorSigPublicKey), parts.grantor)) return false
    return verifier.verify(signature, grantSigningPayload(parts), grantorSigPublicKey)
  } catch {
    return false
  }
}

export interface GrantVerification {
  /** signature && grantorKey && wrappedConsistent */
  valid: boolean
  /** The ML-DSA-65 signature verifies under the key. */
  signature: boolean
  /** `grantor` is SHA-256 of the key. */
  grantorKey: boolean
  /** The wrapped blob is well formed and its header names the same record, grantor, grantee and fields. */
  wrappedConsistent: boolean
}

/** Full check of a signed grant (a `GrantTx`), reporting each check separately. Never throws. */
export function verifyGrant (verifier: SigVerifier, grantorSigPublicKey: Uint8Array, grant: GrantSigningParts & { signature: Uint8Array }): GrantVerification {
  let grantorKey = false
  let signature = false
  let wrappedConsistent = false
  try {
    assertSigPublicKey(grantorSigPublicKey)
    assert32(grant.grantor, 'grantor')
    grantorKey = equalBytes(sha256(grantorSigPublicKey), grant.grantor)
    signature = verifier.verify(grant.signature, grantSigningPayload(grant), grantorSigPublicKey)
  } catch { /* reported as false */ }
  try {
    const h = inspectGrant(grant.wrapped)
    wrappedConsistent = equalBytes(h.recordId, grant.recordId) && equalBytes(h.grantorId, grant.grantor) &&
      equalBytes(h.grantee, grant.grantee) && h.fields.length === grant.fields.length && h.fields.every((f, i) => f === grant.fields[i])
  } catch { /* reported as false */ }
  return { valid: signature && grantorKey && wrappedConsistent, signature, grantorKey, wrappedConsistent }
}

/** What the grant rule needs to know about the record (field names of `RecordTx`). */
export interface GrantedRecord {
  recordId: Uint8Array
  /** The record's doctor id. */
  doctor: Uint8Array
  /** The record's owner id (SHA-256 of the patient's per-record owner key). */
  owner: Uint8Array
}

/** Outcome of `authorizeGrant`: which role granted, or why the grant is refused. */
export type GrantAuthorization =
  | { ok: true, role: 'doctor' | 'owner' }
  | { ok: false, code: 'UNAUTHORIZED_GRANTOR' | 'BAD_SIGNATURE', reason: string }

/**
 * The grant rule, the same for managers (gossip, RPC and proposal validation) and clients: a grant
 * on `record` is authorized iff
 * - `grant.recordId` is the record's id and SHA-256(`grant.grantorKey`) = `grant.grantor`, and
 * - the grantor is the record's doctor (and `grantorKey` is that doctor's registered key,
 *   `doctorKey`) or the record's owner (`record.owner`),
 * else `UNAUTHORIZED_GRANTOR`; an authorized grantor's grant must then verify (`verifyGrant`:
 * ML-DSA-65 signature, wrapped header consistent), else `BAD_SIGNATURE`. Never throws.
 */
export function authorizeGrant (
  verifier: SigVerifier,
  grant: GrantSigningParts & { grantorKey: Uint8Array, signature: Uint8Array },
  record: GrantedRecord,
  doctorKey: Uint8Array | undefined
): GrantAuthorization {
  const refuse = (reason: string): GrantAuthorization => ({ ok: false, code: 'UNAUTHORIZED_GRANTOR', reason })
  if (!(grant.grantorKey instanceof Uint8Array) || !(grant.grantor instanceof Uint8Array)) return refuse('grantor and grantorKey must be bytes')
  if (!(grant.recordId instanceof Uint8Array) || !equalBytes(grant.recordId, record.recordId)) return refuse('the grant is for another record')
  if (!equalBytes(sha256(grant.grantorKey), grant.grantor)) return refuse('grantor is not SHA-256 of grantorKey')
  let role: 'doctor' | 'owner'
  if (equalBytes(grant.grantor, record.doctor)) {
    if (doctorKey === undefined || !equalBytes(doctorKey, grant.grantorKey)) return refuse('grantorKey is not the registered key of the record\'s doctor')
    role = 'doctor'
  } else if (equalBytes(grant.grantor, record.owner)) {
    role = 'owner'
  } else {
    return refuse('grantor is neither the record\'s doctor nor its owner')
  }
  const v = verifyGrant(verifier, grant.grantorKey, grant)
  if (!v.valid) return { ok: false, code: 'BAD_SIGNATURE', reason: `grant does not verify (signature ${v.signature}, key ${v.grantorKey}, wrapped ${v.wrappedConsistent})` }
  return { ok: true, role }
}
