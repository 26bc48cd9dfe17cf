import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import { loadPqBackend, toHex } from '../../src/crypto/index.js'
import { signRecord, verifyRecordTx } from '../../src/records/index.js'
import { bytes32, doctor, flip, indexUpdatesHash, owner, recordId, stranger, TIME } from './fixtures.js'

describe('records: verifyRecordTx (the one record-tx signature check)', () => {
  it('accepts a registered doctor\'s signature, refuses an unregistered doctor and any changed part', async () => {
    const pq = await loadPqBackend()
    const fields = [bytes32('c1'), bytes32('c2'), bytes32('c3')]
    const signature = signRecord(pq, doctor.sig.secretKey, { recordId, owner, cipherHashes: fields, attachmentHashes: [], indexUpdatesHash, time: TIME })
    const tx = { recordId, doctor: doctor.id, owner, fields, attachments: [], time: TIME, signature }
    const keys = new Map([[toHex(doctor.id), doctor.sig.publicKey]])
    const lookup = (id: Uint8Array): Uint8Array | undefined => keys.get(toHex(id))
    assert.deepEqual(verifyRecordTx(pq, lookup, tx, indexUpdatesHash), { ok: true })
    const unregistered = verifyRecordTx(pq, lookup, { ...tx, doctor: stranger.id }, indexUpdatesHash)
    assert.equal(unregistered.ok, false)
    assert.equal(!unregistered.ok && unregistered.code, 'UNREGISTERED_DOCTOR')
    for (const bad of [
      verifyRecordTx(pq, lookup, { ...tx, signature: flip(signature, 10) }, indexUpdatesHash),
      verifyRecordTx(pq, lookup, { ...tx, time: TIME + 1 }, indexUpdatesHash),
      verifyRecordTx(pq, lookup, { ...tx, owner: bytes32('other owner') }, indexUpdatesHash),
      verifyRecordTx(pq, lookup, tx, bytes32('other index updates')),
      verifyRecordTx(pq, lookup, { ...tx, fields: fields.slice(0, 2) }, indexUpdatesHash)
    ]) {
      assert.equal(bad.ok, false)
      assert.equal(!bad.ok && bad.code, 'BAD_SIGNATURE')
    }
  })
})
