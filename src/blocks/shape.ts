/**
 * Internal structural checks shared by the decoders and the validators. Each helper throws a
 * `BlockError` ('INVALID' for a wrong shape, 'OVERSIZED' for a count above its limit); the public
 * API turns these into a `Check` or rethrows them.
 */
import { BlockError, type Check, OK, fail } from './errors.js'
import { CHAIN_ID_PATTERN, MAX_CHAIN_ID_LENGTH } from './limits.js'

export type Obj = Record<string, unknown>

export function invalid (reason: string): never {
  throw new BlockError('INVALID', reason)
}

/** A plain object (dag-cbor map) with exactly `keys`: no missing, no unknown ones. */
export function record (v: unknown, what: string, keys: readonly string[]): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array) invalid(`${what} must be a map`)
  const proto = Object.getPrototypeOf(v) as unknown
  if (proto !== Object.prototype && proto !== null) invalid(`${what} must be a plain map`)
  const o = v as Obj
  const present = Object.keys(o)
  for (const k of present) if (!keys.includes(k)) invalid(`${what} has unknown field '${k}'`)
  for (const k of keys) if (!Object.prototype.hasOwnProperty.call(o, k) || o[k] === undefined) invalid(`${what} is missing field '${k}'`)
  return o
}

export function bytes (v: unknown, what: string, length: number): Uint8Array {
  if (!(v instanceof Uint8Array)) invalid(`${what} must be bytes`)
  if (v.length !== length) invalid(`${what} must be ${length} bytes, got ${v.length}`)
  return v
}

export function bytesUpTo (v: unknown, what: string, max: number, min = 0): Uint8Array {
  if (!(v instanceof Uint8Array)) invalid(`${what} must be bytes`)
  if (v.length > max) throw new BlockError('OVERSIZED', `${what} is ${v.length} bytes, at most ${max} allowed`)
  if (v.length < min) invalid(`${what} must be at least ${min} bytes`)
  return v
}

/** A non-negative safe integer (dag-cbor major type 0; floats, negatives and bigints are rejected). */
export function uint (v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) invalid(`${what} must be a non-negative safe integer`)
  if (v > max) invalid(`${what} must be at most ${max}`)
  return v
}

export function list (v: unknown, what: string, max: number, min = 0): unknown[] {
  if (!Array.isArray(v)) invalid(`${what} must be a list`)
  if (v.length > max) throw new BlockError('OVERSIZED', `${what} has ${v.length} entries, at most ${max} allowed`)
  if (v.length < min) invalid(`${what} must have at least ${min} entries`)
  return v
}

export function chainId (v: unknown, what = 'chainId'): string {
  if (typeof v !== 'string') invalid(`${what} must be a string`)
  if (v.length === 0 || v.length > MAX_CHAIN_ID_LENGTH || !CHAIN_ID_PATTERN.test(v)) {
    invalid(`${what} must be 1..${MAX_CHAIN_ID_LENGTH} characters of [A-Za-z0-9._:-]`)
  }
  return v
}

/** Runs `body`, converting a thrown BlockError into a failed Check. Other errors propagate (they are bugs). */
export function checked (body: () => void): Check {
  try {
    body()
    return OK
  } catch (err) {
    if (err instanceof BlockError) return fail(err.code, err.message)
    throw err
  }
}
