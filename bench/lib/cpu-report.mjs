// Loaded with `node --import` into each CLI process `npm run bench:cli` times: on exit, appends the
// process's own CPU time (user + system, ms, from process start) to the file named by
// PQMED_BENCH_CPU_FILE. Wall-clock time on a loaded, shared machine mostly measures the queue for
// the CPU; CPU time measures the work.
import { appendFileSync } from 'node:fs'

const file = process.env.PQMED_BENCH_CPU_FILE
if (file !== undefined) {
  process.on('exit', () => {
    const u = process.cpuUsage()
    appendFileSync(file, `${(u.user + u.system) / 1000}\n`)
  })
}
