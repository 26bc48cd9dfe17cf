import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Doctor, newClientIdentity, parseRecordInput, Patient, RpcCallError, RpcClient, trustFromGenesis, type TrustAnchors } from '../../src/client/index.js'
import { loadClientIdentity } from '../../src/client/identity.js'
import { buildGrantTx } from '../../src/client/record.js'
import { encodeSubmission } from '../../src/blocks/index.js'
import { loadPqBackend, randomBytes, toHex, type PqBackend } from '../../src/crypto/index.js'
import { createDevnet, writeDevnet, type DevnetFiles } from '../../src/node/devnet.js'
import { genesisToJson } from '../../src/node/genesis.js'
import { ProcNet, rpc } from '../../src/cli/procs.js'
import { freePorts, tempDir } from './helpers.js'

interface Status { height: number, headerHash: string }

/**
 * Issue 10 item 2 as real processes: 4 managers + 1 user node. A freshly enrolled stranger ("Eve")
 * cannot grant on patient P's record (-32016, nothing stored); the record's doctor can write a
 * junk grant, which the reader reports while P's real grant still decrypts; after every manager
 * restarts from its data dir the chain goes on and the read still works.
 */
describe('node: only a record\'s doctor or owner may grant (4 managers + 1 user node, processes)', function () {
  this.timeout(180_000)
  const net = new ProcNet()
  let root: { path: string, remove: () => Promise<void> }
  let ports: number[]
  let files: DevnetFiles
  let pq: PqBackend
  let trust: TrustAnchors
  let client: RpcClient
  let doctor: Doctor // writes P's record (doctor-0)
  let reader: Doctor // the grantee ("doctor-2" in the issue; doctor-1 here)
  let patient: Patient
  let eveFile: ReturnType<typeof newClientIdentity>
  let recordId: Uint8Array
  let fieldKeysOfRecord: Parameters<Doctor['grant']>[2]
  const consortiumKey = new Uint8Array(32).fill(7)

  const managerArgs = (i: number): string[] => [
    '--role', 'manager', '--genesis', join(root.path, 'genesis.json'), '--data-dir', join(root.path, `m${i}`),
    '--identity', join(root.path, 'identities', `manager-${i}.json`), '--listen', `/ip4/127.0.0.1/tcp/${ports[i]}`, '--rpc-port', '0', '--loopback'
  ]
  const userUrl = (): string => { const p = net.procs.get('u0'); if (p === undefined) throw new Error('u0 not running'); return p.rpc }
  const input = parseRecordInput({ personalInfo: { name: 'P. Patient', birthYear: 1971 }, disease: 'asthma', symptoms: ['wheezing', 'cough'], prescriptions: ['salbutamol 100 µg prn'], fileType: 'consultation-note' })

  async function submitRecord (): Promise<Uint8Array> {
    const id = patient.newRecordId()
    const handoff = doctor.openKeyTransfer(patient.keyTransfer(id, input.personalInfo, doctor.kemPublicKey), { recordId: id, patientId: patient.id })
    const s = await doctor.submitRecord(client, handoff, input)
    assert.equal(s.result.status, 'committed')
    fieldKeysOfRecord = handoff.fieldKeys
    return id
  }

  before(async () => {
    pq = await loadPqBackend()
    root = await tempDir('grants')
    ports = await freePorts(4)
    files = await createDevnet({ chainId: 'pqmed-grants', managers: 4, doctors: 2, users: 1, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}`, params: { blockInterval: 50, viewChangeTimeout: 1500, heartbeatInterval: 300 } })
    await writeDevnet(root.path, files)
    trust = trustFromGenesis(JSON.parse(genesisToJson(files.genesis)))
    await Promise.all([0, 1, 2, 3].map(async (i) => await net.start({ name: `m${i}`, args: managerArgs(i) })))
    await net.start({ name: 'u0', args: ['--role', 'user', '--genesis', join(root.path, 'genesis.json'), '--data-dir', join(root.path, 'u0'), '--identity', join(root.path, 'identities', 'user-0.json'), '--listen', '/ip4/127.0.0.1/tcp/0', '--rpc-port', '0', '--loopback'] })
    client = new RpcClient(userUrl())
    doctor = Doctor.fromIdentity(pq, files.doctors[0] as never, { consortiumKey })
    reader = Doctor.fromIdentity(pq, files.doctors[1] as never)
    patient = Patient.fromIdentity(pq, newClientIdentity('P', 'patient'))
    eveFile = newClientIdentity('Eve', 'patient')
  })

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return
    for (const [name, p] of net.procs) console.error(`--- ${name}\n${p.stderr.join('').slice(-3000)}`)
  })

  after(async () => {
    await net.stopAll()
    await root?.remove()
  })

  it('a freshly enrolled stranger cannot grant on P\'s record: -32016 and nothing is stored', async () => {
    await patient.enroll(client)
    recordId = await submitRecord()
    const eve = Patient.fromIdentity(pq, eveFile)
    assert.equal((await eve.enroll(client)).status, 'committed')
    // Eve's "owner key" for this record id (derived from her own secret) does not own it
    await assert.rejects(eve.grant(client, recordId, [1, 2], reader.kemPublicKey), (e: unknown) => e instanceof RpcCallError && e.rpcCode === -32016 && e.rpcName === 'UNAUTHORIZED_GRANTOR')
    // nor does her enrolled identity key (the old "enrolled patient may grant" path), with junk keys
    const junk: [Uint8Array, Uint8Array, Uint8Array] = [randomBytes(32), randomBytes(32), randomBytes(32)]
    const byIdentity = buildGrantTx(pq, loadClientIdentity(eveFile).keys.sig, { recordId, fields: [1, 2], fieldKeys: junk, granteeKemPublicKey: reader.kemPublicKey, time: Date.now() })
    await assert.rejects(client.grantAccess(encodeSubmission(byIdentity, []), true), (e: unknown) => e instanceof RpcCallError && e.rpcCode === -32016)
    assert.deepEqual(await client.listGrants(recordId), [])
  })

  it('the doctor\'s junk grant is reported, P\'s real grant decrypts', async () => {
    const junk: [Uint8Array, Uint8Array, Uint8Array] = [randomBytes(32), randomBytes(32), randomBytes(32)]
    const bad = await doctor.grant(client, recordId, junk, [1, 2], reader.kemPublicKey)
    assert.equal(bad.status, 'committed')
    const good = await patient.grant(client, recordId, [1, 2], reader.kemPublicKey)
    assert.equal(good.status, 'committed')
    // the user node asks any manager: one that has not applied the last commit yet answers with
    // fewer grants for a moment (reads through different managers are not read-your-writes)
    let grants = await client.listGrants(recordId)
    for (let t = 0; t < 100 && grants.length < 2; t++) { await new Promise((r) => setTimeout(r, 100)); grants = await client.listGrants(recordId) }
    assert.deepEqual(grants.map((g) => g.tx.grantor), [toHex(doctor.id), toHex(patient.ownerId(recordId))])
    const r = await reader.readRecord(client, recordId, trust)
    assert.equal(r.access, 'grant')
    assert.deepEqual(r.fields.symptoms, { disease: 'asthma', symptoms: ['wheezing', 'cough'], fileType: 'consultation-note' })
    assert.deepEqual(r.fields.prescriptions, { prescriptions: ['salbutamol 100 µg prn'] })
    assert.equal(r.fields.personalInfo, undefined)
    assert.equal(r.badGrants.length, 1)
    assert.equal(r.badGrants[0]?.grantor, toHex(doctor.id))
    assert.deepEqual(r.badGrants[0]?.fields, [1, 2])
    // the doctor's grant with the right keys is fine too
    assert.equal((await doctor.grant(client, recordId, fieldKeysOfRecord, [0], reader.kemPublicKey)).status, 'committed')
    for (let t = 0; t < 100 && (await client.listGrants(recordId)).length < 3; t++) await new Promise((r) => setTimeout(r, 100))
    const again = await reader.readRecord(client, recordId, trust)
    assert.deepEqual(again.fields.personalInfo, { name: 'P. Patient', birthYear: 1971 })
    assert.equal(again.badGrants.length, 1)
  })

  it('after every manager restarts from its data dir, a new record commits and the read still works', async () => {
    const before = await rpc<Status>(net.procs.get('m0')?.rpc ?? '', 'chain_status')
    const codes = await Promise.all([0, 1, 2, 3].map(async (i) => await net.stop(`m${i}`)))
    assert.deepEqual(codes, [0, 0, 0, 0], 'every manager exits cleanly on SIGTERM')
    await Promise.all([0, 1, 2, 3].map(async (i) => await net.start({ name: `m${i}`, args: managerArgs(i) })))
    const after = await rpc<Status>(net.procs.get('m0')?.rpc ?? '', 'chain_status')
    assert.equal(after.height, before.height, 'the chain is kept across the restart')
    // the user node reconnects; the new record commits through it
    const deadline = Date.now() + 60_000
    let next: Uint8Array | undefined
    while (next === undefined) {
      try { next = await submitRecord() } catch (err) {
        if (Date.now() > deadline) throw err
        await new Promise((r) => setTimeout(r, 500))
      }
    }
    // committed at a quorum; m0 applies it too (on a loaded machine possibly a moment later)
    let height = before.height
    for (let t = 0; t < 150 && height <= before.height; t++) {
      height = (await rpc<Status>(net.procs.get('m0')?.rpc ?? '', 'chain_status')).height
      if (height <= before.height) await new Promise((r) => setTimeout(r, 200))
    }
    assert.ok(height > before.height, `m0 applied the new block (height ${height}, before ${before.height})`)
    const r = await reader.readRecord(client, recordId, trust)
    assert.deepEqual(r.fields.symptoms, { disease: 'asthma', symptoms: ['wheezing', 'cough'], fileType: 'consultation-note' })
    assert.equal(r.badGrants.length, 1)
    // the restarted managers rebuilt who owns the record: the owner's grant commits (proposal path), Eve is still refused
    assert.equal((await patient.grant(client, recordId, [0], reader.kemPublicKey)).status, 'committed')
    await assert.rejects(Patient.fromIdentity(pq, eveFile).grant(client, recordId, [1], reader.kemPublicKey), (e: unknown) => e instanceof RpcCallError && e.rpcCode === -32016)
  })
})
