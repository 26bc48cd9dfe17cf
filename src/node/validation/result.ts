/**
 * Gossip validation outcome, Lodestar-style: every check is either IGNORE (drop, do not forward,
 * no penalty: duplicates, stale or not-yet-useful data) or REJECT (drop and penalize the sender
 * in gossipsub's peer score: malformed data, bad signatures, rule violations).
 */
import type { NodeErrorCode } from '../errors.js'

export type Verdict = 'ACCEPT' | 'IGNORE' | 'REJECT'

export type Validation<T> =
  | { verdict: 'ACCEPT', value: T }
  | { verdict: 'IGNORE' | 'REJECT', code: NodeErrorCode, reason: string }

export const accept = <T>(value: T): Validation<T> => ({ verdict: 'ACCEPT', value })
export const ignore = <T>(code: NodeErrorCode, reason: string): Validation<T> => ({ verdict: 'IGNORE', code, reason })
export const reject = <T>(code: NodeErrorCode, reason: string): Validation<T> => ({ verdict: 'REJECT', code, reason })
