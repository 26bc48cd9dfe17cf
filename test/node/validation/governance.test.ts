import assert from 'node:assert/strict'
import { encodeSubmission, encodeTx, indexUpdatesHash, signGovernanceTx, type GovernanceTx, type GrantTx, type RecordTx, type UnsignedGovernanceTx } from '../../../src/blocks/index.js'
import { buildGrantTx } from '../../../src/client/record.js'
import { loadPqBackend, sha256, toHex, type PqBackend } from '../../../src/crypto/index.js'
import { deriveFieldKeys, deriveRecordOwnerKey } from '../../../src/puf/index.js'
import { verifyRecordTx } from '../../../src/records/index.js'
import { Registry } from '../../../src/node/app/governance.js'
import { createDevnet, type DevnetFiles } from '../../../src/node/devnet.js'
import { loadIdentity, newIdentityFile, type Identity } from '../../../src/node/identity.js'
import { decodeSubmission, validateSubmission, type TxContext } from '../../../src/node/validation/tx.js'
import { TestDoctor } from '../helpers.js'

/** Admission (gossip and RPC) of governance txs and of records and grants by doctors the registry retired. */
describe('node: governance tx validation', function () {
  this.timeout(120_000)
  let pq: PqBackend
  let files: DevnetFiles
  let reg: Registry
  let m0: Identity
  let m1: Identity
  let ada: TestDoctor
  let ada2: TestDoctor
  const committedTxs = new Set<string>()
  const records = new Map<string, RecordTx>()
  const CHAIN = 'pqmed-gval'

  const ctx = (): TxContext => ({
    verifier: pq,
    doctorKey: (id) => reg.activeKey(id),
    recordCommitted: async (id) => records.has(toHex(id)),
    committedRecord: async (id) => records.get(toHex(id)),
    patientKey: async () => undefined,
    txCommitted: async (b) => committedTxs.has(toHex(sha256(b))),
    labelCommitted: async () => false,
    governance: reg
  })
  const sign = (by: Identity, u: UnsignedGovernanceTx): GovernanceTx => signGovernanceTx(pq, CHAIN, by.keys.sig.secretKey, u) as GovernanceTx
  const h = (id: Identity): Uint8Array => sha256(id.keys.sig.publicKey)
  async function check (tx: GovernanceTx | RecordTx | GrantTx, blobs: Uint8Array[] = []): Promise<string> {
    const d = decodeSubmission(encodeSubmission(tx, blobs))
    if (d.verdict !== 'ACCEPT') return `${d.verdict} ${d.code}`
    const v = await validateSubmission(d.value, ctx())
    return v.verdict === 'ACCEPT' ? 'ACCEPT' : `${v.verdict} ${v.code}`
  }
  /** Commits a governance tx at `height`: the registry applies it, its bytes count as committed. */
  function commit (tx: GovernanceTx, height: number): void {
    reg.applyTx(tx, height)
    committedTxs.add(toHex(sha256(encodeTx(tx))))
  }

  before(async () => {
    pq = await loadPqBackend()
    files = await createDevnet({ chainId: CHAIN, managers: 4, doctors: 1, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${7100 + i}` })
    ;[m0, m1] = await Promise.all([0, 1].map(async (i) => await loadIdentity(files.managers[i]!))) as [Identity, Identity]
    const adaFiles = [newIdentityFile('ada', 'doctor'), newIdentityFile('ada-2', 'doctor')]
    ;[ada, ada2] = await Promise.all(adaFiles.map(async (f) => await TestDoctor.create({ ...files, doctors: [f] }, 0, pq))) as [TestDoctor, TestDoctor]
    reg = new Registry(files.genesis, pq)
  })

  it('a doctor unknown to the genesis is refused until its hospital adds it; then its record is accepted', async () => {
    const r = ada.record(1)
    assert.equal(await check(r.tx, r.blobs), 'REJECT UNREGISTERED_DOCTOR')
    const add = sign(m1, { type: 'doctor', action: 'add', hospital: h(m1), doctor: ada.id.keys.id, name: 'Dr. Ada', sigPublicKey: ada.id.keys.sig.publicKey, kemPublicKey: ada.id.keys.kem.publicKey, time: 1 })
    assert.equal(await check(add), 'ACCEPT')
    commit(add, 3)
    assert.equal(await check(r.tx, r.blobs), 'ACCEPT')
    records.set(toHex(r.tx.recordId), r.tx)
    // a replay of the committed add is ignored as a duplicate
    assert.equal(await check(add), 'IGNORE DUPLICATE')
  })

  it('refuses a change signed by another hospital, or by a key that is not a hospital\'s', async () => {
    assert.equal(await check(sign(m0, { type: 'doctor', action: 'revoke', hospital: h(m0), doctor: ada.id.keys.id, time: 2 })), 'REJECT UNAUTHORIZED_HOSPITAL')
    assert.equal(await check(sign(ada.id, { type: 'doctor', action: 'revoke', hospital: h(ada.id), doctor: ada.id.keys.id, time: 2 })), 'REJECT UNAUTHORIZED_HOSPITAL')
    assert.equal(await check(sign(m0, { type: 'doctor', action: 'revoke', hospital: h(m1), doctor: ada.id.keys.id, time: 2 })), 'REJECT BAD_SIGNATURE')
  })

  it('after a rotation the old key is refused, the new one writes, and the rotated doctor grants on its old record', async () => {
    const rotate = sign(m1, { type: 'doctor', action: 'rotate', hospital: h(m1), doctor: ada.id.keys.id, sigPublicKey: ada2.id.keys.sig.publicKey, kemPublicKey: ada2.id.keys.kem.publicKey, time: 3 })
    assert.equal(await check(rotate), 'ACCEPT')
    commit(rotate, 5)
    const old = ada.record(2)
    assert.equal(await check(old.tx, old.blobs), 'REJECT INACTIVE_DOCTOR')
    const r = ada2.record(3)
    assert.equal(await check(r.tx, r.blobs), 'ACCEPT')
    records.set(toHex(r.tx.recordId), r.tx)
    // a grant on the record written with the old key: by the old key refused, by the new one accepted
    const first = [...records.values()][0] as RecordTx
    const patientSecret = new Uint8Array(32).fill(1 % 5 + 1)
    const draft = { recordId: first.recordId, fields: [1], fieldKeys: deriveFieldKeys(patientSecret, first.recordId), granteeKemPublicKey: ada2.id.keys.kem.publicKey }
    assert.equal(await check(buildGrantTx(pq, ada.id.keys.sig, { ...draft, time: 10 })), 'REJECT INACTIVE_DOCTOR')
    assert.equal(await check(buildGrantTx(pq, ada2.id.keys.sig, { ...draft, time: 11 })), 'ACCEPT')
    // the owner still grants as before
    assert.equal(await check(buildGrantTx(pq, deriveRecordOwnerKey(patientSecret, first.recordId), { ...draft, time: 12 })), 'ACCEPT')
  })

  it('after a revocation the doctor\'s submissions are refused, and both earlier records still verify at their heights', async () => {
    const revoke = sign(m1, { type: 'doctor', action: 'revoke', hospital: h(m1), doctor: ada2.id.keys.id, time: 4 })
    assert.equal(await check(revoke), 'ACCEPT')
    commit(revoke, 8)
    const r = ada2.record(4)
    assert.equal(await check(r.tx, r.blobs), 'REJECT INACTIVE_DOCTOR')
    assert.equal(await check(revoke), 'IGNORE DUPLICATE', 'a replayed revocation')
    assert.equal(await check(sign(m1, { type: 'doctor', action: 'revoke', hospital: h(m1), doctor: ada2.id.keys.id, time: 5 })), 'IGNORE GOVERNANCE_CONFLICT', 'revoked already')
    const [r1, r2] = [...records.values()] as [RecordTx, RecordTx]
    // r1 was committed at a height in (3, 5], r2 in (5, 8]
    assert.equal(verifyRecordTx(pq, (id) => reg.keyAt(id, 4), r1, indexUpdatesHash(r1.indexUpdates)).ok, true)
    assert.equal(verifyRecordTx(pq, (id) => reg.keyAt(id, 7), r2, indexUpdatesHash(r2.indexUpdates)).ok, true)
    assert.equal(verifyRecordTx(pq, (id) => reg.keyAt(id, 9), r2, indexUpdatesHash(r2.indexUpdates)).ok, false, 'not at a height after the revocation')
  })

  it('admission refuses a doctor or user node over its hospital\'s cap (IGNORE GOVERNANCE_CONFLICT: it may apply after a revocation)', async () => {
    const capped = new Registry(files.genesis, pq, undefined, { doctorsPerHospital: 1, userNodesPerHospital: 1 })
    const saved = reg
    reg = capped
    try {
      // manager-0 holds the devnet's genesis doctor: at its cap of 1
      const add = sign(m0, { type: 'doctor', action: 'add', hospital: h(m0), doctor: ada.id.keys.id, name: 'Dr. Ada', sigPublicKey: ada.id.keys.sig.publicKey, kemPublicKey: ada.id.keys.kem.publicKey, time: 20 })
      assert.equal(await check(add), 'IGNORE GOVERNANCE_CONFLICT')
      const d = decodeSubmission(encodeSubmission(add, []))
      const v = d.verdict === 'ACCEPT' ? await validateSubmission(d.value, ctx()) : d
      assert.match(v.verdict === 'ACCEPT' ? '' : v.reason, /MAX_ACTIVE_DOCTORS_PER_HOSPITAL 1/)
      const peer = (c: string): string => `12D3KooWGRUVh7hS8aS3dVcjYnVMjKMbXu5yYsDmjymnWNEi3D${c}`
      const node = (c: string): GovernanceTx => sign(m1, { type: 'user-node', action: 'add', hospital: h(m1), peerId: peer(c), time: 21 })
      assert.equal(await check(node('c4')), 'ACCEPT')
      capped.applyTx(node('c4'), 9)
      assert.equal(await check(node('c5')), 'IGNORE GOVERNANCE_CONFLICT')
    } finally { reg = saved }
  })
})
