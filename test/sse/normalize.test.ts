import assert from 'node:assert/strict'
import { keywordTerm, normalizeKeyword, synonymTable, fileTypeTerm, yearIntervals, yearRangeCover, yearTerm, SseError, DEFAULT_YEAR_DOMAIN } from '../../src/sse/index.js'

const isBad = (e: unknown): boolean => e instanceof SseError && e.code === 'BAD_INPUT'

describe('sse/normalize', () => {
  it('applies NFKC, case folding, trimming and space collapsing', () => {
    assert.equal(normalizeKeyword('  Fever '), 'fever')
    assert.equal(normalizeKeyword('ＦＥＶＥＲ'), 'fever') // full-width
    assert.equal(normalizeKeyword('Straße'), 'strasse')
    assert.equal(normalizeKeyword('ΣΟΦΟΣ'), normalizeKeyword('σοφος'))
    assert.equal(normalizeKeyword('ﬁbrosis'), 'fibrosis') // ligature
    assert.equal(normalizeKeyword('cafe\u0301'), 'café') // combining accent composed
    assert.equal(normalizeKeyword('chest \t\n pain'), 'chest pain')
    assert.equal(keywordTerm('Headache'), 'kw:headache')
    assert.equal(fileTypeTerm(' X-Ray '), 'type:x-ray')
    assert.throws(() => normalizeKeyword('   '), isBad)
    assert.throws(() => normalizeKeyword('a'.repeat(300)), isBad)
  })

  it('maps synonyms through a table or a function, normalized on both sides', () => {
    const table = synonymTable([['Tosse', 'cough'], ['PYREXIA', 'Fever']])
    assert.equal(keywordTerm(' tosse', table), 'kw:cough')
    assert.equal(keywordTerm('Pyrexia', table), 'kw:fever')
    assert.equal(keywordTerm('headache', table), 'kw:headache')
    assert.equal(keywordTerm('Flu', (k) => (k === 'flu' ? 'INFLUENZA' : k)), 'kw:influenza')
  })

  it('indexes a birth year under one dyadic interval per level', () => {
    const ivs = yearIntervals(1984)
    assert.equal(ivs.length, DEFAULT_YEAR_DOMAIN.bits)
    for (const iv of ivs) assert.ok(iv.start <= 1984 && 1984 < iv.start + 2 ** iv.level)
    assert.throws(() => yearIntervals(1899), isBad)
    assert.throws(() => yearIntervals(2156), isBad)
  })

  it('covers every year range exactly with at most 2·(bits − 1) intervals (exhaustive on a 5-bit domain)', () => {
    const domain = { min: 2000, bits: 5 }
    for (let from = 1995; from <= 2035; from++) {
      for (let to = from - 1; to <= 2035; to++) {
        const cover = yearRangeCover(from, to, domain)
        assert.ok(cover.length <= 2 * (domain.bits - 1))
        const years = new Set<number>()
        for (const iv of cover) {
          assert.ok(iv.level < domain.bits)
          assert.equal((iv.start - domain.min) % 2 ** iv.level, 0)
          for (let y = iv.start; y < iv.start + 2 ** iv.level; y++) { assert.ok(!years.has(y)); years.add(y) }
          // each interval is a term a year in it is indexed under
          assert.ok(yearIntervals(iv.start, domain).some((j) => yearTerm(j) === yearTerm(iv)))
        }
        const want = new Set<number>()
        for (let y = Math.max(from, 2000); y <= Math.min(to, 2031); y++) want.add(y)
        assert.deepEqual([...years].sort(), [...want].sort())
      }
    }
  })
})
