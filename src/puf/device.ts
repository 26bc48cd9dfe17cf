/**
 * The PUF device model. `PufDevice` is what the fuzzy extractor needs from a PUF, so a hardware
 * SRAM PUF driver can replace `SimulatedSramPuf` without touching the extractor.
 */
import { aeadSeal, concatBytes, framed, hkdfSha256, randomBytes, u32be, utf8 } from '../crypto/index.js'
import { assertBytes, assertInt, PufError } from './errors.js'

/** A source of uniformly random bytes: `(n) => n fresh bytes`. */
export type RandomSource = (n: number) => Uint8Array

/** The default random source: `node:crypto` randomness (via the crypto suite). */
export const systemRandom: RandomSource = (n) => randomBytes(n)

/**
 * A deterministic random source for reproducible tests and benchmarks (never for production
 * keys): the AES-256-GCM keystream (encryption of zeros) under the 32-byte `seed`, one fresh
 * counter nonce per call.
 */
export function seededRandom (seed: Uint8Array): RandomSource {
  assertBytes(seed, 'random seed', 32)
  const key = seed.slice()
  let counter = 0
  return (n: number) => {
    assertInt(n, 'random byte count', 0, 1 << 26)
    const nonce = new Uint8Array(12)
    const view = new DataView(nonce.buffer)
    view.setUint32(4, Math.floor(counter / 0x100000000))
    view.setUint32(8, counter >>> 0)
    counter++
    return aeadSeal(key, new Uint8Array(n), new Uint8Array(0), nonce).slice(12, 12 + n)
  }
}

/** What the fuzzy extractor needs from a PUF. */
export interface PufDevice {
  /** Number of response bits returned per challenge. */
  readonly responseBits: number
  /**
   * One noisy reading of the response to `challenge`: `responseBits` bits packed MSB-first
   * (bit i is `(r[i >> 3] >> (7 - (i & 7))) & 1`) in ceil(responseBits / 8) bytes, unused bits 0.
   */
  respond: (challenge: Uint8Array) => Uint8Array
}

export interface SimulatedSramPufOptions {
  /** 32 bytes standing for the chip's manufacturing variation: the device's identity. */
  seed: Uint8Array
  /** Probability that each response bit flips on a reading, independently; default 0.10. */
  bitErrorRate?: number
  /** Randomness for the noise; default `node:crypto`. Inject `seededRandom(seed)` for reproducible runs. */
  random?: RandomSource
  /** Response bits per challenge; default 8192 (a 1 KiB SRAM block). At most 65,280. */
  responseBits?: number
}

export const DEFAULT_BIT_ERROR_RATE = 0.10
export const DEFAULT_RESPONSE_BITS = 8192
export const MAX_SIM_RESPONSE_BITS = 255 * 32 * 8
const SIM_LABEL = utf8('pqmed/puf/v1/simulated-sram/reference')

/**
 * A software model of an SRAM PUF. The noise-free reference response to a challenge is
 * HKDF-SHA256(ikm = seed, info = framed(label, challenge)) truncated to `responseBits` bits; every
 * reading flips each bit independently with probability `bitErrorRate` (a binary symmetric
 * channel; the probability is quantized to a multiple of 2^-32).
 */
export class SimulatedSramPuf implements PufDevice {
  readonly responseBits: number
  readonly bitErrorRate: number
  private readonly seed: Uint8Array
  private readonly random: RandomSource
  private readonly threshold: number

  constructor (opts: SimulatedSramPufOptions) {
    if (opts === null || typeof opts !== 'object') throw new PufError('BAD_INPUT', 'options object required')
    assertBytes(opts.seed, 'device seed', 32)
    const ber = opts.bitErrorRate ?? DEFAULT_BIT_ERROR_RATE
    if (typeof ber !== 'number' || !(ber >= 0 && ber <= 0.5)) throw new PufError('BAD_INPUT', `bitErrorRate must be in [0, 0.5], got ${String(ber)}`)
    const bits = opts.responseBits ?? DEFAULT_RESPONSE_BITS
    assertInt(bits, 'responseBits', 1, MAX_SIM_RESPONSE_BITS)
    if (opts.random !== undefined && typeof opts.random !== 'function') throw new PufError('BAD_INPUT', 'random must be a function (n) => Uint8Array')
    this.seed = opts.seed.slice()
    this.bitErrorRate = ber
    this.responseBits = bits
    this.random = opts.random ?? systemRandom
    this.threshold = Math.round(ber * 0x100000000)
  }

  /** The noise-free response (simulation only: a hardware PUF cannot expose it). */
  reference (challenge: Uint8Array): Uint8Array {
    assertBytes(challenge, 'challenge')
    const out = hkdfSha256(this.seed, new Uint8Array(0), framed(SIM_LABEL, challenge), (this.responseBits + 7) >> 3)
    const used = this.responseBits & 7
    if (used !== 0) out[out.length - 1]! &= (0xff << (8 - used)) & 0xff
    return out
  }

  respond (challenge: Uint8Array): Uint8Array {
    const out = this.reference(challenge)
    if (this.threshold === 0) return out
    const n = this.responseBits
    const draws = new Uint32Array(n)
    const bytes = this.random(4 * n)
    if (!(bytes instanceof Uint8Array) || bytes.length !== 4 * n) throw new PufError('DEVICE_ERROR', 'random source returned the wrong number of bytes')
    new Uint8Array(draws.buffer).set(bytes)
    const th = this.threshold
    for (let i = 0; i < n; i++) {
      if (draws[i]! < th) out[i >> 3]! ^= 0x80 >>> (i & 7)
    }
    return out
  }
}

/**
 * Reads `bits` response bits for `challenge` from `device`, querying sub-challenges
 * challenge || u32be(i) for i = 0, 1, ... until enough bits are collected.
 * Returns one 0/1 per element.
 */
export function readResponseBits (device: PufDevice, challenge: Uint8Array, bits: number): Uint8Array {
  const per = device.responseBits
  if (!Number.isInteger(per) || per < 1) throw new PufError('DEVICE_ERROR', `device.responseBits must be a positive integer, got ${String(per)}`)
  const out = new Uint8Array(bits)
  const bytesPer = (per + 7) >> 3
  let filled = 0
  for (let i = 0; filled < bits; i++) {
    const r = device.respond(concatBytes(challenge, u32be(i)))
    if (!(r instanceof Uint8Array) || r.length !== bytesPer) throw new PufError('DEVICE_ERROR', `device returned ${r instanceof Uint8Array ? r.length : typeof r} bytes, expected ${bytesPer}`)
    const take = Math.min(per, bits - filled)
    for (let j = 0; j < take; j++) out[filled + j] = (r[j >> 3]! >>> (7 - (j & 7))) & 1
    filled += take
  }
  return out
}
