/**
 * What the counter recovery that `Doctor.search` (and `pqmed search`) now runs by default costs.
 * `node --import tsx --import ./src/polyfill.ts bench/search-recovery.ts [--records N] [--doctors D] [--runs R] [--out PATH] [--quick]`
 *
 * An in-process network (4 managers, 1 user node with its JSON-RPC server) holds N synthetic
 * records written by D doctors through the SDK. Each query is then run through the user node's
 * JSON-RPC, R times per mode, the modes alternating so that load on a shared machine hits them
 * alike:
 * - `fresh`: a client with no counters (a new state directory), recovery on: the new default;
 * - `warm`: a client whose counters are current, recovery on: the new default with a kept state;
 * - `local`: the same current counters, recovery off (`--no-recover`): the old default;
 * - `local, fresh`: no counters and no recovery: the old default on a new machine (finds nothing).
 * Reported per mode: wall time p50 / p95 (ms), JSON-RPC calls, recovery rounds and labels, matches.
 * Measures only; asserts nothing about time.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { consortiumWriters, createConsortiumKeyFile, Doctor, parseRecordInput, Patient, RpcClient, newClientIdentity, type SearchResult } from '../src/client/index.js'
import { seededRng, syntheticRecord } from '../src/client/synthetic.js'
import { freePorts } from '../src/cli/procs.js'
import { loadPqBackend, randomBytes } from '../src/crypto/index.js'
import { createDevnet } from '../src/node/devnet.js'
import { startNode, type RunningNode } from '../src/node/node.js'
import { createRpcBackend } from '../src/node/rpc-backend.js'
import { createRpcServer, type RpcServer } from '../src/rpc/index.js'
import { CounterState, type ConjunctiveQuery } from '../src/sse/index.js'
import { checkArgs, formatNumber, hasFlag, machineInfo, machineLine, markdownTable, optionValue, summarize, writeJson } from './lib/index.js'

const argv = process.argv.slice(2)
checkArgs(argv, ['quick'], ['records', 'doctors', 'runs', 'out'])
const quick = hasFlag(argv, 'quick')
const RECORDS = Number(optionValue(argv, 'records') ?? (quick ? 30 : 200))
const DOCTORS = Number(optionValue(argv, 'doctors') ?? 4)
const RUNS = Number(optionValue(argv, 'runs') ?? (quick ? 3 : 15))
const out = optionValue(argv, 'out') ?? (quick ? undefined : 'bench/results/search-recovery.json')

/** Counts the JSON-RPC calls a search makes. */
class CountingRpc extends RpcClient {
  calls = 0
  override async call<T> (method: string, params: Record<string, unknown> = {}): Promise<T> {
    this.calls++
    return await super.call<T>(method, params)
  }
}

const machine = machineInfo()
const pq = await loadPqBackend()
const dir = await mkdtemp(join(tmpdir(), 'pqmed-bench-search-'))
const nodes: RunningNode[] = []
const servers: RpcServer[] = []
try {
  const ports = await freePorts(4)
  const files = await createDevnet({ chainId: 'pqmed-bench-search', managers: 4, doctors: DOCTORS, users: 1, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}`, params: { blockInterval: 50 } })
  for (let i = 0; i < 4; i++) nodes.push(await startNode({ role: 'manager', genesis: files.genesis, dataDir: join(dir, `m${i}`), identity: files.managers[i], listen: [`/ip4/127.0.0.1/tcp/${ports[i]}`], loopback: true, log: { info: () => {}, warn: () => {} } }))
  const user = await startNode({ role: 'user', genesis: files.genesis, dataDir: join(dir, 'u0'), identity: files.users?.[0], listen: ['/ip4/127.0.0.1/tcp/0'], loopback: true, log: { info: () => {}, warn: () => {} } })
  nodes.push(user)
  const server = await createRpcServer(createRpcBackend({ node: user, genesis: files.genesis, pq }), { port: 0, rateLimit: false, log: { warn: () => {} } })
  servers.push(server)
  for (let t = 0; t < 100 && (user.light?.managers().length ?? 0) < 4; t++) await new Promise((resolve) => setTimeout(resolve, 100))
  const rpc = new RpcClient(server.url)
  const consortiumKey = randomBytes(32)
  const ck = createConsortiumKeyFile(pq, files.genesis.doctors, consortiumKey)
  const writers = consortiumWriters(ck)

  // N records, written by D doctors (each its own sequence, the doctors in parallel)
  const rng = seededRng(7)
  const patients = Array.from({ length: 10 }, (_, i) => Patient.fromIdentity(pq, newClientIdentity(`patient-${i}`, 'patient')))
  for (const p of patients) await p.enroll(rpc)
  const doctors = files.doctors.map((f) => Doctor.fromIdentity(pq, f as never, { consortiumKey }))
  const inputs = Array.from({ length: RECORDS }, () => syntheticRecord(rng))
  const t0 = Date.now()
  await Promise.all(doctors.map(async (d, di) => {
    for (let i = di; i < RECORDS; i += doctors.length) {
      const p = patients[i % patients.length] as Patient
      const s = inputs[i]!
      const recordId = p.newRecordId()
      const handoff = d.openKeyTransfer(p.keyTransfer(recordId, s.personalInfo, d.kemPublicKey), { recordId, patientId: p.id })
      await d.submitRecord(rpc, handoff, parseRecordInput({ personalInfo: s.personalInfo, disease: s.disease, symptoms: s.symptoms, prescriptions: s.prescriptions, fileType: s.fileType, birthYear: s.birthYear }))
    }
  }))
  console.log(`${RECORDS} records by ${DOCTORS} doctors written in ${((Date.now() - t0) / 1000).toFixed(1)} s`)

  const queries: Array<{ name: string, q: ConjunctiveQuery }> = [
    { name: 'fever', q: { keywords: ['fever'] } },
    { name: 'photophobia', q: { keywords: ['photophobia'] } },
    { name: 'fatigue, born 1950-1979', q: { keywords: ['fatigue'], birthYears: { from: 1950, to: 1979 } } }
  ]
  const searcher = files.doctors[0]
  // counters that are current: what a client keeps after one recovered search
  const current = new Map<string, CounterState>()
  for (const { name, q } of queries) {
    const d = Doctor.fromIdentity(pq, searcher as never, { consortiumKey })
    await d.search(rpc, q, writers)
    current.set(name, d.counters)
  }
  type Mode = 'fresh' | 'warm' | 'local' | 'local, fresh'
  const modes: Mode[] = ['fresh', 'warm', 'local', 'local, fresh']
  const rows: Array<{ query: string, mode: Mode, ms: ReturnType<typeof summarize>, rpcCalls: number, rounds: number, labelsProbed: number, matches: number, updates: number }> = []
  for (const { name, q } of queries) {
    const samples = new Map<Mode, { ms: number[], last?: SearchResult, calls: number }>(modes.map((m) => [m, { ms: [], calls: 0 }]))
    for (let r = 0; r < RUNS; r++) {
      for (const mode of modes) {
        const counters = mode === 'warm' || mode === 'local' ? CounterState.decode((current.get(name) as CounterState).encode()) : undefined
        const d = Doctor.fromIdentity(pq, searcher as never, { consortiumKey, counters })
        const c = new CountingRpc(server.url)
        const s = performance.now()
        const res = await d.search(c, q, writers, { recover: mode === 'fresh' || mode === 'warm' })
        const e = samples.get(mode)!
        e.ms.push(performance.now() - s)
        e.last = res
        e.calls = c.calls
      }
    }
    for (const mode of modes) {
      const e = samples.get(mode)!
      const res = e.last!
      rows.push({ query: name, mode, ms: summarize(e.ms), rpcCalls: e.calls, rounds: res.coverage.recovery?.rounds ?? 0, labelsProbed: res.coverage.recovery?.labelsProbed ?? 0, matches: res.matches.length, updates: res.coverage.updates })
    }
  }
  // what the certificate of an older block costs a user node's ehr_getRecord: fetched from a
  // manager and verified on the first read of a block (no record was read before), cached afterwards
  const found = (await Promise.all(queries.map(async ({ q }) => (await Doctor.fromIdentity(pq, searcher as never, { consortiumKey }).search(rpc, q, writers)).matches))).flat()
  const head = (await rpc.chainStatus()).height
  const perHeight = new Map<number, Uint8Array>()
  for (const m of found) {
    const h = m.locations[0]?.height
    if (h !== undefined && h < head && !perHeight.has(h)) perHeight.set(h, Buffer.from(m.recordId, 'hex'))
  }
  const sample = [...perHeight.values()].slice(0, 20)
  const firstMs: number[] = []
  const againMs: number[] = []
  let withCert = 0
  for (const pass of [firstMs, againMs]) {
    for (const id of sample) {
      const s = performance.now()
      const r = await rpc.getRecord(id)
      pass.push(performance.now() - s)
      if (r.certificate !== null) withCert++
    }
  }
  const certCost = { firstReadOfBlock: summarize(firstMs.length > 0 ? firstMs : [0]), blockReadBefore: summarize(againMs.length > 0 ? againMs : [0]), reads: firstMs.length + againMs.length, withCertificate: withCert }
  console.log(`\n${machineLine(machine)}; 1-min load average at the start ${machine.loadAvg1}; ${RUNS} runs per mode, modes alternating\n`)
  console.log(markdownTable(['query', 'mode', 'p50 ms', 'p95 ms', 'RPC calls', 'recovery rounds', 'labels probed', 'updates searched', 'matches'],
    rows.map((r) => [r.query, r.mode, formatNumber(r.ms.p50), formatNumber(r.ms.p95), String(r.rpcCalls), String(r.rounds), String(r.labelsProbed), String(r.updates), String(r.matches)]),
    ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right']))
  console.log(`\nuser node ehr_getRecord, certificate of an older block: first read of a block p50 ${formatNumber(certCost.firstReadOfBlock.p50)} ms, the same records again p50 ${formatNumber(certCost.blockReadBefore.p50)} ms (${sample.length} records at distinct heights); ${withCert} of ${certCost.reads} answers carried the certificate`)
  if (out !== undefined) console.log(`\nwrote ${writeJson(out, { machine, records: RECORDS, doctors: DOCTORS, runs: RUNS, rows, getRecordCertificate: certCost })}`)
} finally {
  for (const s of servers) await s.close().catch(() => {})
  for (const n of nodes) await n.stop().catch(() => {})
  await rm(dir, { recursive: true, force: true })
}
