/**
 * The one verdict wrapper between validators and gossipsub: a topic validator returns a
 * `Validation` (or throws), and this maps it to libp2p's ACCEPT / IGNORE / REJECT. A validator
 * that throws is a bug in this node, not the sender's fault: IGNORE, and logged.
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Logger } from '../log.js'
import type { Validation, Verdict } from './result.js'

export function gossipResult (v: Verdict): TopicValidatorResult {
  return v === 'ACCEPT' ? TopicValidatorResult.Accept : v === 'IGNORE' ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
}

/** A gossipsub topic validator from a validator of the message bytes. */
export function topicValidator (topic: string, log: Logger, validate: (data: Uint8Array) => Validation<unknown> | Promise<Validation<unknown>>): (peer: unknown, msg: { data: Uint8Array }) => Promise<TopicValidatorResult> {
  return async (_peer, msg) => {
    try {
      return gossipResult((await validate(msg.data)).verdict)
    } catch (err) {
      log.warn(`validator of ${topic} failed: ${(err as Error).message}`)
      return TopicValidatorResult.Ignore
    }
  }
}
