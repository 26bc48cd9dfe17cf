/**
 * `/pqmed/<chainId>/query/1`: verified reads, answered from this manager's store with what a
 * user node needs to verify them (stored txs carry their audit paths):
 * `record {recordId}`, `search {token}`, `patient {patientId}`, `file {hash}`, `grants {recordId}`,
 * `governance {to}` (the committed doctor and user-node txs up to height `to`, with audit paths),
 * `keyEpochs {since}` (committed key epochs above `since`, stored with audit paths, and the doctors
 * the next epoch must be wrapped to), and `blobs {hashes}` (ciphertexts, between managers for repair).
 */
import { keyEpochsRaw } from '../app/key-epochs.js'
import type { ChainStore } from '../chain-store.js'
import { NodeError } from '../errors.js'
import { governanceTxsRaw } from '../app/governance.js'
import { MAX_BLOBS_PER_REQUEST, bytes, list, obj, uint } from '../messages.js'
import type { ReqHandler } from '../reqresp.js'

export interface QuerySource {
  chain: ChainStore
  getRecord: (recordId: Uint8Array) => Promise<{ stored: Uint8Array, blobs: Uint8Array[] } | undefined>
  search: (token: Uint8Array) => Promise<Uint8Array[]>
  /** A ciphertext checked against its hash (a corrupt copy is never served). */
  readBlob: (hash: Uint8Array) => Promise<Uint8Array | undefined>
  /** The active doctors a next key epoch must be wrapped to. */
  keyEpochRecipients?: () => Array<{ id: Uint8Array, kemPublicKey: Uint8Array }>
  /** The newest committed key epoch (1: none on chain). */
  keyEpochLatest?: () => number
}

export function queryHandler (src: QuerySource): ReqHandler {
  return async (method, params) => {
    const p = obj(params ?? {}, 'params')
    switch (method) {
      case 'record':
        return await src.getRecord(bytes(p.recordId, 'recordId', 32)) ?? null
      case 'search':
        return await src.search(bytes(p.token, 'token'))
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
        return { latest: src.keyEpochLatest?.() ?? 1, epochs: await keyEpochsRaw(src.chain.kv, since), recipients: (src.keyEpochRecipients?.() ?? []).map((d) => ({ id: d.id, kemPublicKey: d.kemPublicKey })) }
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
