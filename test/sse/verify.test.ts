import assert from 'node:assert/strict'
import { randomBytes, toHex } from '../../src/crypto/index.js'
import {
  CounterState, SseClient, SseError, keywordTerm, recoverCounters, serverSearch, verifySearchResults,
  type SearchToken, type StoredEntry
} from '../../src/sse/index.js'
import { FakeChain, ids } from './helpers.js'

const loc = (): { recordId: Uint8Array, field: number, ciphertextHash: Uint8Array } => ({ recordId: randomBytes(32), field: 2, ciphertextHash: randomBytes(32) })

function setup (counts: number[]): { chain: FakeChain, K: Uint8Array, writers: Uint8Array[], client: SseClient, term: string } {
  const chain = new FakeChain()
  const K = randomBytes(32)
  const writers = ids(counts.length)
  const client = new SseClient()
  const term = keywordTerm('fever')
  counts.forEach((c, w) => { for (let i = 0; i < c; i++) chain.commit([client.update(K, writers[w] as Uint8Array, term, loc())]) })
  return { chain, K, writers, client, term }
}

describe('sse: verifiable results', () => {
  it('accepts an honest answer and reports nothing', () => {
    const { chain, K, writers, client, term } = setup([7, 0, 12])
    const plan = client.planSearch([{ indexKey: K, term }], writers)
    assert.equal(plan.groups.length, 2)
    const v = verifySearchResults(plan, serverSearch(chain.store, plan.token), chain.verifyProof)
    assert.equal(v.locations.length, 19)
    assert.deepEqual([v.omitted.length, v.forged.length], [0, 0])
    assert.deepEqual(v.locations.filter((l) => toHex(l.writer) === toHex(writers[0] as Uint8Array)).map((l) => l.counter), [0, 1, 2, 3, 4, 5, 6])
  })

  it('detects omitted, forged, substituted, repeated, foreign and unproven results', () => {
    const { chain, K, writers, client, term } = setup([10, 6])
    // another term's entries, to be passed off as answers
    const other = client.update(K, writers[0] as Uint8Array, keywordTerm('cough'), loc())
    chain.commit([other])
    const plan = client.planSearch([{ indexKey: K, term }], writers)
    const honest = serverSearch(chain.store, plan.token)
    assert.equal(honest.length, 16)
    const flip = (e: StoredEntry, i: number): StoredEntry => { const value = e.value.slice(); value[i] = (value[i] as number) ^ 1; return { ...e, value } }
    const e0 = honest[0] as StoredEntry
    const e1 = honest[1] as StoredEntry
    const answer: StoredEntry[] = [
      flip(e0, 3), // masked location tampered
      { ...e1, value: (honest[2] as StoredEntry).value }, // value moved from another label
      honest[3] as StoredEntry, honest[3] as StoredEntry, // repeated
      { ...(honest[4] as StoredEntry), position: { height: 999, index: 5 } }, // proof does not hold at this position
      { label: other.label, value: other.value, position: { height: 1, index: 0 } }, // not asked for
      { label: randomBytes(32), value: randomBytes(82), position: { height: 1, index: 1 } },
      { label: randomBytes(7), value: randomBytes(82), position: { height: 1, index: 1 } } as StoredEntry,
      ...honest.slice(6, 15) // honest[2] and honest[5] and honest[15] omitted
    ]
    const v = verifySearchResults(plan, answer, chain.verifyProof)
    assert.deepEqual(v.forged.map((f) => f.reason).sort(), ['BAD_PROOF', 'BAD_VALUE', 'BAD_VALUE', 'DUPLICATE', 'UNEXPECTED_LABEL', 'UNEXPECTED_LABEL', 'UNEXPECTED_LABEL'])
    const omitted = new Set(v.omitted.map((o) => toHex(o.label)))
    assert.deepEqual(omitted, new Set([0, 1, 2, 4, 5, 15].map((i) => toHex((honest[i] as StoredEntry).label))))
    assert.equal(v.locations.length, 10)
    // a throwing verifier counts as a rejection
    const thrown = verifySearchResults(plan, honest, () => { throw new Error('no proof') })
    assert.equal(thrown.forged.length, 16)
    assert.equal(thrown.omitted.length, 16)
  })

  it('an index holder that learned every leaf cannot forge a value: the value key stays with the client', () => {
    const { chain, K, writers, client, term } = setup([4])
    const plan = client.planSearch([{ indexKey: K, term }], writers)
    const honest = serverSearch(chain.store, plan.token)
    // the best the holder can do without the value key: reuse a sealed value under another label
    const swapped = honest.map((e, i) => ({ ...e, value: (honest[(i + 1) % honest.length] as StoredEntry).value }))
    const v = verifySearchResults(plan, swapped, () => true)
    assert.equal(v.locations.length, 0)
    assert.equal(v.forged.length, 4)
  })

  it('counter state serializes, merges by maximum, and rejects malformed bytes', () => {
    const a = new CounterState()
    const id1 = 'a'.repeat(64); const id2 = 'b'.repeat(64)
    a.raise(id1, 5); a.raise(id2, 2)
    const b = CounterState.decode(a.encode())
    assert.deepEqual([...b.entries()].sort(), [[id1, 5], [id2, 2]])
    const c = new CounterState(); c.raise(id1, 3); c.raise(id2, 9)
    b.merge(c)
    assert.deepEqual([b.get(id1), b.get(id2), b.get('c'.repeat(64))], [5, 9, 0])
    assert.equal(b.next(id1), 5)
    assert.equal(b.get(id1), 6)
    for (const bad of [Uint8Array.of(0xff), new Uint8Array(0), Uint8Array.of(0xa0)]) {
      assert.throws(() => CounterState.decode(bad), (e: unknown) => e instanceof SseError && e.code === 'MALFORMED_STATE')
    }
    assert.throws(() => a.raise('xyz', 1), (e: unknown) => e instanceof SseError && e.code === 'BAD_INPUT')
    assert.throws(() => a.raise(id1, 2 ** 32 + 1), (e: unknown) => e instanceof SseError && e.code === 'COUNTER_OVERFLOW')
  })
})

describe('sse: counter recovery', () => {
  it('finds every count exactly with O(log n) rounds and label probes only', async () => {
    const counts = [0, 1, 2, 3, 7, 8, 9, 63, 64, 100, 255, 256, 257, 1000]
    const { chain, K, writers, client, term } = setup(counts)
    const fresh = new SseClient()
    const tokens: SearchToken[] = []
    const report = await recoverCounters(fresh, {
      indexKey: K, writers, terms: [term], verifyProof: chain.verifyProof,
      probe: (t) => { tokens.push(t); return serverSearch(chain.store, t) }
    })
    assert.deepEqual(report.counts.map((c) => c.count), counts)
    for (let w = 0; w < counts.length; w++) assert.equal(fresh.counters.get(client.tree(K, writers[w] as Uint8Array, term).id), counts[w])
    assert.ok(tokens.every((t) => t.groups.length === 0), 'recovery must send labels, never GGM nodes')
    const logn = (n: number): number => Math.floor(Math.log2(n + 1))
    const bound = (n: number): number => 2 * logn(n) + 1
    assert.equal(report.rounds, bound(1000)) // the largest tree sets the number of rounds: 19
    assert.deepEqual(report.forged, [])
    // per tree: rounds and absent probes within the documented bounds
    for (const n of counts) {
      const one = setup([n])
      const r = await recoverCounters(new SseClient(), { indexKey: one.K, writers: one.writers, terms: [one.term], verifyProof: one.chain.verifyProof, probe: (t) => serverSearch(one.chain.store, t) })
      assert.equal(r.counts[0]?.count, n)
      assert.ok(r.rounds <= bound(n), `n=${n}: ${r.rounds} rounds`)
      assert.equal(r.labelsProbed, r.rounds)
      assert.ok(r.absentProbed <= logn(n) + 1, `n=${n}: ${r.absentProbed} absent`)
    }
    // resuming from known counts probes only beyond them
    const again = await recoverCounters(fresh, { indexKey: K, writers, terms: [term], verifyProof: chain.verifyProof, probe: (t) => serverSearch(chain.store, t) })
    assert.equal(again.rounds, 1)
    assert.equal(again.labelsProbed, counts.length)
  })

  it('a lying holder can only lower a count; forged presence is rejected', async () => {
    const { chain, K, writers, term } = setup([40])
    const hide = await recoverCounters(new SseClient(), {
      indexKey: K, writers, terms: [term], verifyProof: chain.verifyProof,
      probe: (t) => serverSearch(chain.store, t).filter((e) => e.position.index < 20)
    })
    assert.ok((hide.counts[0]?.count ?? 99) <= 20)
    const fake = await recoverCounters(new SseClient(), {
      indexKey: K, writers, terms: [term], verifyProof: chain.verifyProof,
      probe: (t) => t.labels.map((label) => ({ label, value: randomBytes(82), position: { height: 1, index: 0 } }))
    })
    assert.equal(fake.counts[0]?.count, 0)
    assert.equal(fake.forged[0]?.reason, 'BAD_VALUE')
  })
})
