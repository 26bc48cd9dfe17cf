/**
 * `npm run bench:headers`: what following the chain costs a light user node. Four manager
 * processes commit records submitted to their JSON-RPC at a steady rate; `--users` light user
 * nodes run in this process (in-memory header stores, as in bench:table4's workers). Over a
 * measured window it reports this process's CPU time per committed header per user node, and how
 * the user nodes got their headers (appended from gossip, or fetched by range sync: at start, on a
 * gap, or by the 5 s resync), which shows whether gossip keeps up. A V8 CPU profile of this
 * process over a second window of the same length right after it (sampled every 1 ms, in-process)
 * says where that CPU goes: self time grouped by component (ML-DSA, Noise, yamux, gossipsub, CBOR,
 * the header chain code, GC, ...) and the top functions, as shares of the measured CPU. The
 * profiler is not running in the measured window: its sampling costs this process ~10-50 ms of
 * CPU per second, which the measured figure would otherwise include (the profiled window's own
 * CPU per header is reported beside it).
 *
 * After the window, submissions stop and an idle window (`--idle-seconds`, no new blocks) measures
 * what following costs without headers (gossipsub heartbeats, the 5 s resync's status requests,
 * keep-alives); the CPU per header above that idle cost is reported too, since on a loaded machine
 * the block rate, and with it the share of this fixed cost per header, varies from run to run.
 *
 * Options: --users 100  --rate 10 (records/s)  --seconds 15 (measured window)  --idle-seconds 5
 *   --out bench/results/headers.json
 *   --code DIR: run the user nodes and the manager processes from the checkout at DIR instead of
 *     this one (e.g. a `git worktree` of an older commit with node_modules symlinked), to compare
 *     two versions alternately on the same machine; the result records DIR and its commit.
 *   --no-profile: no profiled window.
 *   --profile-out FILE: also write the window's raw V8 profile there (opens in Chrome DevTools).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { freePorts, rpc } from '../src/cli/procs.js'
import { SimulatedDoctor } from '../src/client/simulated-doctor.js'
import { seededRng } from '../src/client/synthetic.js'
import { loadPqBackend } from '../src/crypto/index.js'
import { createDevnet, writeDevnet } from '../src/node/devnet.js'
import { loadIdentity } from '../src/node/identity.js'
import type { RunningNode } from '../src/node/node.js'
import { startNode as startProc, stopAllNodes, stopNode, type NodeProc } from './lib/baseline.js'
import { NODE_CATEGORIES as CATEGORIES, WindowProfiler, type ProfileBreakdown } from './lib/inproc-profile.js'
import { checkArgs, hasFlag, machineInfo, machineLine, managerSpec, markdownTable, optionValue, writeJson } from './lib/index.js'

const argv = process.argv.slice(2)
checkArgs(argv, ['no-profile'], ['users', 'rate', 'seconds', 'idle-seconds', 'out', 'code', 'profile-out'])
const USERS = Number(optionValue(argv, 'users') ?? 100)
const RATE = Number(optionValue(argv, 'rate') ?? 10)
const SECONDS = Number(optionValue(argv, 'seconds') ?? 15)
const IDLE_SECONDS = Number(optionValue(argv, 'idle-seconds') ?? 5)
const OUT = optionValue(argv, 'out') ?? 'bench/results/headers.json'
const CODE = resolve(optionValue(argv, 'code') ?? '.')
const PROFILE = !hasFlag(argv, 'no-profile')
const PROFILE_OUT = optionValue(argv, 'profile-out')
if (!Number.isInteger(USERS) || USERS < 1 || !(RATE > 0) || !(SECONDS > 0) || !(IDLE_SECONDS >= 0)) throw new Error('--users must be an integer ≥ 1, --rate and --seconds > 0, --idle-seconds ≥ 0')
if (!existsSync(join(CODE, 'src', 'node', 'node.ts')) || !existsSync(join(CODE, 'bin', 'pqmed.js'))) throw new Error(`--code ${CODE}: not a pqmed checkout (no src/node/node.ts or bin/pqmed.js)`)
const commit = ((): string => {
  try { return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: CODE, encoding: 'utf8' }).trim() } catch { return 'unknown' }
})()
// the user nodes' code: this checkout's or --code's (same exports in every version compared)
const nodeMod = await import(pathToFileURL(join(CODE, 'src', 'node', 'node.ts')).href) as typeof import('../src/node/node.js')
const genesisMod = await import(pathToFileURL(join(CODE, 'src', 'node', 'genesis.ts')).href) as typeof import('../src/node/genesis.js')

const log = (m: string): void => { process.stderr.write(`[headers] ${m}\n`) }
const sleep = async (ms: number): Promise<void> => { await new Promise((r) => setTimeout(r, ms)) }
const machine = machineInfo()
const root = await mkdtemp(join(tmpdir(), 'pqmed-bench-headers-'))
const managers: NodeProc[] = []
const users: RunningNode[] = []
let timer: NodeJS.Timeout | undefined
try {
  const ports = await freePorts(4)
  const params = { blockInterval: 500, maxBlockRecords: 500, viewChangeTimeout: 3000, heartbeatInterval: 500 }
  const files = await createDevnet({ chainId: 'pqmed-headers', managers: 4, doctors: 1, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}`, params })
  await writeDevnet(root, files)
  // open managers: the user nodes below are throwaway in-process nodes with random peer ids
  log(`code: ${CODE} (${commit.slice(0, 12)}); starting the managers with --open (any peer may connect): benchmark only`)
  // PQMED_NODE_FLAGS passes Node flags to the manager processes (as ProcNet does), e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
  const flags = (process.env.PQMED_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '')
  managers.push(...await Promise.all([0, 1, 2, 3].map(async (i) => await startProc(join(CODE, 'bin', 'pqmed.js'), `m${i}`, managerSpec(root, i, ports[i]!, { open: true }).args, flags, 120_000))))
  const genesis = genesisMod.parseGenesis(await readFile(join(root, 'genesis.json'), 'utf8'))
  log(`4 managers up; starting ${USERS} user nodes in this process`)
  for (let i = 0; i < USERS; i++) users.push(await nodeMod.startNode({ role: 'user', genesis, dataDir: join(root, `u${i}`), listen: ['/ip4/127.0.0.1/tcp/0'], loopback: true, headerStore: 'memory' }))

  const pq = await loadPqBackend()
  const id = await loadIdentity(files.doctors[0]!)
  const doctor = new SimulatedDoctor(pq, { id: id.keys.id, sigSecretKey: id.keys.sig.secretKey }, new Uint8Array(32).fill(9))
  const rng = seededRng(1)
  const total = Math.ceil(RATE * (SECONDS * (PROFILE ? 2 : 1) + 10))
  const recs = Array.from({ length: total }, (_, i) => doctor.record(rng, i))
  const urls = managers.map((m) => m.rpc)
  let k = 0
  let failed = 0
  timer = setInterval(() => {
    const r = recs[k++]
    if (r === undefined) return
    rpc(urls[k % 4]!, 'ehr_submitRecord', { submission: Buffer.from(r.bytes).toString('base64'), wait: false }).catch(() => { failed++ })
  }, 1000 / RATE)
  await sleep(5000) // warm-up: submissions flowing, every user node following
  const stats = (): { gossip: number, synced: number, signatures: number | null, min: number, max: number } => ({
    gossip: users.reduce((a, u) => a + (u.light?.headerStats.gossip ?? 0), 0),
    synced: users.reduce((a, u) => a + (u.light?.headerStats.synced ?? 0), 0),
    // ML-DSA signatures verified by the user nodes (a version that does not count them: null)
    signatures: users.some((u) => typeof u.light?.headerStats.signatures !== 'number') ? null : users.reduce((a, u) => a + (u.light?.headerStats.signatures ?? 0), 0),
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
  // the profiled window: as long as the measured one, submissions still flowing
  let profile: ProfileBreakdown | undefined
  let profiled: { wallSeconds: number, cpuMs: number, headersAppended: number, cpuMsPerHeaderPerNode: number } | null = null
  if (PROFILE) {
    const profiler = new WindowProfiler()
    await profiler.start(1000)
    const p0 = stats()
    const pc0 = process.cpuUsage()
    const pt0 = performance.now()
    await sleep(SECONDS * 1000)
    const pc1 = process.cpuUsage(pc0)
    const pw = (performance.now() - pt0) / 1000
    const p1 = stats()
    profile = await profiler.stop(CATEGORIES, 25, PROFILE_OUT)
    const pAppended = (p1.gossip - p0.gossip) + (p1.synced - p0.synced)
    const pCpu = (pc1.user + pc1.system) / 1000
    profiled = { wallSeconds: pw, cpuMs: pCpu, headersAppended: pAppended, cpuMsPerHeaderPerNode: pAppended === 0 ? NaN : pCpu / pAppended }
  }
  clearInterval(timer)
  timer = undefined
  const cpuMs = (c1.user + c1.system) / 1000
  // the idle window: no submissions, so no new blocks; what following costs per second without
  // headers (heartbeats, the 5 s resync's status requests, keep-alives) — on a slow, loaded run
  // with few blocks this fixed cost weighs on the per-header figure above
  let idle: { wallSeconds: number, cpuMs: number, cpuMsPerSecondPerNode: number, heightsAdvanced: number } | null = null
  if (IDLE_SECONDS > 0) {
    let h = stats().max
    for (let i = 0; i < 20; i++) { await sleep(1000); const n = stats(); if (n.max === h && n.min === n.max) break; h = n.max } // let the mempool drain
    const i0 = stats()
    const ic0 = process.cpuUsage()
    const it0 = performance.now()
    await sleep(IDLE_SECONDS * 1000)
    const ic1 = process.cpuUsage(ic0)
    const iw = (performance.now() - it0) / 1000
    const icpu = (ic1.user + ic1.system) / 1000
    idle = { wallSeconds: iw, cpuMs: icpu, cpuMsPerSecondPerNode: icpu / iw / USERS, heightsAdvanced: stats().max - i0.max }
  }
  const appended = (s1.gossip - s0.gossip) + (s1.synced - s0.synced)
  // a component's CPU per header: its share of the sampled busy time (profiled window) × the measured CPU per header
  // (on a loaded machine samples also count time spent waiting for a core, so the sampled busy
  // time exceeds the process's CPU time; the shares stay meaningful)
  const perHeader = (share: number): number => appended === 0 ? NaN : Math.round(share * cpuMs / appended * 1000) / 1000
  const result = {
    machine,
    code: { dir: CODE, commit },
    options: { users: USERS, rate: RATE, seconds: SECONDS, blockIntervalMs: params.blockInterval },
    window: { wallSeconds: wallS, cpuMs, cpuShare: cpuMs / 1000 / wallS, heights: [s0.max, s1.max], lagAtEnd: s1.max - s1.min },
    headersAppended: appended,
    fromGossip: s1.gossip - s0.gossip,
    fromSync: s1.synced - s0.synced,
    gossipShare: appended === 0 ? 0 : (s1.gossip - s0.gossip) / appended,
    cpuMsPerHeaderPerNode: appended === 0 ? NaN : cpuMs / appended,
    idle,
    // the CPU per header above the idle cost of following (the window's CPU minus the idle rate × its length)
    cpuMsPerHeaderPerNodeAboveIdle: idle === null || appended === 0 ? null : (cpuMs - idle.cpuMsPerSecondPerNode * USERS * wallS) / appended,
    signaturesVerifiedPerHeader: s0.signatures === null || s1.signatures === null || appended === 0 ? null : (s1.signatures - s0.signatures) / appended,
    failedSubmissions: failed,
    // where the CPU went: sampled self time per component, as a share and as ms per header per node
    breakdown: profile === undefined
      ? null
      : {
          sampledBusyMs: profile.busyMs,
          profiledWindow: profiled,
          categories: profile.categories.map((c) => ({ ...c, msPerHeaderPerNode: perHeader(c.share) })),
          topFunctions: profile.top.map((f) => ({ ...f, msPerHeaderPerNode: perHeader(f.share) }))
        }
  }
  writeJson(OUT, result)
  console.log(`bench:headers — ${machineLine(machine)} — code ${commit.slice(0, 12)}${CODE === resolve('.') ? '' : ` (${CODE})`}\n`)
  console.log(markdownTable(['user nodes', 'records/s', 'window s', 'headers appended', 'from gossip', 'CPU ms / header / node', 'idle CPU ms / s / node', 'CPU ms / header / node above idle', 'ML-DSA verifications / header', 'process CPU share'], [[
    String(USERS), String(RATE), wallS.toFixed(1), String(appended), `${(result.gossipShare * 100).toFixed(1)} %`, result.cpuMsPerHeaderPerNode.toFixed(2),
    idle === null ? '-' : `${idle.cpuMsPerSecondPerNode.toFixed(3)}${idle.heightsAdvanced > 0 ? ` (${idle.heightsAdvanced} blocks)` : ''}`,
    result.cpuMsPerHeaderPerNodeAboveIdle === null ? '-' : result.cpuMsPerHeaderPerNodeAboveIdle.toFixed(2),
    result.signaturesVerifiedPerHeader === null ? 'not counted' : result.signaturesVerifiedPerHeader.toFixed(2), `${(result.window.cpuShare * 100).toFixed(0)} %`
  ]], ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right']))
  if (result.breakdown !== null) {
    const pw = result.breakdown.profiledWindow
    console.log(`\nwhere it goes (CPU profile of a second ${SECONDS} s window, self time, as shares of the measured CPU per header; ${result.breakdown.sampledBusyMs.toFixed(0)} ms sampled busy; that window, profiler included: ${pw === null ? '-' : `${pw.headersAppended} headers, ${pw.cpuMsPerHeaderPerNode.toFixed(2)} ms CPU / header / node`}):\n`)
    console.log(markdownTable(['component', 'ms / header / node', 'share'], result.breakdown.categories.map((c) => [c.category, c.msPerHeaderPerNode.toFixed(3), `${(c.share * 100).toFixed(1)} %`]), ['left', 'right', 'right']))
    console.log('\ntop functions:\n')
    console.log(markdownTable(['function', 'ms / header / node', 'share'], result.breakdown.topFunctions.slice(0, 15).map((f) => [f.fn, f.msPerHeaderPerNode.toFixed(3), `${(f.share * 100).toFixed(1)} %`]), ['left', 'right', 'right']))
  }
  console.log(`\nwrote ${OUT}`)
} finally {
  if (timer !== undefined) clearInterval(timer)
  for (const u of users) await u.stop().catch(() => {})
  for (const m of managers) await stopNode(m)
  await stopAllNodes()
  await rm(root, { recursive: true, force: true })
}
