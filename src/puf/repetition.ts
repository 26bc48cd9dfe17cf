/**
 * The repetition code of odd length r: one bit sent r times, decoded by majority. It corrects
 * up to (r-1)/2 flipped bits per block of r.
 */
import { PufError } from './errors.js'

export function checkRepetition (r: number): void {
  if (!Number.isInteger(r) || r < 1 || r > 31 || r % 2 === 0) throw new PufError('BAD_PARAMETERS', `repetition length must be odd in [1, 31], got ${String(r)}`)
}

/** Each input bit repeated r times. */
export function repetitionEncode (bits: Uint8Array, r: number): Uint8Array {
  checkRepetition(r)
  const out = new Uint8Array(bits.length * r)
  for (let i = 0; i < bits.length; i++) if (bits[i] === 1) out.fill(1, i * r, (i + 1) * r)
  return out
}

/** Majority decoding of consecutive blocks of r bits; `bits.length` must be a multiple of r. */
export function repetitionDecode (bits: Uint8Array, r: number): Uint8Array {
  checkRepetition(r)
  if (bits.length % r !== 0) throw new PufError('BAD_INPUT', `repetition input length ${bits.length} is not a multiple of ${r}`)
  const out = new Uint8Array(bits.length / r)
  const half = r >> 1
  for (let i = 0, o = 0; o < out.length; o++) {
    let ones = 0
    for (let j = 0; j < r; j++) ones += bits[i++]!
    out[o] = ones > half ? 1 : 0
  }
  return out
}
