/**
 * Encrypted attachments (scans, PDFs, lab files) of up to MAX_ATTACHMENT_BYTES, each under its own
 * 32-byte key (derived by the caller, e.g. `src/puf`). The file name and media type are encrypted
 * too, in a small separate box, so a reader can list attachments without decrypting the data.
 *
 * Format (version 1):
 * ```
 * offset  size  content
 * 0       1     FORMAT_VERSION (1)
 * 1       1     KIND.attachment (0x20)
 * 2       4     attachment index (u32be, < MAX_ATTACHMENTS)
 * 6       32    record id
 * 38      32    key commitment (see commit.ts)
 * 70      4     length m of the metadata box (u32be)
 * 74      m     metadata box: AES-256-GCM of framed(utf8(name), utf8(mediaType))
 * 74+m    ...   data box: AES-256-GCM of the file
 * ```
 * Associated data: metadata box `framed(TAG.attachmentMetaAad, recordId, u32be(index), header)`;
 * data box `framed(TAG.attachmentDataAad, recordId, u32be(index), header, SHA-256(metadata box))`,
 * so the data is bound to the record, its slot and its (encrypted) metadata.
 */
import { aeadSeal, AEAD_OVERHEAD, concatBytes, equalBytes, framed, fromUtf8, hkdfSha256, sha256, u32be, utf8 } from '../crypto/index.js'
import { checkCommitment, commitKey, COMMITMENT_BYTES, openOr } from './commit.js'
import {
  ATTACHMENT_KEY_BYTES, FORMAT_VERSION, KIND, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENT_NAME_BYTES, MAX_ATTACHMENTS,
  MAX_MEDIA_TYPE_BYTES, RECORD_ID_BYTES, TAG
} from './constants.js'
import { assert32, assertBytes, RecordError } from './errors.js'
import { assertFieldKeys, type FieldKeys } from './fields.js'

export const ATTACHMENT_HEADER_BYTES = 2 + 4 + RECORD_ID_BYTES + COMMITMENT_BYTES + 4
const MAX_META_PLAINTEXT = 8 + MAX_ATTACHMENT_NAME_BYTES + MAX_MEDIA_TYPE_BYTES
const MAX_META_BOX = MAX_META_PLAINTEXT + AEAD_OVERHEAD
/** Largest valid attachment ciphertext. */
export const MAX_ATTACHMENT_CIPHERTEXT_BYTES = ATTACHMENT_HEADER_BYTES + MAX_META_BOX + MAX_ATTACHMENT_BYTES + AEAD_OVERHEAD

export interface AttachmentMeta {
  /** File name, 1..255 UTF-8 bytes, no control characters. Sanitize before using it as a path. */
  name: string
  /** Media type such as `application/pdf`, at most 255 bytes. */
  mediaType: string
}

export interface Attachment extends AttachmentMeta {
  data: Uint8Array
}

export interface AttachmentInfo extends AttachmentMeta {
  /** Plaintext size in bytes. */
  size: number
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;[\x20-\x7e]*)?$/

function metaProblem (name: unknown, mediaType: unknown): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'attachment name must be a non-empty string'
  if (utf8(name).length > MAX_ATTACHMENT_NAME_BYTES) return `attachment name exceeds ${MAX_ATTACHMENT_NAME_BYTES} UTF-8 bytes`
  if (CONTROL.test(name)) return 'attachment name contains control characters'
  if (typeof mediaType !== 'string' || mediaType.length > MAX_MEDIA_TYPE_BYTES || !MEDIA_TYPE.test(mediaType)) return 'media type must look like type/subtype (ASCII, at most 255 bytes)'
  return null
}

function assertIndex (index: unknown): asserts index is number {
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= MAX_ATTACHMENTS) {
    throw new RecordError('BAD_INPUT', `attachment index must be an integer in [0, ${MAX_ATTACHMENTS}), got ${String(index)}`)
  }
}

/**
 * Checks an attachment before any cryptographic work: TOO_LARGE over MAX_ATTACHMENT_BYTES,
 * BAD_INPUT for bad metadata.
 */
export function assertAttachment (attachment: Attachment, what = 'attachment'): void {
  if (attachment === null || typeof attachment !== 'object') throw new RecordError('BAD_INPUT', `${what} must be { name, mediaType, data }`)
  assertBytes(attachment.data, `${what}.data`)
  if (attachment.data.length > MAX_ATTACHMENT_BYTES) {
    throw new RecordError('TOO_LARGE', `${what} is ${attachment.data.length} bytes; the limit is ${MAX_ATTACHMENT_BYTES} (10 MiB)`)
  }
  const p = metaProblem(attachment.name, attachment.mediaType)
  if (p !== null) throw new RecordError('BAD_INPUT', `${what}: ${p}`)
}

/**
 * The key of attachment `index` of a record for readers who hold all three field keys: HKDF-SHA-256
 * over fieldKey0 ‖ fieldKey1 ‖ fieldKey2, info framed(TAG.attachmentFromFields, recordId, u32be(index)).
 * Whoever can read every field (the patient, who re-derives the field keys, or a grantee of all
 * three fields) can read such an attachment; the doctor who writes the record has the field keys
 * from cip0. Used for the original FHIR Bundle of a record, which holds what all three fields hold.
 */
export function deriveAttachmentKeyFromFields (fieldKeys: FieldKeys, recordId: Uint8Array, index: number): Uint8Array {
  assertFieldKeys(fieldKeys)
  assert32(recordId, 'recordId')
  assertIndex(index)
  return hkdfSha256(concatBytes(...fieldKeys), new Uint8Array(0), framed(utf8(TAG.attachmentFromFields), recordId, u32be(index)), ATTACHMENT_KEY_BYTES)
}

function metaAad (recordId: Uint8Array, index: number, header: Uint8Array): Uint8Array {
  return framed(utf8(TAG.attachmentMetaAad), recordId, u32be(index), header)
}
function dataAad (recordId: Uint8Array, index: number, header: Uint8Array, metaBox: Uint8Array): Uint8Array {
  return framed(utf8(TAG.attachmentDataAad), recordId, u32be(index), header, sha256(metaBox))
}

/** Encrypts attachment number `index` of a record. */
export function encryptAttachment (key: Uint8Array, recordId: Uint8Array, index: number, attachment: Attachment): Uint8Array {
  assertAttachment(attachment)
  assertBytes(key, 'attachment key', ATTACHMENT_KEY_BYTES)
  assert32(recordId, 'recordId')
  assertIndex(index)
  const ck = commitKey(key, TAG.attachmentKey)
  const metaPt = framed(utf8(attachment.name), utf8(attachment.mediaType))
  const header = new Uint8Array(ATTACHMENT_HEADER_BYTES)
  header[0] = FORMAT_VERSION
  header[1] = KIND.attachment
  header.set(u32be(index), 2)
  header.set(recordId, 6)
  header.set(ck.commitment, 6 + RECORD_ID_BYTES)
  header.set(u32be(metaPt.length + AEAD_OVERHEAD), 6 + RECORD_ID_BYTES + COMMITMENT_BYTES)
  const metaBox = aeadSeal(ck.encKey, metaPt, metaAad(recordId, index, header))
  const dataBox = aeadSeal(ck.encKey, attachment.data, dataAad(recordId, index, header, metaBox))
  return concatBytes(header, metaBox, dataBox)
}

interface Parsed { header: Uint8Array, metaBox: Uint8Array, dataBox: Uint8Array, encKey: Uint8Array }

function parse (key: Uint8Array, recordId: Uint8Array, index: number, cip: Uint8Array): Parsed {
  assertBytes(key, 'attachment key', ATTACHMENT_KEY_BYTES)
  assert32(recordId, 'recordId')
  assertIndex(index)
  assertBytes(cip, 'attachment ciphertext')
  if (cip.length > MAX_ATTACHMENT_CIPHERTEXT_BYTES) throw new RecordError('TOO_LARGE', `attachment ciphertext is ${cip.length} bytes; the limit is ${MAX_ATTACHMENT_CIPHERTEXT_BYTES}`)
  if (cip.length < ATTACHMENT_HEADER_BYTES + 2 * AEAD_OVERHEAD) throw new RecordError('MALFORMED', 'attachment ciphertext is truncated')
  if (cip[0] !== FORMAT_VERSION) throw new RecordError('MALFORMED', `unsupported attachment version ${String(cip[0])}`)
  if (cip[1] !== KIND.attachment) throw new RecordError('MALFORMED', 'not an attachment ciphertext')
  const dv = new DataView(cip.buffer, cip.byteOffset, cip.byteLength)
  const claimedIndex = dv.getUint32(2)
  const metaLen = dv.getUint32(6 + RECORD_ID_BYTES + COMMITMENT_BYTES)
  if (metaLen < AEAD_OVERHEAD || metaLen > MAX_META_BOX || ATTACHMENT_HEADER_BYTES + metaLen + AEAD_OVERHEAD > cip.length) {
    throw new RecordError('MALFORMED', 'attachment metadata length is invalid')
  }
  if (!equalBytes(cip.subarray(6, 6 + RECORD_ID_BYTES), recordId)) throw new RecordError('WRONG_RECORD_ID', 'attachment belongs to another record')
  if (claimedIndex !== index) throw new RecordError('WRONG_FIELD', `ciphertext is attachment ${claimedIndex}, expected ${index}`)
  const ck = commitKey(key, TAG.attachmentKey)
  checkCommitment(ck, cip.subarray(6 + RECORD_ID_BYTES, 6 + RECORD_ID_BYTES + COMMITMENT_BYTES), `attachment ${index}`)
  return {
    header: cip.subarray(0, ATTACHMENT_HEADER_BYTES),
    metaBox: cip.subarray(ATTACHMENT_HEADER_BYTES, ATTACHMENT_HEADER_BYTES + metaLen),
    dataBox: cip.subarray(ATTACHMENT_HEADER_BYTES + metaLen),
    encKey: ck.encKey
  }
}

function openMeta (p: Parsed, recordId: Uint8Array, index: number): AttachmentMeta {
  const pt = openOr('TAMPERED', `attachment ${index} metadata`, p.encKey, p.metaBox, metaAad(recordId, index, p.header))
  const dv = new DataView(pt.buffer, pt.byteOffset, pt.byteLength)
  const nameLen = pt.length >= 4 ? dv.getUint32(0) : -1
  if (nameLen < 0 || 4 + nameLen + 4 > pt.length || 8 + nameLen + dv.getUint32(4 + nameLen) !== pt.length) {
    throw new RecordError('MALFORMED', `attachment ${index} metadata is malformed`)
  }
  let name: string, mediaType: string
  try {
    name = fromUtf8(pt.subarray(4, 4 + nameLen))
    mediaType = fromUtf8(pt.subarray(8 + nameLen))
  } catch {
    throw new RecordError('MALFORMED', `attachment ${index} metadata is not UTF-8`)
  }
  const problem = metaProblem(name, mediaType)
  if (problem !== null) throw new RecordError('MALFORMED', `attachment ${index}: ${problem}`)
  return { name, mediaType }
}

/** Decrypts only the name and media type (cheap), plus the plaintext size. */
export function readAttachmentInfo (key: Uint8Array, recordId: Uint8Array, index: number, cip: Uint8Array): AttachmentInfo {
  const p = parse(key, recordId, index, cip)
  return { ...openMeta(p, recordId, index), size: p.dataBox.length - AEAD_OVERHEAD }
}

/**
 * Decrypts an attachment. Errors: WRONG_RECORD_ID, WRONG_FIELD (another attachment slot),
 * WRONG_KEY, TAMPERED, MALFORMED, TOO_LARGE, BAD_INPUT.
 */
export function decryptAttachment (key: Uint8Array, recordId: Uint8Array, index: number, cip: Uint8Array): Attachment {
  const p = parse(key, recordId, index, cip)
  const meta = openMeta(p, recordId, index)
  const data = openOr('TAMPERED', `attachment ${index}`, p.encKey, p.dataBox, dataAad(recordId, index, p.header, p.metaBox))
  return { ...meta, data }
}
