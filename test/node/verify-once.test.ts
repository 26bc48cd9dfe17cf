import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import { loadPqBackend } from '../../src/crypto/index.js'
import { createDevnet } from '../../src/node/devnet.js'
import { startNode, type RunningNode } from '../../src/node/node.js'
import { TestDoctor, freePorts, tempDir } from './helpers.js'

/**
 * Each consensus signature is verified once per manager: the gossip validator verifies a message
 * before accepting it, and PBFT's own check of that message is answered from memory.
 */
describe('node: each consensus signature is verified once', function () {
  this.timeout(180_000)

  it('PBFT\'s checks of gossiped messages cost no second ML-DSA verification', async () => {
    const pq = await loadPqBackend()
    const ports = await freePorts(4)
    const files = await createDevnet({ chainId: 'pqmed-verify-once', managers: 4, doctors: 1, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}`, params: { blockInterval: 50, viewChangeTimeout: 3000, heartbeatInterval: 500 } })
    const dirs = await Promise.all([0, 1, 2, 3].map(async (i) => await tempDir(`verify-once-m${i}`)))
    const nodes: RunningNode[] = []
    try {
      for (let i = 0; i < 4; i++) {
        nodes.push(await startNode({ role: 'manager', genesis: files.genesis, dataDir: (dirs[i] as { path: string }).path, identity: files.managers[i], listen: [`/ip4/127.0.0.1/tcp/${ports[i]}`], loopback: true }))
      }
      const doctor = await TestDoctor.create(files, 0, pq)
      const m = (i: number): NonNullable<RunningNode['manager']> => { const x = nodes[i]?.manager; assert.ok(x); return x }
      for (let i = 1; i <= 6; i++) assert.equal((await m(i % 4).submit(doctor.record(i).bytes, true)).status, 'committed')
      const stats = [0, 1, 2, 3].map((i) => m(i).signatureStats)
      console.log(`      ML-DSA verifications of consensus signatures per manager (full / answered from memory): ${stats.map((s) => `${s.verified}/${s.remembered}`).join(', ')}`)
      for (const s of stats) {
        // every accepted message is checked again by PBFT (pre-prepares, prepares, commits of each height)
        assert.ok(s.remembered > 0, JSON.stringify(stats))
      }
    } finally {
      for (const n of nodes) await n.stop().catch(() => {})
      for (const d of dirs) await d.remove()
    }
  })
})
