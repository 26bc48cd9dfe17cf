import assert from 'node:assert/strict'
import { buildBlock, encodeBlock, headerHash, type Tx } from '../../src/blocks/index.js'
import { loadClientIdentity, newClientIdentity } from '../../src/client/identity.js'
import { Patient } from '../../src/client/patient.js'
import { buildGrantTx } from '../../src/client/record.js'
import { kemKeygen, loadPqBackend, sha256, type KeyPair, type PqBackend } from '../../src/crypto/index.js'
import type { Value, ValidateResult } from '../../src/consensus/index.js'
import { createDevnet, type DevnetFiles } from '../../src/node/devnet.js'
import type { ManagerNode } from '../../src/node/manager.js'
import { startNode, type RunningNode } from '../../src/node/node.js'
import { deriveFieldKeys, deriveRecordOwnerKey } from '../../src/puf/index.js'
import { freePorts, tempDir, TestDoctor } from './helpers.js'

/**
 * The grant rule on the proposal path: a manager's `validateProposal` (the PBFT app port) refuses
 * a block holding a grant by anyone but the record's doctor or owner, so a faulty leader cannot
 * commit one either. One manager, in process.
 */
describe('node: validateProposal applies the grant rule', function () {
  this.timeout(60_000)
  let files: DevnetFiles
  let node: RunningNode
  let dir: { path: string, remove: () => Promise<void> }
  let pq: PqBackend
  let doctor: TestDoctor
  const patientSecret = sha256(new TextEncoder().encode('patient P of the proposal test'))
  const grantee = kemKeygen(new Uint8Array(64).fill(5))
  let recordId: Uint8Array
  let eve: KeyPair

  const manager = (): ManagerNode => { if (node.manager === undefined) throw new Error('not a manager'); return node.manager }
  /** Calls the manager's (private) proposal validation on a block of `txs` on top of its head. */
  const propose = (txs: Tx[]): ValidateResult => {
    const m = manager()
    const head = m.chain.head
    const block = buildBlock({ chainId: files.genesis.chainId, height: head.height + 1, prevHash: head.hash, time: Math.max(Date.now(), head.header.time), proposer: 0, view: 0, indexStart: head.indexNext, configHash: head.header.configHash, nextConfigHash: head.header.nextConfigHash, txs })
    const value: Value = { hash: headerHash(block.header), bytes: encodeBlock(block) }
    const port = m as unknown as { validateProposal: (height: number, value: Value, parent: Uint8Array) => ValidateResult }
    return port.validateProposal(head.height + 1, value, head.hash)
  }
  const grantBy = (key: { publicKey: Uint8Array, secretKey: Uint8Array }): Tx =>
    buildGrantTx(pq, key, { recordId, fields: [1], fieldKeys: deriveFieldKeys(patientSecret, recordId), granteeKemPublicKey: grantee.publicKey, time: Date.now() })

  before(async () => {
    pq = await loadPqBackend()
    const [port] = await freePorts(1)
    files = await createDevnet({ chainId: 'pqmed-proposal', managers: 1, doctors: 1, managerAddr: () => `/ip4/127.0.0.1/tcp/${port}`, params: { blockInterval: 50, viewChangeTimeout: 1500, heartbeatInterval: 300 } })
    dir = await tempDir('proposal')
    node = await startNode({ role: 'manager', genesis: files.genesis, dataDir: dir.path, identity: files.managers[0], listen: [`/ip4/127.0.0.1/tcp/${port}`], loopback: true })
    doctor = await TestDoctor.create(files, 0, pq)
    const s = doctor.record(1, patientSecret)
    recordId = s.tx.recordId
    assert.equal((await manager().submit(s.bytes, true)).status, 'committed')
    // Eve enrolls herself (self-signed, open to anyone): the old rule let any enrolled patient grant
    const eveFile = newClientIdentity('eve', 'patient')
    eve = loadClientIdentity(eveFile).keys.sig
    assert.equal((await manager().submit(Patient.fromIdentity(pq, eveFile).enrollment(Date.now()).bytes, true)).status, 'committed')
  })

  after(async () => {
    await node?.stop().catch(() => {})
    await dir?.remove()
  })

  it('accepts a block with the owner\'s grant and one with the doctor\'s grant', () => {
    assert.deepEqual(propose([grantBy(deriveRecordOwnerKey(patientSecret, recordId))]), { ok: true, origin: { proposer: 0, view: 0 } })
    assert.deepEqual(propose([grantBy(doctor.id.keys.sig)]), { ok: true, origin: { proposer: 0, view: 0 } })
  })

  it('refuses a block holding an enrolled stranger\'s grant (UNAUTHORIZED_GRANTOR), or one with a grantorKey that is not the grantor\'s', () => {
    const r = propose([grantBy(eve)])
    assert.equal(r.ok, false)
    assert.match((r as { reason: string }).reason, /UNAUTHORIZED_GRANTOR/)
    const good = grantBy(deriveRecordOwnerKey(patientSecret, recordId))
    const swapped = propose([{ ...good, grantorKey: eve.publicKey } as Tx])
    assert.equal(swapped.ok, false)
    assert.match((swapped as { reason: string }).reason, /UNAUTHORIZED_GRANTOR/)
  })
})
