/**
 * The key transfer cip0 (paper 1 Fig. 2 step 1 / Fig. 6 step 1): the patient's client wraps the
 * three field keys and the personal information to the doctor's ML-KEM-768 public key.
 *
 * Format (version 1):
 * ```
 * offset  size  content
 * 0       1     FORMAT_VERSION (1)
 * 1       1     KIND.keyTransfer (0x01)
 * 2       32    record id
 * 34      32    patient id (SHA-256 of the patient's ML-DSA-65 public key)
 * 66      32    recipient key id (SHA-256 of the doctor's ML-KEM-768 public key)
 * 98      1088  ML-KEM-768 ciphertext
 * 1186    ...   AES-256-GCM nonce ‖ E(fieldKey0 ‖ fieldKey1 ‖ fieldKey2 ‖ personalInfo) ‖ tag
 * ```
 * The header (record id, patient id, recipient key id) is the AEAD associated data and part of
 * the HKDF info (kemdem.ts). cip0 travels point to point and is never put on chain; the patient
 * id in it is the public pseudonym already on chain in the patient's enrollment.
 *
 * cip0 is not signed: it tells the doctor which patient it claims to come from, not that it does.
 * The doctor's client authenticates the patient by other means (the consultation channel).
 */
import { concatBytes, equalBytes, type PqBackend } from '../crypto/index.js'
import { FIELD_KEY_BYTES, FORMAT_VERSION, KIND, MAX_FIELD_BYTES, RECORD_ID_BYTES, TAG } from './constants.js'
import { assert32, assertBytes, RecordError } from './errors.js'
import { assertFieldKeys, FIELD_COUNT, type FieldKeys } from './fields.js'
import { checkRecipient, KEM_DEM_OVERHEAD, kemDemOpen, kemDemSeal, kemKeyId } from './kemdem.js'

export const KEY_TRANSFER_HEADER_BYTES = 2 + 3 * 32
const KEYS_BYTES = FIELD_COUNT * FIELD_KEY_BYTES
/** Smallest and largest valid cip0. */
export const MIN_KEY_TRANSFER_BYTES = KEY_TRANSFER_HEADER_BYTES + KEM_DEM_OVERHEAD + KEYS_BYTES
export const MAX_KEY_TRANSFER_BYTES = MIN_KEY_TRANSFER_BYTES + MAX_FIELD_BYTES

const TAGS = { aad: TAG.keyTransferAad, kdf: TAG.keyTransferKdf }

export interface KeyTransfer {
  recordId: Uint8Array
  patientId: Uint8Array
  fieldKeys: FieldKeys
  personalInfo: Uint8Array
}

export interface KeyTransferHeader {
  recordId: Uint8Array
  patientId: Uint8Array
  /** SHA-256 of the recipient's (doctor's) ML-KEM-768 public key. */
  recipient: Uint8Array
}

/** Builds cip0 for the doctor. Throws TOO_LARGE if personalInfo exceeds MAX_FIELD_BYTES. */
export function createKeyTransfer (pq: PqBackend, input: KeyTransfer, doctorKemPublicKey: Uint8Array): Uint8Array {
  if (input === null || typeof input !== 'object') throw new RecordError('BAD_INPUT', 'key transfer input must be an object')
  const { recordId, patientId, fieldKeys, personalInfo } = input
  assert32(recordId, 'recordId')
  assert32(patientId, 'patientId')
  assertFieldKeys(fieldKeys)
  assertBytes(personalInfo, 'personalInfo')
  if (personalInfo.length > MAX_FIELD_BYTES) throw new RecordError('TOO_LARGE', `personalInfo is ${personalInfo.length} bytes; the limit is ${MAX_FIELD_BYTES}`)
  const header = new Uint8Array(KEY_TRANSFER_HEADER_BYTES)
  header[0] = FORMAT_VERSION
  header[1] = KIND.keyTransfer
  header.set(recordId, 2)
  header.set(patientId, 2 + RECORD_ID_BYTES)
  header.set(kemKeyId(doctorKemPublicKey), 2 + 2 * 32)
  return kemDemSeal(pq, doctorKemPublicKey, header, TAGS, concatBytes(fieldKeys[0], fieldKeys[1], fieldKeys[2], personalInfo))
}

/** Parses cip0's cleartext header (unauthenticated until opened). */
export function inspectKeyTransfer (cip0: Uint8Array): KeyTransferHeader {
  assertBytes(cip0, 'cip0')
  if (cip0.length > MAX_KEY_TRANSFER_BYTES) throw new RecordError('TOO_LARGE', `cip0 is ${cip0.length} bytes; the limit is ${MAX_KEY_TRANSFER_BYTES}`)
  if (cip0.length < MIN_KEY_TRANSFER_BYTES) throw new RecordError('MALFORMED', 'cip0 is truncated')
  if (cip0[0] !== FORMAT_VERSION) throw new RecordError('MALFORMED', `unsupported cip0 version ${String(cip0[0])}`)
  if (cip0[1] !== KIND.keyTransfer) throw new RecordError('MALFORMED', 'not a key transfer (cip0)')
  return {
    recordId: cip0.slice(2, 34),
    patientId: cip0.slice(34, 66),
    recipient: cip0.slice(66, 98)
  }
}

/**
 * Opens cip0 with the doctor's ML-KEM-768 secret key. With `expected`, a cip0 for another record
 * or from another patient is refused (WRONG_RECORD_ID / WRONG_PATIENT) before decapsulation.
 * Errors: WRONG_KEY (addressed to another key), TAMPERED, MALFORMED, TOO_LARGE, BAD_INPUT.
 */
export function openKeyTransfer (pq: PqBackend, cip0: Uint8Array, doctorKemSecretKey: Uint8Array, expected?: { recordId?: Uint8Array, patientId?: Uint8Array }): KeyTransfer {
  const h = inspectKeyTransfer(cip0)
  if (expected?.recordId !== undefined) {
    assert32(expected.recordId, 'expected.recordId')
    if (!equalBytes(expected.recordId, h.recordId)) throw new RecordError('WRONG_RECORD_ID', 'cip0 is for another record')
  }
  if (expected?.patientId !== undefined) {
    assert32(expected.patientId, 'expected.patientId')
    if (!equalBytes(expected.patientId, h.patientId)) throw new RecordError('WRONG_PATIENT', 'cip0 is from another patient')
  }
  checkRecipient(h.recipient, doctorKemSecretKey, 'cip0')
  const pt = kemDemOpen(pq, cip0, KEY_TRANSFER_HEADER_BYTES, doctorKemSecretKey, TAGS, 'cip0')
  if (pt.length < KEYS_BYTES) throw new RecordError('MALFORMED', 'cip0 plaintext is truncated')
  return {
    recordId: h.recordId,
    patientId: h.patientId,
    fieldKeys: [pt.slice(0, 32), pt.slice(32, 64), pt.slice(64, 96)],
    personalInfo: pt.slice(KEYS_BYTES)
  }
}
