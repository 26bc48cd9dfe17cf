/**
 * FHIR without loss, and the local FHIR gateway, against a real network (4 managers and a user
 * node on loopback, random ports; `pqmed` run as child processes):
 * - `record submit --input BUNDLE` keeps the bundle as attachment 0; `record get --decrypt --fhir`
 *   prints it back byte for byte; `file verify` recognizes its ciphertext;
 * - a search by `system|code`, by the bare code and by display text finds the record;
 * - invalid bundles and a bundle over the submission limit are refused, naming what is wrong, and
 *   nothing is submitted;
 * - `pqmed fhir-gateway` answers a FHIR client library (fhir-kit-client): CapabilityStatement,
 *   read, token / reference / date searches with paging, a transaction, OperationOutcomes.
 */
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Client } from 'fhir-kit-client'
import { startTestNetwork, type TestNetwork } from '../e2e/network.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const FIX = (name: string): string => fileURLToPath(new URL(`../fixtures/fhir/${name}`, import.meta.url))

interface Out { code: number, stdout: Buffer, stderr: string }

/** `node bin/pqmed.js ARGS`, stdout as bytes. */
async function pqmed (...args: string[]): Promise<Out> {
  return await new Promise((resolve) => {
    execFile(process.execPath, ['bin/pqmed.js', ...args], { cwd: ROOT, timeout: 300_000, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1
      resolve({ code, stdout, stderr: stderr.toString() })
    })
  })
}
const json = (o: Out): Record<string, unknown> => JSON.parse(o.stdout.toString().trim().split('\n').pop() as string) as Record<string, unknown>

describe('fhir: lossless import and the FHIR gateway on a real network', function () {
  this.timeout(1_200_000)
  let net: TestNetwork
  let work: string
  let rpc: string[]
  const children: ChildProcess[] = []
  let doctor0: string
  let doctor1: string
  let ck: string
  let genesis: string
  const ids: Record<string, string> = {}

  const submit = async (patient: string, input: string): Promise<Out> =>
    await pqmed('record', 'submit', '--doctor', doctor0, '--patient', patient, '--input', input, '--consortium-key', ck, '--state', join(work, 'state0'), '--json', ...rpc)
  const recordCount = async (patient: string): Promise<number> => {
    const r = await pqmed('record', 'list', '--as', patient, '--consortium-key', ck, '--json', ...rpc)
    assert.equal(r.code, 0, r.stderr)
    return (json(r).recordIds as string[]).length
  }
  const search = async (...terms: string[]): Promise<string[]> => {
    const r = await pqmed('search', ...terms, '--doctor', doctor1, '--consortium-key', ck, '--state', join(work, 'state1'), '--json', ...rpc)
    assert.equal(r.code, 0, r.stderr)
    return (json(r).matches as Array<{ recordId: string }>).map((m) => m.recordId)
  }

  before(async () => {
    net = await startTestNetwork(2)
    work = await mkdtemp(join(tmpdir(), 'pqmed-fhir-'))
    rpc = ['--rpc', net.userUrl]
    doctor0 = join(net.dir, 'doctor-0.json')
    doctor1 = join(net.dir, 'doctor-1.json')
    ck = join(net.dir, 'consortium-key.json')
    genesis = join(net.dir, 'genesis.json')
    for (const [who, name] of [['rosa', 'Rosa Okafor'], ['jonas', 'Jonas Berg'], ['ana', 'Ana Lima']]) {
      const r = await pqmed('enroll', '--name', name as string, '--out', join(work, `${who as string}.json`), ...rpc)
      assert.equal(r.code, 0, r.stderr)
    }
  })
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    await net?.stop()
    if (work !== undefined) await rm(work, { recursive: true, force: true })
  })

  it('round trip: each bundle comes back byte-exact; file verify recognizes the bundle\'s ciphertext', async () => {
    for (const [name, who] of [['collection-typeid.json', 'rosa'], ['synthea-like.json', 'rosa'], ['contained-medication.json', 'ana']] as const) {
      const s = await submit(join(work, `${who}.json`), FIX(name))
      assert.equal(s.code, 0, s.stderr)
      const out = json(s)
      assert.equal(out.status, 'committed')
      assert.equal((out.attachmentHashes as string[]).length, 1)
      ids[name] = out.recordId as string
      const back = await pqmed('record', 'get', ids[name] as string, '--decrypt', '--as', join(work, `${who}.json`), '--fhir', '--genesis', genesis, ...rpc)
      assert.equal(back.code, 0, back.stderr)
      assert.equal(Buffer.compare(back.stdout, await readFile(FIX(name))), 0, `${name} is not byte-exact`)
    }
    const id = ids['collection-typeid.json'] as string
    const fields = json(await pqmed('record', 'get', id, '--decrypt', '--as', join(work, 'rosa.json'), '--json', ...rpc)) as { fields: { symptoms: { symptoms: string[], observations: string[], clinicalDate: string }, prescriptions: { prescriptions: string[] } }, attachments: unknown[] }
    assert.deepEqual(fields.fields.symptoms.symptoms, [], 'Body Height is not a symptom')
    assert.deepEqual(fields.fields.symptoms.observations, ['Body Height'])
    assert.equal(fields.fields.symptoms.clinicalDate, '2024-02-12T09:10:00+01:00')
    assert.deepEqual(fields.fields.prescriptions.prescriptions, ['amlodipine 5 MG Oral Tablet one tablet once daily'])
    assert.deepEqual(fields.attachments, [{ index: 0, name: 'fhir-bundle.json', mediaType: 'application/fhir+json', size: (await readFile(FIX('collection-typeid.json'))).length }])
    const saved = await pqmed('record', 'get', id, '--save-ciphertexts', join(work, 'cips'), ...rpc)
    assert.equal(saved.code, 0, saved.stderr)
    const v = await pqmed('file', 'verify', join(work, 'cips', `${id}.cip4`), ...rpc)
    assert.equal(v.code, 0, v.stderr)
    assert.match(v.stdout.toString(), new RegExp(`is attachment 0 of record ${id}`))
    // another patient holds no key: no bundle
    const other = await pqmed('record', 'get', id, '--decrypt', '--as', join(work, 'jonas.json'), '--fhir', ...rpc)
    assert.notEqual(other.code, 0)
    assert.equal(other.stdout.length, 0)
  })

  it('a search by system|code, by the bare code and by display text (any case) finds the record', async () => {
    const a = ids['collection-typeid.json'] as string
    const s = ids['synthea-like.json'] as string
    assert.deepEqual((await search('http://snomed.info/sct|38341003')).sort(), [a, s].sort())
    assert.deepEqual((await search('44054006')), [s])
    assert.deepEqual((await search('DIABETES MELLITUS TYPE 2 (disorder)')), [s])
    assert.deepEqual((await search('http://www.nlm.nih.gov/research/umls/rxnorm|197361')).sort(), [a, s].sort(), 'through medicationReference')
    assert.deepEqual((await search('1648755')), [ids['contained-medication.json']], 'a contained Medication')
    assert.deepEqual((await search('8302-2', 'Patient/p-okafor')), [a], 'an observation code and the patient')
  })

  it('invalid bundles and a bundle over the submission limit are refused, naming what is wrong; nothing is submitted', async () => {
    const rosa = join(work, 'rosa.json')
    const before = await recordCount(rosa)
    const bad = JSON.parse(await readFile(FIX('collection-typeid.json'), 'utf8')) as { entry: Array<{ resource: Record<string, unknown> }> }
    delete (bad.entry[5] as { resource: Record<string, unknown> }).resource.status
    await writeFile(join(work, 'bad.json'), JSON.stringify(bad))
    const r1 = await submit(rosa, join(work, 'bad.json'))
    assert.equal(r1.code, 2)
    assert.match(r1.stderr, /entry\[5\] MedicationRequest\/mr-1 status: Missing property/)
    const big = JSON.parse(await readFile(FIX('synthea-like.json'), 'utf8')) as { entry: Array<{ resource: { text: { div: string } } }> }
    const first = big.entry[0] as { resource: { text: { div: string } } }
    first.resource.text.div = `<div xmlns="http://www.w3.org/1999/xhtml">${'x'.repeat(2_200_000)}</div>`
    await writeFile(join(work, 'big.json'), JSON.stringify(big))
    const r2 = await submit(rosa, join(work, 'big.json'))
    assert.equal(r2.code, 2, r2.stderr)
    assert.match(r2.stderr, /nodes accept at most 2097152 bytes \(2 MiB\): nothing was submitted/)
    assert.equal(await recordCount(rosa), before)
  })

  it('pqmed fhir-gateway answers a FHIR client: metadata, read, token/reference/date searches with paging, a transaction, OperationOutcomes', async () => {
    // doctor-1 reads Rosa's records through grants of all three fields (the bundle needs them all)
    for (const name of ['collection-typeid.json', 'synthea-like.json']) {
      const g = await pqmed('grant', ids[name] as string, '--from', join(work, 'rosa.json'), '--to', doctor1, '--fields', 'personalInfo,symptoms,prescriptions', ...rpc)
      assert.equal(g.code, 0, g.stderr)
    }
    const gw = spawn(process.execPath, ['bin/pqmed.js', 'fhir-gateway', '--as', doctor1, '--port', '0', '--consortium-key', ck, '--state', join(work, 'gw'), '--genesis', genesis,
      '--patient', join(work, 'jonas.json'), ...rpc], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(gw)
    let stderr = ''
    gw.stderr?.on('data', (d: Buffer) => { stderr += d.toString() })
    const url = await new Promise<string>((resolve, reject) => {
      let out = ''
      const t = setTimeout(() => { reject(new Error(`gateway not ready: ${stderr}`)) }, 120_000)
      gw.stdout?.on('data', (d: Buffer) => { out += d.toString(); const m = /"url":"([^"]+)"/.exec(out); if (m !== null) { clearTimeout(t); resolve(m[1] as string) } })
      gw.on('exit', (c) => { clearTimeout(t); reject(new Error(`gateway exited ${String(c)}: ${stderr}`)) })
    })
    try {
      const client = new Client({ baseUrl: url })
      const cs = await client.capabilityStatement() as { resourceType: string, fhirVersion: string }
      assert.equal(cs.resourceType, 'CapabilityStatement')
      assert.equal(cs.fhirVersion, '4.0.1')
      const p = await client.read({ resourceType: 'Patient', id: 'p-okafor' }) as unknown as { name: Array<{ family: string }>, birthDate: string }
      assert.equal(p.name[0]?.family, 'Okafor')
      type SearchSet = { resourceType: string, type: string, total: number, entry?: Array<{ resource: { resourceType: string, id: string, [k: string]: unknown } }>, link: Array<{ relation: string }> }
      const ids2 = (b: SearchSet): string[] => (b.entry ?? []).map((e) => `${e.resource.resourceType}/${e.resource.id}`).sort()
      const bySystem = await client.search({ resourceType: 'Condition', searchParams: { code: 'http://snomed.info/sct|38341003' } }) as SearchSet
      assert.equal(bySystem.type, 'searchset')
      assert.equal(bySystem.total, 2)
      assert.ok(ids2(bySystem).includes('Condition/cond-1'))
      const bare = await client.search({ resourceType: 'Condition', searchParams: { code: '44054006' } }) as SearchSet
      assert.deepEqual(ids2(bare).length, 1)
      const text = await client.search({ resourceType: 'Condition', searchParams: { 'code:text': 'hypertension' } }) as SearchSet
      assert.equal(text.total, 2)
      const meds = await client.search({ resourceType: 'MedicationRequest', searchParams: { patient: 'p-okafor' } }) as SearchSet
      assert.deepEqual(ids2(meds), ['MedicationRequest/mr-1'])
      assert.deepEqual(meds.entry?.[0]?.resource.medicationReference, { reference: 'Medication/med-1' })
      const synthMeds = await client.search({ resourceType: 'MedicationRequest', searchParams: { patient: '5a1e0c7e-0000-4000-8000-000000000001' } }) as SearchSet
      assert.equal(synthMeds.total, 2)
      assert.match(JSON.stringify(synthMeds), /"subject":\{"reference":"Patient\/5a1e0c7e-0000-4000-8000-000000000001"\}/, 'urn:uuid references rewritten to Type/id')
      // birthdate: the birth-year index narrows, the decrypted birthDate decides; _count pages
      const page1 = await client.search({ resourceType: 'Patient', searchParams: { birthdate: ['ge1962', 'le1962-12'], _count: 1 } }) as SearchSet
      assert.equal(page1.total, 2)
      assert.equal(page1.entry?.length, 1)
      const page2 = await client.nextPage({ bundle: page1 as never }) as SearchSet
      assert.equal(page2.entry?.length, 1)
      assert.notDeepEqual(ids2(page1), ids2(page2))
      assert.equal(client.nextPage({ bundle: page2 as never }), undefined)
      const none = await client.search({ resourceType: 'Patient', searchParams: { birthdate: 'ge1962-05' } }) as SearchSet
      assert.equal(none.total, 0, 'born 1962-04-17: the year matches, the date does not')
      // a transaction becomes a record for the --patient it names
      const tx = JSON.parse(await readFile(FIX('transaction-urn-uuid.json'), 'utf8')) as unknown
      const resp = await client.transaction({ body: tx as never }) as unknown as { type: string, identifier: { value: string }, entry: Array<{ response: { status: string, location?: string } }> }
      assert.equal(resp.type, 'transaction-response')
      assert.equal(resp.entry.length, 6)
      assert.equal(resp.entry[1]?.response.location, 'Condition/7d1c1c52-3b0e-4c4e-9f6a-1a2b3c4d5e02')
      const back = await pqmed('record', 'get', resp.identifier.value, '--decrypt', '--as', join(work, 'jonas.json'), '--fhir', ...rpc)
      assert.equal(back.code, 0, back.stderr)
      assert.deepEqual(JSON.parse(back.stdout.toString()), tx)
      // errors are OperationOutcomes with an HTTP status
      const fails = async (f: () => Promise<unknown>, status: number, text: RegExp): Promise<void> => {
        await assert.rejects(f, (e: { response?: { status: number, data: { resourceType: string, issue: Array<{ diagnostics: string }> } } }) => {
          assert.equal(e.response?.status, status)
          assert.equal(e.response?.data.resourceType, 'OperationOutcome')
          assert.match(e.response?.data.issue[0]?.diagnostics ?? '', text)
          return true
        })
      }
      await fails(async () => await client.read({ resourceType: 'Patient', id: 'nobody' }), 404, /Patient\/nobody/)
      await fails(async () => await client.search({ resourceType: 'Observation', searchParams: { code: '8302-2' } }), 404, /Observation/)
      await fails(async () => await client.search({ resourceType: 'Condition', searchParams: { code: 'http://snomed.info/sct|' } }), 400, /system without a code/)
      await fails(async () => await client.search({ resourceType: 'Condition', searchParams: { subject: 'x' } }), 400, /Condition search needs|not supported/)
      const invalid = structuredClone(tx) as { entry: Array<{ resource: Record<string, unknown> }> }
      delete (invalid.entry[4] as { resource: Record<string, unknown> }).resource.intent
      await fails(async () => await client.transaction({ body: invalid as never }), 422, /entry\[4\] MedicationRequest\/7d1c1c52-3b0e-4c4e-9f6a-1a2b3c4d5e05 intent/)
      const stranger = structuredClone(tx) as { entry: Array<{ resource: Record<string, unknown> }> }
      ;(stranger.entry[0] as { resource: Record<string, unknown> }).resource.name = [{ text: 'Somebody Else' }]
      await fails(async () => await client.transaction({ body: stranger as never }), 422, /none of the gateway's --patient identities/)
    } finally {
      gw.kill('SIGTERM')
      await new Promise((resolve) => { if (gw.exitCode !== null) resolve(null); else gw.once('exit', resolve) })
    }
  })

  it('a patient\'s gateway finds its own records without grants, and refuses to write', async () => {
    const gw = spawn(process.execPath, ['bin/pqmed.js', 'fhir-gateway', '--as', join(work, 'ana.json'), '--port', '0', '--consortium-key', ck, '--state', join(work, 'gw-ana'), ...rpc], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    children.push(gw)
    const url = await new Promise<string>((resolve, reject) => {
      let out = ''
      const t = setTimeout(() => { reject(new Error('gateway not ready')) }, 120_000)
      gw.stdout?.on('data', (d: Buffer) => { out += d.toString(); const m = /"url":"([^"]+)"/.exec(out); if (m !== null) { clearTimeout(t); resolve(m[1] as string) } })
      gw.on('exit', (c) => { clearTimeout(t); reject(new Error(`gateway exited ${String(c)}`)) })
    })
    try {
      const client = new Client({ baseUrl: url })
      const b = await client.search({ resourceType: 'MedicationRequest', searchParams: { patient: 'pat-lima' } }) as unknown as { total: number, entry: Array<{ resource: { contained: unknown[] } }> }
      assert.equal(b.total, 1)
      assert.equal(b.entry[0]?.resource.contained.length, 1)
      await assert.rejects(async () => await client.transaction({ body: { resourceType: 'Bundle', type: 'transaction', entry: [] } as never }), (e: { response?: { status: number } }) => e.response?.status === 403)
    } finally {
      gw.kill('SIGTERM')
      await new Promise((resolve) => { if (gw.exitCode !== null) resolve(null); else gw.once('exit', resolve) })
    }
  })
})
