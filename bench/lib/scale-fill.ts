/**
 * Filling one `bench:scale` row: a fresh network (4 managers, some doctors, 2 user identities)
 * written into the row's directory, records signed in worker threads (scale-worker.ts) and
 * committed block by block into manager 0's stores through the real application code
 * (scale-adapter.ts). When the row is complete, `fill.json` records what was filled and what the
 * measurements need (the SSE counter state of every doctor, a sample of record ids); a directory
 * without a complete `fill.json` is never reused.
 */
import { existsSync, readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { freePorts } from '../../src/cli/procs.js'
import { seededRng } from '../../src/client/synthetic.js'
import { randomBytes, toHex, type PqBackend } from '../../src/crypto/index.js'
import { createDevnet, writeDevnet } from '../../src/node/devnet.js'
import { loadIdentity } from '../../src/node/identity.js'
import { CounterState } from '../../src/sse/index.js'
import { writeJson } from './report.js'
import { openFillTarget } from './scale-adapter.js'
import type { ScaleWorkerData, ScaleWorkerReply, ScaleWorkerRequest } from './scale-worker.js'

export const FILL_VERSION = 2

/** What decides a row's content: a filled row is reused only if these match. */
export interface FillSpec {
  records: number
  perBlock: number
  doctors: number
  noteBytes: number
  seed: number
}

export interface FillMeta extends FillSpec {
  version: number
  complete: boolean
  blocks: number
  workers: number
  patients: number
  chainId: string
  /** Index-2 (consortium) key the records were indexed under, hex. */
  consortiumKey: string
  /** Every doctor's update counts of the index-2 keyword trees (CounterState.encode), base64. */
  counters: string
  /** Record ids (hex) sampled uniformly over the row, for the queries. */
  sampleIds: string[]
  /** Bytes of all submissions (tx + ciphertexts) as the doctors' clients built them. */
  submissionBytes: number
  fillSeconds: number
  /** CPU time of the filling process (every thread: signing workers, committing thread, LevelDB), s; a loaded machine stretches `fillSeconds`, not this. */
  cpuSeconds?: number
  /** Worker time spent building records (summed over workers), s. */
  buildSeconds: number
  /** Time the filler spent validating, admitting, building, validating and committing blocks, s. */
  commitSeconds: number
  /** ISO time the fill finished, and the commit it ran on. */
  filledAt: string
  commit: string
}

const SAMPLE = 2000
const BOOT = fileURLToPath(new URL('./scale-boot.mjs', import.meta.url))
const ENTRY = fileURLToPath(new URL('./scale-worker.ts', import.meta.url))

export function readFillMeta (dir: string): FillMeta | undefined {
  const p = join(dir, 'fill.json')
  if (!existsSync(p)) return undefined
  try { return JSON.parse(readFileSync(p, 'utf8')) as FillMeta } catch { return undefined }
}

/** The filled row in `dir` if it is complete and was filled with `spec`. */
export function reusableFill (dir: string, spec: FillSpec): FillMeta | undefined {
  const m = readFillMeta(dir)
  if (m === undefined || !m.complete || m.version !== FILL_VERSION) return undefined
  return (Object.keys(spec) as Array<keyof FillSpec>).every((k) => m[k] === spec[k]) ? m : undefined
}

/** A worker thread with requests answered in order. */
class GenWorker {
  readonly w: Worker
  private readonly waiting: Array<(r: ScaleWorkerReply) => void> = []
  private failed: Error | undefined
  constructor (data: Omit<ScaleWorkerData, 'entry'>) {
    this.w = new Worker(BOOT, { workerData: { ...data, entry: ENTRY } satisfies ScaleWorkerData, execArgv: [] })
    this.w.on('message', (m: ScaleWorkerReply) => { this.waiting.shift()?.(m) })
    const fail = (err: Error): void => { this.failed = err; for (const w of this.waiting.splice(0)) w({ cmd: 'error', message: err.message }) }
    this.w.on('error', fail)
    this.w.on('exit', (code) => { fail(new Error(`worker exited with ${code}`)) })
  }

  async ask<C extends ScaleWorkerRequest['cmd']> (req: ScaleWorkerRequest & { cmd: C }): Promise<Extract<ScaleWorkerReply, { cmd: C }>> {
    if (this.failed !== undefined) throw this.failed
    const r = await new Promise<ScaleWorkerReply>((resolve) => { this.waiting.push(resolve); this.w.postMessage(req) })
    if (r.cmd === 'error') throw new Error(`scale worker: ${r.message}`)
    if (r.cmd !== req.cmd) throw new Error(`scale worker answered ${r.cmd} to ${req.cmd}`)
    return r as Extract<ScaleWorkerReply, { cmd: C }>
  }
}

export interface FillOptions extends FillSpec {
  dir: string
  workers: number
  pq: PqBackend
  commit: string
  progress: (msg: string) => void
}

/** Fills `o.dir` (emptied first) with `o.records` records; returns (and writes) its fill.json. */
export async function fillRow (o: FillOptions): Promise<FillMeta> {
  await rm(o.dir, { recursive: true, force: true })
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  // genesis addresses are never dialed by the measurements (they pass the manager's address with
  // --bootstrap), so ports picked now need not stay free
  const ports = await freePorts(4)
  const chainId = 'pqmed-scale'
  const files = await createDevnet({ chainId, managers: 4, doctors: o.doctors, users: 2, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}` })
  await writeDevnet(o.dir, files)
  const managers = await Promise.all(files.managers.map(loadIdentity))
  const doctors = await Promise.all(files.doctors.map(loadIdentity))
  const consortiumKey = randomBytes(32)
  const patients = Math.max(1, Math.floor(o.records / 4))
  const nWorkers = Math.max(1, Math.min(o.workers, o.doctors))
  const workers = Array.from({ length: nWorkers }, (_, index) => new GenWorker({
    index,
    workers: nWorkers,
    doctors: doctors.filter((_, d) => d % nWorkers === index).map((d) => ({ id: d.keys.id, sigSecretKey: d.keys.sig.secretKey })),
    consortiumKey,
    seed: o.seed,
    noteBytes: o.noteBytes,
    patients
  }))
  const target = await openFillTarget({ dataDir: join(o.dir, 'm0'), genesis: files.genesis, pq: o.pq, managerSecretKeys: managers.map((m) => m.keys.sig.secretKey) })
  const rng = seededRng(o.seed * 31 + 5)
  const sample: string[] = []
  let seen = 0
  let submissionBytes = 0
  let buildMs = 0
  let commitMs = 0
  try {
    // each worker keeps two blocks' worth of records in flight while the filler commits
    const sizes: number[] = []
    for (let left = o.records; left > 0; left -= o.perBlock) sizes.push(Math.min(o.perBlock, left))
    const pending: Array<Promise<Extract<ScaleWorkerReply, { cmd: 'gen' }>>> = []
    let asked = 0
    const askNext = (): void => { if (asked < sizes.length) { pending.push(workers[asked % nWorkers]!.ask({ cmd: 'gen', n: sizes[asked]! })); asked++ } }
    for (let i = 0; i < 2 * nWorkers; i++) askNext()
    let lastReport = performance.now()
    for (let b = 0; b < sizes.length; b++) {
      const batch = await pending.shift()!
      askNext()
      buildMs += batch.ms
      const tc = performance.now()
      await target.addBlock(batch.items.map((x) => x.bytes))
      commitMs += performance.now() - tc
      for (const it of batch.items) {
        submissionBytes += it.bytes.length
        // reservoir sample of record ids over the whole row
        if (sample.length < SAMPLE) sample.push(toHex(it.recordId))
        else { const j = Math.floor(rng() * (seen + 1)); if (j < SAMPLE) sample[j] = toHex(it.recordId) }
        seen++
      }
      if (performance.now() - lastReport > 10_000 || b === sizes.length - 1) {
        lastReport = performance.now()
        const s = (performance.now() - t0) / 1000
        o.progress(`filled ${seen}/${o.records} records (${b + 1} blocks) in ${s.toFixed(0)} s, ${(seen / s).toFixed(0)} records/s`)
      }
    }
    const counters = new CounterState()
    for (const w of workers) counters.merge(CounterState.decode((await w.ask({ cmd: 'counters' })).state))
    const height = target.height
    await target.close()
    const meta: FillMeta = {
      version: FILL_VERSION,
      complete: true,
      records: o.records,
      perBlock: o.perBlock,
      doctors: o.doctors,
      noteBytes: o.noteBytes,
      seed: o.seed,
      blocks: height,
      workers: nWorkers,
      patients,
      chainId,
      consortiumKey: toHex(consortiumKey),
      counters: Buffer.from(counters.encode()).toString('base64'),
      sampleIds: sample,
      submissionBytes,
      fillSeconds: (performance.now() - t0) / 1000,
      cpuSeconds: (() => { const c = process.cpuUsage(cpu0); return (c.user + c.system) / 1e6 })(),
      buildSeconds: buildMs / 1000,
      commitSeconds: commitMs / 1000,
      filledAt: new Date().toISOString(),
      commit: o.commit
    }
    writeJson(join(o.dir, 'fill.json'), meta)
    return meta
  } catch (err) {
    await target.close().catch(() => {})
    throw err
  } finally {
    await Promise.all(workers.map(async (w) => await w.w.terminate()))
  }
}
