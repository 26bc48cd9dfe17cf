/**
 * `/pqmed/<chainId>/query/1`: verified reads, answered from this manager's store with what a
 * user node needs to verify them (stored txs carry their audit paths):
 * `record {recordId}`, `records {recordIds, fields?}`, `search {token, cursor?, limit?}`,
 * `patient {patientId}`, `file {hash}`, `grants {recordId}`,
 * `governance {to}` (the committed doctor and user-node txs up to height `to`, with audit paths),
 * `keyEpochs {since}` (committed key epochs above `since`, stored with audit paths, and the doctors
 * the next epoch must be wrapped to), and `blobs {hashes}` (ciphertexts, between managers for repair).
 *
 * `records` answers up to `MAX_RECORDS_PER_CALL` ids in one request, in the order asked: per id
 * `{stored, blobs}` (blobs: the asked `fields` in that order, null where the record has no such
 * field; every ciphertext without `fields`), `null` (not committed), or `0` (left out of this
 * answer: over `RECORDS_ANSWER_BUDGET` bytes, or a ciphertext not available here now; ask again).
 * `search` answers `{entries, next?}`: at most `limit` entries (default `SEARCH_PAGE_DEFAULT`, at
 * most `SEARCH_PAGE_MAX`) from the token label numbered `cursor`; `next` continues.
 */
import { MAX_FIELD_NUMBER, MAX_RECORDS_PER_CALL, SEARCH_PAGE_DEFAULT, SEARCH_PAGE_MAX } from '../../rpc/openrpc.js'
import { keyEpochsRaw, MAX_KEY_EPOCHS_ANSWER_BYTES } from '../app/key-epochs.js'
import { governanceTxsRaw } from '../app/governance.js'
import type { ChainStore } from '../chain-store.js'
import { NodeError, asNodeError } from '../errors.js'
import { MAX_BLOBS_PER_REQUEST, WireError, bytes, list, obj, uint } from '../messages.js'
import type { RecordsAnswer } from '../hooks.js'
import type { ReqHandler } from '../reqresp.js'

/** Ciphertext bytes one `records` answer carries at most (the frame limit is 16 MiB); the rest are answered 0. */
export const RECORDS_ANSWER_BUDGET = 12 * 1024 * 1024

export interface QuerySource {
  chain: ChainStore
  getRecord: (recordId: Uint8Array, fields?: readonly number[]) => Promise<{ stored: Uint8Array, blobs: Array<Uint8Array | null> } | undefined>
  search: (token: Uint8Array, page: { cursor?: number, limit: number }) => Promise<{ entries: Uint8Array[], next?: number }>
  /** A ciphertext checked against its hash (a corrupt copy is never served). */
  readBlob: (hash: Uint8Array) => Promise<Uint8Array | undefined>
  /** The active doctors a next key epoch must be wrapped to. */
  keyEpochRecipients?: () => Array<{ id: Uint8Array, kemPublicKey: Uint8Array }>
  /** The newest committed key epoch (1: none on chain). */
  keyEpochLatest?: () => number
  /** Fault injection only (`ManagerHooks.serveRecords`): replaces a `records` answer. */
  serveRecords?: (answer: RecordsAnswer) => RecordsAnswer
}

/** The `fields` of a `records` request: distinct field numbers 0..MAX_FIELD_NUMBER, or undefined (all). */
export function recordFields (v: unknown): number[] | undefined {
  if (v === undefined || v === null) return undefined
  const fields = list(v, 'fields', MAX_FIELD_NUMBER + 1, (f) => {
    const n = uint(f, 'field')
    if (n > MAX_FIELD_NUMBER) throw new WireError(`field must be at most ${MAX_FIELD_NUMBER}`)
    return n
  })
  if (new Set(fields).size !== fields.length) throw new WireError('fields repeat')
  return fields
}

export function queryHandler (src: QuerySource): ReqHandler {
  return async (method, params) => {
    const p = obj(params ?? {}, 'params')
    switch (method) {
      case 'record':
        return await src.getRecord(bytes(p.recordId, 'recordId', 32)) ?? null
      case 'records': {
        const ids = list(p.recordIds, 'recordIds', MAX_RECORDS_PER_CALL, (x) => bytes(x, 'recordId', 32))
        const fields = recordFields(p.fields)
        const out: RecordsAnswer = []
        let size = 0
        for (const id of ids) {
          if (size >= RECORDS_ANSWER_BUDGET) { out.push(0); continue }
          let r
          try { r = await src.getRecord(id, fields) } catch (err) {
            if (asNodeError(err).code !== 'BLOB_MISSING') throw err
            out.push(0)
            continue
          }
          if (r === undefined) { out.push(null); continue }
          size += r.stored.length + r.blobs.reduce((s, b) => s + (b?.length ?? 0), 0)
          out.push(r)
        }
        return src.serveRecords?.(out) ?? out
      }
      case 'search': {
        const cursor = p.cursor === undefined ? undefined : uint(p.cursor, 'cursor')
        const limit = p.limit === undefined ? SEARCH_PAGE_DEFAULT : uint(p.limit, 'limit')
        if (limit < 1 || limit > SEARCH_PAGE_MAX) throw new WireError(`limit must be 1..${SEARCH_PAGE_MAX}`)
        return await src.search(bytes(p.token, 'token'), { cursor, limit })
      }
      case 'patient':
        return await src.chain.patientRaw(bytes(p.patientId, 'patientId', 32)) ?? null
      case 'file': {
        const owner = await src.chain.blobOwner(bytes(p.hash, 'hash', 32))
        if (owner === undefined) return null
        return { field: owner.field, stored: await src.chain.recordRaw(owner.recordId) }
      }
      case 'governance':
        return await governanceTxsRaw(src.chain.kv, Math.min(uint(p.to, 'to'), src.chain.head.height))
      case 'grants':
        return await src.chain.grantsRaw(bytes(p.recordId, 'recordId', 32))
      case 'keyEpochs': {
        const since = p.since === undefined ? 1 : uint(p.since, 'since')
        // epochs up to MAX_KEY_EPOCHS_ANSWER_BYTES (at least one): the asker continues from the last
        return { latest: src.keyEpochLatest?.() ?? 1, epochs: await keyEpochsRaw(src.chain.kv, since, MAX_KEY_EPOCHS_ANSWER_BYTES), recipients: (src.keyEpochRecipients?.() ?? []).map((d) => ({ id: d.id, kemPublicKey: d.kemPublicKey })) }
      }
      case 'blobs': {
        const hashes = list(p.hashes, 'hashes', MAX_BLOBS_PER_REQUEST, (h) => bytes(h, 'hash', 32))
        const out: Uint8Array[] = []
        for (const h of hashes) { const b = await src.readBlob(h); if (b !== undefined) out.push(b) }
        return out
      }
      default:
        throw new NodeError('UNKNOWN_METHOD', `query: unknown method ${method}`)
    }
  }
}
