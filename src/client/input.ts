/**
 * Record input for the SDK and CLI: a plain JSON record, or an HL7 FHIR R4 Bundle.
 *
 * A Bundle is validated and mapped by src/fhir (`mapFhirBundle`): Patient → personal info (name,
 * birth date and year, gender); Condition → disease (the first) and conditions; Observation,
 * AllergyIntolerance, Procedure, Immunization → their kinds' lists in the symptoms field (an
 * observation's value stays in the bundle, it is not a symptom); MedicationRequest /
 * MedicationStatement → prescriptions (following `medicationReference` inside the bundle). Every
 * code is indexed as `system|code`, the bare code and its display texts, plus `Patient/<id>`. The
 * bundle's exact bytes become the record's attachment 0 (`fhir.bytes`), readable by whoever holds
 * all three field keys (`deriveAttachmentKeyFromFields`).
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
import { FhirError, mapFhirBundle, type ClinicalItem } from '../fhir/index.js'
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
  /** A FHIR Bundle's exact bytes (kept as attachment 0) and what the symptoms and prescriptions fields hold beyond the lists above. */
  fhir?: FhirInput
}

export interface FhirInput {
  bytes: Uint8Array
  /** Merged into the symptoms field. */
  clinical: Record<string, unknown>
  /** Merged into the prescriptions field. */
  medications: ClinicalItem[]
}

/** Name and media type of the attachment that holds the original FHIR Bundle. */
export const FHIR_BUNDLE_ATTACHMENT = { name: 'fhir-bundle.json', mediaType: 'application/fhir+json' } as const

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

/**
 * Maps a FHIR R4 Bundle given as its exact bytes (see the module comment). Throws BAD_INPUT whose
 * message names the entry and field of what is wrong.
 */
export function recordFromFhirBytes (bytes: Uint8Array, fileType?: string): RecordInput {
  let m
  try { m = mapFhirBundle(bytes) } catch (err) {
    if (err instanceof FhirError) throw new ClientError('BAD_INPUT', err.message)
    throw err
  }
  const personalInfo: PersonalInfo = {}
  if (m.patient?.name !== undefined) personalInfo.name = m.patient.name
  if (m.patient?.birthYear !== undefined) personalInfo.birthYear = m.patient.birthYear
  if (m.patient?.gender !== undefined) personalInfo.sex = m.patient.gender
  if (m.patient?.birthDate !== undefined) personalInfo.birthDate = m.patient.birthDate
  if (m.patient?.ref !== undefined) personalInfo.fhirPatient = m.patient.ref
  const of = (kind: ClinicalItem['kind']): string[] => m.items.filter((i) => i.kind === kind).map((i) => i.text)
  const bundleType = typeof m.parsed.bundle.type === 'string' ? m.parsed.bundle.type : undefined
  return {
    personalInfo,
    disease: m.disease,
    symptoms: [],
    prescriptions: m.prescriptions,
    keywords: m.keywords,
    fileType: fileType ?? 'fhir-bundle',
    birthYear: m.patient?.birthYear,
    fhir: {
      bytes: m.parsed.bytes,
      clinical: {
        clinicalDate: m.clinicalDate,
        clinicalPeriod: m.clinicalPeriod,
        conditions: of('condition'),
        observations: of('observation'),
        allergies: of('allergy'),
        procedures: of('procedure'),
        immunizations: of('immunization'),
        items: m.items.filter((i) => i.kind !== 'medication'),
        bundle: { attachment: 0, type: bundleType, entries: m.parsed.entries.length, bytes: m.parsed.bytes.length }
      },
      medications: m.items.filter((i) => i.kind === 'medication')
    }
  }
}

/** Maps a FHIR R4 Bundle object (serialized as JSON: use `recordFromFhirBytes` to keep a file's exact bytes). */
export function recordFromFhirBundle (bundle: unknown, fileType?: string): RecordInput {
  return recordFromFhirBytes(new TextEncoder().encode(JSON.stringify(bundle)), fileType)
}

/** True when the JSON value is a FHIR Bundle (`resourceType: "Bundle"`). */
export const isFhirBundle = (raw: unknown): boolean => raw !== null && typeof raw === 'object' && (raw as { resourceType?: unknown }).resourceType === 'Bundle'

/** A record input file's bytes: a FHIR R4 Bundle (kept byte-exact) or a plain JSON record. */
export function parseRecordInputBytes (bytes: Uint8Array, what = 'record input'): RecordInput {
  let raw: unknown
  try { raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) } catch (err) { throw new ClientError('BAD_INPUT', `${what} is not JSON: ${(err as Error).message}`) }
  return isFhirBundle(raw) ? recordFromFhirBytes(bytes) : parseRecordJson(raw)
}

/** A plain JSON record or a FHIR R4 Bundle (detected by `resourceType: "Bundle"`). */
export function parseRecordInput (raw: unknown): RecordInput {
  if (isFhirBundle(raw)) return recordFromFhirBundle(raw)
  return parseRecordJson(raw)
}
