import assert from 'node:assert/strict'
import { sha256, utf8 } from '../../src/crypto/index.js'
import { hammingDistance, PufError, readResponseBits, seededRandom, SimulatedSramPuf, unpackBits, type PufDevice } from '../../src/puf/index.js'

const seed = (s: string): Uint8Array => sha256(utf8(s))
const challenge = seed('challenge')

describe('puf/device: simulated SRAM PUF', () => {
  it('the reference response is a deterministic function of (seed, challenge)', () => {
    const a = new SimulatedSramPuf({ seed: seed('chip-a') })
    const a2 = new SimulatedSramPuf({ seed: seed('chip-a'), bitErrorRate: 0.2 })
    const b = new SimulatedSramPuf({ seed: seed('chip-b') })
    assert.deepEqual(a.reference(challenge), a2.reference(challenge))
    const n = a.responseBits
    assert.equal(n, 8192)
    const ra = unpackBits(a.reference(challenge), n)
    // Different chips, or different challenges, give unrelated responses (about n/2 apart).
    for (const other of [unpackBits(b.reference(challenge), n), unpackBits(a.reference(seed('other')), n)]) {
      const d = hammingDistance(ra, other) / n
      assert.ok(d > 0.47 && d < 0.53, String(d))
    }
    // Reference bits are balanced.
    const ones = ra.reduce((s, x) => s + x, 0) / n
    assert.ok(ones > 0.47 && ones < 0.53)
  })

  it('with bitErrorRate 0 every reading equals the reference', () => {
    const d = new SimulatedSramPuf({ seed: seed('quiet'), bitErrorRate: 0 })
    assert.deepEqual(d.respond(challenge), d.reference(challenge))
  })

  for (const ber of [0.02, 0.10, 0.25]) {
    it(`measured flip rate matches the configured BER ${ber} over 2.4M bits, flips independent of neighbours`, () => {
      const d = new SimulatedSramPuf({ seed: seed('stats'), bitErrorRate: ber, random: seededRandom(seed(`noise-${ber}`)) })
      const n = d.responseBits
      const ref = unpackBits(d.reference(challenge), n)
      const readings = 300
      let flips = 0
      let pairs = 0
      const perPosition = new Uint16Array(n)
      for (let i = 0; i < readings; i++) {
        const r = unpackBits(d.respond(challenge), n)
        let prev = 0
        for (let j = 0; j < n; j++) {
          const f = r[j]! ^ ref[j]!
          flips += f
          perPosition[j]! += f
          pairs += f & prev
          prev = f
        }
      }
      const total = readings * n
      const rate = flips / total
      const sigma = Math.sqrt(ber * (1 - ber) / total)
      assert.ok(Math.abs(rate - ber) < 5 * sigma, `rate ${rate} vs ${ber}`)
      // Adjacent flips co-occur at rate ber^2 (independence).
      const pairRate = pairs / (readings * (n - 1))
      const pairSigma = Math.sqrt(ber * ber / (readings * (n - 1)))
      assert.ok(Math.abs(pairRate - ber * ber) < 6 * pairSigma, `pair rate ${pairRate} vs ${ber * ber}`)
      // Every position flips (no stuck bits), at about the same rate.
      const mean = ber * readings
      const maxDev = Math.max(...Array.from(perPosition, (c) => Math.abs(c - mean)))
      assert.ok(maxDev < 6 * Math.sqrt(readings * ber * (1 - ber)), `max per-position deviation ${maxDev}`)
    })
  }

  it('readings are fresh: two readings differ, and a seeded random source makes them reproducible', () => {
    const mk = (): SimulatedSramPuf => new SimulatedSramPuf({ seed: seed('repro'), random: seededRandom(seed('same-noise')) })
    const x = mk()
    const y = mk()
    const x1 = x.respond(challenge)
    const x2 = x.respond(challenge)
    assert.notDeepEqual(x1, x2)
    assert.deepEqual(y.respond(challenge), x1)
    assert.deepEqual(y.respond(challenge), x2)
  })

  it('odd response sizes: unused trailing bits are zero', () => {
    const d = new SimulatedSramPuf({ seed: seed('odd'), responseBits: 13, bitErrorRate: 0.5 })
    for (let i = 0; i < 50; i++) {
      const r = d.respond(challenge)
      assert.equal(r.length, 2)
      assert.equal(r[1]! & 0b111, 0)
    }
  })

  it('checks options', () => {
    const bad = (e: unknown): boolean => e instanceof PufError && e.code === 'BAD_INPUT'
    assert.throws(() => new SimulatedSramPuf({ seed: new Uint8Array(31) }), bad)
    assert.throws(() => new SimulatedSramPuf({ seed: seed('x'), bitErrorRate: 0.6 }), bad)
    assert.throws(() => new SimulatedSramPuf({ seed: seed('x'), bitErrorRate: -0.1 }), bad)
    assert.throws(() => new SimulatedSramPuf({ seed: seed('x'), bitErrorRate: Number.NaN }), bad)
    assert.throws(() => new SimulatedSramPuf({ seed: seed('x'), responseBits: 0 }), bad)
    assert.throws(() => new SimulatedSramPuf({ seed: seed('x'), responseBits: 70000 }), bad)
    assert.throws(() => seededRandom(new Uint8Array(16)), bad)
  })

  it('readResponseBits concatenates sub-challenge readings challenge || u32(i)', () => {
    const d = new SimulatedSramPuf({ seed: seed('multi'), responseBits: 100, bitErrorRate: 0 })
    const bits = readResponseBits(d, challenge, 250)
    const part = (i: number): Uint8Array => unpackBits(d.reference(new Uint8Array([...challenge, 0, 0, 0, i])), 100)
    assert.deepEqual(bits, new Uint8Array([...part(0), ...part(1), ...part(2).subarray(0, 50)]))
    const broken: PufDevice = { responseBits: 64, respond: () => new Uint8Array(7) }
    assert.throws(() => readResponseBits(broken, challenge, 64), (e: unknown) => e instanceof PufError && e.code === 'DEVICE_ERROR')
  })
})
