/**
 * Reading a record: fetch (`ehr_getRecord`), re-verify on the client, then decrypt every field the
 * reader holds a key for — the patient's own field keys (derived from its PUF secret), or the keys
 * of committed grants addressed to the reader's ML-KEM key (`ehr_listGrants` → `openGrant`).
 *
 * Every grant addressed to the reader is tried: each is checked with the grant rule
 * (`authorizeGrant`: by the record's doctor or owner, signature valid), opened, and each of its
 * fields decrypted on its own. A field is read from any grant that opens and decrypts it; grants
 * that fail (an authorized grantor can still wrap junk keys) are reported in `badGrants`, never
 * fatal.
 */
import { encodeTx } from '../blocks/index.js'
import { equalBytes, fromUtf8, sha256, type PqBackend } from '../crypto/index.js'
import { deriveFieldKeys } from '../puf/index.js'
import { authorizeGrant, decryptAttachment, decryptField, deriveAttachmentKeyFromFields, FIELD_NAMES, kemKeyId, openGrant, RecordError, type Attachment, type FieldIndex, type FieldKeys, type FieldName } from '../records/index.js'
import type { GrantJson, RecordJson } from '../rpc/backend.js'
import { ClientError } from './errors.js'
import { hex, type RpcClient, unb64, unhex } from './rpc.js'
import { grantTxFromJson, verifyRecordAnswer, type LocalRecordVerification, type TrustAnchors } from './verify.js'

/** Who is reading: an identity's keys (and PUF secret when it is a patient reading its own records). */
export interface Reader {
  kemPublicKey: Uint8Array
  kemSecretKey: Uint8Array
  /** The patient's PUF secret (field keys of its own records derive from it). */
  secret?: Uint8Array
}

/** A grant addressed to the reader that gave no usable key (or not for every field it lists). */
export interface BadGrant {
  /** Height of the block that committed the grant. */
  height: number
  /** SHA-256 of the encoded grant tx (hex), when it decodes. */
  txHash?: string
  grantor: string
  /** Fields of the grant that did not decrypt (all of them when the grant did not open). */
  fields: number[]
  reason: string
}

export interface ReadRecordResult {
  record: RecordJson
  verification: LocalRecordVerification
  /** 'owner': the reader's own record; 'grant': keys from grants; 'none': no key opens any field. */
  access: 'owner' | 'grant' | 'none'
  /** Decrypted fields (JSON-parsed when they are JSON, else the UTF-8 text). */
  fields: Partial<Record<FieldName, unknown>>
  /** Grants addressed to the reader that are refused by the grant rule, do not open, or hold a key that does not decrypt its field. */
  badGrants: BadGrant[]
  /**
   * The record's attachments (e.g. the original FHIR Bundle), decrypted when the reader holds all
   * three field keys (`deriveAttachmentKeyFromFields`); empty otherwise.
   */
  attachments: Array<Attachment & { index: number }>
  /** Attachments the reader could not decrypt (with all three field keys), and why. */
  unreadAttachments: Array<{ index: number, reason: string }>
}

/** Decrypts the attachments with keys derived from the three field keys. */
function openAttachments (recordId: Uint8Array, keys: FieldKeys, cips: Uint8Array[]): Pick<ReadRecordResult, 'attachments' | 'unreadAttachments'> {
  const attachments: ReadRecordResult['attachments'] = []
  const unreadAttachments: ReadRecordResult['unreadAttachments'] = []
  cips.slice(3).forEach((c, index) => {
    try {
      attachments.push({ ...decryptAttachment(deriveAttachmentKeyFromFields(keys, recordId, index), recordId, index, c), index })
    } catch (err) {
      unreadAttachments.push({ index, reason: (err as Error).message })
    }
  })
  return { attachments, unreadAttachments }
}

function parseField (b: Uint8Array): unknown {
  const s = fromUtf8(b)
  try { return JSON.parse(s) as unknown } catch { return s }
}

/** Fetches, verifies and decrypts what the reader may read. Throws VERIFY_FAILED if the answer fails client-side checks. */
export async function readRecord (pq: PqBackend, rpc: RpcClient, recordId: Uint8Array, reader: Reader, trust?: TrustAnchors): Promise<ReadRecordResult> {
  const record = await rpc.getRecord(recordId)
  const verification = verifyRecordAnswer(pq, record, trust)
  if (!verification.valid) throw new ClientError('VERIFY_FAILED', `record ${hex(recordId)} failed client-side verification: ${JSON.stringify(verification.checks)}`)
  const cips = record.ciphertexts.map(unb64)
  const fields: Partial<Record<FieldName, unknown>> = {}
  if (reader.secret !== undefined) {
    const keys = deriveFieldKeys(reader.secret, recordId)
    try {
      for (const f of [0, 1, 2] as FieldIndex[]) fields[FIELD_NAMES[f]] = parseField(decryptField(keys[f], recordId, f, cips[f] as Uint8Array))
      return { record, verification, access: 'owner', fields, badGrants: [], ...openAttachments(recordId, keys, cips) }
    } catch (err) {
      if (!(err instanceof RecordError) || err.code !== 'WRONG_KEY') throw err
    }
  }
  const mine = hex(kemKeyId(reader.kemPublicKey))
  const grants = (await rpc.listGrants(recordId)).filter((g) => g.tx.grantee === mine)
  const badGrants: BadGrant[] = []
  const keys = new Map<number, Uint8Array>()
  for (const g of grants) {
    const bad = useGrant(pq, g, record, reader, trust, cips, fields, keys)
    if (bad !== undefined) badGrants.push(bad)
  }
  const all = [keys.get(0), keys.get(1), keys.get(2)]
  const att = all.every((k) => k !== undefined) ? openAttachments(recordId, all as unknown as FieldKeys, cips) : { attachments: [], unreadAttachments: [] }
  return { record, verification, access: Object.keys(fields).length > 0 ? 'grant' : 'none', fields, badGrants, ...att }
}

/** Opens one grant and decrypts its fields into `fields` (those not read yet); returns what failed. */
function useGrant (pq: PqBackend, g: GrantJson, record: RecordJson, reader: Reader, trust: TrustAnchors | undefined,
  cips: Uint8Array[], fields: Partial<Record<FieldName, unknown>>, keys: Map<number, Uint8Array>): BadGrant | undefined {
  const base = { height: g.height, grantor: g.tx.grantor }
  let tx
  try { tx = grantTxFromJson(g.tx) } catch (err) { return { ...base, fields: [...g.tx.fields], reason: `undecodable grant: ${(err as Error).message}` } }
  const withHash = { ...base, txHash: txHashOf(tx) }
  const doctor = unhex(record.tx.doctor)
  // the registered doctor key from the genesis when the reader has it, else the grant's own key (its hash is the doctor id)
  const doctorKey = trust !== undefined
    ? trust.doctors.find((d) => equalBytes(sha256(d.sigPublicKey), doctor))?.sigPublicKey
    : equalBytes(tx.grantor, doctor) ? tx.grantorKey : undefined
  const auth = authorizeGrant(pq, tx, { recordId: tx.recordId, doctor, owner: unhex(record.tx.owner) }, doctorKey)
  if (!auth.ok) return { ...withHash, fields: [...tx.fields], reason: `${auth.code}: ${auth.reason}` }
  let opened
  try { opened = openGrant(pq, tx.wrapped, reader.kemSecretKey, { recordId: unhex(record.tx.recordId) }) } catch (err) {
    return { ...withHash, fields: [...tx.fields], reason: `the grant does not open: ${(err as Error).message}` }
  }
  const failed: number[] = []
  const reasons: string[] = []
  for (const [f, k] of opened.keys) {
    try {
      const value = parseField(decryptField(k, opened.recordId, f, cips[f] as Uint8Array))
      if (!(FIELD_NAMES[f] in fields)) fields[FIELD_NAMES[f]] = value
      if (!keys.has(f)) keys.set(f, k)
    } catch (err) {
      failed.push(f)
      reasons.push(`${FIELD_NAMES[f]}: ${(err as Error).message}`)
    }
  }
  return failed.length === 0 ? undefined : { ...withHash, fields: failed, reason: `the granted key does not decrypt (${reasons.join('; ')})` }
}

function txHashOf (tx: Parameters<typeof encodeTx>[0]): string | undefined {
  try { return hex(sha256(encodeTx(tx))) } catch { return undefined }
}
