/**
 * `npm run bench:scale`: a manager's store at 10^4, 10^5 (and, opt-in, 10^6) records. Per row, a
 * network (4 managers, doctors, user identities) is created and manager 0's store is filled
 * through the real validation and commit code without the network (bench/lib/scale-fill.ts:
 * records signed in worker threads, blocks committed by bench/lib/scale-adapter.ts with 3-of-4
 * commit certificates); then a real manager process is started on it and measured
 * (bench/lib/scale-measure.ts): RSS, start-to-ready, disk per record, record query and
 * 100-result keyword search p50/p95 through the manager's /query/1 handler and through a user
 * node, light sync of every header. Writes bench/results/scale.{json,md,svg}.
 *
 * Options: --rows 10000,100000 (add 1000000 for the 10^6 row: see README "Scale" for how long each
 *          row takes)  --per-block 500 (records per block)  --queries 200  --doctors 8
 *          --note-bytes 2000 (clinical-note characters per record: ~2.5 KB of ciphertext)
 *          --workers 2 (record-signing threads)  --seed 1  --out-dir bench/results
 *          --keep DIR (filled rows live in DIR/records-N and are reused by later runs with the
 *          same --per-block, --doctors, --note-bytes and --seed; without it, a temporary
 *          directory removed at the end)  --no-breakdown (skip counting the chain store's keys)
 *          --store-open-files N (the measured manager's LevelDB table cache, `pqmed node
 *          --store-open-files`; default the node's, 74)
 *          --build (run `npm run build` first, so the node processes run the compiled dist/ as a
 *          production install does; otherwise they run whatever bin/pqmed.js picks, and a start
 *          from the TypeScript sources includes compiling them: the JSON says which ran)
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { cpus, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { seededRng } from '../src/client/synthetic.js'
import { loadPqBackend } from '../src/crypto/index.js'
import { checkArgs, hasFlag, machineInfo, optionValue, writeJson } from './lib/index.js'
import { fillRow, readFillMeta, reusableFill, type FillMeta, type FillSpec } from './lib/scale-fill.js'
import { measureEmptyStart, measureRow } from './lib/scale-measure.js'
import { markdownReport, rowTable, svgChart, type ScaleReport, type ScaleRow } from './lib/scale-report.js'

const argv = process.argv.slice(2)
checkArgs(argv, ['no-breakdown', 'build'], ['rows', 'per-block', 'queries', 'doctors', 'note-bytes', 'workers', 'seed', 'out-dir', 'keep', 'store-open-files'])
const int = (name: string, def: number, min: number): number => {
  const v = Number(optionValue(argv, name) ?? def)
  if (!Number.isSafeInteger(v) || v < min) throw new Error(`--${name} must be an integer ≥ ${min}`)
  return v
}
const ROWS = (optionValue(argv, 'rows') ?? '10000,100000').split(',').map((s) => Number(s.trim()))
for (const n of ROWS) if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--rows: each row is a positive record count, got ${n}`)
const PER_BLOCK = int('per-block', 500, 1)
if (PER_BLOCK > 500) throw new Error('--per-block is at most 500 (the consensus default maxBlockRecords)')
const QUERIES = int('queries', 200, 1)
const DOCTORS = int('doctors', 8, 1)
const NOTE_BYTES = int('note-bytes', 2000, 0)
const WORKERS = int('workers', Math.max(1, cpus().length), 1)
const SEED = int('seed', 1, 0)
const OUT = optionValue(argv, 'out-dir') ?? 'bench/results'
const KEEP = optionValue(argv, 'keep')
const BREAKDOWN = !hasFlag(argv, 'no-breakdown')
/** The measured manager's `--store-open-files` (its LevelDB table cache); the node's default without it. */
const STORE_OPEN_FILES = optionValue(argv, 'store-open-files') === undefined ? undefined : int('store-open-files', 74, 74)

const progress = (msg: string): void => { process.stderr.write(`[scale ${new Date().toISOString().slice(11, 19)}] ${msg}\n`) }
const gitCommit = (): string => { try { return execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim() } catch { return 'unknown' } }

/** What bin/pqmed.js runs: the compiled dist/ when it is newer than every file of src/, else the sources through tsx. */
function nodeEntry (): 'dist' | 'tsx' {
  const main = 'dist/cli/main.js'
  if (!existsSync(main)) return 'tsx'
  const built = statSync(main).mtimeMs
  for (const f of readdirSync('src', { recursive: true, withFileTypes: true })) {
    if (f.isFile() && statSync(join(f.parentPath, f.name)).mtimeMs > built) return 'tsx'
  }
  return 'dist'
}
if (hasFlag(argv, 'build')) {
  progress('npm run build')
  execFileSync('npm', ['run', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] })
}
const NODE_ENTRY = nodeEntry()
if (NODE_ENTRY === 'tsx') progress('the node processes run the TypeScript sources (dist/ missing or older than src/): their start times include compiling them; --build runs the compiled build')

const machine = machineInfo()
const command = `npm run bench:scale${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`
const options = { rows: ROWS, perBlock: PER_BLOCK, queries: QUERIES, doctors: DOCTORS, noteBytes: NOTE_BYTES, workers: WORKERS, seed: SEED, keep: KEEP ?? null, breakdown: BREAKDOWN, storeOpenFiles: STORE_OPEN_FILES ?? null, nodeEntry: NODE_ENTRY }
const root = KEEP !== undefined ? resolve(KEEP) : await mkdtemp(join(tmpdir(), 'pqmed-scale-'))
await mkdir(root, { recursive: true })
const pq = await loadPqBackend()
const commit = gitCommit()
const report: ScaleReport = { machine, command, options, complete: false, rows: [] }
const tRun = performance.now()
try {
  for (const records of ROWS) {
    const tRow = performance.now()
    const dir = join(root, `records-${records}`)
    const spec: FillSpec = { records, perBlock: PER_BLOCK, doctors: DOCTORS, noteBytes: NOTE_BYTES, seed: SEED }
    let meta: FillMeta | undefined = reusableFill(dir, spec)
    const reused = meta !== undefined
    if (meta !== undefined) {
      progress(`row ${records}: reusing the store filled at ${meta.filledAt} (commit ${meta.commit.slice(0, 10)}) in ${dir}`)
      if (meta.commit !== commit) progress(`row ${records}: note: filled on another commit than this run's ${commit.slice(0, 10)}`)
    } else {
      if (readFillMeta(dir) !== undefined) progress(`row ${records}: ${dir} holds an incomplete or different fill: filling it again`)
      progress(`row ${records}: filling (${PER_BLOCK} records per block, ${DOCTORS} doctors, ${WORKERS} signing threads)`)
      meta = await fillRow({ ...spec, dir, workers: WORKERS, pq, commit, progress: (m) => { progress(`row ${records}: ${m}`) } })
    }
    const tm = performance.now()
    const figures = await measureRow({ dir, meta, queries: QUERIES, rng: seededRng(SEED * 1_000_003 + records), breakdown: BREAKDOWN, ...(STORE_OPEN_FILES !== undefined ? { storeOpenFiles: STORE_OPEN_FILES } : {}), progress: (m) => { progress(`row ${records}: ${m}`) } })
    if (report.emptyStart === undefined) {
      report.emptyStart = await measureEmptyStart(dir)
      progress(`empty-store manager: ready in ${report.emptyStart.readyMs.toFixed(0)} ms, RSS ${report.emptyStart.rssMiB} MiB`)
    }
    const row: ScaleRow = {
      records,
      blocks: meta.blocks,
      reused,
      fill: {
        seconds: meta.fillSeconds,
        ...(meta.cpuSeconds !== undefined ? { cpuSeconds: meta.cpuSeconds } : {}),
        buildSeconds: meta.buildSeconds,
        commitSeconds: meta.commitSeconds,
        recordsPerSecond: meta.records / meta.fillSeconds,
        submissionBytesPerRecord: meta.submissionBytes / meta.records,
        filledAt: meta.filledAt,
        commit: meta.commit
      },
      figures,
      measureSeconds: (performance.now() - tm) / 1000,
      rowSeconds: (performance.now() - tRow) / 1000
    }
    report.rows.push(row)
    writeJson(join(OUT, 'scale.json'), report)
    progress(`row ${records} done in ${row.rowSeconds.toFixed(0)} s`)
  }
  report.complete = true
  report.runSeconds = (performance.now() - tRun) / 1000
  writeJson(join(OUT, 'scale.json'), report)
  writeFileSync(join(OUT, 'scale.md'), markdownReport(report))
  writeFileSync(join(OUT, 'scale.svg'), svgChart(report.rows))
  console.log(rowTable(report.rows))
  progress(`done in ${(report.runSeconds / 60).toFixed(1)} min: wrote ${join(OUT, 'scale.{json,md,svg}')}`)
} finally {
  if (KEEP === undefined) await rm(root, { recursive: true, force: true })
}
