/**
 * Where a manager's disk bytes go: fills a fresh chain store (and blob store) with N records
 * through the real path (validateSubmission → Application.admit → buildProposal →
 * validateProposal → commit), then reports the logical bytes per key prefix and the LevelDB
 * files (.log = not yet compacted write-ahead log, .ldb = sorted tables), before and after a
 * full compaction. Quick tool for the storage work; `npm run bench:scale` is the big benchmark.
 *
 *   npm run bench:store-bytes -- [records=600] [recordsPerBlock=50]   (writes bench/results/store-bytes.json)
 */
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { hospitalIdOf } from '../src/blocks/index.js'
import { loadPqBackend } from '../src/crypto/index.js'
import { Application } from '../src/node/app/application.js'
import { BlobStore } from '../src/node/blob-store.js'
import { ChainStore } from '../src/node/chain-store.js'
import { createDevnet } from '../src/node/devnet.js'
import { genesisHeaderOf } from '../src/node/genesis.js'
import { quietLog } from '../src/node/log.js'
import { decodeSubmission, validateSubmission } from '../src/node/validation/tx.js'
import { TestDoctor, tempDir } from '../test/node/helpers.js'

const N = Number(process.argv[2] ?? 600)
const PER_BLOCK = Number(process.argv[3] ?? 50)

async function dirBytes (dir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for (const f of await readdir(dir)) {
    const ext = f.includes('.') ? f.slice(f.lastIndexOf('.') + 1) : f.replace(/-\d+$/, '')
    out[ext] = (out[ext] ?? 0) + (await stat(join(dir, f))).size
  }
  return out
}

async function prefixBytes (chain: ChainStore): Promise<Record<string, { keys: number, bytes: number }>> {
  const out: Record<string, { keys: number, bytes: number }> = {}
  for await (const [k, v] of chain.kv.range('', '\xff')) {
    const p = k.slice(0, k.indexOf('/') + 1) || k
    const o = out[p] ?? (out[p] = { keys: 0, bytes: 0 })
    o.keys++
    o.bytes += k.length + v.length
  }
  return out
}

const root = await tempDir('store-bytes')
try {
  const pq = await loadPqBackend()
  const files = await createDevnet({ chainId: 'pqmed-store-bytes', managers: 1, doctors: 1, managerAddr: () => '/ip4/127.0.0.1/tcp/1' })
  const g = genesisHeaderOf(files.genesis)
  const chainDir = join(root.path, 'chain')
  const blobDir = join(root.path, 'blobs')
  await mkdir(blobDir, { recursive: true })
  const chain = await ChainStore.open(chainDir, g)
  const blobs = await BlobStore.open(blobDir)
  const app = new Application({ genesis: files.genesis, hospitalId: hospitalIdOf(files.genesis.managers[0]?.sigPublicKey ?? new Uint8Array(0)), pq, chain, blobs, log: quietLog, hooks: {} })
  await app.restore()
  const doctor = await TestDoctor.create(files, 0, pq)
  let txBytes = 0
  let blobBytes = 0
  const t0 = Date.now()
  for (let i = 0; i < N;) {
    for (let j = 0; j < PER_BLOCK && i < N; j++, i++) {
      const d = decodeSubmission(doctor.record(i).bytes)
      if (d.verdict !== 'ACCEPT') throw new Error(d.reason)
      const v = await validateSubmission(d.value, app.txContext())
      if (v.verdict !== 'ACCEPT') throw new Error(v.reason)
      txBytes += v.value.txBytes.length
      blobBytes += v.value.blobs.reduce((n, b) => n + b.length, 0)
      await app.admit(v.value)
    }
    const head = chain.head
    const value = app.buildProposal(head.height + 1, 0, PER_BLOCK)
    if (value === null) throw new Error('nothing to propose')
    await app.prepare?.(value)
    const ok = app.validateProposal(head.height + 1, value, head.hash)
    if (!ok.ok) throw new Error(ok.reason)
    await app.commit(value, { chainId: g.chainId, height: head.height + 1, view: 0, headerHash: value.hash, signatures: [] }, [])
  }
  const fillMs = Date.now() - t0
  await chain.close()
  // a restart: open the store and restore the application (before this change: a replay of every block)
  const r0 = performance.now()
  const reopened = await ChainStore.open(chainDir, g)
  const openMs = performance.now() - r0
  await new Application({ genesis: files.genesis, hospitalId: hospitalIdOf(files.genesis.managers[0]?.sigPublicKey ?? new Uint8Array(0)), pq, chain: reopened, blobs, log: quietLog, hooks: {} }).restore()
  const restartMs = performance.now() - r0
  const chain2 = reopened
  const prefixes = await prefixBytes(chain2)
  const before = await dirBytes(chainDir)
  const db = (chain2.kv as unknown as { db: { compactRange: (a: string, b: string) => Promise<void> } }).db
  await db.compactRange('', '\xff')
  const after = await dirBytes(chainDir)
  await chain2.close()
  await blobs.close()
  const blobFiles = await dirBytes(blobDir)
  const per = (n: number): string => (n / N).toFixed(0)
  const sum = (o: Record<string, number>): number => Object.values(o).reduce((a, b) => a + b, 0)
  console.log(`${N} records, ${PER_BLOCK} per block, filled in ${fillMs} ms; tx ${per(txBytes)} B/record, ciphertext ${per(blobBytes)} B/record`)
  console.log(`restart (open the chain store + Application.restore): ${restartMs.toFixed(1)} ms (open ${openMs.toFixed(1)} ms)`)
  console.log('\nchain store, logical bytes (key + value) per record, by key prefix:')
  console.log('| prefix | keys | bytes/record |\n|---|---:|---:|')
  for (const [p, o] of Object.entries(prefixes).sort((a, b) => b[1].bytes - a[1].bytes)) console.log(`| ${p} | ${o.keys} | ${per(o.bytes)} |`)
  console.log(`| total | | ${per(Object.values(prefixes).reduce((n, o) => n + o.bytes, 0))} |`)
  console.log('\nLevelDB files, bytes per record:')
  console.log('| store | files | as filled | after compaction |\n|---|---|---:|---:|')
  for (const ext of new Set([...Object.keys(before), ...Object.keys(after)])) console.log(`| chain | ${ext} | ${per(before[ext] ?? 0)} | ${per(after[ext] ?? 0)} |`)
  console.log(`| chain | total | ${per(sum(before))} | ${per(sum(after))} |`)
  console.log(`| blobs | total (as filled) | ${per(sum(blobFiles))} | |`)
  await mkdir('bench/results', { recursive: true })
  await writeFile('bench/results/store-bytes.json', JSON.stringify({ records: N, perBlock: PER_BLOCK, restartMs, openMs, date: new Date().toISOString(), txBytesPerRecord: txBytes / N, ciphertextPerRecord: blobBytes / N, prefixes, chainFiles: { filled: before, compacted: after }, blobFiles }, null, 2) + '\n')
} finally {
  await root.remove()
}
