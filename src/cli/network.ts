/**
 * A topology as local processes (the devnet code, generalized; used by `npm start`, `sim:local`
 * and tests). The data dir holds everything a second start needs:
 *
 *   DIR/genesis.json, DIR/identities/<name>.json   genesis and identities (`createDevnet`/`writeDevnet`),
 *                                                    user nodes included (`user-<j>`, listed in genesis `userNodes`)
 *   DIR/allow-peers.txt                              the managers' allow file: user nodes added after genesis
 *   DIR/consortium-key.json                          the doctors' index key (consortium-key-cmd.ts), when genesis has doctors
 *   DIR/network.json                                 chain id, and each node's libp2p and RPC ports
 *   DIR/nodes/<name>/                                each node's LevelDB stores
 *   DIR/logs/<name>.log                              each node's log (stderr)
 *
 * On the first start the genesis, identities and ports are created (fixed ports from a `PortPlan`
 * or the topology, or free ports chosen then and recorded; a planned port that is taken gets a
 * free one, reported in `portNotes`); a later start reuses them, so the chain continues and the
 * RPC URLs stay the same, except that a JSON-RPC port taken in the meantime is replaced by a free
 * one (recorded, reported). Managers are permissioned: they admit the genesis user nodes and those
 * in DIR/allow-peers.txt; a user node added to an existing data dir gets a new identity whose peer
 * id is appended there.
 *
 * @example
 * ```ts
 * const net = await startNetwork(topologyFromFlags({ managers: 4, users: 2 }), '.devnet')
 * console.log(net.nodes.map((n) => `${n.name} ${n.rpc}`))
 * await net.stop()
 * ```
 */
import { createWriteStream, existsSync, type WriteStream } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { createDevnet, writeDevnet } from '../node/devnet.js'
import { parseGenesis, type Genesis } from '../node/genesis.js'
import { loadIdentity, newIdentityFile, writeFileAtomic } from '../node/identity.js'
import { parsePeerList } from '../node/peer-allow.js'
import type { PeerInfo } from '../rpc/backend.js'
import { loadPqBackend } from '../crypto/index.js'
import { writeConsortiumKey } from './consortium-key-cmd.js'
import { canListen, freePorts, ProcNet, rpc, type Proc } from './procs.js'
import { nodeNames, type Topology } from './topology.js'

export type NetworkErrorCode = 'LAYOUT_INVALID' | 'LAYOUT_MISMATCH' | 'START_FAILED' | 'NOT_READY'

export class NetworkError extends Error {
  readonly code: NetworkErrorCode
  constructor (code: NetworkErrorCode, message: string) { super(message); this.name = 'NetworkError'; this.code = code }
}

export interface LayoutNode {
  name: string
  role: 'manager' | 'user'
  /** libp2p TCP port (0: chosen by the OS at each start; user nodes). */
  p2pPort: number
  rpcPort: number
  /** Operations server port (/metrics, /healthz, /readyz), when the layout fixes one (npm start). */
  opsPort?: number
  /** The node's own address (network namespaces); default: the layout's host. */
  host?: string
}

/** DIR/network.json */
export interface NetworkLayout {
  version: 1
  chainId: string
  host: string
  nodes: LayoutNode[]
}

export interface NodeEndpoint {
  name: string
  role: 'manager' | 'user'
  rpc: string
  /** The operations server's URL (`StartOptions.ops`), else null. */
  ops: string | null
  peerId: string
  dataDir: string
  log: string
  /** The node's OS process id (memory readings, liveness checks). */
  pid: number
}

export interface RunningNetwork {
  dir: string
  genesis: Genesis
  /** True when this start created the genesis and identities. */
  created: boolean
  nodes: NodeEndpoint[]
  managers: NodeEndpoint[]
  users: NodeEndpoint[]
  /** Milliseconds from the call to every node ready. */
  startMs: number
  /** Ports that were taken and replaced by free ones at this start, in words (empty when none). */
  portNotes: string[]
  /** SIGTERM to every node (users first), SIGKILL after `timeoutMs`; resolves with the exit codes. */
  stop: (timeoutMs?: number) => Promise<Record<string, number | null>>
  /** Fault injection: SIGKILL one node (no clean shutdown, as in a crash). */
  kill: (name: string) => Promise<void>
  /** Starts a killed or stopped node again from its data dir (same ports, same log file). */
  restart: (name: string) => Promise<NodeEndpoint>
  /** Sends a signal to a running node's process (e.g. SIGSTOP/SIGCONT); false if it is not running. */
  signal: (name: string, sig: NodeJS.Signals) => boolean
}

/** Where nodes run when each has its own address (sim:local --netns). */
export interface Placement {
  /** The node's address (it binds libp2p and JSON-RPC there). */
  host: (name: string) => string
  /** Command prefix that runs a process in the node's place, e.g. ['ip', 'netns', 'exec', 'ns0']. */
  wrap: (name: string) => string[]
}

export interface StartOptions {
  /** Loopback address the nodes bind (default 127.0.0.1). */
  host?: string
  /** Each node on its own address, started through a command prefix (default: all on `host`, plain processes). */
  placement?: Placement
  pq?: 'liboqs' | 'noble'
  /** How long each node may take to print its ready line (default 60 s). */
  readyTimeoutMs?: number
  /** Called with progress lines. */
  log?: (line: string) => void
  /** More `pqmed node` arguments per node (e.g. `--rpc-rate-limit off` for the fuzz suite). */
  extraArgs?: (n: LayoutNode) => string[]
  /** Fixed ports for a new data dir (and user nodes added to one), instead of the topology's. */
  ports?: PortPlan
  /**
   * Every node serves /metrics, /healthz and /readyz (`--ops-port`): on its recorded `opsPort`
   * (a `PortPlan` with `ops`), else on a free port chosen at each start. Default: none.
   */
  ops?: boolean
}

/**
 * Fixed ports (`npm start`'s layout). A port of the plan that is taken when the data dir is
 * created gets a free one instead, reported in `RunningNetwork.portNotes`.
 */
export interface PortPlan {
  /** JSON-RPC port of node `name` (`manager-<i>`, `user-<j>`). */
  rpc: (name: string) => number
  /** libp2p port of manager i (written into genesis). */
  p2p: (i: number) => number
  /** Operations server port of node `name` (optional: without it, free ports at each start). */
  ops?: (name: string) => number
}

const LAYOUT = 'network.json'
/** The managers' allow file in a data dir (`--allow-peers-file`). */
export const ALLOW_FILE = 'allow-peers.txt'
/** The consortium key file in a data dir. */
export const CONSORTIUM_KEY_FILE = 'consortium-key.json'

/**
 * Makes sure every user node `user-<j>` (j < users) has an identity in DIR/identities and that
 * the managers admit it: listed in genesis `userNodes`, or else appended to DIR/allow-peers.txt
 * (user nodes added after genesis, and data dirs made before user identities existed).
 */
async function ensureUserAccess (dir: string, genesis: Genesis, users: number): Promise<void> {
  const allowPath = join(dir, ALLOW_FILE)
  if (!existsSync(allowPath)) {
    await writeFile(allowPath, '# user nodes the managers admit besides genesis userNodes: one libp2p peer id per line\n# (re-read by every manager when this file changes; see `pqmed peer-id`)\n')
  }
  const listed = new Set([...(genesis.userNodes ?? []), ...parsePeerList(await readFile(allowPath, 'utf8'), allowPath)])
  const add: string[] = []
  await mkdir(join(dir, 'identities'), { recursive: true })
  for (let j = 0; j < users; j++) {
    const path = join(dir, 'identities', `user-${j}.json`)
    let peerId: string
    if (existsSync(path)) {
      peerId = (await loadIdentity(JSON.parse(await readFile(path, 'utf8')))).peerId
    } else {
      const f = newIdentityFile(`user-${j}`, 'user')
      await writeFileAtomic(path, JSON.stringify(f, null, 2) + '\n')
      peerId = (await loadIdentity(f)).peerId
    }
    if (!listed.has(peerId)) add.push(`${peerId}  # user-${j}`)
  }
  if (add.length > 0) await writeFile(allowPath, (await readFile(allowPath, 'utf8')) + add.join('\n') + '\n')
}

/** DIR/consortium-key.json for the genesis doctors, unless it exists or there is no doctor. */
async function ensureConsortiumKey (dir: string, genesis: Genesis): Promise<void> {
  const path = join(dir, CONSORTIUM_KEY_FILE)
  if (genesis.doctors.length === 0 || existsSync(path)) return
  await writeConsortiumKey(genesis, path, await loadPqBackend())
}

function parseLayout (text: string): NetworkLayout {
  let raw: unknown
  try { raw = JSON.parse(text) } catch (err) { throw new NetworkError('LAYOUT_INVALID', `${LAYOUT}: ${(err as Error).message}`) }
  const r = raw as Partial<NetworkLayout>
  const okNode = (n: Partial<LayoutNode>): boolean => typeof n.name === 'string' && (n.role === 'manager' || n.role === 'user') &&
    Number.isInteger(n.p2pPort) && Number.isInteger(n.rpcPort)
  if (r.version !== 1 || typeof r.chainId !== 'string' || typeof r.host !== 'string' || !Array.isArray(r.nodes) || !r.nodes.every(okNode)) {
    throw new NetworkError('LAYOUT_INVALID', `${LAYOUT}: not a version 1 network layout`)
  }
  return r as NetworkLayout
}

async function pickPorts (base: number, n: number): Promise<number[]> {
  if (n === 0) return []
  return base === 0 ? await freePorts(n) : Array.from({ length: n }, (_, i) => base + i)
}

/**
 * Creates genesis, identities and the port layout in `dir` if it has none; otherwise loads them
 * (adding ports for user nodes beyond those recorded). Returns whether it created them.
 */
export async function prepareNetwork (t: Topology, dir: string, host = '127.0.0.1', hostOf?: (name: string) => string, plan?: PortPlan): Promise<{ created: boolean, genesis: Genesis, layout: NetworkLayout, notes: string[] }> {
  await mkdir(dir, { recursive: true })
  const notes: string[] = []
  // a port of the plan, or a free one (said in `notes`) when it is taken
  const planned = async (want: number, what: string): Promise<number> => {
    if (await canListen(want, host)) return want
    const [p] = await freePorts(1) as [number]
    notes.push(`${what} ${want} was in use: using ${p} instead`)
    return p
  }
  const gPath = join(dir, 'genesis.json')
  const lPath = join(dir, LAYOUT)
  if (existsSync(gPath)) {
    const genesis = parseGenesis(await readFile(gPath, 'utf8'))
    if (!existsSync(lPath)) throw new NetworkError('LAYOUT_INVALID', `${dir} has a genesis.json but no ${LAYOUT}: not a data dir made by this tool`)
    const layout = parseLayout(await readFile(lPath, 'utf8'))
    const managers = layout.nodes.filter((n) => n.role === 'manager')
    if (genesis.managers.length !== t.managers || managers.length !== t.managers) {
      throw new NetworkError('LAYOUT_MISMATCH', `${dir} holds a network with ${genesis.managers.length} managers, the topology asks for ${t.managers} (the manager set is fixed by genesis: use another data dir)`)
    }
    if (layout.nodes.some((n) => (n.host !== undefined) !== (hostOf !== undefined))) {
      throw new NetworkError('LAYOUT_MISMATCH', `${dir} was created ${hostOf === undefined ? 'with a network namespace per node' : 'for loopback'}: start it the same way, or use another data dir`)
    }
    const users = layout.nodes.filter((n) => n.role === 'user')
    if (users.length < t.users) {
      const ports = plan !== undefined ? [] : await pickPorts(0, t.users - users.length)
      for (let j = users.length; j < t.users; j++) {
        const name = `user-${j}`
        layout.nodes.push(hostOf === undefined
          ? { name, role: 'user', p2pPort: 0, rpcPort: plan !== undefined ? await planned(plan.rpc(name), `${name}'s JSON-RPC port`) : ports[j - users.length] as number, ...(plan?.ops !== undefined ? { opsPort: await planned(plan.ops(name), `${name}'s operations port`) } : {}) }
          : { name, role: 'user', p2pPort: 0, rpcPort: t.ports.rpcBase || 8645, host: hostOf(name) })
      }
      await writeFile(lPath, JSON.stringify(layout, null, 2) + '\n')
    }
    if (plan?.ops !== undefined && hostOf === undefined && layout.nodes.some((n) => n.opsPort === undefined)) {
      // a data dir made before ops ports were recorded: they are added now
      for (const n of layout.nodes) if (n.opsPort === undefined) n.opsPort = await planned(plan.ops(n.name), `${n.name}'s operations port`)
      await writeFile(lPath, JSON.stringify(layout, null, 2) + '\n')
    }
    await ensureUserAccess(dir, genesis, Math.max(t.users, users.length))
    await ensureConsortiumKey(dir, genesis)
    return { created: false, genesis, layout, notes }
  }
  const names = nodeNames(t)
  // own addresses: the same fixed ports on every node; shared loopback: distinct (fixed or free) ports
  const p2p: number[] = []
  const rpcs: number[] = []
  if (hostOf !== undefined) {
    p2p.push(...names.map(() => t.ports.libp2pBase || 4001))
    rpcs.push(...names.map(() => t.ports.rpcBase || 8645))
  } else if (plan !== undefined) {
    for (let i = 0; i < t.managers; i++) p2p.push(await planned(plan.p2p(i), `manager-${i}'s libp2p port`))
    for (const name of names) rpcs.push(await planned(plan.rpc(name), `${name}'s JSON-RPC port`))
  } else {
    p2p.push(...await pickPorts(t.ports.libp2pBase, t.managers))
    rpcs.push(...await pickPorts(t.ports.rpcBase, names.length))
  }
  const ops: number[] = []
  if (hostOf === undefined && plan?.ops !== undefined) for (const name of names) ops.push(await planned(plan.ops(name), `${name}'s operations port`))
  const hostFor = (name: string): string => hostOf?.(name) ?? host
  const files = await createDevnet({ chainId: t.chainId, managers: t.managers, doctors: t.doctors, users: t.users, managerAddr: (i) => `/ip4/${hostFor(`manager-${i}`)}/tcp/${p2p[i] as number}`, params: t.consensus })
  await writeDevnet(dir, files)
  await ensureUserAccess(dir, files.genesis, t.users)
  await ensureConsortiumKey(dir, files.genesis)
  const layout: NetworkLayout = {
    version: 1,
    chainId: t.chainId,
    host,
    nodes: names.map((name, k) => ({
      name,
      role: k < t.managers ? 'manager' : 'user',
      p2pPort: k < t.managers || hostOf !== undefined ? p2p[k] as number : 0,
      rpcPort: rpcs[k] as number,
      ...(ops[k] !== undefined ? { opsPort: ops[k] } : {}),
      ...(hostOf !== undefined ? { host: hostOf(name) } : {})
    }))
  }
  await writeFile(lPath, JSON.stringify(layout, null, 2) + '\n')
  return { created: true, genesis: files.genesis, layout, notes }
}

/**
 * Before a start on loopback: a node's recorded JSON-RPC port that is taken now is replaced by a
 * free one (recorded in network.json, returned in words); a manager's libp2p port is fixed by the
 * genesis, so a taken one stops the start with the reason.
 */
async function freeRecordedPorts (dir: string, layout: NetworkLayout, nodes: LayoutNode[]): Promise<string[]> {
  const notes: string[] = []
  for (const n of nodes) {
    const host = n.host ?? layout.host
    if (n.role === 'manager' && !await canListen(n.p2pPort, host)) {
      throw new NetworkError('START_FAILED', `${n.name}'s libp2p port ${host}:${n.p2pPort} is in use (another devnet or pqmed node?); the genesis in ${dir} fixes it: stop what holds it, or use another data dir`)
    }
    if (!await canListen(n.rpcPort, host)) {
      const [p] = await freePorts(1) as [number]
      notes.push(`${n.name}'s JSON-RPC port ${n.rpcPort} was in use: using ${p} instead (recorded in ${join(dir, LAYOUT)})`)
      n.rpcPort = p
    }
    if (n.opsPort !== undefined && n.opsPort !== 0 && !await canListen(n.opsPort, host)) {
      const [p] = await freePorts(1) as [number]
      notes.push(`${n.name}'s operations port ${n.opsPort} was in use: using ${p} instead (recorded in ${join(dir, LAYOUT)})`)
      n.opsPort = p
    }
  }
  if (notes.length > 0) await writeFile(join(dir, LAYOUT), JSON.stringify(layout, null, 2) + '\n')
  return notes
}

/** `pqmed node` arguments of one node of a prepared network. */
export function nodeArgs (dir: string, layout: NetworkLayout, n: LayoutNode, pq?: 'liboqs' | 'noble', ops = false): string[] {
  const host = n.host ?? layout.host
  return [
    '--role', n.role,
    '--genesis', join(dir, 'genesis.json'),
    '--data-dir', join(dir, 'nodes', n.name),
    '--identity', join(dir, 'identities', `${n.name}.json`),
    ...(n.role === 'manager' ? ['--allow-peers-file', join(dir, ALLOW_FILE)] : []),
    '--listen', `/ip4/${host}/tcp/${n.p2pPort}`,
    '--rpc-host', host,
    '--rpc-port', String(n.rpcPort),
    // many nodes sharing 127.0.0.1 need libp2p's loopback tuning; nodes with their own addresses do not
    ...(host.startsWith('127.') ? ['--loopback'] : []),
    ...(pq !== undefined ? ['--pq', pq] : []),
    ...(ops ? ['--ops-host', host, '--ops-port', String(n.opsPort ?? 0)] : [])
  ]
}

/** Polls until every user node is connected to a quorum (2f+1) of managers. */
export async function waitConnected (users: NodeEndpoint[], managers: number, timeoutMs = 30_000): Promise<void> {
  const quorum = managers - Math.floor((managers - 1) / 3)
  const deadline = Date.now() + timeoutMs
  for (const u of users) {
    for (;;) {
      const peers = await rpc<PeerInfo[]>(u.rpc, 'net_peers', {}, 5000).catch(() => [])
      if (peers.filter((p) => p.manager).length >= Math.min(quorum, managers)) break
      if (Date.now() > deadline) throw new NetworkError('NOT_READY', `${u.name} is not connected to ${quorum} managers after ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

/**
 * Starts the topology as processes (`bin/pqmed.js node ...`): managers first, then user nodes,
 * and waits until every node printed its ready line and every user node reaches a quorum of
 * managers. On failure every started process is stopped before the error is thrown.
 */
export async function startNetwork (t: Topology, dirArg: string, opts: StartOptions = {}): Promise<RunningNetwork> {
  const t0 = Date.now()
  const dir = resolve(dirArg)
  const log = opts.log ?? (() => {})
  const { created, genesis, layout, notes } = await prepareNetwork(t, dir, opts.host ?? '127.0.0.1', opts.placement?.host, opts.ports)
  log(created ? `created genesis and identities in ${dir}` : `reusing ${dir} (chain ${genesis.chainId})`)
  const wanted = layout.nodes.filter((n) => n.role === 'manager' || Number(n.name.split('-')[1]) < t.users)
  if (opts.placement === undefined) notes.push(...await freeRecordedPorts(dir, layout, wanted))
  for (const n of notes) log(n)
  await mkdir(join(dir, 'logs'), { recursive: true })
  const net = new ProcNet(opts.placement?.wrap)
  const logs: WriteStream[] = []
  const endpoints: NodeEndpoint[] = []
  const startOne = async (n: LayoutNode): Promise<NodeEndpoint> => {
    const logPath = join(dir, 'logs', `${n.name}.log`)
    let p: Proc
    try {
      p = await net.start({ name: n.name, args: [...nodeArgs(dir, layout, n, opts.pq, opts.ops === true), ...(opts.extraArgs?.(n) ?? [])] }, opts.readyTimeoutMs ?? 60_000)
    } catch (err) {
      throw new NetworkError('START_FAILED', `${n.name} did not start (ports ${n.p2pPort}/${n.rpcPort}): ${(err as Error).message.slice(-2000)}`)
    }
    const out = createWriteStream(logPath, { flags: 'a' })
    logs.push(out)
    out.write(p.stderr.join(''))
    p.child.stderr?.on('data', (d: Buffer) => { out.write(d) })
    const e: NodeEndpoint = { name: n.name, role: n.role, rpc: p.rpc, ops: p.ops, peerId: p.peerId, dataDir: join(dir, 'nodes', n.name), log: logPath, pid: p.child.pid ?? -1 }
    const k = endpoints.findIndex((x) => x.name === n.name)
    if (k >= 0) endpoints[k] = e
    else endpoints.push(e)
    log(`${n.name} ready: ${p.rpc}`)
    return e
  }
  const stop = async (timeoutMs = 10_000): Promise<Record<string, number | null>> => {
    const codes: Record<string, number | null> = {}
    const stopGroup = async (names: string[]): Promise<void> => {
      await Promise.all(names.map(async (name) => {
        const p = net.procs.get(name)
        const killer = p === undefined ? undefined : setTimeout(() => { p.child.kill('SIGKILL') }, timeoutMs)
        codes[name] = await net.stop(name)
        clearTimeout(killer)
      }))
    }
    await stopGroup([...net.procs.keys()].filter((n) => n.startsWith('user-')))
    await stopGroup([...net.procs.keys()])
    await Promise.all(logs.map(async (s) => await new Promise((r) => s.end(r))))
    return codes
  }
  try {
    // allSettled: when one node fails, wait for the others to be up (or failed) so that stop() reaches all of them
    const all = async (nodes: LayoutNode[]): Promise<void> => {
      const failed = (await Promise.allSettled(nodes.map(startOne))).find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failed !== undefined) throw failed.reason
    }
    await all(wanted.filter((n) => n.role === 'manager'))
    await all(wanted.filter((n) => n.role === 'user'))
    const order = new Map(wanted.map((n, i) => [n.name, i]))
    endpoints.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0))
    await waitConnected(endpoints.filter((e) => e.role === 'user'), t.managers)
  } catch (err) {
    await stop(2000)
    throw err
  }
  return {
    dir,
    genesis,
    created,
    nodes: endpoints,
    managers: endpoints.filter((e) => e.role === 'manager'),
    users: endpoints.filter((e) => e.role === 'user'),
    startMs: Date.now() - t0,
    portNotes: notes,
    stop,
    kill: async (name) => { await net.kill(name) },
    restart: async (name) => {
      const n = wanted.find((x) => x.name === name)
      if (n === undefined) throw new NetworkError('START_FAILED', `no node ${name} in this network`)
      if (net.procs.has(name)) throw new NetworkError('START_FAILED', `${name} is running`)
      return await startOne(n)
    },
    signal: (name, sig) => {
      const p = net.procs.get(name)
      return p !== undefined && p.child.exitCode === null && p.child.kill(sig)
    }
  }
}

/**
 * Runs `stop` on the first SIGINT/SIGTERM, then exits 0 (1 if a node did not exit cleanly).
 * A second signal exits at once.
 */
export function stopOnSignal (stop: () => Promise<Record<string, number | null>>, log: (l: string) => void = (l) => { console.error(l) }): void {
  let stopping = false
  const handler = (sig: NodeJS.Signals): void => {
    if (stopping) { log(`${sig} again: exiting now`); process.exit(130) }
    stopping = true
    log(`${sig}: stopping every node...`)
    stop().then((codes) => {
      const bad = Object.entries(codes).filter(([, c]) => c !== 0)
      if (bad.length > 0) log(`not clean: ${bad.map(([n, c]) => `${n} exited ${String(c)}`).join(', ')}`)
      else log('all nodes stopped')
      process.exit(bad.length > 0 ? 1 : 0)
    }, (err: Error) => { log(`stop failed: ${err.message}`); process.exit(1) })
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
}
