/**
 * Conjunctive queries (SVBE search: file type AND keyword [AND birth-year range]): one token
 * group set per term, all in one token; the client intersects the verified answers by record id.
 * A range clause is the union of its dyadic-interval terms.
 */
import { toHex } from '../crypto/index.js'
import type { PlanOptions, QueryPlan, SseClient, TermQuery, VerifiedLocation } from './client.js'
import { SseError } from './errors.js'
import { DEFAULT_YEAR_DOMAIN, fileTypeTerm, keywordTerm, yearRangeCover, yearTerm, type Synonyms, type YearDomain } from './normalize.js'

export interface ConjunctiveQuery {
  /** Every keyword must match (each is one clause). */
  keywords?: readonly string[]
  fileType?: string
  /** Inclusive birth-year range. */
  birthYears?: { from: number, to: number }
  synonyms?: Synonyms
  yearDomain?: YearDomain
}

/** A plan plus its clauses: each clause lists the query numbers whose union it is. */
export interface ConjunctivePlan extends QueryPlan {
  queries: TermQuery[]
  clauses: number[][]
}

/** The terms of a conjunctive query, as clauses of terms (AND of ORs). Throws `BAD_INPUT` if empty. */
export function conjunctionClauses (q: ConjunctiveQuery): string[][] {
  const clauses: string[][] = []
  for (const k of new Set((q.keywords ?? []).map((k) => keywordTerm(k, q.synonyms)))) clauses.push([k])
  if (q.fileType !== undefined) clauses.push([fileTypeTerm(q.fileType)])
  if (q.birthYears !== undefined) {
    clauses.push(yearRangeCover(q.birthYears.from, q.birthYears.to, q.yearDomain ?? DEFAULT_YEAR_DOMAIN).map(yearTerm))
  }
  if (clauses.length === 0) throw new SseError('BAD_INPUT', 'a conjunctive query needs at least one keyword, file type or year range')
  return clauses
}

export function planConjunction (client: SseClient, indexKey: Uint8Array, writers: readonly Uint8Array[], q: ConjunctiveQuery, opts?: PlanOptions): ConjunctivePlan {
  return planConjunctionKeys(client, [indexKey], writers, q, opts)
}

/**
 * One plan (one token) for a conjunctive query over several index keys, e.g. every key epoch of
 * the consortium key: each term is searched under each key (a term's clause is the union of its
 * answers under all keys), for every writer. The token has one group per (key, term, writer)
 * tree with updates, so its size and the holder's work grow linearly with the number of keys.
 */
export function planConjunctionKeys (client: SseClient, indexKeys: readonly Uint8Array[], writers: readonly Uint8Array[], q: ConjunctiveQuery, opts?: PlanOptions): ConjunctivePlan {
  if (!Array.isArray(indexKeys) || indexKeys.length === 0) throw new SseError('BAD_INPUT', 'at least one index key is needed')
  const queries: TermQuery[] = []
  const clauses = conjunctionClauses(q).map((terms) => terms.flatMap((term) => indexKeys.map((indexKey) => queries.push({ indexKey, term }) - 1)))
  return { ...client.planSearch(queries, writers, opts), queries, clauses }
}

export interface RecordMatch {
  recordId: Uint8Array
  /** The verified locations of this record, across all clauses. */
  locations: VerifiedLocation[]
}

/**
 * Records present in every clause (a clause with no term, such as a year range outside the
 * domain, matches nothing). Ordered by record id.
 */
export function intersectClauses (clauses: readonly number[][], locations: readonly VerifiedLocation[]): RecordMatch[] {
  if (clauses.length === 0) return []
  const clauseOf = new Map<number, number>()
  clauses.forEach((qs, c) => { for (const q of qs) clauseOf.set(q, c) })
  const byRecord = new Map<string, { recordId: Uint8Array, clauses: Set<number>, locations: VerifiedLocation[] }>()
  for (const l of locations) {
    const c = clauseOf.get(l.query)
    if (c === undefined) continue
    const k = toHex(l.location.recordId)
    let r = byRecord.get(k)
    if (r === undefined) { r = { recordId: l.location.recordId, clauses: new Set(), locations: [] }; byRecord.set(k, r) }
    r.clauses.add(c)
    r.locations.push(l)
  }
  return [...byRecord.entries()]
    .filter(([, r]) => r.clauses.size === clauses.length)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, r]) => ({ recordId: r.recordId, locations: r.locations }))
}
