import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import { kemKeygen, randomBytes, sha256, utf8, loadPqBackend, type PqBackend } from '../../src/crypto/index.js'
import { indexKeyId, keyEpochContext, openIndexKey, RecordError, wrapIndexKey } from '../../src/records/index.js'

describe('records: wrapping the index-2 key to a doctor (KEM-DEM)', function () {
  this.timeout(60_000)
  let pq: PqBackend
  before(async () => { pq = await loadPqBackend() })
  const doctor = kemKeygen(randomBytes(64))
  const other = kemKeygen(randomBytes(64))
  const doctorId = sha256(randomBytes(1952))

  it('opens with the doctor\'s key under the same context only', () => {
    const key = randomBytes(32)
    const ctx = keyEpochContext('pqmed-a', 2)
    const w = wrapIndexKey(pq, key, { doctorId, kemPublicKey: doctor.publicKey }, ctx)
    assert.deepEqual(openIndexKey(pq, w, doctor.secretKey, indexKeyId(key), ctx), key)
    assert.throws(() => openIndexKey(pq, w, other.secretKey, indexKeyId(key), ctx), (e: unknown) => e instanceof RecordError && e.code === 'WRONG_KEY')
    for (const c of [keyEpochContext('pqmed-a', 3), keyEpochContext('pqmed-b', 2), [utf8('pqmed/consortium-key/v1')]]) {
      assert.throws(() => openIndexKey(pq, w, doctor.secretKey, indexKeyId(key), c), (e: unknown) => e instanceof RecordError && e.code === 'TAMPERED')
    }
    assert.throws(() => openIndexKey(pq, { ...w, doctorId: randomBytes(32) }, doctor.secretKey, indexKeyId(key), ctx), (e: unknown) => e instanceof RecordError && e.code === 'TAMPERED', 'the doctor id is bound')
    assert.throws(() => openIndexKey(pq, w, doctor.secretKey, indexKeyId(randomBytes(32)), ctx), (e: unknown) => e instanceof RecordError && e.code === 'TAMPERED', 'the key id is bound')
    const flipped = w.sealed.slice(); flipped[20] = (flipped[20] as number) ^ 1
    assert.throws(() => openIndexKey(pq, { ...w, sealed: flipped }, doctor.secretKey, indexKeyId(key), ctx), (e: unknown) => e instanceof RecordError && e.code === 'TAMPERED')
    assert.equal(w.sealed.length, 60)
  })
})
