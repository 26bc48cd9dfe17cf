import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { DEFAULT_PARAMS } from '../../src/node/genesis.js'
import { nodeLatency, nodeNames, parseTopology, readTopology, topologyFromArgs, topologyFromFlags, TopologyError } from '../../src/cli/topology.js'

const rejects = (text: string, pattern: RegExp, code = 'TOPOLOGY_INVALID'): void => {
  assert.throws(() => parseTopology(text), (err: unknown) => err instanceof TopologyError && err.code === code && pattern.test(err.message))
}

describe('cli: topology files', () => {
  it('reads the committed example docker/topologies/devnet.yml', async () => {
    const t = await readTopology('docker/topologies/devnet.yml')
    assert.equal(t.chainId, 'pqmed-devnet')
    assert.deepEqual([t.managers, t.users, t.doctors], [4, 2, 2])
    assert.deepEqual(t.consensus, { blockInterval: 100, maxBlockRecords: 500, viewChangeTimeout: 2000, heartbeatInterval: 500 })
    assert.deepEqual(t.resources, { manager: { cpus: '1.0', memory: '512M' }, user: { cpus: '0.5', memory: '256M' } })
    assert.deepEqual(nodeNames(t), ['manager-0', 'manager-1', 'manager-2', 'manager-3', 'user-0', 'user-1'])
  })

  it('parses JSON as well as YAML, fills defaults and applies per-node latency overrides', () => {
    const t = parseTopology(JSON.stringify({ managers: 7, users: 3, latencyMs: 20, nodes: { 'user-2': { latencyMs: 150 } }, consensus: { blockInterval: 50 }, ports: { rpcBase: 9000, libp2pBase: 4100 } }))
    assert.equal(t.managers, 7)
    assert.equal(t.consensus.blockInterval, 50)
    assert.equal(t.consensus.viewChangeTimeout, DEFAULT_PARAMS.viewChangeTimeout)
    assert.equal(nodeLatency(t, 'manager-0'), 20)
    assert.equal(nodeLatency(t, 'user-2'), 150)
    assert.deepEqual(t.ports, { rpcBase: 9000, libp2pBase: 4100 })
    assert.equal(parseTopology('').managers, 4, 'an empty document is the default topology')
  })

  it('rejects invalid topologies with the offending field', () => {
    rejects('managers: 0', /managers must be an integer in \[1, 100\]/)
    rejects('managers: 2.5', /managers/)
    rejects('users: -1', /users/)
    rejects('chainId: Bad Chain', /chainId/)
    rejects('managres: 4', /unknown key 'managres'/)
    rejects('consensus: { blockTime: 5 }', /unknown key 'blockTime' in consensus/)
    rejects('consensus: { viewChangeTimeout: 10 }', /consensus.viewChangeTimeout/)
    rejects('managers: 4\nnodes: { manager-4: { latencyMs: 5 } }', /nodes.manager-4: no such node/)
    rejects('latencyMs: "fast"', /latencyMs/)
    rejects('ports: { rpcBase: 8000, libp2pBase: 8003 }', /overlap/)
    rejects('resources: { manager: { memory: lots } }', /resources.manager.memory/)
    rejects('[1, 2]', /topology must be a mapping/)
    rejects('managers: [4', /./, 'TOPOLOGY_SYNTAX')
  })

  it('builds a topology from flags, on top of a file', async () => {
    const t = topologyFromFlags({ managers: 4, users: 6, latencyMs: 30 })
    assert.deepEqual([t.managers, t.users, t.latencyMs], [4, 6, 30])
    const f = await topologyFromArgs({ topology: 'docker/topologies/devnet.yml', users: '5', latency: '10' })
    assert.deepEqual([f.managers, f.users, f.latencyMs, f.resources.manager.memory], [4, 5, 10, '512M'])
    await assert.rejects(topologyFromArgs({ users: 'many' }), /--users must be an integer/)
    await assert.rejects(topologyFromArgs({ managers: '200' }), /managers must be an integer in \[1, 100\]/)
    assert.match(await readFile('docker/topologies/devnet.yml', 'utf8'), /latencyMs/)
  })
})
