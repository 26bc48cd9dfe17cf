/**
 * PUF key generation for pqmed: a pure library (no I/O; it writes nothing anywhere).
 *
 * - `PufDevice`: what a PUF must provide (`responseBits`, `respond(challenge)`), so a hardware
 *   SRAM PUF driver can replace `SimulatedSramPuf`, the software model (a 32-byte seed stands for
 *   the chip's manufacturing variation; each reading flips every bit independently with
 *   `bitErrorRate`, default 10%).
 * - A fuzzy extractor (code-offset construction over a concatenated code: repetition-3 inner,
 *   BCH(1023, 443, t = 73) outer, 3 blocks): `enroll` returns a 32-byte secret and public helper
 *   data; `reproduce` regenerates the secret from a fresh reading, or throws a `PufError`
 *   (tampered helper data, another device) — it never returns a wrong key. The analytic
 *   reproduction failure probability at 10% BER is about 1e-12 (`failureBound`).
 * - HKDF key derivation from the secret: identity key pairs (ML-DSA-65, ML-KEM-768), per-record
 *   field keys, attachment keys and searchable-index keys.
 *
 * Only the helper data are meant to be stored; they are public. See docs/PUF.md.
 *
 * @example
 * ```ts
 * import { SimulatedSramPuf, enroll, reproduce, deriveIdentityKeys, deriveFieldKeys } from './puf/index.js'
 *
 * const device = new SimulatedSramPuf({ seed: chipSeed32 })         // or a hardware PufDevice
 * const { secret, helper } = enroll(device)                         // once; store `helper` (public)
 * // ... later, on the same device:
 * const again = reproduce(device, helper)                           // equal to `secret`
 * const { sig, kem, id } = deriveIdentityKeys(again)                // ML-DSA-65 / ML-KEM-768
 * const [kInfo, kSymptoms, kPrescriptions] = deriveFieldKeys(again, recordId32)
 * ```
 */
export { PufError, type PufErrorCode } from './errors.js'
export {
  type PufDevice,
  type RandomSource,
  type SimulatedSramPufOptions,
  SimulatedSramPuf,
  systemRandom,
  seededRandom,
  readResponseBits,
  DEFAULT_BIT_ERROR_RATE,
  DEFAULT_RESPONSE_BITS
} from './device.js'
export {
  type EnrollOptions,
  type Enrollment,
  enroll,
  reproduce,
  SECRET_BYTES,
  DEFAULT_ENROLLMENT_READS,
  DEFAULT_MIN_ENTROPY_PER_BIT,
  REQUIRED_ENTROPY_BITS,
  SECRET_INFO,
  HELPER_CHECK_INFO
} from './extractor.js'
export { type CodeParams, type CodeInfo, DEFAULT_CODE, codeInfo, encodeConcatenated, decodeConcatenated } from './code.js'
export { BchCode, bchCode, bchDimension } from './bch.js'
export { repetitionEncode, repetitionDecode } from './repetition.js'
export { type FailureBound, type EntropyAccount, binomialTail, majorityFailure, effectiveBitErrorRate, failureBound, entropyAccount } from './bound.js'
export { HELPER_MAGIC, HELPER_VERSION, parseHelper, type ParsedHelper } from './helper.js'
export { packBits, unpackBits, hammingDistance } from './bits.js'
export {
  type IdentityKeys,
  type RecordField,
  RECORD_FIELDS,
  RECORD_ID_BYTES,
  deriveIdentityKeys,
  deriveFieldKeys,
  deriveFieldKey,
  deriveAttachmentKey,
  deriveIndexKey,
  deriveRecordOwnerKey,
  recordOwnerId,
  RECORD_OWNER_INFO,
  SIG_SEED_INFO,
  KEM_SEED_INFO
} from './keys.js'
