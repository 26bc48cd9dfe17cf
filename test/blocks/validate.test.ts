import assert from 'node:assert/strict'
import { randomBytes, sha256 } from '../../src/crypto/index.js'
import {
  type Block, BlockError, buildBlock, type Check, decodeBlock, EMPTY_ROOT, encodeBlock, genesisHeader, headerHash, indexInclusion,
  encodeTx, MAX_BLOCK_BYTES, merkleRoot, recordInclusion, txIndexOfRecord, validateBlock, validateHeader, validateTx, verifyIndexInclusion,
  verifyRecordInclusion, type RecordTx, type Tx
} from '../../src/blocks/index.js'
import { clone, grantTx, patientTx, recordTx } from './helpers.js'

/** Hash standing for the consortium configuration of these headers. */
const CFG = sha256(Uint8Array.of(0xcf))

const CHAIN = 'pqmed-test'
const genesis = genesisHeader(CHAIN, sha256(Uint8Array.of(1)), CFG)

function make (txs: Tx[], indexStart = 0): Block {
  return buildBlock({ chainId: CHAIN, height: 1, prevHash: headerHash(genesis), time: 5, proposer: 2, view: 1, indexStart, configHash: CFG, nextConfigHash: CFG, txs })
}

function expectFail (c: Check, code: string): void {
  assert.equal(c.ok, false, 'expected a failure')
  if (!c.ok) assert.equal(c.code, code, c.reason)
}

describe('blocks/validate: validateBasic', () => {
  it('accepts built blocks, the genesis header and each tx type', () => {
    const block = make([recordTx(2), grantTx(), patientTx(), recordTx(0), recordTx(5)])
    assert.deepEqual(validateBlock(block), { ok: true })
    assert.deepEqual(validateBlock(decodeBlock(encodeBlock(block))), { ok: true })
    assert.deepEqual(validateBlock(make([])), { ok: true })
    assert.deepEqual(validateHeader(genesis), { ok: true })
    for (const tx of block.txs) assert.deepEqual(validateTx(tx), { ok: true })
  })

  it('buildBlock computes recordIds, counts and roots from the txs', () => {
    const txs = [recordTx(2), grantTx(), recordTx(3)]
    const b = make(txs, 40)
    const recs = txs.filter((t): t is RecordTx => t.type === 'record')
    assert.deepEqual(b.header.recordIds, recs.map((t) => t.recordId))
    assert.equal(b.header.txCount, 3)
    assert.equal(b.header.indexCount, 5)
    assert.equal(b.header.indexStart, 40)
    assert.deepEqual(make([]).header.txRoot, EMPTY_ROOT)
  })

  it('never throws on garbage', () => {
    for (const v of [null, undefined, 1, 'x', [], {}, { header: null, txs: [] }, new Uint8Array(3)]) {
      assert.equal(validateTx(v).ok, false)
      assert.equal(validateHeader(v).ok, false)
      assert.equal(validateBlock(v).ok, false)
    }
  })

  describe('header/body consistency', () => {
    const base = make([recordTx(2), grantTx(), recordTx(3), patientTx()])
    const mutate = (f: (b: Block) => void): Block => { const b = clone(base); f(b); return b }

    it('txCount', () => expectFail(validateBlock(mutate((b) => { b.header.txCount = 5 })), 'MISMATCH'))
    it('a tx removed', () => expectFail(validateBlock(mutate((b) => { b.txs.pop() })), 'MISMATCH'))
    it('recordIds in another order', () => expectFail(validateBlock(mutate((b) => { b.header.recordIds.reverse() })), 'MISMATCH'))
    it('recordIds missing one', () => expectFail(validateBlock(mutate((b) => { b.header.recordIds.pop() })), 'MISMATCH'))
    it('a tx altered (txRoot)', () => expectFail(validateBlock(mutate((b) => { (b.txs[1] as { time: number }).time++ })), 'MISMATCH'))
    it('txs swapped (txRoot)', () => expectFail(validateBlock(mutate((b) => { [b.txs[1], b.txs[3]] = [b.txs[3]!, b.txs[1]!] })), 'MISMATCH'))
    it('txRoot', () => expectFail(validateBlock(mutate((b) => { b.header.txRoot = randomBytes(32) })), 'MISMATCH'))
    it('indexRoot', () => expectFail(validateBlock(mutate((b) => { b.header.indexRoot = merkleRoot([]) })), 'MISMATCH'))
    it('indexCount', () => expectFail(validateBlock(mutate((b) => { b.header.indexCount = 4 })), 'MISMATCH'))
    it('an index update altered', () => {
      const b = mutate((x) => { (x.txs[0] as RecordTx).indexUpdates[1]!.value[0]! ^= 1 })
      // altering a tx also changes txRoot; recompute it so only the index root disagrees
      b.header.txRoot = make(b.txs).header.txRoot
      expectFail(validateBlock(b), 'MISMATCH')
    })
    it('more recordIds than txs in a header', () => expectFail(validateHeader({ ...base.header, txCount: 1 }), 'MISMATCH'))
    it('a bad tx inside a block', () => {
      const c = validateBlock(mutate((b) => { (b.txs[2] as RecordTx).signature = randomBytes(5) }))
      expectFail(c, 'INVALID')
    })
  })

  describe('duplicates and limits', () => {
    it('one index label twice in a record tx (it could never be in a valid block)', () => {
      const a = recordTx(3)
      const dup = { ...a, indexUpdates: [...a.indexUpdates, { label: a.indexUpdates[0]!.label, value: randomBytes(40) }] }
      expectFail(validateTx(dup), 'DUPLICATE')
      assert.deepEqual(validateTx(a), { ok: true })
    })
    it('an empty index value (the index store refuses it, so such a block could never apply)', () => {
      const a = recordTx(2)
      expectFail(validateTx({ ...a, indexUpdates: [{ label: randomBytes(32), value: new Uint8Array(0) }] }), 'INVALID')
    })
    it('the same tx twice in a block (a replayed grant)', () => {
      const g = grantTx()
      const once = make([g])
      const twice = { header: { ...once.header, txCount: 2, txRoot: merkleRoot([encodeTx(g), encodeTx(g)]) }, txs: [g, g] }
      expectFail(validateBlock(twice), 'DUPLICATE')
    })
    it('the same record id twice in a block', () => {
      const a = recordTx(); const b = { ...recordTx(), recordId: a.recordId }
      assert.throws(() => make([a, b]), (e: unknown) => e instanceof BlockError && e.code === 'DUPLICATE')
      const h = make([a]).header
      expectFail(validateHeader({ ...h, recordIds: [a.recordId, a.recordId], txCount: 2 }), 'DUPLICATE')
    })

    it('the same index label twice in a block', () => {
      const a = recordTx(1); const b = recordTx(1)
      b.indexUpdates[0]!.label = a.indexUpdates[0]!.label
      assert.throws(() => make([a, b]), (e: unknown) => e instanceof BlockError && e.code === 'DUPLICATE')
    })

    it('a block over MAX_BLOCK_BYTES', () => {
      const tx = patientTx()
      const n = Math.ceil(MAX_BLOCK_BYTES / 6000)
      assert.throws(() => make(Array.from({ length: n }, () => tx)), (e: unknown) => e instanceof BlockError && e.code === 'OVERSIZED')
    })

    it('a height-0 header must have the genesis form', () => {
      const h = make([recordTx()]).header
      expectFail(validateHeader({ ...h, height: 0 }), 'INVALID')
      expectFail(validateHeader({ ...genesis, indexStart: 3 }), 'INVALID')
    })
  })

  describe('inclusion proofs against a header', () => {
    const txs = [recordTx(2), grantTx(), patientTx(), recordTx(0), recordTx(4)]
    const block = make(txs, 100)
    const h = block.header

    it('every tx and every index update verifies', () => {
      for (let i = 0; i < txs.length; i++) assert.ok(verifyRecordInclusion(h, recordInclusion(block, i)), `tx ${i}`)
      for (let i = 0; i < h.indexCount; i++) {
        const inc = indexInclusion(block, i)
        assert.equal(inc.position, 100 + i)
        assert.ok(verifyIndexInclusion(h, inc), `index ${i}`)
      }
      assert.equal(txIndexOfRecord(block, (txs[4] as RecordTx).recordId), 4)
      assert.equal(txIndexOfRecord(block, randomBytes(32)), -1)
      assert.deepEqual(indexInclusion(block, 2).update, (txs[4] as RecordTx).indexUpdates[0])
    })

    it('tampered elements, positions, proofs or headers fail', () => {
      const inc = recordInclusion(block, 4)
      assert.ok(!verifyRecordInclusion(h, { ...inc, tx: recordTx(4) }))
      assert.ok(!verifyRecordInclusion(h, { ...inc, txIndex: 3 }))
      assert.ok(!verifyRecordInclusion(h, { ...inc, txCount: 6 }))
      assert.ok(!verifyRecordInclusion(h, { ...inc, height: 2 }))
      assert.ok(!verifyRecordInclusion(h, { ...inc, proof: inc.proof.slice(1) }))
      assert.ok(!verifyRecordInclusion({ ...h, txRoot: randomBytes(32) }, inc))
      // a record tx whose id the header does not list
      const other = make([txs[0]!, txs[1]!, txs[2]!, txs[3]!, recordTx(4)])
      assert.ok(!verifyRecordInclusion({ ...h, recordIds: other.header.recordIds }, inc))
      const ii = indexInclusion(block, 3)
      assert.ok(!verifyIndexInclusion(h, { ...ii, position: ii.position + 1 }))
      assert.ok(!verifyIndexInclusion(h, { ...ii, index: 2 }))
      assert.ok(!verifyIndexInclusion(h, { ...ii, update: { ...ii.update, value: randomBytes(ii.update.value.length) } }))
      assert.ok(!verifyIndexInclusion({ ...h, indexCount: 7 }, ii))
      assert.ok(!verifyIndexInclusion(h, { ...ii, proof: [] }))
      assert.ok(!verifyIndexInclusion(h, null as never))
      assert.throws(() => recordInclusion(block, 5), RangeError)
      assert.throws(() => indexInclusion(block, 6), RangeError)
    })
  })
})
