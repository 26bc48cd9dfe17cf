/**
 * Canonical sign bytes of every consensus message and the quorum arithmetic. Every payload is a
 * dag-cbor array that starts with a versioned domain tag and the chain id, so a signature can
 * never be replayed on another chain, message type, height or view. Votes use
 * `voteSignBytes` from `src/blocks/vote.ts`, so commit votes form a `CommitCertificate` directly.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { quorumSize } from '../blocks/certificate.js'
import { voteSignBytes } from '../blocks/vote.js'
import type { ConsensusMessage, PreparedCert } from './types.js'

/** Votes needed for a quorum: floor(2n/3)+1 (2f+1 when n = 3f+1); the same function as src/blocks'. */
export { quorumSize }

/** Most Byzantine managers tolerated: n - quorum (f when n = 3f+1). */
export function maxFaulty (n: number): number {
  return n - quorumSize(n)
}

/** Leader of (height, view): (height + view) mod n. */
export function leaderOf (height: number, view: number, n: number): number {
  return (height + view) % n
}

/**
 * Managers that gossip the certified header of a block committed at (height, view): its leader
 * and the next f managers. f + 1 publishers means at least one honest one whichever f managers
 * are faulty; not all n, because every copy costs every user node a receive and a decode (a
 * light node's cost is per header, and there may be thousands of them).
 */
export function headerPublishers (height: number, view: number, n: number): number[] {
  const l = leaderOf(height, view, n)
  return Array.from({ length: maxFaulty(n) + 1 }, (_, k) => (l + k) % n)
}

export function prePrepareSignBytes (chainId: string, height: number, view: number, hash: Uint8Array): Uint8Array {
  return dagCbor.encode(['pqmed/pre-prepare/1', chainId, height, view, hash])
}

export function viewChangeSignBytes (chainId: string, height: number, view: number, prepared: PreparedCert | null): Uint8Array {
  return dagCbor.encode(['pqmed/view-change/1', chainId, height, view, prepared === null ? null : [prepared.view, prepared.hash]])
}

export function newViewSignBytes (chainId: string, height: number, view: number, viewChangeSenders: number[], prePrepareHash: Uint8Array | null): Uint8Array {
  return dagCbor.encode(['pqmed/new-view/1', chainId, height, view, viewChangeSenders, prePrepareHash])
}

export function heartbeatSignBytes (chainId: string, height: number, view: number, seq: number): Uint8Array {
  return dagCbor.encode(['pqmed/heartbeat/1', chainId, height, view, seq])
}

/** The bytes `msg.sig` must sign, for any message type. */
export function messageSignBytes (chainId: string, msg: ConsensusMessage): Uint8Array {
  switch (msg.type) {
    case 'pre-prepare': return prePrepareSignBytes(chainId, msg.height, msg.view, msg.value.hash)
    case 'prepare':
    case 'commit': return voteSignBytes(msg.type, chainId, msg.height, msg.view, msg.hash)
    case 'view-change': return viewChangeSignBytes(chainId, msg.height, msg.view, msg.prepared)
    case 'new-view': return newViewSignBytes(chainId, msg.height, msg.view, msg.viewChanges.map((vc) => vc.from), msg.prePrepare?.value.hash ?? null)
    case 'heartbeat': return heartbeatSignBytes(chainId, msg.height, msg.view, msg.seq)
  }
}
