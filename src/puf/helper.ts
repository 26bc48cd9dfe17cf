/**
 * Helper data: the public, versioned, self-describing output of enrollment.
 *
 * Format version 1 (integers big-endian):
 *
 * | bytes | field |
 * |---|---|
 * | 4 | magic `PQPF` |
 * | 1 | version = 1 |
 * | 1 | repetition length r |
 * | 1 | BCH m |
 * | 2 | BCH t |
 * | 1 | number of BCH blocks |
 * | 1 | challenge length c (16 .. 64) |
 * | c | challenge |
 * | 4 | offset length N in bits (= blocks * (2^m - 1) * r) |
 * | ceil(N/8) | offset = reference response XOR codeword, packed MSB-first, padding bits 0 |
 * | 32 | check tag = HMAC-SHA256(HKDF(secret, info 'pqmed/puf/v1/helper-check'), all preceding bytes) |
 */
import { concatBytes, u32be } from '../crypto/index.js'
import { paddingIsZero } from './bits.js'
import { codeInfo, type CodeInfo, type CodeParams } from './code.js'
import { PufError } from './errors.js'

export const HELPER_MAGIC = new Uint8Array([0x50, 0x51, 0x50, 0x46]) // 'PQPF'
export const HELPER_VERSION = 1
export const HELPER_TAG_BYTES = 32
export const MIN_CHALLENGE_BYTES = 16
export const MAX_CHALLENGE_BYTES = 64
const FIXED_HEADER = 11

export interface HelperFields {
  code: CodeParams
  challenge: Uint8Array
  /** Packed offset bits (ceil(codeBits / 8) bytes). */
  offset: Uint8Array
}

export interface ParsedHelper extends HelperFields {
  info: CodeInfo
  /** Every byte before the tag: what the tag authenticates. */
  body: Uint8Array
  tag: Uint8Array
}

/** Serializes everything but the tag. */
export function encodeHelperBody (h: HelperFields): Uint8Array {
  const info = codeInfo(h.code)
  if (h.challenge.length < MIN_CHALLENGE_BYTES || h.challenge.length > MAX_CHALLENGE_BYTES) {
    throw new PufError('BAD_INPUT', `challenge must be ${MIN_CHALLENGE_BYTES} to ${MAX_CHALLENGE_BYTES} bytes`)
  }
  if (h.offset.length !== (info.codeBits + 7) >> 3) throw new PufError('BAD_INPUT', 'offset length does not match the code')
  const header = new Uint8Array(FIXED_HEADER)
  header.set(HELPER_MAGIC, 0)
  header[4] = HELPER_VERSION
  header[5] = info.repetition
  header[6] = info.bchM
  new DataView(header.buffer).setUint16(7, info.bchT)
  header[9] = info.blocks
  header[10] = h.challenge.length
  return concatBytes(header, h.challenge, u32be(info.codeBits), h.offset)
}

function malformed (why: string): PufError {
  return new PufError('HELPER_MALFORMED', `malformed helper data: ${why}`)
}

/** Parses and structurally validates helper data. Does not (cannot) check the tag. */
export function parseHelper (helper: Uint8Array): ParsedHelper {
  if (!(helper instanceof Uint8Array)) throw new PufError('BAD_INPUT', 'helper data must be a Uint8Array')
  if (helper.length < 5) throw malformed('too short')
  for (let i = 0; i < 4; i++) if (helper[i] !== HELPER_MAGIC[i]) throw malformed('bad magic (not pqmed PUF helper data)')
  if (helper[4] !== HELPER_VERSION) {
    throw new PufError('UNSUPPORTED_VERSION', `helper data version ${helper[4]!} is not supported (this library reads version ${HELPER_VERSION})`)
  }
  if (helper.length < FIXED_HEADER) throw malformed('truncated header')
  const dv = new DataView(helper.buffer, helper.byteOffset, helper.byteLength)
  const code: CodeParams = { repetition: helper[5]!, bchM: helper[6]!, bchT: dv.getUint16(7), blocks: helper[9]! }
  let info: CodeInfo
  try {
    info = codeInfo(code)
  } catch (err) {
    throw malformed(`invalid code parameters (${(err as Error).message})`)
  }
  const c = helper[10]!
  if (c < MIN_CHALLENGE_BYTES || c > MAX_CHALLENGE_BYTES) throw malformed(`challenge length ${c} out of range`)
  const offsetBytes = (info.codeBits + 7) >> 3
  const expected = FIXED_HEADER + c + 4 + offsetBytes + HELPER_TAG_BYTES
  if (helper.length !== expected) throw malformed(`length ${helper.length}, expected ${expected} for these parameters`)
  const lenAt = FIXED_HEADER + c
  if (dv.getUint32(lenAt) !== info.codeBits) throw malformed('offset bit length does not match the code parameters')
  const offset = helper.slice(lenAt + 4, lenAt + 4 + offsetBytes)
  if (!paddingIsZero(offset, info.codeBits)) throw malformed('nonzero padding bits')
  return {
    code,
    info,
    challenge: helper.slice(FIXED_HEADER, FIXED_HEADER + c),
    offset,
    body: helper.slice(0, helper.length - HELPER_TAG_BYTES),
    tag: helper.slice(helper.length - HELPER_TAG_BYTES)
  }
}
