/**
 * `npm run bench:table4`: paper 1's Table 4 (query time against node count) on real pqmed nodes.
 * Per row: `--managers` manager processes (`bin/pqmed.js node --role manager`, PBFT, LevelDB) and
 * (nodes − managers) light user nodes spread over `--workers` worker processes
 * (bench/table4/worker.ts), each user node with its own JSON-RPC server. This process is the
 * client: it submits the row's records through user nodes, waits until every user node has every
 * header, then times record and symptom queries (see bench/table4/report.ts for what each
 * includes), first on a quiet network, then while more records are being submitted.
 *
 * Options: --rows 10,100,200,500 (add 1000 to run the paper's last row)  --queries 200  --managers 4  --workers 2  --seed 1
 *          --fetch 10 (records fetched per symptom query)  --block-ms 500  --out-dir bench/results
 *          --loaded-seconds 120 (time budget of the loaded phase)
 *          --profile-workers DIR (a V8 CPU profile of every worker process during the quiet queries:
 *          DIR/row-N-worker-K.cpuprofile, and its breakdown by component in the row's JSON)
 *          --submit-via managers|users (where the row's records are submitted; see SUBMIT_VIA)
 *          --attach DIR [--users URL,...] [--records 200]: the same queries against a running network
 *          (sim:local, npm start, Docker Compose) instead of one started here; see table4/attach.ts
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ProcNet, freePorts } from '../src/cli/procs.js'
import { SimulatedDoctor } from '../src/client/simulated-doctor.js'
import { seededRng } from '../src/client/synthetic.js'
import { loadPqBackend } from '../src/crypto/index.js'
import { createDevnet, writeDevnet } from '../src/node/devnet.js'
import { loadIdentity } from '../src/node/identity.js'
import type { RecordJson } from '../src/rpc/index.js'
import { checkArgs, machineInfo, managerSpec, optionValue, summarize, writeJson } from './lib/index.js'
import { attachRun, ATTACH_OPTIONS } from './table4/attach.js'
import { call, loadedPhase, nearestRank, queryKit, summaryOf, sleep, submitAll, transport, type Committed } from './table4/queries.js'
import { PAPER, markdownReport, svgChart, type RowResult } from './table4/report.js'
import type { WorkerReply, WorkerRequest } from './table4/worker.js'

/**
 * Default rows: the paper's first four (about 9 minutes on this 2-core machine when quiet). The
 * paper's 1,000-node row runs with `--rows 10,100,200,500,1000` (about 16 minutes in all: 995 user
 * nodes take about 2 minutes to start, and the loaded phase stops at its time budget); see
 * bench/results/table4.md.
 */
const DEFAULT_ROWS = '10,100,200,500'
const argv = process.argv.slice(2)
checkArgs(argv, [], ['rows', 'queries', 'loaded-seconds', 'profile-workers', 'managers', 'workers', 'seed', 'fetch', 'block-ms', 'out-dir', 'submit-via', ...ATTACH_OPTIONS])
const ATTACH = optionValue(argv, 'attach')
if (ATTACH === undefined && (optionValue(argv, 'users') !== undefined || optionValue(argv, 'records') !== undefined)) throw new Error('--users and --records go with --attach DIR')
if (ATTACH !== undefined && ['rows', 'managers', 'workers', 'block-ms', 'submit-via'].some((o) => optionValue(argv, o) !== undefined)) {
  throw new Error('--attach runs against an existing network: --rows, --managers, --workers, --block-ms and --submit-via do not apply')
}
const ROWS = (optionValue(argv, 'rows') ?? DEFAULT_ROWS).split(',').map(Number)
const QUERIES = Number(optionValue(argv, 'queries') ?? 200)
const MANAGERS = Number(optionValue(argv, 'managers') ?? 4)
const WORKERS = Number(optionValue(argv, 'workers') ?? 2)
const SEED = Number(optionValue(argv, 'seed') ?? 1)
const FETCH = Number(optionValue(argv, 'fetch') ?? 10)
/**
 * Time budget of the loaded phase (s). Its queries and submissions share the 2 worker processes
 * with every user node, each of which verifies every new header: at 1,000 nodes a block costs the
 * workers about as much CPU as two cores give in a second, so queries slow to seconds; the budget
 * keeps the row's length bounded (the JSON says how many query pairs ran).
 */
const LOADED_SECONDS = Number(optionValue(argv, 'loaded-seconds') ?? 120)
const PROFILE_WORKERS = optionValue(argv, 'profile-workers')
if (PROFILE_WORKERS !== undefined) mkdirSync(PROFILE_WORKERS, { recursive: true })
/**
 * Block interval (ms). Every block's certified header is verified by every user node (3 ML-DSA-65
 * signatures) and sent to it by the managers, so with hundreds of light nodes the cost is per
 * block: 500 ms batches submissions into few blocks (measured: 50 ms blocks at 196 user nodes
 * held submissions to ~3 records/s on this 2-core machine).
 */
const BLOCK_MS = Number(optionValue(argv, 'block-ms') ?? 500)
const SUBMIT_CONCURRENCY = 256
/**
 * Where the row's records are submitted (JSON-RPC `ehr_submitRecord`, `wait: true`): `managers`
 * (default; round robin, as a hospital's bulk import would) or `users` (random user nodes, which
 * forward to a manager). Measured here at 500 nodes: through user nodes that share two cores with
 * hundreds of others, submissions trickle in (2.8 records/s), blocks hold 1–2 records, and the
 * per-block cost of every user node verifying every header keeps the workers saturated, which
 * slows submissions further. The loaded phase always submits through user nodes.
 */
const SUBMIT_VIA = optionValue(argv, 'submit-via') ?? 'managers'
if (SUBMIT_VIA !== 'managers' && SUBMIT_VIA !== 'users') throw new Error(`--submit-via must be managers or users, got '${SUBMIT_VIA}'`)
const OUT = optionValue(argv, 'out-dir') ?? 'bench/results'
for (const n of ROWS) if (!Number.isInteger(n) || n <= MANAGERS) throw new Error(`--rows: each row needs more than ${MANAGERS} nodes, got ${n}`)
if (!(QUERIES >= 1) || !(WORKERS >= 1) || !(MANAGERS >= 4) || !(FETCH >= 1) || !(LOADED_SECONDS > 0)) throw new Error('--queries, --workers, --fetch must be ≥ 1, --loaded-seconds > 0 and --managers ≥ 4')

const WORKER = fileURLToPath(new URL('./table4/worker.ts', import.meta.url))
const POLYFILL = fileURLToPath(new URL('../src/polyfill.ts', import.meta.url))
const CLK_TCK = 100

const progress = (msg: string): void => { process.stderr.write(`[table4 ${new Date().toISOString().slice(11, 19)}] ${msg}\n`) }

/** utime + stime of a process, seconds (Linux /proc). */
function cpuOf (pid: number | undefined): number {
  if (pid === undefined) return 0
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    return (Number(f[11]) + Number(f[12])) / CLK_TCK
  } catch { return 0 }
}
function rssOf (pid: number | undefined): number {
  if (pid === undefined) return 0
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1]) * 1024
  } catch { return 0 }
}

/** A worker process with one request in flight at a time. */
class Worker {
  readonly child: ChildProcess
  private waiting: ((m: WorkerReply) => void) | null = null
  constructor () {
    this.child = fork(WORKER, [], { execArgv: ['--import', 'tsx', '--import', POLYFILL], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    this.child.on('message', (m) => { const w = this.waiting; this.waiting = null; w?.(m as WorkerReply) })
    this.child.on('exit', (code) => { const w = this.waiting; this.waiting = null; w?.({ cmd: 'error', message: `worker exited with ${code}` }) })
  }

  async ask<C extends WorkerRequest['cmd']> (req: WorkerRequest & { cmd: C }): Promise<Extract<WorkerReply, { cmd: C }>> {
    const reply = await new Promise<WorkerReply>((resolve) => { this.waiting = resolve; this.child.send(req) })
    if (reply.cmd === 'error') throw new Error(`worker: ${reply.message}`)
    if (reply.cmd !== req.cmd) throw new Error(`worker answered ${reply.cmd} to ${req.cmd}`)
    return reply as Extract<WorkerReply, { cmd: C }>
  }

  async stop (): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise<void>((resolve) => { this.child.once('exit', () => { resolve() }) })
    const t = setTimeout(() => { this.child.kill('SIGKILL') }, 20_000)
    try { await this.ask({ cmd: 'stop' }) } catch { this.child.kill('SIGKILL') }
    await exited
    clearTimeout(t)
  }
}

/** Child processes of the running row, killed if this process is interrupted. */
const children = new Set<ChildProcess>()
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    for (const c of children) c.kill('SIGKILL')
    process.exit(130)
  })
}



async function runRow (nodes: number, pqReady: Awaited<ReturnType<typeof loadPqBackend>>): Promise<RowResult> {
  const rowStart = performance.now()
  transport.retries = 0
  const records = PAPER[nodes]?.records ?? nodes
  const loadRecords = Math.max(20, Math.min(200, Math.round(records / 2)))
  // user nodes in the workers; one more runs in its own process (the control)
  const users = nodes - MANAGERS - 1
  const workers = Math.min(WORKERS, users)
  const root = await mkdtemp(join(tmpdir(), 'pqmed-table4-'))
  const net = new ProcNet()
  const ws: Worker[] = []
  const rng = seededRng(SEED * 1_000_003 + nodes)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T
  try {
    progress(`row ${nodes} nodes / ${records} records: genesis, signing ${records + loadRecords} records`)
    const ports = await freePorts(MANAGERS)
    const params = { blockInterval: BLOCK_MS, maxBlockRecords: 500, viewChangeTimeout: 3000, heartbeatInterval: 500 }
    const files = await createDevnet({ chainId: 'pqmed-table4', managers: MANAGERS, doctors: 2, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}`, params })
    await writeDevnet(root, files)
    const consortiumKey = new Uint8Array(32).fill(9)
    const mkDoctor = async (i: number): Promise<SimulatedDoctor> => {
      const id = await loadIdentity(files.doctors[i]!)
      return new SimulatedDoctor(pqReady, { id: id.keys.id, sigSecretKey: id.keys.sig.secretKey }, consortiumKey)
    }
    const doctor = await mkDoctor(0)
    const loader = await mkDoctor(1)
    const recs = Array.from({ length: records }, (_, i) => doctor.record(rng, i % Math.max(1, Math.floor(records / 2))))
    const loadRecs = Array.from({ length: loadRecords }, (_, i) => loader.record(rng, 100_000 + i))

    // ---- setup
    const cpu0 = cpuOf(process.pid)
    const tSetup = performance.now()
    // open managers: the user nodes are throwaway in-process nodes with random peer ids
    progress(`row ${nodes}: starting ${MANAGERS} managers (--open: any peer may connect; benchmark only)`)
    await Promise.all(Array.from({ length: MANAGERS }, async (_, i) => await net.start(managerSpec(root, i, ports[i]!, { open: true }), 120_000)))
    const managerUrls = Array.from({ length: MANAGERS }, (_, i) => net.procs.get(`m${i}`)!.rpc)
    const managerPids = Array.from({ length: MANAGERS }, (_, i) => net.procs.get(`m${i}`)!.child.pid)
    for (const pr of net.procs.values()) children.add(pr.child)
    await sleep(1000)
    const managersS = (performance.now() - tSetup) / 1000
    progress(`row ${nodes}: managers up in ${managersS.toFixed(1)} s; starting ${users} user nodes in ${workers} workers`)
    const tUsers = performance.now()
    for (let w = 0; w < workers; w++) { const wk = new Worker(); ws.push(wk); children.add(wk.child) }
    const counts = ws.map((_, w) => Math.floor(users / workers) + (w < users % workers ? 1 : 0))
    let startedWorkers = 0
    const starts = await Promise.all(ws.map(async (w, k) => {
      const r = await w.ask({ cmd: 'start', genesisPath: join(root, 'genesis.json'), count: counts[k]!, rootDir: join(root, `w${k}`), concurrency: 8 })
      progress(`row ${nodes}: worker ${k} started ${counts[k]} user nodes in ${(r.ms / 1000).toFixed(1)} s (${++startedWorkers}/${workers})`)
      return r
    }))
    const userUrls = starts.flatMap((s) => s.urls)
    // the control: one more user node in a process of its own, as a hospital runs one
    const solo = await net.start({
      name: 'solo',
      args: ['--role', 'user', '--genesis', join(root, 'genesis.json'), '--data-dir', join(root, 'solo'), '--listen', '/ip4/127.0.0.1/tcp/0',
        '--rpc-port', '0', '--rpc-rate-limit', 'off', '--loopback', '--quiet']
    }, 120_000)
    children.add(solo.child)
    const workerPids = ws.map((w) => w.child.pid)
    const allPids = [...managerPids, ...workerPids, process.pid]
    const cpuAll = (): number => allPids.reduce<number>((a, pid) => a + cpuOf(pid), 0)
    const usersS = (performance.now() - tUsers) / 1000
    const setupS = (performance.now() - tSetup) / 1000
    const cpuSetup = cpuAll() - cpu0
    const conns = (await Promise.all(ws.map(async (w) => await w.ask({ cmd: 'status' })))).flatMap((s) => s.managerConns)
    progress(`row ${nodes}: ${userUrls.length} user nodes up in ${usersS.toFixed(1)} s; connected to all ${MANAGERS} managers: ${conns.filter((c) => c === MANAGERS).length}/${conns.length}`)

    // ---- submit the row's records through user nodes, watching commit times at manager 0
    const commitAt = new Map<number, number>()
    let watching = true
    const watcher = (async () => {
      while (watching) {
        try {
          const h = (await call<{ height: number }>(managerUrls[0]!, 'chain_status', {}, 5000)).height
          const now = Date.now()
          for (let k = 1; k <= h; k++) if (!commitAt.has(k)) commitAt.set(k, now)
        } catch { /* retried */ }
        await sleep(10)
      }
    })()
    const noteCommit = (height: number | undefined): void => {
      if (height === undefined) return
      const now = Date.now()
      if ((commitAt.get(height) ?? Infinity) > now) commitAt.set(height, now)
    }
    const cpu1 = cpuAll()
    const tSubmit = performance.now()
    const committed: Committed[] = []
    await submitAll(recs, (i) => SUBMIT_VIA === 'managers' ? managerUrls[i % managerUrls.length]! : pick(userUrls), SUBMIT_CONCURRENCY, (c) => {
      noteCommit(c.height)
      committed.push(c)
      if (committed.length % Math.max(1, Math.floor(records / 5)) === 0) progress(`row ${nodes}: submitted ${committed.length}/${records}`)
    })
    const submitS = (performance.now() - tSubmit) / 1000

    // ---- wait for every user node to hold the head
    const tSync = performance.now()
    const target = Math.max(...await Promise.all(managerUrls.map(async (u) => (await call<{ height: number }>(u, 'chain_status')).height)))
    for (;;) {
      const heights = (await Promise.all(ws.map(async (w) => await w.ask({ cmd: 'status' })))).flatMap((s) => s.heights)
      const soloHeight = (await call<{ height: number }>(solo.rpc, 'chain_status', {}, 5000)).height
      const behind = heights.filter((h) => h < target).length + (soloHeight < target ? 1 : 0)
      if (behind === 0) break
      if (performance.now() - tSync > 120_000) throw new Error(`${behind} user nodes still behind height ${target} after 120 s`)
      await sleep(20)
    }
    const syncS = (performance.now() - tSync) / 1000
    watching = false
    await watcher
    const cpuSubmit = cpuAll() - cpu1
    progress(`row ${nodes}: ${records} records committed in ${submitS.toFixed(1)} s (height ${target}); every user node synced ${syncS.toFixed(2)} s after the last commit`)

    // header propagation
    const arrivals = (await Promise.all(ws.map(async (w) => await w.ask({ cmd: 'arrivals' })))).flatMap((a) => a.arrivals)
    await Promise.all(ws.map(async (w) => await w.ask({ cmd: 'watch', on: false })))
    const allLag: number[] = []
    const perNode: number[] = []
    for (const [h, t] of commitAt) {
      if (h > target) continue
      let last = -Infinity
      for (const a of arrivals) {
        const at = a[h]
        if (at === undefined) { last = Infinity; break }
        perNode.push(Math.max(0, at - t))
        last = Math.max(last, at)
      }
      if (Number.isFinite(last)) allLag.push(Math.max(0, last - t))
    }

    // ---- queries
    const kit = queryKit({ committed, userUrls, doctor, consortiumKey, fetch: FETCH, pick })
    const { recordQuery, symptomQuery, breakdown: bd, matches, fetched } = kit

    // warm-up (HTTP keep-alive, JIT): a few of each, not recorded
    for (let i = 0; i < 5; i++) { await recordQuery(false); await symptomQuery(false) }
    const cpu2 = cpuAll()
    const elu = async (): Promise<Array<{ idle: number, active: number }>> => (await Promise.all(ws.map(async (w) => await w.ask({ cmd: 'status' })))).map((s) => s.elu)
    const elu0 = await elu()
    if (PROFILE_WORKERS !== undefined) await Promise.all(ws.map(async (w) => await w.ask({ cmd: 'profile-start' })))
    progress(`row ${nodes}: ${QUERIES} record queries`)
    const recT: number[] = []
    for (let i = 0; i < QUERIES; i++) recT.push(await recordQuery())
    progress(`row ${nodes}: ${QUERIES} symptom queries`)
    const symT: number[] = []
    for (let i = 0; i < QUERIES; i++) symT.push(await symptomQuery())
    const direct: number[] = []
    for (let i = 0; i < Math.min(50, QUERIES); i++) {
      const c = pick(committed)
      const t0 = performance.now()
      await call<RecordJson>(pick(managerUrls), 'ehr_getRecord', { recordId: c.idHex })
      direct.push(performance.now() - t0)
    }
    const cpuQueries = cpuAll() - cpu2
    // the same queries through the user node in its own process
    const soloKit = queryKit({ committed, userUrls: [solo.rpc], doctor, consortiumKey, fetch: FETCH, pick })
    for (let i = 0; i < 5; i++) { await soloKit.recordQuery(false); await soloKit.symptomQuery(false) }
    const soloN = Math.min(100, QUERIES)
    progress(`row ${nodes}: ${soloN} record and ${soloN} symptom queries through the user node in its own process`)
    const soloRec: number[] = []
    const soloSym: number[] = []
    for (let i = 0; i < soloN; i++) { soloRec.push(await soloKit.recordQuery()); soloSym.push(await soloKit.symptomQuery()) }
    // share of the quiet phase each worker's event loop was busy (queries, and every user node's own timers)
    const workerProfiles = PROFILE_WORKERS === undefined
      ? undefined
      : await Promise.all(ws.map(async (w, k) => (await w.ask({ cmd: 'profile-stop', rawOut: join(PROFILE_WORKERS, `row-${nodes}-worker-${k}.cpuprofile`) })).profile))
    const quietElu = (await elu()).map((e, k) => { const a = e.active - elu0[k]!.active; const i = e.idle - elu0[k]!.idle; return a / (a + i) })

    // ---- loaded: the same queries while a second doctor submits records
    const pairs = Math.max(1, Math.ceil(QUERIES / 2))
    progress(`row ${nodes}: loaded phase (${pairs} query pairs within ${LOADED_SECONDS} s while a second doctor submits, up to ${loadRecords} records)`)
    const cpu3 = cpuAll()
    const workerCpu3 = workerPids.reduce<number>((a, pid) => a + cpuOf(pid), 0)
    const load = await loadedPhase(kit, loadRecs, userUrls, pick, { pairs, budgetMs: LOADED_SECONDS * 1000, progress: (m) => { progress(`row ${nodes}: ${m}`) } })
    const cpuLoaded = cpuAll() - cpu3
    const workerCpuLoaded = workerPids.reduce<number>((a, pid) => a + cpuOf(pid), 0) - workerCpu3

    // ---- memory and totals
    const st = await Promise.all(ws.map(async (w) => await w.ask({ cmd: 'status' })))
    const workerRss = st.reduce((a, s) => a + s.rss, 0)
    const managerRss = managerPids.map((pid) => Math.round(rssOf(pid) / 2 ** 20))
    const mean = (xs: number[]): number => xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length
    const row: RowResult = {
      nodes,
      managers: MANAGERS,
      userNodes: users,
      workers,
      records,
      queries: { record: recT.length, symptom: symT.length },
      quiet: { record: summarize(recT), symptom: summarize(symT) },
      loaded: { record: summaryOf(load.record), symptom: summaryOf(load.symptom), loadRecords, pairs: load.pairs, budgetSeconds: LOADED_SECONDS, budgetHit: load.budgetHit, committed: load.submitted, queriesDuringLoad: load.queriesDuringLoad, submitSeconds: load.submitSeconds, workerCpuSeconds: workerCpuLoaded, failedQueries: load.failedQueries, failedSubmissions: load.failedSubmissions, errors: load.errors },
      managerDirectRecord: summarize(direct),
      ownProcessUser: { record: summarize(soloRec), symptom: summarize(soloSym), breakdownMs: Object.fromEntries(Object.entries(soloKit.breakdown).map(([k, v]) => [k, mean(v)])) },
      quietWorkerBusy: quietElu,
      ...(workerProfiles !== undefined ? { quietWorkerProfiles: workerProfiles } : {}),
      breakdownMs: Object.fromEntries(Object.entries(bd).map(([k, v]) => [k, mean(v)])),
      symptom: { meanMatches: mean(matches), meanFetched: mean(fetched), fetchLimit: FETCH },
      setupSeconds: { managers: managersS, userNodes: usersS, total: setupS },
      submitSeconds: submitS,
      syncSeconds: syncS,
      headerPropagationMs: {
        heights: allLag.length,
        allNodesP50: nearestRank(allLag, 0.5),
        allNodesP99: nearestRank(allLag, 0.99),
        perNodeP50: nearestRank(perNode, 0.5),
        perNodeP99: nearestRank(perNode, 0.99),
        method: 'commit time = min(10 ms poll of manager 0 chain_status, return of a wait:true submission at that height); arrival = first 5 ms worker poll of each user node\'s header height at or above it'
      },
      memory: { workerRssMiB: Math.round(workerRss / 2 ** 20), perUserNodeMiB: workerRss / 2 ** 20 / users, managerRssMiB: managerRss },
      cpuSeconds: { setup: cpuSetup, submitAndSync: cpuSubmit, queries: cpuQueries, loaded: cpuLoaded, total: cpuAll() - cpu0 },
      rowSeconds: (performance.now() - rowStart) / 1000,
      transportRetries: transport.retries
    }
    progress(`row ${nodes}: record p50 ${row.quiet.record.p50.toFixed(2)} ms, symptom p50 ${row.quiet.symptom.p50.toFixed(2)} ms (own-process user node: ${soloRec.length > 0 ? summarize(soloRec).p50.toFixed(2) : "-"} / ${soloSym.length > 0 ? summarize(soloSym).p50.toFixed(2) : "-"} ms); header to all users p50 ${row.headerPropagationMs.allNodesP50} ms`)
    return row
  } finally {
    progress(`row ${nodes}: stopping`)
    await Promise.all(ws.map(async (w) => { await w.stop().catch(() => { w.child.kill('SIGKILL') }) }))
    await net.stopAll()
    children.clear()
    await rm(root, { recursive: true, force: true })
  }
}

if (ATTACH !== undefined) {
  const records = Number(optionValue(argv, 'records') ?? 200)
  if (!Number.isInteger(records) || records < 2) throw new Error('--records must be an integer ≥ 2')
  const users = optionValue(argv, 'users')?.split(',').map((u) => u.trim()).filter((u) => u !== '')
  await attachRun({ dir: ATTACH, users, records, queries: QUERIES, seed: SEED, fetch: FETCH, loadedSeconds: LOADED_SECONDS, outDir: OUT, command: `npm run bench:table4 -- ${argv.join(' ')}`, progress }, await loadPqBackend())
  process.exit(0)
}

const machine = machineInfo()
const tRun = performance.now()
const pq = await loadPqBackend()
const rows: RowResult[] = []
const notes: string[] = [
  `Settings: ${MANAGERS} manager processes, user nodes in ${WORKERS} worker processes (in-memory header stores, one JSON-RPC server each), block interval ${BLOCK_MS} ms, each row's records submitted with \`wait: true\` at concurrency ${SUBMIT_CONCURRENCY} through ${SUBMIT_VIA === 'managers' ? "the managers' JSON-RPC (round robin)" : 'random user nodes'}, seed ${SEED}. Queries are sequential (one in flight), each from a random user node.`
]
for (const n of ROWS) {
  rows.push(await runRow(n, pq))
  writeJson(join(OUT, 'table4.json'), { machine, options: { rows: ROWS, queries: QUERIES, loadedSeconds: LOADED_SECONDS, managers: MANAGERS, workers: WORKERS, seed: SEED, fetch: FETCH, blockMs: BLOCK_MS, submitConcurrency: SUBMIT_CONCURRENCY, submitVia: SUBMIT_VIA }, complete: false, rows })
}
const runS = (performance.now() - tRun) / 1000
const command = `npm run bench:table4${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`
writeJson(join(OUT, 'table4.json'), { machine, command, runSeconds: runS, options: { rows: ROWS, queries: QUERIES, loadedSeconds: LOADED_SECONDS, managers: MANAGERS, workers: WORKERS, seed: SEED, fetch: FETCH, blockMs: BLOCK_MS, submitConcurrency: SUBMIT_CONCURRENCY, submitVia: SUBMIT_VIA }, complete: true, rows })
writeFileSync(join(OUT, 'table4.md'), markdownReport(rows, machine, command, runS, notes))
writeFileSync(join(OUT, 'table4.svg'), svgChart(rows))
progress(`done in ${(runS / 60).toFixed(1)} min: wrote ${join(OUT, 'table4.{json,md,svg}')}`)
