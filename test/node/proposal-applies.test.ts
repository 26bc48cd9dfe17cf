import assert from 'node:assert/strict'
import { loadPqBackend, toHex, type PqBackend } from '../../src/crypto/index.js'
import { createDevnet, type DevnetFiles } from '../../src/node/devnet.js'
import { startNode, type RunningNode } from '../../src/node/node.js'
import { freePorts, tempDir, TestDoctor } from './helpers.js'

/**
 * "A committed block always applies" (docs/CONSENSUS.md): a manager that admits and proposes a
 * record whose index labels are already committed (fault injection `unchecked-labels`, i.e. a
 * manager without the label checks) is refused by the honest replicas: the chain continues, the
 * conflicting record is never committed, and every manager restarts from its store.
 */
describe('node: a proposal that would fail to apply is refused by honest replicas', function () {
  this.timeout(180_000)
  let files: DevnetFiles
  let pq: PqBackend
  let ports: number[] = []
  const dirs: Array<{ path: string, remove: () => Promise<void> }> = []
  const nodes: Array<RunningNode | undefined> = []
  const logs: string[][] = [[], [], [], []]
  let laptop: TestDoctor

  const start = async (i: number): Promise<RunningNode> => {
    const log = { info: (m: string) => { if (process.env.DEBUG_APPLY !== undefined) console.log(i, m) }, warn: (m: string) => { if (process.env.DEBUG_APPLY !== undefined) console.log(i, m); logs[i]?.push(m) } }
    return await startNode({
      role: 'manager', genesis: files.genesis, dataDir: (dirs[i] as { path: string }).path, identity: files.managers[i], listen: [`/ip4/127.0.0.1/tcp/${ports[i]}`], loopback: true, log,
      byzantine: i === 0 ? 'unchecked-labels' : undefined
    })
  }
  const manager = (i: number): NonNullable<RunningNode['manager']> => { const m = nodes[i]?.manager; assert.ok(m); return m }

  before(async () => {
    pq = await loadPqBackend()
    ports = await freePorts(4)
    files = await createDevnet({ chainId: 'pqmed-apply', managers: 4, doctors: 1, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}`, params: { blockInterval: 50, viewChangeTimeout: 800, heartbeatInterval: 200 } })
    for (let i = 0; i < 4; i++) dirs.push(await tempDir(`apply-m${i}`))
    for (let i = 0; i < 4; i++) nodes[i] = await start(i)
  })

  after(async () => {
    for (const n of nodes) await n?.stop().catch(() => {})
    for (const d of dirs) await d.remove()
  })

  it('the faulty leader\'s block is refused, the chain continues, the record with repeated labels is never committed', async () => {
    laptop = await TestDoctor.create(files, 0, pq)
    const wiped = await TestDoctor.create(files, 0, pq) // the same doctor after losing its client state
    const first = laptop.record(1)
    assert.equal((await manager(1).submit(first.bytes, true)).status, 'committed')
    const again = wiped.record(1)
    assert.ok(again.tx.indexUpdates.some((u) => first.tx.indexUpdates.some((v) => toHex(u.label) === toHex(v.label))), 'same labels')
    // honest managers refuse it with a domain code; the faulty one admits it into its mempool
    await assert.rejects(manager(2).submit(again.bytes, false), (e: { code?: string }) => e.code === 'DUPLICATE_LABEL')
    for (let t = 0; t < 100 && manager(0).status().height < manager(1).status().height; t++) await new Promise((r) => setTimeout(r, 50))
    assert.equal((await manager(0).submit(again.bytes, false)).status, 'pending')
    // drive enough heights for manager 0 to lead several times (leader = (height + view) mod 4)
    for (let i = 2; i < 14; i++) {
      const r = await manager(1 + (i % 3)).submit(laptop.record(i).bytes, true)
      assert.equal(r.status, 'committed')
    }
    const refusals = logs.slice(1).flat().filter((l) => /refused the proposal .* label [0-9a-f]{64} is already committed at height/.test(l))
    assert.ok(refusals.length > 0, `honest replicas logged no refusal: ${logs.slice(1).flat().join('\n')}`)
    for (let i = 1; i < 4; i++) assert.equal(await manager(i).getRecord(again.tx.recordId), undefined)
    // every manager (the faulty one too) shares one head
    const deadline = Date.now() + 20_000
    for (;;) {
      const heads = [0, 1, 2, 3].map((i) => manager(i).status())
      if (new Set(heads.map((h) => toHex(h.hash))).size === 1) break
      if (Date.now() > deadline) throw new Error(`heads differ: ${JSON.stringify(heads.map((h) => h.height))}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  })

  it('two submissions racing for one label on two managers: one commits, the other\'s submitter is told DUPLICATE_LABEL at once (not "not committed")', async () => {
    for (let round = 0; round < 3; round++) {
      const a = await TestDoctor.create(files, 0, pq)
      const b = await TestDoctor.create(files, 0, pq)
      a.sse.counters.merge(laptop.sse.counters); b.sse.counters.merge(laptop.sse.counters)
      const ra = a.record(60 + round)
      const rb = b.record(60 + round) // same terms, same counters: the same labels, another record id
      laptop.sse.counters.merge(a.sse.counters)
      const t0 = Date.now()
      const outcomes = await Promise.allSettled([manager(1).submit(ra.bytes, true), manager(3).submit(rb.bytes, true)])
      const ms = Date.now() - t0
      const codes = outcomes.map((o) => o.status === 'fulfilled' ? o.value.status : (o.reason as { code?: string }).code)
      assert.equal(codes.filter((c) => c === 'committed').length, 1, `exactly one commits: ${JSON.stringify(codes)}`)
      assert.ok(codes.every((c) => c === 'committed' || c === 'DUPLICATE_LABEL'), JSON.stringify(codes))
      assert.ok(ms < 15_000, `answered after ${ms} ms`)
    }
  })

  it('two different records with one record id, submitted at once: one is refused (DUPLICATE), the chain continues', async () => {
    const a = laptop.record(70)
    const b = laptop.record(71, undefined, a.tx.recordId) // other content and labels, the same id
    const [ra, rb] = await Promise.allSettled([manager(1).submit(a.bytes, false), manager(1).submit(b.bytes, false)])
    const codes = [ra, rb].map((o) => o.status === 'fulfilled' ? o.value.status : (o.reason as { code?: string }).code)
    assert.deepEqual([...codes].sort(), ['DUPLICATE', 'pending'], JSON.stringify(codes))
    // before the fix both were admitted, every leader proposed a block with the id twice, every replica refused it: the chain stopped
    const r = await manager(2).submit(laptop.record(72).bytes, true)
    assert.equal(r.status, 'committed')
  })

  it('every manager restarts from its store and the chain continues', async () => {
    const height = manager(1).status().height
    for (let i = 0; i < 4; i++) { await nodes[i]?.stop(); nodes[i] = undefined }
    for (let i = 0; i < 4; i++) nodes[i] = await start(i)
    for (let i = 0; i < 4; i++) assert.equal(manager(i).status().height, height)
    const r = await manager(2).submit(laptop.record(50).bytes, true)
    assert.equal(r.status, 'committed')
    assert.ok(manager(2).status().height > height)
  })
})
