/**
 * The network commands of `pqmed`: `genesis`, `node`, `peer-id`,
 * `consortium-key`. Their flags and help are defined
 * in ./commands.ts; src/cli/main.ts parses the command line and imports this module only when one
 * of these commands runs (it loads libp2p and LevelDB).
 *
 * `node` prints one JSON line `{"event":"ready",...}` on stdout when it is up (stdout carries only
 * such machine lines; its logs go to stderr), and stops cleanly on SIGINT / SIGTERM; SIGHUP
 * re-reads its allow lists. With `--ops-port` it serves /metrics, /healthz and /readyz (src/node/ops).
 */
import { existsSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadPqBackend, type PqBackendName } from '../crypto/index.js'
import { createDevnet, writeDevnet } from '../node/devnet.js'
import { parseGenesis } from '../node/genesis.js'
import { loadIdentity, newIdentityFile, readIdentityFile, writeFileAtomic } from '../node/identity.js'
import { KV_MAX_OPEN_FILES_LIMIT, KV_MIN_OPEN_FILES } from '../node/kv.js'
import { createNodeLogger, LOG_LEVELS, type LogFormat, type LogLevel } from '../node/log-pino.js'
import { startNode, userPeerKey } from '../node/node.js'
import type { RecordsFault } from '../node/faults.js'
import { PromNodeMetrics, startOps, type RunningOps } from '../node/ops/index.js'
import { createRpcBackend } from '../node/rpc-backend.js'
import { createRpcServer, type RateLimit } from '../rpc/index.js'
import { ConsortiumKeyError, consortiumKeyCommand, writeConsortiumKey } from './consortium-key-cmd.js'
import { UsageError } from './usage.js'

/** `--rpc-rate-limit`: `off`, `PER_S` (burst 2×PER_S) or `PER_S:BURST`. */
function parseRateLimit (v: string | undefined): RateLimit | false | undefined {
  if (v === undefined) return undefined
  if (v === 'off') return false
  const m = /^(\d+)(?::(\d+))?$/.exec(v)
  const perSecond = Number(m?.[1])
  const burst = m?.[2] === undefined ? 2 * perSecond : Number(m[2])
  if (m === null || !(perSecond >= 1 && perSecond <= 1_000_000) || !(burst >= 1 && burst <= 1_000_000)) {
    throw new UsageError('--rpc-rate-limit must be off, PER_SECOND or PER_SECOND:BURST (integers in [1, 1000000])')
  }
  return { perSecond, burst }
}

function int (v: string | undefined, name: string, def: number, min: number, max: number): number {
  if (v === undefined) return def
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in [${min}, ${max}]`)
  return n
}

/** `pqmed genesis`: options keyed by long flag (src/cli/commands.ts). */
export type GenesisValues = { dir?: string, managers?: string, doctors?: string, users?: string, 'chain-id'?: string, host?: string, 'base-port'?: string }

export async function genesisCmd (values: GenesisValues): Promise<void> {
  if (values.dir === undefined) throw new UsageError('--dir is required')
  const managers = int(values.managers, 'managers', 4, 1, 100)
  const doctors = int(values.doctors, 'doctors', 2, 0, 10_000)
  const users = int(values.users, 'users', 0, 0, 10_000)
  const host = values.host ?? '127.0.0.1'
  const basePort = int(values['base-port'], 'base-port', 4100, 1, 65_000)
  const ckPath = join(resolve(values.dir), 'consortium-key.json')
  if (doctors > 0 && existsSync(ckPath)) throw new UsageError(`${ckPath} exists (a key of an earlier network): remove it or use another --dir`)
  const files = await createDevnet({ chainId: values['chain-id'] ?? 'pqmed-devnet', managers, doctors, users, managerAddr: (i) => `/ip4/${host}/tcp/${basePort + i}` })
  await writeDevnet(resolve(values.dir), files)
  if (doctors > 0) await writeConsortiumKey(files.genesis, ckPath, await loadPqBackend())
  console.log(JSON.stringify({ event: 'genesis', dir: resolve(values.dir), chainId: files.genesis.chainId, managers: files.genesis.managers.map((m) => ({ name: m.name, peerId: m.peerId, addrs: m.addrs })), doctors, userNodes: files.genesis.userNodes ?? [], consortiumKey: doctors > 0 ? ckPath : null }))
}

/** `pqmed consortium-key`: options keyed by long flag (src/cli/commands.ts). */
export type ConsortiumKeyValues = { genesis?: string, out?: string }

export async function consortiumKeyCmd (values: ConsortiumKeyValues): Promise<void> {
  if (values.genesis === undefined || values.out === undefined) throw new UsageError('consortium-key needs --genesis FILE and --out FILE')
  try {
    console.log(JSON.stringify(await consortiumKeyCommand({ genesis: values.genesis, out: values.out, pq: await loadPqBackend() })))
  } catch (err) {
    // a missing or bad genesis, a genesis without doctors, an existing key file: bad usage or input (exit 2)
    if (err instanceof ConsortiumKeyError) throw new UsageError(err.message)
    throw err
  }
}

/** `pqmed peer-id`: prints one peer id on stdout (for a manager's allow file). */
export type PeerIdValues = { identity?: string, 'data-dir'?: string, 'new-identity'?: string, name?: string, role?: string, 'hospital-id'?: string }

export async function peerIdCmd (values: PeerIdValues): Promise<void> {
  const given = [values.identity, values['data-dir'], values['new-identity']].filter((v) => v !== undefined)
  if (given.length !== 1) throw new UsageError('peer-id takes exactly one of --identity FILE, --data-dir DIR, --new-identity FILE')
  for (const f of ['name', 'role', 'hospital-id'] as const) {
    if (values[f] !== undefined && values['new-identity'] === undefined) throw new UsageError(`--${f} goes with --new-identity`)
  }
  const role = values.role ?? 'user'
  if (role !== 'user' && role !== 'manager') throw new UsageError('--role must be user or manager')
  if (values['hospital-id'] !== undefined && role !== 'manager') throw new UsageError('--hospital-id goes with --role manager (a hospital\'s new manager key)')
  if (values['hospital-id'] !== undefined && !/^[0-9a-f]{64}$/.test(values['hospital-id'])) throw new UsageError('--hospital-id must be 64 lowercase hex digits (the hospital id chain_getConsortium lists)')
  if (values.identity !== undefined) {
    console.log((await loadIdentity(await readIdentityFile(values.identity))).peerId)
  } else if (values['data-dir'] !== undefined) {
    const dir = resolve(values['data-dir'])
    await mkdir(dir, { recursive: true })
    console.log(peerIdFromPrivateKey(await userPeerKey(dir)).toString())
  } else {
    const path = resolve(values['new-identity'] as string)
    if (existsSync(path)) throw new UsageError(`${path} exists: not overwriting an identity`)
    const f = { ...newIdentityFile(values.name ?? basename(path).replace(/\.json$/, ''), role), ...(values['hospital-id'] !== undefined ? { hospitalId: values['hospital-id'] } : {}) }
    await writeFileAtomic(path, JSON.stringify(f, null, 2) + '\n')
    console.log((await loadIdentity(f)).peerId)
  }
}

export type NodeValues = {
  role?: string, genesis?: string, 'data-dir'?: string, identity?: string, listen?: string[], bootstrap?: string[], 'allow-peer'?: string[],
  'allow-peers-file'?: string, open?: boolean, 'rpc-port'?: string, 'rpc-host'?: string, 'rpc-rate-limit'?: string, loopback?: boolean,
  'max-connections'?: string, pq?: string, quiet?: boolean, 'fault-equivocate'?: boolean, 'fault-unchecked-labels'?: boolean, 'fault-records'?: string,
  'ops-port'?: string, 'ops-host'?: string, 'log-level'?: string, 'log-format'?: string, 'store-open-files'?: string
}

export async function nodeCmd (values: NodeValues): Promise<void> {
  const role = values.role
  if (role !== 'manager' && role !== 'user') throw new UsageError('--role must be manager or user')
  if (values.genesis === undefined || values['data-dir'] === undefined) throw new UsageError('--genesis and --data-dir are required')
  if (role === 'manager' && values.identity === undefined) throw new UsageError('a manager needs --identity')
  if (values.pq !== undefined && values.pq !== 'liboqs' && values.pq !== 'noble') throw new UsageError('--pq must be liboqs or noble')
  if (values.open === true && (values['allow-peer'] !== undefined || values['allow-peers-file'] !== undefined)) throw new UsageError('--open admits every peer: it cannot be combined with --allow-peer or --allow-peers-file')
  for (const f of ['rpc-host', 'rpc-rate-limit'] as const) {
    if (values[f] !== undefined && values['rpc-port'] === undefined) throw new UsageError(`--${f} configures the JSON-RPC server: it goes with --rpc-port (without it the node serves no JSON-RPC)`)
  }
  if (values['ops-host'] !== undefined && values['ops-port'] === undefined) throw new UsageError('--ops-host configures the operations server: it goes with --ops-port (without it the node serves no /metrics, /healthz, /readyz)')
  const opsPort = values['ops-port'] === undefined ? undefined : int(values['ops-port'], 'ops-port', 0, 0, 65_535)
  if (values['log-level'] !== undefined && !(LOG_LEVELS as readonly string[]).includes(values['log-level'])) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`)
  if (values['log-format'] !== undefined && values['log-format'] !== 'json' && values['log-format'] !== 'pretty') throw new UsageError('--log-format must be json or pretty')
  if (values.quiet === true && values['log-level'] !== undefined) throw new UsageError('--quiet is --log-level warn: give one of them')
  const rateLimit = parseRateLimit(values['rpc-rate-limit'])
  const genesis = parseGenesis(await readFile(values.genesis, 'utf8'))
  const identity = values.identity === undefined ? undefined : await readIdentityFile(values.identity)
  const nodeName = identity?.name ?? basename(resolve(values['data-dir']))
  const log = createNodeLogger({
    level: (values['log-level'] as LogLevel | undefined) ?? (values.quiet === true ? 'warn' : 'info'),
    format: (values['log-format'] as LogFormat | undefined) ?? 'pretty',
    role,
    node: nodeName
  })
  // metrics only with an ops server (libp2p's own metrics included: one node per process here)
  const metrics = opsPort === undefined ? undefined : new PromNodeMetrics({ role, node: nodeName, log })
  const pqName = values.pq as PqBackendName | undefined
  const node = await startNode({
    role,
    genesis,
    dataDir: resolve(values['data-dir']),
    identity,
    listen: values.listen ?? ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: values.bootstrap,
    allowPeers: values['allow-peer'],
    allowPeersFile: values['allow-peers-file'] === undefined ? undefined : resolve(values['allow-peers-file']),
    open: values.open === true,
    loopback: values.loopback === true,
    maxConnections: values['max-connections'] === undefined ? undefined : int(values['max-connections'], 'max-connections', 0, 1, 1_000_000),
    storeOpenFiles: values['store-open-files'] === undefined ? undefined : int(values['store-open-files'], 'store-open-files', 0, KV_MIN_OPEN_FILES, KV_MAX_OPEN_FILES_LIMIT),
    pqBackend: pqName,
    log,
    metrics,
    metricsRegistry: metrics?.registry,
    byzantine: values['fault-equivocate'] === true ? 'equivocate' : values['fault-unchecked-labels'] === true ? 'unchecked-labels' : values['fault-records'] as RecordsFault | undefined
  })
  let rpc: Awaited<ReturnType<typeof createRpcServer>> | undefined
  if (values['rpc-port'] !== undefined) {
    const pq = await loadPqBackend({ backend: pqName, warn: log.warn })
    const observe = (method: string, code: number, s: number): void => {
      if (metrics !== undefined) metrics.rpc(method, code, s)
      else log.debug('rpc request', { method, code, ms: Math.round(s * 100_000) / 100 })
    }
    rpc = await createRpcServer(createRpcBackend({ node, genesis, pq }), { host: values['rpc-host'] ?? '127.0.0.1', port: int(values['rpc-port'], 'rpc-port', 0, 0, 65_535), observe, ...(rateLimit !== undefined ? { rateLimit } : {}) })
  }
  let ops: RunningOps | undefined
  if (metrics !== undefined && opsPort !== undefined) {
    ops = await startOps({ node, metrics, genesis, dataDir: resolve(values['data-dir']), host: values['ops-host'] ?? '127.0.0.1', port: opsPort })
  }
  let stopping = false
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return
    stopping = true
    log.info(`${signal}: stopping`)
    try {
      await rpc?.close()
      await ops?.close()
      await node.stop()
    } catch (err) {
      console.error(`pqmed: error while stopping: ${(err as Error).stack ?? String(err)}`)
      process.exit(1)
    }
    process.exit(0)
  }
  // a long-running node logs stray rejections from the network stack instead of dying on them
  process.on('unhandledRejection', (reason) => { log.warn(`unhandled rejection: ${reason instanceof Error ? reason.stack ?? reason.message : String(reason)}`) })
  process.on('SIGINT', () => { void stop('SIGINT') })
  process.on('SIGTERM', () => { void stop('SIGTERM') })
  process.on('SIGHUP', () => {
    if (node.allowList === undefined) { log.info('SIGHUP: open node, no allow list to re-read'); return }
    log.info('SIGHUP: re-reading the allow lists')
    void node.reloadAllowList()
  })
  console.log(JSON.stringify({ event: 'ready', role, peerId: node.peerId, addrs: node.host.getMultiaddrs().map(String), rpc: rpc?.url ?? null, ops: ops?.url ?? null, height: node.manager?.chain.head.height ?? node.light?.height ?? 0 }))
}
