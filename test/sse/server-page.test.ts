/**
 * Paged index searches (`serverSearchPage`, `tokenLabels`): pages are disjoint, in token order,
 * and together exactly `serverSearch`'s answer; a cursor inside a GGM node skips what lies below
 * it; the client's checks (omissions, forgeries) hold over the pages' union.
 */
import assert from 'node:assert/strict'
import { randomBytes, toHex } from '../../src/crypto/index.js'
import {
  SseClient, SseError, forEachLeaf, keywordTerm, leafLabel, serverSearch, serverSearchPage, serverSearchPageAsync, tokenLabelCount, tokenLabels,
  verifySearchResults, type QueryPlan, type StoredEntry
} from '../../src/sse/index.js'
import { FakeChain, ids } from './helpers.js'

describe('sse: paged search', () => {
  const consortiumKey = randomBytes(32)
  const writers = ids(3)
  const chain = new FakeChain()
  const clients = writers.map(() => new SseClient())
  let plan: QueryPlan

  before(() => {
    // 'kw:common' gets 37 + 21 + 5 updates over three writers (covers of several nodes each), others fill between
    const counts = [37, 21, 5]
    for (let round = 0; round < 40; round++) {
      const block = []
      for (let w = 0; w < writers.length; w++) {
        const loc = { recordId: randomBytes(32), field: 1, ciphertextHash: randomBytes(32) }
        if (round < (counts[w] as number)) block.push(clients[w]!.update(consortiumKey, writers[w]!, keywordTerm('common'), loc))
        block.push(clients[w]!.update(consortiumKey, writers[w]!, keywordTerm(`other${round % 3}`), loc))
      }
      chain.commit(block)
    }
    const searcher = new SseClient()
    for (const c of clients) searcher.counters.merge(c.counters)
    plan = searcher.planSearch([{ indexKey: consortiumKey, term: keywordTerm('common') }], writers)
  })

  it('tokenLabels numbers the token\'s labels in token order, and starts anywhere', () => {
    const all: string[] = []
    for (const g of plan.token.groups) for (const n of g) forEachLeaf(n, (_i, leaf) => { all.push(toHex(leafLabel(leaf))) })
    assert.equal(all.length, tokenLabelCount(plan.token))
    assert.deepEqual([...tokenLabels(plan.token)].map((l) => toHex(l.label)), all)
    for (const from of [0, 1, 5, 31, 32, 33, 36, 37, 50, all.length - 1, all.length, all.length + 5]) {
      const got = [...tokenLabels(plan.token, from)]
      assert.deepEqual(got.map((l) => toHex(l.label)), all.slice(from), `from ${from}`)
      assert.deepEqual(got.map((l) => l.ordinal), all.slice(from).map((_, i) => from + i))
    }
    const withLabels = { groups: plan.token.groups, labels: [randomBytes(32), randomBytes(32)] }
    assert.deepEqual([...tokenLabels(withLabels, all.length + 1)].map((l) => [l.ordinal, toHex(l.label)]), [[all.length + 1, toHex(withLabels.labels[1]!)]])
  })

  for (const limit of [1, 7, 20, 63, 64, 1000]) {
    it(`pages of ${limit}: disjoint, in order, their union is the whole answer and verifies`, () => {
      const whole = serverSearch(chain.store, plan.token)
      assert.equal(whole.length, 63)
      const union: StoredEntry[] = []
      let cursor: number | undefined
      let pages = 0
      for (;;) {
        const page = serverSearchPage(chain.store, plan.token, { cursor, limit })
        pages++
        assert.ok(page.entries.length <= limit)
        union.push(...page.entries)
        if (page.next === undefined) break
        assert.equal(page.entries.length, limit, 'only the last page is short')
        assert.ok(page.next > (cursor ?? -1))
        cursor = page.next
      }
      assert.equal(pages, Math.max(1, Math.ceil(63 / limit)))
      assert.deepEqual(union.map((e) => toHex(e.label)), whole.map((e) => toHex(e.label)))
      const v = verifySearchResults(plan, union, chain.verifyProof)
      assert.equal(v.locations.length, 63)
      assert.deepEqual([v.omitted.length, v.forged.length], [0, 0])
    })
  }

  it('serverSearchPageAsync (an on-disk index, looked up in batches) pages exactly as serverSearchPage', async () => {
    const asyncStore = { getMany: async (labels: Uint8Array[]) => labels.map((l) => chain.store.get(l)) }
    for (const limit of [1, 7, 63, 1000]) {
      for (const cursor of [undefined, 0, 5, 33, 62, 63, 500]) {
        const a = await serverSearchPageAsync(asyncStore, plan.token, { cursor, limit })
        const b = serverSearchPage(chain.store, plan.token, { cursor, limit })
        assert.deepEqual({ labels: a.entries.map((e) => toHex(e.label)), next: a.next }, { labels: b.entries.map((e) => toHex(e.label)), next: b.next }, `limit ${limit} cursor ${String(cursor)}`)
      }
    }
    await assert.rejects(serverSearchPageAsync(asyncStore, plan.token, { limit: 0 }), (e: unknown) => e instanceof SseError && e.code === 'BAD_INPUT')
  })

  it('a holder that stops early or skips a page is caught by the client\'s counters', () => {
    const first = serverSearchPage(chain.store, plan.token, { limit: 20 })
    assert.ok(first.next !== undefined)
    const v = verifySearchResults(plan, first.entries, chain.verifyProof)
    assert.equal(v.omitted.length, 43)
    const third = serverSearchPage(chain.store, plan.token, { cursor: serverSearchPage(chain.store, plan.token, { cursor: first.next, limit: 20 }).next, limit: 20 })
    assert.equal(verifySearchResults(plan, [...first.entries, ...third.entries], chain.verifyProof).omitted.length, 23, 'the skipped page 2 and the tail after page 3')
  })

  it('refuses a bad cursor or limit and a bad token before any work', () => {
    assert.throws(() => serverSearchPage(chain.store, plan.token, { cursor: -1, limit: 5 }), (e: unknown) => e instanceof SseError && e.code === 'BAD_INPUT')
    assert.throws(() => serverSearchPage(chain.store, plan.token, { cursor: 1.5, limit: 5 }), (e: unknown) => e instanceof SseError && e.code === 'BAD_INPUT')
    assert.throws(() => serverSearchPage(chain.store, plan.token, { limit: 0 }), (e: unknown) => e instanceof SseError && e.code === 'BAD_INPUT')
    assert.throws(() => serverSearchPage(chain.store, { groups: [[]], labels: [] }, { limit: 5 }), (e: unknown) => e instanceof SseError && e.code === 'MALFORMED_TOKEN')
    assert.deepEqual(serverSearchPage(chain.store, plan.token, { cursor: 10_000, limit: 5 }), { entries: [] })
  })
})
