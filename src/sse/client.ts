/**
 * The client side: making index updates (writers), planning searches and verifying results.
 * Everything secret (index keys, tree roots, value keys) stays here; only `IndexUpdate`s and
 * `plan.token` leave the client.
 */
import { randomBytes, toHex } from '../crypto/index.js'
import { CounterState } from './counters.js'
import { assertBytes, SseError } from './errors.js'
import { coverRange, deriveNode, forEachLeaf, leafLabel, LeafPath, type GgmNode } from './ggm.js'
import { DEFAULT_YEAR_DOMAIN, fileTypeTerm, keywordTerm, patientTerm, yearIntervals, yearTerm, type Synonyms, type YearDomain } from './normalize.js'
import { checkPosition, labelKey, type IndexPosition, type StoredEntry } from './store.js'
import type { SearchToken } from './token.js'
import { checkLocation, openValue, sealValue, treeKeys, type IndexUpdate, type Location, type TreeKeys } from './value.js'

/** One term to search, under one index key (the consortium key, or a patient's key for index 1). */
export interface TermQuery {
  indexKey: Uint8Array
  term: string
}

/** What the client remembers about one group of a token: never sent (it holds the value key). */
export interface QueryGroup {
  /** Position of the term in the `queries` given to `planSearch`. */
  query: number
  term: string
  writer: Uint8Array
  /** Update numbers searched: `[start, end)`. */
  start: number
  end: number
  nodes: GgmNode[]
  valueKey: Uint8Array
}

/** A planned search: send `token` (via `encodeSearchToken`), keep the rest to verify the answer. */
export interface QueryPlan {
  token: SearchToken
  groups: QueryGroup[]
}

export interface PlanOptions {
  /** Counts already searched (incremental search): only updates numbered from these counts on are searched. */
  since?: CounterState
}

/** Checks the inclusion proof the node attached to an entry (the node issue supplies it). */
export type ProofVerifier = (entry: StoredEntry) => boolean

export interface VerifiedLocation {
  query: number
  term: string
  writer: Uint8Array
  counter: number
  location: Location
  position: IndexPosition
}

export interface OmittedEntry {
  query: number
  term: string
  writer: Uint8Array
  counter: number
  label: Uint8Array
}

export type ForgeryReason = 'MALFORMED' | 'UNEXPECTED_LABEL' | 'DUPLICATE' | 'BAD_VALUE' | 'BAD_PROOF'

export interface ForgedEntry {
  entry: StoredEntry
  reason: ForgeryReason
}

export interface VerifiedSearch {
  /** Authentic results, in plan order (group, then update number). */
  locations: VerifiedLocation[]
  /** Expected updates (by the client's counters) with no authentic result. */
  omitted: OmittedEntry[]
  /** Returned entries that are not authentic answers to this plan. */
  forged: ForgedEntry[]
}

/** Input of `SseClient.indexRecord`: the index updates of one record, for both indexes. */
export interface RecordIndexInput {
  /** The writing doctor's id (SHA-256 of its ML-DSA public key). */
  writer: Uint8Array
  recordId: Uint8Array
  /** SHA-256 of the three field ciphertexts (personal info, symptoms, prescriptions). */
  fieldHashes: readonly [Uint8Array, Uint8Array, Uint8Array]
  /** Index 2 key (consortium). Required when keywords, fileType or birthYear are given. */
  consortiumKey?: Uint8Array
  /** Index 1: the patient's id and per-patient index key. */
  patient?: { id: Uint8Array, key: Uint8Array }
  /** Symptom / disease keywords (raw; normalized here). Indexed to the symptoms field (1). */
  keywords?: readonly string[]
  /** File type. Indexed to the symptoms field (1). */
  fileType?: string
  /** Birth year: indexed under its dyadic intervals, to the personal-info field (0). */
  birthYear?: number
  synonyms?: Synonyms
  yearDomain?: YearDomain
}

interface TreeState {
  keys: TreeKeys
  path?: LeafPath
}

export interface SseClientOptions {
  counters?: CounterState
  /** Trees whose keys and last leaf path are cached (default 16384, about 1.3 KB each). */
  cacheTrees?: number
}

export class SseClient {
  readonly counters: CounterState
  private readonly cache = new Map<string, TreeState>()
  private readonly cacheTrees: number

  constructor (opts: SseClientOptions = {}) {
    this.counters = opts.counters ?? new CounterState()
    this.cacheTrees = opts.cacheTrees ?? 16384
  }

  /** Keys of the (index key, writer, term) tree. */
  tree (indexKey: Uint8Array, writer: Uint8Array, term: string): TreeKeys {
    return this.treeState(indexKey, writer, term).keys
  }

  private treeState (indexKey: Uint8Array, writer: Uint8Array, term: string): TreeState {
    assertBytes(indexKey, 'index key', 32)
    assertBytes(writer, 'writer id', 32)
    const k = `${toHex(indexKey)}|${toHex(writer)}|${term}`
    let s = this.cache.get(k)
    if (s === undefined) {
      if (this.cache.size >= this.cacheTrees) this.cache.clear()
      s = { keys: treeKeys(indexKey, writer, term) }
      this.cache.set(k, s)
    }
    return s
  }

  /**
   * One index update: `term` now points to `location`. Takes the next update number of the
   * (key, writer, term) tree from the counters. Submit every update until it is committed:
   * a missing update number later shows up as an omission in every search of the term.
   */
  update (indexKey: Uint8Array, writer: Uint8Array, term: string, location: Location): IndexUpdate {
    checkLocation(location)
    const s = this.treeState(indexKey, writer, term)
    const i = this.counters.next(s.keys.id)
    s.path ??= new LeafPath(s.keys.root)
    const leaf = s.path.leaf(i)
    const label = leafLabel(leaf)
    return { label, value: sealValue(s.keys.valueKey, leaf, label, location) }
  }

  /**
   * All index updates of one record, shuffled so that their order in the block reveals no term
   * kind: index 1 (`patient:<id>`), and index 2 keywords, `type:` and the birth-year intervals.
   */
  indexRecord (input: RecordIndexInput): IndexUpdate[] {
    assertBytes(input.recordId, 'recordId', 32)
    if (!Array.isArray(input.fieldHashes) || input.fieldHashes.length !== 3) throw new SseError('BAD_INPUT', 'fieldHashes must be three hashes')
    const at = (field: 0 | 1 | 2): Location => ({ recordId: input.recordId, field, ciphertextHash: input.fieldHashes[field] })
    return shuffle(recordTerms(input).map((t) => this.update(t.indexKey, input.writer, t.term, at(t.field))))
  }

  /**
   * Plans a search of every term over every writer: per (term, writer) tree with updates, the
   * minimal GGM cover of `[since, count)`. Trees with nothing to search are left out.
   */
  planSearch (queries: readonly TermQuery[], writers: readonly Uint8Array[], opts: PlanOptions = {}): QueryPlan {
    if (!Array.isArray(queries) || !Array.isArray(writers)) throw new SseError('BAD_INPUT', 'queries and writers must be arrays')
    const groups: QueryGroup[] = []
    queries.forEach((q, query) => {
      for (const writer of writers) {
        const keys = this.tree(q.indexKey, writer, q.term)
        const end = this.counters.get(keys.id)
        const start = Math.min(opts.since?.get(keys.id) ?? 0, end)
        if (start === end) continue
        const nodes = coverRange(start, end).map((pos) => ({ ...pos, key: deriveNode(keys.root, pos) }))
        groups.push({ query, term: q.term, writer, start, end, nodes, valueKey: keys.valueKey })
      }
    })
    return { token: { groups: groups.map((g) => g.nodes), labels: [] }, groups }
  }
}

/** One (index key, term) tree a record writes to, and the field its update points at. */
export interface RecordTerm extends TermQuery {
  field: 0 | 1 | 2
}

/**
 * The trees `indexRecord` writes one update to, in a fixed order: index 1 (`patient:<id>` under
 * the patient's key), then index 2 keywords, `type:` and the birth-year intervals (consortium key).
 * A writer recovers the counts of exactly these trees before writing (`recoverCounters`), so that
 * lost or stale counters never make it write a label that is already committed.
 */
export function recordTerms (input: Omit<RecordIndexInput, 'recordId' | 'fieldHashes' | 'writer'>): RecordTerm[] {
  const out: RecordTerm[] = []
  if (input.patient !== undefined) out.push({ indexKey: input.patient.key, term: patientTerm(input.patient.id), field: 0 })
  const index2: Array<[string, 0 | 1]> = []
  const kws = new Set((input.keywords ?? []).map((k) => keywordTerm(k, input.synonyms)))
  for (const t of kws) index2.push([t, 1])
  if (input.fileType !== undefined) index2.push([fileTypeTerm(input.fileType), 1])
  if (input.birthYear !== undefined) {
    for (const iv of yearIntervals(input.birthYear, input.yearDomain ?? DEFAULT_YEAR_DOMAIN)) index2.push([yearTerm(iv), 0])
  }
  if (index2.length > 0) {
    if (input.consortiumKey === undefined) throw new SseError('BAD_INPUT', 'consortiumKey is required for index 2 terms')
    for (const [term, field] of index2) out.push({ indexKey: input.consortiumKey, term, field })
  }
  return out
}

function shuffle<T> (xs: T[]): T[] {
  const r = randomBytes(4 * xs.length)
  const dv = new DataView(r.buffer, r.byteOffset, r.byteLength)
  for (let i = xs.length - 1; i > 0; i--) {
    const j = dv.getUint32(4 * i) % (i + 1)
    const t = xs[i] as T
    xs[i] = xs[j] as T
    xs[j] = t
  }
  return xs
}

interface Expected {
  group: QueryGroup
  counter: number
  leaf: Uint8Array
  label: Uint8Array
  found: boolean
}

function isEntry (e: unknown): e is StoredEntry {
  if (e === null || typeof e !== 'object') return false
  const { label, value, position } = e as Partial<StoredEntry>
  if (!(label instanceof Uint8Array) || !(value instanceof Uint8Array)) return false
  try { checkPosition(position as IndexPosition) } catch { return false }
  return true
}

/**
 * Checks an index holder's answer against the plan: every result must carry a label the client
 * expects (it derives them from its own token), a value that opens under the tree's value key,
 * and an inclusion proof accepted by `verifyProof`. Every expected label without such a result
 * is reported as omitted (an honest holder omits only updates not committed yet).
 */
export function verifySearchResults (plan: QueryPlan, results: readonly StoredEntry[], verifyProof: ProofVerifier): VerifiedSearch {
  const expected = new Map<string, Expected>()
  const order: Expected[] = []
  for (const group of plan.groups) {
    for (const node of group.nodes) {
      forEachLeaf(node, (counter, leaf) => {
        const label = leafLabel(leaf)
        const e: Expected = { group, counter, leaf, label, found: false }
        expected.set(labelKey(label), e)
        order.push(e)
      })
    }
  }
  const forged: ForgedEntry[] = []
  const found = new Map<Expected, VerifiedLocation>()
  for (const entry of results) {
    if (!isEntry(entry)) { forged.push({ entry, reason: 'MALFORMED' }); continue }
    const e = entry.label.length === 32 ? expected.get(labelKey(entry.label)) : undefined
    if (e === undefined) { forged.push({ entry, reason: 'UNEXPECTED_LABEL' }); continue }
    if (e.found) { forged.push({ entry, reason: 'DUPLICATE' }); continue }
    const location = openValue(e.group.valueKey, e.leaf, e.label, entry.value)
    if (location === undefined) { forged.push({ entry, reason: 'BAD_VALUE' }); continue }
    if (!proofAccepted(verifyProof, entry)) { forged.push({ entry, reason: 'BAD_PROOF' }); continue }
    e.found = true
    found.set(e, { query: e.group.query, term: e.group.term, writer: e.group.writer, counter: e.counter, location, position: { ...entry.position } })
  }
  const locations: VerifiedLocation[] = []
  const omitted: OmittedEntry[] = []
  for (const e of order) {
    const loc = found.get(e)
    if (loc !== undefined) locations.push(loc)
    else omitted.push({ query: e.group.query, term: e.group.term, writer: e.group.writer, counter: e.counter, label: e.label })
  }
  return { locations, omitted, forged }
}

/** Runs a caller-supplied proof verifier; a throwing verifier counts as a rejection. */
export function proofAccepted (verifyProof: ProofVerifier, entry: StoredEntry): boolean {
  try { return verifyProof(entry) === true } catch { return false }
}
