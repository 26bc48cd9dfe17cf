/**
 * The concatenated error-correcting code of the fuzzy extractor: `blocks` outer BCH(2^m - 1, k, t)
 * codewords, every bit of which is sent through an inner repetition code of odd length r.
 * Decoding: majority per r bits, then BCH decoding of each outer block.
 *
 * With the default parameters (r = 3, BCH(1023, 443, 73), 3 blocks) a codeword is 9,207 bits and
 * carries 1,329 message bits. See docs/PUF.md for the failure bound and entropy accounting.
 */
import { bchCode, checkBchParameters, bchDimension } from './bch.js'
import { PufError } from './errors.js'
import { checkRepetition, repetitionDecode, repetitionEncode } from './repetition.js'

export interface CodeParams {
  /** Inner repetition length r (odd). */
  repetition: number
  /** Outer BCH field degree m: length n = 2^m - 1. */
  bchM: number
  /** Outer BCH correction capacity t (bit errors per outer block, after majority decoding). */
  bchT: number
  /** Number of outer BCH blocks. */
  blocks: number
}

/** The default code: r = 3, BCH(1023, 443, t = 73), 3 blocks. */
export const DEFAULT_CODE: Readonly<CodeParams> = Object.freeze({ repetition: 3, bchM: 10, bchT: 73, blocks: 3 })

/** Upper bound on the codeword length accepted anywhere (bounds work done on untrusted helper data). */
export const MAX_CODE_BITS = 1 << 17

export interface CodeInfo extends CodeParams {
  /** Outer code length n = 2^m - 1. */
  bchN: number
  /** Outer code dimension k. */
  bchK: number
  /** Total codeword length = PUF response bits used: blocks * n * r. */
  codeBits: number
  /** Total message bits: blocks * k. */
  messageBits: number
}

/** Validates the parameters and returns the derived sizes. Throws PufError('BAD_PARAMETERS'). */
export function codeInfo (p: CodeParams): CodeInfo {
  if (p === null || typeof p !== 'object') throw new PufError('BAD_PARAMETERS', 'code parameters must be an object')
  checkRepetition(p.repetition)
  checkBchParameters(p.bchM, p.bchT)
  if (!Number.isInteger(p.blocks) || p.blocks < 1 || p.blocks > 64) throw new PufError('BAD_PARAMETERS', `blocks must be an integer in [1, 64], got ${String(p.blocks)}`)
  const bchN = (1 << p.bchM) - 1
  const bchK = bchDimension(p.bchM, p.bchT)
  const codeBits = p.blocks * bchN * p.repetition
  if (codeBits > MAX_CODE_BITS) throw new PufError('BAD_PARAMETERS', `code length ${codeBits} exceeds ${MAX_CODE_BITS} bits`)
  return { repetition: p.repetition, bchM: p.bchM, bchT: p.bchT, blocks: p.blocks, bchN, bchK, codeBits, messageBits: p.blocks * bchK }
}

/** Encodes `messageBits` bits into a `codeBits`-bit codeword. */
export function encodeConcatenated (p: CodeParams, message: Uint8Array): Uint8Array {
  const info = codeInfo(p)
  if (!(message instanceof Uint8Array) || message.length !== info.messageBits) throw new PufError('BAD_INPUT', `message must be ${info.messageBits} bits`)
  const bch = bchCode(p.bchM, p.bchT)
  const outer = new Uint8Array(info.blocks * info.bchN)
  for (let b = 0; b < info.blocks; b++) {
    outer.set(bch.encode(message.subarray(b * info.bchK, (b + 1) * info.bchK)), b * info.bchN)
  }
  return repetitionEncode(outer, p.repetition)
}

export interface ConcatenatedDecodeResult {
  /** The corrected full codeword (`codeBits` bits). */
  codeword: Uint8Array
  /** The message bits it carries. */
  message: Uint8Array
  /** Bit errors corrected by the outer code, per block. */
  outerCorrections: number[]
}

/** Decodes a noisy word; null if any outer block has more errors than its decoder corrects. */
export function decodeConcatenated (p: CodeParams, received: Uint8Array): ConcatenatedDecodeResult | null {
  const info = codeInfo(p)
  if (!(received instanceof Uint8Array) || received.length !== info.codeBits) throw new PufError('BAD_INPUT', `received word must be ${info.codeBits} bits`)
  const bch = bchCode(p.bchM, p.bchT)
  const outerNoisy = repetitionDecode(received, p.repetition)
  const outer = new Uint8Array(outerNoisy.length)
  const message = new Uint8Array(info.messageBits)
  const outerCorrections: number[] = []
  for (let b = 0; b < info.blocks; b++) {
    const r = bch.decode(outerNoisy.subarray(b * info.bchN, (b + 1) * info.bchN))
    if (r === null) return null
    outer.set(r.codeword, b * info.bchN)
    message.set(bch.message(r.codeword), b * info.bchK)
    outerCorrections.push(r.corrected)
  }
  return { codeword: repetitionEncode(outer, p.repetition), message, outerCorrections }
}
