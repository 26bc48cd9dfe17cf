/**
 * `npm run bench:headers`: what following the chain costs a light user node. Four manager
 * processes commit records submitted to their JSON-RPC at a steady rate; `--users` light user
 * nodes run in this process (in-memory header stores, as in bench:table4's workers). Over a
 * measured window it reports this process's CPU time per committed header per user node, and how
 * the user nodes got their headers (appended from gossip, or fetched by range sync: at start, on a
 * gap, or by the 5 s resync), which shows whether gossip keeps up.
 *
 * Options: --users 100  --rate 10 (records/s)  --seconds 15 (measured window)  --out bench/results/headers.json
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ProcNet, freePorts, rpc } from '../src/cli/procs.js'
import { SimulatedDoctor } from '../src/client/simulated-doctor.js'
import { seededRng } from '../src/client/synthetic.js'
import { loadPqBackend } from '../src/crypto/index.js'
import { createDevnet, writeDevnet } from '../src/node/devnet.js'
import { parseGenesis } from '../src/node/genesis.js'
import { loadIdentity } from '../src/node/identity.js'
import { startNode, type RunningNode } from '../src/node/node.js'
import { checkArgs, machineInfo, machineLine, managerSpec, markdownTable, optionValue, writeJson } from './lib/index.js'

const argv = process.argv.slice(2)
checkArgs(argv, [], ['users', 'rate', 'seconds', 'out'])
const USERS = Number(optionValue(argv, 'users') ?? 100)
const RATE = Number(optionValue(argv, 'rate') ?? 10)
const SECONDS = Number(optionValue(argv, 'seconds') ?? 15)
const OUT = optionValue(argv, 'out') ?? 'bench/results/headers.json'
if (!Number.isInteger(USERS) || USERS < 1 || !(RATE > 0) || !(SECONDS > 0)) throw new Error('--users must be an integer ≥ 1, --rate and --seconds > 0')

const log = (m: string): void => { process.stderr.write(`[headers] ${m}\n`) }
const sleep = async (ms: number): Promise<void> => { await new Promise((r) => setTimeout(r, ms)) }
const machine = machineInfo()
const root = await mkdtemp(join(tmpdir(), 'pqmed-bench-headers-'))
const net = new ProcNet()
const users: RunningNode[] = []
let timer: NodeJS.Timeout | undefined
try {
  const ports = await freePorts(4)
  const params = { blockInterval: 500, maxBlockRecords: 500, viewChangeTimeout: 3000, heartbeatInterval: 500 }
  const files = await createDevnet({ chainId: 'pqmed-headers', managers: 4, doctors: 1, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}`, params })
  await writeDevnet(root, files)
  // open managers: the user nodes below are throwaway in-process nodes with random peer ids
  log('starting the managers with --open (any peer may connect): benchmark only')
  await Promise.all([0, 1, 2, 3].map(async (i) => await net.start(managerSpec(root, i, ports[i]!, { open: true }), 120_000)))
  const genesis = parseGenesis(await readFile(join(root, 'genesis.json'), 'utf8'))
  log(`4 managers up; starting ${USERS} user nodes in this process`)
  for (let i = 0; i < USERS; i++) users.push(await startNode({ role: 'user', genesis, dataDir: join(root, `u${i}`), listen: ['/ip4/127.0.0.1/tcp/0'], loopback: true, headerStore: 'memory' }))

  const pq = await loadPqBackend()
  const id = await loadIdentity(files.doctors[0]!)
  const doctor = new SimulatedDoctor(pq, { id: id.keys.id, sigSecretKey: id.keys.sig.secretKey }, new Uint8Array(32).fill(9))
  const rng = seededRng(1)
  const total = Math.ceil(RATE * (SECONDS + 10))
  const recs = Array.from({ length: total }, (_, i) => doctor.record(rng, i))
  const urls = [0, 1, 2, 3].map((i) => net.procs.get(`m${i}`)!.rpc)
  let k = 0
  let failed = 0
  timer = setInterval(() => {
    const r = recs[k++]
    if (r === undefined) return
    rpc(urls[k % 4]!, 'ehr_submitRecord', { submission: Buffer.from(r.bytes).toString('base64'), wait: false }).catch(() => { failed++ })
  }, 1000 / RATE)
  await sleep(5000) // warm-up: submissions flowing, every user node following
  const stats = (): { gossip: number, synced: number, min: number, max: number } => ({
    gossip: users.reduce((a, u) => a + (u.light?.headerStats.gossip ?? 0), 0),
    synced: users.reduce((a, u) => a + (u.light?.headerStats.synced ?? 0), 0),
    min: Math.min(...users.map((u) => u.light?.height ?? 0)),
    max: Math.max(...users.map((u) => u.light?.height ?? 0))
  })
  const s0 = stats()
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  await sleep(SECONDS * 1000)
  const c1 = process.cpuUsage(c0)
  const wallS = (performance.now() - t0) / 1000
  const s1 = stats()
  clearInterval(timer)
  timer = undefined
  const cpuMs = (c1.user + c1.system) / 1000
  const appended = (s1.gossip - s0.gossip) + (s1.synced - s0.synced)
  const result = {
    machine,
    options: { users: USERS, rate: RATE, seconds: SECONDS, blockIntervalMs: params.blockInterval },
    window: { wallSeconds: wallS, cpuMs, cpuShare: cpuMs / 1000 / wallS, heights: [s0.max, s1.max], lagAtEnd: s1.max - s1.min },
    headersAppended: appended,
    fromGossip: s1.gossip - s0.gossip,
    fromSync: s1.synced - s0.synced,
    gossipShare: appended === 0 ? 0 : (s1.gossip - s0.gossip) / appended,
    cpuMsPerHeaderPerNode: appended === 0 ? NaN : cpuMs / appended,
    failedSubmissions: failed
  }
  writeJson(OUT, result)
  console.log(`bench:headers — ${machineLine(machine)}\n`)
  console.log(markdownTable(['user nodes', 'records/s', 'window s', 'headers appended', 'from gossip', 'CPU ms / header / node', 'process CPU share'], [[
    String(USERS), String(RATE), wallS.toFixed(1), String(appended), `${(result.gossipShare * 100).toFixed(1)} %`, result.cpuMsPerHeaderPerNode.toFixed(2), `${(result.window.cpuShare * 100).toFixed(0)} %`
  ]], ['right', 'right', 'right', 'right', 'right', 'right', 'right']))
  console.log(`\nwrote ${OUT}`)
} finally {
  if (timer !== undefined) clearInterval(timer)
  for (const u of users) await u.stop().catch(() => {})
  await net.stopAll()
  await rm(root, { recursive: true, force: true })
}
