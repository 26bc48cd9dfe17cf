/**
 * src/fhir as a pure library: bundles of several shapes (test/fixtures/fhir/README.md) are parsed
 * with their exact bytes kept, validated, their references resolved (urn:uuid fullUrl, Type/id,
 * contained #id) and mapped; invalid bundles are refused with the entry and the field named; the
 * gateway's search semantics (tokens, dates, paging) hold.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { recordFromFhirBytes } from '../../src/client/index.js'
import {
  conceptMatches, dateMatches, exportResource, FhirError, mapFhirBundle, parseBundle, parseDate, parseToken, refersToPatient, searchset, yearBounds
} from '../../src/fhir/index.js'

const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../fixtures/fhir/${name}`, import.meta.url)))
const bytes = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o))
const refused = (o: unknown, ...parts: string[]): void => {
  assert.throws(() => mapFhirBundle(bytes(o)), (e: unknown) => {
    assert.ok(e instanceof FhirError, String(e))
    for (const p of parts) assert.ok(e.message.includes(p), `'${e.message}' should name '${p}'`)
    return true
  })
}

describe('fhir: import of R4 Bundles (pure)', function () {
  this.timeout(60_000)

  it('a collection bundle with Type/id references: the MedicationRequest follows medicationReference to the Medication entry', () => {
    const m = mapFhirBundle(fixture('collection-typeid.json'))
    assert.deepEqual(m.patient, { ref: 'Patient/p-okafor', name: 'Rosa Okafor', birthDate: '1962-04-17', birthYear: 1962, gender: 'female' })
    assert.equal(m.disease, 'Hypertension')
    assert.deepEqual(m.prescriptions, ['amlodipine 5 MG Oral Tablet one tablet once daily'])
    const med = m.items.find((i) => i.kind === 'medication')
    assert.deepEqual(med?.codes, ['http://www.nlm.nih.gov/research/umls/rxnorm|197361'])
    for (const k of ['http://snomed.info/sct|38341003', '38341003', 'Hypertension', 'http://loinc.org|8302-2', '8302-2', 'Body Height', '197361', 'Penicillin G', 'http://hl7.org/fhir/sid/cvx|140', '46973005', 'Patient/p-okafor']) {
      assert.ok(m.keywords.includes(k), k)
    }
    assert.deepEqual(m.items.map((i) => i.kind).sort(), ['allergy', 'condition', 'immunization', 'medication', 'observation', 'procedure'])
    assert.equal(m.clinicalDate, '2024-02-12T09:10:00+01:00')
    assert.deepEqual(m.clinicalPeriod, { start: '2019-06-01', end: '2024-02-12T09:10:00+01:00' })
  })

  it('the record input keeps the exact bytes; observations are not symptoms', () => {
    const b = fixture('collection-typeid.json')
    const r = recordFromFhirBytes(b)
    assert.equal(Buffer.compare(Buffer.from(r.fhir?.bytes as Uint8Array), Buffer.from(b)), 0)
    assert.deepEqual(r.symptoms, [])
    assert.deepEqual(r.fhir?.clinical.observations, ['Body Height'])
    assert.equal(r.personalInfo.birthDate, '1962-04-17')
  })

  it('a transaction bundle with urn:uuid references and no ids: MedicationRequest and MedicationStatement', () => {
    const m = mapFhirBundle(fixture('transaction-urn-uuid.json'))
    assert.equal(m.patient?.ref, 'Patient/7d1c1c52-3b0e-4c4e-9f6a-1a2b3c4d5e01')
    assert.deepEqual(m.prescriptions, [
      '200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler two puffs as needed for wheezing',
      'fluticasone propionate 0.11 MG/ACTUAT Metered Dose Inhaler one puff twice daily'
    ])
    assert.ok(m.keywords.includes('http://www.nlm.nih.gov/research/umls/rxnorm|745679'))
  })

  it('a contained Medication (#id)', () => {
    const m = mapFhirBundle(fixture('contained-medication.json'))
    assert.deepEqual(m.prescriptions, ['nitrofurantoin 100 MG Extended Release Oral Capsule one capsule twice daily for 5 days'])
    assert.ok(m.keywords.includes('1648755'))
  })

  it('a Synthea-like bundle of 61 entries: every clinical resource mapped, values left in the bundle', () => {
    const b = fixture('synthea-like.json')
    const m = mapFhirBundle(b)
    assert.equal(m.parsed.entries.length, 61)
    assert.ok(b.length > 130_000)
    assert.equal(m.items.filter((i) => i.kind === 'condition').length, 3)
    assert.equal(m.items.filter((i) => i.kind === 'medication').length, 2)
    assert.ok(m.prescriptions.some((p) => p.startsWith('24 HR Metformin')), 'the prescription through a Medication entry (urn:uuid)')
    assert.ok(m.keywords.includes('44054006') && m.keywords.includes('http://loinc.org|4548-4'))
    assert.ok(m.keywords.length < 240, `${m.keywords.length} keywords fit one record's index updates`)
  })

  it('refuses invalid bundles, naming the entry and the field', () => {
    const patient = { resourceType: 'Patient', id: 'p', name: [{ text: 'X Y' }] }
    refused({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: patient }, { resource: { resourceType: 'MedicationRequest', id: 'm', intent: 'order', subject: { reference: 'Patient/p' }, medicationCodeableConcept: { text: 'x' } } }] },
      'entry[1] MedicationRequest/m', 'status')
    refused({ resourceType: 'Bundle', type: 'transaction', entry: [{ fullUrl: 'urn:uuid:7d1c1c52-3b0e-4c4e-9f6a-1a2b3c4d5e02', resource: { resourceType: 'Condition', code: { text: 'x' }, subject: { reference: 'urn:uuid:7d1c1c52-3b0e-4c4e-9f6a-000000000000' } }, request: { method: 'POST', url: 'Condition' } }] },
      'entry[0] Condition/7d1c1c52-3b0e-4c4e-9f6a-1a2b3c4d5e02', 'subject', 'does not resolve')
    refused({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: patient }, { resource: { resourceType: 'MedicationRequest', id: 'm', status: 'active', intent: 'order', subject: { reference: 'Patient/p' }, medicationReference: { reference: 'Medication/nowhere' } } }] },
      'entry[1] MedicationRequest/m', 'medicationReference', 'not in the bundle')
    refused({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { ...patient, birthDate: '1962-13-01' } }, { resource: { resourceType: 'Condition', code: { text: 'x' }, subject: { reference: 'Patient/p' } } }] },
      'entry[0] Patient/p', 'birthDate')
    refused({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { ...patient, gender: 'femal' } }, { resource: { resourceType: 'Condition', code: { text: 'x' }, subject: { reference: 'Patient/p' } } }] },
      'entry[0] Patient/p', 'gender')
    refused({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Observation', id: 'o', status: 'final', code: { text: 'x' }, valueQuantity: { value: 'high' } } }] },
      'entry[0] Observation/o', 'valueQuantity.value')
    refused({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Condition', id: 'c', code: { text: 'x' }, subject: { reference: 'Patient/p' }, severity_: 1 } }] },
      'entry[0] Condition/c', 'severity_')
    refused({ resourceType: 'Bundle', type: 'searchset', entry: [] }, 'Bundle.type')
    refused({ resourceType: 'Patient' }, 'not a FHIR R4 Bundle')
    assert.throws(() => mapFhirBundle(new TextEncoder().encode('{"resourceType": "Bundle",')), /not a JSON document/)
  })

  it('gateway search semantics: tokens, birth dates, exported references, paging', () => {
    const p = parseBundle(fixture('transaction-urn-uuid.json'))
    const cond = p.entries[1]
    assert.ok(cond !== undefined)
    const code = cond.resource.code as object
    assert.ok(conceptMatches(code, parseToken('http://snomed.info/sct|195967001')))
    assert.ok(conceptMatches(code, parseToken('195967001')))
    assert.ok(!conceptMatches(code, parseToken('http://loinc.org|195967001')))
    assert.ok(!conceptMatches(code, parseToken('|195967001')))
    assert.ok(conceptMatches(code, parseToken('ASTHMA', 'text')))
    assert.throws(() => parseToken('http://snomed.info/sct|'), FhirError)
    const exported = exportResource(p, cond)
    assert.equal(exported.id, '7d1c1c52-3b0e-4c4e-9f6a-1a2b3c4d5e02')
    assert.deepEqual(exported.subject, { reference: 'Patient/7d1c1c52-3b0e-4c4e-9f6a-1a2b3c4d5e01' })
    assert.ok(refersToPatient(p, p.entries[4] as never, 'subject', '7d1c1c52-3b0e-4c4e-9f6a-1a2b3c4d5e01'))
    const qs = [parseDate('ge1978'), parseDate('le1978-11')]
    assert.deepEqual(yearBounds(qs), { from: 1978, to: 1978 })
    assert.ok(dateMatches('1978-11-03', qs))
    assert.ok(!dateMatches('1978-12-03', qs))
    assert.ok(!dateMatches('1977-11-03', [parseDate('ge1978')]))
    assert.ok(dateMatches('1978-11-03', [parseDate('1978')]))
    const all = [1, 2, 3].map((i) => ({ resourceType: 'Patient', id: `p${i}` }))
    const page = searchset(all, 'http://h', new URL('http://h/Patient?birthdate=ge1900'), 2, 0) as unknown as { total: number, entry: unknown[], link: Array<{ relation: string, url: string }> }
    assert.equal(page.total, 3)
    assert.equal(page.entry.length, 2)
    assert.match(page.link.find((l) => l.relation === 'next')?.url ?? '', /_offset=2/)
  })
})
