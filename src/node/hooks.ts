/**
 * Hook points of a manager for fault injection. Production composes none; `src/node/faults.ts`
 * builds the Byzantine behaviours the tests use (`NodeConfig.byzantine`). Each hook replaces one
 * decision of an honest manager and nothing else.
 */
import type { ConsensusMessage } from '../consensus/index.js'

export interface ManagerHooks {
  /**
   * Called for each consensus message this manager broadcasts. Returns true if the hook sent it
   * itself (with `send`, to single managers); false lets the manager publish it as usual.
   */
  broadcast?: (msg: ConsensusMessage, send: (to: number, msg: ConsensusMessage) => void) => boolean
  /**
   * Whether an index label that is committed counts as committed when this manager admits a tx,
   * builds a block or validates a proposal (false: it behaves as a manager without the label
   * checks). The start replay and the commit itself always check.
   */
  labelCommitted?: (label: Uint8Array) => boolean
  /** Whether this manager processes a tx gossiped on `/tx/1` (false: it behaves as if it never got it). */
  txGossip?: () => boolean
  /** Replaces the tx bodies this manager answers to a replica's `/sync/1 txs` request. */
  serveTxs?: (keys: string[], bodies: Array<Uint8Array | null>) => Array<Uint8Array | null>
  /** Replaces this manager's answer to a `/query/1 records` request (`handlers/query.ts`). */
  serveRecords?: (answer: RecordsAnswer) => RecordsAnswer
}

/** A `/query/1 records` answer: per asked id, the record with its ciphertexts, null (not committed) or 0 (not in this answer). */
export type RecordsAnswer = Array<{ stored: Uint8Array, blobs: Array<Uint8Array | null> } | null | 0>
