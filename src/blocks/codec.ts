/**
 * Canonical dag-cbor codec for every chain type. Encoders check the value's shape first, so whatever
 * is encoded decodes again; decoders reject, with a typed `BlockError`:
 *
 * - `OVERSIZED`: input longer than the type's limit (checked before parsing), or a list over its limit;
 * - `MALFORMED`: bytes that are not a single valid dag-cbor value;
 * - `NON_CANONICAL`: valid CBOR that is not the canonical dag-cbor encoding of what it decodes to
 *   (non-minimal integers or lengths, duplicate map keys, indefinite lengths — refused by the
 *   `@ipld/dag-cbor` strict decoder — and unsorted map keys or integer-valued floats, caught by
 *   re-encoding the decoded value and comparing bytes);
 * - `INVALID`: a wrong shape (unknown or missing fields, wrong types, wrong byte lengths,
 *   non-integer or negative numbers, an unknown tx type, a CID where bytes are expected).
 *
 * Since canonical encoding is unique, `encode(decode(b))` equals `b` for every accepted `b`, and
 * hashes of encodings are well defined.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { equalBytes, sha256 } from '../crypto/index.js'
import { BlockError } from './errors.js'
import { keyEpochTxShape } from './key-epoch.js'
import {
  HASH_BYTES, ID_BYTES, KEM_PUBLIC_KEY_BYTES, MAX_ATTACHMENTS, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, MAX_CERTIFICATE_BYTES,
  MAX_HEADER_BYTES, MAX_INDEX_UPDATES_PER_TX, MAX_INDEX_VALUE_BYTES, MAX_KEY_EPOCH_TX_BYTES, MAX_RECORD_IDS, MAX_TX_BYTES, MAX_VALIDATORS,
  MAX_WRAPPED_BYTES, maxTxBytes, RECORD_FIELDS, SIG_PUBLIC_KEY_BYTES, SIGNATURE_BYTES
} from './limits.js'
import { doctorTxShape, userNodeTxShape } from './governance.js'
import { managerTxShape } from './consortium.js'
import { bytes, bytesUpTo, chainId, invalid, list, type Obj, record, uint } from './shape.js'
import type { Block, CommitCertificate, CommitSignature, GrantTx, Header, IndexUpdate, PatientTx, RecordTx, Tx } from './types.js'

// ---------------------------------------------------------------------------------------------
// Shapes. Each asserts the structure of an in-memory value and returns it typed; throws BlockError.

const INDEX_UPDATE_KEYS = ['label', 'value'] as const
const RECORD_KEYS = ['type', 'recordId', 'doctor', 'owner', 'fields', 'attachments', 'indexUpdates', 'time', 'signature'] as const
const GRANT_KEYS = ['type', 'recordId', 'grantor', 'grantorKey', 'grantee', 'fields', 'wrapped', 'time', 'signature'] as const
const PATIENT_KEYS = ['type', 'patientId', 'sigPublicKey', 'kemPublicKey', 'time', 'signature'] as const
const HEADER_KEYS = ['chainId', 'height', 'prevHash', 'time', 'proposer', 'view', 'recordIds', 'txRoot', 'txCount', 'indexRoot', 'indexCount', 'indexStart', 'configHash', 'nextConfigHash'] as const
const BLOCK_KEYS = ['header', 'txs'] as const
const CERT_KEYS = ['chainId', 'height', 'view', 'headerHash', 'signatures'] as const
const COMMIT_SIG_KEYS = ['validator', 'signature'] as const

export const TX_TYPES = ['record', 'grant', 'patient', 'doctor', 'user-node', 'key-epoch', 'manager'] as const

export function indexUpdateShape (v: unknown, what = 'index update'): IndexUpdate {
  const o = record(v, what, INDEX_UPDATE_KEYS)
  bytes(o.label, `${what}.label`, ID_BYTES)
  bytesUpTo(o.value, `${what}.value`, MAX_INDEX_VALUE_BYTES, 1)
  return o as unknown as IndexUpdate
}

function recordTxShape (v: unknown): RecordTx {
  const o = record(v, 'record tx', RECORD_KEYS)
  bytes(o.recordId, 'record tx recordId', ID_BYTES)
  bytes(o.doctor, 'record tx doctor', ID_BYTES)
  bytes(o.owner, 'record tx owner', ID_BYTES)
  const fields = o.fields
  if (!Array.isArray(fields) || fields.length !== RECORD_FIELDS) invalid(`record tx fields must be a list of exactly ${RECORD_FIELDS} hashes`)
  fields.forEach((f, i) => bytes(f, `record tx fields[${i}]`, HASH_BYTES))
  list(o.attachments, 'record tx attachments', MAX_ATTACHMENTS).forEach((a, i) => bytes(a, `record tx attachments[${i}]`, HASH_BYTES))
  list(o.indexUpdates, 'record tx indexUpdates', MAX_INDEX_UPDATES_PER_TX).forEach((u, i) => indexUpdateShape(u, `record tx indexUpdates[${i}]`))
  uint(o.time, 'record tx time')
  bytes(o.signature, 'record tx signature', SIGNATURE_BYTES)
  return o as unknown as RecordTx
}

function grantTxShape (v: unknown): GrantTx {
  const o = record(v, 'grant tx', GRANT_KEYS)
  bytes(o.recordId, 'grant tx recordId', ID_BYTES)
  bytes(o.grantor, 'grant tx grantor', ID_BYTES)
  bytes(o.grantorKey, 'grant tx grantorKey', SIG_PUBLIC_KEY_BYTES)
  bytes(o.grantee, 'grant tx grantee', ID_BYTES)
  const fields = o.fields
  if (!Array.isArray(fields) || fields.length < 1 || fields.length > RECORD_FIELDS) invalid(`grant tx fields must list 1..${RECORD_FIELDS} field numbers`)
  const seen = new Set<number>()
  fields.forEach((f, i) => {
    const n = uint(f, `grant tx fields[${i}]`, RECORD_FIELDS - 1)
    if (seen.has(n)) invalid(`grant tx field ${n} listed twice`)
    seen.add(n)
  })
  bytesUpTo(o.wrapped, 'grant tx wrapped', MAX_WRAPPED_BYTES, 1)
  uint(o.time, 'grant tx time')
  bytes(o.signature, 'grant tx signature', SIGNATURE_BYTES)
  return o as unknown as GrantTx
}

function patientTxShape (v: unknown): PatientTx {
  const o = record(v, 'patient tx', PATIENT_KEYS)
  const id = bytes(o.patientId, 'patient tx patientId', ID_BYTES)
  const pk = bytes(o.sigPublicKey, 'patient tx sigPublicKey', SIG_PUBLIC_KEY_BYTES)
  bytes(o.kemPublicKey, 'patient tx kemPublicKey', KEM_PUBLIC_KEY_BYTES)
  uint(o.time, 'patient tx time')
  bytes(o.signature, 'patient tx signature', SIGNATURE_BYTES)
  if (!equalBytes(id, sha256(pk))) invalid('patient tx patientId must be SHA-256 of sigPublicKey')
  return o as unknown as PatientTx
}

export function txShape (v: unknown): Tx {
  const type = (typeof v === 'object' && v !== null) ? (v as Obj).type : undefined
  switch (type) {
    case 'record': return recordTxShape(v)
    case 'grant': return grantTxShape(v)
    case 'patient': return patientTxShape(v)
    case 'doctor': return doctorTxShape(v)
    case 'user-node': return userNodeTxShape(v)
    case 'key-epoch': return keyEpochTxShape(v)
    case 'manager': return managerTxShape(v)
    default: return invalid(`unknown tx type ${typeof type === 'string' ? `'${type.slice(0, 32)}'` : typeof type}`)
  }
}

export function headerShape (v: unknown): Header {
  const o = record(v, 'header', HEADER_KEYS)
  chainId(o.chainId, 'header chainId')
  uint(o.height, 'header height')
  bytes(o.prevHash, 'header prevHash', HASH_BYTES)
  uint(o.time, 'header time')
  uint(o.proposer, 'header proposer', MAX_VALIDATORS - 1)
  uint(o.view, 'header view')
  list(o.recordIds, 'header recordIds', MAX_RECORD_IDS).forEach((r, i) => bytes(r, `header recordIds[${i}]`, ID_BYTES))
  bytes(o.txRoot, 'header txRoot', HASH_BYTES)
  uint(o.txCount, 'header txCount', MAX_BLOCK_TXS)
  bytes(o.indexRoot, 'header indexRoot', HASH_BYTES)
  const indexCount = uint(o.indexCount, 'header indexCount', MAX_BLOCK_TXS * MAX_INDEX_UPDATES_PER_TX)
  const indexStart = uint(o.indexStart, 'header indexStart')
  if (!Number.isSafeInteger(indexStart + indexCount)) invalid('header indexStart + indexCount exceeds the safe integer range')
  bytes(o.configHash, 'header configHash', HASH_BYTES)
  bytes(o.nextConfigHash, 'header nextConfigHash', HASH_BYTES)
  return o as unknown as Header
}

export function blockShape (v: unknown): Block {
  const o = record(v, 'block', BLOCK_KEYS)
  headerShape(o.header)
  list(o.txs, 'block txs', MAX_BLOCK_TXS).forEach((t) => txShape(t))
  return o as unknown as Block
}

export function commitSignatureShape (v: unknown, what = 'commit signature'): CommitSignature {
  const o = record(v, what, COMMIT_SIG_KEYS)
  uint(o.validator, `${what} validator`, MAX_VALIDATORS - 1)
  bytes(o.signature, `${what} signature`, SIGNATURE_BYTES)
  return o as unknown as CommitSignature
}

export function certificateShape (v: unknown): CommitCertificate {
  const o = record(v, 'certificate', CERT_KEYS)
  chainId(o.chainId, 'certificate chainId')
  uint(o.height, 'certificate height')
  uint(o.view, 'certificate view')
  bytes(o.headerHash, 'certificate headerHash', HASH_BYTES)
  list(o.signatures, 'certificate signatures', MAX_VALIDATORS).forEach((s, i) => commitSignatureShape(s, `certificate signatures[${i}]`))
  return o as unknown as CommitCertificate
}

// ---------------------------------------------------------------------------------------------
// Generic canonical codec.

/** Checks `value` with `shape`, encodes it canonically and enforces `maxBytes`. Throws BlockError. */
export function encodeCanonical<T> (value: T, maxBytes: number, shape: (v: unknown) => T, what: string): Uint8Array {
  shape(value)
  let out: Uint8Array
  try {
    out = dagCbor.encode(value)
  } catch (err) {
    throw new BlockError('INVALID', `${what} cannot be encoded as dag-cbor: ${(err as Error).message}`)
  }
  if (out.length > maxBytes) throw new BlockError('OVERSIZED', `${what} encodes to ${out.length} bytes, at most ${maxBytes} allowed`)
  return out
}

const NON_CANONICAL_DECODE = /strict|more bytes than necessary|repeat map key|indefinite/i

/**
 * Decodes canonical dag-cbor of at most `maxBytes`, checks the result with `shape` and that
 * re-encoding reproduces the input byte for byte. Throws BlockError (see the module doc).
 */
export function decodeCanonical<T> (data: Uint8Array, maxBytes: number, shape: (v: unknown) => T, what: string): T {
  if (!(data instanceof Uint8Array)) throw new BlockError('MALFORMED', `${what}: input must be bytes`)
  if (data.length > maxBytes) throw new BlockError('OVERSIZED', `${what} is ${data.length} bytes, at most ${maxBytes} allowed`)
  let value: unknown
  try {
    value = dagCbor.decode(data)
  } catch (err) {
    const msg = (err as Error).message
    throw new BlockError(NON_CANONICAL_DECODE.test(msg) ? 'NON_CANONICAL' : 'MALFORMED', `${what}: ${msg}`)
  }
  const typed = shape(value)
  let again: Uint8Array
  try {
    again = dagCbor.encode(typed)
  } catch (err) {
    throw new BlockError('INVALID', `${what}: decoded value cannot be re-encoded: ${(err as Error).message}`)
  }
  if (!equalBytes(again, data)) throw new BlockError('NON_CANONICAL', `${what} is not canonically encoded dag-cbor`)
  return typed
}

// ---------------------------------------------------------------------------------------------
// Per-type codecs.

/**
 * Canonical bytes of txs already encoded or decoded, by object identity. Txs are never mutated
 * after construction (treat them as immutable), so a node that decodes a tx once need not encode
 * it again for hashing, Merkle roots, storage and gossip.
 */
const txBytesCache = new WeakMap<Tx, Uint8Array>()

/**
 * The canonical encoding of a key-epoch or manager tx starts with its map header, `time` and then
 * `type: 'key-epoch'` / `type: 'manager'` (keys sort by length first).
 */
const LARGE_KIND_TYPES = ['key-epoch', 'manager'].map((t) => dagCbor.encode({ type: t }).subarray(1)) // text 'type', text kind
/** Bytes before `type` in such a canonical tx: map header, text 'time', a uint of at most 9 bytes. */
const LARGE_KIND_TYPE_BEFORE = 1 + 5 + 9

/** Whether `data` can be a key-epoch or manager tx (the only kinds above MAX_TX_BYTES): checked before parsing anything larger. */
function mayBeLargeKind (data: Uint8Array): boolean {
  return LARGE_KIND_TYPES.some((t) => {
    const end = Math.min(data.length, LARGE_KIND_TYPE_BEFORE + t.length)
    outer: for (let i = 6; i + t.length <= end; i++) {
      for (let j = 0; j < t.length; j++) if (data[i + j] !== t[j]) continue outer
      return true
    }
    return false
  })
}

/** `txShape`, after refusing a tx longer than its kind allows (`maxTxBytes`). */
const sizedTxShape = (n: number) => (v: unknown): Tx => {
  const type = (typeof v === 'object' && v !== null) ? (v as Obj).type : undefined
  if (n > maxTxBytes(type)) throw new BlockError('OVERSIZED', `a ${typeof type === 'string' ? type.slice(0, 32) : ''} tx is ${n} bytes, at most ${maxTxBytes(type)} allowed (MAX_TX_BYTES; a key epoch MAX_KEY_EPOCH_TX_BYTES, a manager change MAX_MANAGER_TX_BYTES)`)
  return txShape(v)
}

/** Encodes a tx canonically: at most MAX_TX_BYTES, a key epoch at most MAX_KEY_EPOCH_TX_BYTES (`maxTxBytes`). */
export function encodeTx (tx: Tx): Uint8Array {
  const cached = txBytesCache.get(tx)
  if (cached !== undefined) return cached
  const bytes = encodeCanonical(tx, MAX_KEY_EPOCH_TX_BYTES, txShape, 'tx')
  const max = maxTxBytes(tx.type)
  if (bytes.length > max) throw new BlockError('OVERSIZED', `${tx.type} tx encodes to ${bytes.length} bytes, at most ${max} allowed`)
  txBytesCache.set(tx, bytes)
  return bytes
}

/**
 * Decodes a tx. Input above MAX_TX_BYTES is refused before parsing unless it starts as a key-epoch
 * or manager tx does (then at most MAX_KEY_EPOCH_TX_BYTES are parsed, and the decoded kind's own
 * limit is checked again).
 */
export function decodeTx (data: Uint8Array): Tx {
  if (data instanceof Uint8Array && data.length > MAX_TX_BYTES && !mayBeLargeKind(data)) {
    throw new BlockError('OVERSIZED', `tx is ${data.length} bytes, at most ${MAX_TX_BYTES} allowed (MAX_KEY_EPOCH_TX_BYTES for a key epoch, MAX_MANAGER_TX_BYTES for a manager change)`)
  }
  const tx = decodeCanonical(data, MAX_KEY_EPOCH_TX_BYTES, sizedTxShape(data.length), 'tx')
  txBytesCache.set(tx, data.slice()) // a copy: the input may be a view into a reused network buffer
  return tx
}

export function encodeHeader (header: Header): Uint8Array { return encodeCanonical(header, MAX_HEADER_BYTES, headerShape, 'header') }
export function decodeHeader (data: Uint8Array): Header { return decodeCanonical(data, MAX_HEADER_BYTES, headerShape, 'header') }

/**
 * Encodes a block. The block's encoding embeds each tx's canonical encoding unchanged, so `txRoot`
 * (over `encodeTx` of each tx) can be recomputed from it. Per-tx size limits and the header/body
 * agreement are checked by `validateBlock`, not here.
 */
export function encodeBlock (block: Block): Uint8Array { return encodeCanonical(block, MAX_BLOCK_BYTES, blockShape, 'block') }

/** Decodes a block and checks its shape. It does not check that the header agrees with the body: call `validateBlock`. */
export function decodeBlock (data: Uint8Array): Block { return decodeCanonical(data, MAX_BLOCK_BYTES, blockShape, 'block') }

export function encodeCertificate (cert: CommitCertificate): Uint8Array { return encodeCanonical(cert, MAX_CERTIFICATE_BYTES, certificateShape, 'certificate') }
export function decodeCertificate (data: Uint8Array): CommitCertificate { return decodeCanonical(data, MAX_CERTIFICATE_BYTES, certificateShape, 'certificate') }
