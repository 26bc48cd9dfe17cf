/**
 * The client commands of `pqmed`, built on the SDK (`src/client`); they talk to a node only
 * over JSON-RPC. Their flags and help are defined in ./commands.ts (every command takes `--rpc URL`
 * (else PQMED_RPC, else the `.pqmed.json` that `npm start` / `sim:local` write, else
 * http://127.0.0.1:8645/: ./node-url.ts) and `--json`); src/cli/main.ts imports this module only when a
 * client command runs, and each handler gets the parsed options keyed by long flag.
 *
 * Exit codes: 0 success (a search without a match too: an empty answer is verified like any
 * other); 1 error (node unreachable, RPC error, unreadable file); 2 bad usage or input; 3 a
 * verification failed (invalid record, a check that could not be done although --genesis was
 * given, omitted or forged search results, a file that matches no committed ciphertext).
 */
import { existsSync } from 'node:fs'
import { link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { loadPqBackend, sha256, type PqBackend } from '../crypto/index.js'
import {
  ClientError, DEFAULT_STATE_DIR, Doctor, enrollExistingIdentity, enrollNewIdentity, fetchKeyEpochs, hex, keyRingWriters, loadCounters, openKeyRing,
  parseClientIdentity, parseConsortiumKeyRing, parseRecordInputBytes, rotateConsortiumKey, type ConsortiumKeyRing, type EpochKey, Patient, type EnrollOutcome, readJsonFile, RpcCallError, RpcClient, saveCounters,
  describeRecordVerification, RECORD_CHECK_NAMES, trustFromGenesis, unb64, unhex, verifyRecordAnswer, type ClientIdentityFile,
  type LocalRecordVerification, type TrustAnchors
} from '../client/index.js'
import { loadClientIdentity } from '../client/identity.js'
import { addToConsortiumKey, loadHospital, registerDoctor, submitGovernanceTx } from '../client/governance.js'
import { BlockError } from '../blocks/index.js'
import { FHIR_BUNDLE_ATTACHMENT } from '../client/input.js'
import { blobCidString, blobHashFromCidString } from '../records/cid.js'
import type { RecordJson } from '../rpc/backend.js'
import { SEARCH_PAGE_MAX } from '../rpc/openrpc.js'
import { NodeUnreachableError } from '../client/rpc.js'
import { CliConfigError, findConfig, resolveNodeUrl, unreachableMessage, type CliConfig, type NodeUrlSource } from './node-url.js'
import { UsageError, type OptionValues } from './usage.js'
import { ChangeFileError, changeOf, changeSubmission, changeTx, mergeChangeFiles, proposeChange, signChangeFile, type ChangeFile } from '../client/manager-change.js'
import { fromHex, toHex } from '../crypto/index.js'
import { loadIdentity, readIdentityFile } from '../node/identity.js'

class VerificationFailed extends Error {
  constructor (message: string, readonly output: unknown) { super(message) }
}

interface Ctx { rpc: RpcClient, json: boolean, pq: PqBackend, config: CliConfig }

function out (ctx: Pick<Ctx, 'json'>, value: unknown, human: string): void {
  console.log(ctx.json ? JSON.stringify(value) : human)
}

function need (v: string | undefined, flag: string): string {
  if (v === undefined || v === '') throw new UsageError(`${flag} is required`)
  return v
}

async function identityFile (path: string): Promise<ClientIdentityFile> {
  return parseClientIdentity(await readJsonFile(path, 'identity file'))
}

async function trust (path: string | undefined): Promise<TrustAnchors | undefined> {
  return path === undefined ? undefined : trustFromGenesis(await readJsonFile(path, 'genesis file'))
}

function consortiumPath (given: string | undefined, state: string, config: CliConfig = {}): string {
  const p = given ?? config.consortiumKey ?? join(state, 'consortium-key.json')
  if (!existsSync(p)) throw new UsageError(`consortium key file ${p} not found (pass --consortium-key FILE)`)
  return p
}

function recordIdArg (v: string | undefined): Uint8Array {
  if (v === undefined) throw new UsageError('RECORD_ID is required')
  try { return unhex(v.toLowerCase(), 'RECORD_ID') } catch (err) { throw new UsageError((err as Error).message) }
}

const FIELD_ALIASES: Record<string, number> = { personalinfo: 0, 'personal-info': 0, personal: 0, 0: 0, symptoms: 1, 1: 1, prescriptions: 2, 2: 2 }

/** The names --fields takes, by field index. */
const FIELD_LABELS = ['personalInfo', 'symptoms', 'prescriptions']

function parseFields (v: string): number[] {
  const fs = v.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '')
  if (fs.length === 0) throw new UsageError('--fields needs at least one of personalInfo, symptoms, prescriptions')
  return [...new Set(fs.map((f) => {
    const n = FIELD_ALIASES[f]
    if (n === undefined) throw new UsageError(`unknown field '${f}' (personalInfo, symptoms, prescriptions)`)
    return n
  }))]
}

function parseBorn (v: string): { from: number, to: number } {
  const m = /^(\d{4})(?:-(\d{4}))?$/.exec(v)
  if (m === null) throw new UsageError('--born must be YEAR or FROM-TO (e.g. 1970-1989)')
  const from = Number(m[1])
  const to = m[2] === undefined ? from : Number(m[2])
  if (to < from) throw new UsageError('--born: FROM must not exceed TO')
  return { from, to }
}

async function enroll (ctx: Ctx, values: { name?: string, out?: string, identity?: string }): Promise<void> {
  let r: EnrollOutcome
  if (values.identity !== undefined) {
    if (values.name !== undefined || values.out !== undefined) throw new UsageError('--identity FILE registers an existing identity; --name and --out create a new one (give one or the other)')
    r = await enrollExistingIdentity(ctx.pq, ctx.rpc, resolve(values.identity))
  } else {
    r = await enrollNewIdentity(ctx.pq, ctx.rpc, { name: need(values.name, '--name'), path: resolve(need(values.out, '--out')) })
  }
  const how = r.status === 'already-enrolled' ? `already enrolled at height ${String(r.height)}` : `${r.status}${r.height !== undefined ? ` at height ${r.height}` : ''}`
  out(ctx, r, `enrolled patient ${r.name}: id ${r.patientId} (${how}); identity ${values.identity !== undefined ? 'in' : 'written to'} ${r.identity}`)
}

/** A name as a set of words: case, accents, punctuation and word order do not matter ("Okafor, Rosa" = "rosa okafor"). */
const nameWords = (name: string): string => name.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w !== '').sort().join(' ')

/**
 * The record input names a patient (FHIR Patient, or personalInfo.name) other than the --patient
 * identity's name. A FHIR Bundle is refused (a record cannot be removed from the chain, and a
 * Bundle's Patient says whose record it is) unless `allow`; then, and for a plain JSON record
 * (whose personalInfo the doctor writes), a warning on stderr before anything is submitted.
 */
function checkPatientName (raw: unknown, inputName: string | undefined, patientFile: ClientIdentityFile, patientPath: string, allow: boolean): void {
  if (inputName === undefined || nameWords(inputName) === nameWords(patientFile.name)) return
  const fhir = (raw as { resourceType?: unknown } | null)?.resourceType === 'Bundle'
  const what = fhir ? 'the FHIR Bundle\'s Patient' : 'the record\'s personalInfo.name'
  if (fhir && !allow) {
    throw new UsageError(`${what} is "${inputName}" but --patient ${patientPath} is "${patientFile.name}": not submitting another patient's record ` +
      '(records cannot be removed from the chain); check the files, or pass --allow-patient-mismatch if they are the same person')
  }
  console.error(`warning: ${what} is "${inputName}" but --patient ${patientPath} is "${patientFile.name}"; submitting for "${patientFile.name}"`)
}

async function recordSubmit (ctx: Ctx, values: { doctor?: string, patient?: string, input?: string, 'consortium-key'?: string, 'file-type'?: string, state?: string, 'allow-patient-mismatch'?: boolean }): Promise<void> {
  const state = resolve(values.state ?? ctx.config.state ?? DEFAULT_STATE_DIR)
  const inputPath = need(values.input, '--input')
  let inputBytes: Uint8Array
  try { inputBytes = new Uint8Array(await readFile(inputPath)) } catch (err) { throw new UsageError(`cannot read record input ${inputPath}: ${(err as Error).message}`) }
  // a FHIR Bundle is validated and mapped, and kept byte-exact as the record's attachment 0
  const input = parseRecordInputBytes(inputBytes, `record input ${inputPath}`)
  const raw = input.fhir !== undefined ? { resourceType: 'Bundle' } : undefined
  if (values['file-type'] !== undefined) input.fileType = values['file-type']
  const doctorFile = await identityFile(need(values.doctor, '--doctor'))
  const patientFile = await identityFile(need(values.patient, '--patient'))
  checkPatientName(raw, input.personalInfo.name, patientFile, need(values.patient, '--patient'), values['allow-patient-mismatch'] === true)
  const keys = await doctorKeys(ctx, consortiumPath(values['consortium-key'], state, values.state !== undefined ? {} : ctx.config), doctorFile)
  requireNewestEpoch(keys, doctorFile.name)
  const doctor = Doctor.fromIdentity(ctx.pq, doctorFile, { epochKeys: keys.epochKeys, counters: await loadCounters(state) })
  const patient = Patient.fromIdentity(ctx.pq, patientFile)
  // patient's client → doctor's client: cip0 (field keys, personal info, index-1 key)
  const recordId = patient.newRecordId()
  const cip0 = patient.keyTransfer(recordId, input.personalInfo, doctor.kemPublicKey)
  const handoff = doctor.openKeyTransfer(cip0, { recordId, patientId: patient.id })
  const s = await doctor.submitRecord(ctx.rpc, handoff, input)
  await saveCounters(state, doctor.counters)
  const bundleHash = s.built.tx.attachments[0]
  const bundleNote = input.fhir !== undefined && bundleHash !== undefined ? `; the FHIR Bundle (${input.fhir.bytes.length} bytes) is attachment 0, sha256 of its ciphertext ${hex(bundleHash)}` : ''
  const epoch = keys.epochKeys[keys.epochKeys.length - 1]?.epoch ?? 1
  out(ctx, { recordId: s.recordId, patientId: hex(patient.id), doctor: hex(doctor.id), ...s.result, fieldHashes: s.built.tx.fields.map(hex), attachmentHashes: s.built.tx.attachments.map(hex), indexUpdates: s.built.tx.indexUpdates.length, keyEpoch: epoch },
    `record ${s.recordId} ${s.result.status}${s.result.height !== undefined ? ` at height ${s.result.height}` : ''} (patient ${hex(patient.id)}, doctor ${doctor.name}, ${s.built.tx.indexUpdates.length} index updates under key epoch ${epoch}${bundleNote})`)
}

/**
 * The genesis anchors plus the doctor of record `recordId` when a hospital registered it on chain
 * (docs/GOVERNANCE.md): its key is taken from the node's chain_getConsortium only if its SHA-256 is
 * the record's doctor id, so the signature check stays this client's; that the key was registered
 * rests on the commit certificate (2f + 1 managers admitted the record only from an active doctor).
 */
async function withChainDoctor (ctx: Ctx, anchors: TrustAnchors | undefined, recordId: Uint8Array): Promise<TrustAnchors | undefined> {
  if (anchors === undefined) return anchors
  const rec = await ctx.rpc.getRecord(recordId)
  const known = anchors.doctors.some((d) => hex(sha256(d.sigPublicKey)) === rec.tx.doctor)
  if (known) return anchors
  let state
  try { state = await ctx.rpc.getConsortium(rec.height) } catch { return anchors } // an older node: the check reports the doctor as unregistered
  const d = state.doctors.find((x) => x.id === rec.tx.doctor && x.since < rec.height && (x.until === undefined || rec.height <= x.until))
  if (d === undefined) return anchors
  const sigPublicKey = unb64(d.sigPublicKey)
  if (hex(sha256(sigPublicKey)) !== rec.tx.doctor) return anchors
  if (!ctx.json) console.error(`note: doctor ${d.name} (${d.id.slice(0, 16)}...) was registered on chain by hospital ${d.hospital.slice(0, 16)}... at height ${d.since}, active at the record's height ${rec.height}; its key is from the node, checked against the record's doctor id`)
  return { ...anchors, doctors: [...anchors.doctors, { name: d.name, sigPublicKey, kemPublicKey: unb64(d.kemPublicKey) }] }
}

async function recordGet (ctx: Ctx, values: { decrypt?: boolean, as?: string, genesis?: string, 'save-ciphertexts'?: string, fhir?: boolean }, positionals: string[]): Promise<void> {
  const recordId = recordIdArg(positionals[0])
  if (values.fhir === true && (values.decrypt !== true || ctx.json)) throw new UsageError('--fhir prints the decrypted FHIR Bundle: it needs --decrypt --as ID_FILE, and no --json')
  if (values.as !== undefined && values.decrypt !== true) throw new UsageError('--as names the identity that decrypts: it goes with --decrypt (without --decrypt nothing is decrypted)')
  const anchors = await withChainDoctor(ctx, await trust(values.genesis ?? ctx.config.genesis), recordId) // the config file's genesis (npm start, sim:local) by default
  if (values.decrypt === true) {
    const f = await identityFile(need(values.as, '--as (the identity that decrypts)'))
    const r = f.role === 'patient'
      ? await Patient.fromIdentity(ctx.pq, f).readRecord(ctx.rpc, recordId, anchors)
      : await Doctor.fromIdentity(ctx.pq, f).readRecord(ctx.rpc, recordId, anchors)
    // grants addressed to this reader that gave no usable key: a warning, never fatal
    const warning = r.badGrants.length === 0
      ? undefined
      : `warning: ${r.badGrants.length} grant(s) addressed to ${f.name} gave no usable key: ` +
        r.badGrants.map((b) => `height ${b.height} by ${b.grantor} (${b.reason})`).join('; ')
    if (r.access === 'none') throw new ClientError('NO_ACCESS', `${f.name} holds no key for record ${hex(recordId)} (not its patient, no usable grant)${warning !== undefined ? `; ${warning}` : ''}`)
    if (warning !== undefined && !ctx.json) console.error(warning)
    const saved = values['save-ciphertexts'] === undefined ? undefined : await saveCiphertexts(values['save-ciphertexts'], recordId, r.record.ciphertexts)
    const cids = recordCids(r.record)
    const attachments = r.attachments.map((a) => ({ index: a.index, name: a.name, mediaType: a.mediaType, size: a.data.length }))
    const output = { recordId: hex(recordId), height: r.record.height, access: r.access, fields: r.fields, attachments, cids, badGrants: r.badGrants, verification: r.verification, ...(saved !== undefined ? { savedCiphertexts: saved } : {}) }
    const human = `record ${hex(recordId)} at height ${r.record.height} (${r.access} access)\n  ciphertext CIDs: ${cids.join(' ')}\n  this client: ${describeRecordVerification(r.verification)}\n${JSON.stringify(r.fields, null, 2)}` +
      attachments.map((a) => `\n  attachment ${a.index}: ${a.name} (${a.mediaType}, ${a.size} bytes)${a.name === FHIR_BUNDLE_ATTACHMENT.name ? ': print it with --fhir' : ''}`).join('') +
      `${saved !== undefined ? `\nciphertexts written to ${saved.join(' ')}` : ''}`
    requireComplete(r.verification, anchors, human, output)
    if (values.fhir === true) {
      const bundle = r.attachments.find((a) => a.name === FHIR_BUNDLE_ATTACHMENT.name && a.mediaType === FHIR_BUNDLE_ATTACHMENT.mediaType)
      if (bundle === undefined) {
        const why = r.unreadAttachments.length > 0 ? `: ${r.unreadAttachments.map((u) => `attachment ${u.index}: ${u.reason}`).join('; ')}` : r.access === 'owner' || r.record.tx.attachments.length === 0 ? ' (it was not imported from a FHIR Bundle)' : ` (${f.name} does not hold all three field keys)`
        throw new ClientError('NO_ACCESS', `record ${hex(recordId)} has no FHIR Bundle attachment readable by ${f.name}${why}`)
      }
      await new Promise<void>((resolve, reject) => { process.stdout.write(bundle.data, (err) => { if (err != null) reject(err); else resolve() }) })
      return
    }
    out(ctx, output, human)
    return
  }
  const rec = await ctx.rpc.getRecord(recordId)
  const local = verifyRecordAnswer(ctx.pq, rec, anchors)
  if (values['save-ciphertexts'] !== undefined) await saveCiphertexts(values['save-ciphertexts'], recordId, rec.ciphertexts)
  const cids = recordCids(rec)
  const summary = { recordId: hex(recordId), height: rec.height, doctor: rec.tx.doctor, time: rec.tx.time, fieldHashes: rec.tx.fields, attachments: rec.tx.attachments, cids, verifiedBy: rec.verifiedBy, localVerification: local }
  const human = `record ${hex(recordId)} at height ${rec.height} by doctor ${rec.tx.doctor}\n  ciphertext hashes: ${rec.tx.fields.join(' ')}${rec.tx.attachments.length > 0 ? `\n  attachment hashes: ${rec.tx.attachments.join(' ')}` : ''}\n  ciphertext CIDs (IPFS): ${cids.join(' ')}\n  this client: ${describeRecordVerification(local)}\n  answered by ${rec.verifiedBy === 'user-node' ? 'a user node, which verified it against its certified headers' : 'a manager, from its store'}`
  if (!local.valid) throw new VerificationFailed(`record ${hex(recordId)} fails client-side verification: ${describeRecordVerification(local)}`, summary)
  requireComplete(local, anchors, human, summary)
  out(ctx, summary, human)
}

/**
 * The IPFS CIDs of a record's ciphertexts (fields, then attachments), derived on this client from
 * the hashes in the record tx (which the client verifies), not taken from the node's `cids`.
 */
function recordCids (rec: RecordJson): string[] {
  return [...rec.tx.fields, ...rec.tx.attachments].map((h) => blobCidString(unhex(h)))
}

/**
 * `record export RECORD_ID --car FILE`: the record's blocks as a CAR file (src/client/car.ts),
 * written only after the record verified on this client (exit 3 otherwise, nothing written);
 * an existing FILE is never replaced; the file appears whole or not at all (temp file + rename).
 */
async function recordExport (ctx: Ctx, values: { car?: string, genesis?: string }, positionals: string[]): Promise<void> {
  const recordId = recordIdArg(positionals[0])
  const path = resolve(need(values.car, '--car'))
  if (existsSync(path)) throw new UsageError(`${path} exists: record export never replaces a file`)
  const anchors = await withChainDoctor(ctx, await trust(values.genesis ?? ctx.config.genesis), recordId)
  const rec = await ctx.rpc.getRecord(recordId)
  const local = verifyRecordAnswer(ctx.pq, rec, anchors)
  const { encodeCar, recordCar } = await import('../client/car.js')
  const summary = { recordId: hex(recordId), height: rec.height, car: path, localVerification: local }
  if (!local.valid) throw new VerificationFailed(`record ${hex(recordId)} fails client-side verification, nothing written: ${describeRecordVerification(local)}`, summary)
  requireComplete(local, anchors, `record ${hex(recordId)}: nothing written`, summary)
  const car = recordCar(rec)
  const bytes = await encodeCar(car)
  const tmp = `${path}.${process.pid}.tmp`
  try {
    await writeFile(tmp, bytes, { flag: 'wx' })
    await link(tmp, path) // fails if FILE appeared meanwhile: never replaced
  } finally {
    await unlink(tmp).catch(() => {})
  }
  const kinds = ['root (pqmed-record/1)', 'record tx', 'header', ...(rec.certificate !== null ? ['commit certificate'] : []),
    ...rec.tx.fields.map((_, i) => `cip${i + 1}`), ...rec.tx.attachments.map((_, i) => `attachment ${i}`)]
  const blocks = car.blocks.map((b, i) => ({ cid: b.cid.toString(), kind: kinds[i] ?? '?', bytes: b.bytes.length }))
  const result = { ...summary, root: car.root.toString(), blocks, bytes: bytes.length }
  out(ctx, result, `record ${hex(recordId)} at height ${rec.height} written to ${path}: CAR root ${car.root.toString()}, ${blocks.length} blocks, ${bytes.length} bytes\n` +
    `  this client: ${describeRecordVerification(local)}\n` + blocks.map((b) => `  ${b.cid} ${b.kind} (${b.bytes} bytes)`).join('\n'))
}

/** With the genesis file every check must have been done: a check the client could not do fails the command (exit 3). */
function requireComplete (local: LocalRecordVerification, anchors: TrustAnchors | undefined, human: string, output: unknown): void {
  if (anchors !== undefined && !local.complete) {
    throw new VerificationFailed(`${human}\nverification incomplete although --genesis was given: ${local.unchecked.map((u) => `${RECORD_CHECK_NAMES[u.check]}: ${u.reason}`).join('; ')}`, output)
  }
}

/** `--save-ciphertexts DIR`: writes the record's ciphertexts to DIR/<RECORD_ID>.cip<i>; returns the paths. */
async function saveCiphertexts (dirArg: string, recordId: Uint8Array, ciphertexts: string[]): Promise<string[]> {
  const dir = resolve(dirArg)
  await mkdir(dir, { recursive: true })
  const paths = ciphertexts.map((_, i) => join(dir, `${hex(recordId)}.cip${i + 1}`))
  await Promise.all(ciphertexts.map(async (c, i) => { await writeFile(paths[i] as string, unb64(c)) }))
  return paths
}

async function recordVerify (ctx: Ctx, values: { genesis?: string }, positionals: string[]): Promise<void> {
  const recordId = recordIdArg(positionals[0])
  const anchors = await withChainDoctor(ctx, await trust(values.genesis ?? ctx.config.genesis), recordId) // the config file's genesis (npm start, sim:local) by default
  const v = await ctx.rpc.verifyRecord(recordId)
  const c = v.checks
  const nodeReport = `  the node's own report (${v.valid ? 'all its checks passed' : 'INVALID'}): signature ${c.signature}, ciphertext hashes [${c.ciphertextHashes.join(', ')}], inclusion ${c.inclusion}, certificate ${c.certificate}, doctor registered ${c.doctorRegistered}${v.doctorStatus !== undefined && v.doctorStatus !== 'active' ? ` (doctor key ${v.doctorStatus} at height ${String(v.doctorUntil)}; records before it stay valid)` : ''}`
  if (!v.valid) throw new VerificationFailed(`record ${v.recordId} at height ${v.height}: INVALID according to the node\n${nodeReport}`, v)
  // and again on this client, from the raw record answer: only what this client checked counts
  const local = verifyRecordAnswer(ctx.pq, await ctx.rpc.getRecord(recordId), anchors)
  const result = { ...v, valid: v.valid && local.valid, complete: local.complete, unchecked: local.unchecked, localVerification: local }
  const human = `record ${v.recordId} at height ${v.height}\n  this client: ${describeRecordVerification(local)}\n${nodeReport}`
  if (!local.valid) throw new VerificationFailed(human, result)
  requireComplete(local, anchors, human, result)
  out(ctx, result, human)
}

async function writersFrom (consortium: string | undefined, genesis: string | undefined): Promise<Uint8Array[]> {
  if (consortium !== undefined) return keyRingWriters(parseConsortiumKeyRing(await readJsonFile(consortium, 'consortium key file')))
  if (genesis !== undefined) {
    const t = trustFromGenesis(await readJsonFile(genesis, 'genesis file'))
    const { principalId } = await import('../records/index.js')
    return t.doctors.map((d) => principalId(d.sigPublicKey))
  }
  throw new UsageError('the list of doctors (index writers) comes from --consortium-key FILE or --genesis FILE')
}

async function recordList (ctx: Ctx, values: { as?: string, 'consortium-key'?: string, genesis?: string }): Promise<void> {
  const patient = Patient.fromIdentity(ctx.pq, await identityFile(need(values.as, '--as')))
  const writers = await writersFrom(values['consortium-key'], values.genesis)
  const r = await patient.listRecords(ctx.rpc, writers)
  const result = { patientId: hex(patient.id), recordIds: r.recordIds, omitted: r.search.omitted.length, forged: r.search.forged.length }
  const human = `${r.recordIds.length} record(s) of patient ${hex(patient.id)}:\n${r.recordIds.map((id) => `  ${id}`).join('\n')}`
  if (r.search.forged.length > 0 || r.search.omitted.length > 0) throw new VerificationFailed(`${human}\n  omitted ${r.search.omitted.length}, forged ${r.search.forged.length}`, result)
  out(ctx, result, human)
}

/**
 * `file verify` needs no crypto backend (the node hashes and looks up the bytes). A CID (`--cid`,
 * or PATH when no such file exists and it parses as a ciphertext CID) is checked by its digest.
 */
async function fileVerify (ctx: Omit<Ctx, 'pq'>, values: { cid?: string }, positionals: string[]): Promise<void> {
  const path = positionals[0]
  if (path !== undefined && values.cid !== undefined) throw new UsageError('give PATH or --cid CID, not both')
  let cid = values.cid
  if (cid === undefined) {
    if (path === undefined) throw new UsageError('PATH (or --cid CID) is required')
    if (!existsSync(path) && looksLikeCid(path)) cid = path
  }
  let m
  let what: string
  if (cid !== undefined) {
    let hash: Uint8Array
    try { hash = blobHashFromCidString(cid) } catch (err) { throw new UsageError((err as Error).message) }
    m = await ctx.rpc.verifyCid(blobCidString(hash))
    what = `CID ${m.cid}`
  } else {
    const p = path as string
    let bytes: Uint8Array
    try { bytes = new Uint8Array(await readFile(p)) } catch (err) { throw new UsageError(`cannot read ${p}: ${(err as Error).message}`) }
    m = await ctx.rpc.verifyFile(bytes)
    what = p
  }
  const names = ['personal info (cip1)', 'symptoms (cip2)', 'prescriptions (cip3)']
  if (!m.match) throw new VerificationFailed(`${what} (sha256 ${m.sha256}) is NOT a committed record field or attachment`, m)
  const field = m.field === undefined ? '?' : names[m.field] ?? `attachment ${m.field - 3}`
  out(ctx, m, `${what} (sha256 ${m.sha256}) is ${field} of record ${String(m.recordId)} committed at height ${String(m.height)}`)
}

/** A CID string rather than a path: multibase-prefixed alphanumerics only (e.g. bafkrei…). */
function looksLikeCid (s: string): boolean {
  return /^(b[a-z2-7]{20,}|z[1-9A-HJ-NP-Za-km-z]{20,}|Qm[1-9A-HJ-NP-Za-km-z]{44})$/.test(s)
}

async function searchCmd (ctx: Ctx, values: { type?: string, born?: string, doctor?: string, 'consortium-key'?: string, state?: string, recover?: boolean, 'page-size'?: string }, positionals: string[]): Promise<void> {
  // --recover (the default) and --no-recover: commander keeps the last one given
  const recover = values.recover !== false
  const pageSize = values['page-size'] === undefined ? undefined : Number(values['page-size'])
  if (pageSize !== undefined && !(Number.isInteger(pageSize) && pageSize >= 1 && pageSize <= SEARCH_PAGE_MAX)) throw new UsageError(`--page-size must be an integer 1..${SEARCH_PAGE_MAX}, got ${values['page-size'] as string}`)
  const state = resolve(values.state ?? ctx.config.state ?? DEFAULT_STATE_DIR)
  const keywords = positionals.filter((k) => k.trim() !== '')
  if (keywords.length === 0 && values.type === undefined && values.born === undefined) throw new UsageError('give a KEYWORD, --type or --born')
  const query = { keywords, fileType: values.type, birthYears: values.born === undefined ? undefined : parseBorn(values.born) }
  const doctorFile = await identityFile(need(values.doctor, '--doctor'))
  const keys = await doctorKeys(ctx, consortiumPath(values['consortium-key'], state, values.state !== undefined ? {} : ctx.config), doctorFile)
  const doctor = Doctor.fromIdentity(ctx.pq, doctorFile, { epochKeys: keys.epochKeys, counters: await loadCounters(state) })
  const r = await doctor.search(ctx.rpc, query, keyRingWriters(keys.ring), { recover, pageSize })
  // the recovered counts make the next search cheaper and let it detect omissions of what it found now
  if (recover) await saveCounters(state, doctor.counters).catch((err: Error) => { console.error(`warning: the recovered counters were not saved to ${state}: ${err.message}`) })
  const cov = r.coverage
  const result = { query, matches: r.matches, omitted: r.omitted, forged: r.forged, coverage: { ...cov, stateDir: state } }
  const scope = cov.counters === 'recovered'
    ? `covers every index update the node reports for these terms from ${cov.writers} doctor(s) under key epoch(s) ${cov.epochs.join(', ')}: ${cov.updates} update(s); counters recovered from the node in ${cov.recovery?.rounds ?? 0} round(s), ${cov.recovery?.updatesFound ?? 0} not known to this client before`
    : `covers ONLY the ${cov.updates} index update(s) the client state ${state} knows of (records this state wrote or recovered earlier); records written by other clients are NOT searched: run without --no-recover for the complete answer`
  const human = `${r.matches.length} matching record(s), verified (${r.omitted.length} omitted, ${r.forged.length} forged; ${cov.pages} page(s) of results); ${scope}` +
    r.matches.map((m) => `\n  ${m.recordId} (height ${m.locations[0]?.height ?? '?'})`).join('')
  if (r.omitted.length > 0 || r.forged.length > 0) throw new VerificationFailed(`${human}\nthe node's answer is incomplete or forged: ${JSON.stringify({ omitted: r.omitted, forged: r.forged })}`, result)
  out(ctx, result, human)
}

async function grantCmd (ctx: Ctx, values: { from?: string, to?: string, fields?: string }, positionals: string[]): Promise<void> {
  const recordId = recordIdArg(positionals[0])
  const fields = parseFields(need(values.fields, '--fields'))
  const fromFile = await identityFile(need(values.from, '--from'))
  // the patient signs with the record's owner key (derived from its secret and the record id)
  if (fromFile.role !== 'patient') throw new UsageError('--from must be the record\'s patient (the holder of its field keys and owner key)')
  const patient = Patient.fromIdentity(ctx.pq, fromFile)
  const to = need(values.to, '--to')
  let granteeKem: Uint8Array
  let granteeName: string
  if (/^[0-9a-f]{64}$/.test(to)) {
    granteeKem = unb64((await ctx.rpc.getPatient(unhex(to))).kemPublicKey)
    granteeName = `patient ${to}`
  } else {
    const toFile = await identityFile(to)
    const grantee = loadClientIdentity(toFile)
    granteeKem = grantee.keys.kem.publicKey
    granteeName = `${toFile.role} ${toFile.name} (id ${hex(grantee.keys.id)})`
  }
  const r = await patient.grant(ctx.rpc, recordId, fields, granteeKem)
  const fieldNames = r.tx.fields.map((f) => FIELD_LABELS[f] ?? `field ${f}`)
  out(ctx, { recordId: hex(recordId), grantor: hex(r.tx.grantor), grantee: hex(r.tx.grantee), granteeName, fields: r.tx.fields, fieldNames, status: r.status, height: r.height, txHash: r.txHash },
    `granted ${fieldNames.join(', ')} of record ${hex(recordId)} to ${granteeName}, from patient ${patient.name} (${r.status}${r.height !== undefined ? ` at height ${r.height}` : ''}; grantee key ${hex(r.tx.grantee).slice(0, 16)}...)`)
}

/** `pqmed fhir-gateway` lives in ./fhir-gateway.ts (loaded only when it runs). */
async function fhirGateway (ctx: Ctx, values: OptionValues): Promise<void> {
  const { runFhirGateway } = await import('./fhir-gateway.js')
  await runFhirGateway(ctx, values)
}

const outcome = (r: { status: string, height?: number }): string => `${r.status}${r.height !== undefined ? ` at height ${r.height}` : ''}`

async function doctorAdd (ctx: Ctx, values: { name?: string, out?: string, hospital?: string, 'consortium-key'?: string, 'key-holder'?: string }): Promise<void> {
  if ((values['consortium-key'] === undefined) !== (values['key-holder'] === undefined)) throw new UsageError('--consortium-key and --key-holder go together')
  const hospital = await loadHospital(need(values.hospital, '--hospital'))
  const holder = values['key-holder'] !== undefined ? await identityFile(values['key-holder']) : undefined
  const path = resolve(need(values.out, '--out'))
  const r = await registerDoctor(ctx.pq, ctx.rpc, hospital, { path, name: need(values.name, '--name') })
  if (holder !== undefined && values['consortium-key'] !== undefined) {
    await addToConsortiumKey(ctx.pq, values['consortium-key'], holder, await identityFile(path))
    r.consortiumKey = values['consortium-key']
  }
  out(ctx, r, `added doctor ${r.name} for hospital ${hospital.name}: id ${r.doctorId} (${outcome(r)}); identity written to ${r.identity}` +
    (r.consortiumKey !== undefined ? `; consortium key wrapped to it in ${r.consortiumKey}` : ''))
}

async function doctorRotate (ctx: Ctx, values: { identity?: string, out?: string, hospital?: string, 'consortium-key'?: string }): Promise<void> {
  const hospital = await loadHospital(need(values.hospital, '--hospital'))
  const previous = await identityFile(need(values.identity, '--identity'))
  if (previous.role !== 'doctor') throw new UsageError(`${String(values.identity)} holds a ${previous.role} identity, not a doctor's`)
  const path = resolve(need(values.out, '--out'))
  const r = await registerDoctor(ctx.pq, ctx.rpc, hospital, { path, previous })
  if (values['consortium-key'] !== undefined) {
    await addToConsortiumKey(ctx.pq, values['consortium-key'], previous, await identityFile(path))
    r.consortiumKey = values['consortium-key']
  }
  out(ctx, r, `rotated doctor ${r.name}: ${String(r.previous)} -> ${r.doctorId} (${outcome(r)}); new identity written to ${r.identity}` +
    (r.consortiumKey !== undefined ? `; consortium key wrapped to it in ${r.consortiumKey}` : ''))
}

async function doctorRevoke (ctx: Ctx, values: { hospital?: string }, args: string[]): Promise<void> {
  const arg = args[0]
  if (arg === undefined) throw new UsageError('DOCTOR_ID is required')
  let doctor: Uint8Array
  if (/^[0-9a-fA-F]{64}$/.test(arg)) doctor = unhex(arg.toLowerCase(), 'DOCTOR_ID')
  else if (existsSync(arg)) {
    const f = await identityFile(arg)
    if (f.role !== 'doctor') throw new UsageError(`${arg} holds a ${f.role} identity, not a doctor's`)
    doctor = loadClientIdentity(f).keys.id
  } else throw new UsageError(`DOCTOR_ID must be 64 hex digits or a doctor identity file, got ${JSON.stringify(arg)}`)
  const hospital = await loadHospital(need(values.hospital, '--hospital'))
  const r = await submitGovernanceTx(ctx.pq, ctx.rpc, hospital, { type: 'doctor', action: 'revoke', hospital: hospital.id, doctor, time: Date.now() })
  const res = { doctorId: hex(doctor), hospital: hex(hospital.id), status: r.status, txHash: r.txHash, ...(r.height !== undefined ? { height: r.height } : {}) }
  out(ctx, res, `revoked doctor ${hex(doctor)} (${outcome(r)}): its records and grants up to height ${String(r.height ?? '?')} stay valid; new ones are refused`)
}

async function userNode (ctx: Ctx, action: 'add' | 'remove', values: { hospital?: string }, args: string[]): Promise<void> {
  const peerId = args[0]
  if (peerId === undefined) throw new UsageError('PEER_ID is required')
  const hospital = await loadHospital(need(values.hospital, '--hospital'))
  let r
  try {
    r = await submitGovernanceTx(ctx.pq, ctx.rpc, hospital, { type: 'user-node', action, hospital: hospital.id, peerId, time: Date.now() })
  } catch (err) {
    if (err instanceof BlockError) throw new UsageError(`PEER_ID: ${err.message}`)
    throw err
  }
  const res = { peerId, action, hospital: hex(hospital.id), status: r.status, txHash: r.txHash, ...(r.height !== undefined ? { height: r.height } : {}) }
  out(ctx, res, `${action === 'add' ? 'admitted' : 'removed'} user node ${peerId} for hospital ${hospital.name} (${outcome(r)})`)
}

const userNodeAdd = async (ctx: Ctx, values: { hospital?: string }, args: string[]): Promise<void> => { await userNode(ctx, 'add', values, args) }
const userNodeRemove = async (ctx: Ctx, values: { hospital?: string }, args: string[]): Promise<void> => { await userNode(ctx, 'remove', values, args) }


/**
 * The doctor's index-2 keys: reads the consortium key file (either format), adds the key epochs
 * committed since its newest (`fetchKeyEpochs`; the file is replaced atomically, mode 0600, when
 * any is new), and opens every epoch wrapped to this doctor. So a record is always written under
 * the newest epoch the chain has for this doctor, and a search covers every epoch it holds.
 */
async function doctorKeys (ctx: Ctx, path: string, doctorFile: ClientIdentityFile): Promise<{ ring: ConsortiumKeyRing, epochKeys: EpochKey[], added: number[] }> {
  const read = parseConsortiumKeyRing(await readJsonFile(path, 'consortium key file'))
  const { ring, added } = await fetchKeyEpochs(ctx.rpc, read)
  if (added.length > 0) await writeJsonAtomic(path, ring)
  return { ring, epochKeys: openKeyRing(ctx.pq, ring, loadClientIdentity(doctorFile).keys.kem.secretKey), added }
}

/**
 * A writer must hold the newest key epoch: a record indexed under an older one would be searchable
 * by the doctors removed since (a revoked doctor, whose own submissions the managers refuse anyway,
 * or a doctor whose keys changed after the newest epoch was issued).
 */
export function requireNewestEpoch (keys: { ring: ConsortiumKeyRing, epochKeys: EpochKey[] }, name: string): void {
  const newest = keys.ring.epochs.length
  const held = keys.epochKeys[keys.epochKeys.length - 1]?.epoch
  if (held !== newest) {
    throw new ClientError('BAD_CONSORTIUM_KEY', `${name} is not wrapped in the newest key epoch ${newest} (it holds ${keys.epochKeys.map((e) => e.epoch).join(', ')}): ` +
      `its records would be indexed under epoch ${String(held)}, which doctors removed since can search; nothing was submitted. ` +
      'If it is still an active doctor (its keys changed after that epoch), a manager issues a new epoch: pqmed consortium-key rotate')
  }
}

async function writeJsonAtomic (path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 })
  try { await rename(tmp, path) } catch (err) { await unlink(tmp).catch(() => {}); throw err }
}

/** `pqmed consortium-key fetch`: adds the committed key epochs to the file and reports what the doctor holds. */
async function keyFetch (ctx: Ctx, values: { identity?: string, 'consortium-key'?: string, state?: string }): Promise<void> {
  const state = resolve(values.state ?? ctx.config.state ?? DEFAULT_STATE_DIR)
  const path = consortiumPath(values['consortium-key'], state, values.state !== undefined ? {} : ctx.config)
  const doctorFile = await identityFile(need(values.identity, '--identity'))
  if (doctorFile.role !== 'doctor') throw new UsageError(`--identity must be a doctor's identity (${doctorFile.name} is a ${doctorFile.role})`)
  const { ring, epochKeys, added } = await doctorKeys(ctx, path, doctorFile)
  const held = epochKeys.map((e) => e.epoch)
  const latest = ring.epochs.length
  const result = { path: resolve(path), chainId: ring.chainId ?? null, epochs: latest, added, held, newest: held[held.length - 1] ?? null, writers: keyRingWriters(ring).length }
  const warn = held[held.length - 1] !== latest ? `; WARNING: ${doctorFile.name} is not wrapped in the newest epoch ${latest} (revoked, or its key changed after it): it can search only records written under epochs ${held.join(', ')}` : ''
  out(ctx, result, `${path}: ${latest} key epoch(s)${added.length > 0 ? `, added ${added.join(', ')}` : ', none new'}; ${doctorFile.name} holds epoch(s) ${held.join(', ')} and writes under ${String(held[held.length - 1])}${warn}`)
}

/** `pqmed consortium-key rotate`: a manager issues the next key epoch to the active doctors. */
async function keyRotate (ctx: Ctx, values: { hospital?: string, 'hospital-id'?: string }): Promise<void> {
  const { loadIdentity, readIdentityFile } = await import('../node/identity.js')
  const { sha256 } = await import('../crypto/index.js')
  const path = need(values.hospital, '--hospital')
  let ident
  try { ident = await loadIdentity(await readIdentityFile(path)) } catch (err) { throw new UsageError((err as Error).message) }
  if (ident.role !== 'manager') throw new UsageError(`--hospital must be a manager identity (${ident.name} is a ${ident.role}): only a current manager may issue a key epoch`)
  const file = await readIdentityFile(path)
  let hospitalId = file.hospitalId !== undefined && /^[0-9a-f]{64}$/.test(file.hospitalId) ? fromHex(file.hospitalId) : sha256(ident.keys.sig.publicKey)
  if (values['hospital-id'] !== undefined) {
    try { hospitalId = unhex(values['hospital-id'].toLowerCase(), '--hospital-id') } catch (err) { throw new UsageError((err as Error).message) }
  }
  const r = await rotateConsortiumKey(ctx.pq, ctx.rpc, { hospitalId, sigSecretKey: ident.keys.sig.secretKey })
  out(ctx, { ...r, doctorCount: r.doctors.length },
    `key epoch ${r.epoch} ${r.result.status}${r.result.height !== undefined ? ` at height ${r.result.height}` : ''}: key ${r.keyId.slice(0, 16)}... wrapped to ${r.doctors.length} active doctor(s), signed by hospital ${r.hospital.slice(0, 16)}... (${ident.name}); doctors run \`pqmed consortium-key fetch\` (record submit and search fetch it too)`)
}


// ---------------------------------------------------------------------------------------------
// pqmed consortium: manager changes (docs/CONSENSUS.md, "Manager changes: how to")

async function readChange (path: string): Promise<ChangeFile> {
  let raw: string
  try { raw = await readFile(resolve(path), 'utf8') } catch (err) { throw new UsageError(`cannot read change file ${path}: ${(err as Error).message}`) }
  let f: ChangeFile
  try { f = JSON.parse(raw) as ChangeFile } catch { throw new UsageError(`${path} is not JSON`) }
  try { changeOf(f); if (!Array.isArray(f.signatures)) throw new ChangeFileError('signatures must be a list'); if (f.signatures.length > 0) changeTx(f) } catch (err) { throw new UsageError(`${path}: ${(err as Error).message}`) }
  return f
}

async function writeNew (path: string, data: string, overwrite: boolean): Promise<void> {
  if (!overwrite && existsSync(path)) throw new UsageError(`${path} exists (not overwritten)`)
  await writeFile(path, data)
}

function showChange (f: ChangeFile): string {
  const who = f.action === 'add' ? `${f.name ?? ''} (hospital ${f.hospitalId.slice(0, 16)}…, peer ${f.peerId ?? ''})` : `hospital ${f.hospitalId.slice(0, 16)}…${f.action === 'rotate' ? ` → new key, peer ${f.peerId ?? ''}` : ''}`
  return `${f.action} ${who} on ${f.chainId}, against configuration ${f.baseConfig.slice(0, 16)}…; ${f.signatures.length} signature(s): ${f.signatures.map((s) => s.hospitalId.slice(0, 16)).join(', ')}`
}

async function consortiumPropose (ctx: Ctx, values: { action?: string, out?: string, identity?: string, name?: string, hospital?: string, addr?: string[] }): Promise<void> {
  const action = need(values.action, '--action')
  if (action !== 'add' && action !== 'remove' && action !== 'rotate') throw new UsageError('--action must be add, remove or rotate')
  const out = resolve(need(values.out, '--out'))
  const head = await ctx.rpc.call<{ header: { chainId: string, nextConfigHash: string } }>('chain_getHeader', { height: 'latest' })
  let manager
  if (action !== 'remove') {
    const id = await loadIdentity(await readIdentityFile(resolve(need(values.identity, '--identity'))))
    if (id.role !== 'manager') throw new UsageError(`${values.identity ?? ''} is a ${id.role} identity, not a manager identity`)
    manager = { name: values.name ?? id.name, sigPublicKey: id.keys.sig.publicKey, peerId: id.peerId, addrs: values.addr ?? [] }
  }
  if (action !== 'add' && (values.hospital === undefined || !/^[0-9a-f]{64}$/.test(values.hospital))) throw new UsageError('--hospital must be the hospital id (64 hex digits)')
  let f: ChangeFile
  try {
    f = proposeChange({ chainId: head.header.chainId, baseConfig: fromHex(head.header.nextConfigHash), action, ...(values.hospital !== undefined ? { hospitalId: values.hospital } : {}), ...(manager !== undefined ? { manager } : {}), time: Date.now() })
  } catch (err) { throw new UsageError((err as Error).message) }
  await writeNew(out, JSON.stringify(f, null, 2) + '\n', false)
  if (ctx.json) console.log(JSON.stringify({ file: out, ...f }))
  else console.log(`wrote ${out}: ${showChange(f)}\nnext: each hospital runs pqmed consortium sign ${out} --identity ITS_MANAGER_IDENTITY`)
}

async function consortiumSign (ctx: Ctx, values: { identity?: string, out?: string }, positionals: string[]): Promise<void> {
  const path = need(positionals[0], 'CHANGE_FILE')
  const f = await readChange(path)
  const file = await readIdentityFile(resolve(need(values.identity, '--identity')))
  const id = await loadIdentity(file)
  if (id.role !== 'manager') throw new UsageError('signing a manager change needs a manager identity')
  const hospitalId = file.hospitalId !== undefined ? fromHex(file.hospitalId) : sha256(id.keys.sig.publicKey)
  const signed = signChangeFile(ctx.pq, f, id.keys.sig, hospitalId)
  const out = resolve(values.out ?? path)
  await writeFile(out, JSON.stringify(signed, null, 2) + '\n')
  if (ctx.json) console.log(JSON.stringify({ file: out, hospitalId: toHex(hospitalId), signatures: signed.signatures.length }))
  else console.log(`signed as hospital ${toHex(hospitalId).slice(0, 16)}…: ${out} now carries ${signed.signatures.length} signature(s)`)
}

async function consortiumSubmit (ctx: Ctx, _values: OptionValues, positionals: string[]): Promise<void> {
  if (positionals.length === 0) throw new UsageError('name at least one signed change file')
  let merged: ChangeFile
  try { merged = mergeChangeFiles(await Promise.all(positionals.map(readChange))) } catch (err) { throw err instanceof ChangeFileError ? new UsageError(err.message) : err }
  const r = await ctx.rpc.call<{ status: string, txHash: string, height?: number }>('consortium_submitChange', { submission: Buffer.from(changeSubmission(merged)).toString('base64'), wait: true })
  if (ctx.json) console.log(JSON.stringify({ ...r, signatures: merged.signatures.length }))
  else console.log(`${r.status} at height ${String(r.height)} (tx ${r.txHash}); the change takes effect a few blocks later (genesis configDelay, default 2)`)
}

async function consortiumShow (ctx: Ctx, _values: OptionValues, positionals: string[]): Promise<void> {
  const f = await readChange(need(positionals[0], 'CHANGE_FILE'))
  if (ctx.json) console.log(JSON.stringify(f))
  else console.log(showChange(f))
}

const HANDLERS = { enroll, recordSubmit, recordGet, recordVerify, recordList, recordExport, searchCmd, grantCmd, fhirGateway, consortiumPropose, consortiumSign, consortiumSubmit, consortiumShow, doctorAdd, doctorRotate, doctorRevoke, userNodeAdd, userNodeRemove, keyFetch, keyRotate }

/**
 * Runs one client command (`group`: its top-level name, used in error messages) with its parsed
 * options; sets `process.exitCode` (never throws).
 */
export async function runClientCommand (cmd: string, handler: keyof typeof HANDLERS | 'fileVerify', values: OptionValues, positionals: string[]): Promise<void> {
  const json = values.json === true
  let source: NodeUrlSource | undefined
  try {
    // the node: --rpc, then PQMED_RPC, then the config file (.pqmed.json), then the default (node-url.ts)
    const config = findConfig({ env: process.env, cwd: process.cwd() })
    const target = resolveNodeUrl({ flag: values.rpc as string | undefined, env: process.env, cwd: process.cwd(), config })
    source = target.source
    let rpc: RpcClient
    try { rpc = new RpcClient(target.url) } catch (err) { throw new UsageError((err as Error).message) }
    if (handler === 'fileVerify') await fileVerify({ rpc, json, config: config?.config ?? {} }, values, positionals)
    else {
      // liboqs' WebAssembly takes about 0.2 s to load, and a record read without --decrypt or a record
      // verify runs at most a few ML-DSA verifications (none without --genesis; with it the doctor's
      // signature and the 2f + 1 certificate signatures, about 1.7 ms each with noble): those get the
      // pure-JS noble backend, already loaded and checked against the same NIST vectors
      const verifyOnly = (handler === 'recordGet' && values.decrypt !== true) || handler === 'recordVerify'
      const ctx: Ctx = { rpc, json, pq: await loadPqBackend(verifyOnly ? { backend: 'noble' } : {}), config: config?.config ?? {} }
      const run = HANDLERS[handler] as (ctx: Ctx, values: OptionValues, positionals: string[]) => Promise<void>
      await run(ctx, values, positionals)
    }
  } catch (err) {
    const e = err as Error & { code?: string }
    let exit = 1
    if (err instanceof VerificationFailed) {
      exit = 3
      if (json) console.log(JSON.stringify(err.output))
    } else if (err instanceof UsageError || err instanceof CliConfigError ||
      (err instanceof ClientError && (err.code === 'BAD_INPUT' || err.code === 'BAD_IDENTITY' || err.code === 'BAD_CONSORTIUM_KEY'))) {
      exit = 2
    }
    const detail = err instanceof RpcCallError ? ` [rpc ${err.rpcCode}${err.rpcName !== undefined ? ` ${err.rpcName}` : ''}]` : ''
    const message = err instanceof NodeUnreachableError && source !== undefined ? unreachableMessage(err.url, source, err.reason) : e.message
    console.error(`pqmed ${cmd}: ${message}${detail}${exit === 2 && !(err instanceof ClientError) && !(err instanceof CliConfigError) ? ` (see: pqmed ${cmd} --help)` : ''}`)
    if (json && !(err instanceof VerificationFailed)) console.log(JSON.stringify({ error: { message: e.message, code: err instanceof RpcCallError ? err.rpcCode : e.code ?? 'ERROR' } }))
    process.exitCode = exit
  }
}
