/**
 * A `bench:scale` record generator (a worker thread, started through scale-boot.mjs): the doctors
 * it owns sign records (bench/lib/scale-records.ts) on demand. Protocol (`ScaleWorkerRequest` →
 * `ScaleWorkerReply`): `gen n` → a batch of n submissions; `counters` →
 * how many updates its doctors made to each index-2 keyword tree (the searcher's view of the
 * counts; the many per-patient index-1 trees are left out).
 */
import { parentPort, workerData } from 'node:worker_threads'
import { CONDITIONS, seededRng } from '../../src/client/synthetic.js'
import { loadPqBackend, sha256, utf8 } from '../../src/crypto/index.js'
import { CounterState, SseClient, keywordTerm } from '../../src/sse/index.js'
import { scaleRecord } from './scale-records.js'

export interface ScaleWorkerData {
  entry: string
  /** Index of this worker (its records' ids and patients depend on it). */
  index: number
  workers: number
  doctors: Array<{ id: Uint8Array, sigSecretKey: Uint8Array }>
  consortiumKey: Uint8Array
  seed: number
  noteBytes: number
  /** Synthetic patients to draw from. */
  patients: number
}

export type ScaleWorkerRequest = { cmd: 'gen', n: number } | { cmd: 'counters' }
export type ScaleWorkerReply =
  | { cmd: 'gen', items: Array<{ bytes: Uint8Array, recordId: Uint8Array, keywords: string[] }>, ms: number }
  | { cmd: 'counters', state: Uint8Array }
  | { cmd: 'error', message: string }

const d = workerData as ScaleWorkerData
const port = parentPort
if (port === null) throw new Error('scale-worker runs as a worker thread')
const pq = await loadPqBackend()
const sse = new SseClient()
const rng = seededRng(d.seed * 7919 + d.index)
let made = 0

port.on('message', (req: ScaleWorkerRequest) => {
  try {
    if (req.cmd === 'counters') {
      const keywords = new CounterState()
      for (const doctor of d.doctors) {
        for (const kw of new Set(CONDITIONS.flatMap((c) => [c.disease, ...c.symptoms]))) {
          const id = sse.tree(d.consortiumKey, doctor.id, keywordTerm(kw)).id
          const n = sse.counters.get(id)
          if (n > 0) keywords.raise(id, n)
        }
      }
      port.postMessage({ cmd: 'counters', state: keywords.encode() } satisfies ScaleWorkerReply)
      return
    }
    const t0 = performance.now()
    const items = []
    for (let i = 0; i < req.n; i++, made++) {
      const global = made * d.workers + d.index
      const doctor = d.doctors[made % d.doctors.length]!
      // ids are unique per (seed, worker, record number); a rerun of a row makes the same ids
      const recordId = sha256(utf8(`pqmed bench:scale record ${d.seed}/${global}`))
      items.push(scaleRecord(pq, doctor, sse, d.consortiumKey, rng, { patient: global % d.patients, noteBytes: d.noteBytes, recordId }))
    }
    port.postMessage({ cmd: 'gen', items, ms: performance.now() - t0 } satisfies ScaleWorkerReply)
  } catch (err) {
    port.postMessage({ cmd: 'error', message: (err as Error).stack ?? String(err) } satisfies ScaleWorkerReply)
  }
})
