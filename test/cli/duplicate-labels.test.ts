import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { openConsortiumKey, parseConsortiumKeyFile } from '../../src/client/consortium.js'
import { Doctor } from '../../src/client/doctor.js'
import { loadClientIdentity, parseClientIdentity } from '../../src/client/identity.js'
import { Patient } from '../../src/client/patient.js'
import { RpcClient, RpcCallError } from '../../src/client/rpc.js'
import { parseRecordInput } from '../../src/client/input.js'
import { loadPqBackend, sha256, toHex, type PqBackend } from '../../src/crypto/index.js'
import { BlobStore } from '../../src/node/blob-store.js'
import { rpc } from '../../src/cli/procs.js'
import { CounterState } from '../../src/sse/index.js'
import { startDevnet, type Run } from './helpers.js'

const BIN = fileURLToPath(new URL('../../bin/pqmed.js', import.meta.url))

interface CliResult { code: number, stdout: string, stderr: string }
async function cli (args: string[], cwd: string): Promise<CliResult> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

interface Status { height: number, headerHash: string }

/**
 * Issue 10, fault 1, as a careless client would cause it against `npm start`: the same doctor
 * submits twice for one patient from two client-state directories (a lost laptop). Before the
 * fix the second record repeated index labels, was committed, failed to apply on every manager and
 * killed the consortium for good. Now the client recovers its counters first; a duplicate-label
 * submission that still arrives (a client that skips recovery) is refused with -32017 and nothing
 * is stored; every manager stays healthy and restarts from its data.
 */
describe('cli: a doctor with lost client state cannot halt the chain (npm start)', function () {
  this.timeout(300_000)
  let dir: string
  let run: Run | undefined
  let pq: PqBackend
  const urls = new Map<string, string>()
  const refusedBlobs: Uint8Array[] = []

  const urlsFrom = (banner: string): void => {
    urls.clear()
    for (const m of banner.matchAll(/^ {2}(manager-\d|user-\d)\s+(http:\/\/127\.0\.0\.1:\d+\/)/gm)) urls.set(m[1] as string, m[2] as string)
  }
  const u = (): string => urls.get('user-0') as string
  const managers = (): string[] => [...urls].filter(([n]) => n.startsWith('manager-')).map(([, url]) => url)

  async function converged (): Promise<Status> {
    const deadline = Date.now() + 30_000
    for (;;) {
      const st = await Promise.all(managers().map(async (m) => await rpc<Status>(m, 'chain_status')))
      if (st.every((s) => s.height === st[0]?.height && s.headerHash === st[0]?.headerHash)) return st[0] as Status
      if (Date.now() > deadline) throw new Error(`managers do not converge: ${JSON.stringify(st)}`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }

  before(async () => {
    pq = await loadPqBackend()
    dir = await mkdtemp(join(tmpdir(), 'pqmed-duplabels-'))
    run = await startDevnet(join(dir, 'net'), ['--records', '1', '--users', '1'])
    urlsFrom(run.stdout)
    assert.equal(managers().length, 4)
  })

  after(async () => {
    await run?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('the reproduction as printed: both submissions commit, with distinct labels', async () => {
    const DIR = join(dir, 'net')
    const U = u()
    let r = await cli(['enroll', '--name', 'P', '--out', 'p.json', '--rpc', U], dir)
    assert.equal(r.code, 0, r.stderr)
    await writeFile(join(dir, 'in.json'), '{"personalInfo":{"name":"P","birthYear":1970,"sex":"male"},"disease":"flu","symptoms":["cough"],"prescriptions":["x"]}\n')
    const submit = (state: string): Promise<CliResult> => cli(['record', 'submit', '--doctor', join(DIR, 'identities/doctor-1.json'), '--patient', 'p.json', '--input', 'in.json',
      '--consortium-key', join(DIR, 'consortium-key.json'), '--state', state, '--rpc', U, '--json'], dir)
    r = await submit('s1')
    assert.equal(r.code, 0, r.stderr)
    const first = JSON.parse(r.stdout) as { recordId: string, status: string }
    r = await submit('s2')
    assert.equal(r.code, 0, r.stderr)
    const second = JSON.parse(r.stdout) as { recordId: string, status: string }
    assert.equal(first.status, 'committed')
    assert.equal(second.status, 'committed')
    await converged()
    // the two records' index entries are all distinct
    const labels = async (id: string): Promise<string[]> => (await rpc<{ tx: { indexUpdates: Array<{ label: string }> } }>(U, 'ehr_getRecord', { recordId: id })).tx.indexUpdates.map((x) => x.label)
    const a = await labels(first.recordId)
    const b = await labels(second.recordId)
    assert.equal(a.filter((l) => b.includes(l)).length, 0)
  })

  it('a duplicate-label submission from a client that skips recovery is refused with -32017 and nothing is stored', async () => {
    const DIR = join(dir, 'net')
    const doctorFile = parseClientIdentity(JSON.parse(await readFile(join(DIR, 'identities/doctor-1.json'), 'utf8')))
    const kem = loadClientIdentity(doctorFile).keys.kem.secretKey
    const consortiumKey = openConsortiumKey(pq, parseConsortiumKeyFile(JSON.parse(await readFile(join(DIR, 'consortium-key.json'), 'utf8'))), kem)
    const patient = Patient.fromIdentity(pq, JSON.parse(await readFile(join(dir, 'p.json'), 'utf8')))
    const before = await converged()
    for (const url of [u(), managers()[1] as string]) {
      const client = new RpcClient(url)
      const doctor = Doctor.fromIdentity(pq, doctorFile, { consortiumKey, counters: new CounterState() }) // lost state, no recovery
      const recordId = patient.newRecordId()
      const handoff = doctor.openKeyTransfer(patient.keyTransfer(recordId, { name: 'P', birthYear: 1970 }, doctor.kemPublicKey))
      const built = doctor.buildRecord(handoff, parseRecordInput({ personalInfo: { name: 'P', birthYear: 1970, sex: 'male' }, disease: 'flu', symptoms: ['cough'], prescriptions: ['x'] }))
      await assert.rejects(client.submitRecord(built.bytes, true), (e: unknown) => e instanceof RpcCallError && e.rpcCode === -32017 && e.rpcName === 'DUPLICATE_LABEL')
      await assert.rejects(rpc(url, 'ehr_getRecord', { recordId: toHex(recordId) }), (e: { rpcCode?: number }) => e.rpcCode === -32001)
      refusedBlobs.push(...built.blobs.map((b) => sha256(b)))
    }
    const after = await converged()
    assert.equal(after.height, before.height, 'no block for refused submissions')
  })

  it('the devnet restarts from its data; every manager is healthy and the chain continues', async () => {
    const before = await converged()
    assert.equal(await run?.stop(), 0, run?.stderr)
    // nothing of the refused submissions was stored on any manager
    for (let i = 0; i < 4; i++) {
      const blobs = await BlobStore.open(join(dir, 'net', 'nodes', `manager-${i}`, 'blobs'))
      try {
        for (const h of refusedBlobs) assert.equal(await blobs.has(h), false, `manager-${i} stored a ciphertext of a refused submission`)
      } finally { await blobs.close() }
    }
    run = await startDevnet(join(dir, 'net'), ['--records', '1', '--users', '1'])
    urlsFrom(run.stdout)
    assert.match(run.stdout, /reusing the existing chain/)
    const DIR = join(dir, 'net')
    const r = await cli(['record', 'submit', '--doctor', join(DIR, 'identities/doctor-1.json'), '--patient', 'p.json', '--input', 'in.json',
      '--consortium-key', join(DIR, 'consortium-key.json'), '--state', 's3', '--rpc', u(), '--json'], dir)
    assert.equal(r.code, 0, r.stderr)
    const after = await converged()
    assert.ok(after.height > before.height)
  })
})
