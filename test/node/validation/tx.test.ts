import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { encodeSubmission, encodeTx, type GrantTx, type RecordTx, type Tx } from '../../../src/blocks/index.js'
import { buildGrantTx } from '../../../src/client/record.js'
import { kemKeygen, loadPqBackend, randomBytes, sha256, sigKeygen, toHex, type PqBackend } from '../../../src/crypto/index.js'
import { deriveFieldKeys, deriveRecordOwnerKey } from '../../../src/puf/index.js'
import { createDevnet, type DevnetFiles } from '../../../src/node/devnet.js'
import { decodeSubmission, validateSubmission, type Submission, type TxContext } from '../../../src/node/validation/tx.js'
import { TestDoctor } from '../helpers.js'

describe('node: tx gossip validation (IGNORE / REJECT)', function () {
  this.timeout(60_000)
  let pq: PqBackend
  let files: DevnetFiles
  let doctor: TestDoctor
  const committedRecords = new Set<string>()
  const committedTxs = new Set<string>()
  const committedLabels = new Set<string>()
  const recordTxs = new Map<string, Tx>()
  const patients = new Map<string, Uint8Array>()

  const ctx = (): TxContext => ({
    verifier: pq,
    doctorKey: (id) => files.genesis.doctors.map((d) => d.sigPublicKey).find((pk) => toHex(sha256(pk)) === toHex(id)),
    recordCommitted: async (id) => committedRecords.has(toHex(id)),
    committedRecord: async (id) => recordTxs.get(toHex(id)),
    patientKey: async (id) => patients.get(toHex(id)),
    txCommitted: async (b) => committedTxs.has(toHex(sha256(b))),
    labelCommitted: async (l) => committedLabels.has(toHex(l))
  })

  async function check (bytes: Uint8Array): Promise<{ verdict: string, code?: string }> {
    const d = decodeSubmission(bytes)
    if (d.verdict !== 'ACCEPT') return { verdict: d.verdict, code: d.code }
    const v = await validateSubmission(d.value, ctx())
    return v.verdict === 'ACCEPT' ? { verdict: 'ACCEPT' } : { verdict: v.verdict, code: v.code }
  }

  before(async () => {
    pq = await loadPqBackend()
    files = await createDevnet({ chainId: 'pqmed-val', managers: 4, doctors: 2, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${5000 + i}` })
    doctor = await TestDoctor.create(files, 0, pq)
  })

  it('accepts a well-formed, signed record of a registered doctor', async () => {
    assert.deepEqual(await check(doctor.record(1).bytes), { verdict: 'ACCEPT' })
  })

  it('rejects garbage and wrongly shaped submissions', async () => {
    assert.deepEqual(await check(new Uint8Array([0xff, 0x00])), { verdict: 'REJECT', code: 'MALFORMED' })
    assert.deepEqual(await check(dagCbor.encode({ tx: new Uint8Array(3) })), { verdict: 'REJECT', code: 'MALFORMED' })
    assert.equal((await check(dagCbor.encode({ tx: new Uint8Array(3), blobs: [] }))).code, 'INVALID_TX')
  })

  it('rejects a record whose signature does not verify', async () => {
    const s = doctor.record(2)
    const sig = s.tx.signature.slice(); sig[100] = (sig[100] as number) ^ 1
    const tx: RecordTx = { ...s.tx, signature: sig }
    assert.deepEqual(await check(encodeSubmission(tx, s.blobs)), { verdict: 'REJECT', code: 'BAD_SIGNATURE' })
  })

  it('rejects a record of a doctor not registered in genesis', async () => {
    const other = await createDevnet({ chainId: 'pqmed-val', managers: 1, doctors: 1, managerAddr: () => '/ip4/127.0.0.1/tcp/1' })
    const stranger = await TestDoctor.create(other, 0, pq)
    assert.deepEqual(await check(stranger.record(3).bytes), { verdict: 'REJECT', code: 'UNREGISTERED_DOCTOR' })
  })

  it('rejects ciphertexts that do not match the committed hashes, or missing ones', async () => {
    const s = doctor.record(4)
    const bad = s.blobs.map((b) => b.slice()); (bad[1] as Uint8Array)[0] = ((bad[1] as Uint8Array)[0] as number) ^ 1
    assert.deepEqual(await check(encodeSubmission(s.tx, bad)), { verdict: 'REJECT', code: 'BLOB_MISMATCH' })
    assert.deepEqual(await check(encodeSubmission(s.tx, s.blobs.slice(0, 2))), { verdict: 'REJECT', code: 'BLOB_MISMATCH' })
  })

  it('ignores a replay of a committed tx or record id', async () => {
    const s = doctor.record(5)
    committedTxs.add(toHex(sha256(encodeTx(s.tx))))
    assert.deepEqual(await check(s.bytes), { verdict: 'IGNORE', code: 'DUPLICATE' })
    const t = doctor.record(6)
    committedRecords.add(toHex(t.tx.recordId))
    assert.deepEqual(await check(t.bytes), { verdict: 'IGNORE', code: 'DUPLICATE' })
  })

  it('ignores a record that writes an index label already committed (a client whose counters were lost), with DUPLICATE_LABEL', async () => {
    // two clients of the same doctor from the same (empty) counter state write the same labels
    const laptop = await TestDoctor.create(files, 1, pq)
    const newLaptop = await TestDoctor.create(files, 1, pq)
    const first = laptop.record(10)
    for (const u of first.tx.indexUpdates) committedLabels.add(toHex(u.label))
    const again = newLaptop.record(10)
    assert.ok(again.tx.indexUpdates.some((u) => committedLabels.has(toHex(u.label))))
    assert.deepEqual(await check(again.bytes), { verdict: 'IGNORE', code: 'DUPLICATE_LABEL' })
  })

  it('rejects a record that lists one index label twice (it could never be in a valid block)', async () => {
    const s = doctor.record(11)
    const u = s.tx.indexUpdates[0]
    assert.ok(u !== undefined)
    const tx: RecordTx = { ...s.tx, indexUpdates: [...s.tx.indexUpdates, u] }
    assert.deepEqual(await check(encodeSubmission(tx, s.blobs)), { verdict: 'REJECT', code: 'INVALID_TX' })
  })

  it('decodes a valid submission into the tx and its blobs', () => {
    const s = doctor.record(7)
    const d = decodeSubmission(s.bytes)
    assert.equal(d.verdict, 'ACCEPT')
    const v = (d as { value: Submission }).value
    assert.equal(v.blobs.length, 3)
    assert.deepEqual(v.txBytes, encodeTx(s.tx))
  })

  describe('grants: only the record\'s doctor or its owner may grant', () => {
    const patientSecret = sha256(new TextEncoder().encode('patient P'))
    const grantee = kemKeygen(new Uint8Array(64).fill(3))
    // Eve: an enrolled patient (self-signed enrollment is open to anyone)
    const eve = sigKeygen(new Uint8Array(32).fill(0xee))
    let rec: RecordTx
    const grant = (key: { publicKey: Uint8Array, secretKey: Uint8Array }, fieldKeys = deriveFieldKeys(patientSecret, rec.recordId)): GrantTx =>
      buildGrantTx(pq, key, { recordId: rec.recordId, fields: [1, 2], fieldKeys, granteeKemPublicKey: grantee.publicKey, time: 1_800_000_000_000 })

    before(() => {
      rec = doctor.record(40, patientSecret).tx
      recordTxs.set(toHex(rec.recordId), rec)
      patients.set(toHex(sha256(eve.publicKey)), eve.publicKey)
    })

    it('accepts a grant signed with the record\'s owner key', async () => {
      assert.deepEqual(await check(encodeSubmission(grant(deriveRecordOwnerKey(patientSecret, rec.recordId)), [])), { verdict: 'ACCEPT' })
    })

    it('accepts a grant by the record\'s doctor, even one wrapping junk keys (the reader reports those)', async () => {
      assert.deepEqual(await check(encodeSubmission(grant(doctor.id.keys.sig), [])), { verdict: 'ACCEPT' })
      const junk: [Uint8Array, Uint8Array, Uint8Array] = [randomBytes(32), randomBytes(32), randomBytes(32)]
      assert.deepEqual(await check(encodeSubmission(grant(doctor.id.keys.sig, junk), [])), { verdict: 'ACCEPT' })
    })

    it('rejects a stranger\'s grant (an enrolled patient that does not own the record) with UNAUTHORIZED_GRANTOR', async () => {
      assert.deepEqual(await check(encodeSubmission(grant(eve), [])), { verdict: 'REJECT', code: 'UNAUTHORIZED_GRANTOR' })
      // the same patient's owner key of another record does not own this one
      const otherOwner = deriveRecordOwnerKey(patientSecret, randomBytes(32))
      assert.deepEqual(await check(encodeSubmission(grant(otherOwner), [])), { verdict: 'REJECT', code: 'UNAUTHORIZED_GRANTOR' })
    })

    it('rejects a grantorKey that does not hash to the grantor', async () => {
      const g = grant(deriveRecordOwnerKey(patientSecret, rec.recordId))
      assert.deepEqual(await check(encodeSubmission({ ...g, grantorKey: eve.publicKey }, [])), { verdict: 'REJECT', code: 'UNAUTHORIZED_GRANTOR' })
      const d = grant(doctor.id.keys.sig)
      assert.deepEqual(await check(encodeSubmission({ ...d, grantorKey: eve.publicKey }, [])), { verdict: 'REJECT', code: 'UNAUTHORIZED_GRANTOR' })
    })

    it('rejects an authorized grantor\'s grant whose signature does not verify', async () => {
      const g = grant(deriveRecordOwnerKey(patientSecret, rec.recordId))
      const sig = g.signature.slice(); sig[9] = (sig[9] as number) ^ 1
      assert.deepEqual(await check(encodeSubmission({ ...g, signature: sig }, [])), { verdict: 'REJECT', code: 'BAD_SIGNATURE' })
    })

    it('ignores a grant of a record that is not committed', async () => {
      const g = grant(deriveRecordOwnerKey(patientSecret, rec.recordId))
      assert.deepEqual(await check(encodeSubmission({ ...g, recordId: randomBytes(32) }, [])), { verdict: 'IGNORE', code: 'UNKNOWN_RECORD' })
    })
  })
})
