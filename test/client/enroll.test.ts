/**
 * `enrollNewIdentity` / `enrollExistingIdentity` against a test-double JSON-RPC server (the real
 * RPC server over a scripted backend): the identity file appears only after a confirmed
 * registration, a refused or unreachable one leaves nothing, a sent-but-unconfirmed one keeps
 * the file (UNCONFIRMED), and registering an existing identity is idempotent, also while an
 * earlier enrollment of it is still pending.
 */
import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { decodeTx } from '../../src/blocks/index.js'
import { ClientError, enrollExistingIdentity, enrollNewIdentity, newClientIdentity, RpcCallError, RpcClient } from '../../src/client/index.js'
import { loadPqBackend, toHex, type PqBackend } from '../../src/crypto/index.js'
import { createRpcServer, RpcDomainError, type PatientJson, type RpcBackend, type RpcServer, type SubmitResultJson } from '../../src/rpc/index.js'
import { fakeBackend } from '../rpc/fake.js'

type Registration = (patient: PatientJson) => SubmitResultJson | RpcDomainError

/** A node whose registration answer is scripted; a registration that "reaches" it (committed, or timed out after admission) enrolls the patient. */
function scriptedBackend (onRegister: Registration): RpcBackend & { enrolled: Map<string, PatientJson>, registrations: number } {
  const enrolled = new Map<string, PatientJson>()
  const self = {
    ...fakeBackend(),
    enrolled,
    registrations: 0,
    async getPatient (id: Uint8Array): Promise<PatientJson> {
      const p = enrolled.get(toHex(id))
      if (p === undefined) throw new RpcDomainError('UNKNOWN_PATIENT', 'not enrolled')
      return p
    },
    async submit (submission: Uint8Array): Promise<SubmitResultJson> {
      self.registrations++
      const tx = decodeTx(dagCbor.decode<{ tx: Uint8Array }>(submission).tx)
      if (tx.type !== 'patient') throw new RpcDomainError('INVALID_TX', 'not a patient tx')
      const p: PatientJson = { patientId: toHex(tx.patientId), sigPublicKey: Buffer.from(tx.sigPublicKey).toString('base64'), kemPublicKey: Buffer.from(tx.kemPublicKey).toString('base64'), height: 3 }
      const r = onRegister(p)
      if (r instanceof RpcDomainError) {
        if (r.rpcCode === 'NOT_COMMITTED') enrolled.set(p.patientId, p) // it commits later
        throw r
      }
      enrolled.set(p.patientId, p)
      return r
    }
  }
  return self
}

describe('client enroll: the identity file exists exactly when it may be registered', function () {
  this.timeout(60_000)
  let pq: PqBackend
  let dir: string
  const servers: RpcServer[] = []
  const serve = async (b: RpcBackend): Promise<RpcClient> => {
    const s = await createRpcServer(b, { port: 0, rateLimit: false, log: { warn: () => {} } })
    servers.push(s)
    return new RpcClient(s.url)
  }
  before(async () => { pq = await loadPqBackend() })
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'pqmed-enroll-')) })
  afterEach(async () => { await rm(dir, { recursive: true, force: true }) })
  after(async () => { for (const s of servers) await s.close() })

  it('a confirmed registration writes the file (mode 0600, nothing else in the directory)', async () => {
    const b = scriptedBackend(() => ({ status: 'committed', txHash: 'ab'.repeat(32), height: 3 }))
    const path = join(dir, 'ana.json')
    const r = await enrollNewIdentity(pq, await serve(b), { name: 'Ana', path })
    assert.equal(r.status, 'committed')
    assert.deepEqual(await readdir(dir), ['ana.json'])
    assert.equal((await stat(path)).mode & 0o777, 0o600)
    assert.equal(JSON.parse(await readFile(path, 'utf8')).name, 'Ana')
    assert.ok(b.enrolled.has(r.patientId))
  })

  it('an unreachable node or a refused registration leaves nothing', async () => {
    const path = join(dir, 'ana.json')
    await assert.rejects(enrollNewIdentity(pq, new RpcClient('http://127.0.0.1:9/'), { name: 'Ana', path }), (e: unknown) => e instanceof ClientError && e.code === 'TRANSPORT')
    const refusing = scriptedBackend(() => new RpcDomainError('INVALID_TX', 'refused'))
    await assert.rejects(enrollNewIdentity(pq, await serve(refusing), { name: 'Ana', path }), (e: unknown) => e instanceof RpcCallError && e.rpcName === 'INVALID_TX')
    assert.equal(refusing.registrations, 1)
    assert.deepEqual(await readdir(dir), [])
  })

  it('an existing file is never overwritten, and nothing is registered', async () => {
    const path = join(dir, 'ana.json')
    await writeFile(path, 'keep me')
    const b = scriptedBackend(() => ({ status: 'committed', txHash: 'ab'.repeat(32), height: 3 }))
    await assert.rejects(enrollNewIdentity(pq, await serve(b), { name: 'Ana', path }), /exists; refusing to overwrite.*--identity/)
    assert.equal(b.registrations, 0)
    assert.equal(await readFile(path, 'utf8'), 'keep me')
  })

  it('a registration sent but not confirmed keeps the file (UNCONFIRMED); enrollExistingIdentity then recognises it', async () => {
    const b = scriptedBackend(() => new RpcDomainError('NOT_COMMITTED', 'not committed in time'))
    const rpc = await serve(b)
    const path = join(dir, 'ana.json')
    await assert.rejects(enrollNewIdentity(pq, rpc, { name: 'Ana', path }), (e: unknown) => e instanceof ClientError && e.code === 'UNCONFIRMED' && /pqmed enroll --identity/.test(e.message))
    assert.deepEqual(await readdir(dir), ['ana.json'])
    const again = await enrollExistingIdentity(pq, rpc, path)
    assert.equal(again.status, 'already-enrolled')
    assert.equal(b.registrations, 1)
  })

  it('enrollExistingIdentity registers once, then answers already-enrolled; a pending earlier enrollment (DUPLICATE) is waited for', async () => {
    const path = join(dir, 'ben.json')
    await writeFile(path, JSON.stringify(newClientIdentity('Ben', 'patient')))
    const b = scriptedBackend(() => ({ status: 'committed', txHash: 'ab'.repeat(32), height: 3 }))
    const rpc = await serve(b)
    assert.equal((await enrollExistingIdentity(pq, rpc, path)).status, 'committed')
    assert.equal((await enrollExistingIdentity(pq, rpc, path)).status, 'already-enrolled')
    assert.equal(b.registrations, 1)
    // an earlier attempt is still in the mempool: the node refuses a second one, then commits the first
    const pendingPath = join(dir, 'cleo.json')
    await writeFile(pendingPath, JSON.stringify(newClientIdentity('Cleo', 'patient')))
    const pending = scriptedBackend((p) => {
      setTimeout(() => { pending.enrolled.set(p.patientId, p) }, 600)
      return new RpcDomainError('DUPLICATE', 'patient id already claimed by a pending tx')
    })
    const r = await enrollExistingIdentity(pq, await serve(pending), pendingPath)
    assert.equal(r.status, 'already-enrolled')
    // a doctor identity is refused before anything is sent
    const docPath = join(dir, 'doc.json')
    await writeFile(docPath, JSON.stringify(newClientIdentity('Dr', 'doctor')))
    await assert.rejects(enrollExistingIdentity(pq, rpc, docPath), (e: unknown) => e instanceof ClientError && e.code === 'BAD_IDENTITY')
  })
})
