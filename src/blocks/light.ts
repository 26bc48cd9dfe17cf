/**
 * Light-client header verification (CometBFT-style sequential verification): from a trusted
 * header, accept a run of newer headers if each links to its predecessor and the newest carries a
 * valid commit certificate. Because every header commits to its predecessor's hash, one
 * certificate on the newest header vouches for the whole run.
 */
import { equalBytes } from '../crypto/index.js'
import { type CertificateContext, verifyCertificate } from './certificate.js'
import { type Check, fail, OK } from './errors.js'
import { headerHash } from './hash.js'
import { MAX_HEADER_CHAIN } from './limits.js'
import type { CommitCertificate, Header } from './types.js'
import { validateHeader } from './validate.js'

/**
 * Checks that `next` directly follows `prev`: `validateHeader(next)`, same chain id (WRONG_CHAIN),
 * height + 1 (NON_CONSECUTIVE), `prevHash = headerHash(prev)`, `time ≥ prev.time` and
 * `indexStart = prev.indexStart + prev.indexCount` (BROKEN_LINK). `prev` is assumed valid.
 * `prevHash`, when given, must be `headerHash(prev)` (a caller that keeps its head's hash, or hashed
 * the received canonical bytes, passes it so that `prev` is not encoded again).
 */
export function verifyHeaderLink (prev: Header, next: Header, prevHash?: Uint8Array): Check {
  try {
    const v = validateHeader(next)
    if (!v.ok) return v
    if (next.chainId !== prev.chainId) return fail('WRONG_CHAIN', `header is for chain '${next.chainId}', expected '${prev.chainId}'`)
    if (next.height !== prev.height + 1) return fail('NON_CONSECUTIVE', `height ${next.height} does not follow ${prev.height}`)
    if (!equalBytes(next.prevHash, prevHash ?? headerHash(prev))) return fail('BROKEN_LINK', `prevHash of height ${next.height} is not the hash of header ${prev.height}`)
    if (next.time < prev.time) return fail('BROKEN_LINK', `time of height ${next.height} goes backwards`)
    if (next.indexStart !== prev.indexStart + prev.indexCount) {
      return fail('BROKEN_LINK', `indexStart of height ${next.height} is ${next.indexStart}, expected ${prev.indexStart + prev.indexCount}`)
    }
    return OK
  } catch (err) {
    return fail('INVALID', `header link check failed on malformed input: ${(err as Error).message}`)
  }
}

/**
 * Verifies `headers` (ascending, the first following `trusted`) and that `newestCert` is a valid
 * commit certificate, under `ctx`, for the last header (for `trusted` itself when `headers` is
 * empty). On failure `at` is the index in `headers` of the offending header (absent for the
 * trusted header and the certificate).
 */
export function verifyHeaderChain (trusted: Header, headers: readonly Header[], newestCert: CommitCertificate, ctx: CertificateContext): Check {
  const t = validateHeader(trusted)
  if (!t.ok) return fail(t.code, `trusted header: ${t.reason}`)
  if (ctx?.chainId !== trusted.chainId) return fail('WRONG_CHAIN', `trusted header is for chain '${trusted.chainId}', context is for '${String(ctx?.chainId)}'`)
  if (!Array.isArray(headers)) return fail('INVALID', 'headers must be a list')
  if (headers.length > MAX_HEADER_CHAIN) return fail('OVERSIZED', `at most ${MAX_HEADER_CHAIN} headers per call`)
  let prev = trusted
  for (let i = 0; i < headers.length; i++) {
    const next = headers[i] as Header
    const link = verifyHeaderLink(prev, next)
    if (!link.ok) return fail(link.code, link.reason, i)
    prev = next
  }
  let newestHash: Uint8Array
  try {
    newestHash = headerHash(prev)
  } catch (err) {
    return fail('INVALID', (err as Error).message)
  }
  const cert = verifyCertificate(newestCert, ctx, { height: prev.height, headerHash: newestHash })
  if (!cert.ok) return fail(cert.code, `certificate of height ${prev.height}: ${cert.reason}`)
  return OK
}
