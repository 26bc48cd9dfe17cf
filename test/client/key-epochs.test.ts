import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import { decodeTx, encodeTx, MAX_KEY_EPOCH_RECIPIENTS } from '../../src/blocks/index.js'
import {
  addKeyEpochs, buildKeyEpochTx, CONSORTIUM_KEY_FORMAT, createConsortiumKeyFile, Doctor, fetchKeyEpochs, keyRingWriters, loadClientIdentity, newClientIdentity, openConsortiumKey,
  openKeyRing, parseConsortiumKeyFile, parseConsortiumKeyRing, type ConsortiumKeyRing, type RpcClient
} from '../../src/client/index.js'
import { randomBytes, sha256, sigKeygen, toHex, loadPqBackend, type PqBackend } from '../../src/crypto/index.js'
import type { OpenedHandoff } from '../../src/client/doctor.js'
import { txJson } from '../../src/rpc/codec.js'
import type { KeyEpochJson } from '../../src/rpc/backend.js'
import { CounterState, decodeSearchToken, LeafPath, leafLabel, MemoryIndexStore, serverSearch, type IndexUpdate } from '../../src/sse/index.js'

const CHAIN = 'pqmed-epochs'

/** The index of a chain, in memory, behind the two RPC methods a doctor's search and counter sync use. */
class FakeIndex {
  readonly store = new MemoryIndexStore()
  private readonly headers = new Map<number, { indexStart: number, indexCount: number }>()
  private next = 0
  private height = 0
  tokens: number[] = []

  commit (updates: readonly IndexUpdate[]): void {
    this.height++
    this.headers.set(this.height, { indexStart: this.next, indexCount: updates.length })
    for (const u of updates) this.store.append(u, { height: this.height, index: this.next++ })
  }

  readonly rpc = {
    search: async (token: Uint8Array) => {
      const t = decodeSearchToken(token)
      this.tokens.push(t.groups.length + t.labels.length)
      const entries = serverSearch(this.store, t).map((e) => ({ label: toHex(e.label), value: Buffer.from(e.value).toString('base64'), height: e.position.height, position: e.position.index }))
      // one page (sse_search's answer), with the index range of each height's header
      const headers = [...new Set(entries.map((e) => e.height))].sort((a, b) => a - b).map((height) => ({ height, ...(this.headers.get(height) as { indexStart: number, indexCount: number }) }))
      return { entries, headers }
    },
    getHeader: async (h: number) => {
      const r = this.headers.get(h)
      if (r === undefined) throw new Error(`no header ${h}`)
      return { header: r, certificate: null }
    }
  } as unknown as RpcClient
}

function handoff (patientKey: Uint8Array): OpenedHandoff {
  return { recordId: randomBytes(32), patientId: randomBytes(32), fieldKeys: [randomBytes(32), randomBytes(32), randomBytes(32)], personalInfo: {}, patientIndexKey: patientKey, owner: randomBytes(32) }
}

/** A record's index updates as the doctor's client writes them (counters synced with the node first). */
async function write (idx: FakeIndex, d: Doctor, keyword: string): Promise<{ recordId: string, updates: IndexUpdate[] }> {
  const h = handoff(randomBytes(32))
  const input = { personalInfo: {}, disease: 'x', symptoms: [keyword], prescriptions: [], keywords: [keyword], fileType: 'note' }
  await d.syncCounters(idx.rpc, d.recordTerms(h, input))
  const { tx } = d.buildRecord(h, input)
  idx.commit(tx.indexUpdates)
  return { recordId: toHex(h.recordId), updates: tx.indexUpdates }
}

describe('client: key epochs of the consortium key (issue 14 item 4)', function () {
  this.timeout(120_000)
  let pq: PqBackend
  before(async () => { pq = await loadPqBackend() })

  const doctorFiles = ['doctor-a', 'doctor-b', 'doctor-c'].map((n) => newClientIdentity(n, 'doctor', 0))
  const manager = sigKeygen(randomBytes(32))
  const hospitalId = sha256(manager.publicKey)

  function genesisRing (): ConsortiumKeyRing {
    const members = doctorFiles.map((f) => { const k = loadClientIdentity(f).keys; return { name: f.name, sigPublicKey: k.sig.publicKey, kemPublicKey: k.kem.publicKey } })
    return parseConsortiumKeyRing(JSON.parse(JSON.stringify(createConsortiumKeyFile(pq, members))))
  }

  /** Epoch 2 wrapped to doctors a and b only (c was revoked). */
  function epoch2 (ring: ConsortiumKeyRing): ConsortiumKeyRing {
    const recipients = doctorFiles.slice(0, 2).map((f) => { const k = loadClientIdentity(f).keys; return { id: k.id, kemPublicKey: k.kem.publicKey } })
    const { tx } = buildKeyEpochTx(pq, { hospitalId, sigSecretKey: manager.secretKey }, { chainId: CHAIN, epoch: 2, recipients })
    const json = txJson(decodeTx(encodeTx(tx)))
    if (json.type !== 'key-epoch') throw new Error('not a key epoch')
    const e: KeyEpochJson = { epoch: 2, tx: json, height: 7 }
    const { ring: next, added } = addKeyEpochs(ring, CHAIN, [e])
    assert.deepEqual(added, [2])
    return parseConsortiumKeyRing(JSON.parse(JSON.stringify(next)))
  }

  const doctor = (i: number, ring: ConsortiumKeyRing, counters = new CounterState()): Doctor =>
    Doctor.fromIdentity(pq, doctorFiles[i] as never, { epochKeys: openKeyRing(pq, ring, loadClientIdentity(doctorFiles[i] as never).keys.kem.secretKey), counters })

  it('a rotation to more doctors than one epoch holds is refused before anything is built or sent, naming the count', () => {
    const k = loadClientIdentity(doctorFiles[0] as never).keys
    const many = Array.from({ length: MAX_KEY_EPOCH_RECIPIENTS + 1 }, () => ({ id: randomBytes(32), kemPublicKey: k.kem.publicKey }))
    assert.throws(() => buildKeyEpochTx(pq, { hospitalId, sigSecretKey: manager.secretKey }, { chainId: CHAIN, epoch: 2, recipients: many }),
      (err: Error & { code?: string }) => err.code === 'BAD_INPUT' && err.message.includes(`at most ${MAX_KEY_EPOCH_RECIPIENTS} doctors`) && err.message.includes(`${MAX_KEY_EPOCH_RECIPIENTS + 1} active doctors`))
    assert.doesNotThrow(() => buildKeyEpochTx(pq, { hospitalId, sigSecretKey: manager.secretKey }, { chainId: CHAIN, epoch: 2, recipients: many.slice(1) }))
  })

  it('fetching follows answers that hold only some of the epochs (each answer is bounded in bytes) until the newest', async () => {
    const recipients = doctorFiles.map((f) => { const k = loadClientIdentity(f).keys; return { id: k.id, kemPublicKey: k.kem.publicKey } })
    const epochs: KeyEpochJson[] = [2, 3, 4].map((epoch) => {
      const json = txJson(decodeTx(encodeTx(buildKeyEpochTx(pq, { hospitalId, sigSecretKey: manager.secretKey }, { chainId: CHAIN, epoch, recipients }).tx)))
      if (json.type !== 'key-epoch') throw new Error('not a key epoch')
      return { epoch, tx: json, height: epoch * 3 }
    })
    const asked: number[] = []
    // a node whose answers hold one epoch each (as a manager's do when epochs are large)
    const rpc = {
      nodeInfo: async () => ({ chainId: CHAIN }),
      getKeyEpochs: async (since: number) => { asked.push(since); return { latest: 4, epochs: epochs.filter((e) => e.epoch === since + 1), recipients: [], verifiedBy: 'user-node' as const } }
    } as unknown as RpcClient
    const r = await fetchKeyEpochs(rpc, genesisRing())
    assert.deepEqual([r.added, r.latest, r.ring.epochs.map((e) => e.epoch), asked], [[2, 3, 4], 4, [1, 2, 3, 4], [1, 2, 3]])
    // a node that says there are more but answers none: the fetch ends
    const stuck = { ...rpc, getKeyEpochs: async (since: number) => { asked.push(since); return { latest: 9, epochs: [], recipients: [], verifiedBy: 'user-node' as const } } } as unknown as RpcClient
    asked.length = 0
    assert.deepEqual((await fetchKeyEpochs(stuck, r.ring)).added, [])
    assert.deepEqual(asked, [4])
  })

  it('a format-1 file reads as epoch 1 and opens to the same key; other formats are refused with the format named', () => {
    const v1 = JSON.parse(JSON.stringify(createConsortiumKeyFile(pq, doctorFiles.map((f) => { const k = loadClientIdentity(f).keys; return { name: f.name, sigPublicKey: k.sig.publicKey, kemPublicKey: k.kem.publicKey } }))))
    assert.equal(v1.format, CONSORTIUM_KEY_FORMAT)
    const ring = parseConsortiumKeyRing(v1)
    const sk = loadClientIdentity(doctorFiles[0] as never).keys.kem.secretKey
    assert.deepEqual(openKeyRing(pq, ring, sk), [{ epoch: 1, key: openConsortiumKey(pq, v1, sk) }])
    assert.throws(() => parseConsortiumKeyRing({ ...v1, format: 'pqmed-consortium-key/3' }), /format pqmed-consortium-key\/3; expected pqmed-consortium-key\/1 or pqmed-consortium-key\/2/)
    assert.throws(() => parseConsortiumKeyFile(epoch2(ring)), /pqmed-consortium-key\/2 file \(key epochs\)/)
    // an epoch of another chain, or a different key under a known epoch number, is refused
    const two = epoch2(ring)
    assert.throws(() => addKeyEpochs(two, 'pqmed-other', []), /belongs to chain pqmed-epochs, the node to chain pqmed-other/)
    const other = epoch2(ring).epochs[1]
    assert.ok(other !== undefined)
    const forged = { ...two, epochs: [two.epochs[0], { ...other, keyId: toHex(randomBytes(32)) }] }
    assert.throws(() => openKeyRing(pq, parseConsortiumKeyRing(forged), sk), /cannot open key epoch 2/)
  })

  it('a doctor removed from epoch 2 cannot open it and finds nothing written after the rotation; the others find both epochs', async () => {
    const idx = new FakeIndex()
    const ring1 = genesisRing()
    const a1 = doctor(0, ring1)
    const before = await write(idx, a1, 'fever')
    const ring2 = epoch2(ring1)
    assert.deepEqual(keyRingWriters(ring2).map(toHex).sort(), doctorFiles.map((f) => toHex(loadClientIdentity(f).keys.id)).sort(), 'c still wrote under epoch 1: it stays a writer')

    // c holds epoch 1 only; a and b hold both, and write under the newest
    const c = doctor(2, ring2)
    assert.deepEqual(c.epochKeys.map((e) => e.epoch), [1])
    const a2 = doctor(0, ring2, a1.counters)
    assert.deepEqual(a2.epochKeys.map((e) => e.epoch), [1, 2])
    assert.notDeepEqual(a2.consortiumKey, a1.consortiumKey)
    const after = await write(idx, a2, 'fever')

    const writers = keyRingWriters(ring2)
    const b = doctor(1, ring2)
    const rb = await b.search(idx.rpc, { keywords: ['fever'] }, writers)
    assert.deepEqual(rb.matches.map((m) => m.recordId).sort(), [before.recordId, after.recordId].sort())
    assert.deepEqual(rb.omitted, [])
    assert.deepEqual(rb.forged, [])
    assert.deepEqual(rb.coverage.epochs, [1, 2])
    // both epochs in one request (one token, a group set per epoch)
    const calls = idx.tokens.length
    const again = await b.search(idx.rpc, { keywords: ['fever'] }, writers, { recover: false })
    assert.equal(idx.tokens.length, calls + 1)
    assert.equal(again.matches.length, 2)

    const rc = await c.search(idx.rpc, { keywords: ['fever'] }, writers)
    assert.deepEqual(rc.matches.map((m) => m.recordId), [before.recordId], 'the revoked doctor finds only the record of epoch 1')
    assert.deepEqual(rc.omitted, [])
    // and none of the post-rotation labels is derivable from anything c holds: c's trees under
    // epoch 1 for every writer and term of the record, up to far more updates than were made
    const cLabels = new Set<string>()
    for (const w of writers) {
      for (const term of ['kw:fever', 'type:note']) {
        const path = new LeafPath(c.sse.tree(c.consortiumKey as Uint8Array, w, term).root)
        for (let i = 0; i < 64; i++) cLabels.add(toHex(leafLabel(path.leaf(i))))
      }
    }
    for (const u of after.updates) assert.ok(!cLabels.has(toHex(u.label)), 'an epoch-2 label is derivable with the epoch-1 key')
    assert.equal(before.updates.filter((x) => cLabels.has(toHex(x.label))).length, 2, 'the epoch-1 keyword and type labels are (the probe is sound)')
  })

  it('counters stay per (keyword, epoch) across recovery: a doctor with lost state writes epoch 2 without a duplicate label and a fresh searcher counts both epochs', async () => {
    const idx = new FakeIndex()
    const ring1 = genesisRing()
    await write(idx, doctor(0, ring1), 'cough')
    await write(idx, doctor(0, ring1), 'cough')
    const ring2 = epoch2(ring1)
    const a = doctor(0, ring2)
    await write(idx, a, 'cough')
    // a new laptop: no counters at all; its sync recovers epoch 2's count (1), not epoch 1's (2)
    const fresh = doctor(0, ring2)
    const third = await write(idx, fresh, 'cough') // MemoryIndexStore.append throws DUPLICATE_LABEL on a reused label
    assert.equal(third.updates.length, 3, 'patient, keyword and type')
    const b = doctor(1, ring2)
    const r = await b.search(idx.rpc, { keywords: ['cough'] }, keyRingWriters(ring2))
    assert.equal(r.matches.length, 4)
    assert.equal(r.coverage.updates, 4)
    const [k1, k2] = b.epochKeys.map((e) => e.key) as [Uint8Array, Uint8Array]
    const count = (key: Uint8Array): number => b.counters.get(b.sse.tree(key, fresh.id, 'kw:cough').id)
    assert.deepEqual([count(k1), count(k2)], [2, 2], 'recovered per (keyword, epoch): two updates under each epoch key')
    assert.deepEqual(r.omitted, [])
  })
})
