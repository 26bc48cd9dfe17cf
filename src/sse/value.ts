/**
 * Tree keys and the masked value of an index entry.
 *
 * For an index key `K` (the consortium index key, or a patient's key), a writer `d` (32-byte
 * doctor id) and a term `w`: `t = HMAC(K, "pqmed/sse/v1" ‖ 0x00 ‖ d ‖ w)`; the GGM root is
 * `HMAC(t, "root")`, the value key `HMAC(t, "value")` and the (non-secret) tree id `HMAC(t, "id")`.
 *
 * Value of leaf `ℓ` with label `L`: the location (version ‖ record id ‖ field ‖ ciphertext SHA-256,
 * 66 bytes) sealed with AES-256-GCM under the one-time key `HMAC(valueKey, ℓ)`, `L` as associated
 * data and an all-zero nonce (safe: each key seals exactly one message), the nonce not stored:
 * 66 + 16 = 82 bytes. AES-GCM is CTR mode, so this is "mask ⊕ location" plus a 16-byte tag. The
 * value key never leaves the client, so an index holder who learns leaves from a search token
 * can neither read a location nor forge a value that a client would accept.
 */
import { aeadOpen, aeadSeal, concatBytes, hmacSha256, toHex, utf8 } from '../crypto/index.js'
import { assertBytes, SseError } from './errors.js'

export const LOCATION_VERSION = 1
export const LOCATION_BYTES = 66
export const VALUE_BYTES = LOCATION_BYTES + 16
/** Upper bound of an index value accepted by a store (IndexUpdate.value in src/blocks). */
export const MAX_VALUE_BYTES = 128

/** Where an index entry points: a field ciphertext of a committed record. */
export interface Location {
  recordId: Uint8Array // 32 bytes
  field: number // 0 personal info, 1 symptoms, 2 prescriptions (3+ free for attachments), u8
  ciphertextHash: Uint8Array // SHA-256 of the ciphertext (the hash committed in the record tx)
}

/** One index update: exactly the shape of `IndexUpdate` in src/blocks/types.ts. */
export interface IndexUpdate {
  label: Uint8Array // 32 bytes
  value: Uint8Array // ≤ MAX_VALUE_BYTES
}

export interface TreeKeys {
  /** Non-secret identifier of the (key, writer, term) tree; keys the client's counter state. */
  id: string
  root: Uint8Array
  valueKey: Uint8Array
}

const DOMAIN = concatBytes(utf8('pqmed/sse/v1'), Uint8Array.of(0))
const ROOT = utf8('root')
const VALUE = utf8('value')
const ID = utf8('id')
const ZERO_NONCE = new Uint8Array(12)

export function treeKeys (indexKey: Uint8Array, writer: Uint8Array, term: string): TreeKeys {
  assertBytes(indexKey, 'index key', 32)
  assertBytes(writer, 'writer id', 32)
  if (typeof term !== 'string' || term.length === 0) throw new SseError('BAD_INPUT', 'term must be a non-empty string')
  const t = hmacSha256(indexKey, DOMAIN, writer, utf8(term))
  return { id: toHex(hmacSha256(t, ID)), root: hmacSha256(t, ROOT), valueKey: hmacSha256(t, VALUE) }
}

export function checkLocation (loc: Location): void {
  if (loc === null || typeof loc !== 'object') throw new SseError('BAD_INPUT', 'location must be an object')
  assertBytes(loc.recordId, 'location.recordId', 32)
  assertBytes(loc.ciphertextHash, 'location.ciphertextHash', 32)
  if (!Number.isInteger(loc.field) || loc.field < 0 || loc.field > 255) throw new SseError('BAD_INPUT', 'location.field must be a u8')
}

export function encodeLocation (loc: Location): Uint8Array {
  checkLocation(loc)
  const out = new Uint8Array(LOCATION_BYTES)
  out[0] = LOCATION_VERSION
  out.set(loc.recordId, 1)
  out[33] = loc.field
  out.set(loc.ciphertextHash, 34)
  return out
}

export function decodeLocation (b: Uint8Array): Location | undefined {
  if (b.length !== LOCATION_BYTES || b[0] !== LOCATION_VERSION) return undefined
  return { recordId: b.slice(1, 33), field: b[33] as number, ciphertextHash: b.slice(34, 66) }
}

export function sealValue (valueKey: Uint8Array, leaf: Uint8Array, label: Uint8Array, loc: Location): Uint8Array {
  return aeadSeal(hmacSha256(valueKey, leaf), encodeLocation(loc), label, ZERO_NONCE).subarray(ZERO_NONCE.length)
}

/** The location sealed in `value`, or undefined when the value is forged, truncated or of another version. */
export function openValue (valueKey: Uint8Array, leaf: Uint8Array, label: Uint8Array, value: Uint8Array): Location | undefined {
  if (!(value instanceof Uint8Array) || value.length !== VALUE_BYTES) return undefined
  try {
    return decodeLocation(aeadOpen(hmacSha256(valueKey, leaf), concatBytes(ZERO_NONCE, value), label))
  } catch {
    return undefined
  }
}
