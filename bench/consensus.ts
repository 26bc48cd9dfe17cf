/**
 * `npm run bench:consensus`: 4 manager processes on loopback (real libp2p, PBFT, LevelDB), fed
 * over JSON-RPC by this process. Each run starts a fresh network and measures
 *
 * - throughput: N pre-signed records submitted with `wait: true` at high concurrency; committed
 *   records per second from the first submission to the last commit;
 * - finality latency at light load: one record every `--interval` ms; the time from submission to
 *   the committed answer, p50/p95;
 * - with `--down K`: throughput again (N more records) after K managers were paused with SIGSTOP
 *   (a real process that stops answering, as a hung or crashed host), submitted to the others;
 *   reported against the healthy figure of the same run.
 *
 * Every manager runs with `--cpu-prof`; the profiles are cut to each phase's time window and
 * summed: busy ms per manager, µs per record, and the top functions and files by self time.
 * "Busy" is the profile's non-idle time: V8 attributes the wall time between two samples to the
 * function sampled, so on a loaded machine it includes time the process waited for a core (the
 * four managers together can show more busy time than 2 cores × the phase); the shares by
 * function are what to read.
 *
 * `--baseline REF` also unpacks git ref REF (`git archive`, node_modules symlinked, removed at the
 * end) and runs its managers with the same records, alternating new and baseline `--rounds` times
 * (order swapped every round), so a machine that is slow today slows both: compare the ratio.
 *
 * Options: --records N (3000), --light N (200), --interval MS (100), --rounds R (3 with
 * --baseline, else 1), --baseline REF, --down K (0; at most f = 1), --clients C (128 concurrent
 * submitters; few clients make small blocks and many heights, as `npm start`'s 8 clients do),
 * --out PATH, --quick.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePorts, rpc } from '../src/cli/procs.js'
import { SimulatedDoctor } from '../src/client/simulated-doctor.js'
import { seededRng } from '../src/client/synthetic.js'
import { loadPqBackend } from '../src/crypto/index.js'
import { createDevnet, writeDevnet, type DevnetFiles } from '../src/node/devnet.js'
import { loadIdentity } from '../src/node/identity.js'
import { checkArgs, hasFlag, machineInfo, machineLine, managerSpec, markdownTable, optionValue, summarize, writeJson } from './lib/index.js'
import { checkoutRef, currentCheckout, startNode, stopAllNodes, stopNode, type Checkout, type NodeProc } from './lib/baseline.js'
import { mergeSlices, nowUs, sliceProfiles, topFiles, topFunctions, type FunctionCost, type ProfileSlice } from './lib/cpuprofile.js'

const argv = process.argv.slice(2)
checkArgs(argv, ['quick'], ['records', 'light', 'interval', 'out', 'rounds', 'baseline', 'down', 'clients'])
const quick = hasFlag(argv, 'quick')
const intOpt = (name: string, dflt: number, min: number, max: number): number => {
  const raw = optionValue(argv, name)
  const v = raw === undefined ? dflt : Number(raw)
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`--${name} must be an integer in ${min}..${max}, got ${raw ?? ''}`)
  return v
}
const BASELINE = optionValue(argv, 'baseline')
const N = intOpt('records', quick ? 100 : 3000, 1, 1_000_000)
const LIGHT = intOpt('light', quick ? 20 : 200, 0, 100_000)
const INTERVAL = intOpt('interval', 100, 1, 60_000)
const ROUNDS = intOpt('rounds', BASELINE !== undefined ? (quick ? 1 : 3) : 1, 1, 50)
const MANAGERS = 4
const DOWN = intOpt('down', 0, 0, 1) // f = 1 of 4: pausing more stops every quorum
const out = optionValue(argv, 'out') ?? (quick ? undefined : 'bench/results/consensus.json')
const CONCURRENCY = intOpt('clients', 128, 1, 10_000)
const TOP = 25

const repo = fileURLToPath(new URL('..', import.meta.url))
const roots = new Set<string>()
let stopping = false
const params = { blockInterval: 50, maxBlockRecords: 500, viewChangeTimeout: 3000, heartbeatInterval: 500 }

interface Throughput {
  records: number
  seconds: number
  recordsPerSecond: number
  blocks: number
  /** Blocks of the phase committed in a view > 0 (their height had a view change). */
  viewChanges: number
}

async function viewChanges (url: string, from: number, to: number): Promise<number> {
  let n = 0
  for (let h = from; h <= to; h++) {
    const r = await rpc<{ certificate: { view: number } | null }>(url, 'chain_getHeader', { height: h })
    if ((r.certificate?.view ?? 0) > 0) n++
  }
  return n
}
interface PhaseProfile {
  /** Busy ms of each manager in the phase (non-idle profile time, see the module comment), m0..m3. */
  cpuMsPerManager: number[]
  cpuMsTotal: number
  cpuUsPerRecord: number
  topFunctions: FunctionCost[]
  topFiles: FunctionCost[]
}
interface Run {
  variant: 'new' | 'baseline'
  round: number
  commit: string
  healthy: Throughput & { profile: PhaseProfile }
  latency: { records: number, intervalMs: number, meanMs: number, p50Ms: number, p95Ms: number, maxMs: number } | null
  down: (Throughput & { paused: string[], ofHealthy: number, profile: PhaseProfile }) | null
}

function phaseProfile (slices: ProfileSlice[], records: number): PhaseProfile {
  const all = mergeSlices(slices)
  return {
    cpuMsPerManager: slices.map((s) => Math.round(s.cpuUs / 1000)),
    cpuMsTotal: Math.round(all.cpuUs / 1000),
    cpuUsPerRecord: Math.round(all.cpuUs / Math.max(records, 1)),
    topFunctions: topFunctions(all, records, TOP),
    topFiles: topFiles(all, records, TOP)
  }
}

/**
 * One submission with `wait: true`. A connection the server closed under the client, or a
 * `NOT_COMMITTED` answer (the node's 30 s wait ran out: both seen on a heavily loaded machine) is
 * retried, at most 3 times: resubmitting is harmless, and a tx committed meanwhile is answered
 * DUPLICATE with `committed: true`. The retries are counted in the phase's time.
 */
async function submitWait (url: string, submission: string, timeoutMs: number): Promise<{ status: string }> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await rpc<{ status: string }>(url, 'ehr_submitRecord', { submission, wait: true }, timeoutMs)
    } catch (err) {
      if (attempt > 0 && /already committed/.test((err as Error).message)) return { status: 'committed' }
      const notCommitted = (err as { rpcCode?: number }).rpcCode === -32040 // NOT_COMMITTED in time: pending, resubmitting is safe
      if (attempt >= 3 || !(notCommitted || (err instanceof TypeError && /fetch failed/.test(err.message)))) throw err
      process.stderr.write(`  (${notCommitted ? 'a submission not committed within the node\'s wait' : `a submission's connection was closed: ${String((err as { cause?: unknown }).cause ?? err)}`}; retried)\n`)
    }
  }
}

type PqBackendLike = Awaited<ReturnType<typeof loadPqBackend>>
type DoctorClass = new (pq: PqBackendLike, keys: { id: Uint8Array, sigSecretKey: Uint8Array }, consortiumKey: Uint8Array) => { record: (rng: () => number, patient: number) => { bytes: Uint8Array } }

async function submitAll (urls: string[], subs: string[]): Promise<number> {
  let next = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    for (;;) {
      const i = next++
      if (i >= subs.length) return
      const r = await submitWait(urls[i % urls.length]!, subs[i]!, 180_000)
      if (r.status !== 'committed') throw new Error(`record ${i} not committed`)
    }
  }))
  return (performance.now() - t0) / 1000
}

/** One fresh network of `checkout`'s managers: healthy throughput, light-load latency, then (with --down) throughput with managers paused. */
async function runOnce (checkout: Checkout, variant: Run['variant'], round: number, files: DevnetFiles, subs: string[]): Promise<Run> {
  if (stopping) throw new Error('stopped')
  const root = await mkdtemp(join(tmpdir(), 'pqmed-bench-consensus-'))
  roots.add(root)
  const procs: NodeProc[] = []
  try {
    const ports = await freePorts(MANAGERS)
    const genesis = { ...files.genesis, managers: files.genesis.managers.map((m, i) => ({ ...m, addrs: [`/ip4/127.0.0.1/tcp/${ports[i]!}`] })) }
    await writeDevnet(root, { ...files, genesis })
    const profDirs = ports.map((_, i) => join(root, `prof-m${i}`))
    for (let i = 0; i < MANAGERS; i++) {
      const p = await startNode(checkout.bin, `m${i}`, managerSpec(root, i, ports[i]!).args, ['--cpu-prof', `--cpu-prof-dir=${profDirs[i]!}`])
      procs.push(p)
    }
    const urls = procs.map((p) => p.rpc)
    await new Promise((r) => setTimeout(r, 1500)) // let the gossip mesh form
    const height = async (url: string): Promise<number> => (await rpc<{ height: number }>(url, 'chain_status')).height

    process.stderr.write(`[${variant} ${checkout.commit.slice(0, 8)} round ${round}] throughput: ${N} records...\n`)
    const h0 = await height(urls[0]!)
    const w0 = nowUs()
    const seconds = await submitAll(urls, subs.slice(0, N))
    const w1 = nowUs()
    const h1 = await height(urls[0]!)
    const healthy: Throughput = { records: N, seconds: round3(seconds), recordsPerSecond: Math.round(N / seconds), blocks: h1 - h0, viewChanges: await viewChanges(urls[0]!, h0 + 1, h1) }

    let latency: Run['latency'] = null
    if (LIGHT > 0) {
      process.stderr.write(`  latency: ${LIGHT} records, one every ${INTERVAL} ms...\n`)
      const lat: number[] = []
      const pending: Array<Promise<void>> = []
      for (let k = 0; k < LIGHT; k++) {
        const start = performance.now()
        pending.push(submitWait(urls[k % urls.length]!, subs[N + k]!, 60_000).then(() => { lat.push(performance.now() - start) }))
        await new Promise((r) => setTimeout(r, INTERVAL))
      }
      await Promise.all(pending)
      const l = summarize(lat)
      latency = { records: LIGHT, intervalMs: INTERVAL, meanMs: round3(l.mean), p50Ms: round3(l.p50), p95Ms: round3(l.p95), maxMs: round3(l.max) }
    }

    let down: { t: Throughput, paused: string[], w: [number, number] } | null = null
    if (DOWN > 0) {
      const paused = procs.slice(MANAGERS - DOWN)
      const live = procs.slice(0, MANAGERS - DOWN)
      for (const p of paused) p.child.kill('SIGSTOP')
      process.stderr.write(`  down: ${paused.map((p) => p.name).join(', ')} paused (SIGSTOP); ${N} records to the others...\n`)
      const liveUrls = live.map((p) => p.rpc)
      const d0 = await height(liveUrls[0]!)
      const v0 = nowUs()
      const s = await submitAll(liveUrls, subs.slice(N + LIGHT, 2 * N + LIGHT))
      const v1 = nowUs()
      const d1 = await height(liveUrls[0]!)
      down = { t: { records: N, seconds: round3(s), recordsPerSecond: Math.round(N / s), blocks: d1 - d0, viewChanges: await viewChanges(liveUrls[0]!, d0 + 1, d1) }, paused: paused.map((p) => p.name), w: [v0, v1] }
    }

    for (const p of procs.splice(0)) await stopNode(p) // clean exits write the profiles
    const slices = (fromUs: number, toUs: number): ProfileSlice[] => profDirs.map((d) => sliceProfiles(d, { fromUs, toUs }))
    const run: Run = {
      variant,
      round,
      commit: checkout.commit,
      healthy: { ...healthy, profile: phaseProfile(slices(w0, w1), N) },
      latency,
      down: down === null ? null : { ...down.t, paused: down.paused, ofHealthy: round3(down.t.recordsPerSecond / healthy.recordsPerSecond), profile: phaseProfile(slices(down.w[0], down.w[1]), N) }
    }
    process.stderr.write(`  ${healthy.recordsPerSecond} records/s healthy (${healthy.blocks} blocks, ${healthy.viewChanges} view changes)${run.down !== null ? `, ${run.down.recordsPerSecond} with ${run.down.paused.join(',')} paused (${(run.down.ofHealthy * 100).toFixed(0)} %, ${run.down.blocks} blocks, ${run.down.viewChanges} view changes)` : ''}${latency !== null ? `, latency p50 ${latency.p50Ms.toFixed(1)} ms` : ''}; ${run.healthy.profile.cpuUsPerRecord} µs busy per record\n`)
    return run
  } finally {
    for (const p of procs) await stopNode(p)
    await rm(root, { recursive: true, force: true })
    roots.delete(root)
  }
}

function round3 (x: number): number { return Math.round(x * 1000) / 1000 }
function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

const machine = machineInfo()
const current = currentCheckout(repo)
const baseline = BASELINE !== undefined ? await checkoutRef(repo, BASELINE) : null
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    stopping = true
    process.stderr.write(`${sig}: stopping the managers${baseline !== null ? ' and removing the baseline checkout' : ''}\n`)
    void stopAllNodes()
      .then(async () => { await baseline?.remove(); for (const r of roots) await rm(r, { recursive: true, force: true }) })
      .finally(() => process.exit(130))
  })
}
try {
  // One set of identities and pre-signed records for every run: each run gets fresh data dirs and ports.
  const files = await createDevnet({ chainId: 'pqmed-bench', managers: MANAGERS, doctors: 1, managerAddr: () => '/ip4/127.0.0.1/tcp/1', params })
  const id = await loadIdentity(files.doctors[0]!)
  const total = N + LIGHT + (DOWN > 0 ? N : 0)
  const sign = (pq: PqBackendLike, Doctor: DoctorClass, rng: () => number): string[] => {
    const doctor = new Doctor(pq, { id: id.keys.id, sigSecretKey: id.keys.sig.secretKey }, new Uint8Array(32).fill(1))
    return Array.from({ length: total }, (_, i) => Buffer.from(doctor.record(rng, i % 500).bytes).toString('base64'))
  }
  process.stderr.write(`signing ${total} records...\n`)
  const subs = new Map<Checkout, string[]>([[current, sign(await loadPqBackend(), SimulatedDoctor, seededRng(42))]])
  if (baseline !== null) {
    // The baseline's own client code signs its records (same doctor, seed and patients): the tx
    // format may have changed since (b5afef6's record tx has no 'owner' field, for one).
    process.stderr.write(`signing ${total} records with ${baseline.commit.slice(0, 8)}'s client code...\n`)
    const client = await import(join(baseline.dir, 'src/client/simulated-doctor.ts')) as { SimulatedDoctor: DoctorClass }
    const synthetic = await import(join(baseline.dir, 'src/client/synthetic.ts')) as { seededRng: typeof seededRng }
    const crypto = await import(join(baseline.dir, 'src/crypto/index.ts')) as { loadPqBackend: () => Promise<PqBackendLike> }
    subs.set(baseline, sign(await crypto.loadPqBackend(), client.SimulatedDoctor, synthetic.seededRng(42)))
  }

  const runs: Run[] = []
  for (let r = 1; r <= ROUNDS; r++) {
    const order: Array<[Checkout, Run['variant']]> = [[current, 'new']]
    if (baseline !== null) order.push([baseline, 'baseline'])
    if (r % 2 === 0) order.reverse()
    for (const [c, v] of order) runs.push(await runOnce(c, v, r, files, subs.get(c)!))
  }

  const summary = (variant: Run['variant']): Record<string, number | string | null> | null => {
    const rs = runs.filter((x) => x.variant === variant)
    if (rs.length === 0) return null
    const downs = rs.flatMap((x) => x.down === null ? [] : [x.down.ofHealthy])
    return {
      commit: rs[0]!.commit,
      runs: rs.length,
      recordsPerSecondMedian: median(rs.map((x) => x.healthy.recordsPerSecond)),
      latencyP50MsMedian: rs.every((x) => x.latency !== null) ? round3(median(rs.map((x) => x.latency!.p50Ms))) : null,
      downRecordsPerSecondMedian: downs.length > 0 ? median(rs.map((x) => x.down!.recordsPerSecond)) : null,
      downOfHealthyMedian: downs.length > 0 ? round3(median(downs)) : null,
      cpuUsPerRecordMedian: median(rs.map((x) => x.healthy.profile.cpuUsPerRecord))
    }
  }
  const sNew = summary('new')!
  const sBase = summary('baseline')
  const ratio = (k: string): number | null => sBase === null || typeof sBase[k] !== 'number' || typeof sNew[k] !== 'number' ? null : round3((sNew[k] as number) / (sBase[k] as number))
  const result = {
    machine,
    note: 'measured on a shared machine (other processes competed for the 2 cores); compare variants within this run, alternated round by round. ' +
      'Profile figures (cpuMs*, cpuUsPerRecord, ms of functions) are non-idle profile time: on a loaded machine they include time spent waiting for a core; read the shares.',
    params,
    options: { records: N, light: LIGHT, intervalMs: INTERVAL, rounds: ROUNDS, baseline: BASELINE ?? null, down: DOWN, concurrency: CONCURRENCY },
    summary: {
      new: sNew,
      baseline: sBase,
      newOverBaseline: sBase === null ? null : { recordsPerSecond: ratio('recordsPerSecondMedian'), downRecordsPerSecond: ratio('downRecordsPerSecondMedian'), latencyP50: ratio('latencyP50MsMedian'), cpuPerRecord: ratio('cpuUsPerRecordMedian') }
    },
    runs
  }

  console.log(`Machine: ${machineLine(machine)} (load ${machine.loadAvg1} at start; shared)\n`)
  const rows = runs.map((x) => [
    `${x.variant} ${x.commit.slice(0, 8)}`, String(x.round), String(x.healthy.recordsPerSecond), `${x.healthy.blocks} / ${x.healthy.viewChanges}`,
    x.latency === null ? '–' : `${x.latency.p50Ms.toFixed(1)} / ${x.latency.p95Ms.toFixed(1)}`,
    x.down === null ? '–' : `${x.down.recordsPerSecond} (${(x.down.ofHealthy * 100).toFixed(0)} %), ${x.down.blocks} / ${x.down.viewChanges}`,
    String(x.healthy.profile.cpuUsPerRecord), x.healthy.profile.cpuMsPerManager.join(' / ')
  ])
  console.log(markdownTable(['variant', 'round', `records/s (${CONCURRENCY} clients)`, 'blocks / view changes', 'finality p50 / p95 ms', `records/s with ${DOWN} paused (of healthy), blocks / view changes`, 'busy µs / record', 'CPU ms m0/m1/m2/m3'], rows,
    ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right']))
  if (sBase !== null) {
    const nob = result.summary.newOverBaseline!
    console.log(`\nmedians: new ${String(sNew.recordsPerSecondMedian)} records/s, baseline ${String(sBase.recordsPerSecondMedian)}: ratio ${String(nob.recordsPerSecond)}` +
      (DOWN > 0 ? `; with ${DOWN} paused: new ${String(sNew.downRecordsPerSecondMedian)} (${String(sNew.downOfHealthyMedian)} of healthy), baseline ${String(sBase.downRecordsPerSecondMedian)} (${String(sBase.downOfHealthyMedian)}): ratio ${String(nob.downRecordsPerSecond)}` : ''))
  }
  const last = runs.filter((x) => x.variant === 'new').at(-1)!
  console.log(`\nBusy time by function, new code, round ${last.round}, healthy phase (all managers, self time):\n`)
  console.log(markdownTable(['function', 'ms', 'µs / record', 'share'], last.healthy.profile.topFunctions.slice(0, 12).map((f) => [f.fn, f.ms.toFixed(0), f.usPerRecord.toFixed(0), `${(f.share * 100).toFixed(1)} %`]), ['left', 'right', 'right', 'right']))
  if (out !== undefined) console.log(`\nwrote ${writeJson(out, result)}`)
} catch (err) {
  if (!stopping) throw err // interrupted: the handler reports and exits
} finally {
  await baseline?.remove()
}
