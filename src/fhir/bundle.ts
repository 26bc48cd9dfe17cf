/**
 * Reading an HL7 FHIR R4 Bundle as it arrived: its exact bytes are kept (they become an encrypted
 * attachment of the record), the JSON is parsed, the structure is validated against the FHIR R4
 * StructureDefinitions shipped by the `fhir` package (FHIR.js), and every reference inside the
 * bundle is resolved: by `fullUrl` (`urn:uuid:…`, `urn:oid:…` or an absolute URL), by relative
 * `Type/id` (also against absolute fullUrls ending in `Type/id`), and to contained resources (`#id`).
 *
 * Errors are `FhirError`s whose message names the entry and the field (`entry[3] MedicationRequest/m1
 * medicationReference: …`). This module is pure: no networking, no storage.
 */
import { createRequire } from 'node:module'
import type { Fhir } from 'fhir'
import { FhirError } from './errors.js'

/** A FHIR resource as parsed JSON (only `resourceType` is known to be there). */
export interface FhirResource {
  resourceType: string
  id?: string
  [k: string]: unknown
}

/** A FHIR Reference element. */
export interface FhirReference {
  reference?: string
  display?: string
  [k: string]: unknown
}

export interface BundleEntry {
  /** Position in `Bundle.entry`. */
  index: number
  fullUrl?: string
  resource: FhirResource
  /** `Type/id` when the resource has an id, else `Type/<uuid>` from a `urn:uuid:` fullUrl, else undefined. */
  logicalRef?: string
}

export interface ParsedBundle {
  /** The bytes exactly as given. */
  bytes: Uint8Array
  bundle: FhirResource & { type?: string, entry?: unknown[] }
  entries: BundleEntry[]
  /** Finds the resource a reference points to, from the entry (and its contained resources) it appears in. */
  resolve: (ref: FhirReference | undefined, from: BundleEntry) => FhirResource | undefined
  /** The entry a (non-contained) reference points to. */
  resolveEntry: (ref: string) => BundleEntry | undefined
  /** `entry[i] Type/id` for messages. */
  where: (e: BundleEntry) => string
}

/** Bundle types this import takes (a searchset or history is a query answer, not a record). */
export const IMPORTABLE_BUNDLE_TYPES = ['collection', 'transaction', 'batch', 'document', 'message'] as const

const UUID = /^urn:uuid:([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/
const RELATIVE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[A-Za-z0-9\-.]{1,64})?$/

let fhirLib: Fhir | undefined

/**
 * The FHIR R4 structure check (FHIR.js `Fhir.validate`, code checks only where the binding is
 * required). FHIR.js and its R4 definitions are loaded on first use, so the client commands that
 * import no FHIR do not pay for them.
 */
function structureProblems (bundle: unknown): Array<{ location: string, resourceId: string, message: string }> {
  fhirLib ??= new (createRequire(import.meta.url)('fhir') as typeof import('fhir')).Fhir()
  const r = fhirLib.validate(bundle as object, { errorOnUnexpected: true })
  return r.messages
    .filter((m) => m.severity === 'error' || m.severity === 'fatal')
    .map((m) => ({ location: m.location ?? '', resourceId: m.resourceId ?? '', message: m.message ?? 'invalid' }))
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)

/** Parses, validates and indexes a bundle. Throws FhirError naming the entry and field of the first problems found. */
export function parseBundle (bytes: Uint8Array): ParsedBundle {
  let raw: unknown
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch (err) {
    throw new FhirError(`not a JSON document: ${(err as Error).message}`)
  }
  if (!isObject(raw) || raw.resourceType !== 'Bundle') throw new FhirError('not a FHIR R4 Bundle (resourceType must be "Bundle")')
  if (typeof raw.type !== 'string' || !(IMPORTABLE_BUNDLE_TYPES as readonly string[]).includes(raw.type)) {
    throw new FhirError(`Bundle.type must be one of ${IMPORTABLE_BUNDLE_TYPES.join(', ')} (got ${JSON.stringify(raw.type)})`)
  }
  if (!Array.isArray(raw.entry) || raw.entry.length === 0) throw new FhirError('Bundle.entry must be a non-empty array')
  const bundle = raw as ParsedBundle['bundle']
  const entries: BundleEntry[] = []
  const problems: string[] = []
  ;(raw.entry as unknown[]).forEach((e, index) => {
    if (!isObject(e) || !isObject(e.resource) || typeof e.resource.resourceType !== 'string') {
      problems.push(`entry[${index}] resource: missing (every entry must hold a resource with a resourceType)`)
      return
    }
    const fullUrl = typeof e.fullUrl === 'string' ? e.fullUrl : undefined
    const resource = e.resource as FhirResource
    const uuid = fullUrl !== undefined ? UUID.exec(fullUrl)?.[1] : undefined
    const logicalRef = typeof resource.id === 'string' ? `${resource.resourceType}/${resource.id}` : uuid !== undefined ? `${resource.resourceType}/${uuid.toLowerCase()}` : undefined
    entries.push({ index, fullUrl, resource, logicalRef })
  })
  const where = (e: BundleEntry): string => `entry[${e.index}] ${e.logicalRef ?? e.resource.resourceType}`

  // the structure, against the R4 definitions; messages are mapped back to their entry
  for (const p of structureProblems(raw)) {
    const m = /^Bundle\.entry\[(\d+)\]/.exec(p.resourceId)
    let entry = m !== null ? entries.find((e) => e.index === Number(m[1])) : undefined
    const type = p.location.split('.')[0]
    entry ??= entries.find((e) => e.resource.id === p.resourceId && e.resource.resourceType === type)
    const field = entry !== undefined && p.location.startsWith(`${entry.resource.resourceType}.`) ? p.location.slice(entry.resource.resourceType.length + 1) : p.location
    problems.push(`${entry !== undefined ? where(entry) : 'Bundle'} ${field}: ${p.message}`)
  }

  const byUrl = new Map<string, BundleEntry>()
  const byRef = new Map<string, BundleEntry>()
  for (const e of entries) {
    if (e.fullUrl !== undefined) {
      if (byUrl.has(e.fullUrl)) problems.push(`${where(e)} fullUrl: ${e.fullUrl} is also the fullUrl of ${where(byUrl.get(e.fullUrl) as BundleEntry)}`)
      byUrl.set(e.fullUrl, e)
      const tail = /([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})$/.exec(e.fullUrl)?.[1]
      if (tail !== undefined && !byRef.has(tail)) byRef.set(tail, e)
    }
    if (e.logicalRef !== undefined && !byRef.has(e.logicalRef)) byRef.set(e.logicalRef, e)
  }

  const resolveEntry = (r: string): BundleEntry | undefined => {
    const direct = byUrl.get(r)
    if (direct !== undefined) return direct
    const m = RELATIVE.exec(r)
    return m !== null ? byRef.get(`${m[1]}/${m[2]}`) : undefined
  }
  const resolve = (ref: FhirReference | undefined, from: BundleEntry): FhirResource | undefined => {
    const r = ref?.reference
    if (typeof r !== 'string') return undefined
    if (r.startsWith('#')) {
      const contained = Array.isArray(from.resource.contained) ? from.resource.contained as FhirResource[] : []
      return r === '#' ? from.resource : contained.find((c) => isObject(c) && c.id === r.slice(1))
    }
    return resolveEntry(r)?.resource
  }

  // every reference inside the bundle must resolve: a dangling urn:uuid or #id loses data
  for (const e of entries) {
    walkReferences(e.resource, e.resource.resourceType, (path, ref) => {
      const r = ref.reference as string
      const local = r.startsWith('#') || r.startsWith('urn:uuid:') || r.startsWith('urn:oid:')
      if (local && resolve(ref, e) === undefined) problems.push(`${where(e)} ${path}: reference ${r} does not resolve inside the bundle`)
    })
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 10)
    throw new FhirError(`invalid FHIR R4 Bundle: ${shown.join('; ')}${problems.length > shown.length ? `; and ${problems.length - shown.length} more` : ''}`, problems)
  }
  return { bytes, bundle, entries, resolve, resolveEntry, where }
}

/** Calls `visit` for every Reference element (an object with a string `reference`) under `value`. */
export function walkReferences (value: unknown, path: string, visit: (path: string, ref: FhirReference) => void): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => { walkReferences(v, `${path}[${i}]`, visit) })
    return
  }
  if (!isObject(value)) return
  if (typeof value.reference === 'string') visit(path.replace(/^[A-Za-z]+\./, ''), value as FhirReference)
  for (const [k, v] of Object.entries(value)) {
    if (k === 'contained' || k === 'reference') continue
    walkReferences(v, `${path}.${k}`, visit)
  }
}
