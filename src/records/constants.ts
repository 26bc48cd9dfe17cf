/**
 * Sizes, limits, format versions and domain-separation tags of the record envelope.
 * Every binary format starts with `FORMAT_VERSION` and a kind byte; every AEAD associated data,
 * HKDF info and signing payload starts with a distinct tag, so no value can be reinterpreted as
 * another.
 */

export const RECORD_ID_BYTES = 32
export const FIELD_KEY_BYTES = 32
export const ATTACHMENT_KEY_BYTES = 32
export const HASH_BYTES = 32

/** Largest plaintext of one field (personal info, symptoms or prescriptions). */
export const MAX_FIELD_BYTES = 256 * 1024
/** Largest attachment (plaintext file). */
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
/** Most attachments per record. */
export const MAX_ATTACHMENTS = 16
/** Largest attachment file name, in UTF-8 bytes. */
export const MAX_ATTACHMENT_NAME_BYTES = 255
/** Largest attachment media type, in bytes (RFC 6838 type/subtype plus parameters). */
export const MAX_MEDIA_TYPE_BYTES = 255

/** Version byte at offset 0 of every binary format of this module. */
export const FORMAT_VERSION = 1

/** Kind byte at offset 1. */
export const KIND = {
  keyTransfer: 0x01,
  grant: 0x02,
  field: 0x10,
  attachment: 0x20
} as const

/** Domain-separation tags (UTF-8). */
export const TAG = {
  keyTransferAad: 'pqmed/records/cip0/aad/1',
  keyTransferKdf: 'pqmed/records/cip0/kdf/1',
  grantAad: 'pqmed/records/grant/aad/1',
  grantKdf: 'pqmed/records/grant/kdf/1',
  fieldAad: 'pqmed/records/field/aad/1',
  fieldKey: 'pqmed/records/field/key/1',
  attachmentMetaAad: 'pqmed/records/attachment/meta/1',
  attachmentDataAad: 'pqmed/records/attachment/data/1',
  attachmentKey: 'pqmed/records/attachment/key/1',
  attachmentFromFields: 'pqmed/records/attachment/from-fields/1',
  recordSig: 'pqmed/record-sig/2',
  grantSig: 'pqmed/grant-sig/1',
  patientSig: 'pqmed/patient-sig/1'
} as const
