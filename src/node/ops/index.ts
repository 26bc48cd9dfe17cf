/**
 * Operations of a running node: Prometheus metrics, health and readiness over HTTP
 * (`pqmed node --ops-port`). `PromNodeMetrics` is created before the node (its components report
 * to it through the `NodeMetrics` interface); `startOps` binds it to the running node and opens
 * the HTTP server.
 *
 * @example
 * ```ts
 * const metrics = new PromNodeMetrics({ role: 'manager', node: 'manager-0' })
 * const node = await startNode({ ...cfg, metrics, metricsRegistry: metrics.registry })
 * const ops = await startOps({ node, metrics, genesis, dataDir, host: '127.0.0.1', port: 9100 })
 * // curl http://127.0.0.1:9100/metrics
 * ```
 */
import type { Genesis } from '../genesis.js'
import type { RunningNode } from '../node.js'
import { PromNodeMetrics, type OpsSource } from './prom.js'
import { Readiness } from './ready.js'
import { startOpsServer, type OpsServer } from './server.js'

export { noopMetrics, type NodeMetrics, type ReqRespMetrics, type GossipVerdictLabel, type CommittedBlock } from './node-metrics.js'
export { PromNodeMetrics, type OpsSource } from './prom.js'
export { Readiness, MAX_HEIGHT_LAG, type ReadyState } from './ready.js'
export { startOpsServer, type OpsServer } from './server.js'

export interface OpsOptions {
  node: RunningNode
  metrics: PromNodeMetrics
  genesis: Genesis
  dataDir: string
  host: string
  port: number
}

export interface RunningOps {
  readonly url: string
  readonly readiness: Readiness
  close: () => Promise<void>
}

/** The scrape-time view of a running node (height, view, mempool, peers, records, light lag). */
export function opsSource (node: RunningNode, genesis: Genesis, dataDir: string, metrics: PromNodeMetrics): OpsSource {
  const managerIds = new Set(genesis.managers.map((m) => m.peerId))
  const userIds = new Set(genesis.userNodes ?? [])
  // a permissioned node admits only genesis managers and user nodes: any other peer is a user node
  const othersAreUsers = node.allowList !== undefined
  const peers = (): { manager: number, user: number, unknown: number } => {
    const seen = new Set<string>()
    const out = { manager: 0, user: 0, unknown: 0 }
    for (const c of node.host.getConnections()) {
      const id = c.remotePeer.toString()
      if (seen.has(id)) continue
      seen.add(id)
      if (managerIds.has(id)) out.manager++
      else if (userIds.has(id) || othersAreUsers) out.user++
      else out.unknown++
    }
    return out
  }
  const m = node.manager
  if (m !== undefined) {
    return {
      dataDir,
      peers,
      height: () => m.chain.head.height,
      view: () => m.status().view,
      mempool: () => ({ size: m.status().mempool, bytes: m.mempoolBytes }),
      records: () => m.recordCount
    }
  }
  const light = node.light
  if (light === undefined) throw new Error('a running node is a manager or a user node')
  let counted = 0
  let records = 0
  return {
    dataDir,
    peers,
    height: () => light.height,
    records: async () => {
      // records named by the verified headers, counted once per header
      while (counted < light.height) {
        const h = await light.header(counted + 1)
        if (h === undefined) break
        records += h.recordIds.length
        counted++
      }
      return records
    },
    lightLag: async () => {
      const ann = metrics.announcements(Number.POSITIVE_INFINITY)
      if (ann.length === 0) return undefined
      const head = await light.header(light.height)
      const best = Math.max(...ann.map((a) => a.height))
      return { seconds: head === undefined ? 0 : Math.max(0, (Date.now() - head.time) / 1000), heights: Math.max(0, best - light.height) }
    }
  }
}

/** Binds `metrics` to the running node and serves /metrics, /healthz and /readyz. */
export async function startOps (opts: OpsOptions): Promise<RunningOps> {
  const { node, metrics, genesis } = opts
  opts.metrics.attach(opsSource(node, genesis, opts.dataDir, metrics))
  const readiness = new Readiness({
    role: node.role,
    host: node.host,
    genesis,
    height: () => node.manager?.chain.head.height ?? node.light?.height ?? 0,
    announcements: (age) => metrics.announcements(age),
    metrics
  })
  await readiness.start()
  let server: OpsServer
  try {
    server = await startOpsServer({
      host: opts.host,
      port: opts.port,
      metrics: async () => ({ contentType: metrics.contentType, body: await metrics.text() }),
      ready: () => readiness.check()
    })
  } catch (err) {
    await readiness.stop()
    throw err
  }
  return {
    url: server.url,
    readiness,
    close: async () => { await server.close(); await readiness.stop() }
  }
}
