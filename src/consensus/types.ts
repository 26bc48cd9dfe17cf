/**
 * Types of the PBFT state machine: the opaque value, the signed messages, the events a driver
 * feeds in, the effects it must carry out, the write-ahead-log records, the ports and the config.
 *
 * Managers are referred to by their index `0..n-1` in the genesis manager list. All byte fields
 * are `Uint8Array`; every message and WAL record encodes canonically with dag-cbor (`codec.ts`).
 */
import type { CommitCertificate, CommitSignature } from '../blocks/types.js'
import type { LeaderEntry, ProposalOrigin } from './leaders.js'

/**
 * The value consensus orders. Opaque to consensus: `bytes` is the encoded block, `hash` its header
 * hash (32 bytes). The app port binds the two (see {@link AppPort.validate}).
 */
export interface Value {
  hash: Uint8Array
  bytes: Uint8Array
}

/** The last committed block a node starts from (the genesis header has height 0). */
export interface Head {
  height: number
  hash: Uint8Array
}

// ---------------------------------------------------------------------------------------------
// Messages. Every message names its signer (`from`) and carries `sig`, that signer's signature
// over the message's canonical sign bytes (`signing.ts`). Transport-level senders are irrelevant:
// a relayed message is as good as a direct one.

/** The leader of (height, view) proposes `value`. */
export interface PrePrepareMsg {
  type: 'pre-prepare'
  height: number
  view: number
  from: number
  value: Value
  sig: Uint8Array
}

/** A PREPARE or COMMIT vote; `sig` is over `voteSignBytes(type, chainId, height, view, hash)`. */
export interface VoteMsg {
  type: 'prepare' | 'commit'
  height: number
  view: number
  from: number
  hash: Uint8Array
  sig: Uint8Array
}

/**
 * Proof that `hash` was prepared in `view`: the leader's pre-prepare signature and a quorum of
 * prepare signatures, all for (height, view, hash).
 */
export interface PreparedCert {
  view: number
  hash: Uint8Array
  prePrepareSig: Uint8Array
  prepares: CommitSignature[]
}

/**
 * The sender moves to `view` (> the view it leaves) and reports its highest prepared certificate
 * at `height`. `value` carries the prepared value's bytes (unsigned: they are bound to the hash by
 * the app's validation) and is stripped when the message is embedded in a NEW-VIEW.
 */
export interface ViewChangeMsg {
  type: 'view-change'
  height: number
  view: number
  from: number
  prepared: PreparedCert | null
  value: Uint8Array | null
  sig: Uint8Array
}

/**
 * The leader of `view` starts it: a quorum of VIEW-CHANGE messages for `view`, and, if any of them
 * reports a prepared value, the PRE-PREPARE re-proposing the highest one. Without a prepared value
 * `prePrepare` may be null (the leader proposes later, when it has records) or a fresh proposal.
 */
export interface NewViewMsg {
  type: 'new-view'
  height: number
  view: number
  from: number
  viewChanges: ViewChangeMsg[]
  prePrepare: PrePrepareMsg | null
  sig: Uint8Array
}

/** An idle leader's liveness signal; `seq` (the leader's clock) must strictly increase. */
export interface HeartbeatMsg {
  type: 'heartbeat'
  height: number
  view: number
  from: number
  seq: number
  sig: Uint8Array
}

export type ConsensusMessage = PrePrepareMsg | VoteMsg | ViewChangeMsg | NewViewMsg | HeartbeatMsg
export type MessageType = ConsensusMessage['type']

// ---------------------------------------------------------------------------------------------
// Write-ahead log.

/**
 * What a node records before it signs. Only records of the height being decided matter on restore;
 * the driver may drop records of heights ≤ the last committed one.
 */
export type WalRecord =
  | { kind: 'view', height: number, view: number } // moved to `view` (sent VIEW-CHANGE or accepted NEW-VIEW)
  | { kind: 'new-view', height: number, view: number, hash: Uint8Array | null } // signed NEW-VIEW (as leader)
  | { kind: 'pre-prepare', height: number, view: number, value: Value } // signed PRE-PREPARE (as leader)
  | { kind: 'prepare', height: number, view: number, hash: Uint8Array } // signed PREPARE
  | { kind: 'commit', height: number, view: number, hash: Uint8Array, prepared: PreparedCert, bytes: Uint8Array } // signed COMMIT
  /**
   * The leader blacklist as of height `at` (written when it changes, before the commit of `at − 1`).
   * `height` is the last height its entries matter for, so the driver's usual clean-up (drop records
   * of heights ≤ the last committed one) keeps it while it is needed; on restore the record with the
   * highest `at` ≤ the height being decided wins.
   */
  | { kind: 'leaders', height: number, at: number, entries: LeaderEntry[] }

// ---------------------------------------------------------------------------------------------
// Events (driver → state machine). Every event carries the driver's clock `now` (ms).

export type ConsensusEvent =
  /** Replays the write-ahead log; only before `start`. */
  | { type: 'restored', now: number, records: WalRecord[] }
  | { type: 'start', now: number }
  /** Clock advance; call it at (or after) every `schedule-tick` time, and as often as you like. */
  | { type: 'tick', now: number }
  /** A consensus message from the network (already decoded, e.g. with `decodeMessage`). */
  | { type: 'message', now: number, msg: ConsensusMessage }
  /** Answer to `build-proposal`; `value: null` when the mempool had nothing to propose. */
  | { type: 'proposal-built', now: number, height: number, view: number, value: Value | null }
  /** Number of records waiting in the mempool (send it whenever it changes). */
  | { type: 'mempool', now: number, size: number }
  /** A committed block fetched by the driver after a `sync` effect (feed them in height order). */
  | { type: 'sync-block', now: number, value: Value, certificate: CommitCertificate }

// ---------------------------------------------------------------------------------------------
// Effects (state machine → driver), to be executed in order.

/** Two signed messages of one sender that conflict for one (type, height, view). */
export interface EquivocationEvidence {
  validator: number
  a: PrePrepareMsg | VoteMsg
  b: PrePrepareMsg | VoteMsg
}

export type ConsensusEffect =
  /** Make `record` durable (fsync) BEFORE executing any later effect of the same step. */
  | { type: 'wal-append', record: WalRecord }
  | { type: 'broadcast', msg: ConsensusMessage }
  | { type: 'send', to: number, msg: ConsensusMessage }
  /** Ask the app for a block at (height, view) of at most `maxRecords` records; answer with `proposal-built`. */
  | { type: 'build-proposal', height: number, view: number, maxRecords: number }
  /** `value` is final at `height`; persist block + certificate durably before executing later effects. */
  | { type: 'commit', height: number, value: Value, certificate: CommitCertificate }
  /** The node is behind: fetch committed blocks from `fromHeight` on (from `peers` first) and feed `sync-block`. */
  | { type: 'sync', fromHeight: number, peers: number[] }
  /** Call `tick` at `at` (ms) at the latest. */
  | { type: 'schedule-tick', at: number }
  /** A manager signed two conflicting messages; for logging or reporting. */
  | { type: 'evidence', evidence: EquivocationEvidence }

// ---------------------------------------------------------------------------------------------
// Ports: synchronous, side-effect free from the state machine's point of view.

export interface SignerPort {
  /** This manager's signature over `bytes`. */
  sign: (bytes: Uint8Array) => Uint8Array
}

export interface VerifierPort {
  /** True iff `sig` is manager `validator`'s signature over `bytes`. Must not throw. */
  verify: (validator: number, bytes: Uint8Array, sig: Uint8Array) => boolean
}

/**
 * `origin`: who proposed the block and in which view, as the block itself says (for pqmed's blocks
 * the header's `proposer` and `view`). Optional, but an app that reports it gives every honest
 * manager the same leader schedule (see `LeaderSchedule`); without it each manager uses the view
 * its own commit certificate has, which can differ between managers.
 *
 * `reconfig`: the block changes the manager set (pqmed: it carries a `ManagerTx`). Deciding it at
 * height c ends this instance's epoch at c + `configDelay` − 1 (see `ConsensusConfig.lastHeight`).
 */
export type ValidateResult = { ok: true, origin?: ProposalOrigin, reconfig?: boolean } | { ok: false, reason: string }

export interface AppPort {
  /**
   * Whether `value` may be committed at `height` on top of the block whose header hash is
   * `parentHash`. For soundness the app MUST check that `value.hash` is the header hash of
   * `value.bytes`, that the header's height is `height` and its prevHash is `parentHash`, and that
   * the content is valid. Must be deterministic: honest managers with the same chain must agree.
   */
  validate: (height: number, value: Value, parentHash: Uint8Array) => ValidateResult
}

export interface ConsensusPorts {
  signer: SignerPort
  verifier: VerifierPort
  app: AppPort
}

/** Timing and batching parameters (ms). See `DEFAULT_TIMING`. */
export interface ConsensusTiming {
  /** Minimum spacing between proposals; a leader proposes as soon as its mempool is non-empty and this has elapsed. */
  blockInterval: number
  /** Most records the app puts in one block. */
  maxBlockRecords: number
  /** An idle leader broadcasts a heartbeat this often. */
  heartbeatInterval: number
  /** Base progress timeout before a view change; doubles with each successive view at one height. Must exceed blockInterval + heartbeatInterval. */
  viewChangeTimeout: number
  /** Cap on the doublings of `viewChangeTimeout`. */
  maxTimeoutDoublings: number
  /** A node stuck in one (height, view) re-broadcasts its own messages this often. */
  retransmitInterval: number
  /** How long a node that saw a higher height waits for the normal path before asking for `sync`, and between sync requests. */
  syncDelay: number
  /**
   * Heights (not ms) a manager that failed to propose stays out of view-0 leadership after its first
   * failure; doubles with each further failure (see `LeaderSchedule`). 0: plain rotation (height + view) mod n.
   */
  leaderBlacklistHeights: number
}

export interface ConsensusConfig {
  chainId: string
  /** Number of managers n (≥ 1; 3f+1 for f Byzantine faults). */
  managers: number
  /** This node's manager index. */
  self: number
  /** Last committed block (from storage; genesis: height 0 and the genesis header hash). */
  head: Head
  timing?: Partial<ConsensusTiming>
  /**
   * The last height this manager set decides (an epoch ends before a change of the manager set
   * takes effect); after deciding it the instance is `done` and does nothing more: the driver
   * creates the next epoch's instance with the new set. Absent: none known yet (Infinity).
   */
  lastHeight?: number
  /**
   * Heights between deciding a block whose validation reported `reconfig` (height c) and the first
   * height of the next manager set: the epoch then ends at c + configDelay − 1. Default 2, at least 2.
   */
  configDelay?: number
  /**
   * First height of this manager set's epoch (default 1): WAL `leaders` records with `at` ≤ it were
   * written under the previous set (other indices) and are ignored on restore.
   */
  epochStart?: number
}
