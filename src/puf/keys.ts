/**
 * Key derivation from the 32-byte PUF secret with HKDF-SHA256 (salt: empty, the secret is already
 * uniform), one domain-separated `info` per purpose. Labels (all under 'pqmed/puf/v1/'):
 *
 * | key | length | info |
 * |---|---|---|
 * | ML-DSA-65 seed | 32 | `identity/ml-dsa-65` |
 * | ML-KEM-768 seed (d ‖ z) | 64 | `identity/ml-kem-768` |
 * | record field key f | 32 | framed('record-field', recordId, fieldName) |
 * | attachment key | 32 | framed('record-attachment', recordId, u32be(index)) |
 * | index key | 32 | framed('index-key', purpose) |
 * | record owner ML-DSA-65 seed | 32 | framed('record-owner/1', recordId) |
 *
 * `framed` is the crypto suite's u32-length-prefixed concatenation, so no two inputs share an info.
 * Keys are recomputed on demand and never stored.
 */
import { framed, hkdfSha256, sha256, sigKeygen, kemKeygen, SUITE, u32be, utf8, type KeyPair } from '../crypto/index.js'
import { assertBytes, assertInt, PufError } from './errors.js'
import { SECRET_BYTES } from './extractor.js'

export const KEY_INFO_PREFIX = 'pqmed/puf/v1/'
export const SIG_SEED_INFO = `${KEY_INFO_PREFIX}identity/ml-dsa-65`
export const KEM_SEED_INFO = `${KEY_INFO_PREFIX}identity/ml-kem-768`
/** Label of the per-record owner key seed (framed with the record id). */
export const RECORD_OWNER_INFO = `${KEY_INFO_PREFIX}record-owner/1`
export const RECORD_ID_BYTES = 32
export const FIELD_KEY_BYTES = 32
/** The three encrypted fields of a record (paper 1: inf_i, sym_i, pre_i), in key order. */
export const RECORD_FIELDS = ['personal-info', 'symptoms', 'prescriptions'] as const
export type RecordField = typeof RECORD_FIELDS[number]
const MAX_ATTACHMENT_INDEX = 0xffffffff
const PURPOSE_PATTERN = /^[a-z0-9][a-z0-9:._-]{0,127}$/

export interface IdentityKeys {
  /** ML-DSA-65 signing key pair. */
  sig: KeyPair
  /** ML-KEM-768 key pair. */
  kem: KeyPair
  /** SHA-256 of sig.publicKey: the identity's stable id. */
  id: Uint8Array
}

function checkSecret (secret: Uint8Array): void {
  assertBytes(secret, 'PUF secret', SECRET_BYTES)
}

function expand (secret: Uint8Array, info: Uint8Array | string, len: number): Uint8Array {
  return hkdfSha256(secret, new Uint8Array(0), info, len)
}

/** The identity key pairs (ML-DSA-65, ML-KEM-768) and id of the PUF secret's owner. */
export function deriveIdentityKeys (secret: Uint8Array): IdentityKeys {
  checkSecret(secret)
  const sigSeed = expand(secret, SIG_SEED_INFO, SUITE.sigSeedBytes)
  const kemSeed = expand(secret, KEM_SEED_INFO, SUITE.kemSeedBytes)
  const sig = sigKeygen(sigSeed)
  const kem = kemKeygen(kemSeed)
  sigSeed.fill(0); kemSeed.fill(0)
  return { sig, kem, id: sha256(sig.publicKey) }
}

/** One field key of a record. */
export function deriveFieldKey (secret: Uint8Array, recordId: Uint8Array, field: RecordField): Uint8Array {
  checkSecret(secret)
  assertBytes(recordId, 'recordId', RECORD_ID_BYTES)
  if (!(RECORD_FIELDS as readonly string[]).includes(field)) throw new PufError('BAD_INPUT', `unknown record field '${String(field)}' (expected one of ${RECORD_FIELDS.join(', ')})`)
  return expand(secret, framed(utf8(`${KEY_INFO_PREFIX}record-field`), recordId, utf8(field)), FIELD_KEY_BYTES)
}

/** The three field keys of a record: [personal info, symptoms, prescriptions], 32 bytes each. */
export function deriveFieldKeys (secret: Uint8Array, recordId: Uint8Array): [Uint8Array, Uint8Array, Uint8Array] {
  return [
    deriveFieldKey(secret, recordId, 'personal-info'),
    deriveFieldKey(secret, recordId, 'symptoms'),
    deriveFieldKey(secret, recordId, 'prescriptions')
  ]
}

/**
 * The patient's per-record owner key: an ML-DSA-65 key pair seeded from the PUF secret and the
 * record id. Its id (`RecordTx.owner`, SHA-256 of the public key) is what the chain stores as the
 * record's owner; without the secret, the owner ids of two records cannot be linked to each other
 * or to the patient's identity key. The secret key signs the patient's grants on that record.
 */
export function deriveRecordOwnerKey (secret: Uint8Array, recordId: Uint8Array): KeyPair {
  checkSecret(secret)
  assertBytes(recordId, 'recordId', RECORD_ID_BYTES)
  const seed = expand(secret, framed(utf8(RECORD_OWNER_INFO), recordId), SUITE.sigSeedBytes)
  const pair = sigKeygen(seed)
  seed.fill(0)
  return pair
}

/** `RecordTx.owner` of a record: SHA-256 of `deriveRecordOwnerKey(secret, recordId).publicKey`. */
export function recordOwnerId (secret: Uint8Array, recordId: Uint8Array): Uint8Array {
  return sha256(deriveRecordOwnerKey(secret, recordId).publicKey)
}

/** The key of attachment number `index` (0 .. 2^32-1) of a record. */
export function deriveAttachmentKey (secret: Uint8Array, recordId: Uint8Array, index: number): Uint8Array {
  checkSecret(secret)
  assertBytes(recordId, 'recordId', RECORD_ID_BYTES)
  assertInt(index, 'attachment index', 0, MAX_ATTACHMENT_INDEX)
  return expand(secret, framed(utf8(`${KEY_INFO_PREFIX}record-attachment`), recordId, u32be(index)), FIELD_KEY_BYTES)
}

/**
 * A searchable-index key for `purpose` (e.g. 'patient-index' for the per-patient index key).
 * `purpose`: 1-128 chars of [a-z0-9:._-], starting with a letter or digit.
 */
export function deriveIndexKey (secret: Uint8Array, purpose: string): Uint8Array {
  checkSecret(secret)
  if (typeof purpose !== 'string' || !PURPOSE_PATTERN.test(purpose)) {
    throw new PufError('BAD_INPUT', `index key purpose must match ${String(PURPOSE_PATTERN)}, got ${JSON.stringify(purpose)}`)
  }
  return expand(secret, framed(utf8(`${KEY_INFO_PREFIX}index-key`), utf8(purpose)), FIELD_KEY_BYTES)
}
