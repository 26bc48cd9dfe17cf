/**
 * A checkout of another git ref to benchmark against, and manager processes started from any
 * checkout. The checkout is `git archive REF` unpacked into a temporary directory with
 * `node_modules` symlinked to this checkout's (no worktree is registered in the repository, so
 * nothing is left behind if the benchmark is killed; `remove()` deletes the directory).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, realpathSync, symlinkSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'

export interface Checkout {
  /** Directory holding the ref's files. */
  dir: string
  /** The ref's `bin/pqmed.js`. */
  bin: string
  /** Commit id (with `+dirty` for a working tree that has uncommitted changes). */
  commit: string
  remove: () => Promise<void>
}

/** This working tree, as it is (uncommitted changes included). */
export function currentCheckout (repo: string): Checkout {
  const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).trim()
  const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: repo, encoding: 'utf8' }).trim() !== ''
  return { dir: repo, bin: join(repo, 'bin', 'pqmed.js'), commit: commit + (dirty ? '+dirty' : ''), remove: async () => {} }
}

/** Unpacks `ref` of the repository at `repo` into a temporary directory. Throws if `ref` is not a commit. */
export async function checkoutRef (repo: string, ref: string): Promise<Checkout> {
  let commit: string
  try {
    commit = execFileSync('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: repo, encoding: 'utf8' }).trim()
  } catch {
    throw new Error(`--baseline ${ref}: not a commit of this repository`)
  }
  const dir = await mkdtemp(join(tmpdir(), `pqmed-baseline-${commit.slice(0, 8)}-`))
  try {
    execFileSync('sh', ['-c', 'git archive --format=tar "$1" | tar -x -C "$2"', 'sh', commit, dir], { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'] })
    const modules = resolve(repo, 'node_modules')
    if (!existsSync(modules)) throw new Error(`no node_modules in ${repo} (run npm ci)`)
    symlinkSync(realpathSync(modules), join(dir, 'node_modules'), 'dir')
    const bin = join(dir, 'bin', 'pqmed.js')
    if (!existsSync(bin)) throw new Error(`${ref} has no bin/pqmed.js`)
    return { dir, bin, commit, remove: async () => { await rm(dir, { recursive: true, force: true }) } }
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

export interface NodeProc {
  name: string
  child: ChildProcess
  rpc: string
  stderr: string[]
}

/** Every node process started and not yet exited (ready or not), for `stopAllNodes`. */
const children = new Set<ChildProcess>()
/** Processes `stopNode` was asked to stop (their exit is expected). */
const stopped = new WeakSet<ChildProcess>()

/** Starts `node [flags] BIN node ARGS` and waits for its `{"event":"ready"}` line. */
export async function startNode (bin: string, name: string, args: string[], flags: string[], timeoutMs = 90_000): Promise<NodeProc> {
  const child = spawn(process.execPath, [...flags, bin, 'node', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.add(child)
  child.once('exit', () => { children.delete(child) })
  const stderr: string[] = []
  child.stderr?.on('data', (d: Buffer) => { stderr.push(d.toString()); if (stderr.length > 200) stderr.shift() })
  const rpc = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${name} not ready in ${timeoutMs} ms: ${stderr.join('')}`)) }, timeoutMs)
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const o = JSON.parse(line) as { event?: string, rpc?: string }
        if (o.event === 'ready' && typeof o.rpc === 'string') { clearTimeout(t); resolve(o.rpc) }
      } catch { /* log output */ }
    })
    child.once('exit', (code) => { clearTimeout(t); reject(new Error(`${name} exited with ${code}: ${stderr.join('')}`)) })
  })
  child.stdout?.resume()
  // a node that dies during a run says why (the run then fails on a refused connection)
  child.once('exit', (code, signal) => { if (signal !== 'SIGTERM' && !stopped.has(child)) process.stderr.write(`${name} exited (${code ?? signal ?? ''}):\n${stderr.join('').slice(-4000)}\n`) })
  return { name, child, rpc, stderr }
}

/** SIGCONT (in case it was paused), then SIGTERM and wait (SIGKILL after 15 s): a clean exit writes its CPU profile. */
export async function stopNode (p: NodeProc): Promise<void> {
  stopped.add(p.child)
  if (p.child.exitCode !== null || p.child.signalCode !== null) return
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => { p.child.kill('SIGKILL') }, 15_000)
    p.child.once('exit', () => { clearTimeout(t); resolve() })
    p.child.kill('SIGCONT')
    p.child.kill('SIGTERM')
  })
}

/** Stops every node process this module started that is still running (e.g. on Ctrl-C). */
export async function stopAllNodes (): Promise<void> {
  await Promise.all([...children].map(async (child) => await stopNode({ name: '', child, rpc: '', stderr: [] })))
}
