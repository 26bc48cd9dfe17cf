import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { encodeSubmission } from '../../src/blocks/index.js'
import { loadHospital, registerDoctor, submitGovernanceTx, type Hospital } from '../../src/client/governance.js'
import { readJsonFile } from '../../src/client/state.js'
import { RpcCallError, RpcClient } from '../../src/client/rpc.js'
import { loadPqBackend, toHex, type PqBackend } from '../../src/crypto/index.js'
import { createDevnet, writeDevnet, type DevnetFiles } from '../../src/node/devnet.js'
import { loadIdentity, newIdentityFile, type IdentityFile } from '../../src/node/identity.js'
import { RPC_ERRORS, type ConsortiumStateJson, type RecordVerificationJson } from '../../src/rpc/backend.js'
import { ProcNet, rpc } from '../../src/cli/procs.js'
import { freePorts, tempDir, TestDoctor } from './helpers.js'

/**
 * Issue 14, the doctor half of "Done when", as real processes (4 managers, 1 user node admitted on
 * chain): a hospital admits the user node and adds a doctor, who writes a record, rotates its key,
 * writes another, is revoked; its next submission is refused while both records still verify
 * through the user node; a manager restarted afterwards starts with the registry intact.
 */
describe('node: governance (doctors, user nodes) across 4 managers and a user node', function () {
  this.timeout(300_000)
  const net = new ProcNet()
  let files: DevnetFiles
  let root: { path: string, remove: () => Promise<void> }
  let ports: number[]
  let pq: PqBackend
  let hospital: Hospital
  let other: Hospital
  let userFile: IdentityFile
  let userPeer: string
  const records: string[] = []

  const managerArgs = (i: number): string[] => [
    '--role', 'manager', '--genesis', join(root.path, 'genesis.json'), '--data-dir', join(root.path, `m${i}`),
    '--identity', join(root.path, 'identities', `manager-${i}.json`), '--listen', `/ip4/127.0.0.1/tcp/${ports[i]}`, '--rpc-port', '0', '--loopback', '--rpc-rate-limit', 'off'
  ]
  const url = (name: string): string => { const p = net.procs.get(name); if (p === undefined) throw new Error(`${name} not running`); return p.rpc }
  const client = (name: string): RpcClient => new RpcClient(url(name))
  const doctorFrom = async (path: string): Promise<TestDoctor> => await TestDoctor.create({ doctors: [await readJsonFile(path, 'doctor')] } as unknown as DevnetFiles, 0, pq)

  async function submit (doctor: TestDoctor, i: number, via = 'm0'): Promise<{ status: string, height?: number, recordId: string }> {
    const s = doctor.record(i)
    const r = await rpc<{ status: string, height?: number }>(url(via), 'ehr_submitRecord', { submission: Buffer.from(s.bytes).toString('base64'), wait: true })
    return { ...r, recordId: toHex(s.tx.recordId) }
  }

  /** Refused with the JSON-RPC domain code `name` (RpcClient's errors carry the name, procs' rpc the code). */
  async function refusedWith (p: Promise<unknown>, name: keyof typeof RPC_ERRORS): Promise<void> {
    await assert.rejects(p, (err: unknown) => {
      const e = err as RpcCallError & { rpcCode?: number }
      assert.equal(e.rpcCode, RPC_ERRORS[name].code, `expected ${name}, got: ${e.message}`)
      return true
    })
  }

  async function waitFor<T> (what: string, f: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      try { const v = await f(); if (v !== undefined) return v } catch (err) { if (Date.now() > deadline) throw err }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 300))
    }
  }

  before(async () => {
    pq = await loadPqBackend()
    root = await tempDir('governance')
    ports = await freePorts(4)
    files = await createDevnet({ chainId: 'pqmed-gov', managers: 4, doctors: 1, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}`, params: { blockInterval: 50, viewChangeTimeout: 1500, heartbeatInterval: 300 } })
    await writeDevnet(root.path, files)
    // a user node that genesis does not list: the managers admit it only once a hospital registers it
    userFile = newIdentityFile('user-x', 'user')
    await writeFile(join(root.path, 'user-x.json'), JSON.stringify(userFile))
    userPeer = (await loadIdentity(userFile)).peerId
    hospital = await loadHospital(join(root.path, 'identities', 'manager-1.json'))
    other = await loadHospital(join(root.path, 'identities', 'manager-2.json'))
    await Promise.all([0, 1, 2, 3].map(async (i) => await net.start({ name: `m${i}`, args: managerArgs(i) })))
    await net.start({
      name: 'u0',
      args: ['--role', 'user', '--genesis', join(root.path, 'genesis.json'), '--data-dir', join(root.path, 'u0'), '--identity', join(root.path, 'user-x.json'),
        '--listen', '/ip4/127.0.0.1/tcp/0', '--rpc-port', '0', '--loopback', '--rpc-rate-limit', 'off']
    })
  })

  afterEach(async function () {
    if (this.currentTest?.state !== 'failed') return
    for (const [name, p] of net.procs) console.error(`--- ${name}\n${p.stderr.join('').slice(-3000)}`)
  })

  after(async () => {
    await net.stopAll()
    await root?.remove()
  })

  it('admits a user node registered on chain, then the doctor lifecycle holds', async () => {
    // not admitted yet: the user node reaches no manager
    const status0 = await rpc<{ height: number }>(url('u0'), 'chain_status').catch(() => undefined)
    assert.ok(status0 === undefined || status0.height === 0)
    const admitted = await submitGovernanceTx(pq, client('m0'), hospital, { type: 'user-node', action: 'add', hospital: hospital.id, peerId: userPeer, time: Date.now() })
    assert.equal(admitted.status, 'committed')

    // a doctor is added by hospital 1 and writes a record
    const d1Path = join(root.path, 'ada.json')
    const added = await registerDoctor(pq, client('m0'), hospital, { path: d1Path, name: 'Dr. Ada' })
    assert.equal(added.status, 'committed')
    const d1 = await doctorFrom(d1Path)
    assert.equal(toHex(d1.id.keys.id), added.doctorId)
    const r1 = await submit(d1, 1, 'm1')
    assert.equal(r1.status, 'committed')
    records.push(r1.recordId)

    // another hospital may not touch hospital 1's doctor
    await refusedWith(submitGovernanceTx(pq, client('m2'), other, { type: 'doctor', action: 'revoke', hospital: other.id, doctor: d1.id.keys.id, time: Date.now() }), 'UNAUTHORIZED_HOSPITAL')

    // the doctor rotates its key and writes again; its old key is refused
    const d2Path = join(root.path, 'ada-2.json')
    const rotated = await registerDoctor(pq, client('m3'), hospital, { path: d2Path, previous: await readJsonFile(d1Path, 'doctor') as never })
    assert.equal(rotated.status, 'committed')
    assert.equal(rotated.previous, added.doctorId)
    await refusedWith(submit(d1, 2), 'INACTIVE_DOCTOR')
    const d2 = await doctorFrom(d2Path)
    const r2 = await submit(d2, 3, 'm2')
    assert.equal(r2.status, 'committed')
    records.push(r2.recordId)

    // revoked: its next submission is refused, and a replay of the revocation too
    const revoked = await submitGovernanceTx(pq, client('m0'), hospital, { type: 'doctor', action: 'revoke', hospital: hospital.id, doctor: d2.id.keys.id, time: Date.now() })
    assert.equal(revoked.status, 'committed')
    await refusedWith(submit(d2, 4, 'm3'), 'INACTIVE_DOCTOR')
    await refusedWith(client('m1').submitGovernance(encodeSubmission(revoked.tx, [])), 'DUPLICATE')

    // both records still verify, through the user node (which now reaches the managers)
    const head = await rpc<{ height: number }>(url('m0'), 'chain_status')
    await waitFor('the user node to sync', async () => { const s = await rpc<{ height: number }>(url('u0'), 'chain_status'); return s.height >= head.height ? s : undefined })
    const statuses = ['rotated', 'revoked']
    for (const [i, id] of records.entries()) {
      const v = await rpc<RecordVerificationJson>(url('u0'), 'ehr_verifyRecord', { recordId: id })
      assert.equal(v.valid, true, JSON.stringify(v))
      assert.equal(v.doctorStatus, statuses[i])
    }
    const viaUser = await rpc<ConsortiumStateJson>(url('u0'), 'chain_getConsortium', { height: head.height })
    const viaManager = await rpc<ConsortiumStateJson>(url('m0'), 'chain_getConsortium', { height: head.height })
    assert.equal(viaUser.verifiedBy, 'user-node')
    assert.equal(viaUser.stateHash, viaManager.stateHash)
    assert.equal(viaUser.configHash, viaManager.configHash)
    const ada = viaManager.doctors.filter((d) => d.name === 'Dr. Ada')
    assert.deepEqual(ada.map((d) => [d.id, d.status]), [[added.doctorId, 'rotated'], [rotated.doctorId, 'revoked']])
    assert.deepEqual(viaManager.userNodes.map((u) => [u.peerId, u.status, u.hospital]), [[userPeer, 'active', toHex(hospital.id)]])
    // at the height the doctor was added, it was active, and the user node was already admitted
    const before = await rpc<ConsortiumStateJson>(url('m0'), 'chain_getConsortium', { height: added.height })
    assert.deepEqual(before.doctors.filter((d) => d.name === 'Dr. Ada').map((d) => d.status), ['active'])
  })

  it('a manager restarted after these changes starts with the registry intact', async () => {
    const head = await rpc<{ height: number }>(url('m0'), 'chain_status')
    const expected = await rpc<ConsortiumStateJson>(url('m0'), 'chain_getConsortium', { height: head.height })
    await net.stop('m2')
    await net.start({ name: 'm2', args: managerArgs(2) })
    const after = await rpc<ConsortiumStateJson>(url('m2'), 'chain_getConsortium', { height: head.height })
    assert.equal(after.stateHash, expected.stateHash)
    assert.deepEqual(after.doctors, expected.doctors)
    for (const id of records) assert.equal((await rpc<RecordVerificationJson>(url('m2'), 'ehr_verifyRecord', { recordId: id })).valid, true)
    // and it still refuses the revoked doctor, and still admits the registered user node
    const d2 = await doctorFrom(join(root.path, 'ada-2.json'))
    await refusedWith(submit(d2, 5, 'm2'), 'INACTIVE_DOCTOR')
    const peers = await rpc<Array<{ peerId: string }>>(url('m2'), 'net_peers')
    await waitFor('the user node to reconnect to the restarted manager', async () => {
      const ps = await rpc<Array<{ peerId: string }>>(url('m2'), 'net_peers')
      return ps.some((p) => p.peerId === userPeer) ? ps : undefined
    }, 30_000)
    assert.ok(Array.isArray(peers))
  })
})
