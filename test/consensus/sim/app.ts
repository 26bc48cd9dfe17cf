/**
 * The simulation's application: a toy block format (height, parent hash, proposer, view, tx ids,
 * salt) hashed with SHA-256, and the validation an honest manager applies before preparing.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { equalBytes, sha256, utf8 } from '../../../src/crypto/index.js'
import type { ValidateResult, Value } from '../../../src/consensus/index.js'

export const GENESIS_HASH = sha256(utf8('pqmed-sim-genesis'))

export interface SimBlock {
  height: number
  prevHash: Uint8Array
  proposer: number
  view: number
  txs: number[]
  salt: number
  /** A change of the manager set (a `ManagerTx`, unchecked here), in reconfiguration runs. */
  mtx?: unknown
}

export function makeValue (b: SimBlock): Value {
  const fields: unknown[] = ['pqmed-sim-block', b.height, b.prevHash, b.proposer, b.view, b.txs, b.salt]
  if (b.mtx !== undefined) fields.push(b.mtx)
  const bytes = dagCbor.encode(fields)
  return { hash: sha256(bytes), bytes }
}

export function parseValue (bytes: Uint8Array): SimBlock | null {
  try {
    const x = dagCbor.decode(bytes) as unknown
    if (!Array.isArray(x) || (x.length !== 7 && x.length !== 8) || x[0] !== 'pqmed-sim-block') return null
    const [, height, prevHash, proposer, view, txs, salt, mtx] = x as [string, unknown, unknown, unknown, unknown, unknown, unknown, unknown]
    if (typeof height !== 'number' || !(prevHash instanceof Uint8Array) || typeof proposer !== 'number' || typeof view !== 'number' ||
      !Array.isArray(txs) || !txs.every((t) => Number.isSafeInteger(t)) || typeof salt !== 'number') return null
    return { height, prevHash, proposer, view, txs: txs as number[], salt, ...(x.length === 8 ? { mtx } : {}) }
  } catch {
    return null
  }
}

/**
 * Honest validation: the hash binds the bytes, the block extends `parentHash` at `height`, and it
 * holds 1..maxRecords distinct, existing (`< injected`), not-yet-committed transactions. Reports
 * the block's proposer and view as its origin (what pqmed's node reports from the block header).
 */
export function validateSimValue (
  height: number, value: Value, parentHash: Uint8Array,
  ctx: { injected: () => number, committed: ReadonlySet<number>, maxRecords: number }
): ValidateResult {
  if (!equalBytes(sha256(value.bytes), value.hash)) return { ok: false, reason: 'hash does not match bytes' }
  const b = parseValue(value.bytes)
  if (b === null) return { ok: false, reason: 'undecodable block' }
  if (b.height !== height) return { ok: false, reason: 'wrong height' }
  if (!equalBytes(b.prevHash, parentHash)) return { ok: false, reason: 'does not extend the chain' }
  if (b.txs.length < 1 || b.txs.length > ctx.maxRecords) return { ok: false, reason: 'bad tx count' }
  const seen = new Set<number>()
  const injected = ctx.injected()
  for (const t of b.txs) {
    if (t < 0 || t >= injected || seen.has(t) || ctx.committed.has(t)) return { ok: false, reason: `bad tx ${t}` }
    seen.add(t)
  }
  return { ok: true, origin: { proposer: b.proposer, view: b.view } }
}
