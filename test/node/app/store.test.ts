import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import { decodeBlock, encodeBlock, headerHash, validateBlock, verifyIndexInclusion, verifyRecordInclusion } from '../../../src/blocks/index.js'
import { equalBytes, toHex } from '../../../src/crypto/index.js'
import { DiskIndexStore } from '../../../src/node/app/index-store.js'
import { ChainStore, decodeStoredIndexEntry, decodeStoredRecord } from '../../../src/node/chain-store.js'
import { MemoryIndexStore, keywordTerm, serverSearch, serverSearchAsync } from '../../../src/sse/index.js'
import { tempDir } from '../helpers.js'
import { app, devnet, fill } from './fill.js'

/**
 * The chain store's layout: each tx stored once (blocks reassembled from their txs' entries),
 * index entries with the lower audit-path levels (the upper ones once per block): what it serves
 * is exactly what the light clients verify.
 */
describe('node/app: the chain store serves blocks, records and index entries from their compact layout', function () {
  this.timeout(180_000)

  it('reassembles every block byte for byte, and every record and index entry verifies against its header', async () => {
    const root = await tempDir('app-store')
    try {
      const f = await devnet(root.path)
      const chain = await ChainStore.open(f.dir, f.g)
      try {
        const a = app(f, chain)
        // block sizes chosen so index trees have 1 .. 96 leaves (12 updates a record): every shape of the upper levels
        const sizes = [1, 2, 3, 5, 8, 1]
        const n = await fill(f, a, chain, sizes)
        assert.equal(chain.head.records, n)
        assert.equal(chain.head.txs, n)
        let entries = 0
        for (let h = 1; h <= sizes.length; h++) {
          const bytes = await chain.blockBytes(h)
          assert.ok(bytes !== undefined)
          const block = decodeBlock(bytes)
          assert.ok(equalBytes(encodeBlock(block), bytes), 'canonical bytes')
          const header = await chain.header(h)
          assert.ok(header !== undefined && equalBytes(headerHash(header), headerHash(block.header)))
          assert.deepEqual(validateBlock(block), { ok: true }, 'tx and index roots match the reassembled txs')
          for (const tx of block.txs) {
            assert.ok(tx.type === 'record')
            const raw = await chain.recordRaw(tx.recordId)
            assert.ok(raw !== undefined)
            const s = decodeStoredRecord(raw)
            assert.ok(verifyRecordInclusion(header, { tx: s.tx, txIndex: s.txIndex, txCount: s.txCount, height: s.height, proof: s.proof }))
            const raws = await chain.indexRaw(tx.indexUpdates.map((u) => u.label))
            for (const [j, u] of tx.indexUpdates.entries()) {
              const e = decodeStoredIndexEntry(raws[j] as Uint8Array)
              assert.ok(verifyIndexInclusion(header, { ...e, update: u }), `height ${h}, label ${toHex(u.label)}`)
              assert.ok(equalBytes(e.update.value, u.value))
              entries++
            }
          }
        }
        assert.equal(entries, chain.head.indexNext)
        assert.equal(await chain.blockBytes(sizes.length + 1), undefined)
      } finally {
        await chain.close()
      }
    } finally {
      await root.remove()
    }
  })

  it('answers a search from disk (serverSearchAsync over DiskIndexStore) exactly as the in-memory index would', async () => {
    const root = await tempDir('app-search')
    try {
      const f = await devnet(root.path)
      const chain = await ChainStore.open(f.dir, f.g)
      try {
        await fill(f, app(f, chain), chain, [4, 4, 4])
        const mem = new MemoryIndexStore()
        for (let h = 1; h <= chain.head.height; h++) {
          const block = decodeBlock(await chain.blockBytes(h) as Uint8Array)
          let pos = block.header.indexStart
          for (const tx of block.txs) if (tx.type === 'record') for (const u of tx.indexUpdates) mem.append(u, { height: h, index: pos++ })
        }
        for (const kw of ['fever', 'cough', 'asthma']) {
          const plan = f.doctor.sse.planSearch([{ indexKey: f.doctor.consortiumKey, term: keywordTerm(kw) }], [f.doctor.id.keys.id])
          const want = serverSearch(mem, plan.token)
          const got = await serverSearchAsync(new DiskIndexStore(chain), plan.token)
          assert.ok(want.length > 0, kw)
          assert.deepEqual(got.map((e) => ({ label: toHex(e.label), value: toHex(e.value), position: e.position })),
            want.map((e) => ({ label: toHex(e.label), value: toHex(e.value), position: e.position })))
        }
      } finally {
        await chain.close()
      }
    } finally {
      await root.remove()
    }
  })
})
