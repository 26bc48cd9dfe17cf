/** Typed errors of the crypto suite. Every failure carries a stable `code`. */
export type CryptoErrorCode =
  | 'BAD_INPUT' // wrong type or length at the boundary
  | 'DECRYPT_FAILED' // AEAD authentication failed: wrong key, wrong associated data or tampered ciphertext
  | 'BACKEND_UNAVAILABLE' // a post-quantum backend could not be loaded

export class CryptoError extends Error {
  readonly code: CryptoErrorCode
  constructor (code: CryptoErrorCode, message: string) {
    super(message)
    this.name = 'CryptoError'
    this.code = code
  }
}

export function assertBytes (value: unknown, name: string, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new CryptoError('BAD_INPUT', `${name} must be a Uint8Array`)
  if (length !== undefined && value.length !== length) {
    throw new CryptoError('BAD_INPUT', `${name} must be ${length} bytes, got ${value.length}`)
  }
}
