import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import { decodeWalRecord, encodeWalRecord, type WalRecord } from '../../../src/consensus/index.js'
import { Wal } from '../../../src/node/driver/wal.js'
import { MemKv } from '../../../src/node/kv.js'

const rec = (height: number, view = 0): WalRecord => ({ kind: 'view', height, view })

async function keys (kv: MemKv): Promise<Array<[string, number]>> {
  const out: Array<[string, number]> = []
  for await (const [k, v] of kv.range('wal/', 'wal/\xff')) out.push([k, decodeWalRecord(v).height])
  return out
}

describe('node/driver: the WAL', () => {
  it('restores the records above the head in write order, and continues the sequence', async () => {
    const kv = new MemKv()
    const a = new Wal(kv)
    await a.restore(0)
    for (const h of [3, 4, 4, 5]) await a.append(rec(h))
    const b = new Wal(kv)
    assert.deepEqual((await b.restore(3)).map((r) => r.height), [4, 4, 5])
    await b.append(rec(6))
    assert.deepEqual((await keys(kv)).map(([, h]) => h), [3, 4, 4, 5, 6])
  })

  it('gives the deletes of the decided heights for the commit\'s batch, without a scan, once', async () => {
    const kv = new MemKv()
    await kv.put('wal/000000000000', encodeWalRecord(rec(1))) // written before a restart
    const wal = new Wal(kv)
    await wal.restore(1)
    for (const h of [2, 2, 3]) await wal.append(rec(h))
    const ops = wal.decidedOps(2)
    assert.deepEqual(ops.map((o) => o.type), ['del', 'del', 'del'])
    await kv.batch(ops)
    assert.deepEqual((await keys(kv)).map(([, h]) => h), [3])
    assert.deepEqual(wal.decidedOps(2), [])
  })
})
