/**
 * `/pqmed/<chainId>/status/1 status`: the manager's index and head (user nodes pick a sync target
 * from it), its PBFT view and the time of its newest header (`chain_consortium` shows them).
 */
import type { ChainStore } from '../chain-store.js'
import type { ReqHandler } from '../reqresp.js'

export function statusHandler (chain: ChainStore, self: () => number, view: () => number): ReqHandler {
  return async () => ({ role: 'manager', self: self(), height: chain.head.height, hash: chain.head.hash, view: view(), time: chain.head.header.time })
}
