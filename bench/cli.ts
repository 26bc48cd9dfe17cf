/**
 * `npm run bench:cli`: how long `pqmed` commands take as a user runs them, each run a new process:
 * `--help`, `--version`, and a verified `record get` (the client checks the header hash, the
 * ciphertext hashes and the inclusion proof; with `--genesis` also the doctor's signature and the
 * commit certificate) against a small network the benchmark starts (4 managers, 1 user node, 1
 * seeded record, in a temporary dir) and stops.
 *
 * Two ways of running the CLI, interleaved run by run so that machine load hits both alike:
 * `node bin/pqmed.js` (the compiled dist/, built by `npm ci` / `npm run build`) and the TypeScript
 * sources through tsx (`node --import tsx --import ./src/polyfill.ts src/cli/main.ts`, what
 * bin/pqmed.js runs when there is no up-to-date dist/). Each run records its wall-clock time (spawn
 * to exit) and the process's own CPU time (user + system, reported on exit by
 * bench/lib/cpu-report.mjs): on a loaded, shared machine the wall-clock time mostly measures the
 * wait for a core. Prints a table, writes bench/results/cli.json.
 *
 * Options: --runs N (per command and way, default 10), --out PATH.
 */
import { execFile } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { seedRecords } from '../src/cli/devnet.js'
import { startNetwork } from '../src/cli/network.js'
import { topologyFromFlags } from '../src/cli/topology.js'
import { checkArgs, machineInfo, machineLine, markdownTable, optionValue, summarize, writeJson } from './lib/index.js'

const argv = process.argv.slice(2)
checkArgs(argv, [], ['runs', 'out'])
const RUNS = Number(optionValue(argv, 'runs') ?? 10)
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs must be a positive integer')
const OUT = optionValue(argv, 'out') ?? 'bench/results/cli.json'
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const run = promisify(execFile)

/** dist/ must be built from the current sources, or bin/pqmed.js would run the sources. */
function distFresh (): boolean {
  const main = join(ROOT, 'dist/cli/main.js')
  if (!existsSync(main)) return false
  const built = statSync(main).mtimeMs
  return !readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true }).some((f) => f.isFile() && statSync(join(f.parentPath, f.name)).mtimeMs > built)
}
if (!distFresh()) {
  console.error('building dist/ (npm run build) ...')
  await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT })
}

const WAYS = {
  dist: [join(ROOT, 'bin/pqmed.js')],
  tsx: ['--import', 'tsx', '--import', './src/polyfill.ts', join(ROOT, 'src/cli/main.ts')]
} as const
type Way = keyof typeof WAYS

const CPU_REPORT = join(ROOT, 'bench/lib/cpu-report.mjs')
let cpuFile = ''

/** One `pqmed ...args` process (it must exit 0): wall-clock ms from spawn to exit, and the process's own CPU ms (user + system). */
async function timeRun (way: Way, args: string[]): Promise<{ wall: number, cpu: number }> {
  await writeFile(cpuFile, '')
  const t0 = performance.now()
  try {
    await run(process.execPath, ['--import', CPU_REPORT, ...WAYS[way], ...args], { cwd: ROOT, timeout: 300_000, env: { ...process.env, PQMED_BENCH_CPU_FILE: cpuFile } })
  } catch (err) {
    throw new Error(`pqmed ${args.join(' ')} (${way}) failed: ${(err as { stderr?: string }).stderr ?? String(err)}`, { cause: err })
  }
  const wall = performance.now() - t0
  const cpu = Number((await readFile(cpuFile, 'utf8')).trim())
  if (!(cpu > 0)) throw new Error(`no CPU time reported by pqmed ${args.join(' ')} (${way})`)
  return { wall, cpu }
}

const machine = machineInfo()
const dir = await mkdtemp(join(tmpdir(), 'pqmed-bench-cli-'))
cpuFile = join(dir, 'cpu.txt')
console.error(`starting a network (4 managers, 1 user node) in ${dir} ...`)
const net = await startNetwork(topologyFromFlags({ managers: 4, users: 1, doctors: 1, chainId: 'pqmed-bench-cli' }), dir)
let results: Array<{ command: string, way: Way, wallMs: number[], cpuMs: number[] }>
try {
  const user = net.users[0]?.rpc as string
  const [recordId] = await seedRecords(dir, user, 1) as [string]
  const cases: Array<{ command: string, args: string[] }> = [
    { command: 'pqmed --help', args: ['--help'] },
    { command: 'pqmed --version', args: ['--version'] },
    { command: 'pqmed record get ID (verified: header, hashes, inclusion)', args: ['record', 'get', recordId, '--rpc', user] },
    { command: 'pqmed record get ID --genesis FILE (+ signature, certificate)', args: ['record', 'get', recordId, '--genesis', join(dir, 'genesis.json'), '--rpc', user] }
  ]
  results = cases.flatMap((c) => (Object.keys(WAYS) as Way[]).map((way) => ({ command: c.command, way, wallMs: [] as number[], cpuMs: [] as number[] })))
  // one warm-up of each (file system cache), not counted
  for (const c of cases) for (const way of Object.keys(WAYS) as Way[]) await timeRun(way, c.args)
  for (let i = 0; i < RUNS; i++) {
    for (const [k, c] of cases.entries()) {
      const ways = Object.keys(WAYS) as Way[]
      if (i % 2 === 1) ways.reverse()
      for (const way of ways) {
        const t = await timeRun(way, cases[k]?.args ?? c.args)
        const r = results.find((x) => x.command === c.command && x.way === way)
        r?.wallMs.push(t.wall)
        r?.cpuMs.push(t.cpu)
      }
    }
    console.error(`  run ${i + 1}/${RUNS}`)
  }
} finally {
  await net.stop()
  await rm(dir, { recursive: true, force: true })
}

const rows = results.map((r) => ({ ...r, wall: summarize(r.wallMs), cpu: summarize(r.cpuMs) }))
const f = (ms: number): string => (ms / 1000).toFixed(2)
const table = markdownTable(['command', 'CLI', 'wall p50 s', 'wall mean s', 'CPU p50 s', 'CPU mean s', 'CPU min s'],
  rows.map((r) => [r.command, r.way === 'dist' ? 'compiled (dist/)' : 'sources via tsx', f(r.wall.p50), f(r.wall.mean), f(r.cpu.p50), f(r.cpu.mean), f(r.cpu.min)]),
  ['left', 'left', 'right', 'right', 'right', 'right', 'right'])
const ratios = [...new Set(rows.map((r) => r.command))].map((command) => {
  const d = rows.find((r) => r.command === command && r.way === 'dist') as (typeof rows)[number]
  const t = rows.find((r) => r.command === command && r.way === 'tsx') as (typeof rows)[number]
  return { command, wallP50TsxOverDist: t.wall.p50 / d.wall.p50, cpuP50TsxOverDist: t.cpu.p50 / d.cpu.p50 }
})
console.log(`\n${machineLine(machine)}; 1-min load average ${machine.loadAvg1} at the start; ${RUNS} runs of each, interleaved\n`)
console.log(table)
console.log(`\nCPU p50 ratio sources-via-tsx / compiled: ${ratios.map((r) => `${r.command.split(' (')[0] as string} ${r.cpuP50TsxOverDist.toFixed(1)}x`).join('; ')}`)
const file = writeJson(OUT, { command: `npm run bench:cli${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`, machine, runs: RUNS, loadAvg1AtEnd: Math.round((loadavg()[0] ?? 0) * 100) / 100, results: rows, ratios })
console.log(`wrote ${file}`)
