/**
 * Bit vectors. Internally a bit vector is a Uint8Array holding one bit (0 or 1) per element;
 * on the wire (device responses, helper data, HKDF input) bits are packed MSB-first:
 * bit i is `(bytes[i >> 3] >> (7 - (i & 7))) & 1`, and unused trailing bits of the last byte are 0.
 */

/** Packs `bits` (one 0/1 per element) MSB-first into ceil(length/8) bytes. */
export function packBits (bits: Uint8Array): Uint8Array {
  const out = new Uint8Array((bits.length + 7) >> 3)
  for (let i = 0; i < bits.length; i++) {
    if (bits[i] === 1) out[i >> 3]! |= 0x80 >>> (i & 7)
  }
  return out
}

/** Unpacks the first `count` bits of `bytes` (MSB-first) into one 0/1 per element. */
export function unpackBits (bytes: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(count)
  for (let i = 0; i < count; i++) out[i] = (bytes[i >> 3]! >>> (7 - (i & 7))) & 1
  return out
}

/** True iff the bits of `bytes` beyond the first `count` are all zero. */
export function paddingIsZero (bytes: Uint8Array, count: number): boolean {
  const used = count & 7
  if (used === 0) return true
  const last = bytes[bytes.length - 1]!
  return (last & (0xff >>> used)) === 0
}

/** Element-wise XOR of two equal-length bit vectors. */
export function xorBits (a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!
  return out
}

/** Number of positions where two equal-length bit vectors differ. */
export function hammingDistance (a: Uint8Array, b: Uint8Array): number {
  let d = 0
  for (let i = 0; i < a.length; i++) d += a[i]! ^ b[i]!
  return d
}
