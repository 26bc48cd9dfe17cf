/**
 * `npm run bench:sse`: builds a 1,000,000-entry index with real client updates, then measures token
 * size, index-holder search latency and client verification for keywords with 10, 100 and 1,000
 * results spread over 10 writers. Writes bench/results/sse.json and prints a table.
 * Options: `--entries N` (default 1000000), `--iterations N` (default 200).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from '../src/crypto/index.js'
import {
  MemoryIndexStore, SseClient, decodeSearchToken, encodeSearchToken, keywordTerm, recoverCounters, serverSearch, verifySearchResults,
  type IndexUpdate
} from '../src/sse/index.js'
import { checkArgs } from './lib/report.js'

checkArgs(process.argv.slice(2), [], ['entries', 'iterations'])

function arg (name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}

const ENTRIES = arg('entries', 1_000_000)
const ITERATIONS = arg('iterations', 200)
const WRITERS = 10
const VOCAB = 1000
const TARGETS = [10, 100, 1000]
const PER_BLOCK = 1000

function quantile (xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number
}
const r3 = (x: number): number => Math.round(x * 1000) / 1000

// xorshift PRNG: the filler keyword and writer of each entry (reproducible shape)
let seed = 0x9e3779b9
function rnd (): number { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) / 4294967296 }

async function main (): Promise<void> {
  const K = randomBytes(32)
  const writers = Array.from({ length: WRITERS }, () => randomBytes(32))
  const client = new SseClient()
  const store = new MemoryIndexStore()
  const vocab = Array.from({ length: VOCAB }, (_, i) => keywordTerm(`filler${i}`))
  const targetTerms = TARGETS.map((n) => keywordTerm(`target${n}`))

  // schedule: target updates at random positions among the filler
  const targetTotal = TARGETS.reduce((a, b) => a + b, 0)
  const slots = new Map<number, { term: string, writer: Uint8Array }>()
  TARGETS.forEach((n, t) => {
    for (let i = 0; i < n; i++) {
      let pos: number
      do { pos = Math.floor(rnd() * ENTRIES) } while (slots.has(pos))
      slots.set(pos, { term: targetTerms[t] as string, writer: writers[i % WRITERS] as Uint8Array })
    }
  })
  console.log(`building an index of ${ENTRIES} entries (${targetTotal} of them for the measured keywords) ...`)
  let updateMs = 0
  let appendMs = 0
  const batch: IndexUpdate[] = []
  for (let n = 0; n < ENTRIES; n++) {
    const s = slots.get(n)
    const term = s?.term ?? (vocab[Math.floor(rnd() * VOCAB)] as string)
    const writer = s?.writer ?? (writers[Math.floor(rnd() * WRITERS)] as Uint8Array)
    const loc = { recordId: randomBytes(32), field: 1, ciphertextHash: randomBytes(32) }
    const t0 = performance.now()
    batch.push(client.update(K, writer, term, loc))
    updateMs += performance.now() - t0
    if (batch.length === PER_BLOCK || n === ENTRIES - 1) {
      const t1 = performance.now()
      const height = Math.floor(n / PER_BLOCK) + 1
      const start = n + 1 - batch.length
      batch.forEach((u, i) => store.append(u, { height, index: start + i }))
      appendMs += performance.now() - t1
      batch.length = 0
    }
  }
  const mem = process.memoryUsage()
  console.log(`built in ${((updateMs + appendMs) / 1000).toFixed(1)} s`)

  const verifyProof = (): boolean => true // proof checking is the node's (measured in its own bench)
  const searches = []
  for (const [t, n] of TARGETS.entries()) {
    const term = targetTerms[t] as string
    const queries = [{ indexKey: K, term }]
    const iters = n >= 1000 ? Math.max(20, Math.floor(ITERATIONS / 4)) : ITERATIONS
    const planMs: number[] = []; const serverMs: number[] = []; const verifyMs: number[] = []
    let tokenBytes = 0; let nodes = 0; let results = 0
    for (let i = 0; i < iters + 10; i++) {
      const a = performance.now()
      const plan = client.planSearch(queries, writers)
      const wire = encodeSearchToken(plan.token)
      const b = performance.now()
      const answer = serverSearch(store, decodeSearchToken(wire))
      const c = performance.now()
      const v = verifySearchResults(plan, answer, verifyProof)
      const d = performance.now()
      if (v.locations.length !== n || v.omitted.length !== 0 || v.forged.length !== 0) throw new Error(`wrong answer for ${term}`)
      if (i < 10) continue // warm-up
      planMs.push(b - a); serverMs.push(c - b); verifyMs.push(d - c)
      tokenBytes = wire.length; nodes = plan.token.groups.reduce((s, g) => s + g.length, 0); results = answer.length
    }
    searches.push({
      results,
      writers: WRITERS,
      tokenBytes,
      tokenNodes: nodes,
      iterations: iters,
      clientPlanMs: { p50: r3(quantile(planMs, 0.5)), p95: r3(quantile(planMs, 0.95)) },
      serverSearchMs: { p50: r3(quantile(serverMs, 0.5)), p95: r3(quantile(serverMs, 0.95)), mean: r3(serverMs.reduce((s, x) => s + x, 0) / serverMs.length) },
      clientVerifyMs: { p50: r3(quantile(verifyMs, 0.5)), p95: r3(quantile(verifyMs, 0.95)) }
    })
  }

  // counter recovery of the 1,000-result keyword from scratch (10 writers × 100 updates)
  const fresh = new SseClient()
  const t0 = performance.now()
  const rec = await recoverCounters(fresh, { indexKey: K, writers, terms: [targetTerms[2] as string], verifyProof, probe: (tok) => serverSearch(store, tok) })
  const recoveryMs = performance.now() - t0

  const result = {
    benchmark: 'sse',
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    index: {
      entries: store.size,
      writers: WRITERS,
      fillerKeywords: VOCAB,
      valueBytes: 82,
      clientUpdatesPerSec: Math.round(ENTRIES / (updateMs / 1000)),
      clientUpdateUs: r3((updateMs * 1000) / ENTRIES),
      storeAppendsPerSec: Math.round(ENTRIES / (appendMs / 1000)),
      heapUsedMB: Math.round(mem.heapUsed / 2 ** 20),
      rssMB: Math.round(mem.rss / 2 ** 20)
    },
    searches,
    recovery: {
      updatesPerWriter: TARGETS[2] as number / WRITERS,
      writers: WRITERS,
      rounds: rec.rounds,
      labelsProbed: rec.labelsProbed,
      absentProbed: rec.absentProbed,
      ms: r3(recoveryMs)
    }
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'sse.json')
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n')

  console.log(`\nindex: ${store.size} entries, ${WRITERS} writers; client updates ${result.index.clientUpdatesPerSec}/s (${result.index.clientUpdateUs} µs each), store appends ${result.index.storeAppendsPerSec}/s, heap ${result.index.heapUsedMB} MB`)
  console.log('\n| results | token bytes (nodes) | server search p50 / p95 ms | client plan p50 ms | client verify p50 ms |')
  console.log('|---:|---:|---:|---:|---:|')
  for (const s of searches) {
    console.log(`| ${s.results} | ${s.tokenBytes} (${s.tokenNodes}) | ${s.serverSearchMs.p50} / ${s.serverSearchMs.p95} | ${s.clientPlanMs.p50} | ${s.clientVerifyMs.p50} |`)
  }
  console.log(`\ncounter recovery (${WRITERS} writers × ${result.recovery.updatesPerWriter} updates): ${rec.rounds} rounds, ${rec.labelsProbed} labels (${rec.absentProbed} absent), ${r3(recoveryMs)} ms`)
  console.log(`wrote ${out}`)
}

await main()
