/**
 * FHIR R4 REST semantics for the local gateway, as pure functions: parsing the search parameters
 * it serves, matching resources of decrypted bundles against them, and building the answers
 * (searchset Bundles with paging links, OperationOutcomes, the CapabilityStatement). The gateway
 * first narrows the records through the encrypted indexes (a keyword, a birth-year range), then
 * decrypts them and applies these exact matches.
 */
import { normalizeKeyword } from '../sse/index.js'
import type { BundleEntry, FhirResource, ParsedBundle } from './bundle.js'
import { conceptKeywords } from './map.js'
import { FhirError } from './errors.js'

/** A FHIR search token: `system|code`, `code` (any system), `|code` (no system), or `:text`. */
export type TokenQuery =
  | { kind: 'code', system?: string, code: string, noSystem?: boolean }
  | { kind: 'text', text: string }

/** Parses one value of a token parameter (`code=` or `code:text=`). Throws FhirError on what the index cannot serve. */
export function parseToken (value: string, modifier?: string): TokenQuery {
  if (modifier === 'text') {
    if (value.trim() === '') throw new FhirError('code:text needs a text')
    return { kind: 'text', text: value }
  }
  if (modifier !== undefined) throw new FhirError(`the modifier :${modifier} is not supported (use code, code:text)`)
  const bar = value.indexOf('|')
  if (bar < 0) {
    if (value.trim() === '') throw new FhirError('an empty code')
    return { kind: 'code', code: value }
  }
  const system = value.slice(0, bar)
  const code = value.slice(bar + 1)
  if (code === '') throw new FhirError(`'${value}': a system without a code is not searchable (only codes are indexed)`)
  return system === '' ? { kind: 'code', code, noSystem: true } : { kind: 'code', system, code }
}

/** The index keyword that finds the records a token can match. */
export function tokenKeyword (t: TokenQuery): string {
  return t.kind === 'text' ? t.text : t.system !== undefined ? `${t.system}|${t.code}` : t.code
}

interface Concept { text?: unknown, coding?: unknown }

/** Does a CodeableConcept match the token (exactly, after the index's keyword normalization for text)? */
export function conceptMatches (c: Concept | undefined, t: TokenQuery): boolean {
  if (c === undefined || c === null) return false
  if (t.kind === 'text') {
    const want = normalizeKeyword(t.text)
    return conceptKeywords(c).some((k) => { try { return normalizeKeyword(k) === want } catch { return false } })
  }
  const codings = Array.isArray(c.coding) ? c.coding as Array<{ system?: unknown, code?: unknown }> : []
  return codings.some((x) => x.code === t.code && (t.noSystem === true ? x.system === undefined : t.system === undefined || x.system === t.system))
}

/** A FHIR date search value: prefix and the instant range the value stands for. */
export interface DateQuery { prefix: 'eq' | 'ne' | 'ge' | 'le' | 'gt' | 'lt', start: number, end: number, year: number, raw: string }

function dateRange (v: string): { start: number, end: number } | undefined {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(v)
  if (m === null) return undefined
  const y = Number(m[1])
  const mo = m[2] !== undefined ? Number(m[2]) : undefined
  const d = m[3] !== undefined ? Number(m[3]) : undefined
  if ((mo !== undefined && (mo < 1 || mo > 12)) || (d !== undefined && (d < 1 || d > 31))) return undefined
  const start = Date.UTC(y, (mo ?? 1) - 1, d ?? 1)
  const end = d !== undefined ? Date.UTC(y, (mo as number) - 1, d + 1) : mo !== undefined ? Date.UTC(y, mo, 1) : Date.UTC(y + 1, 0, 1)
  return { start, end }
}

/** Parses `birthdate=[prefix]YYYY[-MM[-DD]]`. */
export function parseDate (value: string): DateQuery {
  const m = /^(eq|ne|ge|le|gt|lt)?(.*)$/.exec(value) as RegExpExecArray
  const r = dateRange(m[2] as string)
  if (r === undefined) throw new FhirError(`birthdate '${value}': expected [eq|ne|ge|le|gt|lt]YYYY[-MM[-DD]]`)
  return { prefix: (m[1] ?? 'eq') as DateQuery['prefix'], ...r, year: Number((m[2] as string).slice(0, 4)), raw: value }
}

/** Does a FHIR date (as written in a resource) satisfy every query? (FHIR R4 search, ranges compared as intervals.) */
export function dateMatches (value: unknown, qs: readonly DateQuery[]): boolean {
  if (typeof value !== 'string') return false
  const r = dateRange(value)
  if (r === undefined) return false
  return qs.every((q) => {
    switch (q.prefix) {
      case 'eq': return r.start >= q.start && r.end <= q.end
      case 'ne': return !(r.start >= q.start && r.end <= q.end)
      case 'ge': return r.end > q.start
      case 'gt': return r.end > q.end
      case 'le': return r.start < q.end
      case 'lt': return r.start < q.start
      default: return false
    }
  })
}

/** The inclusive birth-year range the date queries can match (what the birth-year index is searched with). */
export function yearBounds (qs: readonly DateQuery[], min = 1900, max = 2155): { from: number, to: number } {
  let from = min
  let to = max
  for (const q of qs) {
    if (q.prefix === 'eq') { from = Math.max(from, q.year); to = Math.min(to, q.year) }
    if (q.prefix === 'ge' || q.prefix === 'gt') from = Math.max(from, q.year)
    if (q.prefix === 'le' || q.prefix === 'lt') to = Math.min(to, q.year)
  }
  return { from, to }
}

/** The logical id of an entry's resource (its id, else the uuid of its urn:uuid fullUrl). */
export function logicalId (e: BundleEntry): string | undefined {
  return e.logicalRef?.slice(e.logicalRef.indexOf('/') + 1)
}

/**
 * A copy of an entry's resource as the gateway serves it: with its logical id, and every reference
 * that resolves inside the bundle rewritten to `Type/id` (a urn:uuid means nothing outside its bundle).
 */
export function exportResource (p: ParsedBundle, e: BundleEntry): FhirResource {
  const copy = structuredClone(e.resource)
  const id = logicalId(e)
  if (id !== undefined) copy.id = id
  const rewrite = (v: unknown): void => {
    if (Array.isArray(v)) { v.forEach(rewrite); return }
    if (v === null || typeof v !== 'object') return
    const o = v as Record<string, unknown>
    if (typeof o.reference === 'string' && !o.reference.startsWith('#')) {
      const target = p.resolveEntry(o.reference)
      if (target?.logicalRef !== undefined) o.reference = target.logicalRef
    }
    for (const [k, x] of Object.entries(o)) if (k !== 'contained') rewrite(x)
  }
  rewrite(copy)
  return copy
}

/** Does the entry's `field` reference point to the Patient with this logical id (inside its bundle)? */
export function refersToPatient (p: ParsedBundle, e: BundleEntry, field: string, patientId: string): boolean {
  const ref = (e.resource[field] as { reference?: unknown } | undefined)?.reference
  if (typeof ref !== 'string') return false
  const target = p.resolveEntry(ref)
  if (target !== undefined) return target.resource.resourceType === 'Patient' && logicalId(target) === patientId
  return ref === `Patient/${patientId}`
}

export interface IssueInput { severity?: 'fatal' | 'error' | 'warning' | 'information', code: string, diagnostics: string }

export function operationOutcome (...issues: IssueInput[]): FhirResource {
  return { resourceType: 'OperationOutcome', issue: issues.map((i) => ({ severity: i.severity ?? 'error', code: i.code, diagnostics: i.diagnostics })) }
}

/** A searchset page: `_count` results from `offset`, with self / next / previous links. */
export function searchset (all: readonly FhirResource[], base: string, url: URL, count: number, offset: number, outcome?: FhirResource): FhirResource {
  const page = all.slice(offset, offset + count)
  const link = (o: number): string => {
    const u = new URL(url.toString())
    u.searchParams.set('_count', String(count))
    u.searchParams.set('_offset', String(o))
    return u.toString()
  }
  const links = [{ relation: 'self', url: link(offset) }]
  if (offset + count < all.length) links.push({ relation: 'next', url: link(offset + count) })
  if (offset > 0) links.push({ relation: 'previous', url: link(Math.max(0, offset - count)) })
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: all.length,
    link: links,
    entry: [
      ...page.map((r) => ({ fullUrl: `${base}/${r.resourceType}/${String(r.id)}`, resource: r, search: { mode: 'match' } })),
      ...(outcome !== undefined ? [{ resource: outcome, search: { mode: 'outcome' } }] : [])
    ]
  }
}

/** The gateway's CapabilityStatement (what it serves, and how). */
export function capabilityStatement (base: string, software: { name: string, version: string }, date: string): FhirResource {
  const token = 'token: system|code, a bare code, |code, and code:text= (the whole display text or CodeableConcept.text, case-insensitive), through the encrypted keyword index'
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    kind: 'instance',
    software,
    implementation: { description: 'pqmed local FHIR gateway: searches the encrypted indexes and decrypts with one identity\'s keys', url: base },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [{
      mode: 'server',
      interaction: [{ code: 'transaction' }],
      resource: [
        {
          type: 'Patient',
          interaction: [{ code: 'read' }, { code: 'search-type' }],
          searchParam: [{ name: 'birthdate', type: 'date', documentation: 'eq/ne/ge/le/gt/lt with YYYY, YYYY-MM or YYYY-MM-DD: the birth-year index narrows the records, the decrypted birthDate decides' }]
        },
        { type: 'Condition', interaction: [{ code: 'search-type' }], searchParam: [{ name: 'code', type: 'token', documentation: token }] },
        { type: 'MedicationRequest', interaction: [{ code: 'search-type' }], searchParam: [{ name: 'patient', type: 'reference', documentation: 'the Patient\'s logical id (Patient/<id> is indexed)' }] }
      ]
    }]
  }
}
