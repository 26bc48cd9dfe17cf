/**
 * `npm run bench:consensus`: 4 manager processes on loopback (real libp2p, PBFT, LevelDB), fed
 * over JSON-RPC by this process.
 *
 * - throughput: N pre-signed records submitted with `wait: true` at high concurrency; committed
 *   records per second from the first submission to the last commit;
 * - finality latency at light load: one record every `--interval` ms; the time from submission to
 *   the committed answer, p50/p95.
 *
 * Options: --records N (default 3000), --light N (200), --interval MS (100), --out PATH, --quick.
 */
import { join } from 'node:path'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { ProcNet, freePorts, rpc } from '../src/cli/procs.js'
import { SimulatedDoctor } from '../src/client/simulated-doctor.js'
import { seededRng } from '../src/client/synthetic.js'
import { loadPqBackend } from '../src/crypto/index.js'
import { createDevnet, writeDevnet } from '../src/node/devnet.js'
import { loadIdentity } from '../src/node/identity.js'
import { checkArgs, hasFlag, machineInfo, machineLine, managerSpec, markdownTable, optionValue, summarize, writeJson } from './lib/index.js'

const argv = process.argv.slice(2)
checkArgs(argv, ['quick'], ['records', 'light', 'interval', 'out'])
const quick = hasFlag(argv, 'quick')
const N = Number(optionValue(argv, 'records') ?? (quick ? 100 : 3000))
const LIGHT = Number(optionValue(argv, 'light') ?? (quick ? 20 : 200))
const INTERVAL = Number(optionValue(argv, 'interval') ?? 100)
const out = optionValue(argv, 'out') ?? (quick ? undefined : 'bench/results/consensus.json')

const machine = machineInfo()
const root = await mkdtemp(join(tmpdir(), 'pqmed-bench-consensus-'))
const net = new ProcNet()
try {
  const ports = await freePorts(4)
  const params = { blockInterval: 50, maxBlockRecords: 500, viewChangeTimeout: 3000, heartbeatInterval: 500 }
  const files = await createDevnet({ chainId: 'pqmed-bench', managers: 4, doctors: 1, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}`, params })
  await writeDevnet(root, files)
  const pq = await loadPqBackend()
  const id = await loadIdentity(files.doctors[0]!)
  const doctor = new SimulatedDoctor(pq, { id: id.keys.id, sigSecretKey: id.keys.sig.secretKey }, new Uint8Array(32).fill(1))
  const rng = seededRng(42)
  process.stderr.write(`signing ${N + LIGHT} records...\n`)
  const subs = Array.from({ length: N + LIGHT }, (_, i) => Buffer.from(doctor.record(rng, i % 500).bytes).toString('base64'))

  await Promise.all([0, 1, 2, 3].map(async (i) => await net.start(managerSpec(root, i, ports[i]!))))
  const urls = [0, 1, 2, 3].map((i) => net.procs.get(`m${i}`)!.rpc)
  await new Promise((r) => setTimeout(r, 1500)) // let the gossip mesh form

  // throughput
  process.stderr.write(`throughput: ${N} records...\n`)
  let next = 0
  const t0 = performance.now()
  await Promise.all(Array.from({ length: 128 }, async () => {
    for (;;) {
      const i = next++
      if (i >= N) return
      const r = await rpc<{ status: string }>(urls[i % 4]!, 'ehr_submitRecord', { submission: subs[i], wait: true }, 120_000)
      if (r.status !== 'committed') throw new Error(`record ${i} not committed`)
    }
  }))
  const seconds = (performance.now() - t0) / 1000
  const throughput = N / seconds

  // latency at light load
  process.stderr.write(`latency: ${LIGHT} records, one every ${INTERVAL} ms...\n`)
  const lat: number[] = []
  const pending: Array<Promise<void>> = []
  for (let k = 0; k < LIGHT; k++) {
    const s = subs[N + k]!
    const start = performance.now()
    pending.push(rpc<{ status: string }>(urls[k % 4]!, 'ehr_submitRecord', { submission: s, wait: true }, 60_000).then(() => { lat.push(performance.now() - start) }))
    await new Promise((r) => setTimeout(r, INTERVAL))
  }
  await Promise.all(pending)
  const l = summarize(lat)
  const status = await rpc<{ height: number }>(urls[0]!, 'chain_status')

  const result = {
    machine,
    params,
    throughput: { records: N, seconds: Math.round(seconds * 1000) / 1000, recordsPerSecond: Math.round(throughput), blocks: status.height },
    latency: { records: LIGHT, intervalMs: INTERVAL, meanMs: l.mean, p50Ms: l.p50, p95Ms: l.p95, maxMs: l.max }
  }
  console.log(`Machine: ${machineLine(machine)}\n`)
  console.log(markdownTable(['measure', 'value'], [
    ['committed records/s (4 managers, ' + N + ' records)', String(Math.round(throughput))],
    ['blocks committed in total', String(status.height)],
    [`finality latency p50 (1 record / ${INTERVAL} ms)`, `${l.p50.toFixed(1)} ms`],
    [`finality latency p95 (1 record / ${INTERVAL} ms)`, `${l.p95.toFixed(1)} ms`]
  ], ['left', 'right']))
  if (out !== undefined) console.log(`\nwrote ${writeJson(out, result)}`)
} finally {
  await net.stopAll()
  await rm(root, { recursive: true, force: true })
}
