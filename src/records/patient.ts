/**
 * Principal ids and the self-signed patient enrollment (`PatientTx`, SVBE "add patient").
 *
 * Patient signing payload (canonical dag-cbor):
 * `['pqmed/patient-sig/1', patientId, sigPublicKey, kemPublicKey, time]`, signed with the key in it.
 */
import { encodeCanonical } from './cbor.js'
import { equalBytes, sha256, type PqBackend, type SigVerifier } from '../crypto/index.js'
import { TAG } from './constants.js'
import { assert32, assertKemPublicKey, assertSigPublicKey, assertSigSecretKey, assertTime, RecordError } from './errors.js'

/** Id of a patient or doctor: SHA-256 of their ML-DSA-65 public key. */
export function principalId (sigPublicKey: Uint8Array): Uint8Array {
  assertSigPublicKey(sigPublicKey)
  return sha256(sigPublicKey)
}

/** Field names are those of `PatientTx`, so a PatientTx can be passed as is. */
export interface PatientSigningParts {
  /** SHA-256 of sigPublicKey. */
  patientId: Uint8Array
  sigPublicKey: Uint8Array
  kemPublicKey: Uint8Array
  time: number
}

/** Canonical signing payload. Throws BAD_INPUT on wrong lengths, a bad time, or patientId ≠ SHA-256(sigPublicKey). */
export function patientSigningPayload (parts: PatientSigningParts): Uint8Array {
  if (parts === null || typeof parts !== 'object') throw new RecordError('BAD_INPUT', 'patient parts must be an object')
  assert32(parts.patientId, 'patientId')
  assertSigPublicKey(parts.sigPublicKey)
  assertKemPublicKey(parts.kemPublicKey)
  assertTime(parts.time)
  if (!equalBytes(sha256(parts.sigPublicKey), parts.patientId)) throw new RecordError('BAD_INPUT', 'patientId must be SHA-256 of sigPublicKey')
  return encodeCanonical([TAG.patientSig, parts.patientId, parts.sigPublicKey, parts.kemPublicKey, parts.time])
}

/** Self-signature of a patient enrollment, with the secret key matching `parts.sigPublicKey`. */
export function signPatient (pq: PqBackend, sigSecretKey: Uint8Array, parts: PatientSigningParts): Uint8Array {
  assertSigSecretKey(sigSecretKey)
  return pq.sign(patientSigningPayload(parts), sigSecretKey)
}

/** True iff the enrollment is well formed and self-signed by `parts.sigPublicKey`. Never throws. */
export function verifyPatientSignature (verifier: SigVerifier, parts: PatientSigningParts, signature: Uint8Array): boolean {
  try {
    return verifier.verify(signature, patientSigningPayload(parts), parts.sigPublicKey)
  } catch {
    return false
  }
}
