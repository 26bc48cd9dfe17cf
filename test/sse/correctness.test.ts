import assert from 'node:assert/strict'
import { randomBytes, toHex } from '../../src/crypto/index.js'
import {
  CounterState, SseClient, fileTypeTerm, intersectClauses, keywordTerm, patientTerm, planConjunction, serverSearch,
  decodeSearchToken, encodeSearchToken, verifySearchResults, type QueryPlan, type VerifiedSearch
} from '../../src/sse/index.js'
import { FakeChain, ids, pick, prng } from './helpers.js'

interface PlainRecord {
  id: string
  writer: number
  patient: number
  keywords: string[]
  type: string
  year: number
  hashes: [Uint8Array, Uint8Array, Uint8Array]
}

describe('sse: correctness against a plaintext inverted index (10,000 records)', function () {
  this.timeout(60_000)
  const RECORDS = 10_000
  const rnd = prng(20240601)
  const consortiumKey = randomBytes(32)
  const writers = ids(6)
  const patients = ids(300).map((id) => ({ id, key: randomBytes(32) }))
  const vocab = Array.from({ length: 40 }, (_, i) => `symptom${i}`)
  const types = ['lab report', 'x-ray', 'prescription', 'discharge', 'mri']
  const chain = new FakeChain()
  const searcher = new SseClient()
  const records: PlainRecord[] = []
  const variant = (k: string): string => (rnd() < 0.3 ? `  ${k.toUpperCase()} ` : k)

  const run = (plan: QueryPlan): VerifiedSearch => {
    const answer = serverSearch(chain.store, decodeSearchToken(encodeSearchToken(plan.token)))
    const v = verifySearchResults(plan, answer, chain.verifyProof)
    assert.equal(v.omitted.length, 0)
    assert.equal(v.forged.length, 0)
    return v
  }
  const recordSet = (v: VerifiedSearch): string[] => [...new Set(v.locations.map((l) => toHex(l.location.recordId)))].sort()
  const byId = new Map<string, PlainRecord>()

  before(function () {
    const writerClients = writers.map(() => new SseClient())
    for (let r = 0; r < RECORDS; r++) {
      const w = Math.floor(rnd() * writers.length)
      const p = Math.floor(rnd() * patients.length)
      const kws = [...new Set(Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => pick(rnd, vocab)))]
      const rec: PlainRecord = {
        id: '', writer: w, patient: p, keywords: kws, type: pick(rnd, types), year: 1900 + Math.floor(rnd() * 256),
        hashes: [randomBytes(32), randomBytes(32), randomBytes(32)]
      }
      const recordId = randomBytes(32)
      rec.id = toHex(recordId)
      records.push(rec)
      byId.set(rec.id, rec)
      const client = writerClients[w] as SseClient
      chain.commit(client.indexRecord({
        writer: writers[w] as Uint8Array, recordId, fieldHashes: rec.hashes, consortiumKey,
        patient: patients[p], keywords: kws.map(variant), fileType: variant(rec.type), birthYear: rec.year
      }))
    }
    // the searcher learns every writer's counters from the snapshots they share
    for (const c of writerClients) searcher.counters.merge(CounterState.decode(c.counters.encode()))
  })

  const expect = (pred: (r: PlainRecord) => boolean): string[] => records.filter(pred).map((r) => r.id).sort()

  it('every keyword returns exactly the records holding it, pointing at their symptom ciphertext', () => {
    for (const k of vocab) {
      const v = run(searcher.planSearch([{ indexKey: consortiumKey, term: keywordTerm(k.toUpperCase()) }], writers))
      assert.deepEqual(recordSet(v), expect((r) => r.keywords.includes(k)))
      assert.equal(v.locations.length, expect((r) => r.keywords.includes(k)).length)
      for (const l of v.locations) {
        const rec = byId.get(toHex(l.location.recordId)) as PlainRecord
        assert.equal(l.location.field, 1)
        assert.equal(toHex(l.location.ciphertextHash), toHex(rec.hashes[1]))
        assert.equal(toHex(l.writer), toHex(writers[rec.writer] as Uint8Array))
      }
    }
  })

  it('every file type returns exactly its records', () => {
    for (const t of types) {
      const v = run(searcher.planSearch([{ indexKey: consortiumKey, term: fileTypeTerm(t) }], writers))
      assert.deepEqual(recordSet(v), expect((r) => r.type === t))
    }
  })

  it('index 1: a patient (and only the patient key) lists exactly the patient’s records', () => {
    for (let p = 0; p < 100; p++) {
      const pat = patients[p] as { id: Uint8Array, key: Uint8Array }
      const v = run(searcher.planSearch([{ indexKey: pat.key, term: patientTerm(pat.id) }], writers))
      assert.deepEqual(recordSet(v), expect((r) => r.patient === p))
      for (const l of v.locations) assert.equal(toHex(l.location.ciphertextHash), toHex((byId.get(toHex(l.location.recordId)) as PlainRecord).hashes[0]))
      // under the consortium key (or another patient's key) the same term reaches nothing
      for (const k of [consortiumKey, (patients[p + 1] as { key: Uint8Array }).key]) {
        const plan = searcher.planSearch([{ indexKey: k, term: patientTerm(pat.id) }], writers)
        assert.equal(plan.groups.length, 0)
        assert.equal(serverSearch(chain.store, { groups: plan.groups.map((g) => g.nodes), labels: [] }).length, 0)
      }
    }
  })

  it('birth-year ranges match plaintext filtering for random ranges', () => {
    const ranges: Array<[number, number]> = [[1900, 2155], [1850, 1899], [2156, 2300], [1984, 1984], [1850, 1901], [2150, 3000]]
    for (let i = 0; i < 40; i++) {
      const a = 1890 + Math.floor(rnd() * 276)
      ranges.push([a, a + Math.floor(rnd() * (rnd() < 0.5 ? 8 : 120))])
    }
    for (const [from, to] of ranges) {
      const plan = planConjunction(searcher, consortiumKey, writers, { birthYears: { from, to } })
      const v = run(plan)
      const got = intersectClauses(plan.clauses, v.locations).map((m) => toHex(m.recordId))
      assert.deepEqual(got, expect((r) => r.year >= from && r.year <= to), `range ${from}..${to}`)
      assert.ok(plan.queries.length <= 14)
    }
  })

  it('conjunctions (keyword AND type AND year range) match plaintext filtering', () => {
    let nonEmpty = 0
    for (let i = 0; i < 30; i++) {
      const k = pick(rnd, vocab)
      const k2 = rnd() < 0.3 ? pick(rnd, vocab) : undefined
      const t = pick(rnd, types)
      const from = 1900 + Math.floor(rnd() * 200)
      const to = from + Math.floor(rnd() * 80)
      const keywords = k2 === undefined ? [k] : [k, k2]
      const plan = planConjunction(searcher, consortiumKey, writers, { keywords, fileType: t, birthYears: { from, to } })
      const got = intersectClauses(plan.clauses, run(plan).locations).map((m) => toHex(m.recordId))
      const want = expect((r) => keywords.every((x) => r.keywords.includes(x)) && r.type === t && r.year >= from && r.year <= to)
      assert.deepEqual(got, want)
      if (want.length > 0) nonEmpty++
    }
    assert.ok(nonEmpty > 10, 'the random conjunctions should mostly have answers')
  })
})
