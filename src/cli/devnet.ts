/**
 * `npm start`: the devnet. 4 managers + 2 user nodes as processes on loopback, data in `.devnet/`
 * (or `--data-dir DIR`). The first start creates genesis and identities and seeds 50 synthetic
 * records through a user node's JSON-RPC; a later start reuses the data dir (same genesis, the
 * chain continues, no reseeding). Prints every node's RPC URL and curl examples, then runs until
 * Ctrl-C, which stops every node cleanly.
 *
 *   npm start [-- --data-dir DIR] [--records 50] [--users 2]
 */
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { createConsortiumKeyFile, openConsortiumKey, parseConsortiumKeyFile } from '../client/consortium.js'
import { SimulatedDoctor } from '../client/simulated-doctor.js'
import { loadCounters, readJsonFile, saveCounters, writeJsonFile } from '../client/state.js'
import { seededRng } from '../client/synthetic.js'
import { loadPqBackend, toHex, type PqBackend } from '../crypto/index.js'
import { parseGenesis } from '../node/genesis.js'
import { loadIdentity, readIdentityFile } from '../node/identity.js'
import { SseClient } from '../sse/index.js'
import type { ChainStatus } from '../rpc/backend.js'
import { startNetwork, stopOnSignal, type RunningNetwork } from './network.js'
import { rpc } from './procs.js'
import { topologyFromFlags } from './topology.js'
import { devnetCommand } from './commands.js'
import { parseEntryArgs } from './usage.js'

/**
 * The consortium index key (under which index-2 search tokens are derived): random, created on
 * first start and stored wrapped with ML-KEM-768 to every genesis doctor's key in
 * DIR/consortium-key.json (src/client/consortium.ts); a doctor opens it with its own KEM key.
 */
async function consortiumKey (dir: string, pq: PqBackend, doctorKemSecretKey: Uint8Array): Promise<Uint8Array> {
  const path = join(dir, 'consortium-key.json')
  if (!existsSync(path)) {
    const genesis = parseGenesis(await readFile(join(dir, 'genesis.json'), 'utf8'))
    await writeJsonFile(path, createConsortiumKeyFile(pq, genesis.doctors))
  }
  return openConsortiumKey(pq, parseConsortiumKeyFile(await readJsonFile(path, 'consortium key file')), doctorKemSecretKey)
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

/** The text `npm start` prints once the devnet is up. */
export function banner (net: RunningNetwork, recordId: string | undefined, seeded: number): string {
  const u0 = net.users[0]?.rpc ?? net.managers[0]?.rpc ?? ''
  const u1 = net.users[1]?.rpc ?? u0
  const lines = [
    '',
    `pqmed devnet "${net.genesis.chainId}" is running (${net.managers.length} managers, ${net.users.length} user nodes; data in ${net.dir}; started in ${(net.startMs / 1000).toFixed(1)} s)`,
    seeded > 0 ? `seeded ${seeded} synthetic records` : 'reusing the existing chain (not reseeded)',
    '',
    'JSON-RPC endpoints:',
    ...net.nodes.map((n) => `  ${n.name.padEnd(10)} ${n.rpc}   (log: ${n.log})`),
    '',
    'Try (user nodes verify every answer against certified headers before replying):',
    `  ${curl(u0, 'node_info')}`,
    `  ${curl(u0, 'chain_status')}`,
    `  ${curl(u0, 'chain_getHeader', { height: 'latest' })}`,
    ...(recordId !== undefined
      ? [`  ${curl(u1, 'ehr_getRecord', { recordId })}`, `  ${curl(u0, 'ehr_verifyRecord', { recordId })}`]
      : []),
    `  ${curl(u0, 'rpc.discover')}   # the OpenRPC document: every method and its params`,
    '',
    'The pqmed CLI (as doctor-0, who wrote the seeded records):',
    `  node bin/pqmed.js search fever --doctor ${join(net.dir, 'identities', 'doctor-0.json')} --consortium-key ${join(net.dir, 'consortium-key.json')} --state ${clientStateDir(net.dir)} --rpc ${u0}`,
    ...(recordId !== undefined ? [`  node bin/pqmed.js record verify ${recordId} --rpc ${u1}`] : []),
    '',
    `Managers admit only the user nodes listed in genesis and in ${join(net.dir, 'allow-peers.txt')} (re-read on change):`,
    `  node bin/pqmed.js peer-id --data-dir DIR >> ${join(net.dir, 'allow-peers.txt')}   # then start a user node with --data-dir DIR`,
    '',
    'Ctrl-C stops every node; `npm start` again reuses the data dir.',
    ''
  ]
  return lines.join('\n')
}

export async function main (argv: string[]): Promise<void> {
  const values = parseEntryArgs(devnetCommand(), argv) as { 'data-dir'?: string, records?: string, users?: string }
  const dir = resolve(values['data-dir'] ?? '.devnet')
  const records = Number(values.records ?? 50)
  if (!Number.isInteger(records) || records < 0 || records > 10_000) throw new Error('--records must be an integer in [0, 10000]')
  const topology = topologyFromFlags({ managers: 4, users: Number(values.users ?? 2), doctors: 2, chainId: 'pqmed-devnet' })
  console.error(`starting the devnet (${topology.managers} managers, ${topology.users} user nodes) in ${dir} ...`)
  const net = await startNetwork(topology, dir, { log: (l) => { console.error(`  ${l}`) } })
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
  console.log(banner(net, ids[0], seeded))
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(`npm start: ${err.message}`)
    process.exit(err.name === 'UsageError' ? 2 : 1)
  })
}
