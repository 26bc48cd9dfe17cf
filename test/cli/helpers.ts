import { execFile, spawn } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { SimulatedDoctor } from '../../src/client/simulated-doctor.js'
import { seededRng } from '../../src/client/synthetic.js'
import { loadPqBackend, toHex } from '../../src/crypto/index.js'
import { loadIdentity, readIdentityFile } from '../../src/node/identity.js'
import { rpc } from '../../src/cli/procs.js'
import type { RecordJson, RecordVerificationJson } from '../../src/rpc/index.js'

/** Submits `n` synthetic records through `submitUrl` (waiting for commit) with doctor-0 of the network in `dir`. */
export async function submitRecords (dir: string, submitUrl: string, n: number, seed = 1): Promise<string[]> {
  const pq = await loadPqBackend()
  const id = await loadIdentity(await readIdentityFile(join(dir, 'identities', 'doctor-0.json')))
  const doctor = new SimulatedDoctor(pq, { id: id.keys.id, sigSecretKey: id.keys.sig.secretKey }, new Uint8Array(32).fill(9))
  const rng = seededRng(seed)
  const ids: string[] = []
  await Promise.all(Array.from({ length: n }, async (_, i) => {
    const s = doctor.record(rng, i % 3)
    const r = await rpc<{ status: string }>(submitUrl, 'ehr_submitRecord', { submission: Buffer.from(s.bytes).toString('base64'), wait: true })
    if (r.status !== 'committed') throw new Error(`record ${i}: ${r.status}`)
    ids.push(toHex(s.tx.recordId))
  }))
  return ids
}

/** ehr_getRecord + ehr_verifyRecord on `url` (waits for the node's header sync to reach the record). */
export async function fetchVerified (url: string, recordId: string, timeoutMs = 20_000): Promise<{ record: RecordJson, verification: RecordVerificationJson }> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const record = await rpc<RecordJson>(url, 'ehr_getRecord', { recordId })
      const verification = await rpc<RecordVerificationJson>(url, 'ehr_verifyRecord', { recordId })
      return { record, verification }
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 200))
    }
  }
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export interface Run { stdout: string, stderr: string, stop: () => Promise<number | null> }

/**
 * Starts `npm start`'s entry point (as package.json runs it) and waits for its banner. Unless
 * `extra` says otherwise: free ports (`--rpc-port 0 --p2p-port 0`) and the CLI config at DIR/.pqmed.json.
 */
export async function startDevnet (dir: string, extra: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  // free ports (tests run side by side) and the CLI config in the data dir, unless the test says otherwise
  const defaults = [...(extra.includes('--rpc-port') ? [] : ['--rpc-port', '0', '--p2p-port', '0']), ...(extra.includes('--config') ? [] : ['--config', join(dir, '.pqmed.json')])]
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './src/polyfill.ts', 'src/cli/devnet.ts', '--data-dir', dir, ...defaults, ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no banner in 90 s:\n${stderr}`)) }, 90_000)
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); if (stdout.includes('Ctrl-C stops every node')) { clearTimeout(t); resolve() } })
    child.on('exit', (code) => { clearTimeout(t); reject(new Error(`devnet exited with ${String(code)}:\n${stderr}`)) })
  })
  const exited = new Promise<number | null>((resolve) => { child.once('exit', (code) => { resolve(code) }) })
  return { stdout, get stderr () { return stderr }, stop: async () => { child.kill('SIGINT'); return await exited } }
}


/** The `pqmed` command as users run it. */
export const BIN = join(ROOT, 'bin/pqmed.js')

/** Whether dist/ is missing or older than a file of src/ (then bin/pqmed.js would run the sources). */
export function distStale (): boolean {
  const main = join(ROOT, 'dist/cli/main.js')
  if (!existsSync(main)) return true
  const built = statSync(main).mtimeMs
  return readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true }).some((f) => f.isFile() && statSync(join(f.parentPath, f.name)).mtimeMs > built)
}

let building: Promise<void> | undefined
/**
 * Compiles src/ to dist/ when it is missing or stale (`npm test` does it first through `pretest`),
 * so that CLI tests run the built CLI, as users do.
 */
export async function ensureBuilt (): Promise<void> {
  building ??= distStale()
    ? promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT }).then(() => {})
    : Promise.resolve()
  await building
}

export interface CliRun { code: number, stdout: string, stderr: string }

/** Runs `node bin/pqmed.js ...args` (the built CLI; call `ensureBuilt` first) and returns its exit code and output. */
export async function pqmed (args: string[], opts: { env?: NodeJS.ProcessEnv, nodeArgs?: string[], timeoutMs?: number } = {}): Promise<CliRun> {
  try {
    const r = await promisify(execFile)(process.execPath, [...(opts.nodeArgs ?? []), BIN, ...args], { cwd: ROOT, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000 })
    return { code: 0, stdout: r.stdout, stderr: r.stderr }
  } catch (err) {
    const e = err as { code?: number, stdout: string, stderr: string }
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr }
  }
}
