/**
 * Gossip validation verdicts, observed from outside the validators: every validator registered
 * in gossipsub's `topicValidators` (the manager's tx and consensus validators, the user node's
 * header validator) is wrapped so that its result is counted per topic. A validator that throws
 * counts as `ignore` (what gossipsub does with it) and the error goes on to gossipsub unchanged.
 */
import { TopicValidatorResult, type TopicValidatorFn } from '@libp2p/gossipsub'
import type { GossipVerdictLabel, NodeMetrics } from './node-metrics.js'

const LABEL: Record<TopicValidatorResult, GossipVerdictLabel> = {
  [TopicValidatorResult.Accept]: 'accept',
  [TopicValidatorResult.Ignore]: 'ignore',
  [TopicValidatorResult.Reject]: 'reject'
}

/** Wraps the validators set in `validators` from now on (call before the node's roles start). */
export function observeTopicValidators (validators: Map<string, TopicValidatorFn>, metrics: Pick<NodeMetrics, 'gossipVerdict'>): void {
  const set = validators.set.bind(validators)
  validators.set = (topic: string, fn: TopicValidatorFn) => set(topic, async (peer, msg) => {
    let r: TopicValidatorResult
    try { r = await fn(peer, msg) } catch (err) { metrics.gossipVerdict(topic, 'ignore'); throw err }
    metrics.gossipVerdict(topic, LABEL[r])
    return r
  })
}
