/**
 * The fuzzy extractor (code-offset construction, Dodis–Ostrovsky–Reyzin–Smith):
 *
 * enroll:    w = majority of R readings of the response to a fresh random challenge
 *            c = a uniformly random codeword of the concatenated code
 *            offset = w XOR c;  body = (version, code parameters, challenge, offset)
 *            secret = HKDF-SHA256(ikm = w, salt = SHA-256(body), info = 'pqmed/puf/v1/secret', 32)
 *            helper = body || HMAC-SHA256(HKDF(secret, info = 'pqmed/puf/v1/helper-check'), body)
 * reproduce: w' = one reading;  c = decode(w' XOR offset);  w = offset XOR c;  recompute secret
 *            and tag, and return the secret only if the tag matches.
 *
 * The library writes nothing anywhere; the helper data are public and the only thing to store.
 */
import { equalBytes, hkdfSha256, hmacSha256, sha256 } from '../crypto/index.js'
import { packBits, unpackBits, xorBits } from './bits.js'
import { codeInfo, decodeConcatenated, DEFAULT_CODE, encodeConcatenated, type CodeParams } from './code.js'
import { entropyAccount } from './bound.js'
import { readResponseBits, systemRandom, type PufDevice, type RandomSource } from './device.js'
import { assertBytes, PufError } from './errors.js'
import { encodeHelperBody, MAX_CHALLENGE_BYTES, MIN_CHALLENGE_BYTES, parseHelper } from './helper.js'

export const SECRET_BYTES = 32
export const DEFAULT_CHALLENGE_BYTES = 32
/** Readings majority-voted into the enrolled reference (odd). */
export const DEFAULT_ENROLLMENT_READS = 15
/** Assumed min-entropy per SRAM response bit (see docs/PUF.md for the source). */
export const DEFAULT_MIN_ENTROPY_PER_BIT = 0.9
/** Enrollment refuses a code that leaves less than this much min-entropy after the helper leakage. */
export const REQUIRED_ENTROPY_BITS = 256

export const SECRET_INFO = 'pqmed/puf/v1/secret'
export const HELPER_CHECK_INFO = 'pqmed/puf/v1/helper-check'

export interface EnrollOptions {
  /** Error-correcting code; default DEFAULT_CODE (r = 3, BCH(1023, 443, 73), 3 blocks). */
  code?: CodeParams
  /** Readings majority-voted into the reference (odd, 1 .. 255); default 15. */
  enrollmentReads?: number
  /** Randomness for the challenge and the codeword; default `node:crypto`. */
  random?: RandomSource
  /** The challenge (16 .. 64 bytes); default 32 random bytes. */
  challenge?: Uint8Array
  /** Min-entropy per response bit assumed by the entropy check; default 0.9. */
  minEntropyPerBit?: number
}

export interface Enrollment {
  /** The 32-byte secret. Keep it in memory only; derive keys with deriveIdentityKeys & co. */
  secret: Uint8Array
  /** Public helper data: store it; reproduce(device, helper) returns the same secret. */
  helper: Uint8Array
}

function deriveSecret (reference: Uint8Array, body: Uint8Array): Uint8Array {
  const ikm = packBits(reference)
  const secret = hkdfSha256(ikm, sha256(body), SECRET_INFO, SECRET_BYTES)
  ikm.fill(0)
  return secret
}

function checkTag (secret: Uint8Array, body: Uint8Array): Uint8Array {
  const key = hkdfSha256(secret, new Uint8Array(0), HELPER_CHECK_INFO, 32)
  const tag = hmacSha256(key, body)
  key.fill(0)
  return tag
}

function checkDevice (device: PufDevice): void {
  if (device === null || typeof device !== 'object' || typeof device.respond !== 'function') {
    throw new PufError('BAD_INPUT', 'device must implement PufDevice { responseBits, respond(challenge) }')
  }
}

/** Enrolls `device`: returns a fresh 32-byte secret and the public helper data that reproduce it. */
export function enroll (device: PufDevice, opts: EnrollOptions = {}): Enrollment {
  checkDevice(device)
  const code = opts.code ?? DEFAULT_CODE
  const info = codeInfo(code)
  const reads = opts.enrollmentReads ?? DEFAULT_ENROLLMENT_READS
  if (!Number.isInteger(reads) || reads < 1 || reads > 255 || reads % 2 === 0) throw new PufError('BAD_INPUT', `enrollmentReads must be odd in [1, 255], got ${String(reads)}`)
  const h = opts.minEntropyPerBit ?? DEFAULT_MIN_ENTROPY_PER_BIT
  const account = entropyAccount(code, h)
  if (account.remainingBits < REQUIRED_ENTROPY_BITS) {
    throw new PufError('BAD_PARAMETERS', `code leaves ${account.remainingBits.toFixed(1)} bits of min-entropy after the helper leakage at ${h} bits/bit; at least ${REQUIRED_ENTROPY_BITS} required`)
  }
  const random = opts.random ?? systemRandom
  const challenge = opts.challenge ?? random(DEFAULT_CHALLENGE_BYTES)
  assertBytes(challenge, 'challenge')
  if (challenge.length < MIN_CHALLENGE_BYTES || challenge.length > MAX_CHALLENGE_BYTES) {
    throw new PufError('BAD_INPUT', `challenge must be ${MIN_CHALLENGE_BYTES} to ${MAX_CHALLENGE_BYTES} bytes`)
  }

  // Enrolled reference: per-bit majority of `reads` readings.
  const N = info.codeBits
  const ones = new Uint16Array(N)
  for (let i = 0; i < reads; i++) {
    const r = readResponseBits(device, challenge, N)
    for (let j = 0; j < N; j++) ones[j]! += r[j]!
    r.fill(0)
  }
  const reference = new Uint8Array(N)
  for (let j = 0; j < N; j++) reference[j] = 2 * ones[j]! > reads ? 1 : 0

  const messageBytes = random((info.messageBits + 7) >> 3)
  assertBytes(messageBytes, 'random output', (info.messageBits + 7) >> 3)
  const message = unpackBits(messageBytes, info.messageBits)
  const codeword = encodeConcatenated(code, message)
  const offset = packBits(xorBits(reference, codeword))
  const body = encodeHelperBody({ code, challenge, offset })
  const secret = deriveSecret(reference, body)
  const tag = checkTag(secret, body)
  reference.fill(0); codeword.fill(0); message.fill(0); messageBytes.fill(0); ones.fill(0)
  const helper = new Uint8Array(body.length + tag.length)
  helper.set(body, 0)
  helper.set(tag, body.length)
  return { secret, helper }
}

/**
 * Reproduces the secret of an enrollment from one fresh reading of `device` and the helper data.
 * Throws PufError: HELPER_MALFORMED / UNSUPPORTED_VERSION for unparseable helper data, and
 * HELPER_TAMPERED_OR_WRONG_DEVICE when the reading cannot be decoded or the check tag does not
 * match (modified helper data, another device, or a reading noisier than the code corrects; these
 * are indistinguishable by design). Never returns a wrong secret (up to HMAC forgery).
 */
export function reproduce (device: PufDevice, helper: Uint8Array): Uint8Array {
  checkDevice(device)
  const h = parseHelper(helper)
  const reading = readResponseBits(device, h.challenge, h.info.codeBits)
  const offset = unpackBits(h.offset, h.info.codeBits)
  const noisyCodeword = xorBits(reading, offset)
  reading.fill(0)
  const decoded = decodeConcatenated(h.code, noisyCodeword)
  noisyCodeword.fill(0)
  if (decoded === null) {
    throw new PufError('HELPER_TAMPERED_OR_WRONG_DEVICE', 'PUF reading does not decode with this helper data: the helper data were modified or belong to another device (indistinguishable by design), or the reading is noisier than the code corrects')
  }
  const reference = xorBits(offset, decoded.codeword)
  decoded.codeword.fill(0); decoded.message.fill(0)
  const secret = deriveSecret(reference, h.body)
  reference.fill(0)
  if (!equalBytes(checkTag(secret, h.body), h.tag)) {
    secret.fill(0)
    throw new PufError('HELPER_TAMPERED_OR_WRONG_DEVICE', 'helper data check tag mismatch: the helper data were modified or belong to another device (indistinguishable by design)')
  }
  return secret
}
