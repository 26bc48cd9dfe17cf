/**
 * `/pqmed/<chainId>/sync/1`:
 * - `headers {from, to}` → up to 1,000 encoded headers and the certificate of the last one;
 * - `blocks {from, count}` → up to 8 `{block, cert}` (encoded, as stored; fewer when they exceed
 *   MAX_BLOCKS_ANSWER_BYTES, at least one), the asker continues from the last;
 * - `consensus <message bytes>` → a consensus message sent directly by another manager (PBFT's
 *   `send`: a NEW-VIEW handed to a manager that lags a view behind), validated and fed like a
 *   gossiped one;
 * - `txs {hashes}` → for each tx hash (SHA-256 of the encoded tx), the tx's bytes if this manager
 *   holds it (pending, in a block it proposed or validated, or committed), else null: a replica
 *   that lacks some txs of a compact PRE-PREPARE fetches them from the proposer before voting.
 *
 * - `config {hash}` → the encoded consortium configuration with this hash (src/blocks/consortium.ts),
 *   or null: a light client learns the manager set a header announces and checks the hash.
 *
 * `consensus` and `txs` are answered to other managers only.
 */
import type { PeerId } from '@libp2p/interface'
import type { ChainStore } from '../chain-store.js'
import { NodeError } from '../errors.js'
import { MAX_BLOCK_TXS } from '../../blocks/index.js'
import { toHex } from '../../crypto/index.js'
import { MAX_BLOCKS_ANSWER_BYTES, MAX_BLOCKS_PER_REQUEST, MAX_HEADERS_PER_REQUEST, bytes, list, obj, uint } from '../messages.js'
import type { ReqHandler } from '../reqresp.js'

/**
 * `isManager(peer)`: whether a peer is another genesis manager. Only managers send consensus
 * messages directly; an admitted user node could otherwise make a manager verify an ML-DSA
 * signature per request, outside gossip's peer scoring.
 */
export function syncHandler (chain: ChainStore, onConsensus: (data: Uint8Array) => void, isManager: (peer: PeerId) => boolean, txBytes: (keys: string[]) => Promise<Array<Uint8Array | null>> = async (keys) => keys.map(() => null), config: (hash: Uint8Array) => Uint8Array | undefined = () => undefined): ReqHandler {
  return async (method, params, from) => {
    if (method === 'txs') {
      if (!isManager(from)) throw new NodeError('FORBIDDEN', 'only managers fetch tx bodies')
      const p = obj(params, 'params')
      return await txBytes(list(p.hashes, 'hashes', MAX_BLOCK_TXS, (h, i) => toHex(bytes(h, `hashes[${i}]`, 32))))
    }
    if (method === 'consensus') {
      if (!isManager(from)) throw new NodeError('FORBIDDEN', 'only managers send consensus messages directly')
      // (the params are the message bytes, not a map: checked before `obj`, which refuses bytes)
      onConsensus(bytes(params, 'message'))
      return null
    }
    const p = obj(params ?? {}, 'params')
    if (method === 'headers') {
      const from = uint(p.from, 'from')
      const to = Math.min(uint(p.to, 'to'), chain.head.height, from + MAX_HEADERS_PER_REQUEST - 1)
      if (to < from) return { headers: [], cert: null }
      return { headers: await chain.headerBytes(from, to), cert: await chain.certBytes(to) ?? null }
    }
    if (method === 'config') {
      // a consortium configuration by its hash (light clients learn a manager change from a header's nextConfigHash)
      return config(bytes(p.hash, 'hash', 32)) ?? null
    }
    if (method === 'blocks') {
      const from = uint(p.from, 'from')
      const count = Math.min(uint(p.count, 'count'), MAX_BLOCKS_PER_REQUEST)
      const out = []
      let size = 0
      for (let h = from; h < from + count && h <= chain.head.height; h++) {
        const block = await chain.blockBytes(h)
        const cert = await chain.certBytes(h)
        if (block === undefined || cert === undefined) break
        // blocks of up to 4 MiB (a key epoch alone is up to 2 MiB): fewer per answer, so it fits one frame
        if (out.length > 0 && size + block.length + cert.length > MAX_BLOCKS_ANSWER_BYTES) break
        size += block.length + cert.length
        out.push({ block, cert })
      }
      return out
    }
    throw new NodeError('UNKNOWN_METHOD', `sync: unknown method ${method}`)
  }
}
