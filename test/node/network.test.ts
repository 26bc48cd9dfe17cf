import assert from 'node:assert/strict'
import { headerHash, type CommitCertificate, type Header } from '../../src/blocks/index.js'
import { loadPqBackend, sha256, toHex, type PqBackend } from '../../src/crypto/index.js'
import { createDevnet, type DevnetFiles } from '../../src/node/devnet.js'
import { startNode, type RunningNode } from '../../src/node/node.js'
import { encodeSearchToken, keywordTerm } from '../../src/sse/index.js'
import { freePorts, tempDir, TestDoctor } from './helpers.js'

/** Four managers and one user node in one process, over TCP on loopback. */
describe('node: in-process network of 4 managers + 1 user node', function () {
  this.timeout(120_000)
  let files: DevnetFiles
  let nodes: RunningNode[] = []
  let dirs: Array<{ path: string, remove: () => Promise<void> }> = []
  let pq: PqBackend
  let doctor: TestDoctor
  let ports: number[] = []

  before(async () => {
    pq = await loadPqBackend()
    ports = await freePorts(4)
    files = await createDevnet({ chainId: 'pqmed-test', managers: 4, doctors: 1, users: 1, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}`, params: { blockInterval: 50, viewChangeTimeout: 1500, heartbeatInterval: 300 } })
    for (let i = 0; i < 4; i++) {
      const d = await tempDir(`m${i}`); dirs.push(d)
      nodes.push(await startNode({ role: 'manager', genesis: files.genesis, dataDir: d.path, identity: files.managers[i], listen: [`/ip4/127.0.0.1/tcp/${ports[i]}`], loopback: true }))
    }
    const d = await tempDir('u0'); dirs.push(d)
    nodes.push(await startNode({ role: 'user', genesis: files.genesis, dataDir: d.path, identity: files.users?.[0], listen: ['/ip4/127.0.0.1/tcp/0'], loopback: true }))
    doctor = await TestDoctor.create(files, 0, pq)
  })

  after(async () => {
    for (const n of nodes) await n.stop().catch(() => {})
    for (const d of dirs) await d.remove()
    nodes = []; dirs = []
  })

  it('commits records submitted through a user node, and every manager has the same head', async () => {
    const user = nodes[4]?.light
    assert.ok(user)
    const subs = Array.from({ length: 20 }, (_, i) => doctor.record(i))
    const results = await Promise.all(subs.map(async (s) => await user.submit(s.bytes, true)))
    for (const r of results) assert.equal(r.status, 'committed')
    const heads = nodes.slice(0, 4).map((n) => n.manager?.status())
    const maxH = Math.max(...heads.map((h) => h?.height ?? 0))
    // let stragglers apply the last commit
    for (let t = 0; t < 50 && nodes.slice(0, 4).some((n) => (n.manager?.status().height ?? 0) < maxH); t++) await new Promise((r) => setTimeout(r, 100))
    const hashes = new Set(nodes.slice(0, 4).map((n) => toHex(n.manager?.status().hash ?? new Uint8Array())))
    assert.equal(hashes.size, 1, 'all managers share one head')

    for (const s of subs.slice(0, 5)) {
      const rec = await user.getRecord(s.tx.recordId)
      assert.ok(rec)
      assert.deepEqual(rec.checks, { inclusion: true, ciphertexts: true, signature: true, certificate: true })
    }
  })

  it('certified headers reach the user node over gossip from f + 1 managers; managers are not in the headers mesh', async () => {
    const user = nodes[4]?.light
    assert.ok(user)
    const before = { ...user.headerStats }
    const subs = Array.from({ length: 6 }, (_, i) => doctor.record(100 + i))
    for (const s of subs) assert.equal((await user.submit(s.bytes, true)).status, 'committed')
    const target = Math.max(...nodes.slice(0, 4).map((n) => n.manager?.status().height ?? 0))
    for (let t = 0; t < 100 && user.height < target; t++) await new Promise((r) => setTimeout(r, 20))
    assert.equal(user.height, target)
    assert.ok(user.headerStats.gossip > before.gossip, `headers appended from gossip: ${JSON.stringify(user.headerStats)}`)
    const headersTopic = `/pqmed/${files.genesis.chainId}/headers/1`
    for (const m of nodes.slice(0, 4)) {
      assert.ok(!m.host.services.pubsub.getTopics().includes(headersTopic), 'a manager does not subscribe to headers')
      assert.deepEqual(m.host.services.pubsub.getSubscribers(headersTopic).map(String), [nodes[4]?.peerId], 'it knows the user node is subscribed')
    }
  })

  it('answers a keyword search with entries that verify against the user node headers', async () => {
    const user = nodes[4]?.light
    assert.ok(user)
    const plan = doctor.sse.planSearch([{ indexKey: doctor.consortiumKey, term: keywordTerm('fever') }], [doctor.id.keys.id])
    const { entries } = await user.search(encodeSearchToken(plan.token))
    assert.ok(entries.length > 0)
  })

  it('a restarted user node resumes from its stored headers', async () => {
    const old = nodes[4]
    assert.ok(old?.light)
    const height = old.light.height
    assert.ok(height > 0)
    const dir = dirs[4]
    assert.ok(dir)
    await old.stop()
    const again = await startNode({ role: 'user', genesis: files.genesis, dataDir: dir.path, identity: files.users?.[0], listen: ['/ip4/127.0.0.1/tcp/0'], loopback: true })
    nodes[4] = again
    assert.equal(again.light?.height, height, 'head restored from the header store before any sync')
    const rec = await again.light?.getRecord(new Uint8Array(32).fill(0xee))
    assert.equal(rec, undefined, 'an unknown record is reported as absent')
  })

  it('a manager that was down catches up from its peers and fetches the ciphertexts it missed', async () => {
    const user = nodes[4]?.light
    assert.ok(user)
    await nodes[3]?.stop()
    const subs = Array.from({ length: 3 }, (_, i) => doctor.record(200 + i))
    for (const s of subs) assert.equal((await user.submit(s.bytes, true)).status, 'committed')
    const target = Math.max(...nodes.slice(0, 3).map((n) => n.manager?.status().height ?? 0))
    const d = dirs[3]
    assert.ok(d)
    const again = await startNode({ role: 'manager', genesis: files.genesis, dataDir: d.path, identity: files.managers[3], listen: [`/ip4/127.0.0.1/tcp/${ports[3]}`], loopback: true })
    nodes[3] = again
    const m = again.manager
    assert.ok(m)
    for (let t = 0; t < 300 && m.status().height < target; t++) await new Promise((r) => setTimeout(r, 50))
    assert.ok(m.status().height >= target, `caught up: ${m.status().height} of ${target}`)
    // the blocks came by sync without their ciphertexts; the manager fetches them from another manager
    for (const s of subs) {
      let got: Awaited<ReturnType<typeof m.getRecord>> | undefined
      for (let t = 0; t < 200 && got === undefined; t++) {
        try { got = await m.getRecord(s.tx.recordId) } catch (err) {
          assert.equal((err as { code?: string }).code, 'BLOB_MISSING')
          await new Promise((r) => setTimeout(r, 50))
        }
      }
      assert.ok(got, 'record and ciphertexts present on the restarted manager')
      assert.equal(got.blobs.length, s.tx.type === 'record' ? s.tx.fields.length + s.tx.attachments.length : 0)
      if (s.tx.type === 'record') got.blobs.forEach((b, i) => { assert.deepEqual(sha256(b), [...s.tx.fields, ...s.tx.attachments][i]) })
    }
  })

  it('a header sync that races gossip (a header stored while the range was in flight) distrusts no honest manager', async () => {
    // found by `npm run test:chaos`: "manager ... sent an answer that failed verification (header
    // chain: height 7 does not follow 7); avoiding it for 60 s" — an honest manager avoided
    interface LightInternals {
      sync: { request: (peer: unknown, method: string, params: unknown) => Promise<unknown> }
      chain: { head: Header, headHash: Uint8Array, store: (headers: Header[], cert: CommitCertificate) => Promise<void> }
      picker: { distrusted: Map<string, number> }
    }
    const light = nodes[4]?.light
    const chain = nodes[0]?.manager?.chain
    assert.ok(light !== undefined && chain !== undefined)
    const top = light.height
    assert.ok(top >= 3, `need a few headers, have ${top}`)
    const inner = light as unknown as LightInternals
    const back = top - 2
    const backHeader = await chain.header(back)
    const raced = await chain.header(back + 1)
    const racedCert = await chain.cert(back + 1)
    assert.ok(backHeader !== undefined && raced !== undefined && racedCert !== undefined)
    // the node as it was at `back`; its next range request is answered only after gossip has
    // delivered header back + 1
    inner.chain.head = backHeader
    inner.chain.headHash = headerHash(backHeader)
    const request = inner.sync.request.bind(inner.sync)
    let raceOnce = true
    inner.sync.request = async (peer, method, params) => {
      const res = await request(peer, method, params)
      if (raceOnce && method === 'headers') { raceOnce = false; await inner.chain.store([raced], racedCert) }
      return res
    }
    inner.picker.distrusted.clear()
    try {
      await light.syncHeaders()
    } finally {
      inner.sync.request = request
    }
    assert.equal(raceOnce, false, 'the race was staged')
    assert.deepEqual([...inner.picker.distrusted.keys()], [], 'no manager distrusted')
    assert.ok(light.height >= top, `synced to ${light.height}, was at ${top}`)
  })
})
