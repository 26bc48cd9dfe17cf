/**
 * Client-side re-verification of a record answer (`ehr_getRecord`), independent of the node that
 * answered: the header hash, each ciphertext's SHA-256 against the signed hashes, the Merkle
 * inclusion of the tx under the header's txRoot and, when the client holds them (a genesis file),
 * the doctor's ML-DSA-65 signature and the managers' commit certificate.
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

export interface LocalRecordVerification {
  /** Every performed check passed (unchecked ones do not count against it). */
  valid: boolean
  checks: {
    headerHash: boolean
    ciphertextHashes: boolean[]
    inclusion: boolean
    signature: LocalCheck
    doctorRegistered: LocalCheck
    certificate: LocalCheck
  }
}

/** Re-verifies an `ehr_getRecord` answer on the client. Never throws on bad data: reports it. */
export function verifyRecordAnswer (verifier: SigVerifier, rec: RecordJson, trust?: TrustAnchors): LocalRecordVerification {
  let header: Header | undefined
  let tx: RecordTx | undefined
  try { header = headerFromJson(rec.header); tx = recordTxFromJson(rec.tx) } catch { /* reported below */ }
  if (header === undefined || tx === undefined) {
    return { valid: false, checks: { headerHash: false, ciphertextHashes: [], inclusion: false, signature: false, doctorRegistered: false, certificate: false } }
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
  if (trust !== undefined) {
    const doctors = trust.doctors
    const sig = verifyRecordTx(verifier, (id) => doctors.find((d) => equalBytes(sha256(d.sigPublicKey), id))?.sigPublicKey, tx, indexUpdatesHash(tx.indexUpdates))
    doctorRegistered = sig.ok || sig.code !== 'UNREGISTERED_DOCTOR'
    signature = sig.ok
    if (rec.certificate !== null) {
      certificate = verifyCertificate(certFromJson(rec.certificate), { chainId: trust.chainId, managers: trust.managers, verifier }, { height: header.height, headerHash: hh }).ok
    }
  }
  const checks = { headerHash: headerOk, ciphertextHashes, inclusion, signature, doctorRegistered, certificate }
  const valid = headerOk && inclusion && ciphertextHashes.length === rec.ciphertexts.length && ciphertextHashes.every(Boolean) &&
    signature !== false && doctorRegistered !== false && certificate !== false
  return { valid, checks }
}
