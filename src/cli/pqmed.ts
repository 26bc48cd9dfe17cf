/**
 * The `pqmed` command line.
 *
 *   pqmed genesis --dir DIR [--managers 4] [--doctors 2] [--users 0] [--chain-id pqmed-devnet] [--host 127.0.0.1] [--base-port 4100]
 *   pqmed node --role manager|user --genesis FILE --data-dir DIR [--identity FILE] [--listen ADDR]...
 *              [--bootstrap ADDR]... [--allow-peer ID]... [--allow-peers-file FILE] [--open]
 *              [--rpc-port N] [--rpc-host 127.0.0.1] [--rpc-rate-limit PER_S[:BURST]|off] [--loopback] [--pq liboqs|noble]
 *   pqmed peer-id (--identity FILE | --data-dir DIR | --new-identity FILE [--name NAME])
 *   pqmed consortium-key --genesis FILE --out FILE
 *
 * `node` prints one JSON line `{"event":"ready",...}` on stdout when it is up, and stops cleanly
 * on SIGINT / SIGTERM; SIGHUP re-reads its allow lists.
 */
import { existsSync } from 'node:fs'
import { mkdir, readFile } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { parseArgs } from 'node:util'
import { loadPqBackend, type PqBackendName } from '../crypto/index.js'
import { createDevnet, writeDevnet } from '../node/devnet.js'
import { parseGenesis } from '../node/genesis.js'
import { loadIdentity, newIdentityFile, readIdentityFile, writeFileAtomic } from '../node/identity.js'
import { startNode, userPeerKey } from '../node/node.js'
import { createRpcBackend } from '../node/rpc-backend.js'
import { createRpcServer, type RateLimit } from '../rpc/index.js'
import { CLIENT_COMMANDS, runClientCommand } from './client.js'
import { ConsortiumKeyError, consortiumKeyCommand, writeConsortiumKey } from './consortium-key-cmd.js'

class UsageError extends Error {}

const USAGE = `usage:
  pqmed genesis --dir DIR [--managers 4] [--doctors 2] [--users 0] [--chain-id pqmed-devnet] [--host 127.0.0.1] [--base-port 4100]
             (--users N: user-node identities identities/user-<i>.json, listed in genesis userNodes;
              with doctors, also DIR/consortium-key.json: the doctors' index key, see consortium-key)
  pqmed node --role manager|user --genesis FILE --data-dir DIR [--identity FILE] [--listen MULTIADDR]...
             [--bootstrap MULTIADDR]... [--allow-peer PEER_ID]... [--allow-peers-file FILE] [--open]
             [--rpc-port N] [--rpc-host 127.0.0.1] [--loopback] [--pq liboqs|noble] [--max-connections N] [--rpc-rate-limit PER_S[:BURST]|off]
             (a manager admits only the genesis managers, the genesis userNodes, --allow-peer ids and the
              ids in --allow-peers-file: one per line, # comments, re-read when it changes and on SIGHUP;
              --open admits anyone, with a warning; a user node is open unless given a list)
             (--identity on a user node: a user identity, so its peer id is fixed; default: DATA_DIR/peer-key)
             (--max-connections: libp2p connections kept before pruning; default 4096 for a manager, 300 for a user node)
             (--rpc-rate-limit: JSON-RPC calls per second per client IP, burst default 2x; default 100:200; off: none, for tests)
  pqmed peer-id (--identity FILE | --data-dir DIR | --new-identity FILE [--name NAME])
             (prints a node's libp2p peer id, the line to add to a manager's allow file: of an identity
              file; of a user node's DATA_DIR/peer-key, created if missing; or of a new user identity)
  pqmed consortium-key --genesis FILE --out FILE
             (a new consortium key file: one index key wrapped to every doctor of the genesis, which only
              they can open; make it once per network and give the same file to every doctor; never overwrites)`

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
  const { values } = parseArgs({ args: argv, options: { dir: { type: 'string' }, managers: { type: 'string' }, doctors: { type: 'string' }, users: { type: 'string' }, 'chain-id': { type: 'string' }, host: { type: 'string' }, 'base-port': { type: 'string' } }, strict: true })
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

async function consortiumKeyCmd (argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { genesis: { type: 'string' }, out: { type: 'string' } }, strict: true })
  if (values.genesis === undefined || values.out === undefined) throw new UsageError('consortium-key needs --genesis FILE and --out FILE')
  console.log(JSON.stringify(await consortiumKeyCommand({ genesis: values.genesis, out: values.out, pq: await loadPqBackend() })))
}

/** `pqmed peer-id`: prints one peer id on stdout (for a manager's allow file). */
async function peerIdCmd (argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { identity: { type: 'string' }, 'data-dir': { type: 'string' }, 'new-identity': { type: 'string' }, name: { type: 'string' } }, strict: true })
  const given = [values.identity, values['data-dir'], values['new-identity']].filter((v) => v !== undefined)
  if (given.length !== 1) throw new UsageError('peer-id takes exactly one of --identity FILE, --data-dir DIR, --new-identity FILE')
  if (values.name !== undefined && values['new-identity'] === undefined) throw new UsageError('--name goes with --new-identity')
  if (values.identity !== undefined) {
    console.log((await loadIdentity(await readIdentityFile(values.identity))).peerId)
  } else if (values['data-dir'] !== undefined) {
    const dir = resolve(values['data-dir'])
    await mkdir(dir, { recursive: true })
    console.log(peerIdFromPrivateKey(await userPeerKey(dir)).toString())
  } else {
    const path = resolve(values['new-identity'] as string)
    if (existsSync(path)) throw new UsageError(`${path} exists: not overwriting an identity`)
    const f = newIdentityFile(values.name ?? basename(path).replace(/\.json$/, ''), 'user')
    await writeFileAtomic(path, JSON.stringify(f, null, 2) + '\n')
    console.log((await loadIdentity(f)).peerId)
  }
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
      'allow-peers-file': { type: 'string' },
      open: { type: 'boolean' },
      'rpc-port': { type: 'string' },
      'rpc-host': { type: 'string' },
      'rpc-rate-limit': { type: 'string' },
      loopback: { type: 'boolean' },
      'max-connections': { type: 'string' },
      pq: { type: 'string' },
      quiet: { type: 'boolean' },
      'fault-equivocate': { type: 'boolean' },
      'fault-unchecked-labels': { type: 'boolean' }
    },
    strict: true
  })
  const role = values.role
  if (role !== 'manager' && role !== 'user') throw new UsageError('--role must be manager or user')
  if (values.genesis === undefined || values['data-dir'] === undefined) throw new UsageError('--genesis and --data-dir are required')
  if (role === 'manager' && values.identity === undefined) throw new UsageError('a manager needs --identity')
  if (values.pq !== undefined && values.pq !== 'liboqs' && values.pq !== 'noble') throw new UsageError('--pq must be liboqs or noble')
  if (values.open === true && (values['allow-peer'] !== undefined || values['allow-peers-file'] !== undefined)) throw new UsageError('--open admits every peer: it cannot be combined with --allow-peer or --allow-peers-file')
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
    allowPeersFile: values['allow-peers-file'] === undefined ? undefined : resolve(values['allow-peers-file']),
    open: values.open === true,
    loopback: values.loopback === true,
    maxConnections: values['max-connections'] === undefined ? undefined : int(values['max-connections'], 'max-connections', 0, 1, 1_000_000),
    pqBackend: pqName,
    log,
    byzantine: values['fault-equivocate'] === true ? 'equivocate' : values['fault-unchecked-labels'] === true ? 'unchecked-labels' : undefined
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
  process.on('SIGHUP', () => {
    if (node.allowList === undefined) { log.info('SIGHUP: open node, no allow list to re-read'); return }
    log.info('SIGHUP: re-reading the allow lists')
    void node.reloadAllowList()
  })
  console.log(JSON.stringify({ event: 'ready', role, peerId: node.peerId, addrs: node.host.getMultiaddrs().map(String), rpc: rpc?.url ?? null, height: node.manager?.chain.head.height ?? node.light?.height ?? 0 }))
}

async function main (): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2)
  if (cmd === 'genesis') await genesisCmd(rest)
  else if (cmd === 'node') await nodeCmd(rest)
  else if (cmd === 'peer-id') await peerIdCmd(rest)
  else if (cmd === 'consortium-key') await consortiumKeyCmd(rest)
  else if (cmd !== undefined && CLIENT_COMMANDS.has(cmd)) await runClientCommand(cmd, rest)
  else if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') { console.log(USAGE); if (cmd === undefined) process.exitCode = 2 }
  else throw new UsageError(`unknown command '${cmd}'`)
}

main().catch((err: Error) => {
  if (err instanceof ConsortiumKeyError) {
    console.error(`pqmed: ${err.message}`)
    process.exit(2)
  }
  if (err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    console.error(`pqmed: ${err.message}\n${USAGE}`)
    process.exit(2)
  }
  console.error(`pqmed: ${(err as { code?: string }).code !== undefined ? `${(err as { code?: string }).code}: ` : ''}${err.message}`)
  process.exit(1)
})
