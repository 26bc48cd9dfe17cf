/**
 * Small helpers shared by the benchmarks in `bench/`: a time-bounded timing loop, percentiles,
 * markdown tables, machine information, option parsing and JSON output. Benchmarks measure and
 * report; they never assert a time.
 *
 * @example
 * ```ts
 * import { measure, markdownTable, formatNumber, machineInfo, machineLine, writeJson } from './lib/index.js'
 *
 * const m = measure(() => sha256(data), { timeMs: 500 })      // { opsPerSec, meanUs, p50Us, p95Us, iterations, ... }
 * console.log(markdownTable(['op', 'mean µs'], [['sha256', formatNumber(m.meanUs)]], ['left', 'right']))
 * const machine = machineInfo()
 * console.log(machineLine(machine))
 * writeJson('bench/results/x.json', { machine, rows: [m] })
 * ```
 */
export { percentile, summarize, type Summary } from './stats.js'
export { measure, measureAsync, lastResult, type MeasureOptions, type Measurement } from './measure.js'
export { markdownTable, formatNumber, type Align } from './table.js'
export { managerSpec } from './managers.js'
export { machineInfo, machineLine, writeJson, hasFlag, optionValue, checkArgs, type MachineInfo } from './report.js'
