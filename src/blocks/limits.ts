/**
 * Hard limits of the chain's data model. Decoders reject anything larger before parsing it, so a
 * peer cannot make a node allocate more than these bounds. Changing one is a consensus change.
 */
import { SUITE } from '../crypto/index.js'

export const HASH_BYTES = 32
/** Record ids, doctor/patient/grantee ids and index labels are all 32 bytes. */
export const ID_BYTES = 32
export const SIGNATURE_BYTES = SUITE.sigBytes
export const SIG_PUBLIC_KEY_BYTES = SUITE.sigPublicKeyBytes
export const KEM_PUBLIC_KEY_BYTES = SUITE.kemPublicKeyBytes

/** Number of encrypted fields of a record: personal info, symptoms, prescriptions. */
export const RECORD_FIELDS = 3
export const MAX_CHAIN_ID_LENGTH = 64
/** Chain ids appear in libp2p topic and protocol names, so they are restricted to this alphabet. */
export const CHAIN_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/

export const MAX_INDEX_VALUE_BYTES = 128
export const MAX_INDEX_UPDATES_PER_TX = 256
export const MAX_ATTACHMENTS = 64
/** The KEM-DEM wrapped field keys of a grant (an ML-KEM-768 ciphertext of 1088 bytes plus sealed keys). */
export const MAX_WRAPPED_BYTES = 8192

/** Largest encoded tx of every kind but a key epoch (`maxTxBytes`). */
export const MAX_TX_BYTES = 64 * 1024
/**
 * Largest submission (the encoded tx plus its ciphertexts: cip1..cip3 and the attachments) a node
 * accepts and gossips. It bounds a record's attachments far below MAX_ATTACHMENT_BYTES of src/records.
 */
export const MAX_SUBMISSION_BYTES = 2 * 1024 * 1024
/**
 * Largest key-epoch tx (`KeyEpochTx`, src/blocks/key-epoch.ts), the one tx kind allowed above
 * MAX_TX_BYTES: it wraps the index key to every active doctor (about 1.26 KB each, so up to
 * MAX_KEY_EPOCH_RECIPIENTS = 1,600 doctors). A submission holding it (the tx plus a 16-byte
 * `{ tx, blobs }` envelope) stays under MAX_SUBMISSION_BYTES, and a block holding it under MAX_BLOCK_BYTES.
 */
export const MAX_KEY_EPOCH_TX_BYTES = MAX_SUBMISSION_BYTES - 1024
/**
 * Largest encoded manager-change tx: it carries ≥ 2f+1 ML-DSA-65 signatures (3,309 bytes each), up
 * to 86 for MAX_VALIDATORS managers (about 290 KB), so it may exceed MAX_TX_BYTES.
 */
export const MAX_MANAGER_TX_BYTES = 512 * 1024
/** Largest encoded tx of kind `type`: MAX_KEY_EPOCH_TX_BYTES for a key epoch, MAX_MANAGER_TX_BYTES for a manager change, MAX_TX_BYTES for every other kind. */
export function maxTxBytes (type: unknown): number { return type === 'key-epoch' ? MAX_KEY_EPOCH_TX_BYTES : type === 'manager' ? MAX_MANAGER_TX_BYTES : MAX_TX_BYTES }
export const MAX_BLOCK_BYTES = 4 * 1024 * 1024
export const MAX_BLOCK_TXS = 2048
export const MAX_RECORD_IDS = MAX_BLOCK_TXS
/** Largest manager set a certificate can speak for (and bound on validator / proposer indices). */
export const MAX_VALIDATORS = 128
export const MAX_HEADER_BYTES = 96 * 1024
export const MAX_CERTIFICATE_BYTES = 512 * 1024
/** Bound on one verifyHeaderChain call. */
export const MAX_HEADER_CHAIN = 10_000
