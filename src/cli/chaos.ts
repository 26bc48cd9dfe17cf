/**
 * Fault injection on a local network of real node processes, shared by the crash test
 * (test/node/crash.test.ts) and `npm run test:chaos` (bench/chaos.ts):
 *
 * - `startChaosNet`: the ONE place these tools start a network (sim:local underneath: loopback, or a
 *   network namespace per node with `netns`), with process faults (SIGKILL + restart from the data
 *   dir, SIGSTOP/SIGCONT) and, in namespaces, partitions (blackhole routes between groups);
 * - `LoadGenerator`: submits synthetic records through user nodes and managers, retries transient
 *   failures with the same tx (idempotent), and records every acknowledged record;
 * - `CommitWatch`: samples every manager's height (~100 ms) for the longest commit stall and the
 *   time from each heal/restart to the next commit;
 * - `converge`, `checkForks`, `readBack`: the end-of-run checks (one head, one hash per height,
 *   every acknowledged record read back from a user node and verified on the client: doctor's
 *   signature, ciphertext hashes, Merkle inclusion, commit certificate).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SimulatedDoctor } from '../client/simulated-doctor.js'
import { seededRng } from '../client/synthetic.js'
import { trustFromGenesis, verifyRecordAnswer, type TrustAnchors } from '../client/verify.js'
import { loadPqBackend, toHex, type PqBackend } from '../crypto/index.js'
import type { ConsensusParams } from '../node/genesis.js'
import { loadIdentity, readIdentityFile } from '../node/identity.js'
import type { CertificateJson, ChainStatus, HeaderJson, RecordJson } from '../rpc/index.js'
import type { RunningNetwork } from './network.js'
import { netnsSupport, simLocal, type SimLocal } from './sim-local.js'
import { topologyFromFlags } from './topology.js'

/** A JSON-RPC failure: `code` is the JSON-RPC error code (undefined for a transport failure or timeout). */
export class CallError extends Error {
  readonly code?: number
  readonly data?: unknown
  constructor (message: string, code?: number, data?: unknown) { super(message); this.name = 'CallError'; this.code = code; this.data = data }
}

let callId = 1
/** One JSON-RPC call; every failure (transport, timeout, HTTP, JSON-RPC error) is a CallError. */
export async function call<T> (url: string, method: string, params: unknown = {}, timeoutMs = 10_000): Promise<T> {
  let body: { result?: T, error?: { code: number, message: string, data?: unknown } }
  try {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: callId++, method, params }), signal: AbortSignal.timeout(timeoutMs) })
    body = await res.json() as typeof body
  } catch (err) {
    throw new CallError(`${method} ${url}: ${(err as Error).message}`)
  }
  if (body.error !== undefined) throw new CallError(`${method}: ${body.error.message}`, body.error.code, body.error.data)
  return body.result as T
}

const sleep = async (ms: number): Promise<void> => { await new Promise((r) => setTimeout(r, ms)) }

export interface ChaosNetOptions {
  managers: number
  users: number
  /** A network namespace per node (needed for partitions; root only). */
  netns?: boolean
  consensus?: Partial<ConsensusParams>
  chainId?: string
  /** Keep the data dir (genesis, stores, logs/<node>.log) here; default: a temporary dir, removed by `stop`. */
  dataDir?: string
  log?: (line: string) => void
}

export interface ChaosNet {
  sim: SimLocal
  net: RunningNetwork
  /** Node names: manager-0.., user-0.. */
  managers: string[]
  users: string[]
  /** f = floor((n-1)/3). */
  f: number
  /** The genesis's public keys, for client-side verification. */
  trust: TrustAnchors
  pq: PqBackend
  url: (name: string) => string
  /** Nodes killed and not yet restarted; nodes stopped with SIGSTOP. */
  killed: Set<string>
  frozen: Set<string>
  /** Whether partitions are possible (namespaces), and why not. */
  partitions: { ok: boolean, reason?: string }
  kill: (name: string) => Promise<void>
  restart: (name: string) => Promise<void>
  freeze: (name: string) => void
  thaw: (name: string) => void
  /** Cuts the network between groups of nodes (see NetnsLab.partition); `heal` removes it. */
  partition: (groups: string[][]) => Promise<void>
  heal: () => Promise<void>
  /** SIGCONT to every frozen node, heals partitions, restarts every killed node. */
  healAll: () => Promise<void>
  /** chain_status of one node (throws CallError when it does not answer in `timeoutMs`). */
  status: (name: string, timeoutMs?: number) => Promise<ChainStatus>
  /** The current leader (a manager's name), as the first answering manager reports it. */
  leader: () => Promise<string | undefined>
  /** Thaws and stops every process, removes namespaces and the temporary data dir. Idempotent. */
  stop: () => Promise<void>
}

/**
 * Starts `managers` managers and `users` user nodes as processes (a fresh temporary data dir),
 * one doctor registered in genesis. Every network of the crash test and of `test:chaos` starts here.
 */
export async function startChaosNet (opts: ChaosNetOptions): Promise<ChaosNet> {
  const t = topologyFromFlags({ managers: opts.managers, users: opts.users, doctors: 1, chainId: opts.chainId ?? 'pqmed-chaos' })
  t.consensus = { ...t.consensus, ...opts.consensus }
  let partitions: { ok: boolean, reason?: string } = { ok: false, reason: 'the network runs on plain loopback (no network namespaces), so links cannot be cut' }
  if (opts.netns === true) {
    const s = await netnsSupport()
    if (!s.ok) throw new Error(`network namespaces are not possible here: ${s.reason ?? ''}`)
    partitions = { ok: true }
  }
  // the harness polls every manager (heights every 100 ms, a header per height for the fork check):
  // the per-client JSON-RPC rate limit would throttle the harness, not the system under test
  const sim = await simLocal(t, { netns: opts.netns, dataDir: opts.dataDir, log: opts.log, extraArgs: () => ['--rpc-rate-limit', 'off'] })
  const net = sim.net
  const killed = new Set<string>()
  const frozen = new Set<string>()
  let stopped = false
  const urls = new Map(net.nodes.map((n) => [n.name, n.rpc]))
  const url = (name: string): string => {
    const u = urls.get(name)
    if (u === undefined) throw new Error(`no node ${name}`)
    return u
  }
  const managers = net.managers.map((m) => m.name)
  const status = async (name: string, timeoutMs = 2000): Promise<ChainStatus> => await call<ChainStatus>(url(name), 'chain_status', {}, timeoutMs)
  const thaw = (name: string): void => {
    if (!frozen.delete(name)) return
    net.signal(name, 'SIGCONT')
  }
  const heal = async (): Promise<void> => { await sim.lab?.heal() }
  try {
    const pq = await loadPqBackend()
    const trust = trustFromGenesis(JSON.parse(await readFile(join(net.dir, 'genesis.json'), 'utf8')))
    return {
      sim,
      net,
      managers,
      users: net.users.map((u) => u.name),
      f: Math.floor((managers.length - 1) / 3),
      trust,
      pq,
      url,
      killed,
      frozen,
      partitions,
      kill: async (name) => { frozen.delete(name); killed.add(name); await net.kill(name) },
      restart: async (name) => { await net.restart(name); killed.delete(name) },
      freeze: (name) => { if (net.signal(name, 'SIGSTOP')) frozen.add(name) },
      thaw,
      partition: async (groups) => {
        if (sim.lab === undefined) throw new Error(`partitions are not possible: ${partitions.reason ?? ''}`)
        await sim.lab.partition(groups)
      },
      heal,
      healAll: async () => {
        for (const n of [...frozen]) thaw(n)
        await heal()
        for (const n of [...killed]) { await net.restart(n); killed.delete(n) }
      },
      status,
      leader: async () => {
        for (const m of managers) {
          if (killed.has(m) || frozen.has(m)) continue
          const s = await status(m).catch(() => undefined)
          if (s?.leader !== undefined) return managers[s.leader]
        }
        return undefined
      },
      stop: async () => {
        if (stopped) return
        stopped = true
        for (const n of [...frozen]) thaw(n)
        await sim.stop()
      }
    }
  } catch (err) {
    await sim.stop()
    throw err
  }
}

// ------------------------------------------------------------------------------------------------
// load

export interface AckedRecord {
  recordId: string
  /** Height the node reported (undefined when the ack was a "duplicate: already committed" answer). */
  height?: number
  /** Node that acknowledged it. */
  via: string
  /** ms since the generator started. */
  at: number
}

export interface LoadOptions {
  /** Nodes to submit through, in rotation (a retry goes to the next one). */
  targets: string[]
  /** Open loop: submissions started per second (bounded by `maxInFlight`)... */
  rate?: number
  maxInFlight?: number
  /** ...or closed loop: this many workers, each submitting one record after another. */
  workers?: number
  seed?: number
  /** Per-request timeout (a frozen node answers nothing), ms. Default 20 s. */
  requestTimeoutMs?: number
  /** Called on each acknowledgement (with the committed height when the answer has one). */
  onAck?: (a: AckedRecord) => void
}

/** JSON-RPC codes after which the same tx is submitted again (to the next target). */
const RETRY = new Set([-32040, -32050, -32051, -32031, -32030])

/**
 * Submits synthetic records (one doctor, so index counters never repeat) with `wait: true`.
 * An acknowledgement is `status: committed`, or -32013 with `data.committed` on a retry whose
 * earlier attempt was committed. Transport failures, timeouts and the RETRY codes are retried with
 * the same tx; any other error is a refusal, kept in `refused`.
 */
export class LoadGenerator {
  /** ehr_submitRecord requests sent (including retries). */
  sent = 0
  /** Distinct records submitted. */
  submitted = 0
  readonly acked = new Map<string, AckedRecord>()
  readonly refused: Array<{ recordId: string, error: string }> = []
  /** Submitted records never acknowledged (given up when the drain deadline passed). */
  readonly abandoned: string[] = []
  /** Failed attempts by kind ("-32040", "transport", ...). */
  readonly failures: Record<string, number> = {}
  private readonly opts: LoadOptions
  private readonly doctor: SimulatedDoctor
  private readonly rng: () => number
  private readonly inflight = new Set<Promise<void>>()
  private readonly t0 = Date.now()
  private next = 0
  private producing = false
  private deadline = Infinity
  private ticker?: NodeJS.Timeout
  private workers: Array<Promise<void>> = []

  private constructor (private readonly cn: ChaosNet, doctor: SimulatedDoctor, opts: LoadOptions) {
    this.opts = opts
    this.doctor = doctor
    this.rng = seededRng(opts.seed ?? 1)
  }

  static async create (cn: ChaosNet, opts: LoadOptions): Promise<LoadGenerator> {
    const id = await loadIdentity(await readIdentityFile(join(cn.net.dir, 'identities', 'doctor-0.json')))
    const doctor = new SimulatedDoctor(cn.pq, { id: id.keys.id, sigSecretKey: id.keys.sig.secretKey }, new Uint8Array(32).fill(9))
    return new LoadGenerator(cn, doctor, opts)
  }

  get inFlight (): number { return this.inflight.size }

  start (): void {
    this.producing = true
    if (this.opts.rate !== undefined) {
      const max = this.opts.maxInFlight ?? 64
      this.ticker = setInterval(() => { if (this.inflight.size < max) this.spawn() }, 1000 / this.opts.rate)
    } else {
      this.workers = Array.from({ length: this.opts.workers ?? 4 }, async () => {
        while (this.producing) await this.submitOne()
      })
    }
  }

  /** Stops producing; records still in flight keep retrying until `drainMs` has passed, then are abandoned. */
  async stop (drainMs = 60_000): Promise<void> {
    this.producing = false
    clearInterval(this.ticker)
    this.deadline = Date.now() + drainMs
    await Promise.all([...this.workers, ...this.inflight])
  }

  private spawn (): void {
    const p = this.submitOne().finally(() => { this.inflight.delete(p) })
    this.inflight.add(p)
  }

  /**
   * The next synthetic record as a base64 submission (built by the generator's one doctor, whose
   * index counters never repeat; counted as submitted).
   */
  build (): { recordId: string, submission: string } {
    const s = this.doctor.record(this.rng, this.submitted % 50)
    this.submitted++
    return { recordId: toHex(s.tx.recordId), submission: Buffer.from(s.bytes).toString('base64') }
  }

  private async submitOne (): Promise<void> {
    const { recordId, submission } = this.build()
    const targets = this.opts.targets
    let k = this.next++
    for (;;) {
      const via = targets[k++ % targets.length] as string
      this.sent++
      try {
        const r = await call<{ status: string, height?: number }>(this.cn.url(via), 'ehr_submitRecord', { submission, wait: true }, this.opts.requestTimeoutMs ?? 20_000)
        if (r.status === 'committed') { this.ack({ recordId, height: r.height, via, at: Date.now() - this.t0 }); return }
        this.count(`status ${r.status}`)
      } catch (err) {
        const e = err as CallError
        if (e.code === -32013 && (e.data as { committed?: unknown } | undefined)?.committed === true) {
          this.ack({ recordId, via, at: Date.now() - this.t0 })
          return
        }
        this.count(e.code === undefined ? 'transport' : String(e.code))
        if (e.code !== undefined && !RETRY.has(e.code)) { this.refused.push({ recordId, error: e.message }); return }
      }
      if (Date.now() > this.deadline) { this.abandoned.push(recordId); return }
      await sleep(250)
    }
  }

  private ack (a: AckedRecord): void {
    this.acked.set(a.recordId, a)
    this.opts.onAck?.(a)
  }

  private count (kind: string): void { this.failures[kind] = (this.failures[kind] ?? 0) + 1 }
}

// ------------------------------------------------------------------------------------------------
// commit progress

export interface HealMark {
  /** What was healed, e.g. "restart manager-2", "SIGCONT manager-1", "heal isolate manager-0". */
  label: string
  /** The node that rejoins (its own catch-up is measured), if one. */
  node?: string
  /** ms since the watch started. */
  at: number
  /** Highest manager height when healed. */
  height: number
  /** ms from the heal to the first height increase on any manager. */
  nextCommitMs?: number
  /** ms from the heal until `node` reached `height` (caught up with the others at heal time). */
  catchUpMs?: number
}

/** Samples every manager's height every `intervalMs`; tracks the longest stall and the heal marks. */
export class CommitWatch {
  readonly t0 = Date.now()
  maxHeight = 0
  longestStall = { ms: 0, fromMs: 0, toMs: 0 }
  readonly marks: HealMark[] = []
  samples = 0
  /** [seconds since start, highest manager height], once a second. */
  readonly timeline: Array<[number, number]> = []
  private lastIncrease = Date.now()
  private timer?: NodeJS.Timeout
  private busy = false

  constructor (private readonly cn: ChaosNet, private readonly intervalMs = 100) {}

  start (): void {
    this.lastIncrease = Date.now()
    this.timer = setInterval(() => { if (!this.busy) { this.busy = true; void this.tick().finally(() => { this.busy = false }) } }, this.intervalMs)
  }

  /** Stops sampling; the open interval since the last increase counts as a stall too. */
  async stop (): Promise<void> {
    clearInterval(this.timer)
    while (this.busy) await sleep(10)
    this.closeStall(Date.now())
  }

  /** Records a heal at the current height. */
  mark (label: string, node?: string): HealMark {
    const m: HealMark = { label, node, at: Date.now() - this.t0, height: this.maxHeight }
    this.marks.push(m)
    return m
  }

  /**
   * A height known from elsewhere (a commit acknowledgement carries the height the tx committed
   * at), so a slow status answer does not count as a stall.
   */
  observe (height: number): void {
    if (this.timer !== undefined && height > this.maxHeight) this.raise(height, Date.now())
  }

  private raise (top: number, now: number): void {
    this.closeStall(now)
    this.lastIncrease = now
    this.maxHeight = top
    for (const m of this.marks) if (m.nextCommitMs === undefined && top > m.height) m.nextCommitMs = now - this.t0 - m.at
  }

  private closeStall (now: number): void {
    const ms = now - this.lastIncrease
    if (ms > this.longestStall.ms) this.longestStall = { ms, fromMs: this.lastIncrease - this.t0, toMs: now - this.t0 }
  }

  private async tick (): Promise<void> {
    const heights = new Map<string, number>()
    await Promise.all(this.cn.managers.map(async (m) => {
      if (this.cn.killed.has(m)) return
      const s = await this.cn.status(m, 1000).catch(() => undefined)
      if (s !== undefined) heights.set(m, s.height)
    }))
    this.samples++
    const now = Date.now()
    const top = Math.max(0, ...heights.values())
    if (top > this.maxHeight) this.raise(top, now)
    const sec = Math.floor((now - this.t0) / 1000)
    if (this.timeline.length === 0 || (this.timeline[this.timeline.length - 1] as [number, number])[0] < sec) this.timeline.push([sec, this.maxHeight])
    for (const m of this.marks) {
      if (m.catchUpMs !== undefined || m.node === undefined) continue
      const h = heights.get(m.node)
      if (h !== undefined && h >= m.height) m.catchUpMs = now - this.t0 - m.at
    }
  }
}

// ------------------------------------------------------------------------------------------------
// end-of-run checks

/** Waits until every node in `names` reports the same height and head hash. */
export async function converge (cn: ChaosNet, names: string[], timeoutMs = 60_000): Promise<{ height: number, headerHash: string }> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const st = await Promise.all(names.map(async (n) => await cn.status(n).catch((e: Error) => e)))
    const ok = st.filter((s): s is ChainStatus => !(s instanceof Error))
    if (ok.length === names.length) {
      const top = Math.max(...ok.map((s) => s.height))
      if (ok.every((s) => s.height === top && s.headerHash === ok[0]?.headerHash)) return { height: top, headerHash: ok[0]?.headerHash as string }
      if (ok.every((s) => s.height === top)) throw new Error(`fork: nodes at height ${top} disagree on the head hash: ${ok.map((s) => s.headerHash.slice(0, 12)).join(' ')}`)
    }
    if (Date.now() > deadline) {
      const seen = names.map((n, i) => { const s = st[i]; return `${n}=${s instanceof Error ? s.message : s?.height ?? '?'}` }).join(', ')
      throw new Error(`no convergence in ${timeoutMs} ms: ${seen}`)
    }
    await sleep(200)
  }
}

export interface ForkCheck {
  /** Heights compared (1..height). */
  height: number
  /** Header hashes compared (nodes × heights). */
  compared: number
  forks: Array<{ height: number, hashes: Record<string, string> }>
}

/** Compares the header hash at every height 1..`height` across `names` (chain_getHeader). */
export async function checkForks (cn: ChaosNet, names: string[], height: number, concurrency = 8): Promise<ForkCheck> {
  const forks: ForkCheck['forks'] = []
  let compared = 0
  let next = 1
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (;;) {
      const h = next++
      if (h > height) return
      const hashes: Record<string, string> = {}
      for (const n of names) {
        const r = await call<{ header: { hash: string } }>(cn.url(n), 'chain_getHeader', { height: h }, 10_000)
        hashes[n] = r.header.hash
        compared++
      }
      if (new Set(Object.values(hashes)).size !== 1) forks.push({ height: h, hashes })
    }
  }))
  forks.sort((a, b) => a.height - b.height)
  return { height, compared, forks }
}

export interface ReadBack {
  verified: number
  /** Acknowledged but not found (-32001 unknown record) on any manager. */
  lost: string[]
  /** Found, but a check failed or it could not be read (with the reason). */
  invalid: Array<{ recordId: string, reason: string }>
}

/**
 * Reads every record in `ids` from the user nodes `via` (in rotation) and verifies the answer on
 * the client (`verifyRecordAnswer` with the genesis's keys): header hash, ciphertext hashes,
 * inclusion, doctor's signature, and the managers' commit certificate for its height (fetched
 * from a manager when the user node, which keeps only its newest certificate, has none).
 */
export async function readBack (cn: ChaosNet, ids: string[], via: string[], concurrency = 8): Promise<ReadBack> {
  const out: ReadBack = { verified: 0, lost: [], invalid: [] }
  const certs = new Map<number, Promise<CertificateJson | null>>()
  const certAt = async (h: number): Promise<CertificateJson | null> => {
    let p = certs.get(h)
    if (p === undefined) {
      p = (async () => {
        for (const m of cn.managers) {
          const r = await call<{ header: HeaderJson, certificate: CertificateJson | null }>(cn.url(m), 'chain_getHeader', { height: h }).catch(() => undefined)
          if (r?.certificate != null) return r.certificate
        }
        return null
      })()
      certs.set(h, p)
    }
    return await p
  }
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (;;) {
      const i = next++
      const id = ids[i]
      if (id === undefined) return
      const u = via[i % via.length] as string
      let rec: RecordJson | undefined
      let lastErr: CallError | undefined
      for (let attempt = 0; attempt < 20 && rec === undefined; attempt++) {
        try { rec = await call<RecordJson>(cn.url(u), 'ehr_getRecord', { recordId: id }, 20_000) } catch (err) {
          lastErr = err as CallError
          if (lastErr.code === -32001 && attempt >= 4) break  // unknown on every manager, asked five times
          await sleep(500)
        }
      }
      if (rec === undefined) {
        if (lastErr?.code === -32001) out.lost.push(id)
        else out.invalid.push({ recordId: id, reason: lastErr?.message ?? 'no answer' })
        continue
      }
      if (rec.certificate === null) rec = { ...rec, certificate: await certAt(rec.height) }
      const v = verifyRecordAnswer(cn.pq, rec, cn.trust)
      const c = v.checks
      if (v.valid && c.signature === true && c.certificate === true && c.doctorRegistered === true && rec.tx.recordId === id) out.verified++
      else out.invalid.push({ recordId: id, reason: `verification failed: ${JSON.stringify(c)}` })
    }
  }))
  return out
}
