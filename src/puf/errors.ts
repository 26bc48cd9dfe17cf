/** Typed errors of the PUF library. Every failure carries a stable `code`. */
export type PufErrorCode =
  | 'BAD_INPUT' // wrong type, length or range of an argument at the API boundary
  | 'BAD_PARAMETERS' // code parameters out of range, or too weak for the stated entropy assumption
  | 'DEVICE_ERROR' // the PUF device returned a response of the wrong size
  | 'HELPER_MALFORMED' // helper data cannot be parsed (bad magic, bad lengths, truncated, extended)
  | 'UNSUPPORTED_VERSION' // helper data of a format version this library does not read
  /**
   * The helper data parsed, but the secret could not be reproduced and checked: either the helper
   * data were modified, or they belong to another device (a different chip answers the challenge
   * with an unrelated response), or this response was noisier than the code corrects. These cases
   * are indistinguishable by design; no key is ever returned in any of them.
   */
  | 'HELPER_TAMPERED_OR_WRONG_DEVICE'

export class PufError extends Error {
  readonly code: PufErrorCode
  constructor (code: PufErrorCode, message: string) {
    super(message)
    this.name = 'PufError'
    this.code = code
  }
}

export function assertBytes (value: unknown, name: string, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new PufError('BAD_INPUT', `${name} must be a Uint8Array`)
  if (length !== undefined && value.length !== length) {
    throw new PufError('BAD_INPUT', `${name} must be ${length} bytes, got ${value.length}`)
  }
}

export function assertInt (value: unknown, name: string, min: number, max: number, code: PufErrorCode = 'BAD_INPUT'): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new PufError(code, `${name} must be an integer in [${min}, ${max}], got ${String(value)}`)
  }
}
