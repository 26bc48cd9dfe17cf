/**
 * The block-sync client of a manager that is behind (restarted, partitioned): on a `sync` effect it
 * fetches certified blocks over `/sync/1 blocks` from the managers PBFT names first, then the
 * others, and feeds each as a `sync-block` event; the state machine verifies each certificate
 * before adopting the block.
 */
import { decodeBlock, decodeCertificate, headerHash } from '../blocks/index.js'
import type { ConsensusEvent } from '../consensus/index.js'
import type { ChainStore } from './chain-store.js'
import type { ManagerNet } from './manager-net.js'
import { MAX_BLOCKS_PER_REQUEST, bytes, obj } from './messages.js'
import type { ReqResp } from './reqresp.js'

export interface BlockSyncOptions {
  chain: ChainStore
  net: ManagerNet
  /** The sync protocol's client. */
  sync: () => ReqResp | undefined
  feed: (e: ConsensusEvent) => void
  /** Resolves when every fed event is processed. */
  drained: () => Promise<void>
}

export class BlockSync {
  private readonly o: BlockSyncOptions
  private running = false

  constructor (opts: BlockSyncOptions) { this.o = opts }

  /** Fetches blocks from `fromHeight` on; a second call while one runs does nothing. */
  async run (fromHeight: number, peers: number[]): Promise<void> {
    if (this.running) return
    this.running = true
    try {
      const { chain, net } = this.o
      const order = [...peers.map((i) => net.managerPeers[i]), ...net.managerPeers]
      const conns = net.otherManagers()
      let from = Math.max(fromHeight, chain.head.height + 1)
      for (const id of new Set(order)) {
        const peer = conns.find((p) => p.toString() === id)
        if (peer === undefined) continue
        for (;;) {
          let res: unknown
          try { res = await this.o.sync()?.request(peer, 'blocks', { from, count: MAX_BLOCKS_PER_REQUEST }) } catch { break }
          const items = Array.isArray(res) ? res : []
          if (items.length === 0) break
          for (const it of items) {
            const o = obj(it, 'block item')
            const blockBytes = bytes(o.block, 'block')
            const cert = decodeCertificate(bytes(o.cert, 'cert'))
            const block = decodeBlock(blockBytes)
            this.o.feed({ type: 'sync-block', now: Date.now(), value: { hash: headerHash(block.header), bytes: blockBytes }, certificate: cert })
            from = block.header.height + 1
          }
          await this.o.drained()
          if (chain.head.height < from - 1) break // not adopted: try another peer
        }
      }
    } finally {
      this.running = false
    }
  }
}
