/**
 * AES-256-GCM from `node:crypto`. Sealed format: nonce (12) ‖ ciphertext ‖ tag (16).
 * Nonces are random (96 bits); each field key encrypts a handful of messages, far below the
 * 2^32 random-nonce limit of NIST SP 800-38D.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { assertBytes, CryptoError } from './errors.js'
import { randomBytes } from './hash.js'

export const AEAD_KEY_BYTES = 32
export const AEAD_NONCE_BYTES = 12
export const AEAD_TAG_BYTES = 16
export const AEAD_OVERHEAD = AEAD_NONCE_BYTES + AEAD_TAG_BYTES

export function aeadSeal (key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array = new Uint8Array(0), nonce: Uint8Array = randomBytes(AEAD_NONCE_BYTES)): Uint8Array {
  assertBytes(key, 'key', AEAD_KEY_BYTES)
  assertBytes(plaintext, 'plaintext')
  assertBytes(aad, 'aad')
  assertBytes(nonce, 'nonce', AEAD_NONCE_BYTES)
  const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_BYTES })
  c.setAAD(aad)
  const body = c.update(plaintext)
  const final = c.final()
  const tag = c.getAuthTag()
  const out = new Uint8Array(AEAD_NONCE_BYTES + body.length + final.length + AEAD_TAG_BYTES)
  out.set(nonce, 0)
  out.set(body, AEAD_NONCE_BYTES)
  out.set(final, AEAD_NONCE_BYTES + body.length)
  out.set(tag, out.length - AEAD_TAG_BYTES)
  return out
}

/** Opens a sealed message; throws CryptoError('DECRYPT_FAILED') on any authentication failure. */
export function aeadOpen (key: Uint8Array, sealed: Uint8Array, aad: Uint8Array = new Uint8Array(0)): Uint8Array {
  assertBytes(key, 'key', AEAD_KEY_BYTES)
  assertBytes(sealed, 'sealed')
  assertBytes(aad, 'aad')
  if (sealed.length < AEAD_OVERHEAD) throw new CryptoError('DECRYPT_FAILED', 'ciphertext too short')
  const nonce = sealed.subarray(0, AEAD_NONCE_BYTES)
  const tag = sealed.subarray(sealed.length - AEAD_TAG_BYTES)
  const body = sealed.subarray(AEAD_NONCE_BYTES, sealed.length - AEAD_TAG_BYTES)
  try {
    const d = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: AEAD_TAG_BYTES })
    d.setAAD(aad)
    d.setAuthTag(tag)
    const a = d.update(body)
    const b = d.final()
    const out = new Uint8Array(a.length + b.length)
    out.set(a, 0)
    out.set(b, a.length)
    return out
  } catch {
    throw new CryptoError('DECRYPT_FAILED', 'AEAD authentication failed (wrong key, wrong associated data or tampered ciphertext)')
  }
}
