import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { ConsensusError, decodeMessage, decodeWalRecord, encodeMessage, encodeWalRecord } from '../../src/consensus/index.js'
import type { ConsensusMessage, WalRecord } from '../../src/consensus/index.js'
import { Cluster } from './cluster.js'

/** Messages and WAL records of every kind, from a run with a view change. */
function sample (): { msgs: ConsensusMessage[], records: WalRecord[] } {
  const c = new Cluster(4)
  c.startAll()
  for (let i = 0; i < 4; i++) c.step(i, { type: 'mempool', size: 3 })
  c.answerBuilds()
  c.deliver((e) => !(e.msg.type === 'commit' && e.msg.view === 0))
  c.advance(1500, 10, [0, 2, 3], (e) => !(e.msg.type === 'commit' && e.msg.view === 0))
  for (const i of [0, 2, 3]) c.step(i, { type: 'mempool', size: 0 }) // idle: the leader heartbeats
  c.advance(2500, 10, [0, 2, 3])
  const msgs = c.effects.flat().flatMap((e) => e.type === 'broadcast' || e.type === 'send' ? [e.msg] : [])
  return { msgs, records: c.wal.flat() }
}

function malformed (f: () => unknown): void {
  assert.throws(f, (e: unknown) => e instanceof ConsensusError && e.code === 'MALFORMED')
}

describe('consensus: codec', () => {
  const { msgs, records } = sample()

  it('round-trips every message type and every WAL record kind', () => {
    assert.deepEqual(new Set(msgs.map((m) => m.type)), new Set(['pre-prepare', 'prepare', 'commit', 'view-change', 'new-view', 'heartbeat']))
    assert.deepEqual(new Set(records.map((r) => r.kind)), new Set(['view', 'new-view', 'pre-prepare', 'prepare', 'commit']))
    for (const m of msgs) {
      const bytes = encodeMessage(m)
      const back = decodeMessage(bytes)
      assert.deepEqual(encodeMessage(back), bytes)
      assert.deepEqual(dagCbor.decode(encodeMessage(back)), dagCbor.decode(bytes))
    }
    for (const r of records) assert.deepEqual(encodeWalRecord(decodeWalRecord(encodeWalRecord(r))), encodeWalRecord(r))
  })

  it('rejects malformed messages and records', () => {
    const vote = msgs.find((m) => m.type === 'prepare') as ConsensusMessage
    const nv = msgs.find((m) => m.type === 'new-view') as ConsensusMessage
    malformed(() => decodeMessage(new Uint8Array([0xff, 0x00])))
    malformed(() => decodeMessage(dagCbor.encode({ ...vote, extra: 1 })))
    malformed(() => decodeMessage(dagCbor.encode({ ...vote, type: 'vote' })))
    malformed(() => decodeMessage(dagCbor.encode({ ...vote, hash: new Uint8Array(31) })))
    malformed(() => decodeMessage(dagCbor.encode({ ...vote, height: -1 })))
    malformed(() => decodeMessage(dagCbor.encode({ ...vote, view: 1.5 })))
    malformed(() => decodeMessage(dagCbor.encode({ ...vote, sig: 'x' })))
    malformed(() => decodeMessage(dagCbor.encode([1, 2, 3])))
    malformed(() => decodeMessage(dagCbor.encode({ ...nv, viewChanges: [{ type: 'view-change' }] })))
    malformed(() => decodeMessage(encodeMessage(vote), { maxMessageBytes: 10 }))
    malformed(() => decodeMessage(encodeMessage(nv), { maxManagers: 2 }))
    malformed(() => decodeMessage(encodeMessage(vote), { maxSigBytes: 8 }))
    malformed(() => decodeWalRecord(dagCbor.encode({ kind: 'prepare', height: 1, view: 0 })))
    malformed(() => decodeWalRecord(dagCbor.encode({ kind: 'vote', height: 1, view: 0 })))
  })
})

describe('consensus: codec of the leader blacklist WAL record', () => {
  it('round-trips a leaders record and rejects malformed ones', () => {
    const r: WalRecord = { kind: 'leaders', height: 600, at: 12, entries: [{ manager: 2, strikes: 1, until: 268, forgetAt: 524 }] }
    assert.deepEqual(decodeWalRecord(encodeWalRecord(r)), r)
    malformed(() => decodeWalRecord(dagCbor.encode({ ...r, at: -1 })))
    malformed(() => decodeWalRecord(dagCbor.encode({ ...r, entries: [{ manager: 2, strikes: 1, until: 268 }] })))
    malformed(() => decodeWalRecord(dagCbor.encode({ ...r, entries: [{ manager: 'x', strikes: 1, until: 268, forgetAt: 1 }] })))
    malformed(() => decodeWalRecord(dagCbor.encode({ kind: 'leaders', height: 1, entries: [] })))
  })
})
