/**
 * `/readyz`: is this node fit to serve?
 *
 * - A manager: at least 2f other genesis managers answered its `status` request within the last
 *   `FRESH_MS` (it polls every connected one every `POLL_MS`; a manager that is connected but does
 *   not answer, e.g. stopped or partitioned, does not count), and its head is within
 *   `MAX_HEIGHT_LAG` of the best height they report.
 * - A user node: connected to at least one manager, a manager reported its height within the last
 *   `USER_FRESH_MS` (the header sync asks every 5 s), and the verified headers are within
 *   `MAX_HEIGHT_LAG` of the best reported height.
 */
import type { PeerId } from '@libp2p/interface'
import type { Genesis } from '../genesis.js'
import { protocols } from '../genesis.js'
import type { PqmedHost } from '../libp2p.js'
import { obj, uint } from '../messages.js'
import { ReqResp } from '../reqresp.js'
import type { ReqRespMetrics } from './node-metrics.js'

export const MAX_HEIGHT_LAG = 3
export const POLL_MS = 2000
export const FRESH_MS = 6000
export const USER_FRESH_MS = 15_000

export interface ReadyState {
  ready: boolean
  reason?: string
  role: 'manager' | 'user'
  height: number
  /** The best height the managers report (undefined: none reported recently). */
  bestHeight?: number
  /** Managers that answered recently (manager) / connected managers (user node). */
  managers: number
  /** Managers needed (manager: 2f of the others; user node: 1). */
  needed: number
}

/** f of a PBFT group of n managers. */
export const faultTolerance = (n: number): number => Math.floor((n - 1) / 3)

export interface ReadinessOptions {
  role: 'manager' | 'user'
  host: PqmedHost
  genesis: Genesis
  height: () => number
  /** User nodes: the heights managers reported within `maxAgeMs`. */
  announcements?: (maxAgeMs: number) => Array<{ peer: string, height: number }>
  metrics?: ReqRespMetrics
}

export class Readiness {
  private readonly opts: ReadinessOptions
  private readonly managerIds: Set<string>
  private readonly heard = new Map<string, { height: number, at: number }>()
  private readonly status: ReqResp | undefined
  private timer: NodeJS.Timeout | undefined
  private readonly polling = new Set<string>()

  constructor (opts: ReadinessOptions) {
    this.opts = opts
    const self = opts.host.peerId.toString()
    this.managerIds = new Set(opts.genesis.managers.map((m) => m.peerId).filter((p) => p !== self))
    if (opts.role === 'manager') {
      this.status = new ReqResp(opts.host, { protocol: protocols(opts.genesis.chainId).status, maxBytes: 64 * 1024, timeoutMs: POLL_MS, metrics: opts.metrics })
    }
  }

  async start (): Promise<void> {
    if (this.status === undefined) return
    await this.status.start()
    this.poll()
    this.timer = setInterval(() => { this.poll() }, POLL_MS)
  }

  async stop (): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer)
    await this.status?.stop()
  }

  private connectedManagers (): PeerId[] {
    const out = new Map<string, PeerId>()
    for (const c of this.opts.host.getConnections()) {
      const id = c.remotePeer.toString()
      if (this.managerIds.has(id)) out.set(id, c.remotePeer)
    }
    return [...out.values()]
  }

  private poll (): void {
    const status = this.status
    if (status === undefined) return
    for (const peer of this.connectedManagers()) {
      const id = peer.toString()
      if (this.polling.has(id)) continue // the previous request has not ended (a peer that does not answer)
      this.polling.add(id)
      status.request(peer, 'status', null).then(
        (st) => { this.heard.set(id, { height: uint(obj(st, 'status').height, 'height'), at: Date.now() }) },
        () => {}
      ).finally(() => { this.polling.delete(id) })
    }
  }

  check (): ReadyState {
    const height = this.opts.height()
    const role = this.opts.role
    if (role === 'manager') {
      const now = Date.now()
      const others = this.managerIds.size
      const needed = 2 * faultTolerance(others + 1)
      const fresh = [...this.heard.values()].filter((h) => now - h.at <= FRESH_MS)
      const best = Math.max(height, ...fresh.map((h) => h.height))
      const base = { role, height, managers: fresh.length, needed, ...(fresh.length > 0 ? { bestHeight: best } : {}) }
      if (fresh.length < needed) {
        return { ...base, ready: false, reason: `${fresh.length} of the ${others} other managers answered in the last ${FRESH_MS / 1000} s (${this.connectedManagers().length} connected); ${needed} (2f) needed` }
      }
      if (best - height > MAX_HEIGHT_LAG) return { ...base, ready: false, reason: `at height ${height}, ${best - height} behind the best height ${best} the managers report (at most ${MAX_HEIGHT_LAG})` }
      return { ...base, ready: true }
    }
    const connected = this.connectedManagers().length
    const ann = this.opts.announcements?.(USER_FRESH_MS) ?? []
    const base = { role, height, managers: connected, needed: 1 }
    if (connected < 1) return { ...base, ready: false, reason: 'not connected to any manager' }
    if (ann.length === 0) return { ...base, ready: false, reason: `no manager reported its height in the last ${USER_FRESH_MS / 1000} s` }
    const best = Math.max(height, ...ann.map((a) => a.height))
    if (best - height > MAX_HEIGHT_LAG) return { ...base, bestHeight: best, ready: false, reason: `headers verified to height ${height}, ${best - height} behind the best height ${best} the managers report (at most ${MAX_HEIGHT_LAG})` }
    return { ...base, bestHeight: best, ready: true }
  }
}
