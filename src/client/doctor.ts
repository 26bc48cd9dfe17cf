/**
 * The doctor's client: opens the patient's key transfer cip0, seals and signs a record with both
 * index updates (`buildRecordSubmission`), submits it and waits for its commit, searches index 2
 * (keyword AND file type AND birth-year range) with result verification and omission detection,
 * and reads records shared with it by grants.
 */
import { encodeSubmission, MAX_INDEX_UPDATES_PER_TX, MAX_SUBMISSION_BYTES, type GrantTx } from '../blocks/index.js'
import { utf8, type PqBackend } from '../crypto/index.js'
import { deriveAttachmentKeyFromFields, openKeyTransfer, type FieldKeyMap, type FieldKeys } from '../records/index.js'
import type { SubmitResultJson } from '../rpc/backend.js'
import { CounterState, intersectClauses, planConjunctionKeys, recordTerms, recoverCounters, SseClient, type ConjunctiveQuery, type RecordTerm, type VerifiedSearch } from '../sse/index.js'
import { conjunctionClauses } from '../sse/index.js'
import { readRecord, type ReadRecordResult } from './access.js'
import type { EpochKey } from './consortium.js'
import { ClientError } from './errors.js'
import { loadClientIdentity, type ClientIdentityFile, type LoadedIdentity } from './identity.js'
import { FHIR_BUNDLE_ATTACHMENT, type PersonalInfo, type RecordInput } from './input.js'
import { parseHandoffPayload } from './patient.js'
import { buildGrantTx, buildRecordSubmission, type BuiltSubmission } from './record.js'
import { hex, RpcCallError, type RpcClient } from './rpc.js'
import { querySearch, runSearch, type HeaderRanges } from './search.js'
import type { TrustAnchors } from './verify.js'

/** An opened cip0: what the doctor needs to write the patient's record. */
export interface OpenedHandoff {
  recordId: Uint8Array
  patientId: Uint8Array
  fieldKeys: FieldKeys
  personalInfo: PersonalInfo
  patientIndexKey: Uint8Array
  /** The record's owner id (SHA-256 of the patient's per-record owner key), signed into the record. */
  owner: Uint8Array
}

export interface SubmittedRecord {
  recordId: string
  result: SubmitResultJson
  built: BuiltSubmission
}

export interface SearchMatch {
  recordId: string
  /** Which fields the matching index entries point at, with their committed ciphertext hashes. */
  locations: Array<{ term: string, field: number, ciphertextHash: string, height: number, position: number }>
}

/** What a search covered: which index updates it asked the node for. */
export interface SearchCoverage {
  /**
   * `recovered`: the counts of every (writer, term) tree were recovered from the node first, so
   * the search covers every update the node's index holds for the query (a node can hide updates
   * newer than what this client knew by answering "absent" to the probes; docs/SSE.md).
   * `local`: only the counts this client's state holds; updates written by other clients are not
   * searched.
   */
  counters: 'recovered' | 'local'
  /** Index writers (doctors) searched. */
  writers: number
  /** Key epochs of the consortium key searched (one token group set each). */
  epochs: number[]
  /** (writer, term) trees searched. */
  trees: number
  /** Index updates the search expected, over all those trees. */
  updates: number
  /** Cost of the counter recovery (absent with `counters: 'local'`). */
  recovery?: { rounds: number, labelsProbed: number, updatesFound: number, ms: number }
  /** `sse_search` pages the search itself took (a page holds at most `pageSize` entries). */
  pages: number
}

export interface SearchResult {
  matches: SearchMatch[]
  /** Entries the client's counters expect but the node did not return (non-empty: the node omitted results). */
  omitted: Array<{ term: string, writer: string, counter: number }>
  /** Returned entries that are not authentic answers. */
  forged: Array<{ reason: string, label: string }>
  coverage: SearchCoverage
  search: VerifiedSearch
}

/** RPC errors after which the submission certainly was not accepted (its index counters are rolled back). */
const DEFINITIVE = new Set(['INVALID_TX', 'BAD_SIGNATURE', 'UNREGISTERED_DOCTOR', 'DUPLICATE', 'DUPLICATE_LABEL', 'BLOB_MISMATCH', 'LIMIT_EXCEEDED'])

export class Doctor {
  readonly name: string
  readonly id: Uint8Array
  readonly sigPublicKey: Uint8Array
  readonly kemPublicKey: Uint8Array
  /**
   * The index-2 key new records are written under: the newest key epoch this doctor holds (from
   * the consortium key file), if it holds any.
   */
  readonly consortiumKey?: Uint8Array
  /** Every index-2 key epoch this doctor holds, oldest first; searches cover all of them. */
  readonly epochKeys: readonly EpochKey[]
  private sseClient: SseClient
  private readonly ident: LoadedIdentity
  private readonly pq: PqBackend

  private constructor (pq: PqBackend, ident: LoadedIdentity, epochKeys: readonly EpochKey[], counters: CounterState) {
    this.pq = pq
    this.ident = ident
    this.name = ident.name
    this.id = ident.keys.id
    this.sigPublicKey = ident.keys.sig.publicKey
    this.kemPublicKey = ident.keys.kem.publicKey
    this.epochKeys = [...epochKeys].sort((a, b) => a.epoch - b.epoch)
    this.consortiumKey = this.epochKeys[this.epochKeys.length - 1]?.key
    this.sseClient = new SseClient({ counters })
  }

  /**
   * Loads a doctor from its identity file (including those written by `pqmed genesis`), with
   * either one index-2 key (`consortiumKey`, taken as epoch 1) or the key epochs it holds
   * (`epochKeys`, from `openKeyRing`): records are written under the newest, searches cover all.
   */
  static fromIdentity (pq: PqBackend, file: ClientIdentityFile, opts: { consortiumKey?: Uint8Array, epochKeys?: readonly EpochKey[], counters?: CounterState } = {}): Doctor {
    const ident = loadClientIdentity(file)
    if (ident.role !== 'doctor') throw new ClientError('BAD_IDENTITY', `${ident.name} is a ${ident.role}, not a doctor`)
    if (opts.consortiumKey !== undefined && opts.epochKeys !== undefined) throw new ClientError('BAD_INPUT', 'give consortiumKey or epochKeys, not both')
    const epochKeys = opts.epochKeys ?? (opts.consortiumKey !== undefined ? [{ epoch: 1, key: opts.consortiumKey }] : [])
    if (new Set(epochKeys.map((e) => e.epoch)).size !== epochKeys.length) throw new ClientError('BAD_INPUT', 'each key epoch may be given once')
    return new Doctor(pq, ident, epochKeys, opts.counters ?? new CounterState())
  }

  get sse (): SseClient { return this.sseClient }
  /** The index counters (persist them with `saveCounters`). */
  get counters (): CounterState { return this.sseClient.counters }
  /** The doctor's ML-KEM-768 secret key (to open the consortium key file). */
  get kemSecretKey (): Uint8Array { return this.ident.keys.kem.secretKey }

  /** Opens cip0 from a patient (optionally checking the record and patient it claims). */
  openKeyTransfer (cip0: Uint8Array, expected?: { recordId?: Uint8Array, patientId?: Uint8Array }): OpenedHandoff {
    const t = openKeyTransfer(this.pq, cip0, this.ident.keys.kem.secretKey, expected)
    const p = parseHandoffPayload(t.personalInfo)
    return { recordId: t.recordId, patientId: t.patientId, fieldKeys: t.fieldKeys, personalInfo: p.personalInfo, patientIndexKey: p.patientIndexKey, owner: p.owner }
  }

  /** Seals, indexes (index 1 and, with the consortium key, index 2) and signs a record. */
  buildRecord (handoff: OpenedHandoff, input: RecordInput, time = Date.now()): BuiltSubmission {
    if (this.consortiumKey === undefined) throw new ClientError('BAD_CONSORTIUM_KEY', 'writing a record needs the consortium index key')
    const personalInfo = { ...input.personalInfo, ...handoff.personalInfo }
    const updates = this.recordTerms(handoff, input).length
    if (updates > MAX_INDEX_UPDATES_PER_TX) {
      throw new ClientError('BAD_INPUT', `the record would write ${updates} index updates (${input.keywords.length} keywords plus patient, file type and birth year); ` +
        `a record holds at most ${MAX_INDEX_UPDATES_PER_TX}: split the input into several records`)
    }
    const fhir = input.fhir
    const built = buildRecordSubmission(this.pq, { id: this.id, sigSecretKey: this.ident.keys.sig.secretKey }, this.sseClient, this.consortiumKey, {
      recordId: handoff.recordId,
      owner: handoff.owner,
      fieldKeys: handoff.fieldKeys,
      fields: {
        personalInfo: utf8(JSON.stringify(personalInfo)),
        symptoms: utf8(JSON.stringify({ disease: input.disease, symptoms: input.symptoms, fileType: input.fileType, ...fhir?.clinical })),
        prescriptions: utf8(JSON.stringify({ prescriptions: input.prescriptions, ...(fhir !== undefined ? { medications: fhir.medications } : {}) }))
      },
      keywords: input.keywords,
      fileType: input.fileType,
      birthYear: birthYearOf(handoff, input),
      patient: { id: handoff.patientId, key: handoff.patientIndexKey },
      // the original FHIR Bundle, byte-exact, under a key every reader of all three fields can derive
      attachments: fhir === undefined ? [] : [{ ...FHIR_BUNDLE_ATTACHMENT, data: fhir.bytes, key: deriveAttachmentKeyFromFields(handoff.fieldKeys, handoff.recordId, 0) }],
      time
    })
    if (built.bytes.length > MAX_SUBMISSION_BYTES) {
      throw new ClientError('BAD_INPUT', `the record's submission is ${built.bytes.length} bytes (${fhir !== undefined ? `the FHIR Bundle is ${fhir.bytes.length} bytes, ` : ''}` +
        `encrypted with its fields and signed); nodes accept at most ${MAX_SUBMISSION_BYTES} bytes (2 MiB): nothing was submitted; split the input into several records`)
    }
    return built
  }

  /** The index trees a record would write to (one update each). */
  recordTerms (handoff: OpenedHandoff, input: RecordInput): RecordTerm[] {
    if (this.consortiumKey === undefined) throw new ClientError('BAD_CONSORTIUM_KEY', 'writing a record needs the consortium index key')
    return recordTerms({ consortiumKey: this.consortiumKey, patient: { id: handoff.patientId, key: handoff.patientIndexKey }, keywords: input.keywords, fileType: input.fileType, birthYear: birthYearOf(handoff, input) })
  }

  /**
   * Brings this client's counters for the trees a record writes to up to what is committed, by
   * probing the node (`recoverCounters`: normally one label per tree in one round). A client whose
   * state was lost (a new laptop, a wiped home directory) or is behind (another client of the same
   * doctor wrote since) would otherwise write labels that are already committed, which the
   * managers refuse (DUPLICATE_LABEL). Returns how many counters moved.
   */
  async syncCounters (rpc: RpcClient, terms: readonly RecordTerm[]): Promise<number> {
    const byKey = new Map<string, { indexKey: Uint8Array, terms: string[] }>()
    for (const t of terms) {
      const k = hex(t.indexKey)
      const g = byKey.get(k) ?? { indexKey: t.indexKey, terms: [] }
      g.terms.push(t.term)
      byKey.set(k, g)
    }
    let moved = 0
    for (const g of byKey.values()) {
      const before = g.terms.map((term) => this.sseClient.counters.get(this.sseClient.tree(g.indexKey, this.id, term).id))
      await recoverCounters(this.sseClient, {
        indexKey: g.indexKey,
        writers: [this.id],
        terms: g.terms,
        probe: async (token) => {
          const { entries, verifyProof } = await querySearch(rpc, token)
          return entries.filter(verifyProof)
        },
        verifyProof: () => true
      })
      g.terms.forEach((term, i) => { if (this.sseClient.counters.get(this.sseClient.tree(g.indexKey, this.id, term).id) !== before[i]) moved++ })
    }
    return moved
  }

  /**
   * Builds and submits a record, waiting for its commit by default. First (unless `recover` is
   * false) the counters of the record's index trees are synced with the node (`syncCounters`), so
   * lost or stale client state never produces a duplicate label. If the node rejects the record
   * outright, the index counters it consumed are rolled back (so no false omission follows).
   */
  async submitRecord (rpc: RpcClient, handoff: OpenedHandoff, input: RecordInput, opts: { time?: number, wait?: boolean, recover?: boolean } = {}): Promise<SubmittedRecord> {
    if (opts.recover !== false) await this.syncCounters(rpc, this.recordTerms(handoff, input))
    const snapshot = this.sseClient.counters.encode()
    let built: BuiltSubmission
    try {
      built = this.buildRecord(handoff, input, opts.time ?? Date.now())
    } catch (err) {
      // refused before anything was sent (too large, too many index updates): no counter was used
      this.sseClient = new SseClient({ counters: CounterState.decode(snapshot) })
      throw err
    }
    try {
      const result = await rpc.submitRecord(built.bytes, opts.wait ?? true)
      return { recordId: hex(handoff.recordId), result, built }
    } catch (err) {
      if (err instanceof RpcCallError && err.rpcName !== undefined && DEFINITIVE.has(err.rpcName)) this.sseClient = new SseClient({ counters: CounterState.decode(snapshot) })
      throw err
    }
  }

  /**
   * Searches index 2: every keyword AND the file type AND the birth-year range, over `writers`
   * (doctor ids; the consortium key file lists them: `keyRingWriters`) under every key epoch this
   * doctor holds, in one token (one group per (epoch, term, writer) tree with updates, so the
   * token, the node's work and the recovery probes grow linearly with the epochs). The answer is verified against this
   * client's counters: missing entries are `omitted`, inauthentic ones `forged`.
   *
   * By default (`recover` not false) the counts of every writer's tree for the query's terms are
   * first recovered from the node (`recoverCounters`: bare-label probes, normally one or two
   * rounds), so the search covers every update the node's index holds, including those written by
   * other clients; counts this client already knew are never lowered. With `recover: false` only
   * the counts this client holds are searched: updates written by other clients (or before this
   * client's state was created) are NOT searched, and `coverage.counters` says so.
   */
  async search (rpc: RpcClient, query: ConjunctiveQuery, writers: readonly Uint8Array[], opts: { recover?: boolean, pageSize?: number } = {}): Promise<SearchResult> {
    if (this.epochKeys.length === 0) throw new ClientError('BAD_CONSORTIUM_KEY', 'searching index 2 needs the consortium index key')
    const indexKeys = this.epochKeys.map((e) => e.key)
    const headers: HeaderRanges = new Map()
    const terms = [...new Set(conjunctionClauses(query).flat())]
    const countsOf = (): number[] => indexKeys.flatMap((indexKey) => terms.flatMap((term) => writers.map((w) => this.sseClient.counters.get(this.sseClient.tree(indexKey, w, term).id))))
    const known = countsOf()
    let recovery: SearchCoverage['recovery']
    const recoveryForged: SearchResult['forged'] = []
    if (opts.recover !== false) {
      const t0 = performance.now()
      // one recovery per key epoch (its trees are distinct: tree ids derive from the key), run
      // concurrently, so the rounds are those of the slowest epoch and the labels add up
      const reports = await Promise.all(indexKeys.map(async (indexKey) => await recoverCounters(this.sseClient, {
        indexKey,
        writers,
        terms,
        probe: async (token) => {
          const { entries, verifyProof } = await querySearch(rpc, token, headers, { pageSize: opts.pageSize })
          return entries.filter(verifyProof)
        },
        verifyProof: () => true
      })))
      const after = countsOf()
      recovery = {
        rounds: Math.max(...reports.map((r) => r.rounds)),
        labelsProbed: reports.reduce((a, r) => a + r.labelsProbed, 0),
        updatesFound: after.reduce((a, c, i) => a + c - (known[i] ?? 0), 0),
        ms: Math.round(performance.now() - t0)
      }
      for (const f of reports.flatMap((r) => r.forged)) recoveryForged.push({ reason: `recovery probe: ${f.reason}`, label: f.entry.label instanceof Uint8Array ? hex(f.entry.label) : '' })
    }
    const counts = countsOf()
    const plan = planConjunctionKeys(this.sseClient, indexKeys, writers, query)
    const search = await runSearch(rpc, plan, headers, { pageSize: opts.pageSize })
    const matches = intersectClauses(plan.clauses, search.locations).map((m) => ({
      recordId: hex(m.recordId),
      locations: m.locations.map((l) => ({ term: l.term, field: l.location.field, ciphertextHash: hex(l.location.ciphertextHash), height: l.position.height, position: l.position.index }))
    }))
    return {
      matches,
      omitted: search.omitted.map((o) => ({ term: o.term, writer: hex(o.writer), counter: o.counter })),
      forged: [...recoveryForged, ...search.forged.map((f) => ({ reason: f.reason, label: f.entry.label instanceof Uint8Array ? hex(f.entry.label) : '' }))],
      coverage: {
        counters: recovery !== undefined ? 'recovered' : 'local',
        writers: writers.length,
        epochs: this.epochKeys.map((e) => e.epoch),
        trees: counts.length,
        updates: counts.reduce((a, c) => a + c, 0),
        recovery,
        pages: search.pages
      },
      search
    }
  }

  /**
   * Grants `granteeKemPublicKey` the listed fields of a record this doctor wrote, signed with the
   * doctor's key (the record's doctor may grant; `fieldKeys` are the record's keys from cip0).
   */
  async grant (rpc: RpcClient, recordId: Uint8Array, fieldKeys: FieldKeys | FieldKeyMap, fields: readonly number[], granteeKemPublicKey: Uint8Array, time = Date.now()): Promise<SubmitResultJson & { tx: GrantTx }> {
    const tx = buildGrantTx(this.pq, this.ident.keys.sig, { recordId, fields, fieldKeys, granteeKemPublicKey, time })
    return { ...await rpc.grantAccess(encodeSubmission(tx, []), true), tx }
  }

  /** Reads a record through the grants addressed to this doctor. */
  async readRecord (rpc: RpcClient, recordId: Uint8Array, trust?: TrustAnchors): Promise<ReadRecordResult> {
    return await readRecord(this.pq, rpc, recordId, { kemPublicKey: this.kemPublicKey, kemSecretKey: this.ident.keys.kem.secretKey }, trust)
  }
}

function birthYearOf (handoff: OpenedHandoff, input: RecordInput): number | undefined {
  const personalInfo = { ...input.personalInfo, ...handoff.personalInfo }
  return input.birthYear ?? (typeof personalInfo.birthYear === 'number' ? personalInfo.birthYear : undefined)
}
