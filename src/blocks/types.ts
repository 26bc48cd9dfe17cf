/**
 * The chain's data model. Every value here is encoded canonically with dag-cbor
 * (`@ipld/dag-cbor`), so blocks are IPLD blocks and hashes are well defined.
 *
 * Identifiers: a doctor's or patient's id is SHA-256 of their ML-DSA-65 public key; a record id is
 * 32 random bytes chosen by the client; hashes are SHA-256 (32 bytes). Managers are referred to by
 * their index in the consortium configuration that certifies the block (src/blocks/consortium.ts).
 */
import type { DoctorTx, UserNodeTx } from './governance.js'
import type { KeyEpochTx } from './key-epoch.js'
import type { ManagerTx } from './consortium.js'

/** One searchable-encryption index update (label → masked value), produced by `src/sse`. */
export interface IndexUpdate {
  label: Uint8Array // 32 bytes
  value: Uint8Array // at most MAX_INDEX_VALUE_BYTES
}

/** A medical record committed on chain (paper 1 Fig. 6): hashes of the ciphertexts, never plaintext. */
export interface RecordTx {
  type: 'record'
  recordId: Uint8Array // 32 bytes
  doctor: Uint8Array // doctor id: SHA-256 of the doctor's ML-DSA-65 public key
  /**
   * Owner id: SHA-256 of the patient's per-record owner key (ML-DSA-65, derived from the patient's
   * PUF secret and the record id, `deriveRecordOwnerKey`). Unlinkable to the patient and to the
   * patient's other records; the owner key signs the patient's grants on this record.
   */
  owner: Uint8Array // 32 bytes
  /** SHA-256 of cip1 (personal info), cip2 (symptoms), cip3 (prescriptions); the ciphertexts live in Helia. */
  fields: [Uint8Array, Uint8Array, Uint8Array]
  /** SHA-256 of each encrypted attachment (may be empty). */
  attachments: Uint8Array[]
  indexUpdates: IndexUpdate[]
  time: number // client timestamp, ms since the epoch (signed)
  signature: Uint8Array // ML-DSA-65 by the doctor over the record signing payload (src/records)
}

/**
 * A consent-log entry: a key holder wraps field keys of a record to a grantee. Only the record's
 * doctor (`grantor` = `RecordTx.doctor`) or its owner (`grantor` = `RecordTx.owner`) may grant.
 */
export interface GrantTx {
  type: 'grant'
  recordId: Uint8Array
  grantor: Uint8Array // SHA-256 of grantorKey: the record's doctor id or the record's owner id
  grantorKey: Uint8Array // the grantor's ML-DSA-65 public key (1952 bytes), so the grant verifies without a lookup
  grantee: Uint8Array // SHA-256 of the grantee's ML-KEM-768 public key
  fields: number[] // which fields (0 personal info, 1 symptoms, 2 prescriptions) are shared
  wrapped: Uint8Array // the KEM-DEM wrapped field keys (src/records)
  time: number
  signature: Uint8Array // ML-DSA-65 by the grantor
}

/** Enrollment of a patient's public keys (SVBE "add patient"). Self-signed. */
export interface PatientTx {
  type: 'patient'
  patientId: Uint8Array // SHA-256 of sigPublicKey
  sigPublicKey: Uint8Array // ML-DSA-65, 1952 bytes
  kemPublicKey: Uint8Array // ML-KEM-768, 1184 bytes
  time: number
  signature: Uint8Array
}

export type Tx = RecordTx | GrantTx | PatientTx | DoctorTx | UserNodeTx | KeyEpochTx | ManagerTx

export interface Header {
  chainId: string
  height: number // the genesis header is height 0; the first block is height 1
  prevHash: Uint8Array // hash of the previous header (32 bytes)
  time: number // proposer's clock, ms since the epoch
  proposer: number // index of the proposing manager
  view: number // PBFT view in which the block was proposed
  recordIds: Uint8Array[] // ids of the records in this block, in tx order
  txRoot: Uint8Array // RFC 6962 Merkle root over the encoded txs
  txCount: number
  indexRoot: Uint8Array // RFC 6962 Merkle root over the block's index updates, in order
  indexCount: number
  /** Position of the block's first index update in the chain-wide index sequence. */
  indexStart: number
  /** configHash (src/blocks/consortium.ts) of the consortium configuration that certifies this block. */
  configHash: Uint8Array
  /** configHash of the configuration that certifies the next block (differs from `configHash` only in the last block before a manager change takes effect). */
  nextConfigHash: Uint8Array
}

export interface Block {
  header: Header
  txs: Tx[]
}

/** One manager's signature over `voteSignBytes('commit', ...)`. */
export interface CommitSignature {
  validator: number // index in the manager list of the configuration that certifies the block
  signature: Uint8Array
}

/** Proof that ≥ 2f+1 distinct managers committed `headerHash` at (height, view). */
export interface CommitCertificate {
  chainId: string
  height: number
  view: number
  headerHash: Uint8Array
  signatures: CommitSignature[]
}

export type VoteKind = 'prepare' | 'commit'
