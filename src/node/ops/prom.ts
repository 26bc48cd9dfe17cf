/**
 * The Prometheus implementation of `NodeMetrics` (prom-client, one Registry per node): the metric
 * names of README "Metrics". Counters and histograms are fed by the components' hook calls;
 * gauges of state (height, view, mempool, peers, stores, light-node lag) are read from the running
 * node when Prometheus scrapes (`attach`).
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Logger } from '../log.js'
import { Mempool } from '../mempool.js'
import type { CommittedBlock, GossipVerdictLabel, NodeMetrics } from './node-metrics.js'

/** What the scrape-time gauges read from the running node. */
export interface OpsSource {
  height: () => number
  /** Managers: the current PBFT view (at the next height), mempool, committed records. */
  view?: () => number
  mempool?: () => { size: number, bytes: number }
  /** Committed records known to the node. */
  records: () => number | Promise<number>
  /** User nodes: the header lag, undefined until a manager's height is known. */
  lightLag?: () => Promise<{ seconds: number, heights: number } | undefined>
  peers: () => { manager: number, user: number, unknown: number }
  /** The node's data dir: each entry directly under it is a store (`chain`, `blobs`, `headers` ...). */
  dataDir: string
}

const SECONDS_FAST = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const SECONDS_SLOW = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120]
/** Admission times kept for commit latency (a tx never committed is forgotten beyond this many). */
const MAX_TRACKED = 50_000
/** Distinct `method` label values per protocol (methods come from remote peers: bounded). */
const MAX_METHODS = 32

/** Bytes under `path` (files, recursively). */
async function du (path: string): Promise<number> {
  const s = await stat(path).catch(() => undefined)
  if (s === undefined) return 0
  if (!s.isDirectory()) return s.size
  let n = 0
  for (const e of await readdir(path).catch(() => [])) n += await du(join(path, e))
  return n
}

export class PromNodeMetrics implements NodeMetrics {
  readonly registry = new Registry()
  private readonly log: Logger | undefined
  private source: OpsSource | undefined
  private readonly admitted = new Map<string, number>()
  private lastCommit: { height: number, time: number } | undefined
  private readonly methods = new Map<string, Set<string>>()
  private storeCache: { at: number, sizes: Array<[string, number]> } | undefined

  private readonly viewChanges: Counter
  private readonly rounds: Gauge
  private readonly blockInterval: Histogram
  private readonly commitLatency: Histogram
  private readonly blockTxs: Histogram
  private readonly txs: Counter<'kind'>
  private readonly gossip: Counter<'topic' | 'verdict'>
  private readonly reqs: Counter<'protocol' | 'method' | 'outcome' | 'direction'>
  private readonly reqTime: Histogram<'protocol' | 'method' | 'direction'>
  private readonly rpcs: Counter<'method' | 'code'>
  private readonly rpcTime: Histogram<'method'>

  constructor (opts: { role: 'manager' | 'user', node: string, log?: Logger, defaultMetrics?: boolean }) {
    this.log = opts.log
    const r = this.registry
    r.setDefaultLabels({ role: opts.role, node: opts.node })
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: r })
    const registers = [r]
    const src = (): OpsSource | undefined => this.source
    new Gauge({ name: 'pqmed_consensus_height', help: 'Last committed height (a user node: its newest verified header)', registers, collect () { const s = src(); if (s !== undefined) this.set(s.height()) } })
    if (opts.role === 'manager') {
      new Gauge({ name: 'pqmed_consensus_view', help: 'Current PBFT view at the next height', registers, collect () { const v = src()?.view?.(); if (v !== undefined) this.set(v) } })
      new Gauge({ name: 'pqmed_mempool_size', help: 'Txs in the mempool', registers, collect () { const m = src()?.mempool?.(); if (m !== undefined) this.set(m.size) } })
      new Gauge({ name: 'pqmed_mempool_bytes', help: 'Bytes of the txs in the mempool', registers, collect () { const m = src()?.mempool?.(); if (m !== undefined) this.set(m.bytes) } })
    }
    this.viewChanges = new Counter({ name: 'pqmed_consensus_view_changes_total', help: 'View changes completed (counted at commit: a block certified in view v needed v view changes)', registers })
    this.rounds = new Gauge({ name: 'pqmed_consensus_rounds', help: 'Views needed to commit the last height (1 = no view change)', registers })
    this.blockInterval = new Histogram({ name: 'pqmed_consensus_block_interval_seconds', help: 'Time between consecutive committed blocks (their proposers\' timestamps)', buckets: SECONDS_SLOW, registers })
    this.commitLatency = new Histogram({ name: 'pqmed_consensus_commit_latency_seconds', help: 'Tx admitted to this manager\'s mempool -> its block committed', buckets: SECONDS_SLOW, registers })
    this.blockTxs = new Histogram({ name: 'pqmed_consensus_block_txs', help: 'Txs per committed block', buckets: [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], registers })
    this.txs = new Counter({ name: 'pqmed_consensus_txs_total', help: 'Committed txs by kind', labelNames: ['kind'], registers })
    this.gossip = new Counter({ name: 'pqmed_gossip_validation_total', help: 'Gossip validator results by topic', labelNames: ['topic', 'verdict'], registers })
    this.reqs = new Counter({ name: 'pqmed_reqresp_requests_total', help: 'Request/response calls (direction in: served, out: sent)', labelNames: ['protocol', 'method', 'outcome', 'direction'], registers })
    this.reqTime = new Histogram({ name: 'pqmed_reqresp_request_duration_seconds', help: 'Request/response call duration', labelNames: ['protocol', 'method', 'direction'], buckets: SECONDS_FAST, registers })
    this.rpcs = new Counter({ name: 'pqmed_rpc_requests_total', help: 'JSON-RPC requests by method and code (0 = ok, else the JSON-RPC error code)', labelNames: ['method', 'code'], registers })
    this.rpcTime = new Histogram({ name: 'pqmed_rpc_request_duration_seconds', help: 'JSON-RPC request duration', labelNames: ['method'], buckets: SECONDS_FAST, registers })
    if (opts.role === 'user') {
      new Gauge({ name: 'pqmed_light_header_lag_seconds', help: 'Now - timestamp of the newest verified header', registers, async collect () { const l = await src()?.lightLag?.(); if (l !== undefined) this.set(l.seconds) } })
      new Gauge({ name: 'pqmed_light_header_lag_heights', help: 'Best height announced by managers - verified height', registers, async collect () { const l = await src()?.lightLag?.(); if (l !== undefined) this.set(l.heights) } })
    }
    const storeSizes = async (): Promise<Array<[string, number]>> => await this.storeSizes()
    new Gauge({ name: 'pqmed_store_bytes', help: 'On-disk bytes per store (entries of the data dir)', labelNames: ['store'], registers, async collect () { this.reset(); for (const [k, v] of await storeSizes()) this.set({ store: k }, v) } })
    new Gauge({ name: 'pqmed_store_records', help: 'Committed records known to the node', registers, async collect () { const s = src(); if (s !== undefined) this.set(await s.records()) } })
    new Gauge({
      name: 'pqmed_peers',
      help: 'Connected peers by role',
      labelNames: ['peer_role'],
      registers,
      collect () {
        const p = src()?.peers()
        if (p === undefined) return
        for (const [k, v] of Object.entries(p)) this.set({ peer_role: k }, v)
      }
    })
  }

  /** Binds the scrape-time gauges to the running node. */
  attach (source: OpsSource): void { this.source = source }

  /** The Prometheus text exposition of every metric. */
  async text (): Promise<string> { return await this.registry.metrics() }
  get contentType (): string { return this.registry.contentType }

  private async storeSizes (): Promise<Array<[string, number]>> {
    const dir = this.source?.dataDir
    if (dir === undefined) return []
    // a walk of the data dir at most every 10 s (a scrape every 15 s is usual)
    if (this.storeCache !== undefined && Date.now() - this.storeCache.at < 10_000) return this.storeCache.sizes
    const entries = await readdir(dir).catch(() => [])
    const sizes: Array<[string, number]> = []
    for (const e of entries) sizes.push([e, await du(join(dir, e))])
    this.storeCache = { at: Date.now(), sizes }
    return sizes
  }

  // ------------------------------------------------------------------------------------------
  // hooks

  txAdmitted (txBytes: Uint8Array): void {
    if (this.admitted.size >= MAX_TRACKED) {
      const first = this.admitted.keys().next().value
      if (first !== undefined) this.admitted.delete(first)
    }
    this.admitted.set(Mempool.key(txBytes), performance.now())
  }

  blockCommitted (block: CommittedBlock, certView: number, keys: readonly string[], dropped: readonly string[]): void {
    const now = performance.now()
    const h = block.header
    this.rounds.set(certView + 1)
    if (certView > 0) this.viewChanges.inc(certView)
    if (this.lastCommit !== undefined && this.lastCommit.height === h.height - 1) this.blockInterval.observe(Math.max(0, h.time - this.lastCommit.time) / 1000)
    this.lastCommit = { height: h.height, time: h.time }
    this.blockTxs.observe(block.txs.length)
    for (const tx of block.txs) this.txs.inc({ kind: tx.type })
    for (const k of keys) {
      const at = this.admitted.get(k)
      if (at === undefined) continue
      this.commitLatency.observe((now - at) / 1000)
      this.admitted.delete(k)
    }
    for (const k of dropped) this.admitted.delete(k)
    this.log?.debug?.('block committed', { height: h.height, view: certView, txs: block.txs.length, proposer: (h as { proposer?: number }).proposer })
  }

  gossipVerdict (topic: string, verdict: GossipVerdictLabel): void {
    this.gossip.inc({ topic, verdict })
    if (verdict === 'reject') this.log?.debug?.('gossip message rejected', { topic })
  }

  reqresp (protocol: string, method: string, direction: 'in' | 'out', outcome: string, seconds: number, peer: string): void {
    const m = this.methodLabel(protocol, method)
    const o = /^[A-Za-z0-9_]{1,40}$/.test(outcome) ? outcome : 'other'
    this.reqs.inc({ protocol, method: m, outcome: o, direction })
    this.reqTime.observe({ protocol, method: m, direction }, seconds)
    this.log?.debug?.('reqresp', { protocol, method: m, direction, outcome: o, ms: Math.round(seconds * 1000 * 100) / 100, peer })
  }

  /** JSON-RPC requests (the `observe` option of the RPC server). */
  rpc (method: string, code: number, seconds: number): void {
    this.rpcs.inc({ method, code: String(code) })
    this.rpcTime.observe({ method }, seconds)
    this.log?.debug?.('rpc request', { method, code, ms: Math.round(seconds * 1000 * 100) / 100 })
  }

  private readonly announced = new Map<string, { height: number, at: number }>()

  heightAnnounced (height: number, peer: string): void {
    this.announced.set(peer, { height, at: Date.now() })
  }

  /** Heights the managers reported within `maxAgeMs` (user nodes), by peer. */
  announcements (maxAgeMs: number): Array<{ peer: string, height: number }> {
    const now = Date.now()
    return [...this.announced].filter(([, a]) => now - a.at <= maxAgeMs).map(([peer, a]) => ({ peer, height: a.height }))
  }

  private methodLabel (protocol: string, method: string): string {
    if (!/^[A-Za-z0-9_.-]{1,40}$/.test(method)) return 'other'
    let seen = this.methods.get(protocol)
    if (seen === undefined) { seen = new Set(); this.methods.set(protocol, seen) }
    if (seen.has(method)) return method
    if (seen.size >= MAX_METHODS) return 'other'
    seen.add(method)
    return method
  }
}
