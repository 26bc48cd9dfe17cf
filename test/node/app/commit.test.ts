import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'mocha'
import { buildBlock, encodeBlock, headerHash } from '../../../src/blocks/index.js'
import { equalBytes, loadPqBackend, sha256 } from '../../../src/crypto/index.js'
import { Application } from '../../../src/node/app/application.js'
import type { BlobStore } from '../../../src/node/blob-store.js'
import { ChainStore } from '../../../src/node/chain-store.js'
import { createDevnet } from '../../../src/node/devnet.js'
import { genesisHeaderOf } from '../../../src/node/genesis.js'
import { quietLog } from '../../../src/node/log.js'
import { TestDoctor, tempDir } from '../helpers.js'

describe('node/app: a commit', function () {
  this.timeout(60_000)

  it('stores the agreed block bytes as held and drops the decided WAL records in the same batch', async () => {
    const root = await tempDir('app-commit')
    try {
      const pq = await loadPqBackend()
      const files = await createDevnet({ chainId: 'pqmed-app-commit', managers: 1, doctors: 1, managerAddr: () => '/ip4/127.0.0.1/tcp/1' })
      const g = genesisHeaderOf(files.genesis)
      const chain = await ChainStore.open(join(root.path, 'chain'), g)
      try {
        const app = new Application({ genesis: files.genesis, hospitalId: sha256(files.genesis.managers[0]?.sigPublicKey ?? new Uint8Array(0)), pq, chain, blobs: {} as unknown as BlobStore, log: quietLog, hooks: {} })
        const { tx } = (await TestDoctor.create(files, 0, pq)).record(1)
        const block = buildBlock({ chainId: g.chainId, height: 1, prevHash: headerHash(g), time: Date.now(), proposer: 0, view: 0, indexStart: 0, configHash: g.configHash, nextConfigHash: g.configHash, txs: [tx] })
        const value = { hash: headerHash(block.header), bytes: encodeBlock(block) }
        assert.deepEqual(app.validateProposal(1, value, headerHash(g)), { ok: true, origin: { proposer: 0, view: 0 } })
        await chain.kv.put('wal/000000000000', new Uint8Array([1]))
        await chain.kv.put('wal/000000000001', new Uint8Array([2]))
        const cert = { chainId: g.chainId, height: 1, view: 0, headerHash: value.hash, signatures: [] }
        const out = await app.commit(value, cert, [{ type: 'del', key: 'wal/000000000000' }])
        assert.equal(out.height, 1)
        assert.equal(chain.head.height, 1)
        // the bytes stored are the very bytes agreed on
        assert.ok(equalBytes(await chain.blockBytes(1) ?? new Uint8Array(), value.bytes))
        assert.equal(await chain.kv.get('wal/000000000000'), undefined)
        assert.ok(equalBytes(await chain.kv.get('wal/000000000001') ?? new Uint8Array(), new Uint8Array([2])))
        assert.equal(app.committed.txs.size, 1)
      } finally {
        await chain.close()
      }
    } finally {
      await root.remove()
    }
  })
})
