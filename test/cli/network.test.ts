import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { rpc } from '../../src/cli/procs.js'
import { simLocal, type SimLocal } from '../../src/cli/sim-local.js'
import { topologyFromFlags } from '../../src/cli/topology.js'
import type { ChainStatus } from '../../src/rpc/index.js'
import { fetchVerified, submitRecords } from './helpers.js'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** Issue 7: sim:local with 4 managers + 6 user nodes commits records and answers queries. */
describe('cli: sim:local, 4 managers + 6 user nodes as processes', function () {
  this.timeout(240_000)
  let sim: SimLocal | undefined

  after(async () => { await sim?.stop() })

  it('starts, commits records submitted through one user node, answers them from another, and stops cleanly', async () => {
    const t = topologyFromFlags({ managers: 4, users: 6, doctors: 1, chainId: 'pqmed-sim-test' })
    t.consensus.blockInterval = 50
    const t0 = Date.now()
    sim = await simLocal(t, {})
    console.log(`      (10 processes ready in ${Date.now() - t0} ms)`)
    const { net } = sim
    assert.equal(net.managers.length, 4)
    assert.equal(net.users.length, 6)
    assert.equal(new Set(net.nodes.map((n) => n.rpc)).size, 10)
    const [u0, u5] = [net.users[0], net.users[5]]
    assert.ok(u0 !== undefined && u5 !== undefined)
    const ids = await submitRecords(net.dir, u0.rpc, 4)
    for (const id of ids) {
      const { record, verification } = await fetchVerified(u5.rpc, id)
      assert.equal(record.tx.recordId, id)
      assert.equal(record.verifiedBy, 'user-node')
      assert.equal(verification.valid, true, JSON.stringify(verification))
    }
    const heights = await Promise.all(net.managers.map(async (m) => (await rpc<ChainStatus>(m.rpc, 'chain_status')).height))
    assert.ok(Math.min(...heights) >= 1)

    // issue 7: the Table 4 benchmark runs against this network (endpoints from its network.json)
    const out = await mkdtemp(join(tmpdir(), 'pqmed-attach-'))
    try {
      const r = await run(process.execPath, ['--import', 'tsx', '--import', './src/polyfill.ts', 'bench/table4.ts', '--attach', net.dir, '--records', '12', '--queries', '3', '--out-dir', out], { cwd: ROOT, timeout: 90_000 })
      assert.match(r.stdout, /# Table 4 queries against an existing network/)
      const j = JSON.parse(await readFile(join(out, 'table4-attached.json'), 'utf8')) as { network: { userNodes: number, managers: number }, records: number, quiet: { record: { count: number, p50: number }, symptom: { count: number, p50: number } }, headerPropagationMs: { heights: number } }
      assert.deepEqual(j.network.userNodes, 6)
      assert.equal(j.network.managers, 4)
      assert.equal(j.records, 12)
      assert.equal(j.quiet.record.count, 3)
      assert.ok(j.quiet.record.p50 > 0 && j.quiet.symptom.p50 > 0)
      assert.ok(j.headerPropagationMs.heights > 0)
    } finally {
      await rm(out, { recursive: true, force: true })
    }
    const codes = await sim.stop()
    sim = undefined
    assert.deepEqual(Object.values(codes), Array(10).fill(0), JSON.stringify(codes))
  })
})
