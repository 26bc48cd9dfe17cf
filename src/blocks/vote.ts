import * as dagCbor from '@ipld/dag-cbor'
import type { VoteKind } from './types.js'

/**
 * The bytes a manager signs for a PBFT vote. Domain-separated by a version tag and the vote kind,
 * bound to the chain id, so a vote can never be replayed on another chain, phase, height or view.
 * A commit certificate is a set of `commit` signatures over these bytes.
 */
export function voteSignBytes (kind: VoteKind, chainId: string, height: number, view: number, headerHash: Uint8Array): Uint8Array {
  return dagCbor.encode(['pqmed/vote/1', kind, chainId, height, view, headerHash])
}
