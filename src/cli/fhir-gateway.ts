/**
 * `pqmed fhir-gateway`: a FHIR R4 REST server on 127.0.0.1 acting for one doctor or patient. It
 * holds no plaintext store: every request narrows the records through the encrypted indexes
 * (a doctor: index 2 by keyword or birth-year range, with the consortium key; a patient: index 1,
 * its own records), fetches and verifies them over JSON-RPC, decrypts them with the identity's keys
 * (the original FHIR Bundle, attachment 0, needs all three field keys) and answers from the
 * bundles (src/fhir/search.ts). Decrypted bundles are cached in memory for the life of the process
 * (records it could not decrypt are tried again at the next request: a grant may have come since).
 *
 * | request | index narrowing | exact match on the decrypted bundle |
 * |---|---|---|
 * | GET /metadata | — | — |
 * | GET /Patient/{id} | keyword `Patient/{id}` | Patient with that logical id |
 * | GET /Patient?birthdate=… | birth-year range of the bounds | Patient.birthDate against every bound |
 * | GET /Condition?code=… (token, OR over commas) | keyword `system\|code`, `code`, or the text | Condition.code |
 * | GET /MedicationRequest?patient=… | keyword `Patient/{id}` | subject resolves to that Patient |
 * | POST / (transaction Bundle) | — | submitted as a record (doctor only) |
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { resolve } from 'node:path'
import type { PqBackend } from '../crypto/index.js'
import {
  ClientError, DEFAULT_STATE_DIR, Doctor, FHIR_BUNDLE_ATTACHMENT, fetchKeyEpochs, hex, keyRingWriters, loadCounters, openKeyRing, parseClientIdentity, parseConsortiumKeyRing,
  parseRecordInputBytes, Patient, readJsonFile, RpcCallError, saveCounters, trustFromGenesis, unhex, type ClientIdentityFile, type ReadRecordResult, type RpcClient, type TrustAnchors
} from '../client/index.js'
import { loadClientIdentity } from '../client/identity.js'
import {
  capabilityStatement, conceptMatches, dateMatches, exportResource, FhirError, logicalId, operationOutcome, parseBundle, parseDate, parseToken, refersToPatient,
  searchset, tokenKeyword, yearBounds, type FhirResource, type ParsedBundle, type TokenQuery
} from '../fhir/index.js'
import type { CliConfig } from './node-url.js'
import { packageVersion } from './commands.js'
import { UsageError } from './usage.js'

export interface GatewayCtx { rpc: RpcClient, pq: PqBackend, config: CliConfig }

export interface GatewayOptions {
  as?: string
  port?: string
  patient?: string[]
  'consortium-key'?: string
  state?: string
  genesis?: string
}

/** An HTTP error answered as an OperationOutcome. */
class HttpError extends Error {
  constructor (readonly status: number, readonly code: string, message: string) { super(message) }
}

const DEFAULT_COUNT = 20
const MAX_COUNT = 100

/** A name as a set of words (as `record submit` compares names). */
const nameWords = (name: string): string => name.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w !== '').sort().join(' ')

export interface FhirGateway {
  url: string
  server: Server
  close: () => Promise<void>
}

/** Starts the gateway (resolves once it listens). */
export async function startFhirGateway (ctx: GatewayCtx, values: GatewayOptions): Promise<FhirGateway> {
  const asPath = values.as
  if (asPath === undefined) throw new UsageError('--as is required')
  const port = Number(values.port)
  if (values.port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError('--port must be an integer in 0..65535')
  const asFile = parseClientIdentity(await readJsonFile(asPath, 'identity file'))
  const state = resolve(values.state ?? ctx.config.state ?? DEFAULT_STATE_DIR)
  const ckPath = values['consortium-key'] ?? (values.state === undefined ? ctx.config.consortiumKey : undefined) ?? resolve(state, 'consortium-key.json')
  const read = parseConsortiumKeyRing(await readJsonFile(ckPath, 'consortium key file'))
  // a doctor writes under the newest key epoch: the epochs committed since the file's newest are fetched at start (the file is not changed)
  const ck = asFile.role === 'doctor' ? (await fetchKeyEpochs(ctx.rpc, read)).ring : read
  const writers = keyRingWriters(ck)
  const genesis = values.genesis ?? ctx.config.genesis
  const trust: TrustAnchors | undefined = genesis === undefined ? undefined : trustFromGenesis(await readJsonFile(genesis, 'genesis file'))
  let doctor: Doctor | undefined
  let patient: Patient | undefined
  if (asFile.role === 'doctor') {
    const ident = loadClientIdentity(asFile)
    doctor = Doctor.fromIdentity(ctx.pq, asFile, { epochKeys: openKeyRing(ctx.pq, ck, ident.keys.kem.secretKey), counters: await loadCounters(state) })
  } else {
    patient = Patient.fromIdentity(ctx.pq, asFile)
  }
  const patients: Array<{ file: ClientIdentityFile, path: string }> = []
  for (const p of values.patient ?? []) {
    const file = parseClientIdentity(await readJsonFile(p, 'identity file'))
    if (file.role !== 'patient') throw new UsageError(`--patient ${p} is a ${file.role}, not a patient`)
    patients.push({ file, path: p })
  }
  if (patients.length > 0 && doctor === undefined) throw new UsageError('--patient is for a doctor\'s gateway (only a doctor writes records)')

  const cache = new Map<string, { parsed?: ParsedBundle, reason?: string }>()
  /** The decrypted, parsed bundle of a record (or why there is none). */
  async function bundleOf (recordId: string): Promise<{ parsed?: ParsedBundle, reason?: string }> {
    const hit = cache.get(recordId)
    if (hit !== undefined) return hit
    const id = unhex(recordId)
    let r: ReadRecordResult
    try {
      r = doctor !== undefined ? await doctor.readRecord(ctx.rpc, id, trust) : await (patient as Patient).readRecord(ctx.rpc, id, trust)
    } catch (err) {
      if (err instanceof ClientError && err.code === 'VERIFY_FAILED') throw new HttpError(502, 'processing', err.message)
      throw err
    }
    const a = r.attachments.find((x) => x.name === FHIR_BUNDLE_ATTACHMENT.name && x.mediaType === FHIR_BUNDLE_ATTACHMENT.mediaType)
    let out: { parsed?: ParsedBundle, reason?: string }
    if (a === undefined) {
      out = { reason: r.access === 'none' ? 'no key' : r.record.tx.attachments.length === 0 ? 'not imported from FHIR' : 'not all three field keys' }
    } else {
      try { out = { parsed: parseBundle(a.data) } } catch (err) { out = { reason: `stored bundle unreadable: ${(err as Error).message}` } }
    }
    // only a decrypted bundle is kept: a record unreadable now may become readable by a later grant
    if (out.parsed !== undefined) cache.set(recordId, out)
    return out
  }

  /** Record ids the index gives for a query (a doctor), or all the patient's records (a patient). */
  async function candidates (q: { keyword?: string, birthYears?: { from: number, to: number } }): Promise<string[]> {
    if (doctor !== undefined) {
      const r = await doctor.search(ctx.rpc, { keywords: q.keyword !== undefined ? [q.keyword] : [], birthYears: q.birthYears }, writers, { recover: true })
      await saveCounters(state, doctor.counters).catch(() => { /* the next search recovers them again */ })
      if (r.omitted.length > 0 || r.forged.length > 0) throw new HttpError(502, 'processing', `the node's answer is incomplete or forged (${r.omitted.length} omitted, ${r.forged.length} forged)`)
      return r.matches.map((m) => m.recordId)
    }
    const r = await (patient as Patient).listRecords(ctx.rpc, writers)
    if (r.search.omitted.length > 0 || r.search.forged.length > 0) throw new HttpError(502, 'processing', 'the node\'s answer to the patient index is incomplete or forged')
    return r.recordIds
  }

  /** The matching resources of the candidate records, plus an outcome when some records could not be read. */
  async function collect (ids: string[], pick: (p: ParsedBundle) => FhirResource[]): Promise<{ found: FhirResource[], outcome?: FhirResource }> {
    const found: FhirResource[] = []
    const seen = new Set<string>()
    const unread: string[] = []
    for (const id of ids) {
      const b = await bundleOf(id)
      if (b.parsed === undefined) { if (b.reason !== 'not imported from FHIR') unread.push(`${id} (${String(b.reason)})`); continue }
      for (const r of pick(b.parsed)) {
        const k = `${r.resourceType}/${String(r.id)}`
        if (seen.has(k)) continue
        seen.add(k)
        found.push(r)
      }
    }
    const outcome = unread.length > 0 ? operationOutcome({ severity: 'warning', code: 'suppressed', diagnostics: `${unread.length} matching record(s) could not be decrypted by ${asFile.name}: ${unread.join(', ')}` }) : undefined
    return { found, outcome }
  }

  const pickType = (p: ParsedBundle, type: string, ok: (e: ParsedBundle['entries'][number]) => boolean): FhirResource[] =>
    p.entries.filter((e) => e.resource.resourceType === type && ok(e)).map((e) => exportResource(p, e))

  async function get (url: URL, base: string): Promise<{ status: number, body: FhirResource }> {
    const parts = url.pathname.split('/').filter((x) => x !== '')
    const params = url.searchParams
    const count = params.has('_count') ? Number(params.get('_count')) : DEFAULT_COUNT
    const offset = params.has('_offset') ? Number(params.get('_offset')) : 0
    if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT) throw new HttpError(400, 'invalid', `_count must be an integer in 1..${MAX_COUNT}`)
    if (!Number.isInteger(offset) || offset < 0) throw new HttpError(400, 'invalid', '_offset must be a non-negative integer')
    const known = new Set(['_count', '_offset', '_format'])
    const only = (...names: string[]): void => {
      for (const k of params.keys()) if (!known.has(k) && !names.includes(k)) throw new HttpError(400, 'not-supported', `search parameter '${k}' is not supported here (see GET /metadata)`)
    }
    if (parts.length === 1 && parts[0] === 'metadata') return { status: 200, body: capabilityStatement(base, { name: 'pqmed fhir-gateway', version: packageVersion() }, new Date().toISOString()) }
    if (parts[0] === 'Patient' && parts.length === 2) {
      const id = parts[1] as string
      const { found } = await collect(await candidates({ keyword: `Patient/${id}` }), (p) => pickType(p, 'Patient', (e) => logicalId(e) === id))
      if (found.length === 0) throw new HttpError(404, 'not-found', `Patient/${id} is not in any record ${asFile.name} can read`)
      return { status: 200, body: found[0] as FhirResource }
    }
    if (parts.length !== 1) throw new HttpError(404, 'not-found', `no such endpoint ${url.pathname}`)
    if (parts[0] === 'Patient') {
      only('birthdate')
      const qs = params.getAll('birthdate').map((v) => { try { return parseDate(v) } catch (err) { throw new HttpError(400, 'invalid', (err as Error).message) } })
      if (qs.length === 0) throw new HttpError(400, 'not-supported', 'Patient search needs birthdate (e.g. birthdate=ge1960&birthdate=le1969)')
      const years = yearBounds(qs)
      const ids = years.from > years.to ? [] : await candidates({ birthYears: years })
      const { found, outcome } = await collect(ids, (p) => pickType(p, 'Patient', (e) => dateMatches(e.resource.birthDate, qs)))
      return { status: 200, body: searchset(found, base, url, count, offset, outcome) }
    }
    if (parts[0] === 'Condition') {
      const keys = [...params.keys()].filter((k) => k === 'code' || k.startsWith('code:'))
      only(...keys)
      if (keys.length !== 1) throw new HttpError(400, keys.length === 0 ? 'not-supported' : 'invalid', 'Condition search needs exactly one code parameter (code=system|code, code=code or code:text=...)')
      const key = keys[0] as string
      let tokens: TokenQuery[]
      try { tokens = params.getAll(key).flatMap((v) => v.split(',')).map((v) => parseToken(v, key.includes(':') ? key.slice(5) : undefined)) } catch (err) { throw new HttpError(400, 'not-supported', (err as Error).message) }
      const ids = [...new Set((await Promise.all(tokens.map(async (t) => await candidates({ keyword: tokenKeyword(t) })))).flat())]
      const { found, outcome } = await collect(ids, (p) => pickType(p, 'Condition', (e) => tokens.some((t) => conceptMatches(e.resource.code as object, t))))
      return { status: 200, body: searchset(found, base, url, count, offset, outcome) }
    }
    if (parts[0] === 'MedicationRequest') {
      only('patient')
      const v = params.get('patient')
      if (v === null || v === '') throw new HttpError(400, 'not-supported', 'MedicationRequest search needs patient=<id>')
      const id = v.startsWith('Patient/') ? v.slice(8) : v
      const { found, outcome } = await collect(await candidates({ keyword: `Patient/${id}` }), (p) => pickType(p, 'MedicationRequest', (e) => refersToPatient(p, e, 'subject', id)))
      return { status: 200, body: searchset(found, base, url, count, offset, outcome) }
    }
    throw new HttpError(404, 'not-supported', `resource type ${String(parts[0])} is not served (see GET /metadata)`)
  }

  async function post (body: Uint8Array): Promise<{ status: number, body: FhirResource }> {
    if (doctor === undefined) throw new HttpError(403, 'forbidden', `${asFile.name} is a patient: only a doctor writes records`)
    let input
    try { input = parseRecordInputBytes(body, 'the request body') } catch (err) { throw new HttpError(422, 'processing', (err as Error).message) }
    const parsed = input.fhir === undefined ? undefined : parseBundle(input.fhir.bytes)
    if (parsed === undefined || parsed.bundle.type !== 'transaction') throw new HttpError(400, 'invalid', 'POST / takes a FHIR transaction Bundle')
    const name = input.personalInfo.name
    const match = name === undefined ? undefined : patients.find((p) => nameWords(p.file.name) === nameWords(name))
    if (match === undefined) {
      throw new HttpError(422, 'processing', `the Bundle's Patient ${name !== undefined ? `"${name}"` : '(none)'} is none of the gateway's --patient identities (${patients.map((p) => p.file.name).join(', ') || 'none given'})`)
    }
    const pat = Patient.fromIdentity(ctx.pq, match.file)
    const recordId = pat.newRecordId()
    const cip0 = pat.keyTransfer(recordId, input.personalInfo, doctor.kemPublicKey)
    const handoff = doctor.openKeyTransfer(cip0, { recordId, patientId: pat.id })
    let s
    try { s = await doctor.submitRecord(ctx.rpc, handoff, input) } catch (err) {
      if (err instanceof ClientError && err.code === 'BAD_INPUT') throw new HttpError(422, 'too-costly', err.message)
      throw err
    }
    await saveCounters(state, doctor.counters)
    return {
      status: 200,
      body: {
        resourceType: 'Bundle',
        type: 'transaction-response',
        identifier: { system: 'urn:pqmed:record', value: s.recordId },
        entry: parsed.entries.map((e) => ({
          response: { status: '201 Created', ...(e.logicalRef !== undefined ? { location: e.logicalRef } : {}), outcome: operationOutcome({ severity: 'information', code: 'informational', diagnostics: `stored in record ${s.recordId} (${s.result.status}${s.result.height !== undefined ? ` at height ${s.result.height}` : ''})` }) }
        }))
      }
    }
  }

  // one request at a time: the doctor's index counters are shared state
  let queue: Promise<unknown> = Promise.resolve()
  const handle = async (req: IncomingMessage, res: ServerResponse, base: string): Promise<void> => {
    let status: number
    let body: FhirResource
    try {
      const url = new URL(req.url ?? '/', base)
      if (req.method === 'GET') ({ status, body } = await get(url, base))
      else if (req.method === 'POST' && (url.pathname === '/' || url.pathname === '')) {
        const chunks: Buffer[] = []
        let size = 0
        for await (const c of req) {
          size += (c as Buffer).length
          if (size > 4 * 1024 * 1024) throw new HttpError(413, 'too-costly', 'request body over 4 MiB')
          chunks.push(c as Buffer)
        }
        ;({ status, body } = await post(new Uint8Array(Buffer.concat(chunks))))
      } else throw new HttpError(405, 'not-supported', `${String(req.method)} ${url.pathname} is not supported (GET searches and reads, POST / a transaction)`)
    } catch (err) {
      if (err instanceof HttpError) { status = err.status; body = operationOutcome({ code: err.code, diagnostics: err.message }) } else if (err instanceof FhirError) {
        status = 422; body = operationOutcome({ code: 'processing', diagnostics: err.message })
      } else {
        const e = err as Error
        status = err instanceof RpcCallError ? 502 : 500
        body = operationOutcome({ severity: 'fatal', code: err instanceof RpcCallError ? 'transient' : 'exception', diagnostics: `${e.message}${err instanceof RpcCallError ? ` [rpc ${err.rpcCode}${err.rpcName !== undefined ? ` ${err.rpcName}` : ''}]` : ''}` })
      }
    }
    res.writeHead(status, { 'Content-Type': 'application/fhir+json; charset=utf-8' })
    res.end(JSON.stringify(body))
  }
  const server = createServer((req, res) => {
    const base = `http://${req.headers.host ?? `127.0.0.1:${port}`}`
    queue = queue.then(async () => { await handle(req, res, base) }, async () => { await handle(req, res, base) })
  })
  await new Promise<void>((ok, fail) => { server.once('error', fail); server.listen(port, '127.0.0.1', () => { server.off('error', fail); ok() }) })
  const addr = server.address()
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : port}`
  return { url, server, close: async () => { await new Promise<void>((ok) => { server.close(() => { ok() }); server.closeAllConnections() }) } }
}

/** The CLI command: starts, prints the ready line, runs until SIGINT or SIGTERM. */
export async function runFhirGateway (ctx: GatewayCtx & { json: boolean }, values: GatewayOptions): Promise<void> {
  const g = await startFhirGateway(ctx, values)
  const who = parseClientIdentity(await readJsonFile(values.as as string, 'identity file'))
  console.log(JSON.stringify({ event: 'ready', url: g.url, as: who.name, role: who.role, id: hex(loadClientIdentity(who).keys.id) }))
  await new Promise<void>((ok) => {
    const stop = (): void => { process.off('SIGINT', stop); process.off('SIGTERM', stop); void g.close().then(ok) }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
