/**
 * Post-quantum public-key primitives: ML-DSA-65 (FIPS 204) signatures and ML-KEM-768 (FIPS 203)
 * key encapsulation, behind one `PqBackend` interface with two interchangeable implementations:
 *
 * - `liboqs`: `@oqs/liboqs-js`, liboqs compiled to WebAssembly; the fast default
 *   (about 16x faster ML-DSA-65 sign and 12x faster verify than pure JS: `npm run bench:crypto`).
 * - `noble`: `@noble/post-quantum`, audited pure JS; the reference, and the only one with
 *   deterministic key generation from a seed (which liboqs-js does not expose).
 *
 * Keys, signatures and ciphertexts of the two interoperate (tested both ways). Key generation
 * is always done with noble from a seed (`sigKeygen`, `kemKeygen`), so a PUF secret determines
 * the identity keys regardless of the backend that later signs and verifies.
 *
 * To change a parameter set (ML-DSA-87, say) edit `SUITE` and the two constructors below.
 *
 * @example
 * ```ts
 * const pq = await loadPqBackend()            // liboqs, or noble with a warning
 * const { publicKey, secretKey } = sigKeygen(seed32)
 * const sig = pq.sign(msg, secretKey)
 * pq.verify(sig, msg, publicKey)              // true
 * ```
 */
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js'
import { assertBytes, CryptoError } from './errors.js'

export const SUITE = {
  sig: 'ML-DSA-65',
  kem: 'ML-KEM-768',
  sigPublicKeyBytes: 1952,
  sigSecretKeyBytes: 4032,
  sigBytes: 3309,
  sigSeedBytes: 32,
  kemPublicKeyBytes: 1184,
  kemSecretKeyBytes: 2400,
  kemCiphertextBytes: 1088,
  kemSharedSecretBytes: 32,
  kemSeedBytes: 64
} as const

export type PqBackendName = 'liboqs' | 'noble'

export interface KeyPair {
  publicKey: Uint8Array
  secretKey: Uint8Array
}

export interface Encapsulation {
  cipherText: Uint8Array
  sharedSecret: Uint8Array
}

/** Signing and verification only: what a verifier-only component should depend on. */
export interface SigVerifier {
  /** True iff `sig` is a valid ML-DSA-65 signature on `msg` under `publicKey`. Never throws on bad input. */
  verify: (sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array) => boolean
}

export interface PqBackend extends SigVerifier {
  readonly name: PqBackendName
  sign: (msg: Uint8Array, secretKey: Uint8Array) => Uint8Array
  encapsulate: (publicKey: Uint8Array) => Encapsulation
  /** ML-KEM decapsulation: implicit rejection, so a tampered ciphertext yields an unrelated secret, not an error. */
  decapsulate: (cipherText: Uint8Array, secretKey: Uint8Array) => Uint8Array
}

function checkedVerify (inner: (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => boolean): PqBackend['verify'] {
  return (sig, msg, pk) => {
    if (!(sig instanceof Uint8Array) || !(msg instanceof Uint8Array) || !(pk instanceof Uint8Array)) return false
    if (sig.length !== SUITE.sigBytes || pk.length !== SUITE.sigPublicKeyBytes) return false
    try { return inner(sig, msg, pk) } catch { return false }
  }
}

function checkSign (msg: Uint8Array, sk: Uint8Array): void {
  assertBytes(msg, 'message')
  assertBytes(sk, 'ML-DSA secret key', SUITE.sigSecretKeyBytes)
}
function checkEncaps (pk: Uint8Array): void { assertBytes(pk, 'ML-KEM public key', SUITE.kemPublicKeyBytes) }
function checkDecaps (ct: Uint8Array, sk: Uint8Array): void {
  assertBytes(ct, 'ML-KEM ciphertext', SUITE.kemCiphertextBytes)
  assertBytes(sk, 'ML-KEM secret key', SUITE.kemSecretKeyBytes)
}

/** The pure-JS reference backend (synchronous to construct). */
export const noblePq: PqBackend = Object.freeze({
  name: 'noble' as const,
  sign: (msg: Uint8Array, sk: Uint8Array) => { checkSign(msg, sk); return ml_dsa65.sign(msg, sk) },
  verify: checkedVerify((sig, msg, pk) => ml_dsa65.verify(sig, msg, pk)),
  encapsulate: (pk: Uint8Array) => { checkEncaps(pk); return ml_kem768.encapsulate(pk) },
  decapsulate: (ct: Uint8Array, sk: Uint8Array) => { checkDecaps(ct, sk); return ml_kem768.decapsulate(ct, sk) }
})

/**
 * liboqs-js refuses anything but a plain `Uint8Array` (a Node `Buffer`, which `@ipld/dag-cbor`
 * returns for larger outputs, makes `sign` throw and `verify` return false): pass a view.
 */
function plain (b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}

let sharedLiboqs: Promise<PqBackend> | undefined

/**
 * Loads the WebAssembly liboqs backend, once per process: every caller shares one instance (the
 * calls are synchronous and the instance keeps no state between them). With one instance per
 * node, each of the hundreds of user nodes a simulation runs in one process had its own
 * WebAssembly instance and memory. Throws CryptoError('BACKEND_UNAVAILABLE') if it cannot
 * load; a failed load is not cached.
 */
export async function loadLiboqs (): Promise<PqBackend> {
  sharedLiboqs ??= instantiateLiboqs().catch((err: unknown) => { sharedLiboqs = undefined; throw err })
  return await sharedLiboqs
}

async function instantiateLiboqs (): Promise<PqBackend> {
  try {
    const oqs = await import('@oqs/liboqs-js')
    const dsa = await oqs.createMLDSA65()
    const kem = await oqs.createMLKEM768()
    return Object.freeze({
      name: 'liboqs' as const,
      sign: (msg: Uint8Array, sk: Uint8Array) => { checkSign(msg, sk); return dsa.sign(plain(msg), plain(sk)) },
      verify: checkedVerify((sig, msg, pk) => dsa.verify(plain(msg), plain(sig), plain(pk))),
      encapsulate: (pk: Uint8Array) => {
        checkEncaps(pk)
        const r = kem.encapsulate(plain(pk))
        return { cipherText: r.ciphertext, sharedSecret: r.sharedSecret }
      },
      decapsulate: (ct: Uint8Array, sk: Uint8Array) => { checkDecaps(ct, sk); return kem.decapsulate(plain(ct), plain(sk)) }
    })
  } catch (err) {
    throw new CryptoError('BACKEND_UNAVAILABLE', `liboqs WebAssembly backend failed to load: ${(err as Error).message}`)
  }
}

export interface LoadPqOptions {
  /** Preferred backend; default `liboqs`. */
  backend?: PqBackendName
  /** Called with a warning when the preferred backend is unavailable and noble is used instead. */
  warn?: (message: string) => void
  /** Test hook: replaces the liboqs loader. */
  loadLiboqs?: () => Promise<PqBackend>
}

/**
 * Returns the configured backend: liboqs by default, falling back to noble with a logged warning
 * when WebAssembly cannot be loaded.
 */
export async function loadPqBackend (opts: LoadPqOptions = {}): Promise<PqBackend> {
  const want = opts.backend ?? 'liboqs'
  if (want !== 'liboqs' && want !== 'noble') throw new CryptoError('BAD_INPUT', `unknown PQ backend '${String(want)}' (expected liboqs or noble)`)
  if (want === 'noble') return noblePq
  try {
    return await (opts.loadLiboqs ?? loadLiboqs)()
  } catch (err) {
    const warn = opts.warn ?? ((m: string) => { console.warn(m) })
    warn(`pqmed: ${(err as Error).message}; falling back to the pure-JS noble backend (about 12-16x slower)`)
    return noblePq
  }
}

/** Deterministic ML-DSA-65 key pair from a 32-byte seed (FIPS 204 ML-DSA.KeyGen_internal). */
export function sigKeygen (seed: Uint8Array): KeyPair {
  assertBytes(seed, 'ML-DSA seed', SUITE.sigSeedBytes)
  return ml_dsa65.keygen(seed)
}

/** Deterministic ML-KEM-768 key pair from a 64-byte seed (d ‖ z, FIPS 203 ML-KEM.KeyGen_internal). */
export function kemKeygen (seed: Uint8Array): KeyPair {
  assertBytes(seed, 'ML-KEM seed', SUITE.kemSeedBytes)
  return ml_kem768.keygen(seed)
}
