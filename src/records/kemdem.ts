/**
 * KEM-DEM wrapping to an ML-KEM-768 public key, shared by the key transfer (cip0) and grants:
 * ML-KEM encapsulate → HKDF-SHA256(shared secret, salt = SHA-256(KEM ciphertext),
 * info = tag ‖ header) → AES-256-GCM with associated data = tag ‖ header ‖ KEM ciphertext.
 *
 * Blob layout: header ‖ KEM ciphertext (1088) ‖ AEAD nonce ‖ ciphertext ‖ tag. Each header holds
 * the recipient's key id (SHA-256 of the ML-KEM public key), so a blob opened with another key
 * fails early with WRONG_KEY, and every header byte is bound by the KDF and the AEAD.
 */
import {
  aeadSeal, AEAD_OVERHEAD, concatBytes, CryptoError, equalBytes, framed, hkdfSha256, sha256, SUITE, utf8,
  type PqBackend
} from '../crypto/index.js'
import { openOr } from './commit.js'
import { assertKemPublicKey, assertKemSecretKey, RecordError } from './errors.js'

export const KEM_DEM_OVERHEAD = SUITE.kemCiphertextBytes + AEAD_OVERHEAD

/** Key id of an ML-KEM-768 public key: SHA-256(pk). It is `GrantTx.grantee`. */
export function kemKeyId (kemPublicKey: Uint8Array): Uint8Array {
  assertKemPublicKey(kemPublicKey)
  return sha256(kemPublicKey)
}

/**
 * The encapsulation key embedded in an ML-KEM decapsulation key (FIPS 203 §7.1: dk = dk_PKE ‖ ek ‖
 * H(ek) ‖ z), so an opener needs only its secret key.
 */
export function kemPublicKeyFromSecretKey (kemSecretKey: Uint8Array): Uint8Array {
  assertKemSecretKey(kemSecretKey)
  const off = SUITE.kemSecretKeyBytes - SUITE.kemPublicKeyBytes - 64
  return kemSecretKey.slice(off, off + SUITE.kemPublicKeyBytes)
}

function rethrowCrypto (err: unknown): never {
  if (err instanceof CryptoError && err.code === 'BAD_INPUT') throw new RecordError('BAD_INPUT', err.message)
  throw err
}

function dataKey (sharedSecret: Uint8Array, kemCt: Uint8Array, kdfTag: string, header: Uint8Array): Uint8Array {
  return hkdfSha256(sharedSecret, sha256(kemCt), framed(utf8(kdfTag), header), 32)
}

export function kemDemSeal (pq: PqBackend, recipientPk: Uint8Array, header: Uint8Array, tags: { aad: string, kdf: string }, plaintext: Uint8Array): Uint8Array {
  assertKemPublicKey(recipientPk)
  let enc
  try { enc = pq.encapsulate(recipientPk) } catch (err) { rethrowCrypto(err) }
  const key = dataKey(enc.sharedSecret, enc.cipherText, tags.kdf, header)
  const sealed = aeadSeal(key, plaintext, framed(utf8(tags.aad), header, enc.cipherText))
  return concatBytes(header, enc.cipherText, sealed)
}

/**
 * Opens a blob whose header (first `headerLength` bytes) the caller has parsed and checked,
 * including that its recipient key id is the opener's. AEAD failure → TAMPERED.
 */
export function kemDemOpen (pq: PqBackend, blob: Uint8Array, headerLength: number, recipientSk: Uint8Array, tags: { aad: string, kdf: string }, what: string): Uint8Array {
  assertKemSecretKey(recipientSk)
  if (blob.length < headerLength + KEM_DEM_OVERHEAD) throw new RecordError('MALFORMED', `${what} is truncated`)
  const header = blob.subarray(0, headerLength)
  const kemCt = blob.subarray(headerLength, headerLength + SUITE.kemCiphertextBytes)
  let ss: Uint8Array
  try { ss = pq.decapsulate(kemCt, recipientSk) } catch (err) { rethrowCrypto(err) }
  const key = dataKey(ss, kemCt, tags.kdf, header)
  return openOr('TAMPERED', what, key, blob.subarray(headerLength + SUITE.kemCiphertextBytes), framed(utf8(tags.aad), header, kemCt))
}

/** Throws WRONG_KEY unless the header's recipient key id is that of `recipientSk`. */
export function checkRecipient (headerRecipientId: Uint8Array, recipientSk: Uint8Array, what: string): void {
  const mine = sha256(kemPublicKeyFromSecretKey(recipientSk))
  if (!equalBytes(mine, headerRecipientId)) throw new RecordError('WRONG_KEY', `${what} is addressed to another ML-KEM key`)
}
