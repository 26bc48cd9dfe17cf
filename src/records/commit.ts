/**
 * Key commitment for the symmetric formats (fields, attachments). AES-GCM alone is not
 * key-committing: one ciphertext can be made to open under two different keys. Each format key is
 * therefore expanded with HKDF-SHA256 into an AEAD key and a 32-byte commitment that travels in
 * the ciphertext header; a reader checks the commitment first, which also tells a wrong key
 * (WRONG_KEY) apart from a modified ciphertext (TAMPERED).
 */
import { aeadOpen, CryptoError, equalBytes, hkdfSha256 } from '../crypto/index.js'
import { RecordError } from './errors.js'

export const COMMITMENT_BYTES = 32

export interface CommittedKey {
  encKey: Uint8Array
  commitment: Uint8Array
}

export function commitKey (key: Uint8Array, purposeTag: string): CommittedKey {
  const okm = hkdfSha256(key, new Uint8Array(0), purposeTag, 32 + COMMITMENT_BYTES)
  return { encKey: okm.subarray(0, 32), commitment: okm.subarray(32) }
}

/** Throws WRONG_KEY unless `commitment` is the commitment of `key`. */
export function checkCommitment (committed: CommittedKey, commitment: Uint8Array, what: string): void {
  if (!equalBytes(committed.commitment, commitment)) throw new RecordError('WRONG_KEY', `${what}: the key does not match this ciphertext`)
}

/** aeadOpen with AEAD failures mapped to `code` (TAMPERED once the key is known to be right). */
export function openOr (code: 'TAMPERED' | 'WRONG_KEY', what: string, key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  try {
    return aeadOpen(key, sealed, aad)
  } catch (err) {
    if (err instanceof CryptoError && err.code === 'DECRYPT_FAILED') {
      throw new RecordError(code, `${what}: authentication failed (modified ciphertext or header)`)
    }
    throw err
  }
}
