/**
 * The three fields of a medical record (paper 1: inf_i, sym_i, pre_i), their indices, and helpers
 * for field key sets and JSON field content. Field plaintexts are bytes; callers usually put UTF-8
 * JSON in them (`encodeJsonField` / `decodeJsonField`).
 */
import { fromUtf8, utf8 } from '../crypto/index.js'
import { FIELD_KEY_BYTES } from './constants.js'
import { assertBytes, RecordError } from './errors.js'

export const FIELD_PERSONAL_INFO = 0
export const FIELD_SYMPTOMS = 1
export const FIELD_PRESCRIPTIONS = 2
export const FIELD_COUNT = 3

export type FieldIndex = 0 | 1 | 2
export type FieldName = 'personalInfo' | 'symptoms' | 'prescriptions'

/** Field names by index. The name is part of each field ciphertext's associated data. */
export const FIELD_NAMES: readonly [FieldName, FieldName, FieldName] = Object.freeze(['personalInfo', 'symptoms', 'prescriptions'] as [FieldName, FieldName, FieldName])
/** Field indices by name. */
export const FIELD_INDEX: Readonly<Record<FieldName, FieldIndex>> = Object.freeze({ personalInfo: 0, symptoms: 1, prescriptions: 2 })

export type Triple<T> = readonly [T, T, T]

/** The three 32-byte field keys of one record, in field order (derived by `src/puf`). */
export type FieldKeys = Triple<Uint8Array>

/** Some of a record's field keys, by field index (what a grant carries). */
export type FieldKeyMap = ReadonlyMap<FieldIndex, Uint8Array>

/** The plaintext fields of a record. */
export interface RecordFields {
  personalInfo: Uint8Array
  symptoms: Uint8Array
  prescriptions: Uint8Array
}

export function isFieldIndex (n: unknown): n is FieldIndex {
  return n === 0 || n === 1 || n === 2
}

export function assertFieldIndex (n: unknown, name = 'field index'): asserts n is FieldIndex {
  if (!isFieldIndex(n)) throw new RecordError('BAD_INPUT', `${name} must be 0 (personalInfo), 1 (symptoms) or 2 (prescriptions), got ${String(n)}`)
}

export function fieldName (index: FieldIndex): FieldName {
  assertFieldIndex(index)
  return FIELD_NAMES[index]
}

/** Checks a field key triple: an array of exactly three 32-byte keys. */
export function assertFieldKeys (keys: unknown): asserts keys is FieldKeys {
  if (!Array.isArray(keys) || keys.length !== FIELD_COUNT) throw new RecordError('BAD_INPUT', 'fieldKeys must be an array of 3 keys')
  keys.forEach((k, i) => { assertBytes(k, `fieldKeys[${i}]`, FIELD_KEY_BYTES) })
}

/**
 * A field list in canonical form: non-empty, unique, ascending, each in 0..2. Accepts any order;
 * throws BAD_INPUT on an empty list, a duplicate or an unknown index.
 */
export function normalizeFields (fields: readonly number[]): FieldIndex[] {
  if (!Array.isArray(fields) || fields.length === 0 || fields.length > FIELD_COUNT) {
    throw new RecordError('BAD_INPUT', 'fields must be a non-empty list of at most 3 field indices')
  }
  const out: FieldIndex[] = []
  for (const f of fields) {
    assertFieldIndex(f, 'fields entry')
    if (out.includes(f)) throw new RecordError('BAD_INPUT', `duplicate field index ${f}`)
    out.push(f)
  }
  return out.sort((a, b) => a - b)
}

/** True iff `fields` is already canonical (what signing payloads and the chain require). */
export function isCanonicalFields (fields: readonly number[]): boolean {
  if (!Array.isArray(fields) || fields.length === 0 || fields.length > FIELD_COUNT) return false
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]
    if (!isFieldIndex(f)) return false
    if (i > 0 && f <= (fields[i - 1] as number)) return false
  }
  return true
}

/** Bit mask of a canonical field list (bit i set iff field i is listed). */
export function fieldsToMask (fields: readonly FieldIndex[]): number {
  let m = 0
  for (const f of fields) m |= 1 << f
  return m
}

/** Field list of a mask; null if the mask is zero or has bits beyond field 2. */
export function maskToFields (mask: number): FieldIndex[] | null {
  if (mask === 0 || (mask & ~0b111) !== 0) return null
  const out: FieldIndex[] = []
  for (const f of [0, 1, 2] as const) if ((mask & (1 << f)) !== 0) out.push(f)
  return out
}

/** UTF-8 JSON encoding of a field value (for `encryptFields` and friends). */
export function encodeJsonField (value: unknown): Uint8Array {
  let s: string | undefined
  try { s = JSON.stringify(value) } catch (err) {
    throw new RecordError('BAD_INPUT', `field value is not JSON-serializable: ${(err as Error).message}`)
  }
  if (s === undefined) throw new RecordError('BAD_INPUT', 'field value is not JSON-serializable')
  return utf8(s)
}

/** Parses a UTF-8 JSON field; throws MALFORMED if it is not valid UTF-8 JSON. */
export function decodeJsonField (bytes: Uint8Array): unknown {
  assertBytes(bytes, 'field plaintext')
  try {
    return JSON.parse(fromUtf8(bytes)) as unknown
  } catch (err) {
    throw new RecordError('MALFORMED', `field plaintext is not UTF-8 JSON: ${(err as Error).message}`)
  }
}
