import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'mocha'
import { loadPqBackend } from '../../../src/crypto/index.js'
import { ChainStore } from '../../../src/node/chain-store.js'
import { createDevnet } from '../../../src/node/devnet.js'
import { genesisHeaderOf } from '../../../src/node/genesis.js'
import { startNode } from '../../../src/node/node.js'
import { TestDoctor, freePorts, tempDir } from '../helpers.js'
import { app, fill } from './fill.js'

/**
 * A manager started on a store that already holds many blocks reads none of them but the head
 * (no replay), then keeps committing: its committed state is read from the store on demand.
 */
describe('node/app: a manager restarted on a long chain', function () {
  this.timeout(180_000)

  it('starts without reading the chain\'s blocks and commits on top of it', async () => {
    const root = await tempDir('app-restart')
    try {
      const pq = await loadPqBackend()
      const [port] = await freePorts(1)
      const files = await createDevnet({ chainId: 'pqmed-app-restart', managers: 1, doctors: 1, managerAddr: () => `/ip4/127.0.0.1/tcp/${port}`, params: { blockInterval: 50, viewChangeTimeout: 1500, heartbeatInterval: 300 } })
      const g = genesisHeaderOf(files.genesis)
      const doctor = await TestDoctor.create(files, 0, pq)
      const f = { files, pq, g, dir: join(root.path, 'chain'), doctor }
      const chain = await ChainStore.open(f.dir, g)
      const subs: Uint8Array[] = []
      const n = await fill(f, app(f, chain), chain, Array<number>(30).fill(2), 0, subs)
      await chain.close()

      const node = await startNode({ role: 'manager', genesis: files.genesis, dataDir: root.path, identity: files.managers[0], listen: [`/ip4/127.0.0.1/tcp/${port}`], loopback: true })
      try {
        const m = node.manager
        assert.ok(m !== undefined)
        assert.equal(m.status().height, 30)
        assert.ok(m.chain.reads.blocks <= 1, `${m.chain.reads.blocks} blocks read at start`)
        assert.equal(m.recordCount, 60)
        const s = doctor.record(n)
        const r = await m.submit(s.bytes, true)
        assert.equal(r.status, 'committed')
        assert.equal(r.height, 31)
        // a replay of a tx committed long before the start is refused, with its height (read from the store)
        const old = await m.submit(subs[4] as Uint8Array, false).then(() => undefined, (err: unknown) => err as { code?: string, data?: { height?: number } })
        assert.equal(old?.code, 'DUPLICATE')
        assert.equal(old?.data?.height, 3)
        assert.equal(m.recordCount, 61)
      } finally {
        await node.stop()
      }
    } finally {
      await root.remove()
    }
  })
})
