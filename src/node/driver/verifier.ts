/**
 * Each consensus signature verified once. The gossip validator verifies a message's ML-DSA
 * signature before accepting it (a bad one is REJECTed and costs the sender peer score); PBFT then
 * verifies the same message again through its verifier port. This port remembers, per signature
 * object, the (signer, signed bytes) it verified true, and answers a repeat of exactly that
 * triple without ML-DSA. Anything else — another signer, other bytes, a signature object it has
 * not seen, a signature that failed — is verified in full. Entries live as long as the signature
 * object (a WeakMap), i.e. as long as the message holding it.
 */
import type { VerifierPort } from '../../consensus/index.js'
import { equalBytes } from '../../crypto/index.js'

export class VerifyOnce implements VerifierPort {
  private readonly inner: VerifierPort
  private readonly seen = new WeakMap<Uint8Array, { validator: number, bytes: Uint8Array }>()
  /** Full verifications done and repeats answered from memory (diagnostics, tests). */
  readonly stats = { verified: 0, remembered: 0 }

  constructor (inner: VerifierPort) { this.inner = inner }

  verify = (validator: number, bytes: Uint8Array, sig: Uint8Array): boolean => {
    const s = this.seen.get(sig)
    if (s !== undefined && s.validator === validator && equalBytes(s.bytes, bytes)) { this.stats.remembered++; return true }
    this.stats.verified++
    const ok = this.inner.verify(validator, bytes, sig)
    if (ok) this.seen.set(sig, { validator, bytes })
    return ok
  }
}
