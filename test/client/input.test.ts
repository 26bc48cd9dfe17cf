import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { ClientError, consortiumWriters, createConsortiumKeyFile, newClientIdentity, loadClientIdentity, openConsortiumKey, parseConsortiumKeyFile, parseRecordInput } from '../../src/client/index.js'
import { loadPqBackend, sha256, toHex, type PqBackend } from '../../src/crypto/index.js'

const fixture = async (name: string): Promise<unknown> => JSON.parse(await readFile(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as unknown

describe('client: record input (JSON and FHIR R4 Bundle)', () => {
  // since FHIR import keeps the bundle (test/fhir/), an Observation is no longer filed as a symptom and codes are keywords too
  it('maps a FHIR Bundle: Patient → personal info, Condition → disease, Condition/Observation codes → keywords, MedicationRequest → prescriptions', async () => {
    const r = parseRecordInput(await fixture('bundle.json'))
    assert.deepEqual(r.personalInfo, { name: 'Rosa Okafor', birthYear: 1962, sex: 'female', birthDate: '1962-04-17', fhirPatient: 'Patient/p1' })
    assert.equal(r.birthYear, 1962)
    assert.equal(r.disease, 'Hypertension')
    assert.deepEqual(r.symptoms, [])
    assert.deepEqual(r.fhir?.clinical.observations, ['Headache'])
    assert.deepEqual(r.keywords, ['Patient/p1', 'http://snomed.info/sct|38341003', '38341003', 'Hypertension', 'Headache', 'amlodipine 5 mg'])
    assert.deepEqual(r.prescriptions, ['amlodipine 5 mg once daily'])
    assert.equal(r.fileType, 'fhir-bundle')
  })

  it('reads plain JSON, defaulting keywords to disease + symptoms', async () => {
    const r = parseRecordInput(await fixture('record.json'))
    assert.deepEqual(r.keywords, ['migraine', 'headache', 'photophobia'])
    assert.equal(r.birthYear, 1988)
    assert.equal(r.fileType, 'consultation-note')
  })

  it('rejects bad input with BAD_INPUT', () => {
    for (const bad of [null, [], { symptoms: 'fever' }, { symptoms: ['fever'], extra: 1 }, { symptoms: ['x'], birthYear: 1800 }, {}, { resourceType: 'Bundle', entry: [] },
      { resourceType: 'Bundle', entry: [{ resource: { resourceType: 'Patient', birthDate: 'soon' } }, { resource: { resourceType: 'Condition', code: { text: 'x' } } }] }]) {
      assert.throws(() => parseRecordInput(bad), (e: unknown) => e instanceof ClientError && e.code === 'BAD_INPUT', JSON.stringify(bad))
    }
  })
})

describe('client: identities and the consortium key file', function () {
  this.timeout(30_000)
  let pq: PqBackend
  before(async () => { pq = await loadPqBackend() })

  it('re-derives the same keys from the PUF at each load; the file holds no key', () => {
    const f = newClientIdentity('Ana', 'patient')
    const a = loadClientIdentity(f)
    const b = loadClientIdentity(JSON.parse(JSON.stringify(f)))
    assert.equal(toHex(a.keys.id), toHex(b.keys.id))
    assert.deepEqual(Object.keys(f).sort(), ['bitErrorRate', 'deviceSeed', 'helper', 'name', 'role'])
    assert.throws(() => loadClientIdentity({ ...f, helper: Buffer.from('junk').toString('base64') }), (e: unknown) => e instanceof ClientError && e.code === 'BAD_IDENTITY')
  })

  it('wraps the consortium key to each doctor; only listed doctors open it', () => {
    const docs = [0, 1].map((i) => loadClientIdentity(newClientIdentity(`d${i}`, 'doctor')))
    const outsider = loadClientIdentity(newClientIdentity('x', 'doctor'))
    const key = new Uint8Array(32).fill(9)
    const file = parseConsortiumKeyFile(JSON.parse(JSON.stringify(createConsortiumKeyFile(pq, docs.map((d) => ({ name: d.name, sigPublicKey: d.keys.sig.publicKey, kemPublicKey: d.keys.kem.publicKey })), key))))
    for (const d of docs) assert.deepEqual(openConsortiumKey(pq, file, d.keys.kem.secretKey), key)
    assert.deepEqual(consortiumWriters(file).map(toHex), docs.map((d) => toHex(d.keys.id)))
    assert.ok(!JSON.stringify(file).includes(Buffer.from(key).toString('base64')))
    assert.throws(() => openConsortiumKey(pq, file, outsider.keys.kem.secretKey), (e: unknown) => e instanceof ClientError && e.code === 'BAD_CONSORTIUM_KEY')
    const tampered = { ...file, doctors: file.doctors.map((d, i) => i === 0 ? { ...d, doctorId: toHex(sha256(new Uint8Array([1]))) } : d) }
    assert.throws(() => openConsortiumKey(pq, tampered, docs[0]?.keys.kem.secretKey as Uint8Array), (e: unknown) => e instanceof ClientError && e.code === 'BAD_CONSORTIUM_KEY')
  })
})
