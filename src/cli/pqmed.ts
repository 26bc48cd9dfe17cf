/**
 * The `pqmed` command line.
 *
 *   pqmed genesis --dir DIR [--managers 4] [--doctors 2] [--chain-id pqmed-devnet] [--host 127.0.0.1] [--base-port 4100]
 *   pqmed node --role manager|user --genesis FILE --data-dir DIR [--identity FILE] [--listen ADDR]...
 *              [--bootstrap ADDR]... [--rpc-port N] [--rpc-host 127.0.0.1] [--rpc-rate-limit PER_S[:BURST]|off] [--loopback] [--pq liboqs|noble]
 *
 * `node` prints one JSON line `{"event":"ready",...}` on stdout when it is up, and stops cleanly
 * on SIGINT / SIGTERM.
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { loadPqBackend, type PqBackendName } from '../crypto/index.js'
import { createDevnet, writeDevnet } from '../node/devnet.js'
import { parseGenesis } from '../node/genesis.js'
import { readIdentityFile } from '../node/identity.js'
import { startNode } from '../node/node.js'
import { createRpcBackend } from '../node/rpc-backend.js'
import { createRpcServer, type RateLimit } from '../rpc/index.js'
import { CLIENT_COMMANDS, runClientCommand } from './client.js'

class UsageError extends Error {}

const USAGE = `usage:
  pqmed genesis --dir DIR [--managers 4] [--doctors 2] [--chain-id pqmed-devnet] [--host 127.0.0.1] [--base-port 4100]
  pqmed node --role manager|user --genesis FILE --data-dir DIR [--identity FILE] [--listen MULTIADDR]...
             [--bootstrap MULTIADDR]... [--allow-peer PEER_ID]... [--rpc-port N] [--rpc-host 127.0.0.1] [--loopback] [--pq liboqs|noble]
             [--max-connections N] [--rpc-rate-limit PER_S[:BURST]|off]
             (--allow-peer: only these peers, plus the genesis managers, may connect; default: anyone)
             (--max-connections: libp2p connections kept before pruning; default 4096 for a manager, 300 for a user node)
             (--rpc-rate-limit: JSON-RPC calls per second per client IP, burst default 2x; default 100:200; off: none, for tests)`

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

async function genesisCmd (argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { dir: { type: 'string' }, managers: { type: 'string' }, doctors: { type: 'string' }, 'chain-id': { type: 'string' }, host: { type: 'string' }, 'base-port': { type: 'string' } }, strict: true })
  if (values.dir === undefined) throw new UsageError('--dir is required')
  const managers = int(values.managers, 'managers', 4, 1, 100)
  const doctors = int(values.doctors, 'doctors', 2, 0, 10_000)
  const host = values.host ?? '127.0.0.1'
  const basePort = int(values['base-port'], 'base-port', 4100, 1, 65_000)
  const files = await createDevnet({ chainId: values['chain-id'] ?? 'pqmed-devnet', managers, doctors, managerAddr: (i) => `/ip4/${host}/tcp/${basePort + i}` })
  await writeDevnet(resolve(values.dir), files)
  console.log(JSON.stringify({ event: 'genesis', dir: resolve(values.dir), chainId: files.genesis.chainId, managers: files.genesis.managers.map((m) => ({ name: m.name, peerId: m.peerId, addrs: m.addrs })), doctors: doctors }))
}

async function nodeCmd (argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      role: { type: 'string' },
      genesis: { type: 'string' },
      'data-dir': { type: 'string' },
      identity: { type: 'string' },
      listen: { type: 'string', multiple: true },
      bootstrap: { type: 'string', multiple: true },
      'allow-peer': { type: 'string', multiple: true },
      'rpc-port': { type: 'string' },
      'rpc-host': { type: 'string' },
      'rpc-rate-limit': { type: 'string' },
      loopback: { type: 'boolean' },
      'max-connections': { type: 'string' },
      pq: { type: 'string' },
      quiet: { type: 'boolean' },
      'fault-equivocate': { type: 'boolean' }
    },
    strict: true
  })
  const role = values.role
  if (role !== 'manager' && role !== 'user') throw new UsageError('--role must be manager or user')
  if (values.genesis === undefined || values['data-dir'] === undefined) throw new UsageError('--genesis and --data-dir are required')
  if (role === 'manager' && values.identity === undefined) throw new UsageError('a manager needs --identity')
  if (values.pq !== undefined && values.pq !== 'liboqs' && values.pq !== 'noble') throw new UsageError('--pq must be liboqs or noble')
  const rateLimit = parseRateLimit(values['rpc-rate-limit'])
  const genesis = parseGenesis(await readFile(values.genesis, 'utf8'))
  const identity = values.identity === undefined ? undefined : await readIdentityFile(values.identity)
  const quiet = values.quiet === true
  const log = {
    info: (m: string) => { if (!quiet) console.error(`[${role}] ${m}`) },
    warn: (m: string) => { console.error(`[${role}] warning: ${m}`) }
  }
  const pqName = values.pq as PqBackendName | undefined
  const node = await startNode({
    role,
    genesis,
    dataDir: resolve(values['data-dir']),
    identity,
    listen: values.listen ?? ['/ip4/127.0.0.1/tcp/0'],
    bootstrap: values.bootstrap,
    allowPeers: values['allow-peer'],
    loopback: values.loopback === true,
    maxConnections: values['max-connections'] === undefined ? undefined : int(values['max-connections'], 'max-connections', 0, 1, 1_000_000),
    pqBackend: pqName,
    log,
    byzantine: values['fault-equivocate'] === true ? 'equivocate' : undefined
  })
  let rpc: Awaited<ReturnType<typeof createRpcServer>> | undefined
  if (values['rpc-port'] !== undefined) {
    const pq = await loadPqBackend({ backend: pqName, warn: log.warn })
    rpc = await createRpcServer(createRpcBackend({ node, genesis, pq }), { host: values['rpc-host'] ?? '127.0.0.1', port: int(values['rpc-port'], 'rpc-port', 0, 0, 65_535), ...(rateLimit !== undefined ? { rateLimit } : {}) })
  }
  let stopping = false
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return
    stopping = true
    log.info(`${signal}: stopping`)
    try {
      await rpc?.close()
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
  console.log(JSON.stringify({ event: 'ready', role, peerId: node.peerId, addrs: node.host.getMultiaddrs().map(String), rpc: rpc?.url ?? null, height: node.manager?.chain.head.height ?? node.light?.height ?? 0 }))
}

async function main (): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2)
  if (cmd === 'genesis') await genesisCmd(rest)
  else if (cmd === 'node') await nodeCmd(rest)
  else if (cmd !== undefined && CLIENT_COMMANDS.has(cmd)) await runClientCommand(cmd, rest)
  else if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') { console.log(USAGE); if (cmd === undefined) process.exitCode = 2 }
  else throw new UsageError(`unknown command '${cmd}'`)
}

main().catch((err: Error) => {
  if (err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    console.error(`pqmed: ${err.message}\n${USAGE}`)
    process.exit(2)
  }
  console.error(`pqmed: ${(err as { code?: string }).code !== undefined ? `${(err as { code?: string }).code}: ` : ''}${err.message}`)
  process.exit(1)
})
