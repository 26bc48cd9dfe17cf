/**
 * What a FHIR R4 Bundle means for a pqmed record: the encrypted fields' content and the searchable
 * keywords. Mapped resources:
 *
 * | resource | fields | keywords |
 * |---|---|---|
 * | Patient (at most one) | personal info: name, birth date and year, gender | `Patient/<id>` |
 * | Condition | disease (the first), conditions | code |
 * | Observation | observations (the code; the value stays in the bundle, it is not a symptom) | code |
 * | MedicationRequest, MedicationStatement | prescriptions (medication, following `medicationReference` inside the bundle, and dosage text) | medication code |
 * | AllergyIntolerance, Procedure, Immunization | allergies, procedures, immunizations | code (`vaccineCode`) |
 *
 * A code is indexed as `system|code`, as the bare code, and as its display texts (`CodeableConcept.text`
 * and each `coding.display`); the SSE layer normalizes each keyword (case, width, spaces) exactly as
 * searches do (`src/sse/normalize.ts`), so `pqmed search 44054006`, `pqmed search
 * "http://snomed.info/sct|44054006"` and `pqmed search "diabetes mellitus type 2 (disorder)"` find it.
 * The clinical date is the latest date of the mapped resources and encounters; the period they span is
 * kept too. Everything else (values, encounters, reports, care plans, extensions) is in the bundle,
 * which the record keeps byte-exact as an encrypted attachment.
 */
import { MAX_KEYWORD_LENGTH, normalizeKeyword } from '../sse/index.js'
import { parseBundle, type BundleEntry, type FhirReference, type FhirResource, type ParsedBundle } from './bundle.js'
import { FhirError } from './errors.js'

export type ClinicalKind = 'condition' | 'observation' | 'medication' | 'allergy' | 'procedure' | 'immunization'

/** One mapped clinical resource. */
export interface ClinicalItem {
  kind: ClinicalKind
  /** `Type/id` (or `Type/<uuid>` from a urn:uuid fullUrl), else `entry[i]`. */
  ref: string
  text: string
  /** `system|code` of each coding (`|code` without a system). */
  codes: string[]
  /** FHIR date or dateTime, as written. */
  date?: string
  /** Dosage text (medications). */
  dosage?: string
  status?: string
}

export interface FhirPatientInfo {
  ref?: string
  name?: string
  birthDate?: string
  birthYear?: number
  gender?: string
}

export interface FhirRecord {
  parsed: ParsedBundle
  patient?: FhirPatientInfo
  items: ClinicalItem[]
  /** Text of the first Condition. */
  disease?: string
  /** `"<medication> <dosage>"` per MedicationRequest / MedicationStatement. */
  prescriptions: string[]
  /** Keywords to index, distinct after normalization, each at most MAX_KEYWORD_LENGTH. */
  keywords: string[]
  /** The latest clinical date, and the span of all of them. */
  clinicalDate?: string
  clinicalPeriod?: { start: string, end: string }
}

interface Coding { system?: unknown, code?: unknown, display?: unknown }
interface Concept { text?: unknown, coding?: unknown }

const str = (v: unknown): string | undefined => typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined

function codings (c: Concept | undefined): Coding[] {
  return Array.isArray(c?.coding) ? (c.coding as unknown[]).filter((x): x is Coding => x !== null && typeof x === 'object') : []
}

/** The text of a concept: `text`, else the first coding display, else the first `system|code`. */
export function conceptText (c: Concept | undefined): string | undefined {
  return str(c?.text) ?? codings(c).map((x) => str(x.display)).find((x) => x !== undefined) ?? conceptCodes(c)[0]
}

/** `system|code` of each coding of a concept (`|code` when it has no system, as FHIR token search writes it). */
export function conceptCodes (c: Concept | undefined): string[] {
  return codings(c).flatMap((x) => { const code = str(x.code); return code === undefined ? [] : [`${str(x.system) ?? ''}|${code}`] })
}

/** The keywords of a concept: `system|code`, the bare code, the text and every display. */
export function conceptKeywords (c: Concept | undefined): string[] {
  const out: string[] = []
  for (const x of codings(c)) {
    const code = str(x.code)
    const system = str(x.system)
    if (code !== undefined) {
      if (system !== undefined) out.push(`${system}|${code}`)
      out.push(code)
    }
    const d = str(x.display)
    if (d !== undefined) out.push(d)
  }
  const t = str(c?.text)
  if (t !== undefined) out.push(t)
  return out
}

const CONCEPT: Record<string, { kind: ClinicalKind, concept: string, dates: string[] }> = {
  Condition: { kind: 'condition', concept: 'code', dates: ['onsetDateTime', 'onsetPeriod.start', 'recordedDate'] },
  Observation: { kind: 'observation', concept: 'code', dates: ['effectiveDateTime', 'effectivePeriod.start', 'effectiveInstant', 'issued'] },
  AllergyIntolerance: { kind: 'allergy', concept: 'code', dates: ['onsetDateTime', 'recordedDate'] },
  Procedure: { kind: 'procedure', concept: 'code', dates: ['performedDateTime', 'performedPeriod.start'] },
  Immunization: { kind: 'immunization', concept: 'vaccineCode', dates: ['occurrenceDateTime', 'recorded'] },
  MedicationRequest: { kind: 'medication', concept: 'medicationCodeableConcept', dates: ['authoredOn'] },
  MedicationStatement: { kind: 'medication', concept: 'medicationCodeableConcept', dates: ['effectiveDateTime', 'effectivePeriod.start', 'dateAsserted'] }
}

function at (r: FhirResource, path: string): unknown {
  let v: unknown = r
  for (const k of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined
  return v
}

const DATE = /^(\d{4})(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)))?)?)?$/

function dateOf (e: BundleEntry, paths: string[], where: string): string | undefined {
  for (const p of paths) {
    const v = at(e.resource, p)
    if (v === undefined) continue
    if (typeof v !== 'string' || !DATE.test(v)) throw new FhirError(`${where} ${p}: ${JSON.stringify(v)} is not a FHIR date or dateTime`)
    return v
  }
  return undefined
}

/** Milliseconds of a FHIR date for ordering (a partial date counts as its first instant, UTC). */
const instant = (d: string): number => Date.parse(d.length === 4 ? `${d}-01-01` : d.length === 7 ? `${d}-01` : d)

function medication (p: ParsedBundle, e: BundleEntry, where: string): { text: string, codes: string[], keywords: string[] } {
  const r = e.resource
  if (r.medicationCodeableConcept !== undefined) {
    const c = r.medicationCodeableConcept as Concept
    const text = conceptText(c)
    if (text === undefined) throw new FhirError(`${where} medicationCodeableConcept: has neither text nor coding`)
    return { text, codes: conceptCodes(c), keywords: conceptKeywords(c) }
  }
  const ref = r.medicationReference as FhirReference | undefined
  if (ref === undefined) throw new FhirError(`${where} medication[x]: missing`)
  const med = p.resolve(ref, e)
  if (med !== undefined) {
    if (med.resourceType !== 'Medication') throw new FhirError(`${where} medicationReference: ${String(ref.reference)} is a ${med.resourceType}, not a Medication`)
    const c = med.code as Concept | undefined
    const text = conceptText(c) ?? str(ref.display)
    if (text === undefined) throw new FhirError(`${where} medicationReference: the Medication ${String(ref.reference)} has no code and the reference no display`)
    return { text, codes: conceptCodes(c), keywords: [...conceptKeywords(c), ...(str(ref.display) !== undefined ? [str(ref.display) as string] : [])] }
  }
  const display = str(ref.display)
  if (display === undefined) throw new FhirError(`${where} medicationReference: ${String(ref.reference)} is not in the bundle and has no display`)
  return { text: display, codes: [], keywords: [display] }
}

function dosageText (r: FhirResource): string | undefined {
  const list = (r.resourceType === 'MedicationRequest' ? r.dosageInstruction : r.dosage) as unknown
  if (!Array.isArray(list)) return undefined
  const t = list.map((d) => str((d as { text?: unknown } | null)?.text)).filter((x): x is string => x !== undefined).join('; ')
  return t === '' ? undefined : t
}

function patientInfo (e: BundleEntry, where: string): FhirPatientInfo {
  const r = e.resource
  const n = (Array.isArray(r.name) ? r.name[0] : undefined) as { text?: unknown, given?: unknown, family?: unknown, prefix?: unknown } | undefined
  const given = Array.isArray(n?.given) ? (n.given as unknown[]).filter((x): x is string => typeof x === 'string') : []
  const name = str(n?.text) ?? str([...given, str(n?.family)].filter((x) => x !== undefined && x !== '').join(' '))
  const out: FhirPatientInfo = { ref: e.logicalRef }
  if (name !== undefined) out.name = name
  if (r.birthDate !== undefined) {
    const b = r.birthDate
    if (typeof b !== 'string' || !/^\d{4}(-\d{2}(-\d{2})?)?$/.test(b) || !DATE.test(b)) throw new FhirError(`${where} birthDate: ${JSON.stringify(b)} is not a FHIR date`)
    out.birthDate = b
    out.birthYear = Number(b.slice(0, 4))
    if (out.birthYear < 1900 || out.birthYear > 2155) throw new FhirError(`${where} birthDate: year ${out.birthYear} outside 1900..2155 (the birth-year index)`)
  }
  const g = str(r.gender)
  if (g !== undefined) out.gender = g
  return out
}

/** Adds keywords, distinct after normalization; a keyword too long for the index is left to the bundle. */
function addKeywords (into: Map<string, string>, kws: readonly string[]): void {
  for (const k of kws) {
    let n: string
    try { n = normalizeKeyword(k) } catch { continue }
    if (n.length <= MAX_KEYWORD_LENGTH && !into.has(n)) into.set(n, k)
  }
}

/** Parses, validates and maps a bundle (its exact bytes). Throws FhirError naming the entry and field. */
export function mapFhirBundle (bytes: Uint8Array): FhirRecord {
  const parsed = parseBundle(bytes)
  const patients = parsed.entries.filter((e) => e.resource.resourceType === 'Patient')
  if (patients.length > 1) throw new FhirError(`the Bundle holds ${patients.length} Patients (${patients.map(parsed.where).join(', ')}): a record belongs to one patient`)
  const kws = new Map<string, string>()
  const patientEntry = patients[0]
  const patient = patientEntry !== undefined ? patientInfo(patientEntry, parsed.where(patientEntry)) : undefined
  if (patient?.ref !== undefined) addKeywords(kws, [patient.ref])
  const items: ClinicalItem[] = []
  const dates: string[] = []
  for (const e of parsed.entries) {
    const r = e.resource
    const where = parsed.where(e)
    if (r.resourceType === 'Encounter') {
      const d = dateOf(e, ['period.start'], where)
      if (d !== undefined) dates.push(d)
      continue
    }
    const spec = CONCEPT[r.resourceType]
    if (spec === undefined) continue
    const ref = e.logicalRef ?? `entry[${e.index}]`
    const date = dateOf(e, spec.dates, where)
    if (date !== undefined) dates.push(date)
    const status = str(r.status) ?? str((r.clinicalStatus as Concept | undefined)?.coding !== undefined ? conceptCodes(r.clinicalStatus as Concept)[0]?.split('|')[1] : undefined)
    if (spec.kind === 'medication') {
      const m = medication(parsed, e, where)
      const dosage = dosageText(r)
      items.push({ kind: 'medication', ref, text: m.text, codes: m.codes, ...(date !== undefined ? { date } : {}), ...(dosage !== undefined ? { dosage } : {}), ...(status !== undefined ? { status } : {}) })
      addKeywords(kws, m.keywords)
      continue
    }
    const c = r[spec.concept] as Concept | undefined
    const text = conceptText(c)
    if (text === undefined) throw new FhirError(`${where} ${spec.concept}: has neither text nor coding (nothing to file the ${r.resourceType} under)`)
    items.push({ kind: spec.kind, ref, text, codes: conceptCodes(c), ...(date !== undefined ? { date } : {}), ...(status !== undefined ? { status } : {}) })
    addKeywords(kws, conceptKeywords(c))
  }
  if (items.length === 0) {
    throw new FhirError('the Bundle has no Condition, Observation, MedicationRequest, MedicationStatement, AllergyIntolerance, Procedure or Immunization')
  }
  const sorted = [...dates].sort((a, b) => instant(a) - instant(b))
  const out: FhirRecord = {
    parsed,
    items,
    prescriptions: items.filter((i) => i.kind === 'medication').map((i) => i.dosage !== undefined ? `${i.text} ${i.dosage}` : i.text),
    keywords: [...kws.values()]
  }
  if (patient !== undefined) out.patient = patient
  const disease = items.find((i) => i.kind === 'condition')?.text
  if (disease !== undefined) out.disease = disease
  if (sorted.length > 0) {
    out.clinicalDate = sorted[sorted.length - 1] as string
    out.clinicalPeriod = { start: sorted[0] as string, end: sorted[sorted.length - 1] as string }
  }
  return out
}
