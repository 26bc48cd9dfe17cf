/**
 * Machine description, command-line options and JSON output shared by the benchmarks.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { arch, cpus, loadavg, platform, totalmem } from 'node:os'
import { basename, dirname, resolve } from 'node:path'

export interface MachineInfo {
  node: string
  /** `os.cpus()[0].model`. */
  cpu: string
  /** Logical cores (`os.cpus().length`). */
  cores: number
  platform: string
  arch: string
  totalMemGiB: number
  /** 1-minute load average when the benchmark started: a shared machine makes results noisier. */
  loadAvg1: number
  /** ISO 8601 time at which this was taken. */
  date: string
}

export function machineInfo (): MachineInfo {
  const c = cpus()
  return {
    node: process.version,
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    platform: platform(),
    arch: arch(),
    totalMemGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAvg1: Math.round((loadavg()[0] ?? 0) * 100) / 100,
    date: new Date().toISOString()
  }
}

/** One line for a README: "node v20.20.0, AMD EPYC ..., 2 cores, linux/x64, 2025-01-01". */
export function machineLine (m: MachineInfo): string {
  return `node ${m.node}, ${m.cpu}, ${m.cores} cores, ${m.platform}/${m.arch}, ${m.totalMemGiB} GiB RAM, ${m.date.slice(0, 10)}`
}

/** Writes `data` as indented JSON (with a final newline), creating the directory. Returns the absolute path. */
export function writeJson (path: string, data: unknown): string {
  const file = resolve(path)
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n')
  return file
}

/** True iff `--name` is among `argv`. */
export function hasFlag (argv: readonly string[], name: string): boolean {
  return argv.includes(`--${name}`)
}

/** The value after `--name` (or of `--name=value`), or undefined. Throws if `--name` is last with no value. */
export function optionValue (argv: readonly string[], name: string): string | undefined {
  const eq = argv.find((a) => a.startsWith(`--${name}=`))
  if (eq !== undefined) return eq.slice(name.length + 3)
  const i = argv.indexOf(`--${name}`)
  if (i < 0) return undefined
  const v = argv[i + 1]
  if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`)
  return v
}

/**
 * Rejects options a benchmark does not know (a typo would otherwise silently run the full
 * benchmark). `flags` take no value, `options` take one.
 */
export function checkArgs (argv: readonly string[], flags: readonly string[], options: readonly string[]): void {
  if (argv.includes('--help') || argv.includes('-h')) {
    const name = basename(process.argv[1] ?? 'bench', '.ts')
    const script = name === 'chaos' ? 'test:chaos' : `bench:${name}`
    console.log(`usage: npm run ${script} -- ${[...flags.map((f) => `[--${f}]`), ...options.map((o) => `[--${o} VALUE]`)].join(' ')}\n` +
      `what each option means and its default: the header of bench/${name}.ts; results and how they were run: README.md, Benchmarks`)
    process.exit(0)
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    const name = a.replace(/^--/, '').replace(/=.*$/, '')
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`)
    if (flags.includes(name) && !a.includes('=')) continue
    if (options.includes(name)) { if (!a.includes('=')) i++; continue }
    throw new Error(`unknown option '${a}' (known: ${[...flags, ...options].map((f) => `--${f}`).join(', ')})`)
  }
}
