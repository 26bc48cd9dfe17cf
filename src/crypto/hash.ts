/**
 * Symmetric primitives from `node:crypto` (native, ~5-10x faster than pure JS on this machine):
 * SHA-256, HMAC-SHA256, HKDF-SHA256, randomness and constant-time comparison.
 */
import { createHash, createHmac, hkdfSync, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto'
import { assertBytes, CryptoError } from './errors.js'

export const SHA256_BYTES = 32

/** SHA-256 of the concatenation of `parts`. */
export function sha256 (...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

/** HMAC-SHA256(key, concat(parts)). */
export function hmacSha256 (key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  assertBytes(key, 'key')
  const h = createHmac('sha256', key)
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

/** HKDF-SHA256 (RFC 5869). `info` may be a string (UTF-8) for readable domain separation. */
export function hkdfSha256 (ikm: Uint8Array, salt: Uint8Array, info: Uint8Array | string, length: number): Uint8Array {
  assertBytes(ikm, 'ikm')
  assertBytes(salt, 'salt')
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) throw new CryptoError('BAD_INPUT', `bad HKDF length ${length}`)
  const infoBytes = typeof info === 'string' ? utf8(info) : info
  return new Uint8Array(hkdfSync('sha256', ikm, salt, infoBytes, length))
}

export function randomBytes (n: number): Uint8Array {
  return new Uint8Array(nodeRandomBytes(n))
}

/** Constant-time equality for equal-length inputs; false for different lengths. */
export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b)
}

export function concatBytes (...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })
export function utf8 (s: string): Uint8Array { return enc.encode(s) }
export function fromUtf8 (b: Uint8Array): string { return dec.decode(b) }

export function toHex (b: Uint8Array): string { return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex') }
export function fromHex (s: string): Uint8Array {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) throw new CryptoError('BAD_INPUT', 'expected lowercase hex')
  return new Uint8Array(Buffer.from(s, 'hex'))
}

/** Big-endian 32-bit unsigned integer, for length/counter framing. */
export function u32be (n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new CryptoError('BAD_INPUT', `not a u32: ${n}`)
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, n)
  return b
}

/** Unambiguous encoding of a list of byte strings: each part prefixed by its u32 length. */
export function framed (...parts: Uint8Array[]): Uint8Array {
  return concatBytes(...parts.flatMap((p) => [u32be(p.length), p]))
}
