/**
 * Search terms. Every term that enters the index is built here, by the same functions on update
 * and on search, so that "Fever ", "FEVER" and "ｆｅｖｅｒ" are one keyword:
 *
 * - keywords: Unicode NFKC, full case folding (approximated as upper- then lower-casing, which maps
 *   ß → ss and ς → σ), NFKC again, trimming, runs of white space collapsed to one space, then an
 *   optional synonym table, whose output is normalized again;
 * - `kw:<keyword>` (symptoms, diseases), `type:<fileType>`, `patient:<hex id>` (index 1) and
 *   `year:<level>:<first year>` for the dyadic intervals of a birth year (SVBE range search).
 */
import { toHex } from '../crypto/index.js'
import { assertBytes, SseError } from './errors.js'

/** Longest accepted keyword, in UTF-16 code units after normalization. */
export const MAX_KEYWORD_LENGTH = 256

/** A synonym hook: a table from normalized keyword to canonical keyword, or a function doing the same. */
export type Synonyms = ReadonlyMap<string, string> | ((normalized: string) => string)

function fold (raw: string): string {
  return raw.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC').trim().replace(/\s+/gu, ' ')
}

/** Normalizes a keyword (see the module comment). Throws `BAD_INPUT` on an empty or oversized keyword. */
export function normalizeKeyword (raw: string, synonyms?: Synonyms): string {
  if (typeof raw !== 'string') throw new SseError('BAD_INPUT', 'keyword must be a string')
  let k = fold(raw)
  if (synonyms !== undefined) {
    const mapped = typeof synonyms === 'function' ? synonyms(k) : synonyms.get(k)
    if (mapped !== undefined) {
      if (typeof mapped !== 'string') throw new SseError('BAD_INPUT', 'synonym table must map to strings')
      k = fold(mapped)
    }
  }
  if (k.length === 0) throw new SseError('BAD_INPUT', 'empty keyword')
  if (k.length > MAX_KEYWORD_LENGTH) throw new SseError('BAD_INPUT', `keyword longer than ${MAX_KEYWORD_LENGTH}`)
  return k
}

/** Builds a synonym table, normalizing both sides (so the table is written in any case or width). */
export function synonymTable (pairs: Iterable<readonly [string, string]>): ReadonlyMap<string, string> {
  const m = new Map<string, string>()
  for (const [from, to] of pairs) m.set(normalizeKeyword(from), normalizeKeyword(to))
  return m
}

/** Index-2 term of a symptom or disease keyword. */
export function keywordTerm (raw: string, synonyms?: Synonyms): string {
  return `kw:${normalizeKeyword(raw, synonyms)}`
}

/** Index-2 term of a file type (SVBE "type of file"). */
export function fileTypeTerm (raw: string): string {
  return `type:${normalizeKeyword(raw)}`
}

/** Index-1 term of a patient (under the patient's own key). */
export function patientTerm (patientId: Uint8Array): string {
  assertBytes(patientId, 'patient id', 32)
  return `patient:${toHex(patientId)}`
}

/** The birth-year domain: years `[min, min + 2^bits)`. Default 1900–2155. */
export interface YearDomain {
  min: number
  bits: number
}
export const DEFAULT_YEAR_DOMAIN: YearDomain = Object.freeze({ min: 1900, bits: 8 })

/** A dyadic interval of the year domain: `2^level` years starting at `start` (an absolute year). */
export interface DyadicInterval {
  level: number
  start: number
}

function checkDomain (d: YearDomain): void {
  if (!Number.isInteger(d.min) || !Number.isInteger(d.bits) || d.bits < 1 || d.bits > 16) {
    throw new SseError('BAD_INPUT', 'year domain needs an integer min and 1 ≤ bits ≤ 16')
  }
}

export function yearTerm (iv: DyadicInterval): string {
  return `year:${iv.level}:${iv.start}`
}

/**
 * The dyadic intervals that contain `year`, one per level 0 … bits−1 (the whole domain is not
 * indexed: it would be an "every record" term). A birth year costs `bits` index updates.
 */
export function yearIntervals (year: number, domain: YearDomain = DEFAULT_YEAR_DOMAIN): DyadicInterval[] {
  checkDomain(domain)
  const off = year - domain.min
  if (!Number.isInteger(year) || off < 0 || off >= 2 ** domain.bits) {
    throw new SseError('BAD_INPUT', `birth year ${year} outside [${domain.min}, ${domain.min + 2 ** domain.bits})`)
  }
  const out: DyadicInterval[] = []
  for (let level = 0; level < domain.bits; level++) {
    out.push({ level, start: domain.min + Math.floor(off / 2 ** level) * 2 ** level })
  }
  return out
}

/**
 * Minimal dyadic cover of the inclusive year range `[from, to]`, clipped to the domain: at most
 * 2·(bits − 1) intervals, none of them the whole domain. Empty when the range misses the domain.
 */
export function yearRangeCover (from: number, to: number, domain: YearDomain = DEFAULT_YEAR_DOMAIN): DyadicInterval[] {
  checkDomain(domain)
  if (!Number.isInteger(from) || !Number.isInteger(to)) throw new SseError('BAD_INPUT', 'year range bounds must be integers')
  const size = 2 ** domain.bits
  let a = Math.max(from - domain.min, 0)
  const end = Math.min(to - domain.min + 1, size)
  const out: DyadicInterval[] = []
  while (a < end) {
    let h = 0
    while (h + 1 < domain.bits && a % 2 ** (h + 1) === 0 && a + 2 ** (h + 1) <= end) h++
    out.push({ level: h, start: domain.min + a })
    a += 2 ** h
  }
  return out
}
