/**
 * `npm run bench:sync`: how long a fresh user node takes to sync a chain of 10,000 headers from a
 * manager over libp2p (TCP on loopback), verifying hash links and the commit certificate of each
 * 1,000-header batch. The chain is built first: one signed record per block, each block with a
 * real 3-of-4 ML-DSA-65 commit certificate, written straight into a manager's store.
 *
 * Options: --blocks N (default 10000), --runs R (3), --out PATH, --quick.
 */
import { join } from 'node:path'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { buildBlock, headerHash, voteSignBytes, type CommitCertificate } from '../src/blocks/index.js'
import { freePorts } from '../src/cli/procs.js'
import { SimulatedDoctor } from '../src/client/simulated-doctor.js'
import { seededRng } from '../src/client/synthetic.js'
import { loadPqBackend } from '../src/crypto/index.js'
import { BlobStore } from '../src/node/blob-store.js'
import { ChainStore } from '../src/node/chain-store.js'
import { createDevnet } from '../src/node/devnet.js'
import { genesisHeaderOf } from '../src/node/genesis.js'
import { loadIdentity } from '../src/node/identity.js'
import { startNode } from '../src/node/node.js'
import { checkArgs, hasFlag, machineInfo, machineLine, markdownTable, optionValue, summarize, writeJson } from './lib/index.js'

const argv = process.argv.slice(2)
checkArgs(argv, ['quick'], ['blocks', 'runs', 'out'])
const quick = hasFlag(argv, 'quick')
const BLOCKS = Number(optionValue(argv, 'blocks') ?? (quick ? 300 : 10_000))
const RUNS = Number(optionValue(argv, 'runs') ?? (quick ? 1 : 3))
const out = optionValue(argv, 'out') ?? (quick ? undefined : 'bench/results/sync.json')

const machine = machineInfo()
const root = await mkdtemp(join(tmpdir(), 'pqmed-bench-sync-'))
try {
  const [port] = await freePorts(1)
  const files = await createDevnet({ chainId: 'pqmed-sync', managers: 4, doctors: 1, users: 1, managerAddr: () => `/ip4/127.0.0.1/tcp/${port}` })
  const g = files.genesis
  const pq = await loadPqBackend()
  const managers = await Promise.all(files.managers.map(loadIdentity))
  const doc = await loadIdentity(files.doctors[0]!)
  const doctor = new SimulatedDoctor(pq, { id: doc.keys.id, sigSecretKey: doc.keys.sig.secretKey }, new Uint8Array(32).fill(3))
  const rng = seededRng(7)

  process.stderr.write(`building ${BLOCKS} certified blocks...\n`)
  const tb = performance.now()
  const chain = await ChainStore.open(join(root, 'm0', 'chain'), genesisHeaderOf(g))
  const blobs = await BlobStore.open(join(root, 'm0', 'blobs'))
  for (let h = 1; h <= BLOCKS; h++) {
    const rec = doctor.record(rng, h % 200)
    for (const b of rec.blobs) await blobs.put(b)
    const head = chain.head
    const block = buildBlock({ chainId: g.chainId, height: h, prevHash: head.hash, time: Math.max(Date.now(), head.header.time), proposer: h % 4, view: 0, indexStart: head.indexNext, configHash: head.header.configHash, nextConfigHash: head.header.nextConfigHash, txs: [rec.tx] })
    const hash = headerHash(block.header)
    const bytes = voteSignBytes('commit', g.chainId, h, 0, hash)
    const cert: CommitCertificate = { chainId: g.chainId, height: h, view: 0, headerHash: hash, signatures: [0, 1, 2].map((v) => ({ validator: v, signature: pq.sign(bytes, managers[v]!.keys.sig.secretKey) })) }
    await chain.append(block, cert)
  }
  await chain.close(); await blobs.close()
  const buildSeconds = (performance.now() - tb) / 1000

  const manager = await startNode({ role: 'manager', genesis: g, dataDir: join(root, 'm0'), identity: files.managers[0], listen: [`/ip4/127.0.0.1/tcp/${port}`], loopback: true })
  const times: number[] = []
  try {
    for (let r = 0; r < RUNS; r++) {
      const t0 = performance.now()
      // a fresh data dir per run, always the user identity genesis lists (the manager is permissioned)
      const user = await startNode({ role: 'user', genesis: g, dataDir: join(root, `u${r}`), identity: files.users?.[0], listen: ['/ip4/127.0.0.1/tcp/0'], loopback: true })
      try {
        while ((user.light?.height ?? 0) < BLOCKS) {
          await user.light?.syncHeaders()
          if ((user.light?.height ?? 0) < BLOCKS) await new Promise((res) => setTimeout(res, 5))
        }
        times.push(performance.now() - t0)
      } finally {
        await user.stop()
      }
      process.stderr.write(`run ${r + 1}: ${(times[times.length - 1]! / 1000).toFixed(3)} s\n`)
    }
  } finally {
    await manager.stop()
  }
  const s = summarize(times)
  const result = { machine, blocks: BLOCKS, runs: RUNS, buildSeconds, syncMs: { mean: s.mean, p50: s.p50, min: s.min, max: s.max, all: times } }
  console.log(`Machine: ${machineLine(machine)}\n`)
  console.log(markdownTable(['measure', 'value'], [
    [`user node sync of ${BLOCKS} headers (median of ${RUNS})`, `${(s.p50 / 1000).toFixed(3)} s`],
    ['fastest / slowest run', `${(s.min / 1000).toFixed(3)} / ${(s.max / 1000).toFixed(3)} s`]
  ], ['left', 'right']))
  if (out !== undefined) console.log(`\nwrote ${writeJson(out, result)}`)
} finally {
  await rm(root, { recursive: true, force: true })
}
