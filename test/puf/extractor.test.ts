import assert from 'node:assert/strict'
import { equalBytes, sha256, utf8 } from '../../src/crypto/index.js'
import {
  codeInfo, DEFAULT_CODE, encodeConcatenated, enroll, packBits, parseHelper, PufError, reproduce, seededRandom,
  SimulatedSramPuf, unpackBits, type PufDevice, type PufErrorCode
} from '../../src/puf/index.js'

const seed = (s: string): Uint8Array => sha256(utf8(s))
const device = (name: string, ber = 0.10): SimulatedSramPuf =>
  new SimulatedSramPuf({ seed: seed(`chip-${name}`), bitErrorRate: ber, random: seededRandom(seed(`noise-${name}-${ber}`)) })

function throwsPuf (fn: () => unknown, ...codes: PufErrorCode[]): PufErrorCode {
  let caught: unknown
  try {
    fn()
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof PufError, `expected a PufError, got ${caught === undefined ? 'a result' : String(caught)}`)
  assert.ok(codes.includes(caught.code), `code ${caught.code} not in ${codes.join(', ')}`)
  return caught.code
}

describe('puf/extractor: enroll and reproduce', function () {
  this.timeout(60000)
  const a = device('a')
  const enrolledA = enroll(a, { random: seededRandom(seed('enroll-a')) })

  it('enroll returns a 32-byte secret and versioned, self-describing helper data', () => {
    assert.equal(enrolledA.secret.length, 32)
    const h = parseHelper(enrolledA.helper)
    assert.deepEqual(h.code, DEFAULT_CODE)
    assert.equal(h.challenge.length, 32)
    assert.equal(h.offset.length, Math.ceil(9207 / 8))
    assert.equal(enrolledA.helper.length, 11 + 32 + 4 + 1151 + 32)
    assert.deepEqual(enrolledA.helper.subarray(0, 5), new Uint8Array([0x50, 0x51, 0x50, 0x46, 1]))
  })

  it('10,000 reproductions at the default 10% BER: zero failures', () => {
    let failures = 0
    for (const name of ['r1', 'r2', 'r3', 'r4']) {
      const d = device(name)
      const e = name === 'r1' ? enroll(d) : enroll(d, { random: seededRandom(seed(`enroll-${name}`)) })
      for (let i = 0; i < 2500; i++) {
        try {
          if (!equalBytes(reproduce(d, e.helper), e.secret)) assert.fail('reproduce returned a different secret')
        } catch (err) {
          if (!(err instanceof PufError)) throw err
          failures++
        }
      }
    }
    assert.equal(failures, 0)
  })

  it('enrollments are independent: same device, two enrollments, two secrets', () => {
    const again = enroll(a)
    assert.ok(!equalBytes(again.secret, enrolledA.secret))
    assert.ok(equalBytes(reproduce(a, again.helper), again.secret))
    assert.ok(equalBytes(reproduce(a, enrolledA.helper), enrolledA.secret))
  })

  it('a different device (different seed) with the same helper data: PufError, not a key', () => {
    for (const name of ['b', 'c', 'd']) {
      throwsPuf(() => reproduce(device(name), enrolledA.helper), 'HELPER_TAMPERED_OR_WRONG_DEVICE')
    }
    // Even a noise-free reading of another chip does not decode.
    throwsPuf(() => reproduce(device('e', 0), enrolledA.helper), 'HELPER_TAMPERED_OR_WRONG_DEVICE')
  })

  it('helper data of another device: PufError, not a key', () => {
    const b = device('b')
    const enrolledB = enroll(b)
    throwsPuf(() => reproduce(a, enrolledB.helper), 'HELPER_TAMPERED_OR_WRONG_DEVICE')
    assert.ok(equalBytes(reproduce(b, enrolledB.helper), enrolledB.secret))
  })

  it('a reading far noisier than the code corrects: PufError, not a key', () => {
    const quiet = device('noisy', 0.02)
    const e = enroll(quiet)
    const loud = new SimulatedSramPuf({ seed: seed('chip-noisy'), bitErrorRate: 0.3 })
    throwsPuf(() => reproduce(loud, e.helper), 'HELPER_TAMPERED_OR_WRONG_DEVICE')
  })

  it('a bit flipped in any byte of the helper data is detected with the code of its region', () => {
    const helper = enrolledA.helper
    const c = 32
    const lenAt = 11 + c
    const offsetEnd = lenAt + 4 + 1151
    const expect = (i: number): PufErrorCode[] => {
      if (i < 4) return ['HELPER_MALFORMED'] // magic
      if (i === 4) return ['UNSUPPORTED_VERSION'] // version
      if (i === 5 || i === 6 || i === 9 || i === 10) return ['HELPER_MALFORMED'] // r, m, blocks, challenge length: sizes change
      if (i === 7 || i === 8) return ['HELPER_MALFORMED', 'HELPER_TAMPERED_OR_WRONG_DEVICE'] // t: same sizes, other code
      if (i < lenAt) return ['HELPER_TAMPERED_OR_WRONG_DEVICE'] // challenge
      if (i < lenAt + 4) return ['HELPER_MALFORMED'] // offset length
      if (i < offsetEnd) return ['HELPER_TAMPERED_OR_WRONG_DEVICE', 'HELPER_MALFORMED'] // offset (padding bit: malformed)
      return ['HELPER_TAMPERED_OR_WRONG_DEVICE'] // tag
    }
    const seen = new Map<PufErrorCode, number>()
    for (let i = 0; i < helper.length; i++) {
      const t = helper.slice()
      t[i]! ^= 1 << (i % 8)
      const code = throwsPuf(() => reproduce(a, t), ...expect(i))
      seen.set(code, (seen.get(code) ?? 0) + 1)
    }
    // The offset's last byte has 1 padding bit (9207 = 1150 * 8 + 7): flipping it is malformed.
    const pad = helper.slice(); pad[offsetEnd - 1]! ^= 1
    throwsPuf(() => reproduce(a, pad), 'HELPER_MALFORMED')
    // BCH t changed from 73 to 72: same sizes, decodes, but the tag no longer matches.
    const tChanged = helper.slice(); tChanged[8] = 72
    throwsPuf(() => reproduce(a, tChanged), 'HELPER_TAMPERED_OR_WRONG_DEVICE')
    assert.ok((seen.get('HELPER_TAMPERED_OR_WRONG_DEVICE') ?? 0) > 1100)
    assert.ok(equalBytes(reproduce(a, helper), enrolledA.secret), 'original helper still works')
  })

  it('offset shifted by a codeword (decodes cleanly to the same response) is still rejected by the tag', () => {
    const h = parseHelper(enrolledA.helper)
    const info = codeInfo(h.code)
    const msg = new Uint8Array(info.messageBits); msg[5] = 1; msg[900] = 1
    const shift = encodeConcatenated(h.code, msg)
    const offset = unpackBits(h.offset, info.codeBits).map((x, i) => x ^ shift[i]!)
    const t = enrolledA.helper.slice()
    t.set(packBits(offset), 11 + 32 + 4)
    // It decodes (same reference response), so it is the check tag that rejects it.
    assert.throws(() => reproduce(a, t), (e: unknown) => e instanceof PufError && e.code === 'HELPER_TAMPERED_OR_WRONG_DEVICE' && /check tag mismatch/.test(e.message))
  })

  it('truncated, extended, empty or foreign helper data: HELPER_MALFORMED', () => {
    const helper = enrolledA.helper
    for (const len of [0, 3, 4, 5, 10, 11, 43, 47, 600, helper.length - 32, helper.length - 1]) {
      throwsPuf(() => reproduce(a, helper.slice(0, len)), 'HELPER_MALFORMED')
    }
    const longer = new Uint8Array(helper.length + 1); longer.set(helper)
    throwsPuf(() => reproduce(a, longer), 'HELPER_MALFORMED')
    throwsPuf(() => reproduce(a, new Uint8Array([...helper, ...helper])), 'HELPER_MALFORMED')
    throwsPuf(() => reproduce(a, utf8('not helper data at all, not at all')), 'HELPER_MALFORMED')
    const v2 = helper.slice(); v2[4] = 2
    throwsPuf(() => reproduce(a, v2), 'UNSUPPORTED_VERSION')
    throwsPuf(() => reproduce(a, 'helper' as unknown as Uint8Array), 'BAD_INPUT')
  })

  it('works with a device that answers fewer bits per challenge (sub-challenges)', () => {
    const small = new SimulatedSramPuf({ seed: seed('chip-small'), responseBits: 1000, random: seededRandom(seed('small')) })
    const e = enroll(small)
    for (let i = 0; i < 20; i++) assert.ok(equalBytes(reproduce(small, e.helper), e.secret))
  })

  it('checks enrollment options and the device', () => {
    throwsPuf(() => enroll(a, { code: { repetition: 3, bchM: 8, bchT: 8, blocks: 1 } }), 'BAD_PARAMETERS') // < 256 bits left
    throwsPuf(() => enroll(a, { code: DEFAULT_CODE, minEntropyPerBit: 0.85 }), 'BAD_PARAMETERS')
    throwsPuf(() => enroll(a, { code: { ...DEFAULT_CODE, repetition: 2 } }), 'BAD_PARAMETERS')
    throwsPuf(() => enroll(a, { enrollmentReads: 4 }), 'BAD_INPUT')
    throwsPuf(() => enroll(a, { challenge: new Uint8Array(8) }), 'BAD_INPUT')
    throwsPuf(() => enroll({} as PufDevice), 'BAD_INPUT')
    const liar: PufDevice = { responseBits: 8192, respond: () => new Uint8Array(10) }
    throwsPuf(() => enroll(liar), 'DEVICE_ERROR')
  })

  it('a custom (larger) code and a fixed challenge are recorded in the helper data', () => {
    const code = { repetition: 5, bchM: 10, bchT: 30, blocks: 1 }
    const e = enroll(a, { code, challenge: seed('fixed'), minEntropyPerBit: 0.95 })
    const h = parseHelper(e.helper)
    assert.deepEqual(h.code, code)
    assert.deepEqual(h.challenge, seed('fixed'))
    assert.ok(equalBytes(reproduce(a, e.helper), e.secret))
  })
})
