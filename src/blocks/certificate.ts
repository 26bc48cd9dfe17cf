/**
 * Commit certificates: ≥ quorumSize(n) distinct managers' ML-DSA-65 signatures over
 * `voteSignBytes('commit', chainId, height, view, headerHash)`. Verification is a pure function of
 * the certificate, the genesis manager list and a `SigVerifier`.
 */
import { equalBytes, sha256, toHex, type SigVerifier } from '../crypto/index.js'
import { type Check, fail, OK } from './errors.js'
import { MAX_VALIDATORS, SIG_PUBLIC_KEY_BYTES } from './limits.js'
import { chainId as chainIdShape, checked } from './shape.js'
import type { CommitCertificate } from './types.js'
import { validateCertificate } from './validate.js'
import { voteSignBytes } from './vote.js'

/** Smallest number of managers out of n whose agreement is a PBFT quorum: ⌊2n/3⌋ + 1 (3 of 4, 5 of 7). */
export function quorumSize (n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`manager count must be a positive integer, got ${n}`)
  return Math.floor(2 * n / 3) + 1
}

/** What a certificate is verified against. */
export interface CertificateContext {
  chainId: string
  /** ML-DSA-65 public keys of the managers, in genesis order (a signature's `validator` indexes this list). */
  managers: readonly Uint8Array[]
  verifier: SigVerifier
}

/** Optional expectations: the certificate must certify exactly this height and header hash. */
export interface CertificateExpectation {
  height?: number
  headerHash?: Uint8Array
}

/** The bytes every signature of `cert` must sign. */
export function certificateSignBytes (cert: Pick<CommitCertificate, 'chainId' | 'height' | 'view' | 'headerHash'>): Uint8Array {
  return voteSignBytes('commit', cert.chainId, cert.height, cert.view, cert.headerHash)
}

function contextCheck (ctx: CertificateContext): Check {
  return checked(() => {
    chainIdShape(ctx.chainId, 'context chainId')
    if (!Array.isArray(ctx.managers) || ctx.managers.length < 1 || ctx.managers.length > MAX_VALIDATORS) {
      throw new RangeError('bad manager list')
    }
    for (const pk of ctx.managers) if (!(pk instanceof Uint8Array) || pk.length !== SIG_PUBLIC_KEY_BYTES) throw new RangeError('bad manager key')
    if (typeof ctx.verifier?.verify !== 'function') throw new RangeError('no verifier')
  })
}

/**
 * Verifies a commit certificate. Checks, in order: shape; chain id (WRONG_CHAIN); the expected
 * height (WRONG_HEIGHT) and header hash (WRONG_HEADER) when given; every validator index inside the
 * manager list (UNKNOWN_VALIDATOR) and listed once (DUPLICATE_SIGNER); at least quorumSize(n)
 * signers (NO_QUORUM); then every signature over the commit vote bytes (BAD_SIGNATURE — one bad
 * signature rejects the whole certificate, so only well-formed certificates propagate). A `prepare`
 * vote's signature never verifies here: the vote kind is part of the signed bytes.
 */
export function verifyCertificate (cert: CommitCertificate, ctx: CertificateContext, expected?: CertificateExpectation): Check {
  try {
    const shape = validateCertificate(cert)
    if (!shape.ok) return shape
    const c = contextCheck(ctx)
    if (!c.ok) return fail('INVALID', 'bad certificate context: chainId, 1..' + MAX_VALIDATORS + ` ML-DSA-65 manager keys and a verifier are required (${c.reason})`)
    if (cert.chainId !== ctx.chainId) return fail('WRONG_CHAIN', `certificate is for chain '${cert.chainId}', expected '${ctx.chainId}'`)
    if (expected?.height !== undefined && cert.height !== expected.height) {
      return fail('WRONG_HEIGHT', `certificate is for height ${cert.height}, expected ${expected.height}`)
    }
    if (expected?.headerHash !== undefined && !equalBytes(cert.headerHash, expected.headerHash)) {
      return fail('WRONG_HEADER', 'certificate certifies a different header hash')
    }
    const n = ctx.managers.length
    const seen = new Set<number>()
    for (let i = 0; i < cert.signatures.length; i++) {
      const v = (cert.signatures[i] as CommitCertificate['signatures'][number]).validator
      if (v >= n) return fail('UNKNOWN_VALIDATOR', `validator index ${v} is outside the ${n} managers`, i)
      if (seen.has(v)) return fail('DUPLICATE_SIGNER', `validator ${v} signed twice`, i)
      seen.add(v)
    }
    const q = quorumSize(n)
    if (seen.size < q) return fail('NO_QUORUM', `${seen.size} distinct signers, ${q} of ${n} required`)
    const msg = certificateSignBytes(cert)
    for (let i = 0; i < cert.signatures.length; i++) {
      const s = cert.signatures[i] as CommitCertificate['signatures'][number]
      if (!ctx.verifier.verify(s.signature, msg, ctx.managers[s.validator] as Uint8Array)) {
        return fail('BAD_SIGNATURE', `signature of validator ${s.validator} does not verify`, i)
      }
    }
    return OK
  } catch (err) {
    return fail('INVALID', `certificate verification failed on malformed input: ${(err as Error).message}`)
  }
}

/**
 * A `SigVerifier` that remembers the signatures it has verified (the last `max`, keyed by SHA-256 of
 * public key ‖ message ‖ signature) and answers them again from memory, so the same signature is
 * never verified twice: a light node sees a header's certificate from several publishers and the
 * same certificate again in range sync. Only successes are remembered (a bad signature costs a
 * verification every time, as it should). Pass it as `CertificateContext.verifier`; the
 * verification functions stay pure functions of their inputs.
 */
export class MemoVerifier implements SigVerifier {
  private readonly inner: SigVerifier
  private readonly max: number
  private readonly ok = new Set<string>()
  /** Signatures actually verified by `inner` (the rest were answered from memory). */
  verified = 0

  constructor (inner: SigVerifier, max = 4096) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`memo size must be a positive integer, got ${max}`)
    this.inner = inner
    this.max = max
  }

  verify (sig: Uint8Array, msg: Uint8Array, publicKey: Uint8Array): boolean {
    // lengths first: the key must not let two different (pk, msg, sig) triples concatenate alike
    const key = `${publicKey.length}:${msg.length}:${toHex(sha256(publicKey, msg, sig))}`
    if (this.ok.has(key)) return true
    this.verified++
    if (!this.inner.verify(sig, msg, publicKey)) return false
    this.ok.add(key)
    if (this.ok.size > this.max) {
      const first = this.ok.values().next().value
      if (first !== undefined) this.ok.delete(first)
    }
    return true
  }
}
