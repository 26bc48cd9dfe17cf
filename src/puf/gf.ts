/**
 * Arithmetic in GF(2^m), 3 <= m <= 12, by exp/log tables over a fixed primitive polynomial per m
 * (the usual table choices, e.g. Lin & Costello, "Error Control Coding", 2nd ed., App. A).
 * Elements are integers 0 .. 2^m - 1 in the polynomial basis; `exp[i]` is alpha^i.
 */
import { PufError } from './errors.js'

/** Primitive polynomials, bit i = coefficient of x^i (including the x^m term). */
export const PRIMITIVE_POLYNOMIALS: Readonly<Record<number, number>> = Object.freeze({
  3: 0b1011, // x^3 + x + 1
  4: 0b10011, // x^4 + x + 1
  5: 0b100101, // x^5 + x^2 + 1
  6: 0b1000011, // x^6 + x + 1
  7: 0b10001001, // x^7 + x^3 + 1
  8: 0b100011101, // x^8 + x^4 + x^3 + x^2 + 1
  9: 0b1000010001, // x^9 + x^4 + 1
  10: 0b10000001001, // x^10 + x^3 + 1
  11: 0b100000000101, // x^11 + x^2 + 1
  12: 0b1000001010011 // x^12 + x^6 + x^4 + x + 1
})

export const MIN_FIELD_M = 3
export const MAX_FIELD_M = 12

export interface GaloisField {
  readonly m: number
  /** Multiplicative group order, 2^m - 1 (= the BCH code length). */
  readonly n: number
  /** exp[i] = alpha^i for 0 <= i < 2n (doubled so that exp[log a + log b] needs no reduction). */
  readonly exp: Uint16Array
  /** log[a] for a != 0; log[0] = -1. */
  readonly log: Int32Array
}

const cache = new Map<number, GaloisField>()

/** The field GF(2^m), built once per m. Throws if the tabled polynomial is not primitive. */
export function galoisField (m: number): GaloisField {
  const cached = cache.get(m)
  if (cached !== undefined) return cached
  const poly = PRIMITIVE_POLYNOMIALS[m]
  if (poly === undefined) throw new PufError('BAD_PARAMETERS', `GF(2^m) supported for ${MIN_FIELD_M} <= m <= ${MAX_FIELD_M}, got m=${m}`)
  const n = (1 << m) - 1
  const exp = new Uint16Array(2 * n)
  const log = new Int32Array(n + 1).fill(-1)
  let x = 1
  for (let i = 0; i < n; i++) {
    if (log[x] !== -1) throw new PufError('BAD_PARAMETERS', `polynomial for m=${m} is not primitive`)
    exp[i] = x
    log[x] = i
    x <<= 1
    if ((x & (1 << m)) !== 0) x ^= poly
  }
  if (x !== 1) throw new PufError('BAD_PARAMETERS', `polynomial for m=${m} is not primitive`)
  for (let i = n; i < 2 * n; i++) exp[i] = exp[i - n]!
  const field: GaloisField = { m, n, exp, log }
  cache.set(m, field)
  return field
}

export function gfMul (f: GaloisField, a: number, b: number): number {
  if (a === 0 || b === 0) return 0
  return f.exp[f.log[a]! + f.log[b]!]!
}

export function gfDiv (f: GaloisField, a: number, b: number): number {
  if (b === 0) throw new PufError('BAD_INPUT', 'division by zero in GF(2^m)')
  if (a === 0) return 0
  return f.exp[f.log[a]! - f.log[b]! + f.n]!
}
