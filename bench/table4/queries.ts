/**
 * The client side of the Table 4 benchmark, shared by the self-contained run (bench/table4.ts
 * starts its own network) and `--attach` (an existing network: `sim:local`, `npm start`, Docker
 * Compose): JSON-RPC calls with transport retries, `wait: true` submissions, and the two timed
 * queries. See report.ts for what each query includes.
 */
import { rpc } from '../../src/cli/procs.js'
import type { SimulatedDoctor, SimulatedRecord } from '../../src/client/simulated-doctor.js'
import { fromHex, toHex } from '../../src/crypto/index.js'
import { deriveFieldKeys } from '../../src/puf/index.js'
import { decryptField, decryptFields } from '../../src/records/index.js'
import type { RecordJson, RecordsJson, SearchEntryJson, SearchPageJson } from '../../src/rpc/index.js'
import { encodeSearchToken, keywordTerm, verifySearchResults, type StoredEntry } from '../../src/sse/index.js'
import { summarize, type Summary } from '../lib/index.js'

export const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')
export const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'))
export const sleep = async (ms: number): Promise<void> => { await new Promise((r) => setTimeout(r, ms)) }

/**
 * Transport retries: a keep-alive socket the node's HTTP server has just closed (idle timeout)
 * can be picked for a request and reset (`fetch failed`, ECONNRESET). Such a call is retried once
 * per failure (up to 3 times) and counted; the JSON counts retries per row.
 */
export const transport = { retries: 0 }
export async function call<T> (url: string, method: string, params: unknown = {}, timeoutMs = 60_000): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await rpc<T>(url, method, params, timeoutMs)
    } catch (err) {
      if (!(err instanceof TypeError) || attempt >= 3) throw err
      transport.retries++
    }
  }
}

/** Submits with `wait: true`; if a retried submission is a duplicate, the first attempt went through: read its height. */
export async function submitWait (url: string, rec: SimulatedRecord): Promise<number> {
  const retriesBefore = transport.retries
  try {
    const r = await call<{ status: string, height?: number }>(url, 'ehr_submitRecord', { submission: b64(rec.bytes), wait: true }, 120_000)
    if (r.status !== 'committed' || r.height === undefined) throw new Error(`not committed: ${JSON.stringify(r)}`)
    return r.height
  } catch (err) {
    if (transport.retries === retriesBefore || !/duplicate/i.test((err as Error).message)) throw err
    const id = toHex(rec.tx.recordId)
    for (let t = 0; t < 600; t++) {
      try { return (await call<RecordJson>(url, 'ehr_getRecord', { recordId: id })).height } catch { await sleep(100) }
    }
    throw err
  }
}

/** Nearest-rank quantile of an unsorted sample, 0 for an empty one (header propagation figures). */
export function nearestRank (xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0
}

export interface Committed { rec: SimulatedRecord, idHex: string, height: number }

export interface QueryKit {
  /** Times one record query (ms); `record` false: not added to the breakdown (warm-up, loaded phase). */
  recordQuery: (record?: boolean) => Promise<number>
  symptomQuery: (record?: boolean) => Promise<number>
  /** Per-step times of the recorded queries (ms). */
  breakdown: Record<string, number[]>
  matches: number[]
  fetched: number[]
}

export interface QueryKitOptions {
  committed: Committed[]
  userUrls: string[]
  doctor: SimulatedDoctor
  consortiumKey: Uint8Array
  /** Records fetched and decrypted per symptom query (the newest matches). */
  fetch: number
  pick: <T>(xs: readonly T[]) => T
}

export function queryKit (o: QueryKitOptions): QueryKit {
  const keysOf = new Map(o.committed.map((c) => [c.idHex, c.rec]))
  const bd: Record<string, number[]> = { 'record: rpc': [], 'record: decrypt': [], 'symptom: plan': [], 'symptom: sse_search rpc': [], 'symptom: verify results': [], 'symptom: ehr_getRecords rpc': [], 'symptom: decrypt': [] }
  const matches: number[] = []
  const fetched: number[] = []
  const recordQuery = async (record: boolean = true): Promise<number> => {
    const c = o.pick(o.committed)
    const url = o.pick(o.userUrls)
    const t0 = performance.now()
    const r = await call<RecordJson>(url, 'ehr_getRecord', { recordId: c.idHex })
    const t1 = performance.now()
    const id = fromHex(r.tx.recordId)
    const fields = decryptFields(deriveFieldKeys(c.rec.patientSecret, id), id, r.ciphertexts.slice(0, 3).map(unb64))
    const t2 = performance.now()
    if (fields.symptoms.length === 0) throw new Error('empty symptoms field')
    if (record) { bd['record: rpc']!.push(t1 - t0); bd['record: decrypt']!.push(t2 - t1) }
    return t2 - t0
  }
  const symptomQuery = async (record: boolean = true): Promise<number> => {
    const kw = o.pick(o.pick(o.committed).rec.synthetic.keywords)
    const url = o.pick(o.userUrls)
    const t0 = performance.now()
    const plan = o.doctor.sse.planSearch([{ indexKey: o.consortiumKey, term: keywordTerm(kw) }], [o.doctor.keys.id])
    const t1 = performance.now()
    const token = b64(encodeSearchToken(plan.token))
    const entries: SearchEntryJson[] = []
    const ranges = new Map<number, { start: number, end: number }>()
    for (let cursor: number | undefined; ;) {
      const page = await call<SearchPageJson>(url, 'sse_search', cursor === undefined ? { token } : { token, cursor })
      entries.push(...page.entries)
      for (const h of page.headers) ranges.set(h.height, { start: h.indexStart, end: h.indexStart + h.indexCount })
      if (page.next === undefined) break
      cursor = page.next
    }
    const t2 = performance.now()
    const stored: StoredEntry[] = entries.map((e) => ({ label: fromHex(e.label), value: unb64(e.value), position: { height: e.height, index: e.position } }))
    // the user node checked each inclusion proof against its headers and sent their index ranges: positions are checked against them
    const v = verifySearchResults(plan, stored, (e) => { const r = ranges.get(e.position.height); return r !== undefined && e.position.index >= r.start && e.position.index < r.end })
    if (v.forged.length > 0 || v.omitted.length > 0) throw new Error(`search for '${kw}': ${v.forged.length} forged, ${v.omitted.length} omitted`)
    const ids = [...new Set(v.locations.map((l) => toHex(l.location.recordId)))]
    const t3 = performance.now()
    const take = ids.slice(-o.fetch)
    // one call for all of them, symptoms and prescriptions only
    const got = await call<RecordsJson>(url, 'ehr_getRecords', { recordIds: take, fields: [1, 2] })
    const t4 = performance.now()
    if (got.records.length !== take.length || got.missing.length > 0) throw new Error(`ehr_getRecords: ${got.records.length} of ${take.length} records, ${got.missing.length} missing`)
    for (const r of got.records) {
      const rec = keysOf.get(r.recordId)
      if (rec === undefined) throw new Error('search returned an unknown record')
      const id = fromHex(r.recordId)
      const keys = deriveFieldKeys(rec.patientSecret, id)
      decryptField(keys[1], id, 1, unb64(r.ciphertexts[r.fields.indexOf(1)]!))
      decryptField(keys[2], id, 2, unb64(r.ciphertexts[r.fields.indexOf(2)]!))
    }
    const t5 = performance.now()
    if (record) {
      bd['symptom: plan']!.push(t1 - t0); bd['symptom: sse_search rpc']!.push(t2 - t1); bd['symptom: verify results']!.push(t3 - t2)
      bd['symptom: ehr_getRecords rpc']!.push(t4 - t3); bd['symptom: decrypt']!.push(t5 - t4)
      matches.push(ids.length); fetched.push(take.length)
    }
    return t5 - t0
  }
  return { recordQuery, symptomQuery, breakdown: bd, matches, fetched }
}

/**
 * Submits `recs` with `concurrency` workers, each record to `urlFor(i)`; calls `onCommit` per
 * record. A failed submission rejects, unless `onError` is given: then it is reported there and
 * the others go on.
 */
export async function submitAll (recs: SimulatedRecord[], urlFor: (i: number) => string, concurrency: number, onCommit: (c: Committed) => void, onError?: (err: unknown) => void, stop?: () => boolean): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(concurrency, recs.length) }, async () => {
    for (;;) {
      if (stop?.() === true) return
      const i = next++
      if (i >= recs.length) return
      const rec = recs[i]!
      let height: number
      try { height = await submitWait(urlFor(i), rec) } catch (err) {
        if (onError === undefined) throw err
        onError(err)
        continue
      }
      onCommit({ rec, idHex: toHex(rec.tx.recordId), height })
    }
  }))
}

export interface LoadedPhase {
  record: number[]
  symptom: number[]
  /** Query pairs (record + symptom) run: `pairs` unless the time budget ran out first. */
  pairs: number
  /** Whether the phase stopped at its time budget before running every pair. */
  budgetHit: boolean
  /** Queries that overlapped the submissions (both started and ended while records were being submitted). */
  queriesDuringLoad: number
  /** Records committed during the phase, and the phase's length (s) until the last submission returned. */
  submitted: number
  submitSeconds: number
  failedQueries: number
  failedSubmissions: number
  /** The first few error messages, for the report. */
  errors: string[]
}

export interface LoadedOptions {
  /** Query pairs to run (each a record query then a symptom query). */
  pairs: number
  /** Wall-time budget (ms): no new pair starts after it (the first always runs), and no new submission once the pairs stop. */
  budgetMs: number
  progress?: (msg: string) => void
}

/**
 * Query pairs while a second doctor submits `loadRecs` through random user nodes (4 at a time,
 * `wait: true`). Submissions run only while the queries do: when the pairs are done (or the time
 * budget is spent, on a network too saturated to answer them) no new record is submitted and the
 * ones in flight are awaited, so the phase's length is bounded whatever the row. A query or
 * submission that fails (an RPC error, or no answer within the call timeout) is counted and
 * reported, not fatal.
 */
export async function loadedPhase (kit: QueryKit, loadRecs: SimulatedRecord[], userUrls: string[], pick: <T>(xs: readonly T[]) => T, opts: LoadedOptions): Promise<LoadedPhase> {
  const errors: string[] = []
  const note = (what: string, err: unknown): void => { if (errors.length < 5) errors.push(`${what}: ${(err as Error).message ?? String(err)}`) }
  let submitted = 0
  let failedSubmissions = 0
  let submitting = true
  let querying = true
  const record: number[] = []
  const symptom: number[] = []
  let during = 0
  let failedQueries = 0
  let pairs = 0
  const t0 = performance.now()
  const elapsed = (): number => performance.now() - t0
  const ticker = opts.progress === undefined
    ? undefined
    : setInterval(() => { opts.progress?.(`loaded: ${pairs}/${opts.pairs} query pairs, ${submitted} records committed (${failedSubmissions} failed), ${(elapsed() / 1000).toFixed(0)} s`) }, 15_000)
  const loadDone = submitAll(loadRecs, () => pick(userUrls), 4, () => { submitted++ }, (err) => { failedSubmissions++; note('submission', err) }, () => !querying)
    .finally(() => { submitting = false })
  try {
    while (pairs < opts.pairs && (pairs === 0 || elapsed() < opts.budgetMs)) {
      const a = submitting
      try { record.push(await kit.recordQuery(false)) } catch (err) { failedQueries++; note('record query', err) }
      try { symptom.push(await kit.symptomQuery(false)) } catch (err) { failedQueries++; note('symptom query', err) }
      if (a && submitting) during += 2
      pairs++
    }
  } finally {
    querying = false
    await loadDone.finally(() => { clearInterval(ticker) })
  }
  return { record, symptom, pairs, budgetHit: pairs < opts.pairs, queriesDuringLoad: during, submitted, submitSeconds: elapsed() / 1000, failedQueries, failedSubmissions, errors }
}

/** `summarize`, or all-NaN with count 0 for an empty sample (every loaded query failed). */
export function summaryOf (xs: number[]): Summary {
  return xs.length > 0 ? summarize(xs) : { count: 0, mean: NaN, min: NaN, max: NaN, p50: NaN, p95: NaN }
}
