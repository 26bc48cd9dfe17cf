import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createConsortiumKeyFile } from '../../src/client/consortium.js'
import { loadPqBackend } from '../../src/crypto/index.js'
import { parseGenesis } from '../../src/node/genesis.js'
import { freePorts, ProcNet, rpc } from '../../src/cli/procs.js'
import type { ChainStatus } from '../../src/rpc/backend.js'
import { ensureBuilt, pqmed as run, type CliRun } from './helpers.js'

const bundle = (given: string, family: string): unknown => ({
  resourceType: 'Bundle',
  type: 'collection',
  entry: [
    // a valid R4 Bundle (import validates the structure: Condition.subject, MedicationRequest.status/intent/subject are required)
    { resource: { resourceType: 'Patient', id: 'p', name: [{ given: [given], family }], birthDate: '1962-04-17' } },
    { resource: { resourceType: 'Condition', code: { text: 'hypertension' }, subject: { reference: 'Patient/p' } } },
    { resource: { resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: { reference: 'Patient/p' }, medicationCodeableConcept: { text: 'amlodipine' }, dosageInstruction: [{ text: '5 mg daily' }] } }
  ]
})

/** Issue 11, item 8: every flag combination is honoured or refused; grant and submit say what they did. */
describe('cli: flag combinations and output (the built CLI as a process, one manager)', function () {
  this.timeout(300_000)
  const net = new ProcNet()
  let dir: string
  let url: string
  let cli: (...args: string[]) => Promise<CliRun>
  let ck: string
  let doctor: string
  let rosa: string
  let recordId: string

  before(async () => {
    await ensureBuilt()
    dir = await mkdtemp(join(tmpdir(), 'pqmed-flags-'))
    const [port] = await freePorts(1) as [number]
    const g = await run(['genesis', '--dir', dir, '--managers', '1', '--doctors', '2', '--base-port', String(port)])
    assert.equal(g.code, 0, g.stderr)
    const genesis = parseGenesis(await readFile(join(dir, 'genesis.json'), 'utf8'))
    ck = join(dir, 'consortium-key.json')
    await writeFile(ck, JSON.stringify(createConsortiumKeyFile(await loadPqBackend(), genesis.doctors)))
    const m = await net.start({ name: 'm0', args: ['--role', 'manager', '--genesis', join(dir, 'genesis.json'), '--data-dir', join(dir, 'm0'),
      '--identity', join(dir, 'identities', 'manager-0.json'), '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--rpc-port', '0', '--rpc-rate-limit', 'off', '--loopback'] })
    url = m.rpc
    cli = async (...args) => await run([...args, '--rpc', url])
    doctor = join(dir, 'identities', 'doctor-0.json')
    rosa = join(dir, 'rosa.json')
    const e = await cli('enroll', '--name', 'Rosa Okafor', '--out', rosa)
    assert.equal(e.code, 0, e.stderr)
    await writeFile(join(dir, 'rosa-bundle.json'), JSON.stringify(bundle('Rosa', 'Okafor')))
    const s = await cli('record', 'submit', '--doctor', doctor, '--patient', rosa, '--input', join(dir, 'rosa-bundle.json'), '--consortium-key', ck, '--state', join(dir, 'state'), '--json')
    assert.equal(s.code, 0, s.stderr)
    assert.equal(s.stderr, '', 'the Bundle\'s patient is Rosa: no warning')
    recordId = (JSON.parse(s.stdout) as { recordId: string }).recordId
  })
  after(async () => {
    await net.stopAll()
    await rm(dir, { recursive: true, force: true })
  })

  it('record get: --as without --decrypt is refused (exit 2); --save-ciphertexts with --decrypt saves them', async () => {
    const asOnly = await cli('record', 'get', recordId, '--as', rosa)
    assert.equal(asOnly.code, 2)
    assert.match(asOnly.stderr, /--as names the identity that decrypts: it goes with --decrypt/)
    const cips = join(dir, 'cips')
    const g = await cli('record', 'get', recordId, '--decrypt', '--as', rosa, '--save-ciphertexts', cips, '--json')
    assert.equal(g.code, 0, g.stderr)
    const out = JSON.parse(g.stdout) as { fields: { personalInfo: { name: string } }, savedCiphertexts: string[] }
    assert.equal(out.fields.personalInfo.name, 'Rosa Okafor')
    // a FHIR record: three fields and attachment 0, the original Bundle (cip4)
    assert.deepEqual((await readdir(cips)).sort(), [1, 2, 3, 4].map((i) => `${recordId}.cip${i}`))
    assert.deepEqual(out.savedCiphertexts.map((p) => p.slice(cips.length + 1)).sort(), [1, 2, 3, 4].map((i) => `${recordId}.cip${i}`))
    const fv = await cli('file', 'verify', join(cips, `${recordId}.cip2`), '--json')
    assert.equal(fv.code, 0, fv.stderr)
    assert.equal((JSON.parse(fv.stdout) as { field: number }).field, 1)
  })

  it('record submit: a FHIR Bundle of another patient is refused before anything is written; --allow-patient-mismatch submits with a warning', async () => {
    const other = join(dir, 'ana-bundle.json')
    await writeFile(other, JSON.stringify(bundle('Ana', 'Silva')))
    const state = join(dir, 'state-mismatch')
    const before = await rpc<ChainStatus>(url, 'chain_status')
    const refused = await cli('record', 'submit', '--doctor', doctor, '--patient', rosa, '--input', other, '--consortium-key', ck, '--state', state)
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /the FHIR Bundle's Patient is "Ana Silva" but --patient .*rosa\.json is "Rosa Okafor": not submitting another patient's record/)
    assert.match(refused.stderr, /--allow-patient-mismatch/)
    assert.equal(existsSync(state), false, 'no client state written')
    assert.equal((await rpc<ChainStatus>(url, 'chain_status')).height, before.height, 'nothing committed')
    // the same person written differently is no mismatch
    await writeFile(join(dir, 'rosa2.json'), JSON.stringify(bundle('ROSA', 'Okafor,')))
    const same = await cli('record', 'submit', '--doctor', doctor, '--patient', rosa, '--input', join(dir, 'rosa2.json'), '--consortium-key', ck, '--state', state)
    assert.equal(same.code, 0, same.stderr)
    assert.doesNotMatch(same.stderr, /warning/)
    const allowed = await cli('record', 'submit', '--doctor', doctor, '--patient', rosa, '--input', other, '--consortium-key', ck, '--state', state, '--allow-patient-mismatch')
    assert.equal(allowed.code, 0, allowed.stderr)
    assert.match(allowed.stderr, /^warning: the FHIR Bundle's Patient is "Ana Silva" but --patient .* is "Rosa Okafor"; submitting for "Rosa Okafor"/m)
    // a plain JSON record: the doctor's personalInfo is content, so a warning (not a refusal)
    const json = join(dir, 'note.json')
    await writeFile(json, JSON.stringify({ personalInfo: { name: 'Jia Nguyen' }, disease: 'influenza', symptoms: ['fever'] }))
    const warned = await cli('record', 'submit', '--doctor', doctor, '--patient', rosa, '--input', json, '--consortium-key', ck, '--state', state)
    assert.equal(warned.code, 0, warned.stderr)
    assert.match(warned.stderr, /^warning: the record's personalInfo\.name is "Jia Nguyen" but --patient .* is "Rosa Okafor"/m)
  })

  it('grant prints field names and the grantee\'s name and id, not only a key', async () => {
    const to = join(dir, 'identities', 'doctor-1.json')
    const gr = await cli('grant', recordId, '--from', rosa, '--to', to, '--fields', 'symptoms,prescriptions')
    assert.equal(gr.code, 0, gr.stderr)
    assert.match(gr.stdout, new RegExp(`^granted symptoms, prescriptions of record ${recordId} to doctor doctor-1 \\(id [0-9a-f]{64}\\), from patient Rosa Okafor \\(committed at height \\d+`))
    const json = await cli('grant', recordId, '--from', rosa, '--to', to, '--fields', 'personalInfo', '--json')
    assert.equal(json.code, 0, json.stderr)
    const j = JSON.parse(json.stdout) as { fields: number[], fieldNames: string[], granteeName: string }
    assert.deepEqual([j.fields, j.fieldNames], [[0], ['personalInfo']])
    assert.match(j.granteeName, /^doctor doctor-1 \(id [0-9a-f]{64}\)$/)
    const patientId = (JSON.parse((await cli('enroll', '--name', 'Ana Silva', '--out', join(dir, 'ana.json'), '--json')).stdout) as { patientId: string }).patientId
    const toId = await cli('grant', recordId, '--from', rosa, '--to', patientId, '--fields', 'symptoms')
    assert.equal(toId.code, 0, toId.stderr)
    assert.match(toId.stdout, new RegExp(`^granted symptoms of record ${recordId} to patient ${patientId},`))
  })

  it('conflicting or dangling flags are refused with exit 2 before anything runs', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['record', 'list', '--as', rosa, '--consortium-key', ck, '--genesis', join(dir, 'genesis.json')], /option '--consortium-key <FILE>' cannot be used with option '--genesis <FILE>'/],
      [['node', '--role', 'user', '--genesis', join(dir, 'genesis.json'), '--data-dir', join(dir, 'u'), '--rpc-host', '0.0.0.0'], /--rpc-host configures the JSON-RPC server: it goes with --rpc-port/],
      [['node', '--role', 'user', '--genesis', join(dir, 'genesis.json'), '--data-dir', join(dir, 'u'), '--rpc-rate-limit', 'off'], /--rpc-rate-limit configures the JSON-RPC server: it goes with --rpc-port/],
      [['node', '--role', 'user', '--genesis', join(dir, 'genesis.json'), '--data-dir', join(dir, 'u'), '--store-open-files', '10'], /--store-open-files must be an integer in \[74, 50000\]/],
      [['node', '--role', 'manager', '--genesis', join(dir, 'genesis.json'), '--data-dir', join(dir, 'x'), '--open', '--allow-peer', 'x'], /option '--open' cannot be used with option '--allow-peer <PEER_ID>'/],
      [['node', '--role', 'manager', '--genesis', join(dir, 'genesis.json'), '--data-dir', join(dir, 'x'), '--fault-equivocate', '--fault-unchecked-labels'], /cannot be used with/],
      [['peer-id', '--identity', rosa, '--data-dir', join(dir, 'u')], /peer-id takes exactly one of/],
      [['peer-id', '--identity', rosa, '--name', 'x'], /--name goes with --new-identity/],
      [['peer-id', '--identity', rosa, '--role', 'manager'], /--role goes with --new-identity/],
      [['peer-id', '--new-identity', join(dir, 'm.json'), '--role', 'doctor'], /--role must be user or manager/],
      [['peer-id', '--new-identity', join(dir, 'm.json'), '--hospital-id', 'ab'.repeat(32)], /--hospital-id goes with --role manager/],
      [['peer-id', '--new-identity', join(dir, 'm.json'), '--role', 'manager', '--hospital-id', 'xyz'], /--hospital-id must be 64 lowercase hex digits/]
    ]
    for (const [args, re] of cases) {
      const r = await run(args)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, re)
    }
    assert.equal(existsSync(join(dir, 'u')), false, 'no node data dir created')
  })
})
