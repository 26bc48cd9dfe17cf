import assert from 'node:assert/strict'
import { netnsSupport, simLocal, type NetnsSupport, type SimLocal } from '../../src/cli/sim-local.js'
import { topologyFromFlags } from '../../src/cli/topology.js'
import { fetchVerified, submitRecords } from './helpers.js'

/** sim:local --netns: runs where the machine allows it (root, ip netns, veth, bridge), skipped with the reason otherwise. */
describe('cli: sim:local --netns (a network namespace per node)', function () {
  this.timeout(120_000)
  let support: NetnsSupport
  let sim: SimLocal | undefined

  before(async () => { support = await netnsSupport() })
  after(async () => { await sim?.stop() })

  it('each node has its own address; records commit and are served across namespaces', async function () {
    if (!support.ok) {
      console.log(`      skipped: network namespaces are not possible here: ${support.reason ?? ''}`)
      this.skip()
    }
    const t = topologyFromFlags({ managers: 4, users: 2, doctors: 1, chainId: 'pqmed-netns-test' })
    t.consensus.blockInterval = 50
    sim = await simLocal(t, { netns: true })
    const hosts = sim.net.nodes.map((n) => new URL(n.rpc).hostname)
    assert.equal(new Set(hosts).size, 6, `distinct addresses: ${hosts.join(' ')}`)
    assert.ok(hosts.every((h) => /^10\.2\d\d\.\d+\.\d+$/.test(h)), hosts.join(' '))
    const [u0, u1] = sim.net.users
    assert.ok(u0 !== undefined && u1 !== undefined)
    const ids = await submitRecords(sim.net.dir, u0.rpc, 2)
    for (const id of ids) assert.equal((await fetchVerified(u1.rpc, id)).verification.valid, true)
    const codes = await sim.stop()
    sim = undefined
    assert.deepEqual(Object.values(codes), Array(6).fill(0))
  })

  it('adds netem delay per node when the kernel has netem (measured as RPC round-trip time)', async function () {
    if (!support.ok || !support.netem) {
      console.log(`      skipped: netem delay is not possible here: ${support.reason ?? ''}`)
      this.skip()
    }
    const t = topologyFromFlags({ managers: 4, users: 1, doctors: 0, latencyMs: 100, chainId: 'pqmed-netem-test' })
    sim = await simLocal(t, { netns: true })
    const url = sim.net.users[0]?.rpc as string
    const t0 = Date.now()
    await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'node_info' }) })
    // a new TCP connection plus one request: at least two delayed packets from the node
    assert.ok(Date.now() - t0 >= 200, `round trip ${Date.now() - t0} ms with 100 ms delay`)
    await sim.stop()
    sim = undefined
  })

  it('refuses a latency on plain loopback, saying why', async () => {
    await assert.rejects(simLocal(topologyFromFlags({ managers: 1, users: 0, latencyMs: 10 }), {}), /latency is not possible on plain loopback/)
  })
})
