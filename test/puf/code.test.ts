import assert from 'node:assert/strict'
import { sha256, utf8 } from '../../src/crypto/index.js'
import {
  binomialTail, codeInfo, decodeConcatenated, DEFAULT_CODE, DEFAULT_ENROLLMENT_READS, effectiveBitErrorRate,
  encodeConcatenated, entropyAccount, failureBound, majorityFailure, PufError, repetitionDecode, repetitionEncode,
  seededRandom, unpackBits, type CodeParams
} from '../../src/puf/index.js'

function randomBits (rnd: (n: number) => Uint8Array, n: number): Uint8Array {
  return unpackBits(rnd((n + 7) >> 3), n)
}

function shuffle<T> (rnd: (n: number) => Uint8Array, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const b = rnd(4)
    const j = (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) % (i + 1)
    const tmp = xs[i]!; xs[i] = xs[j]!; xs[j] = tmp
  }
  return xs
}

describe('puf/repetition: repetition code', () => {
  it('encodes by repetition and corrects up to (r-1)/2 flips per block, not (r+1)/2', () => {
    for (const r of [1, 3, 5, 7]) {
      const bits = new Uint8Array([1, 0, 1, 1, 0])
      const cw = repetitionEncode(bits, r)
      assert.equal(cw.length, 5 * r)
      assert.deepEqual(cw.subarray(0, r), new Uint8Array(r).fill(1))
      const half = (r - 1) / 2
      const ok = cw.slice()
      for (let b = 0; b < bits.length; b++) for (let j = 0; j < half; j++) ok[b * r + j]! ^= 1
      assert.deepEqual(repetitionDecode(ok, r), bits)
      const bad = cw.slice()
      for (let j = 0; j <= half; j++) bad[2 * r + j]! ^= 1
      const dec = repetitionDecode(bad, r)
      assert.equal(dec[2], bits[2]! ^ 1)
    }
  })
  it('rejects even or out-of-range lengths and misaligned input', () => {
    assert.throws(() => repetitionEncode(new Uint8Array(2), 2), (e: unknown) => e instanceof PufError && e.code === 'BAD_PARAMETERS')
    assert.throws(() => repetitionDecode(new Uint8Array(7), 3), (e: unknown) => e instanceof PufError && e.code === 'BAD_INPUT')
  })
})

describe('puf/code: concatenated repetition + BCH code', () => {
  const small: CodeParams = { repetition: 3, bchM: 6, bchT: 4, blocks: 2 }

  it('default parameters: r = 3, BCH(1023, 443, 73), 3 blocks = 9207 response bits, 1329 message bits', () => {
    const info = codeInfo(DEFAULT_CODE)
    assert.equal(info.bchN, 1023)
    assert.equal(info.bchK, 443)
    assert.equal(info.codeBits, 9207)
    assert.equal(info.messageBits, 1329)
  })

  it('rejects bad parameters', () => {
    const bad = (e: unknown): boolean => e instanceof PufError && e.code === 'BAD_PARAMETERS'
    assert.throws(() => codeInfo({ ...DEFAULT_CODE, repetition: 4 }), bad)
    assert.throws(() => codeInfo({ ...DEFAULT_CODE, blocks: 0 }), bad)
    assert.throws(() => codeInfo({ ...DEFAULT_CODE, bchM: 13 }), bad)
    assert.throws(() => codeInfo({ ...DEFAULT_CODE, bchT: 600 }), bad)
    assert.throws(() => codeInfo({ repetition: 31, bchM: 12, bchT: 5, blocks: 64 }), bad) // too long
  })

  for (const p of [small, DEFAULT_CODE]) {
    it(`corrects exactly up to capacity per block (r=${p.repetition}, m=${p.bchM}, t=${p.bchT}, ${p.blocks} blocks)`, () => {
      const rnd = seededRandom(sha256(utf8(`concat-${p.bchM}`)))
      const info = codeInfo(p)
      const r = p.repetition
      const half = (r - 1) / 2
      for (let trial = 0; trial < 3; trial++) {
        const msg = randomBits(rnd, info.messageBits)
        const cw = encodeConcatenated(p, msg)
        assert.equal(cw.length, info.codeBits)
        // In every block: t inner groups get (r+1)/2 flips (an outer error each), every other group (r-1)/2 flips.
        const rx = cw.slice()
        for (let b = 0; b < info.blocks; b++) {
          const groups = shuffle(rnd, [...Array(info.bchN).keys()])
          groups.forEach((g, idx) => {
            const flips = idx < info.bchT ? half + 1 : half
            const base = (b * info.bchN + g) * r
            for (let j = 0; j < flips; j++) rx[base + j]! ^= 1
          })
        }
        const dec = decodeConcatenated(p, rx)
        assert.ok(dec !== null)
        assert.deepEqual(dec.message, msg)
        assert.deepEqual(dec.codeword, cw)
        assert.deepEqual(dec.outerCorrections, new Array(info.blocks).fill(info.bchT))
        // One more outer error in the last block: that block is beyond capacity.
        const beyond = rx.slice()
        const lastBlock = info.blocks - 1
        for (let g = 0; g < info.bchN; g++) {
          const base = (lastBlock * info.bchN + g) * r
          let flipped = 0
          for (let j = 0; j < r; j++) flipped += beyond[base + j]! ^ cw[base + j]!
          if (flipped <= half) {
            for (let j = 0; j < r && flipped <= half; j++) {
              if (beyond[base + j] === cw[base + j]) { beyond[base + j]! ^= 1; flipped++ }
            }
            break
          }
        }
        const dec2 = decodeConcatenated(p, beyond)
        assert.ok(dec2 === null || !dec2.message.every((x, i) => x === msg[i]))
      }
    })
  }
})

describe('puf/bound: analytic failure bound and entropy accounting', () => {
  it('binomialTail matches hand-computed values', () => {
    // Bin(3, 0.1): P[X > 1] = 3 * 0.01 * 0.9 + 0.001 = 0.028
    assert.ok(Math.abs(binomialTail(3, 0.1, 1) - 0.028) < 1e-15)
    assert.ok(Math.abs(majorityFailure(3, 0.1) - 0.028) < 1e-15)
    // Bin(10, 0.5): P[X > 7] = (45 + 10 + 1) / 1024
    assert.ok(Math.abs(binomialTail(10, 0.5, 7) - 56 / 1024) < 1e-15)
    assert.equal(binomialTail(10, 0.3, -1), 1)
    assert.equal(binomialTail(10, 0.3, 10), 0)
    assert.equal(binomialTail(10, 0, 0), 0)
    // Whole distribution sums to 1.
    assert.ok(Math.abs(binomialTail(1023, 0.028, -1) - 1) < 1e-12)
  })

  it('the default code fails with probability < 1e-6 at 10% BER (about 1.3e-12)', () => {
    const b = failureBound(DEFAULT_CODE, 0.10, DEFAULT_ENROLLMENT_READS)
    assert.ok(b.failure < 1e-6)
    assert.ok(b.failure > 1e-13 && b.failure < 1e-11, String(b.failure))
    assert.ok(b.failure <= 3 * b.blockFailure)
    assert.ok(b.effectiveBer > 0.1 && b.effectiveBer < 0.1001)
    assert.ok(Math.abs(effectiveBitErrorRate(0.1, 1) - 0.18) < 1e-12) // a single enrollment reading...
    assert.ok(failureBound(DEFAULT_CODE, 0.10, 1).failure > 0.999) // ...would make the code fail
  })

  it('the bound grows with the BER and is near 1 at 25%', () => {
    const f = [0.05, 0.10, 0.15, 0.20, 0.25].map((ber) => failureBound(DEFAULT_CODE, ber, DEFAULT_ENROLLMENT_READS).failure)
    for (let i = 1; i < f.length; i++) assert.ok(f[i]! > f[i - 1]!)
    assert.ok(f[4]! > 0.999)
  })

  it('the default code leaves >= 256 bits of min-entropy at 0.9 bits/bit (408.3)', () => {
    const a = entropyAccount(DEFAULT_CODE, 0.9)
    assert.equal(a.responseBits, 9207)
    assert.equal(a.helperLeakageBits, 9207 - 1329)
    assert.ok(Math.abs(a.remainingBits - 408.3) < 1e-6)
    assert.ok(entropyAccount(DEFAULT_CODE, 0.88).remainingBits < 256)
  })
})
