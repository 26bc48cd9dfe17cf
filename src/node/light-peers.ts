/**
 * Which manager a light node asks next: the connected genesis managers, rotated so load spreads,
 * with the ones whose answers recently failed verification asked last.
 */
import type { PeerId } from '@libp2p/interface'
import type { Genesis } from './genesis.js'
import type { PqmedHost } from './libp2p.js'
import type { Logger } from './log.js'

/** The narrow view of manager choice the light node's parts share. */
export interface ManagerChoice {
  /** Connected managers, trusted ones first, rotated so load spreads across them. */
  managers: () => PeerId[]
  /** Avoids `peer` for a while: its answer failed verification. */
  distrust: (peer: PeerId, why: string) => void
}

export const DISTRUST_MS = 60_000

export class ManagerPicker implements ManagerChoice {
  private readonly managerPeers: Set<string>
  /** Managers whose answers failed verification, with the time until which they are avoided. */
  private readonly distrusted = new Map<string, number>()
  private rr = 0

  constructor (private readonly host: Pick<PqmedHost, 'getConnections'>, genesis: Pick<Genesis, 'managers'>, private readonly log: Logger) {
    this.managerPeers = new Set(genesis.managers.map((m) => m.peerId))
  }

  managers (): PeerId[] {
    const seen = new Set<string>()
    const out: PeerId[] = []
    for (const c of this.host.getConnections()) {
      const id = c.remotePeer.toString()
      if (this.managerPeers.has(id) && !seen.has(id)) { seen.add(id); out.push(c.remotePeer) }
    }
    const now = Date.now()
    const k = out.length === 0 ? 0 : (this.rr++ % out.length)
    const rotated = [...out.slice(k), ...out.slice(0, k)]
    return [...rotated.filter((p) => (this.distrusted.get(p.toString()) ?? 0) < now), ...rotated.filter((p) => (this.distrusted.get(p.toString()) ?? 0) >= now)]
  }

  distrust (peer: PeerId, why: string): void {
    this.distrusted.set(peer.toString(), Date.now() + DISTRUST_MS)
    this.log.warn(`manager ${peer.toString()} sent an answer that failed verification (${why}); avoiding it for 60 s`)
  }
}
