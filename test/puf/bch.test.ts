import assert from 'node:assert/strict'
import { sha256, utf8 } from '../../src/crypto/index.js'
import { BchCode, bchCode, bchDimension, PufError, seededRandom, unpackBits } from '../../src/puf/index.js'
import { galoisField, PRIMITIVE_POLYNOMIALS } from '../../src/puf/gf.js'

/** Polynomial from exponents, as a bit vector (index = power of x). */
function poly (degree: number, exps: number[]): Uint8Array {
  const p = new Uint8Array(degree + 1)
  for (const e of exps) p[e] = 1
  return p
}

function randomBits (rnd: (n: number) => Uint8Array, n: number): Uint8Array {
  return unpackBits(rnd((n + 7) >> 3), n)
}

/** `count` distinct positions in [0, n). */
function positions (rnd: (n: number) => Uint8Array, n: number, count: number): number[] {
  const chosen = new Set<number>()
  while (chosen.size < count) {
    const b = rnd(4)
    chosen.add((((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) % n)
  }
  return [...chosen]
}

describe('puf/gf: GF(2^m) tables', () => {
  it('every tabled polynomial is primitive (alpha has order 2^m - 1) for m = 3..12', () => {
    for (const m of Object.keys(PRIMITIVE_POLYNOMIALS).map(Number)) {
      const f = galoisField(m)
      assert.equal(f.n, (1 << m) - 1)
      const seen = new Set<number>()
      for (let i = 0; i < f.n; i++) seen.add(f.exp[i]!)
      assert.equal(seen.size, f.n, `m=${m}`)
      assert.ok(!seen.has(0))
    }
  })
  it('rejects unsupported m', () => {
    assert.throws(() => galoisField(13), (e: unknown) => e instanceof PufError && e.code === 'BAD_PARAMETERS')
  })
})

describe('puf/bch: BCH codes', () => {
  it('known generator polynomials (Lin & Costello): BCH(15,7,2), BCH(15,5,3), BCH(31,21,2), BCH(7,4,1)', () => {
    assert.deepEqual(new BchCode(4, 2).generator(), poly(8, [8, 7, 6, 4, 0]))
    assert.deepEqual(new BchCode(4, 3).generator(), poly(10, [10, 8, 5, 4, 2, 1, 0]))
    assert.deepEqual(new BchCode(5, 2).generator(), poly(10, [10, 9, 8, 6, 5, 3, 0]))
    assert.deepEqual(new BchCode(3, 1).generator(), poly(3, [3, 1, 0])) // the Hamming(7,4) code
  })

  it('known dimensions: BCH(255, k, t) for t = 1..10, BCH(511, k, t) for t = 1..5, BCH(1023, 443, 73)', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((t) => bchDimension(8, t)), [247, 239, 231, 223, 215, 207, 199, 191, 187, 179])
    assert.deepEqual([1, 2, 3, 4, 5].map((t) => bchDimension(9, t)), [502, 493, 484, 475, 466])
    const c = bchCode(10, 73)
    assert.equal(c.n, 1023)
    assert.equal(c.k, 443)
    assert.equal(c.generator().length, 1023 - 443 + 1)
    // t = 64 .. 73 all give the same code: its BCH bound is 147 = 2 * 73 + 1.
    assert.equal(bchDimension(10, 64), 443)
    assert.equal(bchDimension(10, 74), 433)
  })

  it('known codewords: the message x^0 encodes to g(x); Hamming(7,4) codewords', () => {
    for (const [m, t] of [[4, 2], [5, 3], [8, 4], [10, 73]] as const) {
      const c = new BchCode(m, t)
      const msg = new Uint8Array(c.k); msg[0] = 1
      const cw = c.encode(msg)
      const g = c.generator()
      const expected = new Uint8Array(c.n); expected.set(g, 0)
      assert.deepEqual(cw, expected, `m=${m} t=${t}`)
    }
    // Hamming(7,4) with g = 1 + x + x^3: message (1,0,1,1) -> x^3 m(x) + (x^3 m(x) mod g) = 1 0 0 1 0 1 1.
    const h = new BchCode(3, 1)
    assert.deepEqual(h.encode(new Uint8Array([1, 0, 1, 1])), new Uint8Array([1, 0, 0, 1, 0, 1, 1]))
  })

  it('encoding is systematic, linear and gives codewords closed under cyclic shift', () => {
    const rnd = seededRandom(sha256(utf8('bch-linear')))
    const c = bchCode(8, 8)
    for (let i = 0; i < 20; i++) {
      const a = randomBits(rnd, c.k)
      const b = randomBits(rnd, c.k)
      const ca = c.encode(a)
      const cb = c.encode(b)
      assert.deepEqual(c.message(ca), a)
      assert.ok(c.isCodeword(ca))
      const sum = c.encode(a.map((x, j) => x ^ b[j]!))
      assert.deepEqual(sum, ca.map((x, j) => x ^ cb[j]!))
      const shifted = new Uint8Array(c.n)
      for (let j = 0; j < c.n; j++) shifted[(j + 1) % c.n] = ca[j]!
      assert.ok(c.isCodeword(shifted))
      const notCw = ca.slice(); notCw[3]! ^= 1
      assert.ok(!c.isCodeword(notCw))
    }
  })

  it('BCH(15,7,2): every pattern of <= 2 errors is corrected, no pattern of 3 decodes to the sent codeword (exhaustive)', () => {
    const c = new BchCode(4, 2)
    const sent = c.encode(new Uint8Array([1, 0, 1, 1, 0, 0, 1]))
    let corrected = 0
    let beyond = 0
    for (let a = -1; a < 15; a++) {
      for (let b = a + 1; b < 15; b++) {
        for (let d = b + 1; d < 15; d++) {
          const rx = sent.slice()
          const errs = [a, b, d].filter((x) => x >= 0)
          if (a >= 0) rx[a]! ^= 1
          rx[b]! ^= 1; rx[d]! ^= 1
          const r = c.decode(rx)
          if (errs.length === 3) {
            beyond++
            assert.ok(r === null || (!r.codeword.every((x, i) => x === sent[i]) && c.isCodeword(r.codeword)))
          }
        }
      }
    }
    for (let a = -1; a < 15; a++) {
      for (let b = a + 1; b < 15; b++) {
        const rx = sent.slice()
        if (a >= 0) rx[a]! ^= 1
        rx[b]! ^= 1
        const r = c.decode(rx)
        assert.ok(r !== null)
        assert.deepEqual(r.codeword, sent)
        assert.equal(r.corrected, a >= 0 ? 2 : 1)
        corrected++
      }
    }
    assert.equal(corrected, 15 + 105)
    assert.equal(beyond, 455)
    const clean = c.decode(sent)
    assert.ok(clean !== null && clean.corrected === 0)
  })

  for (const [m, t] of [[5, 3], [8, 8], [9, 20], [10, 73]] as const) {
    it(`BCH(m=${m}, t=${t}): corrects weights 0, 1, 2, t-1, t exactly; never returns the sent codeword at t+1, t+2, 2t`, () => {
      const rnd = seededRandom(sha256(utf8(`bch-capacity-${m}-${t}`)))
      const c = bchCode(m, t)
      const trials = m === 10 ? 4 : 10
      for (let trial = 0; trial < trials; trial++) {
        const sent = c.encode(randomBits(rnd, c.k))
        for (const w of [0, 1, 2, t - 1, t]) {
          const rx = sent.slice()
          for (const p of positions(rnd, c.n, w)) rx[p]! ^= 1
          const r = c.decode(rx)
          assert.ok(r !== null, `w=${w}`)
          assert.deepEqual(r.codeword, sent)
          assert.equal(r.corrected, w)
        }
        for (const w of [t + 1, t + 2, 2 * t]) {
          const rx = sent.slice()
          for (const p of positions(rnd, c.n, w)) rx[p]! ^= 1
          const r = c.decode(rx)
          if (r !== null) {
            assert.ok(!r.codeword.every((x, i) => x === sent[i]), `w=${w} decoded to the sent codeword`)
            assert.ok(c.isCodeword(r.codeword))
            assert.ok(r.corrected <= t)
          }
        }
      }
    })
  }

  it('random words far from the code are rejected (BCH(1023,443,73))', () => {
    const rnd = seededRandom(sha256(utf8('bch-random')))
    const c = bchCode(10, 73)
    let rejected = 0
    for (let i = 0; i < 20; i++) if (c.decode(randomBits(rnd, c.n)) === null) rejected++
    assert.equal(rejected, 20)
  })

  it('checks parameters and input lengths', () => {
    const bad = (e: unknown): boolean => e instanceof PufError && e.code === 'BAD_PARAMETERS'
    assert.throws(() => new BchCode(2, 1), bad)
    assert.throws(() => new BchCode(4, 0), bad)
    assert.throws(() => new BchCode(4, 8), bad)
    assert.throws(() => new BchCode(4, 1.5), bad)
    const c = bchCode(5, 2)
    const badInput = (e: unknown): boolean => e instanceof PufError && e.code === 'BAD_INPUT'
    assert.throws(() => c.encode(new Uint8Array(c.k + 1)), badInput)
    assert.throws(() => c.decode(new Uint8Array(c.n - 1)), badInput)
  })
})
