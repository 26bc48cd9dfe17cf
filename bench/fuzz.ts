/**
 * `npm run bench:fuzz`: does a node's memory keep growing under the JSON-RPC fuzz? Starts the fuzz
 * network (1 manager + 1 user node as processes, bench/lib/fuzz-net.ts), runs several rounds of
 * the seeded fuzz (bench/lib/rpc-fuzz.ts) against both nodes at once, and after each round reads
 * each process's resident set (VmRSS) and its high-water mark (VmHWM) from /proc/<pid>/status.
 * With --heap, each node also writes a heap snapshot after each round (`--heapsnapshot-signal`,
 * which runs a full GC first); the live JS heap is the snapshot's summed node sizes. Snapshots
 * are kept with --keep-snapshots DIR (to compare in Chrome DevTools).
 *
 * Options: --rounds N (6), --requests N per node per round (2000), --seed S (PQMED_FUZZ_SEED or
 * random), --heap, --keep-snapshots DIR, --kinds K,K (only these request classes, e.g.
 * huge-string,oversized: which class moves the RSS), --out PATH (bench/results/fuzz.json).
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { alive, commitAndVerify, procMemory, startFuzzNetwork } from './lib/fuzz-net.js'
import { FUZZ_KINDS, fuzzSeed, runFuzz, type FuzzReport } from './lib/rpc-fuzz.js'
import { checkArgs, formatNumber, hasFlag, machineInfo, machineLine, markdownTable, optionValue, writeJson } from './lib/index.js'

const argv = process.argv.slice(2)
checkArgs(argv, ['heap'], ['rounds', 'requests', 'seed', 'keep-snapshots', 'kinds', 'out'])
const ROUNDS = Number(optionValue(argv, 'rounds') ?? 6)
const REQUESTS = Number(optionValue(argv, 'requests') ?? 2000)
const SEED = fuzzSeed(optionValue(argv, 'seed') ?? process.env.PQMED_FUZZ_SEED)
const HEAP = hasFlag(argv, 'heap')
const KEEP = optionValue(argv, 'keep-snapshots')
const KINDS = optionValue(argv, 'kinds')?.split(',')
const unknownKind = KINDS?.find((k) => !(FUZZ_KINDS as readonly string[]).includes(k))
if (unknownKind !== undefined) throw new Error(`--kinds: unknown class '${unknownKind}' (known: ${FUZZ_KINDS.join(', ')})`)
const out = optionValue(argv, 'out') ?? 'bench/results/fuzz.json'
if (!(Number.isInteger(ROUNDS) && ROUNDS >= 1) || !(Number.isInteger(REQUESTS) && REQUESTS >= 1)) throw new Error('--rounds and --requests must be positive integers')

const machine = machineInfo()
const snapDir = HEAP ? await mkdtemp(join(tmpdir(), 'pqmed-fuzz-heap-')) : undefined
if (snapDir !== undefined) {
  // every node process writes its snapshots into snapDir on SIGUSR2 (file names carry the pid)
  process.env.PQMED_NODE_FLAGS = `${process.env.PQMED_NODE_FLAGS ?? ''} --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapDir}`.trim()
}
console.error(`fuzz seed ${SEED} (reproduce with --seed ${SEED} or PQMED_FUZZ_SEED=${SEED}); ${ROUNDS} rounds × ${REQUESTS} requests per node`)

/** Live heap (MiB) from a V8 heap snapshot: the summed self sizes of its nodes. */
async function snapshotHeapMiB (file: string): Promise<number> {
  const snap = JSON.parse(await readFile(file, 'utf8')) as { snapshot: { meta: { node_fields: string[] } }, nodes: number[] }
  const fields = snap.snapshot.meta.node_fields
  const width = fields.length
  const at = fields.indexOf('self_size')
  let sum = 0
  for (let i = at; i < snap.nodes.length; i += width) sum += snap.nodes[i] as number
  return sum / 2 ** 20
}

/** Sends SIGUSR2 to `pid` and waits for its new snapshot file to be complete; returns its live heap. */
async function heapOf (pid: number, round: number, name: string): Promise<number | undefined> {
  if (snapDir === undefined) return undefined
  const before = new Set(await readdir(snapDir))
  process.kill(pid, 'SIGUSR2')
  const deadline = Date.now() + 120_000
  for (;;) {
    await new Promise((r) => setTimeout(r, 500))
    const fresh = (await readdir(snapDir)).find((f) => !before.has(f) && f.includes(`.${pid}.`) && f.endsWith('.heapsnapshot'))
    if (fresh !== undefined) {
      const path = join(snapDir, fresh)
      // written in one go; wait until its size stops changing and it parses
      let size = -1
      for (;;) {
        const s = (await stat(path)).size
        if (s === size && s > 0) break
        size = s
        await new Promise((r) => setTimeout(r, 500))
      }
      try {
        const mib = await snapshotHeapMiB(path)
        if (KEEP !== undefined) { await mkdir(resolve(KEEP), { recursive: true }); await rename(path, join(resolve(KEEP), `${name}-round${round}.heapsnapshot`)) } else await rm(path)
        return mib
      } catch { /* not complete yet */ }
    }
    if (Date.now() > deadline) return undefined
  }
}

interface Row { round: number, requests: number, seconds: number, problems: number, manager: Mem, user: Mem }
interface Mem { rssMiB: number, hwmMiB: number, heapMiB?: number }

const f = await startFuzzNetwork({ seed: SEED, log: (l) => { console.error(`  ${l}`) } })
const rows: Row[] = []
const reports: Array<{ round: number, manager: FuzzReport, user: FuzzReport }> = []
let final: Awaited<ReturnType<typeof commitAndVerify>> | undefined
let codes: Record<string, number | null> | undefined
try {
  const submissions = Array.from({ length: 4 }, (_, i) => f.doctor.record(f.rng, i).bytes)
  const ctx = { doc: f.doc, submissions, ...(KINDS !== undefined ? { kinds: KINDS } : {}) }
  const measure = async (round: number, requests: number, seconds: number, problems: number): Promise<void> => {
    await new Promise((r) => setTimeout(r, 2000)) // let in-flight work settle
    const mem = async (pid: number, name: string): Promise<Mem> => {
      const heapMiB = await heapOf(pid, round, name)
      const m = await procMemory(pid)
      if (m === undefined) throw new Error(`cannot read /proc/${pid}/status (Linux only)`)
      return heapMiB === undefined ? m : { ...m, heapMiB }
    }
    const row = { round, requests, seconds, problems, manager: await mem(f.manager.pid, 'manager'), user: await mem(f.user.pid, 'user') }
    rows.push(row)
    console.error(`round ${round}: manager RSS ${row.manager.rssMiB.toFixed(0)} MiB, user RSS ${row.user.rssMiB.toFixed(0)} MiB${HEAP ? ` (heap ${row.manager.heapMiB?.toFixed(1)} / ${row.user.heapMiB?.toFixed(1)} MiB)` : ''}, ${problems} problems`)
  }
  await measure(0, 0, 0, 0)
  for (let r = 1; r <= ROUNDS; r++) {
    const t0 = performance.now()
    const [m, u] = await Promise.all([f.manager, f.user].map(async (e) => await runFuzz({ url: e.rpc, ctx, seed: (SEED + r) >>> 0, requests: REQUESTS })))
    reports.push({ round: r, manager: m!, user: u! })
    if (!alive(f.manager.pid) || !alive(f.user.pid)) throw new Error(`a node died in round ${r}`)
    await measure(r, 2 * REQUESTS, (performance.now() - t0) / 1000, m!.problems.length + u!.problems.length)
  }
  final = await commitAndVerify(f, f.user.rpc, f.user.rpc)
} finally {
  codes = await f.stop()
  if (snapDir !== undefined && existsSync(snapDir)) await rm(snapDir, { recursive: true, force: true })
}

const heapCols = HEAP ? ['manager heap MiB', 'user heap MiB'] : []
console.log(`\nJSON-RPC fuzz, memory per round (${machineLine(machine)}; seed ${SEED}; ${REQUESTS} requests per node per round; classes: ${KINDS?.join(', ') ?? 'all'})\n`)
console.log(markdownTable(
  ['round', 'requests', 's', 'problems', 'manager RSS MiB', 'manager peak MiB', 'user RSS MiB', 'user peak MiB', ...heapCols],
  rows.map((r) => [String(r.round), String(r.requests), r.seconds === 0 ? '–' : formatNumber(r.seconds), String(r.problems),
    formatNumber(r.manager.rssMiB), formatNumber(r.manager.hwmMiB), formatNumber(r.user.rssMiB), formatNumber(r.user.hwmMiB),
    ...(HEAP ? [formatNumber(r.manager.heapMiB ?? NaN), formatNumber(r.user.heapMiB ?? NaN)] : [])]),
  ['right', 'right', 'right', 'right', 'right', 'right', 'right', 'right', ...heapCols.map(() => 'right' as const)]
))
console.log(`\nafter the fuzz: record ${final?.recordId ?? '?'} ${final?.result.status ?? '?'} at height ${final?.result.height ?? '?'}, valid ${String(final?.verification.valid)}; exit codes ${JSON.stringify(codes)}`)
const file = writeJson(out, {
  machine,
  seed: SEED,
  rounds: ROUNDS,
  requestsPerNodePerRound: REQUESTS,
  kinds: KINDS ?? 'all',
  heapSnapshots: HEAP,
  rows,
  finalRecord: final === undefined ? null : { recordId: final.recordId, status: final.result.status, height: final.result.height, valid: final.verification.valid },
  exitCodes: codes,
  reports: reports.map((r) => ({ round: r.round, manager: { ...r.manager, problems: r.manager.problems.slice(0, 20) }, user: { ...r.user, problems: r.user.problems.slice(0, 20) } }))
})
console.log(`wrote ${file}`)
