import assert from 'node:assert/strict'
import { randomBytes, toHex, utf8 } from '../../src/crypto/index.js'
import {
  CounterState, SseClient, decodeSearchToken, encodeSearchToken, fileTypeTerm, forEachLeaf, keywordTerm, leafLabel, nodeSpan, normalizeKeyword,
  patientTerm, serverSearch, yearIntervals, yearTerm, type IndexUpdate, type SearchToken
} from '../../src/sse/index.js'
import { FakeChain, ids, pick, prng } from './helpers.js'

/** Every label an index holder can derive from a token: all leaves below all its nodes, and its bare labels. */
function reachableLabels (token: SearchToken): Set<string> {
  const out = new Set<string>()
  for (const g of token.groups) for (const n of g) forEachLeaf(n, (_i, leaf) => out.add(toHex(leafLabel(leaf))))
  for (const l of token.labels) out.add(toHex(l))
  return out
}

describe('sse: what the index holder can and cannot learn', () => {
  it('forward privacy: updates made after a search are not derivable from that search’s token', () => {
    const chain = new FakeChain()
    const K = randomBytes(32)
    const writers = ids(3)
    const client = new SseClient()
    const loc = (): { recordId: Uint8Array, field: number, ciphertextHash: Uint8Array } => ({ recordId: randomBytes(32), field: 1, ciphertextHash: randomBytes(32) })
    const before: IndexUpdate[] = []
    const rnd = prng(5)
    for (let i = 0; i < 300; i++) {
      const u = client.update(K, pick(rnd, writers), keywordTerm(pick(rnd, ['fever', 'cough', 'asthma'])), loc())
      before.push(u)
      chain.commit([u])
    }
    const query = [{ indexKey: K, term: keywordTerm('fever') }]
    const oldBytes = encodeSearchToken(client.planSearch(query, writers).token)
    const old = decodeSearchToken(oldBytes)
    const oldReach = reachableLabels(old)
    const oldAnswer = serverSearch(chain.store, old).map((e) => toHex(e.label)).sort()
    const countsAtSearch = CounterState.decode(client.counters.encode())
    // the old token reaches exactly the fever updates committed so far
    assert.equal(oldReach.size, oldAnswer.length)
    for (const l of oldAnswer) assert.ok(oldReach.has(l))

    const after: IndexUpdate[] = []
    for (let i = 0; i < 600; i++) {
      const u = client.update(K, pick(rnd, writers), keywordTerm(pick(rnd, ['fever', 'cough', 'asthma'])), loc())
      after.push(u)
      chain.commit([u])
    }
    for (const u of after) assert.ok(!oldReach.has(toHex(u.label)), 'a later update is reachable from an earlier token')
    // replaying the old token after the new updates returns the old answer, nothing more
    assert.deepEqual(serverSearch(chain.store, old).map((e) => toHex(e.label)).sort(), oldAnswer)
    // ... while a fresh search sees the new fever updates
    const fresh = serverSearch(chain.store, client.planSearch(query, writers).token)
    assert.ok(fresh.length > oldAnswer.length)
    // an incremental search (since the counts of the old search) reaches exactly the new fever updates
    const inc = client.planSearch(query, writers, { since: countsAtSearch })
    const incReach = reachableLabels(inc.token)
    for (const l of oldAnswer) assert.ok(!incReach.has(l))
    assert.equal(incReach.size + oldAnswer.length, fresh.length)
    assert.ok(oldAnswer.length > 0)
  })

  it('the stored index holds no plaintext keyword, record id, patient id, writer id or ciphertext hash', () => {
    const chain = new FakeChain()
    const K = randomBytes(32)
    const writers = ids(2)
    const patients = ids(20).map((id) => ({ id, key: randomBytes(32) }))
    const rnd = prng(77)
    const words = ['Pneumonia', 'Bronchitis', 'Hypertension', 'Migraine', 'Diabetes']
    const type = 'Radiology Report'
    const needles: Uint8Array[] = []
    const addText = (s: string): void => { needles.push(utf8(s)) }
    for (const w of words) { addText(w); addText(normalizeKeyword(w)); addText(keywordTerm(w)) }
    addText(type); addText(fileTypeTerm(type))
    const client = new SseClient()
    for (let r = 0; r < 400; r++) {
      const recordId = randomBytes(32)
      const hashes: [Uint8Array, Uint8Array, Uint8Array] = [randomBytes(32), randomBytes(32), randomBytes(32)]
      const patient = pick(rnd, patients)
      const year = 1930 + Math.floor(rnd() * 80)
      for (const iv of yearIntervals(year)) addText(yearTerm(iv))
      needles.push(recordId, ...hashes)
      addText(toHex(recordId))
      chain.commit(client.indexRecord({
        writer: pick(rnd, writers), recordId, fieldHashes: hashes, consortiumKey: K, patient,
        keywords: [pick(rnd, words), pick(rnd, words)], fileType: type, birthYear: year
      }))
    }
    for (const p of patients) { needles.push(p.id); addText(toHex(p.id)); addText(patientTerm(p.id)) }
    for (const w of writers) { needles.push(w); addText(toHex(w)) }
    const parts: Buffer[] = []
    for (const e of chain.store.entries()) {
      parts.push(Buffer.from(e.label), Buffer.from(e.value), Buffer.from(`${e.position.height}:${e.position.index};`))
    }
    const dump = Buffer.concat(parts)
    assert.ok(dump.length > 400 * 13 * 100)
    for (const n of needles) assert.equal(dump.indexOf(Buffer.from(n)), -1, `found ${Buffer.from(n).toString('latin1').slice(0, 40)} in the store`)
    // and every value is the fixed 82-byte sealed form, whatever it points to
    for (const e of chain.store.entries()) assert.equal(e.value.length, 82)
  })

  it('a token names no writer or term, and equal-size answers give equal-shape tokens', () => {
    const K = randomBytes(32)
    const writers = ids(2)
    const client = new SseClient()
    for (const w of writers) for (const t of ['kw:aaaaaa', 'kw:bbbbbb']) for (let i = 0; i < 5; i++) client.update(K, w, t, { recordId: randomBytes(32), field: 1, ciphertextHash: randomBytes(32) })
    const a = encodeSearchToken(client.planSearch([{ indexKey: K, term: 'kw:aaaaaa' }], writers).token)
    const b = encodeSearchToken(client.planSearch([{ indexKey: K, term: 'kw:bbbbbb' }], writers).token)
    assert.equal(a.length, b.length)
    for (const n of [...writers, utf8('aaaaaa'), utf8('bbbbbb')]) assert.equal(Buffer.from(a).indexOf(Buffer.from(n)), -1)
    // nodes of [0, 5) = {[0,4), [4,5)}
    const t = decodeSearchToken(a)
    assert.deepEqual(t.groups[0]?.map((n) => nodeSpan(n)), [{ start: 0, size: 4 }, { start: 4, size: 1 }])
  })
})
