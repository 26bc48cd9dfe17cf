/**
 * A Table 4 worker process: runs many light user nodes in-process (`startNode({ role: 'user' })`
 * on loopback with an in-memory header store), each with its own JSON-RPC server, and answers the
 * parent over IPC. It also watches every node's header height every `WATCH_MS` and records, per
 * height, the wall-clock time (`Date.now()`) at which each node first reached it — the parent
 * compares these with the commit times it saw to get header propagation.
 *
 * Messages from the parent: `{ cmd: 'start', genesisPath, count, rootDir, concurrency }`,
 * `{ cmd: 'status' }`, `{ cmd: 'arrivals' }`, `{ cmd: 'watch', on }` (start or stop the height
 * poll), `{ cmd: 'profile-start' }`, `{ cmd: 'profile-stop', rawOut }` (a V8 CPU profile of the
 * worker between the two), `{ cmd: 'stop' }`. Replies carry the
 * same `cmd`.
 */
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { loadPqBackend } from '../../src/crypto/index.js'
import { parseGenesis } from '../../src/node/genesis.js'
import { createRpcBackend } from '../../src/node/rpc-backend.js'
import { startNode, type RunningNode } from '../../src/node/node.js'
import { createRpcServer, type RpcServer } from '../../src/rpc/index.js'
import { NODE_CATEGORIES, WindowProfiler, type ProfileBreakdown } from '../lib/inproc-profile.js'

export type WorkerRequest =
  | { cmd: 'start', genesisPath: string, count: number, rootDir: string, concurrency: number }
  | { cmd: 'status' }
  | { cmd: 'arrivals' }
  | { cmd: 'profile-start' }
  | { cmd: 'profile-stop', rawOut: string }
  | { cmd: 'watch', on: boolean }
  | { cmd: 'stop' }

export type WorkerReply =
  | { cmd: 'start', urls: string[], ms: number }
  | { cmd: 'status', heights: number[], managerConns: number[], rss: number, elu: { idle: number, active: number } }
  | { cmd: 'arrivals', arrivals: Array<Record<number, number>> }
  | { cmd: 'profile-start' }
  | { cmd: 'profile-stop', profile: ProfileBreakdown }
  | { cmd: 'watch', on: boolean }
  | { cmd: 'stop' }
  | { cmd: 'error', message: string }

const WATCH_MS = 5

interface UserNode { node: RunningNode, rpc: RpcServer, seen: number, arrivals: Record<number, number> }

const nodes: UserNode[] = []
let watcher: NodeJS.Timeout | undefined
let rootDir: string | undefined
let profiler: WindowProfiler | undefined

function send (m: WorkerReply): void { if (process.connected) process.send?.(m) }

function watch (): void {
  const now = Date.now()
  for (const u of nodes) {
    const h = u.node.light?.height ?? 0
    while (u.seen < h) { u.seen++; u.arrivals[u.seen] = now }
  }
}

async function start (genesisPath: string, count: number, dir: string, concurrency: number): Promise<string[]> {
  rootDir = dir
  const genesis = parseGenesis(await readFile(genesisPath, 'utf8'))
  const pq = await loadPqBackend()
  const managerIds = new Set(genesis.managers.map((m) => m.peerId))
  let next = 0
  const urls: string[] = new Array<string>(count)
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    for (;;) {
      const i = next++
      if (i >= count) return
      const node = await startNode({ role: 'user', genesis, dataDir: join(dir, `u${i}`), listen: ['/ip4/127.0.0.1/tcp/0'], loopback: true, headerStore: 'memory' })
      const rpc = await createRpcServer(createRpcBackend({ node, genesis, pq }), { host: '127.0.0.1', port: 0, rateLimit: false })
      const u: UserNode = { node, rpc, seen: 0, arrivals: {} }
      nodes.push(u)
      urls[i] = rpc.url
      // wait until it is connected to every manager, so the network is really up when we report it
      for (let t = 0; t < 400; t++) {
        const conns = new Set(node.host.getConnections().map((c) => c.remotePeer.toString()).filter((p) => managerIds.has(p)))
        if (conns.size >= managerIds.size) break
        await new Promise((r) => setTimeout(r, 50))
      }
    }
  }))
  watcher = setInterval(watch, WATCH_MS)
  return urls
}

async function stop (): Promise<void> {
  if (watcher !== undefined) clearInterval(watcher)
  await Promise.all(nodes.map(async (u) => {
    await u.rpc.close().catch(() => {})
    await u.node.stop().catch(() => {})
  }))
  nodes.length = 0
  if (rootDir !== undefined) await rm(rootDir, { recursive: true, force: true })
}

process.on('message', (raw) => {
  const m = raw as WorkerRequest
  void (async () => {
    try {
      if (m.cmd === 'start') {
        const t0 = performance.now()
        const urls = await start(m.genesisPath, m.count, m.rootDir, m.concurrency)
        send({ cmd: 'start', urls, ms: performance.now() - t0 })
      } else if (m.cmd === 'status') {
        watch()
        const managers = new Set<string>()
        const first = nodes[0]?.node.light?.genesis.managers ?? []
        for (const mg of first) managers.add(mg.peerId)
        send({
          cmd: 'status',
          heights: nodes.map((u) => u.node.light?.height ?? 0),
          managerConns: nodes.map((u) => new Set(u.node.host.getConnections().map((c) => c.remotePeer.toString()).filter((p) => managers.has(p))).size),
          rss: process.memoryUsage().rss,
          // cumulative event-loop idle and active time (ms): the parent takes differences
          elu: (({ idle, active }) => ({ idle, active }))(performance.eventLoopUtilization())
        })
      } else if (m.cmd === 'arrivals') {
        watch()
        send({ cmd: 'arrivals', arrivals: nodes.map((u) => u.arrivals) })
      } else if (m.cmd === 'profile-start') {
        profiler = new WindowProfiler()
        await profiler.start()
        send({ cmd: 'profile-start' })
      } else if (m.cmd === 'profile-stop') {
        if (profiler === undefined) throw new Error('no profile running')
        const profile = await profiler.stop(NODE_CATEGORIES, 30, m.rawOut)
        profiler = undefined
        send({ cmd: 'profile-stop', profile })
      } else if (m.cmd === 'watch') {
        // the 5 ms poll of every node's height costs the worker's event loop (7 % of it at 248
        // nodes): it runs only while header arrivals are being measured
        watch()
        if (watcher !== undefined) clearInterval(watcher)
        watcher = m.on ? setInterval(watch, WATCH_MS) : undefined
        send({ cmd: 'watch', on: m.on })
      } else if (m.cmd === 'stop') {
        await stop()
        send({ cmd: 'stop' })
        setTimeout(() => process.exit(0), 50)
      }
    } catch (err) {
      send({ cmd: 'error', message: (err as Error).stack ?? String(err) })
    }
  })()
})
process.on('disconnect', () => { void stop().finally(() => process.exit(0)) })
