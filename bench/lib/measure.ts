/**
 * Time-bounded micro-benchmark loop.
 *
 * `measure(fn)` first warms `fn` up (JIT, caches, lazy initialisation) for `warmupMs` and at least
 * one call, which also estimates its cost. It then times `fn` until `timeMs` have elapsed and at
 * least `minIterations` calls were made (and at most `maxIterations`).
 *
 * Calls are timed in batches so that the timer's resolution and overhead (~0.1 µs for
 * `performance.now()`) do not distort fast operations: the batch size is chosen so one batch lasts
 * about `sampleUs` (1 for any operation slower than that). Each batch gives one sample, the batch
 * time divided by the batch size; `p50Us` / `p95Us` are percentiles of these samples, so for batched
 * operations they describe batch averages and hide per-call outliers (`batch` says which case
 * applies). `meanUs` is the total timed duration over the total number of calls.
 *
 * `cpuShare` is the process's CPU time (all threads, from `process.cpuUsage()`) over the wall time
 * of the timed phase: about 1 for a single-threaded operation that had a core to itself, clearly
 * below 1 when other processes took the CPU away (a shared or busy machine), and possibly above 1
 * when helper threads (parallel GC, a thread pool) worked too. For an async operation that waits on
 * I/O or timers it is naturally below 1.
 *
 * Results of `fn` are kept in a module-level sink so the engine cannot discard the work.
 */
import { summarize } from './stats.js'

export interface MeasureOptions {
  /** Minimum timed duration, ms (default 1000). */
  timeMs?: number
  /** Warm-up duration before timing, ms; at least one warm-up call is always made (default 200). */
  warmupMs?: number
  /** Minimum number of timed calls (default 5). */
  minIterations?: number
  /** Maximum number of timed calls (default unlimited). */
  maxIterations?: number
  /** Target duration of one timed batch, µs (default 200). */
  sampleUs?: number
}

export interface Measurement {
  /** Calls per second: 1e6 / meanUs. */
  opsPerSec: number
  /** Mean time per call, µs (total timed duration / iterations). */
  meanUs: number
  /** Median sample, µs. */
  p50Us: number
  /** 95th-percentile sample, µs. */
  p95Us: number
  /** Timed calls (warm-up excluded). */
  iterations: number
  /** Number of timed batches (samples). */
  samples: number
  /** Calls per batch. */
  batch: number
  /** Process CPU time / wall time while timing (see the module comment). */
  cpuShare: number
}

const DEFAULTS: Required<MeasureOptions> = { timeMs: 1000, warmupMs: 200, minIterations: 5, maxIterations: Number.POSITIVE_INFINITY, sampleUs: 200 }

let sink: unknown
/** The last value the measured functions returned (exported only so that it is observable). */
export function lastResult (): unknown { return sink }

function resolve (opts: MeasureOptions): Required<MeasureOptions> {
  const o = { ...DEFAULTS, ...opts }
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== 'number' || Number.isNaN(v) || v < 0) throw new RangeError(`measure: ${k} must be a non-negative number, got ${String(v)}`)
  }
  if (o.maxIterations < 1) throw new RangeError('measure: maxIterations must be at least 1')
  return o
}

function batchSize (estimateUs: number, o: Required<MeasureOptions>): number {
  return Math.max(1, Math.min(Math.floor(o.sampleUs / Math.max(estimateUs, 1e-3)), 1_000_000))
}

function finish (samplesUs: number[], totalUs: number, iterations: number, batch: number, cpu: NodeJS.CpuUsage, wallMs: number): Measurement {
  const s = summarize(samplesUs)
  const meanUs = totalUs / iterations
  const cpuShare = wallMs > 0 ? (cpu.user + cpu.system) / 1000 / wallMs : 1
  return { opsPerSec: 1e6 / meanUs, meanUs, p50Us: s.p50, p95Us: s.p95, iterations, samples: samplesUs.length, batch, cpuShare }
}

/** Measures a synchronous function. */
export function measure (fn: () => unknown, opts: MeasureOptions = {}): Measurement {
  const o = resolve(opts)
  let calls = 0
  const w0 = performance.now()
  let elapsed: number
  do { sink = fn(); calls++; elapsed = performance.now() - w0 } while (elapsed < o.warmupMs)
  const batch = batchSize((elapsed * 1000) / calls, o)
  const samples: number[] = []
  let iterations = 0
  let totalUs = 0
  const cpu0 = process.cpuUsage()
  const start = performance.now()
  while ((performance.now() - start < o.timeMs || iterations < o.minIterations) && iterations < o.maxIterations) {
    const n = Math.min(batch, o.maxIterations - iterations)
    const t0 = performance.now()
    for (let i = 0; i < n; i++) sink = fn()
    const dt = (performance.now() - t0) * 1000
    samples.push(dt / n)
    totalUs += dt
    iterations += n
  }
  return finish(samples, totalUs, iterations, batch, process.cpuUsage(cpu0), performance.now() - start)
}

/** Measures an asynchronous function (each call awaited before the next). */
export async function measureAsync (fn: () => Promise<unknown>, opts: MeasureOptions = {}): Promise<Measurement> {
  const o = resolve(opts)
  let calls = 0
  const w0 = performance.now()
  let elapsed: number
  do { sink = await fn(); calls++; elapsed = performance.now() - w0 } while (elapsed < o.warmupMs)
  const batch = batchSize((elapsed * 1000) / calls, o)
  const samples: number[] = []
  let iterations = 0
  let totalUs = 0
  const cpu0 = process.cpuUsage()
  const start = performance.now()
  while ((performance.now() - start < o.timeMs || iterations < o.minIterations) && iterations < o.maxIterations) {
    const n = Math.min(batch, o.maxIterations - iterations)
    const t0 = performance.now()
    for (let i = 0; i < n; i++) sink = await fn()
    const dt = (performance.now() - t0) * 1000
    samples.push(dt / n)
    totalUs += dt
    iterations += n
  }
  return finish(samples, totalUs, iterations, batch, process.cpuUsage(cpu0), performance.now() - start)
}
