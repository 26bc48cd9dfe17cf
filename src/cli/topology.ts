/**
 * Topology files: one description of a pqmed network that `sim:local` (local processes) and
 * `sim:compose` (Docker Compose) both read, so a researcher describes a network once.
 *
 * A topology is YAML or JSON:
 *
 * ```yaml
 * chainId: pqmed-devnet        # a-z 0-9 . _ -
 * managers: 4                  # consensus nodes (genesis), 1..100
 * users: 2                     # light user nodes (RPC endpoints), 0..1000
 * doctors: 2                   # registered doctor identities, 0..10000
 * consensus: { blockInterval: 100, maxBlockRecords: 500, viewChangeTimeout: 2000, heartbeatInterval: 500 }
 * latencyMs: 0                 # one-way delay added on every node's interface (netem), ms
 * nodes:                       # per-node overrides (manager-0.., user-0..)
 *   manager-3: { latencyMs: 80 }
 * ports: { rpcBase: 8645, libp2pBase: 4100 }   # 0 = free ports chosen at creation (local mode)
 * resources:                   # Compose `deploy.resources.limits`
 *   manager: { cpus: "1.0", memory: 512M }
 *   user: { cpus: "0.5", memory: 256M }
 * ```
 *
 * @example
 * ```ts
 * const t = parseTopology(await readFile('docker/topologies/devnet.yml', 'utf8'))
 * const u = topologyFromFlags({ managers: 4, users: 6, latencyMs: 20 })
 * nodeNames(u) // ['manager-0', ..., 'user-5']
 * ```
 */
import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import { DEFAULT_PARAMS, type ConsensusParams } from '../node/genesis.js'

export type TopologyErrorCode = 'TOPOLOGY_SYNTAX' | 'TOPOLOGY_INVALID'

export class TopologyError extends Error {
  readonly code: TopologyErrorCode
  constructor (code: TopologyErrorCode, message: string) { super(`topology: ${message}`); this.name = 'TopologyError'; this.code = code }
}

export interface ResourceLimits {
  /** Compose `cpus`, e.g. "0.5". */
  cpus: string
  /** Compose memory, e.g. "256M". */
  memory: string
}

export interface Topology {
  chainId: string
  managers: number
  users: number
  doctors: number
  consensus: ConsensusParams
  /** Global one-way delay per node, ms (0 = none). */
  latencyMs: number
  /** Per-node overrides, by node name (`manager-<i>`, `user-<i>`). */
  nodes: Record<string, { latencyMs?: number }>
  ports: { rpcBase: number, libp2pBase: number }
  resources: { manager: ResourceLimits, user: ResourceLimits }
}

export const DEFAULT_TOPOLOGY: Topology = {
  chainId: 'pqmed-devnet',
  managers: 4,
  users: 2,
  doctors: 2,
  consensus: { ...DEFAULT_PARAMS },
  latencyMs: 0,
  nodes: {},
  ports: { rpcBase: 0, libp2pBase: 0 },
  resources: { manager: { cpus: '1.0', memory: '512M' }, user: { cpus: '0.5', memory: '256M' } }
}

const invalid = (m: string): TopologyError => new TopologyError('TOPOLOGY_INVALID', m)

function obj (v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`${what} must be a mapping`)
  return v as Record<string, unknown>
}
function int (v: unknown, what: string, def: number, min: number, max: number): number {
  if (v === undefined) return def
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw invalid(`${what} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`)
  return v
}
function onlyKeys (o: Record<string, unknown>, keys: string[], what: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw invalid(`unknown key '${k}' in ${what} (allowed: ${keys.join(', ')})`)
}
function limits (v: unknown, what: string, def: ResourceLimits): ResourceLimits {
  if (v === undefined) return { ...def }
  const o = obj(v, what)
  onlyKeys(o, ['cpus', 'memory'], what)
  const cpus = o.cpus === undefined ? def.cpus : typeof o.cpus === 'number' ? String(o.cpus) : o.cpus
  if (typeof cpus !== 'string' || !/^\d+(\.\d+)?$/.test(cpus) || Number(cpus) <= 0) throw invalid(`${what}.cpus must be a positive number like "0.5"`)
  const memory = o.memory ?? def.memory
  if (typeof memory !== 'string' || !/^\d+[bkmg]?$/i.test(memory)) throw invalid(`${what}.memory must be a size like "256M"`)
  return { cpus, memory }
}

/** Node names in start order: managers, then users. */
export function nodeNames (t: Topology): string[] {
  return [...Array.from({ length: t.managers }, (_, i) => `manager-${i}`), ...Array.from({ length: t.users }, (_, i) => `user-${i}`)]
}

/** The one-way delay of one node: its override, else the global value. */
export function nodeLatency (t: Topology, name: string): number {
  return t.nodes[name]?.latencyMs ?? t.latencyMs
}

/** Validates a parsed topology document (a plain object), filling defaults. */
export function validateTopology (raw: unknown): Topology {
  const r = obj(raw, 'topology')
  onlyKeys(r, ['chainId', 'managers', 'users', 'doctors', 'consensus', 'latencyMs', 'nodes', 'ports', 'resources'], 'topology')
  const d = DEFAULT_TOPOLOGY
  const chainId = r.chainId ?? d.chainId
  if (typeof chainId !== 'string' || chainId.length > 64 || !/^[a-z0-9][a-z0-9._-]*$/.test(chainId)) throw invalid('chainId must be 1..64 characters of a-z, 0-9, ".", "_", "-" (starting with a letter or digit)')
  const c = obj(r.consensus ?? {}, 'consensus')
  onlyKeys(c, Object.keys(DEFAULT_PARAMS), 'consensus')
  const consensus: ConsensusParams = {
    blockInterval: int(c.blockInterval, 'consensus.blockInterval', DEFAULT_PARAMS.blockInterval, 1, 60_000),
    maxBlockRecords: int(c.maxBlockRecords, 'consensus.maxBlockRecords', DEFAULT_PARAMS.maxBlockRecords, 1, 10_000),
    viewChangeTimeout: int(c.viewChangeTimeout, 'consensus.viewChangeTimeout', DEFAULT_PARAMS.viewChangeTimeout, 50, 600_000),
    heartbeatInterval: int(c.heartbeatInterval, 'consensus.heartbeatInterval', DEFAULT_PARAMS.heartbeatInterval, 10, 600_000)
  }
  const managers = int(r.managers, 'managers', d.managers, 1, 100)
  const users = int(r.users, 'users', d.users, 0, 1000)
  const t: Topology = {
    chainId,
    managers,
    users,
    doctors: int(r.doctors, 'doctors', d.doctors, 0, 10_000),
    consensus,
    latencyMs: int(r.latencyMs, 'latencyMs', 0, 0, 10_000),
    nodes: {},
    ports: { rpcBase: 0, libp2pBase: 0 },
    resources: { manager: { ...d.resources.manager }, user: { ...d.resources.user } }
  }
  const names = new Set(nodeNames(t))
  for (const [name, v] of Object.entries(obj(r.nodes ?? {}, 'nodes'))) {
    if (!names.has(name)) throw invalid(`nodes.${name}: no such node (names are manager-0..manager-${managers - 1} and user-0..user-${users - 1})`)
    const o = obj(v, `nodes.${name}`)
    onlyKeys(o, ['latencyMs'], `nodes.${name}`)
    t.nodes[name] = { latencyMs: int(o.latencyMs, `nodes.${name}.latencyMs`, t.latencyMs, 0, 10_000) }
  }
  const p = obj(r.ports ?? {}, 'ports')
  onlyKeys(p, ['rpcBase', 'libp2pBase'], 'ports')
  const span = managers + users
  t.ports.rpcBase = int(p.rpcBase, 'ports.rpcBase', 0, 0, 65_535 - span)
  t.ports.libp2pBase = int(p.libp2pBase, 'ports.libp2pBase', 0, 0, 65_535 - span)
  if (t.ports.rpcBase !== 0 && t.ports.libp2pBase !== 0 && Math.abs(t.ports.rpcBase - t.ports.libp2pBase) < span) throw invalid(`ports.rpcBase and ports.libp2pBase ranges overlap (each needs ${span} ports)`)
  const res = obj(r.resources ?? {}, 'resources')
  onlyKeys(res, ['manager', 'user'], 'resources')
  t.resources.manager = limits(res.manager, 'resources.manager', d.resources.manager)
  t.resources.user = limits(res.user, 'resources.user', d.resources.user)
  return t
}

/** Parses a YAML or JSON topology (JSON is YAML). Throws TopologyError with the offending field. */
export function parseTopology (text: string): Topology {
  let raw: unknown
  try { raw = parseYaml(text, { prettyErrors: true }) } catch (err) { throw new TopologyError('TOPOLOGY_SYNTAX', (err as Error).message) }
  return validateTopology(raw ?? {})
}

export async function readTopology (path: string): Promise<Topology> {
  const text = await readFile(path, 'utf8')
  try { return parseTopology(text) } catch (err) {
    if (err instanceof TopologyError) throw new TopologyError(err.code, `${path}: ${err.message.replace(/^topology: /, '')}`)
    throw err
  }
}

export interface TopologyFlags {
  managers?: number
  users?: number
  doctors?: number
  latencyMs?: number
  chainId?: string
}

/** A topology from command-line flags, on top of a base (a file, or the defaults). */
export function topologyFromFlags (f: TopologyFlags, base: Topology = DEFAULT_TOPOLOGY): Topology {
  return validateTopology({
    ...base,
    nodes: Object.fromEntries(Object.entries(base.nodes).filter(([n]) => {
      const [role, i] = n.split('-') as [string, string]
      return Number(i) < (role === 'manager' ? (f.managers ?? base.managers) : (f.users ?? base.users))
    })),
    ...(f.chainId !== undefined ? { chainId: f.chainId } : {}),
    ...(f.managers !== undefined ? { managers: f.managers } : {}),
    ...(f.users !== undefined ? { users: f.users } : {}),
    ...(f.doctors !== undefined ? { doctors: f.doctors } : {}),
    ...(f.latencyMs !== undefined ? { latencyMs: f.latencyMs } : {})
  })
}

/** Parses the shared command-line flags of the sim commands: --topology F, --managers, --users, --doctors, --latency, --chain-id. */
export async function topologyFromArgs (values: { topology?: string, managers?: string, users?: string, doctors?: string, latency?: string, 'chain-id'?: string }): Promise<Topology> {
  const num = (v: string | undefined, name: string): number | undefined => {
    if (v === undefined) return undefined
    const n = Number(v)
    if (!Number.isInteger(n)) throw invalid(`--${name} must be an integer, got '${v}'`)
    return n
  }
  const base = values.topology === undefined ? DEFAULT_TOPOLOGY : await readTopology(values.topology)
  return topologyFromFlags({ managers: num(values.managers, 'managers'), users: num(values.users, 'users'), doctors: num(values.doctors, 'doctors'), latencyMs: num(values.latency, 'latency'), chainId: values['chain-id'] }, base)
}
