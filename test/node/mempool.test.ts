import assert from 'node:assert/strict'
import { encodeTx, type RecordTx } from '../../src/blocks/index.js'
import { randomBytes } from '../../src/crypto/index.js'
import { Mempool, MempoolError } from '../../src/node/mempool.js'
import { grantTx, recordTx } from '../blocks/helpers.js'

const sub = (tx: RecordTx | ReturnType<typeof grantTx>): { tx: typeof tx, txBytes: Uint8Array, blobs: Uint8Array[] } => ({ tx, txBytes: encodeTx(tx), blobs: [] })

describe('node/mempool', () => {
  it('never holds two txs that write one index label (first come, first served)', () => {
    const m = new Mempool()
    const a = recordTx(3)
    const b: RecordTx = { ...recordTx(2), indexUpdates: [{ label: a.indexUpdates[1]!.label, value: randomBytes(40) }] }
    assert.equal(m.add(sub(a)), true)
    assert.equal(m.labelConflict(b, Mempool.key(encodeTx(b))), Buffer.from(a.indexUpdates[1]!.label).toString('hex'))
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

  it('is bounded', () => {
    const m = new Mempool(2)
    m.add(sub(grantTx())); m.add(sub(grantTx()))
    assert.throws(() => m.add(sub(grantTx())), (e: unknown) => e instanceof MempoolError && e.code === 'MEMPOOL_FULL')
  })
})
