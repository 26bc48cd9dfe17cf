import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { encodeTx, headerHash, indexLeaf, merkleRoot } from '../../src/blocks/index.js'
import { loadPqBackend, toHex } from '../../src/crypto/index.js'
import { ChainStore } from '../../src/node/chain-store.js'
import { createDevnet, writeDevnet } from '../../src/node/devnet.js'
import { genesisHeaderOf } from '../../src/node/genesis.js'
import { freePorts, tempDir, TestDoctor } from './helpers.js'

const BIN = fileURLToPath(new URL('../../bin/pqmed.js', import.meta.url))

/**
 * A manager whose store's head block does not match what the store holds for it (here: a block
 * written by a version without the label checks, writing one label twice, the state issue 10's
 * reproduction left behind) says exactly what and where, and exits non-zero once, without
 * starting its network services. The start checks the head block only (it does not replay the
 * chain): a label written twice by two different blocks below the head is not found at start.
 */
describe('node: a manager with an inconsistent store', function () {
  this.timeout(120_000)

  it('names the height, tx, record and label, and exits 1', async () => {
    const root = await tempDir('inconsistent')
    try {
      const pq = await loadPqBackend()
      const ports = await freePorts(1)
      const files = await createDevnet({ chainId: 'pqmed-bad-store', managers: 1, doctors: 1, managerAddr: () => `/ip4/127.0.0.1/tcp/${ports[0]}` })
      await writeDevnet(root.path, files)
      const dataDir = join(root.path, 'm0')
      const g = genesisHeaderOf(files.genesis)
      const chain = await ChainStore.open(join(dataDir, 'chain'), g)
      const first = (await TestDoctor.create(files, 0, pq)).record(1)
      const again = (await TestDoctor.create(files, 0, pq)).record(1) // lost counters: the same labels
      // assembled as a version without the label checks did (buildBlock refuses a label written twice)
      const txs = [first.tx, again.tx]
      const updates = [...first.tx.indexUpdates, ...again.tx.indexUpdates]
      const b = {
        header: {
          chainId: g.chainId, height: 1, prevHash: headerHash(g), time: Date.now(), proposer: 0, view: 0, recordIds: txs.map((t) => t.recordId),
          txRoot: merkleRoot(txs.map((t) => encodeTx(t))), txCount: 2, indexRoot: merkleRoot(updates.map(indexLeaf)), indexCount: updates.length, indexStart: 0, configHash: g.configHash, nextConfigHash: g.configHash
        },
        txs
      }
      await chain.append(b, { chainId: g.chainId, height: 1, view: 0, headerHash: headerHash(b.header), signatures: [] })
      await chain.close()

      const child = spawn(process.execPath, [BIN, 'node', '--role', 'manager', '--genesis', join(root.path, 'genesis.json'), '--data-dir', dataDir,
        '--identity', join(root.path, 'identities', 'manager-0.json'), '--listen', `/ip4/127.0.0.1/tcp/${ports[0]}`, '--rpc-port', '0', '--loopback'], { stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
      const code = await new Promise<number | null>((resolve) => { child.on('exit', resolve) })
      assert.equal(code, 1, stderr)
      assert.doesNotMatch(stdout, /"event":"ready"/)
      assert.match(stderr, /STORE_INCONSISTENT/)
      const m = new RegExp(`block 1, tx 0 \\(record ${toHex(first.tx.recordId)}\\), index update (\\d+): label ([0-9a-f]{64}) is stored at height 1 \\(position (\\d+)\\), not at position (\\d+)`).exec(stderr)
      assert.ok(m !== null, stderr)
      assert.equal(toHex(first.tx.indexUpdates[Number(m[1])]?.label ?? new Uint8Array()), m[2])
      const j = again.tx.indexUpdates.findIndex((u) => toHex(u.label) === m[2])
      assert.ok(j >= 0, 'the label is written again by the second record')
      assert.equal(Number(m[3]), first.tx.indexUpdates.length + j, 'where the second record wrote it')
      assert.equal(Number(m[4]), Number(m[1]))
      assert.ok(stderr.includes(join(dataDir, 'chain')), stderr)
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace')
    } finally {
      await root.remove()
    }
  })
})
