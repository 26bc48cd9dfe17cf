/**
 * Validation of a message on `/pqmed/<chainId>/consensus/1` (and of one sent directly over
 * `/sync/1 consensus`).
 *
 * | check | verdict |
 * |---|---|
 * | bytes decode as a consensus message within the size limits | REJECT `MALFORMED` |
 * | the sender is a genesis manager | REJECT `MALFORMED` |
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
  managers: number
  verifier: VerifierPort
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
  if (!ctx.verifier.verify(msg.from, messageSignBytes(ctx.chainId, msg), msg.sig)) return reject('BAD_SIGNATURE', `signature of manager ${msg.from} does not verify`)
  return accept(msg)
}
