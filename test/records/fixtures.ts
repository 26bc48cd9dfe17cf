/** Deterministic identities and inputs for the records tests. */
import { kemKeygen, sha256, sigKeygen, utf8, type KeyPair } from '../../src/crypto/index.js'
import assert from 'node:assert/strict'
import { encodeJsonField, principalId, RecordError, type FieldKeys, type RecordErrorCode, type RecordFields } from '../../src/records/index.js'

export interface Identity { sig: KeyPair, kem: KeyPair, id: Uint8Array }

function seed (label: string, n: 32 | 64): Uint8Array {
  const a = sha256(utf8(`pqmed-test/${label}/a`))
  return n === 32 ? a : new Uint8Array([...a, ...sha256(utf8(`pqmed-test/${label}/b`))])
}

export function identity (label: string): Identity {
  const sig = sigKeygen(seed(`${label}/sig`, 32))
  return { sig, kem: kemKeygen(seed(`${label}/kem`, 64)), id: principalId(sig.publicKey) }
}

export const bytes32 = (label: string): Uint8Array => sha256(utf8(label))

export const patient = identity('patient')
export const doctor = identity('doctor')
export const researcher = identity('researcher')
export const stranger = identity('stranger')

export const recordId = bytes32('record-1')
export const otherRecordId = bytes32('record-2')
/** Owner id of record-1 (SHA-256 of the patient's per-record owner key, here just a fixed value). */
export const owner = bytes32('owner-of-record-1')
export const fieldKeys: FieldKeys = [bytes32('k0'), bytes32('k1'), bytes32('k2')]
export const indexUpdatesHash = bytes32('index-updates')
export const TIME = 1_700_000_000_000

export const fields: RecordFields = {
  personalInfo: encodeJsonField({ name: 'Ada Patient', born: 1980, sex: 'F' }),
  symptoms: encodeJsonField(['fever', 'cough']),
  prescriptions: encodeJsonField([{ drug: 'paracetamol', dose: '500 mg', times: 3 }])
}

/** Copy with one bit flipped at `at` (negative counts from the end). */
export function flip (b: Uint8Array, at: number): Uint8Array {
  const c = b.slice()
  const i = at < 0 ? c.length + at : at
  c[i] = (c[i] as number) ^ 1
  return c
}

/** Asserts that `fn` throws a RecordError with `code`. */
export function throwsCode (fn: () => unknown, code: RecordErrorCode): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RecordError, `expected RecordError ${code}, got ${String(err)}`)
    assert.equal(err.code, code, err.message)
    return true
  })
}
