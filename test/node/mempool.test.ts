import assert from 'node:assert/strict'
import { encodeTx, type RecordTx } from '../../src/blocks/index.js'
import { randomBytes } from '../../src/crypto/index.js'
import { Mempool, MempoolError } from '../../src/node/mempool.js'
import { grantTx, patientTx, recordTx } from '../blocks/helpers.js'

const sub = (tx: RecordTx | ReturnType<typeof grantTx>): { tx: typeof tx, txBytes: Uint8Array, blobs: Uint8Array[] } => ({ tx, txBytes: encodeTx(tx), blobs: [] })

describe('node/mempool', () => {
  it('never holds two txs that write one index label (first come, first served)', () => {
    const m = new Mempool()
    const a = recordTx(3)
    const b: RecordTx = { ...recordTx(2), indexUpdates: [{ label: a.indexUpdates[1]!.label, value: randomBytes(40) }] }
    assert.equal(m.add(sub(a)), true)
    assert.equal(m.conflict(b, Mempool.key(encodeTx(b))), `l:${Buffer.from(a.indexUpdates[1]!.label).toString('hex')}`)
    assert.throws(() => m.add(sub(b)), (e: unknown) => e instanceof MempoolError && e.code === 'DUPLICATE_LABEL')
    assert.equal(m.size, 1)
    // the same tx again is not a conflict with itself
    assert.equal(m.add(sub(a)), false)
    // once the first one leaves (committed or pruned), its labels are free
    m.removeKey(Mempool.key(encodeTx(a)))
    assert.equal(m.add(sub(b)), true)
    m.prune((s) => s.tx === b)
    assert.equal(m.size, 0)
    assert.equal(m.add(sub(a)), true)
  })

  it('never holds two txs with one record id or one patient id (such a block could never apply: a careless or hostile client could stall every leader)', () => {
    const m = new Mempool()
    const a = recordTx(2)
    const sameId: RecordTx = { ...recordTx(2), recordId: a.recordId } // other labels, other content
    assert.equal(m.add(sub(a)), true)
    assert.throws(() => m.add(sub(sameId)), (e: unknown) => e instanceof MempoolError && e.code === 'DUPLICATE')
    const p = patientTx()
    const p2 = { ...p, time: p.time + 1 }
    assert.equal(m.add({ tx: p, txBytes: encodeTx(p), blobs: [] }), true)
    assert.throws(() => m.add({ tx: p2, txBytes: encodeTx(p2), blobs: [] }), (e: unknown) => e instanceof MempoolError && e.code === 'DUPLICATE')
    assert.equal(m.size, 2)
  })

  it('is bounded', () => {
    const m = new Mempool(2)
    m.add(sub(grantTx())); m.add(sub(grantTx()))
    assert.throws(() => m.add(sub(grantTx())), (e: unknown) => e instanceof MempoolError && e.code === 'MEMPOOL_FULL')
  })
})
