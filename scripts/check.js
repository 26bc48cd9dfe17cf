// `npm test`'s first step: builds dist/ (the CLI the process tests run), lints and typechecks, the
// three at once (each is mostly one thread; on 2 cores this saves about half their sum). Each one's
// output is printed when it ends; the step fails if any of them fails, naming it.
import { spawn } from 'node:child_process'

const steps = [['build', ['run', 'build']], ['lint', ['run', 'lint']], ['typecheck', ['run', 'typecheck']]]
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const t0 = Date.now()
const results = await Promise.all(steps.map(([name, args]) => new Promise((resolve) => {
  const p = spawn(npm, [...args, '--silent'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  p.stdout.on('data', (d) => { out += d })
  p.stderr.on('data', (d) => { out += d })
  p.on('error', (err) => { resolve({ name, code: 1, out: `${out}${err.message}\n` }) })
  p.on('close', (code) => {
    process.stdout.write(`--- ${name}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} after ${((Date.now() - t0) / 1000).toFixed(1)} s\n${out}`)
    resolve({ name, code: code ?? 1, out })
  })
})))
const failed = results.filter((r) => r.code !== 0).map((r) => r.name)
if (failed.length > 0) {
  console.error(`npm test: ${failed.join(', ')} failed`)
  process.exit(1)
}
