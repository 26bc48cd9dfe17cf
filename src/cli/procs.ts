/**
 * Process harness (tests, benchmarks, devnet): pqmed nodes as real OS processes (`bin/pqmed.js node ...`) on loopback with
 * random ports, talking JSON-RPC over HTTP. Every process started is stopped by `stopAll`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { createServer } from 'node:net'
import { readFileSync } from 'node:fs'
import { randomInt } from 'node:crypto'

const BIN = fileURLToPath(new URL('../../bin/pqmed.js', import.meta.url))  // src/cli → repo root

export interface ProcSpec {
  name: string
  args: string[]
}

export interface Proc {
  spec: ProcSpec
  child: ChildProcess
  rpc: string
  peerId: string
  /** The operations server's URL (`--ops-port`), or null. */
  ops: string | null
  stderr: string[]
}

export class ProcNet {
  readonly procs = new Map<string, Proc>()
  /**
   * An optional command prefix per node, e.g. `(name) => ['ip', 'netns', 'exec', ns(name)]`;
   * the prefix must exec into node so that signals reach the node itself.
   */
  private readonly wrap?: (name: string) => string[]

  constructor (wrap?: (name: string) => string[]) { this.wrap = wrap }

  async start (spec: ProcSpec, timeoutMs = 60_000): Promise<Proc> {
    // PQMED_NODE_FLAGS passes Node flags to every node process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
    const flags = (process.env.PQMED_NODE_FLAGS ?? '').split(' ').filter((f) => f !== '')
    const [cmd, ...argv] = [...(this.wrap?.(spec.name) ?? []), process.execPath, ...flags, BIN, 'node', ...spec.args] as [string, ...string[]]
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
    const stderr: string[] = []
    child.stderr?.on('data', (d: Buffer) => { stderr.push(d.toString()); if (stderr.length > 200) stderr.shift() })
    const ready = await new Promise<{ rpc: string, peerId: string, ops: string | null }>((resolve, reject) => {
      // a node that is not ready in time is killed: a caller that gives up must not leave it running
      const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${spec.name} not ready in ${timeoutMs} ms: ${stderr.join('')}`)) }, timeoutMs)
      const rl = createInterface({ input: child.stdout! })
      rl.on('line', (line) => {
        try {
          const o = JSON.parse(line) as { event?: string, rpc?: string, peerId?: string, ops?: string | null }
          if (o.event === 'ready' && typeof o.rpc === 'string' && typeof o.peerId === 'string') { clearTimeout(t); resolve({ rpc: o.rpc, peerId: o.peerId, ops: typeof o.ops === 'string' ? o.ops : null }) }
        } catch { /* not a JSON line: node log output */ }
      })
      child.on('exit', (code) => { clearTimeout(t); reject(new Error(`${spec.name} exited with ${code}: ${stderr.join('')}`)) })
    })
    const p: Proc = { spec, child, rpc: ready.rpc, peerId: ready.peerId, ops: ready.ops, stderr }
    this.procs.set(spec.name, p)
    return p
  }

  /** SIGKILL: no clean shutdown, as in a crash. */
  async kill (name: string): Promise<void> {
    const p = this.procs.get(name)
    if (p === undefined) return
    this.procs.delete(name)
    if (p.child.exitCode !== null) return
    await new Promise<void>((resolve) => { p.child.once('exit', () => { resolve() }); p.child.kill('SIGKILL') })
  }

  /** Output of processes that were stopped or killed, by name (for diagnostics). */
  readonly exited = new Map<string, string>()

  /** SIGTERM, waiting for a clean exit (code 0). */
  async stop (name: string): Promise<number | null> {
    const p = this.procs.get(name)
    if (p === undefined) return null
    this.procs.delete(name)
    if (p.child.exitCode !== null) return p.child.exitCode
    return await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => { p.child.kill('SIGKILL') }, 10_000)
      p.child.once('exit', (code) => { clearTimeout(t); this.exited.set(name, p.stderr.join('')); resolve(code) })
      p.child.kill('SIGTERM')
    })
  }

  /** Stops every process: SIGTERM (clean shutdown, profiles written), SIGKILL after 10 s. */
  async stopAll (): Promise<void> {
    await Promise.all([...this.procs.keys()].map(async (n) => await this.stop(n)))
  }
}

let nextId = 1
/** One JSON-RPC call over HTTP (raw fetch; protocol conformance is tested in test/rpc). */
export async function rpc<T> (url: string, method: string, params: unknown = {}, timeoutMs = 60_000): Promise<T> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }), signal: AbortSignal.timeout(timeoutMs) })
  const body = await res.json() as { result?: T, error?: { code: number, message: string } }
  if (body.error !== undefined) throw Object.assign(new Error(`${method}: ${body.error.message}`), { rpcCode: body.error.code })
  return body.result as T
}

export const dataDir = (root: string, name: string): string => join(root, name)

/** `n` ports chosen by the OS (`listen(0)`), released before returning. */
async function osPorts (n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, async () => await new Promise<ReturnType<typeof createServer>>((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => { resolve(s) })
  })))
  const ports = servers.map((s) => (s.address() as { port: number }).port)
  await Promise.all(servers.map(async (s) => await new Promise((r) => s.close(r))))
  return ports
}

const handedOut = new Set<number>()

/** Linux's ephemeral port range (outgoing connections and `listen(0)` take ports from it). */
function ephemeralRange (): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (Number.isInteger(lo) && Number.isInteger(hi)) return [lo as number, hi as number]
  } catch { /* not Linux */ }
  return [49152, 65535]  // IANA dynamic range (macOS, Windows)
}

/** True when a TCP server can bind `port` on `host` now (the port is free). */
export async function canListen (port: number, host = '127.0.0.1'): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const s = createServer()
    s.once('error', () => { resolve(false) })
    s.listen(port, host, () => { s.close(() => { resolve(true) }) })
  })
}

/**
 * `n` distinct TCP ports that are free on 127.0.0.1 now, taken from below the OS's ephemeral
 * range. A port picked with `listen(0)` comes from the ephemeral range, where any outgoing
 * connection (or another node's `listen(0)`) may take it before the node that was given it
 * binds it (seen as EADDRINUSE in CI); below that range only explicit binds compete. Ports
 * handed out once are not handed out again by this process.
 */
export async function freePorts (n: number): Promise<number[]> {
  const [eLo] = ephemeralRange()
  const lo = 10_000
  const hi = eLo - 1
  if (hi - lo < 1000) return await osPorts(n)  // no room below the ephemeral range: let the OS pick
  const ports: number[] = []
  for (let tries = 0; ports.length < n; tries++) {
    if (tries > 20 * n + 1000) throw new Error(`no free TCP port found below the ephemeral range (${lo}..${hi})`)
    const p = lo + randomInt(hi - lo + 1)
    if (handedOut.has(p) || !await canListen(p)) continue
    handedOut.add(p)
    ports.push(p)
  }
  return ports
}
