/**
 * Signer/verifier kits for the simulation: a fast HMAC-SHA256 stand-in (same ports, each manager
 * holds only its own key, so nobody can forge another's signature), and the real ML-DSA-65 one.
 */
import { equalBytes, hmacSha256, sha256, sigKeygen, utf8, type PqBackend } from '../../../src/crypto/index.js'
import { mlDsaSigner, mlDsaVerifier } from '../../../src/consensus/index.js'
import type { SignerPort, VerifierPort } from '../../../src/consensus/index.js'

export interface CryptoKit {
  name: string
  signer: (i: number) => SignerPort
  verifier: VerifierPort
  /** Length of a signature, for forging garbage of the right size. */
  sigBytes: number
  /** ML-DSA-65 public keys in manager order (real kits only). */
  publicKeys?: Uint8Array[]
}

export function hmacKit (n: number, seed: number): CryptoKit {
  const keys = Array.from({ length: n }, (_, i) => sha256(utf8(`pqmed-sim-key/${seed}/${i}`)))
  return {
    name: 'hmac',
    signer: (i) => { const k = keys[i] as Uint8Array; return { sign: (bytes) => hmacSha256(k, bytes) } },
    verifier: {
      verify: (i, bytes, sig) => {
        const k = keys[i]
        return k !== undefined && sig instanceof Uint8Array && sig.length === 32 && equalBytes(hmacSha256(k, bytes), sig)
      }
    },
    sigBytes: 32
  }
}

const keyCache = new Map<number, Array<{ publicKey: Uint8Array, secretKey: Uint8Array }>>()

/** ML-DSA-65 managers with deterministic keys (seeded by index), cached across runs. */
export function mlDsaKit (pq: PqBackend, n: number): CryptoKit {
  let keys = keyCache.get(n)
  if (keys === undefined) {
    keys = Array.from({ length: n }, (_, i) => sigKeygen(sha256(utf8(`pqmed-sim-mldsa/${i}`))))
    keyCache.set(n, keys)
  }
  const ks = keys
  return {
    name: `ml-dsa-65/${pq.name}`,
    signer: (i) => mlDsaSigner(pq, (ks[i] as { secretKey: Uint8Array }).secretKey),
    verifier: mlDsaVerifier(pq, ks.map((k) => k.publicKey)),
    sigBytes: 3309,
    publicKeys: ks.map((k) => k.publicKey)
  }
}
