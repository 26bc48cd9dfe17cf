import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import { buildBlock, encodeBlock, headerHash, type Tx } from '../../../src/blocks/index.js'
import { buildGrantTx } from '../../../src/client/record.js'
import type { Value, ValidateResult } from '../../../src/consensus/index.js'
import { kemKeygen } from '../../../src/crypto/index.js'
import type { Application } from '../../../src/node/app/application.js'
import { ChainStore } from '../../../src/node/chain-store.js'
import { Mempool } from '../../../src/node/mempool.js'
import { deriveFieldKeys } from '../../../src/puf/index.js'
import { TestDoctor, tempDir } from '../helpers.js'
import { app, commitValue, devnet, fill, submission, type Filled } from './fill.js'

/** A full-block value of `txs` on top of the head. */
function proposal (f: Filled, chain: ChainStore, txs: Tx[]): Value {
  const head = chain.head
  const block = buildBlock({ chainId: f.g.chainId, height: head.height + 1, prevHash: head.hash, time: Math.max(Date.now(), head.header.time), proposer: 0, view: 0, indexStart: head.indexNext, configHash: head.header.configHash, nextConfigHash: head.header.nextConfigHash, txs })
  return { hash: headerHash(block.header), bytes: encodeBlock(block) }
}
const validate = (a: Application, chain: ChainStore, v: Value): ValidateResult => a.validateProposal(chain.head.height + 1, v, chain.head.hash)
const reason = (r: ValidateResult): string => r.ok ? 'ok' : r.reason

/**
 * The committed state is read from the chain store: a restarted application replays nothing,
 * loads what a proposal's checks need (`prepare`) and refuses exactly what it refused when
 * everything was in memory; memory stays bounded whatever the chain's length.
 */
describe('node/app: committed state on disk', function () {
  this.timeout(240_000)

  it('a restart reads only the head block; a proposal is checked against the store once prepared (same refusals)', async () => {
    const root = await tempDir('app-committed')
    try {
      const f = await devnet(root.path)
      let chain = await ChainStore.open(f.dir, f.g)
      const first = app(f, chain)
      const old = f.doctor.record(0)
      await first.admit(await submission(first, old.bytes))
      const v0 = first.buildProposal(1, 0, 10)
      assert.ok(v0 !== null)
      assert.ok(first.validateProposal(1, v0, chain.head.hash).ok)
      await commitValue(first, chain, v0)
      const n = await fill(f, first, chain, Array<number>(39).fill(1), 1)
      assert.equal(chain.head.height, 40)
      await chain.close()

      chain = await ChainStore.open(f.dir, f.g)
      const a = app(f, chain)
      await a.restore()
      assert.equal(chain.reads.blocks, 1, 'only the head block is read at start')
      assert.equal(a.committed.records, 40)

      // a replay of a committed tx: unknown until prepared, then refused as before
      const replay = proposal(f, chain, [old.tx])
      assert.match(reason(validate(a, chain, replay)), /not loaded/)
      await a.prepare(replay)
      assert.match(reason(validate(a, chain, replay)), /^tx 0: tx [0-9a-f]{64} is already committed or twice in the block$/)

      // lost counters: a record rewriting a label committed at height 1
      const lost = (await TestDoctor.create(f.files, 0, f.pq)).record(0)
      const dup = proposal(f, chain, [lost.tx])
      await a.prepare(dup)
      assert.match(reason(validate(a, chain, dup)), /^tx 0 \(record [0-9a-f]{64}\), index update \d+: label [0-9a-f]{64} is already committed at height 1 \(position \d+\)$/)

      // a new record, and a grant of a record committed at height 1 by its doctor (parties read from the store)
      const fresh = proposal(f, chain, [f.doctor.record(n + 1).tx])
      await a.prepare(fresh)
      assert.deepEqual(validate(a, chain, fresh), { ok: true, origin: { proposer: 0, view: 0 } })
      const grant = buildGrantTx(f.pq, f.doctor.id.keys.sig, { recordId: old.tx.recordId, fields: [1], fieldKeys: deriveFieldKeys(new Uint8Array(32).fill(1), old.tx.recordId), granteeKemPublicKey: kemKeygen(new Uint8Array(64).fill(5)).publicKey, time: Date.now() })
      const granted = proposal(f, chain, [grant])
      assert.match(reason(validate(a, chain, granted)), /not loaded/)
      await a.prepare(granted)
      assert.deepEqual(validate(a, chain, granted), { ok: true, origin: { proposer: 0, view: 0 } })
      // admission reads the store too (async): the replay is refused there as well
      await assert.rejects(submission(a, old.bytes), /DUPLICATE/)
      await chain.close()
    } finally {
      await root.remove()
    }
  })

  it('facts loaded before a commit follow it: a pending tx whose label another block commits is dropped (DUPLICATE_LABEL)', async () => {
    const root = await tempDir('app-committed-follow')
    try {
      const f = await devnet(root.path)
      let chain = await ChainStore.open(f.dir, f.g)
      const n = await fill(f, app(f, chain), chain, [1])
      await chain.close()
      chain = await ChainStore.open(f.dir, f.g) // not fresh: nothing is known without a load
      const a = app(f, chain, 10)
      const mine = await submission(a, f.doctor.record(n).bytes)
      await a.admit(mine) // loads and pins its facts (all absent)
      const twin = await TestDoctor.create(f.files, 0, f.pq) // lost counters: replays the doctor's records …
      twin.record(0)
      const theirs = twin.record(n) // … so this one has the pending record's labels, and another record id
      const value = proposal(f, chain, [theirs.tx])
      const out = await a.commit(value, { chainId: f.g.chainId, height: 2, view: 0, headerHash: value.hash, signatures: [] }, [])
      assert.deepEqual(out.dropped.map((d) => [d.key, d.err.code]), [[Mempool.key(mine.txBytes), 'DUPLICATE_LABEL']])
      assert.equal(a.mempool.size, 0)
      assert.equal(a.buildProposal(3, 0, 10), null)
      assert.deepEqual(a.committed.size.pinned, 0)
      await chain.close()
    } finally {
      await root.remove()
    }
  })

  it('memory stays bounded: at most maxFacts unpinned facts, nothing pinned once the mempool is empty', async () => {
    const root = await tempDir('app-committed-bounded')
    try {
      const f = await devnet(root.path)
      const chain = await ChainStore.open(f.dir, f.g)
      try {
        const a = app(f, chain, 50)
        let peak = 0
        let i = 0
        for (let b = 0; b < 12; b++) {
          i = await fill(f, a, chain, [3], i)
          const s = a.committed.size
          peak = Math.max(peak, s.lru)
          assert.equal(s.pinned, 0)
          assert.equal(s.owners, 0)
        }
        assert.equal(peak, 50, 'the LRU fills up to its bound and no further')
        assert.equal(a.committed.records, 36)
        // once it forgot a committed fact, an unprepared proposal is refused (never wrongly accepted) …
        const replay = proposal(f, chain, [(await TestDoctor.create(f.files, 0, f.pq)).record(0).tx]) // lost counters: labels of record 0
        assert.match(reason(validate(a, chain, replay)), /not loaded|already committed/)
        // … and a prepared one is checked against the store
        await a.prepare(replay)
        assert.match(reason(validate(a, chain, replay)), /already committed/)
      } finally {
        await chain.close()
      }
    } finally {
      await root.remove()
    }
  })
})
