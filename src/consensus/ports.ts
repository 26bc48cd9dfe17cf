/**
 * Ready-made signer and verifier ports over ML-DSA-65 (`PqBackend` from src/crypto): what a
 * manager node plugs into `Pbft`. Manager `i`'s public key is `publicKeys[i]` (genesis order).
 */
import { type PqBackend, type SigVerifier } from '../crypto/index.js'
import type { SignerPort, VerifierPort } from './types.js'

/** Signs with this manager's ML-DSA-65 secret key. */
export function mlDsaSigner (pq: PqBackend, secretKey: Uint8Array): SignerPort {
  return { sign: (bytes) => pq.sign(bytes, secretKey) }
}

/** Verifies manager signatures against the genesis public keys; unknown validators fail. */
export function mlDsaVerifier (pq: SigVerifier, publicKeys: readonly Uint8Array[]): VerifierPort {
  const keys = [...publicKeys]
  return {
    verify: (validator, bytes, sig) => {
      const pk = Number.isInteger(validator) ? keys[validator] : undefined
      return pk !== undefined && pq.verify(sig, bytes, pk)
    }
  }
}
