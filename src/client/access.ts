/**
 * Reading a record: fetch (`ehr_getRecord`), re-verify on the client, then decrypt every field the
 * reader holds a key for — the patient's own field keys (derived from its PUF secret), or the keys
 * of committed grants addressed to the reader's ML-KEM key (`ehr_listGrants` → `openGrant`).
 */
import { fromUtf8, type PqBackend } from '../crypto/index.js'
import { deriveFieldKeys } from '../puf/index.js'
import { decryptField, FIELD_NAMES, kemKeyId, openGrant, RecordError, type FieldIndex, type FieldName } from '../records/index.js'
import type { RecordJson } from '../rpc/backend.js'
import { ClientError } from './errors.js'
import { hex, type RpcClient, unb64 } from './rpc.js'
import { verifyRecordAnswer, type LocalRecordVerification, type TrustAnchors } from './verify.js'

/** Who is reading: an identity's keys (and PUF secret when it is a patient reading its own records). */
export interface Reader {
  kemPublicKey: Uint8Array
  kemSecretKey: Uint8Array
  /** The patient's PUF secret (field keys of its own records derive from it). */
  secret?: Uint8Array
}

export interface ReadRecordResult {
  record: RecordJson
  verification: LocalRecordVerification
  /** 'owner': the reader's own record; 'grant': keys from grants; 'none': no key opens any field. */
  access: 'owner' | 'grant' | 'none'
  /** Decrypted fields (JSON-parsed when they are JSON, else the UTF-8 text). */
  fields: Partial<Record<FieldName, unknown>>
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
      return { record, verification, access: 'owner', fields }
    } catch (err) {
      if (!(err instanceof RecordError) || err.code !== 'WRONG_KEY') throw err
    }
  }
  const mine = hex(kemKeyId(reader.kemPublicKey))
  const grants = (await rpc.listGrants(recordId)).filter((g) => g.tx.grantee === mine)
  for (const g of grants) {
    const opened = openGrant(pq, unb64(g.tx.wrapped), reader.kemSecretKey, { recordId })
    for (const [f, k] of opened.keys) fields[FIELD_NAMES[f]] = parseField(decryptField(k, recordId, f, cips[f] as Uint8Array))
  }
  return { record, verification, access: Object.keys(fields).length > 0 ? 'grant' : 'none', fields }
}
