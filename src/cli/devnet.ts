/**
 * `npm start`: the devnet. 4 managers + 2 user nodes as processes on loopback, data in `.devnet/`
 * (or `--data-dir DIR`). The first start creates genesis and identities and seeds 50 synthetic
 * records through a user node's JSON-RPC; a later start reuses the data dir (same genesis, the
 * chain continues, no reseeding). Prints every node's RPC URL and curl examples, writes the CLI's
 * config file (`.pqmed.json`, node-url.ts) so that `pqmed` commands find the devnet without
 * `--rpc`, then runs until Ctrl-C, which stops every node cleanly.
 *
 * Ports (chosen when the data dir is created, recorded in DIR/network.json): user-j's JSON-RPC on
 * 8645 + j (so user-0 is the CLI's default node), manager-i's on 8641 + i, manager-i's libp2p on
 * 4100 + i (user nodes' libp2p: a free port at each start); operations servers (/metrics, /healthz,
 * /readyz) on 9641 + i for manager-i and 9645 + j for user-j. A port that is taken is replaced by
 * a free one, and the banner says so.
 *
 *   npm start [-- --data-dir DIR] [--records 50] [--users 2] [--rpc-port 8645] [--p2p-port 4100] [--ops-port 9645] [--config FILE]
 */
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { isAbsolute, join, relative, resolve } from 'node:path'
import { openKeyRing, parseConsortiumKeyRing } from '../client/consortium.js'
import { SimulatedDoctor } from '../client/simulated-doctor.js'
import { loadCounters, readJsonFile, saveCounters } from '../client/state.js'
import { seededRng } from '../client/synthetic.js'
import { loadPqBackend, toHex, type PqBackend } from '../crypto/index.js'
import { loadIdentity, readIdentityFile } from '../node/identity.js'
import { SseClient } from '../sse/index.js'
import type { ChainStatus } from '../rpc/backend.js'
import { CONSORTIUM_KEY_FILE, startNetwork, stopOnSignal, type PortPlan, type RunningNetwork } from './network.js'
import { CONFIG_ENV, configFoundFrom, configWritePath, writeConfig } from './node-url.js'
import { rpc } from './procs.js'
import { topologyFromFlags } from './topology.js'
import { devnetCommand } from './commands.js'
import { parseEntryArgs } from './usage.js'

/**
 * The consortium index key (under which index-2 search tokens are derived): random, created with
 * the network (network.ts) and stored wrapped with ML-KEM-768 to every genesis doctor's key in
 * DIR/consortium-key.json (src/client/consortium.ts); a doctor opens it with its own KEM key.
 */
async function consortiumKey (dir: string, pq: PqBackend, doctorKemSecretKey: Uint8Array): Promise<Uint8Array> {
  // the newest key epoch the file holds for this doctor (records are written under the newest)
  const held = openKeyRing(pq, parseConsortiumKeyRing(await readJsonFile(join(dir, CONSORTIUM_KEY_FILE), 'consortium key file')), doctorKemSecretKey)
  return (held[held.length - 1] as { key: Uint8Array }).key
}

/** user-0's JSON-RPC port: the CLI's default node (src/client/rpc.ts DEFAULT_RPC_URL). */
export const DEVNET_RPC_PORT = 8645
/** manager-0's libp2p port (as `pqmed genesis --base-port`). */
export const DEVNET_P2P_PORT = 4100
/** user-0's operations port (/metrics, /healthz, /readyz); manager-i's is 9641 + i. */
export const DEVNET_OPS_PORT = 9645

/**
 * The devnet's fixed ports: user-j's JSON-RPC on rpcPort + j, manager-i's on rpcPort - managers + i
 * (8641..8644 by default: the managers' block ends where the users' begins), manager-i's libp2p on
 * p2pPort + i. Throws if a range leaves 1..65535 or the two ranges overlap.
 */
export function devnetPorts (managers: number, users: number, rpcPort = DEVNET_RPC_PORT, p2pPort = DEVNET_P2P_PORT, opsPort: number | null = DEVNET_OPS_PORT): PortPlan {
  const rpcLo = rpcPort - managers
  const rpcHi = rpcPort + Math.max(users, 1) - 1
  if (rpcLo < 1 || rpcHi > 65_535) throw new Error(`--rpc-port ${rpcPort}: the JSON-RPC ports ${rpcLo}..${rpcHi} must lie in 1..65535`)
  if (p2pPort < 1 || p2pPort + managers - 1 > 65_535) throw new Error(`--p2p-port ${p2pPort}: the libp2p ports must lie in 1..65535`)
  if (p2pPort <= rpcHi && rpcLo <= p2pPort + managers - 1) throw new Error(`--p2p-port ${p2pPort} and --rpc-port ${rpcPort}: the libp2p ports ${p2pPort}..${p2pPort + managers - 1} overlap the JSON-RPC ports ${rpcLo}..${rpcHi}`)
  const opsLo = opsPort === null ? 0 : opsPort - managers
  const opsHi = opsPort === null ? 0 : opsPort + Math.max(users, 1) - 1
  if (opsPort !== null) {
    if (opsLo < 1 || opsHi > 65_535) throw new Error(`--ops-port ${opsPort}: the operations ports ${opsLo}..${opsHi} must lie in 1..65535`)
    if (opsLo <= rpcHi && rpcLo <= opsHi) throw new Error(`--ops-port ${opsPort} and --rpc-port ${rpcPort}: the operations ports ${opsLo}..${opsHi} overlap the JSON-RPC ports ${rpcLo}..${rpcHi}`)
    if (opsLo <= p2pPort + managers - 1 && p2pPort <= opsHi) throw new Error(`--ops-port ${opsPort} and --p2p-port ${p2pPort}: the operations ports ${opsLo}..${opsHi} overlap the libp2p ports ${p2pPort}..${p2pPort + managers - 1}`)
  }
  const byName = (name: string, base: number, lo: number): number => {
    const [role, i] = name.split('-') as [string, string]
    return role === 'user' ? base + Number(i) : lo + Number(i)
  }
  return {
    rpc: (name) => byName(name, rpcPort, rpcLo),
    p2p: (i) => p2pPort + i,
    ...(opsPort !== null ? { ops: (name: string) => byName(name, opsPort, opsLo) } : {})
  }
}

/** Where the devnet keeps doctor-0's client state (its searchable-index counters). */
export const clientStateDir = (dir: string): string => join(dir, 'client-state')

/** Submits `count` synthetic records through `url` (waiting for each to commit); returns their ids. */
export async function seedRecords (dir: string, url: string, count: number): Promise<string[]> {
  const pq = await loadPqBackend()
  const id = await loadIdentity(await readIdentityFile(join(dir, 'identities', 'doctor-0.json')))
  const doctor = new SimulatedDoctor(pq, { id: id.keys.id, sigSecretKey: id.keys.sig.secretKey }, await consortiumKey(dir, pq, id.keys.kem.secretKey), new SseClient({ counters: await loadCounters(clientStateDir(dir)) }))
  const rng = seededRng(20_260_101)
  const subs = Array.from({ length: count }, (_, i) => doctor.record(rng, i % 12))
  const ids: string[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < subs.length; i = next++) {
      const s = subs[i]
      if (s === undefined) return
      await rpc(url, 'ehr_submitRecord', { submission: Buffer.from(s.bytes).toString('base64'), wait: true })
      ids[i] = toHex(s.tx.recordId)
    }
  }
  try {
    await Promise.all(Array.from({ length: 8 }, worker))
  } finally {
    // the counters let `pqmed search --state` find (and check for omissions among) the seeded records
    await saveCounters(clientStateDir(dir), doctor.sse.counters)
  }
  return ids
}

const curl = (url: string, method: string, params?: Record<string, unknown>): string =>
  `curl -s -X POST -H 'content-type: application/json' -d '${JSON.stringify({ jsonrpc: '2.0', id: 1, method, ...(params !== undefined ? { params } : {}) })}' ${url}`

/** How the banner shows a path: relative to the current directory when under it, else absolute. */
const shown = (p: string, cwd: string): string => {
  const r = relative(cwd, p)
  return r !== '' && !r.startsWith('..') && !isAbsolute(r) ? r : p
}

/** The text `npm start` prints once the devnet is up; `configPath`: the CLI config it wrote. */
export function banner (net: RunningNetwork, recordId: string | undefined, seeded: number, configPath: string, cwd = process.cwd()): string {
  const u0 = net.users[0]?.rpc ?? net.managers[0]?.rpc ?? ''
  const u1 = net.users[1]?.rpc ?? u0
  // the CLI finds the config from the current directory upward; elsewhere it needs PQMED_CONFIG
  const found = configFoundFrom(cwd, configPath)
  const cli = `${found ? '' : `${CONFIG_ENV}=${configPath} `}node bin/pqmed.js`
  const lines = [
    '',
    `pqmed devnet "${net.genesis.chainId}" is running (${net.managers.length} managers, ${net.users.length} user nodes; data in ${net.dir}; started in ${(net.startMs / 1000).toFixed(1)} s)`,
    seeded > 0 ? `seeded ${seeded} synthetic records` : 'reusing the existing chain (not reseeded)',
    ...(net.portNotes.length > 0
      ? ['', 'NOTE: not every node got its usual port (a port was in use):', ...net.portNotes.map((n) => `  ${n}`)]
      : []),
    '',
    'JSON-RPC endpoints:',
    ...net.nodes.map((n) => `  ${n.name.padEnd(10)} ${n.rpc}   (log: ${n.log})`),
    '',
    ...(net.nodes.some((n) => n.ops !== null)
      ? ['Operations servers (Prometheus /metrics, /healthz, /readyz; README "Operations: metrics, health, logs"):',
          ...net.nodes.map((n) => `  ${n.name.padEnd(10)} ops ${n.ops ?? '(none)'}`),
          `  metrics:   curl -s ${net.users[0]?.ops ?? ''}/metrics | grep '^pqmed_'`,
          `  readiness: curl -s ${net.managers[0]?.ops ?? ''}/readyz`, '']
      : []),
    'Try (user nodes verify every answer against certified headers before replying):',
    `  ${curl(u0, 'node_info')}`,
    `  ${curl(u0, 'chain_status')}`,
    `  ${curl(u0, 'chain_getHeader', { height: 'latest' })}`,
    ...(recordId !== undefined
      ? [`  ${curl(u1, 'ehr_getRecord', { recordId })}`, `  ${curl(u0, 'ehr_verifyRecord', { recordId })}`]
      : []),
    `  ${curl(u0, 'rpc.discover')}   # the OpenRPC document: every method and its params`,
    '',
    `The pqmed CLI finds this devnet (${u0}, its consortium key and doctor-0's client state) through ${configPath}`,
    found
      ? `(found from ${resolve(configPath, '..')} and the directories below it; elsewhere set ${CONFIG_ENV}=${configPath}, or pass --rpc URL). As doctor-0, who wrote the seeded records:`
      : `(give ${CONFIG_ENV}=${configPath}, or run from ${resolve(configPath, '..')}). As doctor-0, who wrote the seeded records:`,
    `  ${cli} search fever --doctor ${shown(join(net.dir, 'identities', 'doctor-0.json'), cwd)}`,
    ...(recordId !== undefined ? [`  ${cli} record verify ${recordId} --genesis ${shown(join(net.dir, 'genesis.json'), cwd)}`] : []),
    '',
    'A hospital adds a doctor with a tx signed by its manager identity (README "Governance", docs/GOVERNANCE.md); the new doctor gets the consortium key from doctor-0:',
    `  ${cli} doctor add --name "Dr. Ada Obi" --out ada.json --hospital ${shown(join(net.dir, 'identities', 'manager-0.json'), cwd)} --consortium-key ${shown(join(net.dir, CONSORTIUM_KEY_FILE), cwd)} --key-holder ${shown(join(net.dir, 'identities', 'doctor-0.json'), cwd)}`,
    '',
    `Managers admit only the user nodes listed in genesis and in ${join(net.dir, 'allow-peers.txt')} (re-read on change):`,
    `  node bin/pqmed.js peer-id --data-dir DIR >> ${join(net.dir, 'allow-peers.txt')}   # then start a user node with --data-dir DIR`,
    '',
    'Ctrl-C stops every node; `npm start` again reuses the data dir.',
    ''
  ]
  return lines.join('\n')
}

function portFlag (v: string | undefined, name: string, def: number): number {
  if (v === undefined) return def
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new Error(`--${name} must be an integer in [0, 65535]`)
  return n
}

export async function main (argv: string[]): Promise<void> {
  const values = parseEntryArgs(devnetCommand(), argv) as { 'data-dir'?: string, records?: string, users?: string, 'rpc-port'?: string, 'p2p-port'?: string, 'ops-port'?: string, config?: string }
  const dir = resolve(values['data-dir'] ?? '.devnet')
  const records = Number(values.records ?? 50)
  if (!Number.isInteger(records) || records < 0 || records > 10_000) throw new Error('--records must be an integer in [0, 10000]')
  const topology = topologyFromFlags({ managers: 4, users: Number(values.users ?? 2), doctors: 2, chainId: 'pqmed-devnet' })
  const rpcPort = portFlag(values['rpc-port'], 'rpc-port', DEVNET_RPC_PORT)
  const p2pPort = portFlag(values['p2p-port'], 'p2p-port', DEVNET_P2P_PORT)
  if ((rpcPort === 0) !== (p2pPort === 0)) throw new Error('--rpc-port 0 and --p2p-port 0 go together (free ports for every node)')
  // free operations ports with free RPC ports (tests), unless --ops-port says otherwise; 0: free ports at each start
  const opsPort = portFlag(values['ops-port'], 'ops-port', rpcPort === 0 ? 0 : DEVNET_OPS_PORT)
  if (rpcPort === 0 && opsPort !== 0) throw new Error('--ops-port N needs fixed JSON-RPC ports: with --rpc-port 0 the operations ports are free ones too')
  const ports = rpcPort === 0 ? undefined : devnetPorts(topology.managers, topology.users, rpcPort, p2pPort, opsPort === 0 ? null : opsPort)
  const configPath = configWritePath({ flag: values.config, env: process.env, cwd: process.cwd() })
  console.error(`starting the devnet (${topology.managers} managers, ${topology.users} user nodes) in ${dir} ...`)
  const net = await startNetwork(topology, dir, { log: (l) => { console.error(`  ${l}`) }, ports, ops: true })
  stopOnSignal(net.stop)
  const seededPath = join(dir, 'seeded-records.json')
  const user = net.users[0]?.rpc ?? (net.managers[0]?.rpc as string)
  let ids: string[] = []
  let seeded = 0
  try {
    const status = await rpc<ChainStatus>(user, 'chain_status')
    if (existsSync(seededPath)) ids = JSON.parse(await readFile(seededPath, 'utf8')) as string[]
    if (status.height === 0 && records > 0) {
      console.error(`  seeding ${records} synthetic records through ${user} ...`)
      ids = await seedRecords(dir, user, records)
      seeded = ids.length
      await writeFile(seededPath, JSON.stringify(ids, null, 2) + '\n')
    }
  } catch (err) {
    await net.stop()
    throw err
  }
  // the CLI's config: this devnet's user-0, consortium key and doctor-0's client state (node-url.ts)
  await writeConfig(configPath, { rpc: user, consortiumKey: join(dir, CONSORTIUM_KEY_FILE), state: clientStateDir(dir), genesis: join(dir, 'genesis.json'), writtenBy: `npm start (${dir})` })
  console.log(banner(net, ids[0], seeded, configPath))
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(`npm start: ${err.message}`)
    process.exit(err.name === 'UsageError' ? 2 : 1)
  })
}
