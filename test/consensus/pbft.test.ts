import assert from 'node:assert/strict'
import { verifyCertificate } from '../../src/blocks/certificate.js'
import { voteSignBytes } from '../../src/blocks/vote.js'
import { loadPqBackend, randomBytes, toHex } from '../../src/crypto/index.js'
import {
  ConsensusError, Pbft, checkCommitCertificate, newViewSignBytes, prePrepareSignBytes, heartbeatSignBytes
} from '../../src/consensus/index.js'
import type { ConsensusMessage, NewViewMsg, PrePrepareMsg, Value, ViewChangeMsg, VoteMsg, WalRecord } from '../../src/consensus/index.js'
import { CHAIN, Cluster, TEST_TIMING, type Envelope } from './cluster.js'
import { mlDsaKit } from './sim/crypto.js'
import { parseValue } from './sim/app.js'

const hex = toHex
const notCommitV0 = (e: Envelope): boolean => !(e.msg.type === 'commit' && e.msg.view === 0)

function vote (c: Cluster, from: number, type: 'prepare' | 'commit', height: number, view: number, hash: Uint8Array): VoteMsg {
  return { type, height, view, from, hash, sig: c.kit.signer(from).sign(voteSignBytes(type, CHAIN, height, view, hash)) }
}

function prePrepare (c: Cluster, from: number, height: number, view: number, value: Value): PrePrepareMsg {
  return { type: 'pre-prepare', height, view, from, value, sig: c.kit.signer(from).sign(prePrepareSignBytes(CHAIN, height, view, value.hash)) }
}

/** Everyone starts, node 1 (leader of height 1, view 0) proposes X, prepares flow, commits are dropped. */
function preparedEverywhere (): { c: Cluster, x: Value } {
  const c = new Cluster(4)
  c.startAll()
  for (let i = 0; i < 4; i++) c.step(i, { type: 'mempool', size: 3 })
  assert.deepEqual(c.builds, [{ node: 1, height: 1, view: 0 }])
  const x = c.value(1)
  c.answerBuilds(() => x)
  c.deliver(notCommitV0)
  for (let i = 0; i < 4; i++) {
    assert.ok(c.wal[i]?.some((r) => r.kind === 'commit' && hex(r.hash) === hex(x.hash)), `node ${i} prepared X`)
    assert.equal(c.commits[i]?.length, 0)
  }
  return { c, x }
}

describe('consensus: PBFT state machine', () => {
  it('normal case: one proposal, every manager commits it with a valid certificate, then the next leader proposes', () => {
    const c = new Cluster(4)
    c.startAll()
    for (let i = 0; i < 4; i++) c.step(i, { type: 'mempool', size: 3 })
    assert.deepEqual(c.builds, [{ node: 1, height: 1, view: 0 }], 'only the leader (height + view) mod n asks for a block')
    const x = c.value(1)
    c.answerBuilds(() => x)
    c.deliver()
    for (let i = 0; i < 4; i++) {
      const [commit] = c.commits[i] ?? []
      assert.ok(commit !== undefined)
      assert.equal(hex(commit.value.hash), hex(x.hash))
      assert.equal(commit.certificate.view, 0)
      assert.equal(commit.certificate.signatures.length, 3)
      assert.ok(checkCommitCertificate({ chainId: CHAIN, n: 4, verifier: c.verifier }, commit.certificate, 1, x.hash))
      assert.equal(c.nodes[i]?.status().height, 2)
    }
    // Height 2: leader is node 2; it proposes once its mempool is non-empty.
    for (let i = 0; i < 4; i++) c.step(i, { type: 'mempool', size: 1 })
    assert.deepEqual(c.builds, [{ node: 2, height: 2, view: 0 }])
    c.answerBuilds((node) => c.value(node, [7]))
    c.deliver()
    const second = c.commits[0]?.[1]
    assert.ok(second !== undefined)
    assert.equal(hex(parseValue(second.value.bytes)?.prevHash ?? new Uint8Array()), hex(x.hash), 'height 2 extends height 1')
    for (let i = 0; i < 4; i++) assert.deepEqual(c.commits[i]?.map((b) => hex(b.value.hash)), [hex(x.hash), hex(second.value.hash)])
  })

  it('blockInterval: while records keep coming the next proposal waits blockInterval after the decision; after an idle spell the first record is proposed at once', () => {
    const c = new Cluster(4, { ...TEST_TIMING, blockInterval: 40 })
    c.startAll()
    for (let i = 0; i < 4; i++) c.step(i, { type: 'mempool', size: 3 })
    assert.deepEqual(c.builds, [{ node: 1, height: 1, view: 0 }], 'nothing decided yet: the first leader proposes at once')
    c.answerBuilds((node) => c.value(node, [1]))
    c.deliver()
    const decided = c.now
    // busy: the mempool was never seen empty since the decision
    for (let i = 0; i < 4; i++) c.step(i, { type: 'mempool', size: 2 })
    assert.deepEqual(c.builds, [], 'the next leader waits for more records')
    const tickAt = (t: number): void => { c.now = t; for (let i = 0; i < 4; i++) c.step(i, { type: 'tick' }) }
    tickAt(decided + 39)
    assert.deepEqual(c.builds, [])
    tickAt(decided + 40)
    assert.deepEqual(c.builds, [{ node: 2, height: 2, view: 0 }], 'blockInterval after the decision')
    c.answerBuilds((node) => c.value(node, [2]))
    c.deliver()
    for (let i = 0; i < 4; i++) assert.equal(c.nodes[i]?.status().height, 3)
    // idle: the commit emptied the mempool; the next record is proposed at once
    for (let i = 0; i < 4; i++) c.step(i, { type: 'mempool', size: 0 })
    for (let i = 0; i < 4; i++) c.step(i, { type: 'mempool', size: 1 })
    assert.deepEqual(c.builds, [{ node: 3, height: 3, view: 0 }], 'at once, although the last pre-prepare was less than blockInterval ago')
  })

  it('normal case with ML-DSA-65: the certificate passes src/blocks verifyCertificate', async () => {
    const pq = await loadPqBackend()
    const kit = mlDsaKit(pq, 4)
    const c = new Cluster(4, TEST_TIMING, kit)
    c.startAll()
    for (let i = 0; i < 4; i++) c.step(i, { type: 'mempool', size: 3 })
    c.answerBuilds()
    c.deliver()
    for (let i = 0; i < 4; i++) {
      const commit = c.commits[i]?.[0]
      assert.ok(commit !== undefined)
      const check = verifyCertificate(commit.certificate, { chainId: CHAIN, managers: kit.publicKeys as Uint8Array[], verifier: pq }, { height: 1, headerHash: commit.value.hash })
      assert.ok(check.ok, JSON.stringify(check))
    }
  })

  it('view change carries a prepared value: the new leader re-proposes it and it commits in view 1', () => {
    const { c, x } = preparedEverywhere()
    // The old leader (1) goes silent; commits of view 0 never arrive.
    c.advance(1000, 10, [0, 2, 3], notCommitV0)
    const nv = c.sent(2, 'new-view')[0] as NewViewMsg | undefined
    assert.ok(nv !== undefined, 'leader of view 1 sent NEW-VIEW')
    assert.equal(nv.view, 1)
    assert.ok(nv.viewChanges.length >= 3 && nv.viewChanges.every((vc) => vc.prepared !== null && hex(vc.prepared.hash) === hex(x.hash)))
    assert.equal(hex(nv.prePrepare?.value.hash ?? new Uint8Array()), hex(x.hash), 'the prepared value is re-proposed')
    for (const i of [0, 2, 3]) {
      const [commit] = c.commits[i] ?? []
      assert.ok(commit !== undefined, `node ${i} committed`)
      assert.equal(hex(commit.value.hash), hex(x.hash))
      assert.equal(commit.certificate.view, 1)
    }
  })

  it('replicas validate NEW-VIEW fully: a leader that drops the prepared value, or has too few view-changes, is ignored', () => {
    const { c, x } = preparedEverywhere()
    // Time out nodes 0, 2 and 3; capture their VIEW-CHANGEs instead of delivering them.
    c.now = 1000
    for (const i of [0, 2, 3]) c.step(i, { type: 'tick' })
    const vcs = c.queue.filter((e) => e.msg.type === 'view-change' && e.to === 3).map((e) => e.msg as ViewChangeMsg)
    assert.equal(vcs.length, 2) // from 0 and 2 (node 3's own is not queued to itself)
    const own = c.sent(3, 'view-change')[0] as ViewChangeMsg
    c.queue = []
    const y = c.value(2, [5, 6], 99, 1)
    const pp = prePrepare(c, 2, 1, 1, y)
    const forge = (viewChanges: ViewChangeMsg[], p: PrePrepareMsg | null): NewViewMsg => ({
      type: 'new-view', height: 1, view: 1, from: 2, viewChanges, prePrepare: p,
      sig: c.kit.signer(2).sign(newViewSignBytes(CHAIN, 1, 1, viewChanges.map((v) => v.from), p?.value.hash ?? null))
    })
    const stripped = [...vcs, own].map((v) => ({ ...v, value: null }))
    c.step(3, { type: 'message', msg: forge(stripped, pp) }) // ignores the prepared X, proposes Y
    c.step(3, { type: 'message', msg: forge(stripped, null) }) // ignores the prepared X, proposes nothing
    c.step(3, { type: 'message', msg: forge(stripped.slice(0, 2), pp) }) // below quorum
    const bad = forge(stripped, prePrepare(c, 2, 1, 1, x)); bad.sig = randomBytes(32)
    c.step(3, { type: 'message', msg: bad }) // bad signature
    assert.equal(c.sent(3, 'prepare').filter((m) => m.view === 1).length, 0)
    assert.equal(c.nodes[3]?.status().active, false)
    // The correct NEW-VIEW is accepted and node 3 prepares X in view 1.
    c.step(3, { type: 'message', msg: forge(stripped, prePrepare(c, 2, 1, 1, x)) })
    const p1 = c.sent(3, 'prepare').filter((m) => m.view === 1) as VoteMsg[]
    assert.equal(p1.length, 1)
    assert.equal(hex(p1[0]?.hash ?? new Uint8Array()), hex(x.hash))
    assert.equal(c.nodes[3]?.status().active, true)
  })

  it('heartbeats keep an idle leader in office; silence starts a view change, with exponential backoff', () => {
    const c = new Cluster(4)
    c.startAll()
    c.advance(3000, 20)
    for (let i = 0; i < 4; i++) assert.equal(c.sent(i, 'view-change').length, 0, `node ${i} stayed in view 0`)
    assert.ok(c.sent(1, 'heartbeat').length >= 20)
    // Leaders of views 0 and 1 (nodes 1 and 2) crash: the other two time out again and again.
    const times: number[] = []
    while (c.now < 3000 + 400 + 800 + 1600 + 100) {
      c.advance(c.now + 10, 10, [0, 3])
      const views = new Set(c.sent(0, 'view-change').map((m) => m.view)).size // retransmissions repeat a view
      if (views > times.length) times.push(c.now)
    }
    assert.equal(times.length, 3)
    const [t1, t2, t3] = times as [number, number, number]
    assert.ok(t1 > 3000 && t1 <= 3000 + 400 + 10, `first view change ${t1}`)
    assert.ok(Math.abs(t2 - t1 - 800) <= 10, `second after 2x timeout: ${t2 - t1}`)
    assert.ok(Math.abs(t3 - t2 - 1600) <= 10, `third after 4x timeout: ${t3 - t2}`)
  })

  it('a heartbeating leader that ignores pending records is replaced', () => {
    const c = new Cluster(4)
    c.startAll()
    for (let i = 0; i < 4; i++) c.step(i, { type: 'mempool', size: 2 })
    c.builds = [] // the leader never builds
    for (let t = 20; t <= 600; t += 20) {
      c.now = t
      for (let i = 0; i < 4; i++) c.step(i, { type: 'tick' })
      c.builds = c.builds.filter((b) => b.node !== 1)
      c.deliver((e) => e.msg.type === 'heartbeat' || e.from !== 1)
    }
    assert.ok(c.sent(1, 'heartbeat').length > 0)
    assert.ok(c.sent(0, 'view-change').length > 0)
    assert.ok((c.nodes[0]?.status().view ?? 0) >= 1)
  })

  it('WAL: a leader that crashed after wal-append, before broadcasting, re-proposes the same value and never another', () => {
    const c = new Cluster(4)
    c.startAll()
    c.step(1, { type: 'mempool', size: 3 })
    const x = c.value(1)
    const fx = c.step(1, { type: 'proposal-built', height: 1, view: 0, value: x })
    c.builds = []
    assert.deepEqual(fx.filter((e) => e.type === 'wal-append' || e.type === 'broadcast').map((e) => e.type === 'wal-append' ? `wal:${e.record.kind}` : `send:${e.type === 'broadcast' ? e.msg.type : ''}`),
      ['wal:pre-prepare', 'send:pre-prepare', 'wal:prepare', 'send:prepare'])
    // Crash right after the first wal-append: only the pre-prepare record is durable, nothing was sent.
    const walPrefix = [c.wal[1]?.[0] as WalRecord]
    assert.equal(walPrefix[0]?.kind, 'pre-prepare')
    c.queue = []
    c.wal[1] = walPrefix
    c.effects[1] = []
    c.nodes[1] = c.make(1)
    c.step(1, { type: 'restored', records: walPrefix })
    c.step(1, { type: 'start' })
    const resent = c.sent(1, 'pre-prepare') as PrePrepareMsg[]
    assert.equal(resent.length, 1)
    assert.equal(hex(resent[0]?.value.hash ?? new Uint8Array()), hex(x.hash))
    // More records arrive; the app offers another block for the same (height, view): refused.
    c.step(1, { type: 'mempool', size: 9 })
    assert.equal(c.builds.length, 0)
    c.step(1, { type: 'proposal-built', height: 1, view: 0, value: c.value(1, [3, 4, 5], 1) })
    assert.deepEqual([...(c.signed[1]?.get('pre-prepare/1/0') ?? [])], [hex(x.hash)])
    c.deliver()
    for (let i = 0; i < 4; i++) assert.equal(hex(c.commits[i]?.[0]?.value.hash ?? new Uint8Array()), hex(x.hash))
  })

  it('WAL: a replica that crashed after logging its prepare never prepares a conflicting value in that view', () => {
    const c = new Cluster(4)
    c.startAll()
    c.step(1, { type: 'mempool', size: 3 })
    const x = c.value(1)
    c.answerBuilds(() => x)
    c.deliver((e) => e.to === 0 && e.msg.type === 'pre-prepare')
    assert.equal(c.wal[0]?.at(-1)?.kind, 'prepare')
    c.queue = [] // crashed before the prepare left
    const records = [...(c.wal[0] ?? [])]
    c.nodes[0] = c.make(0)
    c.step(0, { type: 'restored', records })
    c.step(0, { type: 'start' })
    // The (Byzantine) leader now offers node 0 a different block for (1, 0).
    const y = c.value(1, [7, 8], 5)
    c.step(0, { type: 'message', msg: prePrepare(c, 1, 1, 0, y) })
    assert.deepEqual([...(c.signed[0]?.get('prepare/1/0') ?? [])], [hex(x.hash)])
    const prepares = c.sent(0, 'prepare') as VoteMsg[]
    assert.ok(prepares.length >= 1 && prepares.every((p) => hex(p.hash) === hex(x.hash)))
  })

  it('WAL: a restarted replica remembers its prepared certificate and reports it in its view-change', () => {
    const { c, x } = preparedEverywhere()
    const records = [...(c.wal[0] ?? [])]
    c.queue = []
    c.effects[0] = []
    c.nodes[0] = c.make(0)
    c.step(0, { type: 'restored', records })
    c.step(0, { type: 'start' })
    c.now += 1000
    c.step(0, { type: 'tick' })
    const vc = c.sent(0, 'view-change')[0] as ViewChangeMsg | undefined
    assert.ok(vc?.prepared !== null && vc?.prepared !== undefined)
    assert.equal(hex(vc.prepared.hash), hex(x.hash))
    assert.equal(vc.prepared.view, 0)
    assert.ok(vc.value !== null)
    assert.deepEqual([...(c.signed[0]?.get('commit/1/0') ?? [])], [hex(x.hash)])
  })

  it('Byzantine inputs: bad signatures, non-managers, duplicates, equivocation, wrong heights and stale messages', () => {
    const c = new Cluster(4)
    c.startAll()
    const x = c.value(1)
    c.step(0, { type: 'message', msg: prePrepare(c, 1, 1, 0, x) })
    assert.equal(c.sent(0, 'prepare').length, 1)
    const before = c.effects[0]?.length ?? 0
    const garbage: VoteMsg = { ...vote(c, 2, 'prepare', 1, 0, x.hash), sig: randomBytes(32) }
    c.step(0, { type: 'message', msg: garbage })
    c.step(0, { type: 'message', msg: { ...vote(c, 2, 'prepare', 1, 0, x.hash), from: 9 } })
    c.step(0, { type: 'message', msg: { ...vote(c, 2, 'prepare', 1, 0, x.hash), from: 3 } }) // signed by 2, claims 3
    const p1 = vote(c, 1, 'prepare', 1, 0, x.hash)
    c.step(0, { type: 'message', msg: p1 })
    c.step(0, { type: 'message', msg: p1 }) // duplicate
    c.step(0, { type: 'message', msg: { ...p1 } })
    assert.equal(c.sent(0, 'commit').length, 0, 'own + one valid prepare is not a quorum')
    // A pre-prepare from a non-leader, and a proposal that does not extend the chain, are ignored.
    c.step(0, { type: 'message', msg: prePrepare(c, 2, 1, 0, c.value(2, [9])) })
    // Equivocation: manager 1 also votes for another value.
    c.step(0, { type: 'message', msg: vote(c, 1, 'prepare', 1, 0, c.value(1, [4], 3).hash) })
    const evidence = (c.effects[0] ?? []).slice(before).filter((e) => e.type === 'evidence')
    assert.equal(evidence.length, 1)
    assert.equal(evidence[0]?.type === 'evidence' && evidence[0].evidence.validator, 1)
    // A valid prepare from 2 completes the quorum.
    c.step(0, { type: 'message', msg: vote(c, 2, 'prepare', 1, 0, x.hash) })
    assert.equal(c.sent(0, 'commit').length, 1)
    // Stale (height 0) messages do nothing; a validly signed message from height 5 leads to a sync request.
    const n = c.effects[0]?.length ?? 0
    c.step(0, { type: 'message', msg: vote(c, 2, 'commit', 0, 0, x.hash) })
    assert.equal(c.effects[0]?.length, n)
    c.step(0, { type: 'message', msg: { ...vote(c, 3, 'prepare', 5, 0, x.hash), sig: randomBytes(32) } })
    c.now += TEST_TIMING.syncDelay
    c.step(0, { type: 'tick' })
    assert.equal((c.effects[0] ?? []).filter((e) => e.type === 'sync').length, 0, 'a forged higher-height message triggers nothing')
    c.step(0, { type: 'message', msg: vote(c, 3, 'prepare', 5, 0, x.hash) })
    c.now += TEST_TIMING.syncDelay
    c.step(0, { type: 'tick' })
    const syncs = (): unknown[] => (c.effects[0] ?? []).filter((e) => e.type === 'sync')
    assert.deepEqual(syncs(), [{ type: 'sync', fromHeight: 1, peers: [3] }])
    // If the claim was a lie (nothing arrives), requests back off: 2x, 4x, ... syncDelay apart.
    const at: number[] = []
    for (let t = 0; t < 16 * TEST_TIMING.syncDelay; t += 10) {
      c.now += 10
      c.step(0, { type: 'tick' })
      if (syncs().length > at.length + 1) at.push(c.now)
    }
    assert.deepEqual(at.map((t, i) => t - (at[i - 1] ?? t)).slice(1), [2, 4, 8].map((k) => k * TEST_TIMING.syncDelay))
    // A heartbeat replayed with an old sequence number does not count.
    const hb = (seq: number): ConsensusMessage => ({ type: 'heartbeat', height: 1, view: 0, from: 1, seq, sig: c.kit.signer(1).sign(heartbeatSignBytes(CHAIN, 1, 0, seq)) })
    c.step(0, { type: 'message', msg: hb(5) })
    c.step(0, { type: 'message', msg: hb(5) })
  })

  it('catch-up: a manager that was away adopts certified blocks from sync and rejects forged ones', () => {
    const c = new Cluster(4)
    c.startAll()
    for (let i = 0; i < 4; i++) c.step(i, { type: 'mempool', size: 50 })
    c.advance(4000, 10, [0, 1, 2])
    const height = c.commits[0]?.length ?? 0
    assert.ok(height >= 3, `the three others made progress (${height})`)
    // Node 3 hears two managers (f+1) working on a later height and asks to sync.
    c.queue = []
    c.step(3, { type: 'message', msg: vote(c, 0, 'prepare', height + 1, 0, c.value(0).hash) })
    c.step(3, { type: 'message', msg: vote(c, 2, 'prepare', height + 1, 0, c.value(0).hash) })
    c.now += TEST_TIMING.syncDelay
    c.step(3, { type: 'tick' })
    assert.deepEqual((c.effects[3] ?? []).filter((e) => e.type === 'sync'), [{ type: 'sync', fromHeight: 1, peers: [0, 2] }])
    const good = c.commits[0] ?? []
    const first = good[0]
    assert.ok(first !== undefined)
    // Forged: garbage signatures; a certificate of another height; a value that does not match the certificate.
    c.step(3, { type: 'sync-block', value: first.value, certificate: { ...first.certificate, signatures: first.certificate.signatures.map((s) => ({ ...s, signature: randomBytes(32) })) } })
    c.step(3, { type: 'sync-block', value: first.value, certificate: good[1]?.certificate ?? first.certificate })
    c.step(3, { type: 'sync-block', value: good[1]?.value ?? first.value, certificate: first.certificate })
    assert.equal(c.commits[3]?.length, 0)
    for (const b of good) c.step(3, { type: 'sync-block', value: b.value, certificate: b.certificate })
    assert.equal(c.commits[3]?.length, height)
    assert.equal(c.nodes[3]?.status().height, height + 1)
    assert.deepEqual(c.commits[3]?.map((b) => hex(b.value.hash)), good.map((b) => hex(b.value.hash)))
  })

  it('n = 7 commits through a view change with two managers down', () => {
    const c = new Cluster(7)
    c.startAll()
    for (let i = 0; i < 7; i++) c.step(i, { type: 'mempool', size: 50 })
    c.advance(6000, 10, [0, 2, 3, 4, 5]) // node 1 (leader of height 1) and node 6 are down
    const lens = [0, 2, 3, 4, 5].map((i) => c.commits[i]?.length ?? 0)
    assert.ok(Math.min(...lens) >= 3, `progress with f = 2 down: ${lens.join(',')}`)
    const h1 = c.commits[0]?.[0]
    assert.ok(h1 !== undefined && h1.certificate.view >= 1 && h1.certificate.signatures.length === 5)
  })

  it('rejects bad configuration and out-of-order lifecycle events', () => {
    const c = new Cluster(4)
    const ports = { signer: c.kit.signer(0), verifier: c.verifier, app: { validate: () => ({ ok: true as const }) } }
    const head = { height: 0, hash: new Uint8Array(32) }
    const code = (f: () => unknown): string => { try { f(); return 'none' } catch (e) { return (e as ConsensusError).code } }
    assert.equal(code(() => new Pbft({ chainId: CHAIN, managers: 0, self: 0, head }, ports)), 'BAD_CONFIG')
    assert.equal(code(() => new Pbft({ chainId: CHAIN, managers: 4, self: 4, head }, ports)), 'BAD_CONFIG')
    assert.equal(code(() => new Pbft({ chainId: '', managers: 4, self: 0, head }, ports)), 'BAD_CONFIG')
    assert.equal(code(() => new Pbft({ chainId: CHAIN, managers: 4, self: 0, head: { height: 0, hash: new Uint8Array(31) } }, ports)), 'BAD_CONFIG')
    assert.equal(code(() => new Pbft({ chainId: CHAIN, managers: 4, self: 0, head, timing: { viewChangeTimeout: 100, heartbeatInterval: 100 } }, ports)), 'BAD_CONFIG')
    const p = new Pbft({ chainId: CHAIN, managers: 4, self: 0, head }, ports)
    assert.deepEqual(p.step({ type: 'tick', now: 1 }), [], 'events before start are ignored')
    p.step({ type: 'start', now: 1 })
    assert.equal(code(() => p.step({ type: 'restored', now: 2, records: [] })), 'BAD_EVENT')
    assert.equal(code(() => p.step({ type: 'start', now: 2 })), 'BAD_EVENT')
  })
})
