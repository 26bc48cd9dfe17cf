/** A manager's view of the other managers on libp2p: who is connected, gossip publishing, direct consensus messages. */
import type { PeerId } from '@libp2p/interface'
import { encodeMessage, type ConsensusMessage } from '../consensus/index.js'
import { fromHex } from '../crypto/index.js'
import type { Genesis } from './genesis.js'
import type { PqmedHost } from './libp2p.js'
import type { Logger } from './log.js'
import type { ReqResp } from './reqresp.js'

export class ManagerNet {
  private readonly host: PqmedHost
  private readonly log: Logger
  private readonly peers: () => string[]
  /** The sync protocol's client, which also carries direct consensus messages (set once the services exist). */
  syncService: ReqResp | undefined

  /**
   * `peers()`: the peer id of each manager, by index, in the manager set of the height being decided
   * (the genesis managers until a change of the manager set takes effect).
   */
  constructor (host: PqmedHost, genesis: Genesis, log: Logger, peers?: () => string[]) {
    this.host = host
    this.log = log
    const genesisPeers = genesis.managers.map((m) => m.peerId)
    this.peers = peers ?? (() => genesisPeers)
  }

  /** Peer id of each manager, by index (current manager set). */
  get managerPeers (): string[] { return this.peers() }

  publish (topic: string, data: Uint8Array): void {
    this.host.services.pubsub.publish(topic, data).catch((err: Error) => { this.log.warn(`publish on ${topic} failed: ${err.message}`) })
  }

  /** A consensus message to one manager, over `/sync/1 consensus` (best effort: dropped if not connected). */
  send (to: number, msg: ConsensusMessage): void {
    const peer = this.host.getConnections().find((c) => c.remotePeer.toString() === this.managerPeers[to])?.remotePeer
    if (peer === undefined || this.syncService === undefined) return
    this.syncService.request(peer, 'consensus', encodeMessage(msg), 5000).catch(() => {})
  }

  /**
   * Asks manager `to` for the txs with these hashes (hex) over `/sync/1 txs`: each answer is the
   * tx's bytes or null. Throws if `to` is not connected or does not answer in time.
   */
  async fetchTxs (to: number, keys: string[], timeoutMs = 5000): Promise<Array<Uint8Array | null>> {
    const peer = this.host.getConnections().find((c) => c.remotePeer.toString() === this.managerPeers[to])?.remotePeer
    if (peer === undefined || this.syncService === undefined) throw new Error(`manager ${to} is not connected`)
    const res = await this.syncService.request(peer, 'txs', { hashes: keys.map(fromHex) }, timeoutMs)
    if (!Array.isArray(res) || res.length !== keys.length) throw new Error('the answer is not one entry per hash asked for')
    return res.map((b) => b instanceof Uint8Array ? b : null)
  }

  /** The other managers (current set) this node is connected to, each once. */
  otherManagers (): PeerId[] {
    const out: PeerId[] = []
    for (const c of this.host.getConnections()) {
      const id = c.remotePeer.toString()
      if (id !== this.host.peerId.toString() && this.managerPeers.includes(id) && !out.some((p) => p.toString() === id)) out.push(c.remotePeer)
    }
    return out
  }
}
