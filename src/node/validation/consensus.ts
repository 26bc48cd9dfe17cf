/**
 * Validation of a message on `/pqmed/<chainId>/consensus/1` (and of one sent directly over
 * `/sync/1 consensus`).
 *
 * | check | verdict |
 * |---|---|
 * | bytes decode as a consensus message within the size limits | REJECT `MALFORMED` |
 * | the sender is a manager (an index below the largest set) | REJECT `MALFORMED` |
 * | the sender is a manager of the set certifying the message's height | IGNORE `STALE` |
 * | the height is not below this manager's head | IGNORE `STALE` |
 * | the sender's ML-DSA signature holds | REJECT `BAD_SIGNATURE` |
 *
 * The cheap checks come first: a vote that arrives after its height is decided (the last of
 * 2f+2 commits, say) is dropped without an ML-DSA verification.
 *
 * The signature is checked here, once: the verifier given is the driver's `VerifyOnce`, so PBFT's
 * own check of the accepted message is answered from memory. What PBFT checks beyond it (votes
 * for the current height and view, certificates inside VIEW-CHANGE / NEW-VIEW) stays in PBFT.
 */
import { MAX_BLOCK_BYTES } from '../../blocks/index.js'
import { decodeMessage, messageSignBytes, type ConsensusMessage, type VerifierPort } from '../../consensus/index.js'
import { accept, ignore, reject, type Validation } from './result.js'

export interface ConsensusContext {
  chainId: string
  /** Number of managers (an upper bound on any manager set when `managersAt` is given). */
  managers: number
  verifier: VerifierPort
  /** The manager count and verifier of the manager set certifying a height (a message is checked against its height's set). */
  managersAt?: (height: number) => number
  verifierAt?: (height: number) => VerifierPort
  /** This manager's committed height. */
  head: () => number
}

export function validateConsensusMessage (data: Uint8Array, ctx: ConsensusContext): Validation<ConsensusMessage> {
  let msg: ConsensusMessage
  try { msg = decodeMessage(data, { maxManagers: ctx.managers, maxValueBytes: MAX_BLOCK_BYTES, maxMessageBytes: 2 * MAX_BLOCK_BYTES }) } catch (err) {
    return reject('MALFORMED', `undecodable consensus message: ${(err as Error).message}`)
  }
  if (msg.from < 0 || msg.from >= ctx.managers) return reject('MALFORMED', `sender ${msg.from} is not a manager`)
  if (msg.height < ctx.head()) return ignore('STALE', `height ${msg.height} is below the head ${ctx.head()}`)
  // a message is signed by a manager of its height's set (a removed manager's votes no longer count)
  if (ctx.managersAt !== undefined && msg.from >= ctx.managersAt(msg.height)) return ignore('STALE', `sender ${msg.from} is not a manager at height ${msg.height}`)
  const verifier = ctx.verifierAt?.(msg.height) ?? ctx.verifier
  if (!verifier.verify(msg.from, messageSignBytes(ctx.chainId, msg), msg.sig)) {
    // beyond the next height this node may not know the signing set yet (a change it has not committed): no penalty
    if (ctx.verifierAt !== undefined && msg.height > ctx.head() + 1) return ignore('STALE', `height ${msg.height}: signature of manager ${msg.from} does not verify under the manager set this node knows`)
    return reject('BAD_SIGNATURE', `signature of manager ${msg.from} does not verify`)
  }
  return accept(msg)
}
