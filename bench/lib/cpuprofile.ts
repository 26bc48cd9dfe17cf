/**
 * Aggregation of V8 CPU profiles (`node --cpu-prof`, `.cpuprofile` JSON) over a time window.
 *
 * A profile's `startTime` and its samples' timestamps are microseconds on the process's monotonic
 * clock, which on Linux is the clock `process.hrtime` reads in every process of the machine; a
 * benchmark that notes `nowUs()` at the start and end of a phase can therefore cut exactly that
 * phase out of each manager's profile. Self time is attributed to the sampled function; `(idle)`
 * is excluded, `(program)` (native code not attributed to JS) and `(garbage collector)` are kept.
 * V8 attributes the wall time between two samples to the function sampled, so when other
 * processes hold the cores this "busy" time includes waiting for one; shares stay meaningful.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame }
interface CpuProfile { nodes: ProfileNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }

/** Microseconds on the monotonic clock that V8 CPU profiles use (Linux). */
export function nowUs (): number {
  return Number(process.hrtime.bigint() / 1000n)
}

export interface Window { fromUs: number, toUs: number }

/** Self time (µs) per function key within `w`, and the idle time. */
export interface ProfileSlice {
  cpuUs: number
  idleUs: number
  byFunction: Map<string, number>
}

/** `name file:line`, with the file relative to the repository or as `pkg/file` inside node_modules. */
export function functionKey (f: CallFrame): string {
  const name = f.functionName === '' ? '(anonymous)' : f.functionName
  if (f.url === '') return name
  return `${name} ${shortUrl(f.url)}:${f.lineNumber + 1}`
}

/** `src/consensus/pbft.ts`, `@noble/post-quantum/ml-dsa.js`, `node:internal/...`. */
export function shortUrl (url: string): string {
  const u = url.replace(/^file:\/\//, '')
  const nm = u.lastIndexOf('/node_modules/')
  if (nm >= 0) return u.slice(nm + '/node_modules/'.length).replace(/^(@[^/]+\/[^/]+|[^/]+)\/(?:dist\/|lib\/|src\/)?/, '$1/')
  const m = /\/((?:src|bench|bin|test)\/.*)$/.exec(u)
  return m !== null ? m[1] as string : u
}

/** Reads every `.cpuprofile` in `dir` and slices it to `w`. */
export function sliceProfiles (dir: string, w: Window): ProfileSlice {
  const out: ProfileSlice = { cpuUs: 0, idleUs: 0, byFunction: new Map() }
  let files: string[]
  try { files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')) } catch { return out }
  for (const f of files) {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile
    const byId = new Map<number, string>()
    for (const n of p.nodes) byId.set(n.id, functionKey(n.callFrame))
    let t = p.startTime
    for (let i = 0; i < p.samples.length; i++) {
      const dt = p.timeDeltas[i] ?? 0
      t += dt
      // sample i covers (t - dt, t]: count the part inside the window
      const covered = Math.min(t, w.toUs) - Math.max(t - dt, w.fromUs)
      if (covered <= 0) continue
      const key = byId.get(p.samples[i] as number) ?? '(unknown)'
      if (key === '(idle)') { out.idleUs += covered; continue }
      out.cpuUs += covered
      out.byFunction.set(key, (out.byFunction.get(key) ?? 0) + covered)
    }
  }
  return out
}

/** Sums slices (e.g. of several managers). */
export function mergeSlices (slices: ProfileSlice[]): ProfileSlice {
  const out: ProfileSlice = { cpuUs: 0, idleUs: 0, byFunction: new Map() }
  for (const s of slices) {
    out.cpuUs += s.cpuUs
    out.idleUs += s.idleUs
    for (const [k, v] of s.byFunction) out.byFunction.set(k, (out.byFunction.get(k) ?? 0) + v)
  }
  return out
}

export interface FunctionCost { fn: string, ms: number, usPerRecord: number, share: number }

/** The `top` functions by self time, with µs per record and share of all CPU time. */
export function topFunctions (s: ProfileSlice, records: number, top: number): FunctionCost[] {
  return [...s.byFunction].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, us]) => ({
    fn, ms: round(us / 1000, 1), usPerRecord: round(us / Math.max(records, 1), 1), share: round(us / Math.max(s.cpuUs, 1), 4)
  }))
}

/** Self time grouped by file (`shortUrl`), the `top` files. */
export function topFiles (s: ProfileSlice, records: number, top: number): FunctionCost[] {
  const byFile = new Map<string, number>()
  for (const [k, us] of s.byFunction) {
    const m = /^.* (\S+):\d+$/.exec(k) // `name file:line`; builtins like `(garbage collector)` have no file
    const file = m !== null ? m[1] as string : k
    byFile.set(file, (byFile.get(file) ?? 0) + us)
  }
  return topFunctions({ ...s, byFunction: byFile }, records, top)
}

function round (x: number, digits: number): number {
  const k = 10 ** digits
  return Math.round(x * k) / k
}
