/** Typed errors of the record envelope. Every failure carries a stable `code`. */
import { SUITE } from '../crypto/index.js'

export type RecordErrorCode =
  | 'BAD_INPUT' // wrong type, length or value at the boundary (a caller bug)
  | 'TOO_LARGE' // a plaintext or ciphertext exceeds its size limit (checked before any work)
  | 'MALFORMED' // a ciphertext or blob is truncated, of an unknown version/kind, or inconsistent
  | 'WRONG_KEY' // the key does not match: key commitment mismatch, or blob addressed to another KEM key
  | 'TAMPERED' // the right key, but authentication failed (modified bytes or header), or a hash mismatch
  | 'WRONG_RECORD_ID' // the ciphertext or blob belongs to another record
  | 'WRONG_FIELD' // the ciphertext belongs to another field (or attachment slot) of the record
  | 'WRONG_PATIENT' // a key transfer from another patient than expected
  | 'BAD_SIGNATURE' // an ML-DSA-65 signature does not verify

export class RecordError extends Error {
  readonly code: RecordErrorCode
  constructor (code: RecordErrorCode, message: string) {
    super(message)
    this.name = 'RecordError'
    this.code = code
  }
}

export function assertBytes (value: unknown, name: string, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new RecordError('BAD_INPUT', `${name} must be a Uint8Array`)
  if (length !== undefined && value.length !== length) {
    throw new RecordError('BAD_INPUT', `${name} must be ${length} bytes, got ${value.length}`)
  }
}

/** Record ids, keys, hashes and principal ids are all 32 bytes. */
export function assert32 (value: unknown, name: string): asserts value is Uint8Array {
  assertBytes(value, name, 32)
}

export function assertSigPublicKey (value: unknown, name = 'ML-DSA-65 public key'): asserts value is Uint8Array {
  assertBytes(value, name, SUITE.sigPublicKeyBytes)
}
export function assertSigSecretKey (value: unknown, name = 'ML-DSA-65 secret key'): asserts value is Uint8Array {
  assertBytes(value, name, SUITE.sigSecretKeyBytes)
}
export function assertKemPublicKey (value: unknown, name = 'ML-KEM-768 public key'): asserts value is Uint8Array {
  assertBytes(value, name, SUITE.kemPublicKeyBytes)
}
export function assertKemSecretKey (value: unknown, name = 'ML-KEM-768 secret key'): asserts value is Uint8Array {
  assertBytes(value, name, SUITE.kemSecretKeyBytes)
}

/** A timestamp in ms since the epoch: a non-negative safe integer. */
export function assertTime (value: unknown, name = 'time'): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RecordError('BAD_INPUT', `${name} must be a non-negative safe integer (ms), got ${String(value)}`)
  }
}
