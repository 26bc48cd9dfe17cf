/**
 * Byzantine behaviours for tests and research, composed as `ManagerHooks` (src/node/hooks.ts).
 * Nothing here runs unless a node is started with `NodeConfig.byzantine` (CLI: `--fault-*`).
 *
 * - `equivocate`: when leader, sends conflicting pre-prepares (two different blocks for one
 *   height and view) to the two halves of the managers.
 * - `unchecked-labels`: admits and, when leader, proposes record txs whose index labels are
 *   already committed (as a manager without the label checks would); honest replicas must refuse
 *   such a proposal.
 * - `deaf-tx`: drops every tx gossiped on `/tx/1` (not Byzantine: a replica the gossip missed), so
 *   it must fetch the txs of each compact PRE-PREPARE from the proposer.
 * - `withhold-txs` / `wrong-txs`: answers a replica's `/sync/1 txs` request with no tx bodies, or
 *   with bodies that are not the ones asked for (another tx's bytes, or garbage); replicas that
 *   lack them must not vote for its proposals.
 * - `wrong-records` / `withhold-records` / `extra-records` / `corrupt-records`: answers a user
 *   node's `/query/1 records` request with the found records rotated by one (each id gets another
 *   record), with "not committed" for every found record, with one entry more than asked, or with
 *   a byte of the first ciphertext flipped; the user node must still answer every record right.
 */
import { decodeCompactBlock, encodeCompactBlock, headerHash } from '../blocks/index.js'
import { prePrepareSignBytes, type ConsensusMessage } from '../consensus/index.js'
import type { PqBackend } from '../crypto/index.js'
import type { Genesis } from './genesis.js'
import type { ManagerHooks, RecordsAnswer } from './hooks.js'
import type { Logger } from './log.js'

export type Byzantine = 'equivocate' | 'unchecked-labels' | 'deaf-tx' | 'withhold-txs' | 'wrong-txs' | RecordsFault

/** The faults of `/query/1 records` answers (`--fault-records MODE`). */
export const RECORDS_FAULTS = ['wrong-records', 'withhold-records', 'extra-records', 'corrupt-records'] as const
export type RecordsFault = typeof RECORDS_FAULTS[number]

export interface FaultContext {
  genesis: Genesis
  self: number
  pq: PqBackend
  sigSecretKey: Uint8Array
  log: Logger
}

export function faultHooks (kind: Byzantine, ctx: FaultContext): ManagerHooks {
  ctx.log.warn(`FAULT INJECTION: this manager behaves byzantine (${kind}); tests and research only`)
  if (kind === 'unchecked-labels') return { labelCommitted: () => false }
  if (kind === 'deaf-tx') return { txGossip: () => false }
  if (kind === 'withhold-txs') return { serveTxs: (keys) => keys.map(() => null) }
  if (kind === 'wrong-txs') {
    // each answer is the body of the next tx asked for (a valid tx, the wrong hash), or garbage
    return { serveTxs: (keys, bodies) => bodies.map((_, i) => (bodies.length > 1 ? bodies[(i + 1) % bodies.length] : null) ?? new Uint8Array([0xa0])) }
  }
  if ((RECORDS_FAULTS as readonly string[]).includes(kind)) return { serveRecords: (answer) => badRecords(kind as RecordsFault, answer, ctx.log) }
  return { broadcast: (msg, send) => msg.type === 'pre-prepare' && equivocate(ctx, msg, send) }
}

function badRecords (kind: RecordsFault, answer: RecordsAnswer, log: Logger): RecordsAnswer {
  const found = answer.flatMap((a, i) => a !== null && a !== 0 ? [i] : [])
  log.warn(`byzantine: ${kind} in a records answer (${found.length} of ${answer.length} found)`)
  const out = [...answer]
  if (kind === 'withhold-records') for (const i of found) out[i] = null
  if (kind === 'wrong-records') found.forEach((i, k) => { out[i] = answer[found[(k + 1) % found.length] as number] ?? null })
  if (kind === 'extra-records') out.push(answer[found[0] ?? -1] ?? null)
  if (kind === 'corrupt-records') {
    const first = answer[found[0] ?? -1]
    if (first !== undefined && first !== null && first !== 0) {
      const blobs = first.blobs.map((b, j) => b !== null && j === first.blobs.findIndex((x) => x !== null) ? Uint8Array.from(b, (x, n) => n === 0 ? x ^ 1 : x) : b)
      out[found[0] as number] = { stored: first.stored, blobs }
    }
  }
  return out
}

/** A second, conflicting block for the same (height, view): half the managers get each. */
function equivocate (ctx: FaultContext, msg: Extract<ConsensusMessage, { type: 'pre-prepare' }>, send: (to: number, msg: ConsensusMessage) => void): boolean {
  const block = decodeCompactBlock(msg.value.bytes)
  const header = { ...block.header, time: block.header.time + 1 }
  const altValue = { hash: headerHash(header), bytes: encodeCompactBlock({ header, txHashes: block.txHashes }) }
  const altMsg = { ...msg, value: altValue, sig: ctx.pq.sign(prePrepareSignBytes(ctx.genesis.chainId, msg.height, msg.view, altValue.hash), ctx.sigSecretKey) }
  ctx.log.warn(`byzantine: equivocating at height ${msg.height} view ${msg.view}`)
  for (let i = 0; i < ctx.genesis.managers.length; i++) {
    if (i !== ctx.self) send(i, i % 2 === 0 ? msg : altMsg)
  }
  return true
}
