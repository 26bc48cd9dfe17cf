/**
 * Typed failures of the chain primitives. Decoders and encoders throw `BlockError`; validators and
 * verifiers return a `Check` (a discriminated union) so gossip validators can map a failure to
 * REJECT without try/catch. Every failure carries a stable string `code`.
 */
export type BlockErrorCode =
  | 'MALFORMED' // not valid dag-cbor, or not a value of the expected kind at all
  | 'OVERSIZED' // encoding or a count above its limit (see limits.ts)
  | 'NON_CANONICAL' // valid dag-cbor but not the canonical encoding of the decoded value
  | 'INVALID' // wrong shape: unknown/missing field, wrong type, wrong byte length, bad number, unknown tx type
  | 'MISMATCH' // a header field disagrees with the block body (counts, record ids, roots)
  | 'DUPLICATE' // a record id, index label or tx appears twice in one block (or a label twice in one tx)
  | 'WRONG_CHAIN' // chain id differs from the expected one
  | 'WRONG_HEIGHT' // a certificate certifies another height
  | 'WRONG_HEADER' // a certificate certifies another header hash
  | 'UNKNOWN_VALIDATOR' // validator index outside the manager list
  | 'DUPLICATE_SIGNER' // one validator index appears twice in a certificate
  | 'BAD_SIGNATURE' // a signature does not verify
  | 'NO_QUORUM' // fewer than quorumSize(n) distinct signers
  | 'BROKEN_LINK' // prevHash is not the hash of the previous header (or index/time linkage broken)
  | 'NON_CONSECUTIVE' // heights are not strictly consecutive
  | 'STALE_CONFIG' // a manager change signed against another consortium configuration, or a header naming an unexpected one
  | 'CHANGE_PENDING' // a manager change while another one is committed but not yet in effect
  | 'UNKNOWN_CONFIG' // a header names a consortium configuration the verifier does not hold

export class BlockError extends Error {
  readonly code: BlockErrorCode
  constructor (code: BlockErrorCode, message: string) {
    super(message)
    this.name = 'BlockError'
    this.code = code
  }
}

/** The result of a validator or verifier. `at` locates the failing element where that helps (a header or tx index). */
export type Check =
  | { ok: true }
  | { ok: false, code: BlockErrorCode, reason: string, at?: number }

export type CheckFailure = Extract<Check, { ok: false }>

export const OK: Check = Object.freeze({ ok: true as const })

export function fail (code: BlockErrorCode, reason: string, at?: number): CheckFailure {
  return at === undefined ? { ok: false, code, reason } : { ok: false, code, reason, at }
}

/** Throws the failure of `check` as a `BlockError`; returns normally when it is ok. */
export function assertOk (check: Check): void {
  if (!check.ok) throw new BlockError(check.code, check.at === undefined ? check.reason : `${check.reason} (at ${check.at})`)
}
