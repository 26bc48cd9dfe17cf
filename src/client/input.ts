/**
 * Record input for the SDK and CLI: a plain JSON record, or an HL7 FHIR R4 Bundle mapped as
 * Patient → personal info (name, birthDate → birth year, gender), Condition / Observation →
 * symptoms and keywords (`code.text`, else the first `coding[].display`), MedicationRequest →
 * prescriptions (`medicationCodeableConcept` text and `dosageInstruction[].text`).
 *
 * Plain JSON input:
 * ```json
 * { "personalInfo": { "name": "Ana Silva", "birthYear": 1984, "sex": "female" },
 *   "disease": "influenza", "symptoms": ["fever", "cough"], "prescriptions": ["oseltamivir 75 mg bid 5 d"],
 *   "keywords": ["influenza", "fever", "cough"], "fileType": "consultation-note" }
 * ```
 * `keywords` defaults to the disease plus the symptoms; `birthYear` (top level or in personalInfo)
 * is indexed for birth-year range searches.
 */
/// <reference types="fhir" />
// The installed `@types/fhir` (3.0.2) declares the global `fhir` namespace (STU3 structure names);
// every element read here (Patient.name/birthDate/gender, Condition.code, Observation.code,
// MedicationRequest.medicationCodeableConcept/medicationReference/dosageInstruction.text) has the same shape in R4.
type Bundle = fhir.Bundle
type CodeableConcept = fhir.CodeableConcept
type Condition = fhir.Condition
type MedicationRequest = fhir.MedicationRequest
type Observation = fhir.Observation
type FhirPatient = fhir.Patient
import { ClientError } from './errors.js'

export interface PersonalInfo {
  name?: string
  birthYear?: number
  sex?: string
  [k: string]: unknown
}

/** A record before encryption: what goes into the three fields and the search indexes. */
export interface RecordInput {
  personalInfo: PersonalInfo
  disease?: string
  symptoms: string[]
  prescriptions: string[]
  keywords: string[]
  fileType?: string
  birthYear?: number
}

const strList = (v: unknown, what: string): string[] => {
  if (v === undefined) return []
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.trim().length > 0)) throw new ClientError('BAD_INPUT', `${what} must be a list of non-empty strings`)
  return v.map((x: string) => x.trim())
}

function year (v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined
  if (!Number.isInteger(v) || (v as number) < 1900 || (v as number) > 2155) throw new ClientError('BAD_INPUT', `${what} must be an integer year in 1900..2155`)
  return v as number
}

/** Validates a plain JSON record input. */
export function parseRecordJson (raw: unknown): RecordInput {
  const o = raw as Record<string, unknown> | null
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new ClientError('BAD_INPUT', 'record input must be a JSON object')
  const known = new Set(['personalInfo', 'disease', 'symptoms', 'prescriptions', 'keywords', 'fileType', 'birthYear'])
  for (const k of Object.keys(o)) if (!known.has(k)) throw new ClientError('BAD_INPUT', `unknown record input property '${k}' (allowed: ${[...known].join(', ')})`)
  const pi = o.personalInfo ?? {}
  if (pi === null || typeof pi !== 'object' || Array.isArray(pi)) throw new ClientError('BAD_INPUT', 'personalInfo must be an object')
  const personalInfo = { ...(pi as PersonalInfo) }
  if (o.disease !== undefined && (typeof o.disease !== 'string' || o.disease.trim() === '')) throw new ClientError('BAD_INPUT', 'disease must be a non-empty string')
  if (o.fileType !== undefined && (typeof o.fileType !== 'string' || o.fileType.trim() === '')) throw new ClientError('BAD_INPUT', 'fileType must be a non-empty string')
  const disease = (o.disease as string | undefined)?.trim()
  const symptoms = strList(o.symptoms, 'symptoms')
  const prescriptions = strList(o.prescriptions, 'prescriptions')
  const keywords = o.keywords === undefined ? [...(disease !== undefined ? [disease] : []), ...symptoms] : strList(o.keywords, 'keywords')
  const birthYear = year(o.birthYear, 'birthYear') ?? year(personalInfo.birthYear, 'personalInfo.birthYear')
  if (birthYear !== undefined) personalInfo.birthYear = birthYear
  if (symptoms.length === 0 && prescriptions.length === 0 && disease === undefined) throw new ClientError('BAD_INPUT', 'a record needs a disease, symptoms or prescriptions')
  return { personalInfo, disease, symptoms, prescriptions, keywords: [...new Set(keywords)], fileType: (o.fileType as string | undefined)?.trim(), birthYear }
}

function conceptText (c: CodeableConcept | undefined): string | undefined {
  const t = c?.text ?? c?.coding?.find((x) => typeof x.display === 'string' && x.display.trim() !== '')?.display
  return typeof t === 'string' && t.trim() !== '' ? t.trim() : undefined
}

/** Maps a FHIR R4 Bundle (Patient, Condition, Observation, MedicationRequest entries) to a record input. */
export function recordFromFhirBundle (bundle: Bundle, fileType?: string): RecordInput {
  if (bundle === null || typeof bundle !== 'object' || bundle.resourceType !== 'Bundle' || !Array.isArray(bundle.entry)) {
    throw new ClientError('BAD_INPUT', 'not a FHIR R4 Bundle with entries')
  }
  const resources = bundle.entry.map((e) => e.resource).filter((r) => r !== undefined)
  const patients = resources.filter((r): r is FhirPatient => r.resourceType === 'Patient')
  if (patients.length > 1) throw new ClientError('BAD_INPUT', 'the Bundle holds more than one Patient')
  const personalInfo: PersonalInfo = {}
  let birthYear: number | undefined
  const p = patients[0]
  if (p !== undefined) {
    const n = p.name?.[0]
    const name = n?.text ?? [...(n?.given ?? []), n?.family].filter((x) => typeof x === 'string' && x !== '').join(' ')
    if (name !== '') personalInfo.name = name
    if (p.birthDate !== undefined) {
      const m = /^(\d{4})/.exec(p.birthDate)
      if (m === null) throw new ClientError('BAD_INPUT', `Patient.birthDate '${p.birthDate}' is not a FHIR date`)
      birthYear = year(Number(m[1]), 'Patient.birthDate year')
      personalInfo.birthYear = birthYear
    }
    if (p.gender !== undefined) personalInfo.sex = p.gender
  }
  const conditions = resources.filter((r): r is Condition => r.resourceType === 'Condition').map((c) => conceptText(c.code)).filter((x): x is string => x !== undefined)
  const observations = resources.filter((r): r is Observation => r.resourceType === 'Observation').map((o) => conceptText(o.code)).filter((x): x is string => x !== undefined)
  const prescriptions = resources.filter((r): r is MedicationRequest => r.resourceType === 'MedicationRequest').map((m) => {
    const drug = conceptText(m.medicationCodeableConcept) ?? m.medicationReference?.display
    const dose = (m.dosageInstruction ?? []).map((d) => d.text).filter((t): t is string => typeof t === 'string' && t.trim() !== '').join('; ')
    return [drug, dose].filter((x) => x !== undefined && x !== '').join(' ')
  }).filter((x) => x !== '')
  const symptoms = [...new Set([...conditions, ...observations])]
  if (symptoms.length === 0 && prescriptions.length === 0) throw new ClientError('BAD_INPUT', 'the Bundle has no Condition, Observation or MedicationRequest with a code text or display')
  return {
    personalInfo,
    disease: conditions[0],
    symptoms,
    prescriptions,
    keywords: symptoms,
    fileType: fileType ?? 'fhir-bundle',
    birthYear
  }
}

/** A plain JSON record or a FHIR R4 Bundle (detected by `resourceType: "Bundle"`). */
export function parseRecordInput (raw: unknown): RecordInput {
  if (raw !== null && typeof raw === 'object' && (raw as { resourceType?: unknown }).resourceType === 'Bundle') return recordFromFhirBundle(raw as Bundle)
  return parseRecordJson(raw)
}
