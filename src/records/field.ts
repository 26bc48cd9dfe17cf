/**
 * Field ciphertexts cip1..cip3 (paper 1 Fig. 2 step 3): each field encrypted with AES-256-GCM
 * under its own key, bound to the record id and the field name.
 *
 * Format (version 1):
 * ```
 * offset  size  content
 * 0       1     FORMAT_VERSION (1)
 * 1       1     KIND.field (0x10)
 * 2       1     field index (0 personalInfo, 1 symptoms, 2 prescriptions)
 * 3       32    record id
 * 35      32    key commitment (HKDF of the field key, see commit.ts)
 * 67      ...   AES-256-GCM nonce (12) ‖ ciphertext ‖ tag (16)
 * ```
 * Associated data: `framed(TAG.fieldAad, recordId, utf8(fieldName), header[0..67))`. The header
 * lets a reader report a ciphertext moved to another record (WRONG_RECORD_ID) or field
 * (WRONG_FIELD) precisely; a header rewritten to hide the move fails authentication (TAMPERED).
 */
import { aeadSeal, AEAD_OVERHEAD, equalBytes, framed, utf8 } from '../crypto/index.js'
import { checkCommitment, commitKey, COMMITMENT_BYTES, openOr } from './commit.js'
import { FIELD_KEY_BYTES, FORMAT_VERSION, KIND, MAX_FIELD_BYTES, RECORD_ID_BYTES, TAG } from './constants.js'
import { assert32, assertBytes, RecordError } from './errors.js'
import { assertFieldIndex, assertFieldKeys, FIELD_NAMES, type FieldIndex, type FieldKeys, type RecordFields } from './fields.js'

export const FIELD_HEADER_BYTES = 3 + RECORD_ID_BYTES + COMMITMENT_BYTES
/** Size of a field ciphertext beyond its plaintext. */
export const FIELD_CIPHERTEXT_OVERHEAD = FIELD_HEADER_BYTES + AEAD_OVERHEAD
/** Largest valid field ciphertext. */
export const MAX_FIELD_CIPHERTEXT_BYTES = MAX_FIELD_BYTES + FIELD_CIPHERTEXT_OVERHEAD

function fieldAad (recordId: Uint8Array, fieldIndex: FieldIndex, header: Uint8Array): Uint8Array {
  return framed(utf8(TAG.fieldAad), recordId, utf8(FIELD_NAMES[fieldIndex]), header)
}

/** Encrypts one field. Throws TOO_LARGE above MAX_FIELD_BYTES. */
export function encryptField (key: Uint8Array, recordId: Uint8Array, fieldIndex: FieldIndex, plaintext: Uint8Array): Uint8Array {
  assertBytes(key, 'field key', FIELD_KEY_BYTES)
  assert32(recordId, 'recordId')
  assertFieldIndex(fieldIndex)
  assertBytes(plaintext, `${FIELD_NAMES[fieldIndex]} plaintext`)
  if (plaintext.length > MAX_FIELD_BYTES) throw new RecordError('TOO_LARGE', `${FIELD_NAMES[fieldIndex]} is ${plaintext.length} bytes; the limit is ${MAX_FIELD_BYTES}`)
  const ck = commitKey(key, TAG.fieldKey)
  const header = new Uint8Array(FIELD_HEADER_BYTES)
  header[0] = FORMAT_VERSION
  header[1] = KIND.field
  header[2] = fieldIndex
  header.set(recordId, 3)
  header.set(ck.commitment, 3 + RECORD_ID_BYTES)
  const sealed = aeadSeal(ck.encKey, plaintext, fieldAad(recordId, fieldIndex, header))
  const out = new Uint8Array(header.length + sealed.length)
  out.set(header, 0)
  out.set(sealed, header.length)
  return out
}

/** Encrypts the three fields of a record into [cip1, cip2, cip3]. Sizes are checked before any work. */
export function encryptFields (fieldKeys: FieldKeys, recordId: Uint8Array, fields: RecordFields): [Uint8Array, Uint8Array, Uint8Array] {
  assertFieldKeys(fieldKeys)
  assert32(recordId, 'recordId')
  if (fields === null || typeof fields !== 'object') throw new RecordError('BAD_INPUT', 'fields must be { personalInfo, symptoms, prescriptions }')
  const pts = FIELD_NAMES.map((n) => fields[n])
  pts.forEach((p, i) => {
    assertBytes(p, FIELD_NAMES[i] as string)
    if (p.length > MAX_FIELD_BYTES) throw new RecordError('TOO_LARGE', `${FIELD_NAMES[i] as string} is ${p.length} bytes; the limit is ${MAX_FIELD_BYTES}`)
  })
  return [
    encryptField(fieldKeys[0], recordId, 0, pts[0] as Uint8Array),
    encryptField(fieldKeys[1], recordId, 1, pts[1] as Uint8Array),
    encryptField(fieldKeys[2], recordId, 2, pts[2] as Uint8Array)
  ]
}

/** The record id and field index a field ciphertext claims (unauthenticated until decrypted). */
export function inspectField (cip: Uint8Array): { recordId: Uint8Array, fieldIndex: FieldIndex } {
  assertBytes(cip, 'field ciphertext')
  if (cip.length > MAX_FIELD_CIPHERTEXT_BYTES) throw new RecordError('TOO_LARGE', `field ciphertext is ${cip.length} bytes; the limit is ${MAX_FIELD_CIPHERTEXT_BYTES}`)
  if (cip.length < FIELD_CIPHERTEXT_OVERHEAD) throw new RecordError('MALFORMED', 'field ciphertext is truncated')
  if (cip[0] !== FORMAT_VERSION) throw new RecordError('MALFORMED', `unsupported field ciphertext version ${String(cip[0])}`)
  if (cip[1] !== KIND.field) throw new RecordError('MALFORMED', 'not a field ciphertext')
  const idx = cip[2]
  if (idx !== 0 && idx !== 1 && idx !== 2) throw new RecordError('MALFORMED', `field ciphertext has unknown field index ${String(idx)}`)
  return { recordId: cip.subarray(3, 3 + RECORD_ID_BYTES), fieldIndex: idx }
}

/**
 * Decrypts one field ciphertext. Errors: WRONG_RECORD_ID / WRONG_FIELD (ciphertext of another
 * record or field), WRONG_KEY (key commitment mismatch), TAMPERED (authentication failed),
 * MALFORMED, TOO_LARGE, BAD_INPUT.
 */
export function decryptField (key: Uint8Array, recordId: Uint8Array, fieldIndex: FieldIndex, cip: Uint8Array): Uint8Array {
  assertBytes(key, 'field key', FIELD_KEY_BYTES)
  assert32(recordId, 'recordId')
  assertFieldIndex(fieldIndex)
  const claimed = inspectField(cip)
  if (!equalBytes(claimed.recordId, recordId)) throw new RecordError('WRONG_RECORD_ID', 'field ciphertext belongs to another record')
  if (claimed.fieldIndex !== fieldIndex) {
    throw new RecordError('WRONG_FIELD', `ciphertext is of field ${FIELD_NAMES[claimed.fieldIndex]}, expected ${FIELD_NAMES[fieldIndex]}`)
  }
  const ck = commitKey(key, TAG.fieldKey)
  checkCommitment(ck, cip.subarray(3 + RECORD_ID_BYTES, FIELD_HEADER_BYTES), FIELD_NAMES[fieldIndex])
  const header = cip.subarray(0, FIELD_HEADER_BYTES)
  return openOr('TAMPERED', FIELD_NAMES[fieldIndex], ck.encKey, cip.subarray(FIELD_HEADER_BYTES), fieldAad(recordId, fieldIndex, header))
}

/** Decrypts all three fields with the record's field keys. */
export function decryptFields (fieldKeys: FieldKeys, recordId: Uint8Array, cips: readonly Uint8Array[]): RecordFields {
  assertFieldKeys(fieldKeys)
  if (!Array.isArray(cips) || cips.length !== 3) throw new RecordError('BAD_INPUT', 'cips must be [cip1, cip2, cip3]')
  return {
    personalInfo: decryptField(fieldKeys[0], recordId, 0, cips[0] as Uint8Array),
    symptoms: decryptField(fieldKeys[1], recordId, 1, cips[1] as Uint8Array),
    prescriptions: decryptField(fieldKeys[2], recordId, 2, cips[2] as Uint8Array)
  }
}
