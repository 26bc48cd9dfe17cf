/**
 * `npm run bench:table4 -- --attach DIR`: the Table 4 queries against a network that is already
 * running — `npm run sim:local`, `npm start`, or the Docker Compose network — instead of one the
 * benchmark starts itself. DIR holds the network's `genesis.json` and `identities/doctor-0.json`
 * (a doctor registered in that genesis, whose key signs the benchmark's records); the user nodes'
 * JSON-RPC endpoints come from `--users URL,...` or, for `sim:local` and `npm start` data dirs,
 * from `DIR/network.json`.
 *
 * One row: `--records` synthetic records are submitted through the user nodes (`wait: true`),
 * every user node is awaited at the new head, then `--queries` record and symptom queries run
 * from random user nodes exactly as in the self-contained benchmark (bench/table4/queries.ts),
 * then half as many while a second writer submits more records. Header propagation is sampled by
 * polling every user node's `chain_status` every 100 ms (coarser than the self-contained run's
 * in-process 5 ms watch). Every run uses a fresh random index key and fresh synthetic patients,
 * so runs against the same network never collide. Writes `table4-attached.{json,md}`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SimulatedDoctor } from '../../src/client/simulated-doctor.js'
import { seededRng } from '../../src/client/synthetic.js'
import { randomBytes, type PqBackend } from '../../src/crypto/index.js'
import { parseGenesis } from '../../src/node/genesis.js'
import { loadIdentity, readIdentityFile } from '../../src/node/identity.js'
import type { NodeInfo } from '../../src/rpc/index.js'
import { machineInfo, machineLine, markdownTable, summarize, writeJson, type Summary } from '../lib/index.js'
import { ms } from './report.js'
import { call, loadedPhase, nearestRank, queryKit, summaryOf, sleep, submitAll, transport, type Committed } from './queries.js'

export const ATTACH_OPTIONS = ['attach', 'users', 'records'] as const

export interface AttachOptions {
  dir: string
  users?: string[]
  records: number
  queries: number
  seed: number
  fetch: number
  /** Time budget of the loaded phase (s). */
  loadedSeconds: number
  outDir: string
  command: string
  progress: (msg: string) => void
}

interface Layout { host: string, nodes: Array<{ name: string, role: 'manager' | 'user', rpcPort: number, host?: string }> }

/** User-node RPC URLs: given, or from a `sim:local` / `npm start` data dir's network.json. */
function userEndpoints (o: AttachOptions): string[] {
  if (o.users !== undefined && o.users.length > 0) return o.users
  const path = join(o.dir, 'network.json')
  if (!existsSync(path)) throw new Error(`--attach ${o.dir}: no --users URL,... given and no ${path} (a sim:local or npm start data dir) to read them from`)
  const layout = JSON.parse(readFileSync(path, 'utf8')) as Layout
  const users = layout.nodes.filter((n) => n.role === 'user').map((n) => `http://${n.host ?? layout.host}:${n.rpcPort}/`)
  if (users.length === 0) throw new Error(`${path} lists no user nodes`)
  return users
}


export async function attachRun (o: AttachOptions, pq: PqBackend): Promise<void> {
  const t0 = performance.now()
  const genesis = parseGenesis(readFileSync(join(o.dir, 'genesis.json'), 'utf8'))
  const idPath = join(o.dir, 'identities', 'doctor-0.json')
  if (!existsSync(idPath)) throw new Error(`--attach ${o.dir}: no ${idPath} (a doctor identity registered in this genesis)`)
  const id = await loadIdentity(await readIdentityFile(idPath))
  const userUrls = userEndpoints(o)

  // every endpoint must be a user node of this chain
  for (const u of userUrls) {
    let info: NodeInfo
    try { info = await call<NodeInfo>(u, 'node_info', {}, 10_000) } catch (err) { throw new Error(`${u}: no JSON-RPC answer (${(err as Error).message})`, { cause: err }) }
    if (info.chainId !== genesis.chainId) throw new Error(`${u} is on chain '${info.chainId}', ${o.dir}/genesis.json is '${genesis.chainId}'`)
    if (info.role !== 'user') throw new Error(`${u} is a ${info.role}, not a user node (--users takes user-node endpoints)`)
  }
  o.progress(`attached to ${userUrls.length} user nodes of chain ${genesis.chainId} (${genesis.managers.length} managers)`)

  const rng = seededRng(o.seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T
  // a fresh index key and fresh patients per run: labels never collide with earlier runs' entries
  const consortiumKey = randomBytes(32)
  const doctor = new SimulatedDoctor(pq, { id: id.keys.id, sigSecretKey: id.keys.sig.secretKey }, consortiumKey)
  const loader = new SimulatedDoctor(pq, { id: id.keys.id, sigSecretKey: id.keys.sig.secretKey }, randomBytes(32))
  const base = Math.floor(rng() * 1e9) * 1000
  const recs = Array.from({ length: o.records }, (_, i) => doctor.record(rng, base + (i % Math.max(1, Math.floor(o.records / 2)))))
  const loadRecs = Array.from({ length: Math.max(10, Math.round(o.records / 4)) }, (_, i) => loader.record(rng, base + 500 + i))

  // header arrivals: poll every user node every 100 ms
  const arrivals = userUrls.map(() => new Map<number, number>())
  const commitAt = new Map<number, number>()
  let watching = true
  const watcher = (async () => {
    while (watching) {
      await Promise.all(userUrls.map(async (u, k) => {
        try {
          const h = (await call<{ height: number }>(u, 'chain_status', {}, 5000)).height
          const now = Date.now()
          const a = arrivals[k]!
          for (let x = h; x > 0 && !a.has(x); x--) a.set(x, now)
        } catch { /* sampled again */ }
      }))
      await sleep(100)
    }
  })()

  const startHeight = Math.max(...await Promise.all(userUrls.map(async (u) => (await call<{ height: number }>(u, 'chain_status')).height)))
  o.progress(`submitting ${o.records} records through the user nodes (head ${startHeight})`)
  const tSubmit = performance.now()
  const committed: Committed[] = []
  await submitAll(recs, (i) => userUrls[i % userUrls.length]!, 16, (c) => {
    const now = Date.now()
    if ((commitAt.get(c.height) ?? Infinity) > now) commitAt.set(c.height, now)
    committed.push(c)
  })
  const submitS = (performance.now() - tSubmit) / 1000
  const target = Math.max(...committed.map((c) => c.height))
  const tSync = performance.now()
  for (;;) {
    const hs = await Promise.all(userUrls.map(async (u) => (await call<{ height: number }>(u, 'chain_status')).height))
    if (hs.every((h) => h >= target)) break
    if (performance.now() - tSync > 120_000) throw new Error(`${hs.filter((h) => h < target).length} user nodes still behind height ${target} after 120 s`)
    await sleep(50)
  }
  const syncS = (performance.now() - tSync) / 1000
  await sleep(200)
  watching = false
  await watcher
  const lastArrival: number[] = []
  const perNode: number[] = []
  for (const [h, t] of commitAt) {
    const ts = arrivals.map((a) => a.get(h))
    if (ts.some((x) => x === undefined)) continue
    for (const x of ts) perNode.push(Math.max(0, (x as number) - t))
    lastArrival.push(Math.max(0, Math.max(...(ts as number[])) - t))
  }
  o.progress(`${o.records} records committed in ${submitS.toFixed(1)} s (heights ${startHeight + 1}..${target}); every user node at the head ${syncS.toFixed(2)} s later`)

  const kit = queryKit({ committed, userUrls, doctor, consortiumKey, fetch: o.fetch, pick })
  for (let i = 0; i < 5; i++) { await kit.recordQuery(false); await kit.symptomQuery(false) }
  o.progress(`${o.queries} record queries, ${o.queries} symptom queries`)
  const recT: number[] = []
  for (let i = 0; i < o.queries; i++) recT.push(await kit.recordQuery())
  const symT: number[] = []
  for (let i = 0; i < o.queries; i++) symT.push(await kit.symptomQuery())
  const pairs = Math.max(1, Math.ceil(o.queries / 2))
  o.progress(`loaded phase (${pairs} query pairs within ${o.loadedSeconds} s while a second doctor submits, up to ${loadRecs.length} records)`)
  const load = await loadedPhase(kit, loadRecs, userUrls, pick, { pairs, budgetMs: o.loadedSeconds * 1000, progress: o.progress })

  const mean = (xs: number[]): number => xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length
  const machine = machineInfo()
  const result = {
    machine,
    command: o.command,
    runSeconds: (performance.now() - t0) / 1000,
    network: { chainId: genesis.chainId, managers: genesis.managers.length, userNodes: userUrls.length, userRpc: userUrls },
    records: o.records,
    quiet: { record: summarize(recT), symptom: summarize(symT) },
    loaded: { record: summaryOf(load.record), symptom: summaryOf(load.symptom), loadRecords: loadRecs.length, pairs: load.pairs, budgetSeconds: o.loadedSeconds, budgetHit: load.budgetHit, committed: load.submitted, queriesDuringLoad: load.queriesDuringLoad, submitSeconds: load.submitSeconds, failedQueries: load.failedQueries, failedSubmissions: load.failedSubmissions, errors: load.errors },
    breakdownMs: Object.fromEntries(Object.entries(kit.breakdown).map(([k, v]) => [k, mean(v)])),
    symptom: { meanMatches: mean(kit.matches), meanFetched: mean(kit.fetched), fetchLimit: o.fetch },
    submitSeconds: submitS,
    syncSeconds: syncS,
    headerPropagationMs: { heights: lastArrival.length, allNodesP50: nearestRank(lastArrival, 0.5), allNodesP99: nearestRank(lastArrival, 0.99), perNodeP50: nearestRank(perNode, 0.5), perNodeP99: nearestRank(perNode, 0.99), method: 'commit time = earliest return of a wait:true submission at that height; arrival = first 100 ms poll of each user node\'s chain_status at or above it' },
    transportRetries: transport.retries
  }
  const json = writeJson(join(o.outDir, 'table4-attached.json'), result)
  const row = (name: string, s: Summary): string[] => [name, ms(s.p50), ms(s.mean), ms(s.p95), ms(s.max), String(s.count)]
  const md = [
    '# Table 4 queries against an existing network',
    '',
    `Machine (the client's): ${machineLine(machine)}.`,
    '',
    `Command: \`${o.command}\` — network \`${genesis.chainId}\`: ${genesis.managers.length} managers, ${userUrls.length} user nodes; ${o.records} records submitted by this run.`,
    '',
    markdownTable(['query (ms)', 'p50', 'mean', 'p95', 'max', 'count'], [
      row('record (quiet)', result.quiet.record), row('symptom (quiet)', result.quiet.symptom),
      row('record (loaded)', result.loaded.record), row('symptom (loaded)', result.loaded.symptom)
    ], ['left', 'right', 'right', 'right', 'right', 'right']),
    '',
    `Header to every user node: p50 ${ms(result.headerPropagationMs.allNodesP50)} ms, p99 ${ms(result.headerPropagationMs.allNodesP99)} ms over ${lastArrival.length} heights (100 ms polling). Symptom queries matched ${result.symptom.meanMatches.toFixed(1)} records on average and fetched ${result.symptom.meanFetched.toFixed(1)}.`,
    '',
    'Mean ms per step: ' + Object.entries(result.breakdownMs).map(([k, v]) => `${k} ${ms(v)}`).join(', ') + '.',
    ''
  ].join('\n')
  writeFileSync(join(o.outDir, 'table4-attached.md'), md)
  process.stdout.write(md + '\n')
  o.progress(`wrote ${json} and table4-attached.md`)
}
