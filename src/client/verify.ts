/**
 * Client-side re-verification of a record answer (`ehr_getRecord`), independent of the node that
 * answered: the header hash, each ciphertext's SHA-256 against the signed hashes, the Merkle
 * inclusion of the tx under the header's txRoot and, when the client holds them (a genesis file),
 * the doctor's ML-DSA-65 signature, the doctor's registration and the managers' commit
 * certificate. The result says which checks passed, which failed and which were not performed
 * (and why): only `valid && complete` means the record is fully verified.
 */
import { headerHash, indexUpdatesHash, verifyCertificate, verifyRecordInclusion, type CommitCertificate, type GrantTx, type Header, type RecordTx } from '../blocks/index.js'
import { equalBytes, sha256, SUITE, type SigVerifier } from '../crypto/index.js'
import { verifyRecordTx } from '../records/index.js'
import type { CertificateJson, HeaderJson, RecordJson, TxJson } from '../rpc/backend.js'
import { ClientError } from './errors.js'
import * as codec from '../rpc/codec.js'
import { fromJson, hex, unb64, unhex } from './rpc.js'

/** What a client may know independently of any node: the genesis's manager and doctor keys. */
export interface TrustAnchors {
  chainId: string
  /** Managers' ML-DSA-65 public keys in genesis order. */
  managers: Uint8Array[]
  /** Registered doctors' keys. */
  doctors: Array<{ name: string, sigPublicKey: Uint8Array, kemPublicKey: Uint8Array }>
}

/** Reads the public parts of a genesis JSON document (`pqmed genesis` output). */
export function trustFromGenesis (raw: unknown): TrustAnchors {
  const g = raw as { chainId?: unknown, managers?: unknown, doctors?: unknown } | null
  if (g === null || typeof g !== 'object' || typeof g.chainId !== 'string' || !Array.isArray(g.managers) || !Array.isArray(g.doctors)) {
    throw new ClientError('BAD_INPUT', 'genesis must have chainId, managers and doctors')
  }
  const key = (v: unknown, len: number, what: string): Uint8Array => {
    const b = typeof v === 'string' ? unb64(v) : new Uint8Array()
    if (b.length !== len) throw new ClientError('BAD_INPUT', `genesis ${what} is not a ${len}-byte base64 key`)
    return b
  }
  return {
    chainId: g.chainId,
    managers: (g.managers as Array<{ sigPublicKey?: unknown }>).map((m, i) => key(m?.sigPublicKey, SUITE.sigPublicKeyBytes, `managers[${i}].sigPublicKey`)),
    doctors: (g.doctors as Array<{ name?: unknown, sigPublicKey?: unknown, kemPublicKey?: unknown }>).map((d, i) => ({
      name: typeof d?.name === 'string' ? d.name : `doctor-${i}`,
      sigPublicKey: key(d?.sigPublicKey, SUITE.sigPublicKeyBytes, `doctors[${i}].sigPublicKey`),
      kemPublicKey: key(d?.kemPublicKey, SUITE.kemPublicKeyBytes, `doctors[${i}].kemPublicKey`)
    }))
  }
}

export const headerFromJson = (h: HeaderJson): Header => fromJson(() => codec.headerFromJson(h))
export const recordTxFromJson = (t: Extract<TxJson, { type: 'record' }>): RecordTx => fromJson(() => codec.recordTxFromJson(t))
export const grantTxFromJson = (t: Extract<TxJson, { type: 'grant' }>): GrantTx => fromJson(() => codec.grantTxFromJson(t))
const certFromJson = (c: CertificateJson): CommitCertificate => fromJson(() => codec.certFromJson(c))

/** `'unchecked'`: the client lacks what the check needs (no genesis, or no certificate in the answer). */
export type LocalCheck = boolean | 'unchecked'

/** The checks of `verifyRecordAnswer`, in the order they are reported. */
export type RecordCheckName = 'headerHash' | 'ciphertextHashes' | 'inclusion' | 'signature' | 'doctorRegistered' | 'certificate'

/** Human names of the checks (CLI output). */
export const RECORD_CHECK_NAMES: Readonly<Record<RecordCheckName, string>> = {
  headerHash: 'header hash',
  ciphertextHashes: 'ciphertext hashes',
  inclusion: 'Merkle inclusion in the block',
  signature: 'doctor\'s signature',
  doctorRegistered: 'doctor registration',
  certificate: 'commit certificate (2f + 1 managers)'
}

export interface LocalRecordVerification {
  /** Every performed check passed (unchecked ones do not count against it: see `complete`). */
  valid: boolean
  /** Every check was performed (nothing is `'unchecked'`). Only `valid && complete` means the record is fully verified. */
  complete: boolean
  checks: {
    headerHash: boolean
    ciphertextHashes: boolean[]
    inclusion: boolean
    signature: LocalCheck
    doctorRegistered: LocalCheck
    certificate: LocalCheck
  }
  /** The checks that were performed and passed. */
  passed: RecordCheckName[]
  /** The checks that were performed and failed. */
  failed: RecordCheckName[]
  /** The checks that were not performed, each with the reason. */
  unchecked: Array<{ check: RecordCheckName, reason: string }>
}

const NO_GENESIS = 'needs the genesis file (--genesis FILE): the managers\' and registered doctors\' keys'

/** Re-verifies an `ehr_getRecord` answer on the client. Never throws on bad data: reports it. */
export function verifyRecordAnswer (verifier: SigVerifier, rec: RecordJson, trust?: TrustAnchors): LocalRecordVerification {
  let header: Header | undefined
  let tx: RecordTx | undefined
  try { header = headerFromJson(rec.header); tx = recordTxFromJson(rec.tx) } catch { /* reported below */ }
  if (header === undefined || tx === undefined) {
    return summarize({ headerHash: false, ciphertextHashes: [], inclusion: false, signature: false, doctorRegistered: false, certificate: false }, false, {})
  }
  const hh = headerHash(header)
  const headerOk = hex(hh) === rec.header.hash
  const expected = [...tx.fields, ...tx.attachments]
  const ciphertextHashes = expected.map((h, i) => {
    const c = rec.ciphertexts[i]
    return c !== undefined && equalBytes(sha256(unb64(c)), h)
  })
  const inclusion = verifyRecordInclusion(header, { tx, txIndex: rec.txIndex, txCount: header.txCount, height: rec.height, proof: rec.proof.map((p) => unhex(p)) })
  let signature: LocalCheck = 'unchecked'
  let doctorRegistered: LocalCheck = 'unchecked'
  let certificate: LocalCheck = 'unchecked'
  const reasons: Partial<Record<RecordCheckName, string>> = { signature: NO_GENESIS, doctorRegistered: NO_GENESIS, certificate: NO_GENESIS }
  if (trust !== undefined) {
    const doctors = trust.doctors
    const sig = verifyRecordTx(verifier, (id) => doctors.find((d) => equalBytes(sha256(d.sigPublicKey), id))?.sigPublicKey, tx, indexUpdatesHash(tx.indexUpdates))
    doctorRegistered = sig.ok || sig.code !== 'UNREGISTERED_DOCTOR'
    signature = sig.ok
    if (rec.certificate !== null) {
      let cert: CommitCertificate | undefined
      try { cert = certFromJson(rec.certificate) } catch { /* a malformed certificate fails the check */ }
      certificate = cert !== undefined && verifyCertificate(cert, { chainId: trust.chainId, managers: trust.managers, verifier }, { height: header.height, headerHash: hh }).ok
    } else {
      reasons.certificate = `the node's answer carries no commit certificate for height ${rec.height}`
    }
  }
  const countOk = ciphertextHashes.length === rec.ciphertexts.length
  return summarize({ headerHash: headerOk, ciphertextHashes, inclusion, signature, doctorRegistered, certificate }, countOk, reasons)
}

function summarize (checks: LocalRecordVerification['checks'], ciphertextCountOk: boolean, reasons: Partial<Record<RecordCheckName, string>>): LocalRecordVerification {
  const passed: RecordCheckName[] = []
  const failed: RecordCheckName[] = []
  const unchecked: LocalRecordVerification['unchecked'] = []
  for (const name of Object.keys(RECORD_CHECK_NAMES) as RecordCheckName[]) {
    const v = name === 'ciphertextHashes' ? ciphertextCountOk && checks.ciphertextHashes.length > 0 && checks.ciphertextHashes.every(Boolean) : checks[name]
    if (v === 'unchecked') unchecked.push({ check: name, reason: reasons[name] ?? 'not checked' })
    else if (v) passed.push(name)
    else failed.push(name)
  }
  return { valid: failed.length === 0, complete: unchecked.length === 0, checks, passed, failed, unchecked }
}

/**
 * One line saying what this client checked, and what it did not: VALID only when every check was
 * done and passed; "valid as far as checked" (and the list of what was not) otherwise.
 */
export function describeRecordVerification (v: LocalRecordVerification): string {
  const names = (xs: readonly RecordCheckName[]): string => xs.map((x) => RECORD_CHECK_NAMES[x]).join(', ')
  if (!v.valid) return `INVALID: failed ${names(v.failed)}${v.passed.length > 0 ? `; passed ${names(v.passed)}` : ''}${v.unchecked.length > 0 ? `; not checked ${names(v.unchecked.map((u) => u.check))}` : ''}`
  if (v.complete) return `VALID (every check done on this client: ${names(v.passed)})`
  const why = [...new Set(v.unchecked.map((u) => u.reason))]
  return `NOT FULLY VERIFIED: passed ${names(v.passed)}; NOT checked ${names(v.unchecked.map((u) => u.check))} (${why.join('; ')})`
}
