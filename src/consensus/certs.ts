/**
 * Verification of quorum certificates and of the composite view-change messages. Pure: signatures
 * are checked through the `VerifierPort`, so the same code serves ML-DSA-65 and test signers.
 */
import { voteSignBytes } from '../blocks/vote.js'
import type { CommitCertificate, CommitSignature, VoteKind } from '../blocks/types.js'
import { equalBytes } from '../crypto/index.js'
import { leaderOf, messageSignBytes, prePrepareSignBytes, quorumSize } from './signing.js'
import type { ConsensusMessage, NewViewMsg, PreparedCert, VerifierPort, ViewChangeMsg } from './types.js'

export interface CheckContext {
  chainId: string
  /** Number of managers. */
  n: number
  verifier: VerifierPort
  /** Leader of (height, view); default `leaderOf` (plain rotation). `Pbft` passes its schedule. */
  leader?: (height: number, view: number) => number
}

function leaderIn (ctx: CheckContext, height: number, view: number): number {
  return ctx.leader !== undefined ? ctx.leader(height, view) : leaderOf(height, view, ctx.n)
}

function isIndex (v: unknown, n: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < n
}

/** True iff `msg.from` is a manager and `msg.sig` is its signature over the message's sign bytes. */
export function checkMessageSignature (ctx: CheckContext, msg: ConsensusMessage): boolean {
  if (!isIndex(msg.from, ctx.n)) return false
  return ctx.verifier.verify(msg.from, messageSignBytes(ctx.chainId, msg), msg.sig)
}

/**
 * True iff `sigs` holds valid `kind` votes for (height, view, hash) from at least a quorum of
 * distinct managers. Stops verifying once the quorum is reached; unknown or duplicate validators
 * and bad signatures are skipped, not counted.
 */
export function checkQuorumSignatures (ctx: CheckContext, kind: VoteKind, height: number, view: number, hash: Uint8Array, sigs: CommitSignature[]): boolean {
  if (!Array.isArray(sigs)) return false
  const q = quorumSize(ctx.n)
  const bytes = voteSignBytes(kind, ctx.chainId, height, view, hash)
  const seen = new Set<number>()
  for (const s of sigs) {
    if (seen.size >= q) break
    if (!isIndex(s.validator, ctx.n) || seen.has(s.validator)) continue
    if (ctx.verifier.verify(s.validator, bytes, s.signature)) seen.add(s.validator)
  }
  return seen.size >= q
}

/** A commit certificate for `chainId` (and, if given, this height and header hash) signed by a quorum. */
export function checkCommitCertificate (ctx: CheckContext, cert: CommitCertificate, height?: number, hash?: Uint8Array): boolean {
  if (cert.chainId !== ctx.chainId) return false
  if (!Number.isSafeInteger(cert.height) || cert.height < 1 || !Number.isSafeInteger(cert.view) || cert.view < 0) return false
  if (height !== undefined && cert.height !== height) return false
  if (!(cert.headerHash instanceof Uint8Array) || cert.headerHash.length !== 32) return false
  if (hash !== undefined && !equalBytes(cert.headerHash, hash)) return false
  return checkQuorumSignatures(ctx, 'commit', cert.height, cert.view, cert.headerHash, cert.signatures)
}

/** A prepared certificate at `height`: the leader's pre-prepare signature plus a quorum of prepares. */
export function checkPreparedCert (ctx: CheckContext, height: number, cert: PreparedCert): boolean {
  if (!Number.isSafeInteger(cert.view) || cert.view < 0 || cert.hash.length !== 32) return false
  const leader = leaderIn(ctx, height, cert.view)
  if (!ctx.verifier.verify(leader, prePrepareSignBytes(ctx.chainId, height, cert.view, cert.hash), cert.prePrepareSig)) return false
  return checkQuorumSignatures(ctx, 'prepare', height, cert.view, cert.hash, cert.prepares)
}

/** A VIEW-CHANGE: signed by its sender, and any prepared certificate is valid and from an earlier view. */
export function checkViewChange (ctx: CheckContext, vc: ViewChangeMsg): boolean {
  if (vc.prepared !== null && vc.prepared.view >= vc.view) return false
  if (!checkMessageSignature(ctx, vc)) return false
  return vc.prepared === null || checkPreparedCert(ctx, vc.height, vc.prepared)
}

/** The prepared certificate with the highest view among `vcs`, and the first VIEW-CHANGE carrying it. */
export function highestPrepared (vcs: ViewChangeMsg[]): { cert: PreparedCert, vc: ViewChangeMsg } | null {
  let best: { cert: PreparedCert, vc: ViewChangeMsg } | null = null
  for (const vc of vcs) {
    if (vc.prepared !== null && (best === null || vc.prepared.view > best.cert.view)) best = { cert: vc.prepared, vc }
  }
  return best
}

export type NewViewCheck = { ok: true, required: PreparedCert | null } | { ok: false, reason: string }

/**
 * Full structural and cryptographic check of a NEW-VIEW (the app's validation of the embedded
 * value is the caller's): signed by the leader of its view; a quorum of distinct, valid VIEW-CHANGE
 * messages for the same (height, view); and, if any of them reports a prepared value, a
 * PRE-PREPARE from the leader re-proposing the highest one. Returns that certificate as `required`.
 */
export function checkNewView (ctx: CheckContext, nv: NewViewMsg): NewViewCheck {
  if (nv.from !== leaderIn(ctx, nv.height, nv.view)) return { ok: false, reason: 'not from the leader of its view' }
  if (nv.view < 1) return { ok: false, reason: 'view 0 needs no new-view' }
  if (!Array.isArray(nv.viewChanges) || nv.viewChanges.length > ctx.n) return { ok: false, reason: 'bad view-change list' }
  const senders = new Set<number>()
  for (const vc of nv.viewChanges) {
    if (vc.height !== nv.height || vc.view !== nv.view) return { ok: false, reason: 'view-change for another height or view' }
    if (senders.has(vc.from)) return { ok: false, reason: 'duplicate view-change sender' }
    senders.add(vc.from)
  }
  if (senders.size < quorumSize(ctx.n)) return { ok: false, reason: 'fewer than a quorum of view-changes' }
  const pp = nv.prePrepare
  if (pp !== null && (pp.height !== nv.height || pp.view !== nv.view || pp.from !== nv.from)) return { ok: false, reason: 'pre-prepare for another height, view or sender' }
  if (!checkMessageSignature(ctx, nv)) return { ok: false, reason: 'bad new-view signature' }
  for (const vc of nv.viewChanges) if (!checkViewChange(ctx, vc)) return { ok: false, reason: `invalid view-change from ${vc.from}` }
  const best = highestPrepared(nv.viewChanges)
  if (best !== null && (pp === null || !equalBytes(pp.value.hash, best.cert.hash))) return { ok: false, reason: 'does not re-propose the highest prepared value' }
  if (pp !== null && !checkMessageSignature(ctx, pp)) return { ok: false, reason: 'bad pre-prepare signature' }
  return { ok: true, required: best?.cert ?? null }
}
