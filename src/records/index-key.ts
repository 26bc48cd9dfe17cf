/**
 * Wrapping the consortium's index-2 key (keywords, file types, birth years) to a doctor's
 * ML-KEM-768 key: KEM-DEM, ML-KEM-768 encapsulation → HKDF-SHA256 (salt SHA-256 of the KEM
 * ciphertext, info = the associated data) → AES-256-GCM of the 32-byte key, with associated data
 * `framed(...context, keyId, doctorId, kemKeyId)`.
 *
 * `context` separates the uses: the out-of-band file (`consortium-key.json`, epoch 1) uses
 * `[utf8('pqmed/consortium-key/v1')]`; an on-chain key epoch (`KeyEpochTx`) uses
 * `keyEpochContext(chainId, epoch)`, so an entry of one chain or epoch never opens as another's.
 */
import { aeadOpen, aeadSeal, CryptoError, equalBytes, framed, hkdfSha256, sha256, SUITE, u32be, utf8, type PqBackend } from '../crypto/index.js'
import { assertBytes, assertKemPublicKey, RecordError } from './errors.js'
import { kemKeyId, kemPublicKeyFromSecretKey } from './kemdem.js'

/** A 32-byte index key wrapped to one doctor. */
export interface WrappedIndexKey {
  /** SHA-256 of the doctor's ML-DSA-65 public key (its index writer id). */
  doctorId: Uint8Array
  /** SHA-256 of the ML-KEM-768 public key it is wrapped to. */
  kemKeyId: Uint8Array
  /** ML-KEM-768 ciphertext (1088 bytes). */
  kemCiphertext: Uint8Array
  /** AES-256-GCM nonce ‖ E(key) ‖ tag (60 bytes). */
  sealed: Uint8Array
}

/** Bytes of `WrappedIndexKey.sealed`: 12-byte nonce, 32-byte key, 16-byte tag. */
export const WRAPPED_INDEX_KEY_SEALED_BYTES = 60

/** Public id of an index key: SHA-256('pqmed/consortium-key-id/v1' ‖ key), to tell keys apart. */
export function indexKeyId (key: Uint8Array): Uint8Array {
  assertBytes(key, 'index key', 32)
  return sha256(utf8('pqmed/consortium-key-id/v1'), key)
}

/** The wrapping context of on-chain key epoch `epoch` of chain `chainId`. */
export function keyEpochContext (chainId: string, epoch: number): Uint8Array[] {
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > 0xffffffff) throw new RecordError('BAD_INPUT', 'epoch must be an integer in [0, 2^32)')
  return [utf8('pqmed/key-epoch/v1'), utf8(chainId), u32be(epoch)]
}

function aad (context: readonly Uint8Array[], keyId: Uint8Array, doctorId: Uint8Array, kemId: Uint8Array): Uint8Array {
  return framed(...context, keyId, doctorId, kemId)
}

/** Wraps `key` to one doctor (`doctorId`, `kemPublicKey`) under `context`. */
export function wrapIndexKey (pq: PqBackend, key: Uint8Array, recipient: { doctorId: Uint8Array, kemPublicKey: Uint8Array }, context: readonly Uint8Array[]): WrappedIndexKey {
  const keyId = indexKeyId(key)
  assertBytes(recipient.doctorId, 'doctor id', 32)
  assertKemPublicKey(recipient.kemPublicKey)
  const kemId = kemKeyId(recipient.kemPublicKey)
  const enc = pq.encapsulate(recipient.kemPublicKey)
  const a = aad(context, keyId, recipient.doctorId, kemId)
  const dek = hkdfSha256(enc.sharedSecret, sha256(enc.cipherText), a, 32)
  return { doctorId: recipient.doctorId, kemKeyId: kemId, kemCiphertext: enc.cipherText, sealed: aeadSeal(dek, key, framed(a, enc.cipherText)) }
}

/**
 * Opens a wrapped index key with the doctor's ML-KEM-768 secret key. Throws `RecordError`:
 * WRONG_KEY (the entry is wrapped to another KEM key), TAMPERED (it does not open, or opens to a
 * key whose id is not `keyId`), BAD_INPUT (wrong lengths).
 */
export function openIndexKey (pq: PqBackend, w: WrappedIndexKey, kemSecretKey: Uint8Array, keyId: Uint8Array, context: readonly Uint8Array[]): Uint8Array {
  assertBytes(keyId, 'key id', 32)
  assertBytes(w.kemCiphertext, 'KEM ciphertext', SUITE.kemCiphertextBytes)
  const kemId = kemKeyId(kemPublicKeyFromSecretKey(kemSecretKey))
  if (!equalBytes(kemId, w.kemKeyId)) throw new RecordError('WRONG_KEY', 'the index key entry is wrapped to another ML-KEM key')
  const a = aad(context, keyId, w.doctorId, kemId)
  let key: Uint8Array
  try {
    const dek = hkdfSha256(pq.decapsulate(w.kemCiphertext, kemSecretKey), sha256(w.kemCiphertext), a, 32)
    key = aeadOpen(dek, w.sealed, framed(a, w.kemCiphertext))
  } catch (err) {
    if (err instanceof CryptoError) throw new RecordError('TAMPERED', `the index key entry does not open: ${err.message}`)
    throw err
  }
  if (key.length !== 32 || !equalBytes(indexKeyId(key), keyId)) throw new RecordError('TAMPERED', 'the opened index key does not match its key id')
  return key
}
