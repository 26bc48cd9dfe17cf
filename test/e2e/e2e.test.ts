import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { JSONRPCClient, JSONRPCErrorException, type JSONRPCResponse } from 'json-rpc-2.0'
import {
  consortiumWriters, Doctor, newClientIdentity, parseRecordInput, Patient, RpcCallError, RpcClient, trustFromGenesis, unb64, unhex, verifyRecordAnswer,
  type RecordInput
} from '../../src/client/index.js'
import { randomBytes, toHex } from '../../src/crypto/index.js'
import { genesisToJson } from '../../src/node/genesis.js'
import type { RpcBackend } from '../../src/rpc/index.js'
import { corruptBlob } from '../node/helpers.js'
import { startTestNetwork, type TestNetwork } from './network.js'

const run = promisify(execFile)

function jsonRpc (url: string): JSONRPCClient {
  const client: JSONRPCClient = new JSONRPCClient(async (request) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) })
    if (res.status === 200) client.receive(await res.json() as JSONRPCResponse | JSONRPCResponse[])
    else if (res.status !== 204) throw new Error(`HTTP ${res.status}`)
  })
  return client
}

const input = (disease: string, symptoms: string[], fileType: string, birthYear: number): RecordInput =>
  parseRecordInput({ personalInfo: { name: `patient born ${birthYear}` }, disease, symptoms, prescriptions: [`drug for ${disease}`], fileType, birthYear })

describe('e2e: SDK and CLI over JSON-RPC against an in-process network (4 managers + 1 user node)', function () {
  this.timeout(60_000)
  let net: TestNetwork
  let rpc: RpcClient
  let doctor: Doctor
  let patient: Patient
  const records: Record<string, string> = {}

  before(async () => {
    net = await startTestNetwork(3)
    rpc = new RpcClient(net.userUrl)
    doctor = Doctor.fromIdentity(net.pq, net.files.doctors[0] as never, { consortiumKey: net.consortiumKey })
    patient = Patient.fromIdentity(net.pq, newClientIdentity('Ana Silva', 'patient'))
  })
  after(async () => { await net?.stop() })

  const submit = async (p: Patient, rec: RecordInput, d = doctor): Promise<string> => {
    const recordId = p.newRecordId()
    const cip0 = p.keyTransfer(recordId, rec.personalInfo, d.kemPublicKey)
    const s = await d.submitRecord(rpc, d.openKeyTransfer(cip0, { recordId, patientId: p.id }), rec)
    assert.equal(s.result.status, 'committed')
    return s.recordId
  }

  describe('raw JSON-RPC 2.0 (json-rpc-2.0 client)', () => {
    it('batch, notification, -32601 and -32602', async () => {
      const c = jsonRpc(net.userUrl)
      const rs = await c.requestAdvanced([
        { jsonrpc: '2.0', id: 1, method: 'node_info', params: {} },
        { jsonrpc: '2.0', id: 2, method: 'chain_status', params: [] },
        { jsonrpc: '2.0', id: 3, method: 'ehr_getRecord', params: { recordId: 'not-hex' } }
      ])
      const byId = new Map(rs.map((r) => [r.id, r]))
      assert.equal((byId.get(1)?.result as { role: string }).role, 'user')
      assert.equal(typeof (byId.get(2)?.result as { height: number }).height, 'number')
      assert.equal(byId.get(3)?.error?.code, -32602)
      c.notify('chain_status', {}) // a notification gets no answer (HTTP 204)
      await assert.rejects(async () => await c.request('ehr_noSuchMethod', {}), (e: unknown) => e instanceof JSONRPCErrorException && e.code === -32601)
      await assert.rejects(async () => await c.request('chain_getHeader', { height: -1 }), (e: unknown) => e instanceof JSONRPCErrorException && e.code === -32602)
      await assert.rejects(async () => await c.request('ehr_getRecord', { recordId: 'ab'.repeat(32) }), (e: unknown) => e instanceof JSONRPCErrorException && e.code === -32001)
    })
  })

  describe('SDK flows', () => {
    it('enrolls a patient (self-signed patient tx) and publishes its keys', async () => {
      const r = await patient.enroll(rpc)
      assert.equal(r.status, 'committed')
      const p = await rpc.getPatient(patient.id)
      assert.deepEqual(unb64(p.kemPublicKey), patient.kemPublicKey)
      assert.equal((await patient.enroll(rpc)).status, 'already-enrolled')
    })

    it('submit → committed → get → decrypt (patient) → verify valid on the node and on the client', async () => {
      records.a = await submit(patient, input('influenza', ['fever', 'myalgia'], 'consultation-note', 1984))
      const id = unb64(Buffer.from(records.a, 'hex').toString('base64'))
      const r = await patient.readRecord(rpc, id)
      assert.equal(r.access, 'owner')
      assert.equal(r.record.verifiedBy, 'user-node')
      assert.deepEqual(r.fields.symptoms, { disease: 'influenza', symptoms: ['fever', 'myalgia'], fileType: 'consultation-note' })
      assert.deepEqual((r.fields.personalInfo as { birthYear: number }).birthYear, 1984)
      const v = await rpc.verifyRecord(id)
      assert.equal(v.valid, true)
      // a manager's answer carries its certificate: full client-side check with the genesis keys
      const trust = trustFromGenesis(JSON.parse(genesisToJson(net.files.genesis)))
      const local = verifyRecordAnswer(net.pq, await new RpcClient(net.urls[1] as string).getRecord(id), trust)
      assert.deepEqual(local.checks, { headerHash: true, ciphertextHashes: [true, true, true], inclusion: true, signature: true, doctorRegistered: true, certificate: true })
    })

    it('a tampered ciphertext on one manager is never served: that manager detects it on read and answers with a copy repaired from its peers', async () => {
      const id = await submit(patient, input('asthma', ['wheezing'], 'lab-report', 1990))
      records.b = id
      const idb = Buffer.from(id, 'hex')
      const rec = await rpc.getRecord(idb)
      const symptomsHash = Buffer.from(rec.tx.fields[1] as string, 'hex')
      const m0 = net.nodes[0]?.manager
      assert.ok(m0)
      await corruptBlob(m0.blobs, symptomsHash, new Uint8Array([1, 2, 3]))
      const v0 = await new RpcClient(net.urls[0] as string).verifyRecord(idb)
      assert.equal(v0.valid, true)
      assert.deepEqual(v0.checks.ciphertextHashes, [true, true, true])
      // the client's own re-verification of manager 0's raw answer passes too
      assert.equal(verifyRecordAnswer(net.pq, await new RpcClient(net.urls[0] as string).getRecord(idb)).valid, true)
      // every read through the user node verifies, and no manager is distrusted
      const peer0 = net.nodes[0]?.peerId as string
      for (let i = 0; i < 4; i++) {
        const r = await patient.readRecord(rpc, idb)
        assert.deepEqual(r.fields.symptoms, { disease: 'asthma', symptoms: ['wheezing'], fileType: 'lab-report' })
        assert.equal((await rpc.verifyRecord(idb)).valid, true)
      }
      assert.ok(!net.userWarnings.some((w) => w.includes(peer0) && w.includes('failed verification')), net.userWarnings.join('\n'))
    })

    it('index 2: a search returns exactly the matching records, verified, nothing omitted', async () => {
      records.c = await submit(patient, input('influenza', ['cough'], 'lab-report', 1950))
      const other = Patient.fromIdentity(net.pq, newClientIdentity('Ben Lee', 'patient'))
      records.d = await submit(other, input('migraine', ['headache', 'fever'], 'consultation-note', 1977))
      const writers = consortiumWriters(net.consortiumFile)
      const ids = async (q: Parameters<Doctor['search']>[1]): Promise<string[]> => {
        const r = await doctor.search(rpc, q, writers)
        assert.deepEqual(r.omitted, []); assert.deepEqual(r.forged, [])
        return r.matches.map((m) => m.recordId).sort()
      }
      assert.deepEqual(await ids({ keywords: ['Influenza'] }), [records.a, records.c].sort())
      assert.deepEqual(await ids({ keywords: ['fever'] }), [records.a, records.d].sort())
      assert.deepEqual(await ids({ keywords: ['influenza'], fileType: 'lab-report' }), [records.c])
      assert.deepEqual(await ids({ keywords: ['fever'], birthYears: { from: 1970, to: 1980 } }), [records.d])
      assert.deepEqual(await ids({ birthYears: { from: 1940, to: 1991 } }), [records.a, records.b, records.c, records.d].sort())
      assert.deepEqual(await ids({ keywords: ['nothing-like-this'] }), [])
    })

    it('index 1: the patient lists exactly its own records (counters recovered from the node)', async () => {
      const r = await patient.listRecords(rpc, consortiumWriters(net.consortiumFile))
      assert.deepEqual(r.recordIds.sort(), [records.a, records.b, records.c].sort())
      assert.deepEqual(r.search.omitted, [])
    })

    it('an omitted result is detected (a node answering with one entry removed)', async () => {
      const honest = net.backends[4] as RpcBackend
      const lying: RpcBackend = { ...honest, search: async (t, c, l) => { const page = await honest.search(t, c, l); return { ...page, entries: page.entries.slice(1) } } }
      const url = await net.serve(lying)
      const r = await doctor.search(new RpcClient(url), { keywords: ['influenza'] }, consortiumWriters(net.consortiumFile))
      assert.equal(r.omitted.length, 1)
      assert.equal(r.omitted[0]?.term, 'kw:influenza')
      assert.equal(r.matches.length, 1)
    })

    it('rejects an unregistered doctor (-32011) and a replayed submission (-32013); nothing is stored', async () => {
      const rogue = Doctor.fromIdentity(net.pq, newClientIdentity('rogue', 'doctor'), { consortiumKey: net.consortiumKey })
      const recordId = patient.newRecordId()
      const handoff = rogue.openKeyTransfer(patient.keyTransfer(recordId, {}, rogue.kemPublicKey))
      const before = rogue.counters.encode()
      await assert.rejects(rogue.submitRecord(rpc, handoff, input('influenza', ['fever'], 'lab-report', 1984)), (e: unknown) => e instanceof RpcCallError && e.rpcCode === -32011)
      assert.deepEqual(rogue.counters.encode(), before, 'counters of a rejected submission are rolled back')
      for (const url of net.urls) await assert.rejects(new RpcClient(url).getRecord(recordId), (e: unknown) => e instanceof RpcCallError && e.rpcCode === -32001)

      // the exact committed submission again (a replay) is refused with -32013, and nothing is stored twice ...
      const original = await rpc.getRecord(Buffer.from(records.a as string, 'hex'))
      const { encodeSubmission } = await import('../../src/blocks/index.js')
      const { recordTxFromJson } = await import('../../src/client/index.js')
      await assert.rejects(rpc.submitRecord(encodeSubmission(recordTxFromJson(original.tx), original.ciphertexts.map(unb64))), (e: unknown) => e instanceof RpcCallError && e.rpcCode === -32013)
      // ... and a replay of the record id in a new, validly signed tx is rejected as DUPLICATE
      const replayId = patient.newRecordId()
      const ho = doctor.openKeyTransfer(patient.keyTransfer(replayId, {}, doctor.kemPublicKey))
      await doctor.submitRecord(rpc, ho, input('covid-19', ['anosmia'], 'lab-report', 2001))
      const counters = doctor.counters.encode()
      await assert.rejects(doctor.submitRecord(rpc, ho, input('covid-19', ['anosmia'], 'lab-report', 2001), { time: Date.now() + 1 }), (e: unknown) => e instanceof RpcCallError && e.rpcCode === -32013)
      assert.deepEqual(doctor.counters.encode(), counters)
      const replayed = toHex(replayId)
      const head = (await new RpcClient(net.urls[1] as string).chainStatus()).height
      let copies = 0
      for (let h = 1; h <= head; h++) copies += (await new RpcClient(net.urls[1] as string).getBlock(h)).header.recordIds.filter((x) => x === records.a || x === replayed).length
      assert.equal(copies, 2, 'one copy each of the resubmitted and the replayed record')
    })

    it('grants per field: the grantee decrypts only the granted fields; others get nothing', async () => {
      const id = Buffer.from(records.a as string, 'hex')
      const grantee = Doctor.fromIdentity(net.pq, net.files.doctors[2] as never)
      const g = await patient.grant(rpc, id, [1, 2], grantee.kemPublicKey)
      assert.equal(g.status, 'committed')
      const r = await grantee.readRecord(rpc, id)
      assert.equal(r.access, 'grant')
      assert.deepEqual(Object.keys(r.fields).sort(), ['prescriptions', 'symptoms'])
      assert.deepEqual(r.fields.prescriptions, { prescriptions: ['drug for influenza'] })
      const grants = await rpc.listGrants(id)
      assert.equal(grants.length, 1)
      assert.deepEqual(grants[0]?.tx.fields, [1, 2])
      const stranger = Doctor.fromIdentity(net.pq, net.files.doctors[1] as never)
      assert.equal((await stranger.readRecord(rpc, id)).access, 'none')
      await assert.rejects(patient.grant(rpc, id, [5], grantee.kemPublicKey), (e: unknown) => (e as { code?: string }).code === 'BAD_INPUT')
    })
  })

  describe('CLI (node bin/pqmed.js as child processes)', () => {
    interface Out { code: number, stdout: string, stderr: string, json: unknown }
    const cli = async (...args: string[]): Promise<Out> => {
      try {
        const r = await run(process.execPath, ['bin/pqmed.js', ...args, '--rpc', net.userUrl], { cwd: process.cwd(), timeout: 60_000 })
        return { code: 0, stdout: r.stdout, stderr: r.stderr, json: args.includes('--json') ? JSON.parse(r.stdout.trim().split('\n').pop() as string) : undefined }
      } catch (err) {
        const e = err as { code?: number, stdout: string, stderr: string }
        let json: unknown
        try { json = JSON.parse(e.stdout.trim().split('\n').pop() as string) } catch { json = undefined }
        return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout, stderr: e.stderr, json }
      }
    }
    const fixture = (n: string): string => new URL(`../client/fixtures/${n}`, import.meta.url).pathname
    let state: string
    let patientFile: string
    const ids: string[] = []

    before(async () => {
      state = join(net.dir, 'cli-state')
      patientFile = join(net.dir, 'rosa.json')
    })

    it('enroll, record submit (JSON and FHIR), record get --decrypt, record verify, file verify, search', async () => {
      const ck = join(net.dir, 'consortium-key.json')
      const doc = join(net.dir, 'doctor-1.json')
      const e = await cli('enroll', '--name', 'Rosa Okafor', '--out', patientFile, '--json')
      assert.equal(e.code, 0, e.stderr)
      assert.equal((e.json as { status: string }).status, 'committed')

      for (const f of ['record.json', 'bundle.json']) {
        const s = await cli('record', 'submit', '--doctor', doc, '--patient', patientFile, '--input', fixture(f), '--consortium-key', ck, '--state', state, '--json')
        assert.equal(s.code, 0, s.stderr)
        assert.equal((s.json as { status: string }).status, 'committed')
        ids.push((s.json as { recordId: string }).recordId)
      }
      const cipDir = join(net.dir, 'cips')
      const [g, v, sr, sr2, human] = await Promise.all([
        cli('record', 'get', ids[1] as string, '--decrypt', '--as', patientFile, '--json'),
        cli('record', 'verify', ids[0] as string, '--genesis', join(net.dir, 'genesis.json'), '--json'),
        cli('search', 'headache', '--doctor', doc, '--consortium-key', ck, '--state', state, '--json'),
        cli('search', 'headache', '--type', 'fhir-bundle', '--born', '1960-1965', '--doctor', doc, '--consortium-key', ck, '--state', state, '--json'),
        cli('record', 'get', ids[0] as string, '--save-ciphertexts', cipDir)
      ])
      assert.equal(g.code, 0, g.stderr)
      const fields = (g.json as { fields: Record<string, unknown> }).fields
      // a FHIR import also keeps the birth date, the Patient reference and the coded medications (test/fhir/)
      assert.deepEqual(fields.personalInfo, { name: 'Rosa Okafor', birthYear: 1962, sex: 'female', birthDate: '1962-04-17', fhirPatient: 'Patient/p1' })
      assert.deepEqual((fields.prescriptions as { prescriptions: string[] }).prescriptions, ['amlodipine 5 mg once daily'])
      assert.equal(v.code, 0, v.stderr)
      assert.equal((v.json as { valid: boolean }).valid, true)
      assert.equal(sr.code, 0, sr.stderr)
      // a search recovers every index counter from the node first: it finds the records this state
      // wrote and also those doctor-1 wrote through the SDK above, each verified, none omitted
      const found = (sr.json as { matches: Array<{ recordId: string }>, omitted: unknown[], forged: unknown[] })
      for (const id of ids) assert.ok(found.matches.some((m) => m.recordId === id), `${id as string} found`)
      assert.deepEqual([found.omitted, found.forged], [[], []])
      assert.deepEqual((sr2.json as { matches: Array<{ recordId: string }> }).matches.map((m) => m.recordId), [ids[1]])
      assert.equal(human.code, 0, human.stderr)
      assert.match(human.stdout, new RegExp(`record ${ids[0] as string} at height \\d+`))

      const cips = (await readdir(cipDir)).sort()
      assert.equal(cips.length, 3)
      const fv = await cli('file', 'verify', join(cipDir, cips[1] as string), '--json')
      assert.equal(fv.code, 0, fv.stderr)
      assert.deepEqual({ ...(fv.json as object), height: undefined, sha256: undefined, cid: undefined }, { match: true, recordId: ids[0], field: 1, height: undefined, sha256: undefined, cid: undefined })
      assert.match((fv.json as { cid: string }).cid, /^bafkrei[a-z2-7]{52}$/, 'the ciphertext\'s IPFS CID')
      const bogus = join(net.dir, 'bogus.bin')
      await writeFile(bogus, 'not a ciphertext')
      const nv = await cli('file', 'verify', bogus, '--json')
      assert.equal(nv.code, 3)
      assert.equal((nv.json as { match: boolean }).match, false)
    })

    it('grant, then the grantee decrypts only the granted fields; bad input fails with exit 2', async () => {
      const doc2 = join(net.dir, 'doctor-2.json')
      const gr = await cli('grant', ids[0] as string, '--from', patientFile, '--to', doc2, '--fields', 'symptoms', '--json')
      assert.equal(gr.code, 0, gr.stderr)
      // the record's doctor (doctor-1) writes an authorized grant wrapping junk keys: reported, not fatal
      const writer = Doctor.fromIdentity(net.pq, net.files.doctors[1] as never)
      const junk = await writer.grant(rpc, unhex(ids[0] as string), [randomBytes(32), randomBytes(32), randomBytes(32)], [1, 2], Doctor.fromIdentity(net.pq, net.files.doctors[2] as never).kemPublicKey)
      assert.equal(junk.status, 'committed')
      const [g, gh] = await Promise.all([
        cli('record', 'get', ids[0] as string, '--decrypt', '--as', doc2, '--json'),
        cli('record', 'get', ids[0] as string, '--decrypt', '--as', doc2)
      ])
      assert.equal(g.code, 0, g.stderr)
      assert.deepEqual(Object.keys((g.json as { fields: object }).fields), ['symptoms'])
      const badGrants = (g.json as { badGrants: Array<{ grantor: string, fields: number[] }> }).badGrants
      assert.deepEqual(badGrants.map((b) => [b.grantor, b.fields]), [[toHex(writer.id), [1, 2]]])
      assert.equal(gh.code, 0, gh.stderr)
      assert.match(gh.stderr, /^warning: 1 grant\(s\) addressed to doctor-2 gave no usable key: height \d+ by [0-9a-f]{64} \(the granted key does not decrypt/m)
      const [bad1, bad2, bad3] = await Promise.all([
        cli('record', 'get', 'xyz'),
        cli('search', '--doctor', join(net.dir, 'doctor-1.json')),
        cli('record', 'submit', '--doctor', join(net.dir, 'doctor-1.json'), '--patient', patientFile, '--input', join(net.dir, 'genesis.json'), '--consortium-key', join(net.dir, 'consortium-key.json'), '--state', state)
      ])
      for (const b of [bad1, bad2, bad3]) { assert.equal(b.code, 2, b.stdout + b.stderr); assert.match(b.stderr, /pqmed \w+: /) }
      const unreachable = await run(process.execPath, ['bin/pqmed.js', 'record', 'verify', 'ab'.repeat(32), '--rpc', 'http://127.0.0.1:9/']).then(() => 0, (e: { code: number }) => e.code)
      assert.equal(unreachable, 1)
      assert.ok((await readFile(patientFile, 'utf8')).includes('deviceSeed'))
    })
  })
})
