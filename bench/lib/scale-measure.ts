/**
 * Measuring one filled `bench:scale` row: disk (per store, and the chain store by key prefix),
 * then a real manager process (`pqmed node --role manager`) on the row's data dir — start to ready
 * and first answer, RSS — a fresh user node process syncing the chain's headers from it, and
 * record queries and 100-result keyword searches both straight to the manager's `/query/1`
 * handler (a libp2p client in this process, with a user identity genesis admits) and through the
 * user node's JSON-RPC (which verifies every answer against its headers).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { ProcNet, freePorts, rpc } from '../../src/cli/procs.js'
import { CONDITIONS } from '../../src/client/synthetic.js'
import { fromHex } from '../../src/crypto/index.js'
import { parseGenesis } from '../../src/node/genesis.js'
import { protocols } from '../../src/node/genesis.js'
import { loadIdentity, readIdentityFile } from '../../src/node/identity.js'
import { Kv } from '../../src/node/kv.js'
import { createHost } from '../../src/node/libp2p.js'
import { MAX_FRAME_BYTES } from '../../src/node/messages.js'
import { ReqResp } from '../../src/node/reqresp.js'
import { CounterState, SseClient, encodeSearchToken, keywordTerm, verifySearchResults, type QueryPlan, type StoredEntry } from '../../src/sse/index.js'
import { managerSpec } from './managers.js'
import type { FillMeta } from './scale-fill.js'
import { summarize, type Summary } from './stats.js'

/** Results per keyword search: a window of this many consecutive updates of one doctor's tree. */
export const SEARCH_RESULTS = 100

export interface DiskFigures {
  /** Bytes of the manager's data dir (apparent file sizes). */
  totalBytes: number
  bytesPerRecord: number
  /** Bytes per top-level entry of the data dir (chain, blobs, …). */
  stores: Record<string, number>
  /** The chain store's logical content by key prefix (key + value bytes, entries), before LevelDB's compression and overhead. */
  chainKeys?: Record<string, { entries: number, bytes: number }>
  chainKeysSeconds?: number
}

export interface ProcFigures {
  /** spawn → the `ready` line, ms. */
  readyMs: number
  /** spawn → the first successful answer (a record read over JSON-RPC), ms. */
  firstAnswerMs: number
  /** VmRSS right after the first answer, MiB. */
  rssMiB: number
}

export interface QueryFigures {
  /** Straight to the manager's /query/1 handler over libp2p (no verification). */
  manager: Summary
  /** JSON-RPC on the user node (it asks the manager and verifies the answer against its headers). */
  user: Summary
}

/** Where a process's resident memory is (/proc/PID/status, and the node's own `/metrics` when it serves them), MiB. */
export interface MemoryParts {
  rss: number
  /** Anonymous memory (V8 heap, native allocations such as LevelDB's block cache and table index blocks). */
  rssAnon: number
  /** File pages mapped into the process (LevelDB reads its table files through mmap): page cache the kernel may drop. */
  rssFile: number
  /** V8 heap in use / reserved, and memory of JS objects held outside it (buffers), from the ops server's /metrics. */
  heapUsed?: number
  heapTotal?: number
  external?: number
}

export interface RowFigures {
  disk: DiskFigures
  manager: ProcFigures & {
    /** VmRSS once the user node has synced every header from it, MiB. */
    rssAfterSyncMiB: number
    /** VmRSS and VmHWM (peak) after every measurement of the row, MiB. */
    rssAfterQueriesMiB: number
    peakRssMiB: number
    /** The same figures split (after start, after the sync, after the queries). */
    memory?: { start: MemoryParts, sync: MemoryParts, queries: MemoryParts }
    height: number
  }
  lightSync: {
    headers: number
    /** user node spawn → ready, ms. */
    readyMs: number
    /** ready → the user node reports the manager's height, ms. */
    syncMs: number
    perHeaderMs: number
  }
  queries: number
  record: QueryFigures
  search: QueryFigures & { keyword: string, results: number, keywordMatches: number }
}

/** Apparent bytes under `path` (files; directories recursed). */
export function dirBytes (path: string): number {
  const st = statSync(path)
  if (!st.isDirectory()) return st.size
  let n = 0
  for (const e of readdirSync(path)) n += dirBytes(join(path, e))
  return n
}

export function rssMiB (pid: number | undefined, field: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile' = 'VmRSS'): number {
  if (pid === undefined) return 0
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Math.round(Number(m[1]) / 1024 * 10) / 10
  } catch { return 0 }
}

const mib = (bytes: number): number => Math.round(bytes / 1048576 * 10) / 10

/** `MemoryParts` of a process; `ops`: its operations server (prom-client's nodejs_* gauges), if any. */
export async function memoryParts (pid: number | undefined, ops: string | null): Promise<MemoryParts> {
  const out: MemoryParts = { rss: rssMiB(pid), rssAnon: rssMiB(pid, 'RssAnon'), rssFile: rssMiB(pid, 'RssFile') }
  if (ops === null) return out
  try {
    const text = await (await fetch(`${ops}/metrics`)).text()
    const gauge = (name: string): number | undefined => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text)
      return m === null ? undefined : mib(Number(m[1]))
    }
    out.heapUsed = gauge('nodejs_heap_size_used_bytes')
    out.heapTotal = gauge('nodejs_heap_size_total_bytes')
    out.external = gauge('nodejs_external_memory_bytes')
  } catch { /* no metrics: /proc figures only */ }
  return out
}

export function diskFigures (dataDir: string, records: number): DiskFigures {
  const stores: Record<string, number> = {}
  for (const e of readdirSync(dataDir)) stores[e] = dirBytes(join(dataDir, e))
  const totalBytes = Object.values(stores).reduce((a, b) => a + b, 0)
  return { totalBytes, bytesPerRecord: records > 0 ? totalBytes / records : 0, stores }
}

/** Key + value bytes of the chain store by key prefix (the part before the first '/'). */
export async function chainKeyBreakdown (chainDir: string): Promise<Record<string, { entries: number, bytes: number }>> {
  const kv = await Kv.open(chainDir)
  const out: Record<string, { entries: number, bytes: number }> = {}
  try {
    for await (const [k, v] of kv.range('', '\uffff')) {
      const p = k.split('/')[0] ?? ''
      const e = out[p] ??= { entries: 0, bytes: 0 }
      e.entries++; e.bytes += k.length + v.length
    }
  } finally { await kv.close() }
  return out
}

/** Count of results in a `/query/1 search` answer (a list of entries, or `{ entries }`). */
function resultCount (res: unknown): number {
  if (Array.isArray(res)) return res.length
  const e = (res as { entries?: unknown } | null)?.entries
  if (Array.isArray(e)) return e.length
  throw new Error(`unexpected search answer: ${typeof res}`)
}

/** Entries of an `sse_search` JSON-RPC answer (a list, or `{ entries }`). */
function rpcEntries (res: unknown): Array<{ label: string, value: string, height: number, position: number }> {
  if (Array.isArray(res)) return res
  const e = (res as { entries?: unknown } | null)?.entries
  if (Array.isArray(e)) return e as Array<{ label: string, value: string, height: number, position: number }>
  throw new Error(`unexpected sse_search answer: ${JSON.stringify(res).slice(0, 200)}`)
}

const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')

/** The search planner: the keyword with the most updates, windows of `SEARCH_RESULTS` updates of one doctor's tree. */
export function searchPlanner (meta: FillMeta, writers: Uint8Array[], rng: () => number): { keyword: string, matches: number, results: number, plan: () => QueryPlan } {
  const counters = CounterState.decode(Buffer.from(meta.counters, 'base64'))
  const key = fromHex(meta.consortiumKey)
  const probe = new SseClient()
  const keywords = [...new Set(CONDITIONS.flatMap((c) => [c.disease, ...c.symptoms]))]
  let best = { keyword: '', matches: -1, trees: [] as Array<{ writer: Uint8Array, id: string, count: number }> }
  for (const kw of keywords) {
    const trees = writers.map((writer) => { const id = probe.tree(key, writer, keywordTerm(kw)).id; return { writer, id, count: counters.get(id) } })
    const matches = trees.reduce((a, t) => a + t.count, 0)
    if (matches > best.matches) best = { keyword: kw, matches, trees }
  }
  const biggest = Math.max(...best.trees.map((t) => t.count))
  const results = Math.min(SEARCH_RESULTS, biggest)
  const usable = best.trees.filter((t) => t.count >= results)
  return {
    keyword: best.keyword,
    matches: best.matches,
    results,
    plan: () => {
      const t = usable[Math.floor(rng() * usable.length)]!
      const start = Math.floor(rng() * (t.count - results + 1))
      const end = new CounterState(); end.raise(t.id, start + results)
      const since = new CounterState(); since.raise(t.id, start)
      return new SseClient({ counters: end }).planSearch([{ indexKey: key, term: keywordTerm(best.keyword) }], [t.writer], { since })
    }
  }
}

export interface MeasureOptions {
  /** The row's directory (genesis.json, identities/, m0/, fill.json). */
  dir: string
  meta: FillMeta
  queries: number
  rng: () => number
  breakdown: boolean
  /** `pqmed node --store-open-files` of the measured manager (default: the node's own default). */
  storeOpenFiles?: number
  progress: (msg: string) => void
}

export async function measureRow (o: MeasureOptions): Promise<RowFigures> {
  const { dir, meta } = o
  const disk = diskFigures(join(dir, 'm0'), meta.records)
  if (o.breakdown) {
    const t = performance.now()
    disk.chainKeys = await chainKeyBreakdown(join(dir, 'm0', 'chain'))
    disk.chainKeysSeconds = (performance.now() - t) / 1000
  }
  const genesis = parseGenesis(readFileSync(join(dir, 'genesis.json'), 'utf8'))
  const writers = await Promise.all(genesis.doctors.map(async (_, i) => (await loadIdentity(await readIdentityFile(join(dir, 'identities', `doctor-${i}.json`)))).keys.id))
  const planner = searchPlanner(meta, writers, o.rng)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(o.rng() * xs.length)] as T
  const net = new ProcNet()
  const userDir = await mkdtemp(join(tmpdir(), 'pqmed-scale-user-'))
  let host: Awaited<ReturnType<typeof createHost>> | undefined
  let rr: ReqResp | undefined
  try {
    // ---- the manager
    const [port] = await freePorts(1)
    o.progress(`starting the manager on ${meta.records} records`)
    const t0 = performance.now()
    const spec0 = managerSpec(dir, 0, port!)
    const m = await net.start({ ...spec0, args: [...spec0.args, '--ops-port', '0', ...(o.storeOpenFiles !== undefined ? ['--store-open-files', String(o.storeOpenFiles)] : [])] }, 600_000)
    const readyMs = performance.now() - t0
    const first = await rpc<{ tx: { recordId: string } }>(m.rpc, 'ehr_getRecord', { recordId: meta.sampleIds[0] })
    const firstAnswerMs = performance.now() - t0
    if (first.tx.recordId !== meta.sampleIds[0]) throw new Error('the manager answered another record')
    const startRss = rssMiB(m.child.pid)
    const startMem = await memoryParts(m.child.pid, m.ops)
    const status = await rpc<{ height: number }>(m.rpc, 'chain_status')
    if (status.height !== meta.blocks) throw new Error(`the manager is at height ${status.height}, the fill committed ${meta.blocks} blocks`)
    o.progress(`manager ready in ${readyMs.toFixed(0)} ms, first answer at ${firstAnswerMs.toFixed(0)} ms, RSS ${startRss} MiB`)
    const managerAddr = `/ip4/127.0.0.1/tcp/${port!}/p2p/${m.peerId}`

    // ---- a fresh user node syncing every header
    const tu = performance.now()
    const u = await net.start({
      name: 'u0',
      args: ['--role', 'user', '--genesis', join(dir, 'genesis.json'), '--data-dir', userDir, '--identity', join(dir, 'identities', 'user-0.json'),
        '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', managerAddr, '--rpc-port', '0', '--loopback', '--quiet']
    }, 120_000)
    const userReadyMs = performance.now() - tu
    const ts = performance.now()
    for (;;) {
      const h = (await rpc<{ height: number }>(u.rpc, 'chain_status')).height
      if (h >= meta.blocks) break
      if (performance.now() - ts > 600_000) throw new Error(`the user node is at height ${h} of ${meta.blocks} after 10 minutes`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    const syncMs = performance.now() - ts
    const syncRss = rssMiB(m.child.pid)
    const syncMem = await memoryParts(m.child.pid, m.ops)
    o.progress(`user node ready in ${userReadyMs.toFixed(0)} ms, synced ${meta.blocks} headers in ${syncMs.toFixed(0)} ms`)

    // ---- a /query/1 client with the second user identity genesis lists
    const uid = await loadIdentity(await readIdentityFile(join(dir, 'identities', 'user-1.json')))
    host = await createHost({ privateKey: uid.peerKey, listen: ['/ip4/127.0.0.1/tcp/0'], loopback: true, maxGossipBytes: 1 << 20 })
    await host.start()
    await host.dial(multiaddr(managerAddr))
    rr = new ReqResp(host, { protocol: protocols(genesis.chainId).query, maxBytes: MAX_FRAME_BYTES, timeoutMs: 60_000 })
    await rr.start()
    const peer = peerIdFromString(m.peerId)
    const client = rr

    const recordManager = async (): Promise<number> => {
      const id = pick(meta.sampleIds)
      const t = performance.now()
      const res = await client.request(peer, 'record', { recordId: fromHex(id) })
      const dt = performance.now() - t
      if (res === null || res === undefined) throw new Error(`the manager does not know record ${id}`)
      return dt
    }
    const recordUser = async (): Promise<number> => {
      const id = pick(meta.sampleIds)
      const t = performance.now()
      const r = await rpc<{ tx: { recordId: string } }>(u.rpc, 'ehr_getRecord', { recordId: id })
      const dt = performance.now() - t
      if (r.tx.recordId !== id) throw new Error('the user node answered another record')
      return dt
    }
    const searchManager = async (): Promise<number> => {
      const token = encodeSearchToken(planner.plan().token)
      const t = performance.now()
      const res = await client.request(peer, 'search', { token })
      const dt = performance.now() - t
      const n = resultCount(res)
      if (n !== planner.results) throw new Error(`search for '${planner.keyword}' through the manager: ${n} results, expected ${planner.results}`)
      return dt
    }
    const searchUser = async (): Promise<number> => {
      const plan = planner.plan()
      const t = performance.now()
      const res = await rpc<unknown>(u.rpc, 'sse_search', { token: b64(encodeSearchToken(plan.token)) })
      const dt = performance.now() - t
      const stored: StoredEntry[] = rpcEntries(res).map((e) => ({ label: fromHex(e.label), value: new Uint8Array(Buffer.from(e.value, 'base64')), position: { height: e.height, index: e.position } }))
      const v = verifySearchResults(plan, stored, () => true) // (inclusion proofs were checked by the user node)
      if (v.locations.length !== planner.results || v.forged.length > 0 || v.omitted.length > 0) {
        throw new Error(`search for '${planner.keyword}' through the user node: ${v.locations.length} results (expected ${planner.results}), ${v.forged.length} forged, ${v.omitted.length} omitted`)
      }
      return dt
    }
    // warm-up (streams, JIT, HTTP keep-alive): not recorded
    for (let i = 0; i < 5; i++) { await recordManager(); await recordUser(); await searchManager(); await searchUser() }
    o.progress(`${o.queries} record queries and ${o.queries} searches for '${planner.keyword}' (${planner.results} results) on each path`)
    const t: Record<'rm' | 'ru' | 'sm' | 'su', number[]> = { rm: [], ru: [], sm: [], su: [] }
    // alternating, so load on the shared machine falls on both paths alike
    for (let i = 0; i < o.queries; i++) { t.rm.push(await recordManager()); t.ru.push(await recordUser()) }
    for (let i = 0; i < o.queries; i++) { t.sm.push(await searchManager()); t.su.push(await searchUser()) }
    const queriesMem = await memoryParts(m.child.pid, m.ops)
    o.progress(`manager memory after the queries: ${JSON.stringify(queriesMem)} (after start ${JSON.stringify(startMem)})`)
    const figures: RowFigures = {
      disk,
      manager: { readyMs, firstAnswerMs, rssMiB: startRss, rssAfterSyncMiB: syncRss, rssAfterQueriesMiB: rssMiB(m.child.pid), peakRssMiB: rssMiB(m.child.pid, 'VmHWM'), memory: { start: startMem, sync: syncMem, queries: queriesMem }, height: status.height },
      lightSync: { headers: meta.blocks, readyMs: userReadyMs, syncMs, perHeaderMs: syncMs / Math.max(1, meta.blocks) },
      queries: o.queries,
      record: { manager: summarize(t.rm), user: summarize(t.ru) },
      search: { keyword: planner.keyword, results: planner.results, keywordMatches: planner.matches, manager: summarize(t.sm), user: summarize(t.su) }
    }
    return figures
  } finally {
    await rr?.stop().catch(() => {})
    try { await host?.stop() } catch { /* stopping anyway */ }
    await net.stopAll()
    await rm(userDir, { recursive: true, force: true })
  }
}

/** A manager of the same network on an empty data dir (manager 1's): the fixed cost of a start. */
export async function measureEmptyStart (dir: string): Promise<ProcFigures> {
  const net = new ProcNet()
  const empty = join(dir, 'm1')
  await rm(empty, { recursive: true, force: true })
  try {
    const [port] = await freePorts(1)
    const t0 = performance.now()
    const m = await net.start(managerSpec(dir, 1, port!), 120_000)
    const readyMs = performance.now() - t0
    await rpc(m.rpc, 'chain_status')
    const firstAnswerMs = performance.now() - t0
    return { readyMs, firstAnswerMs, rssMiB: rssMiB(m.child.pid) }
  } finally {
    await net.stopAll()
    await rm(empty, { recursive: true, force: true })
  }
}

