/**
 * Post-quantum backends (ML-DSA-65, ML-KEM-768): round trips, cross-backend interoperability,
 * tampering, boundary checks, deterministic key generation and backend selection.
 */
import assert from 'node:assert/strict'
import {
  CryptoError, SUITE, equalBytes, kemKeygen, loadLiboqs, loadPqBackend, noblePq, randomBytes, sigKeygen, utf8,
  type KeyPair, type PqBackend, type PqBackendName
} from '../../src/crypto/index.js'

const isCryptoError = (code: CryptoError['code']) => (err: unknown): boolean => {
  assert.ok(err instanceof CryptoError, `expected CryptoError, got ${String(err)}`)
  assert.equal(err.code, code)
  return true
}

/** A copy of `b` with bit `bit` of byte `byte` flipped. */
function flipBit (b: Uint8Array, byte: number, bit = 0): Uint8Array {
  const c = Uint8Array.from(b)
  c[byte] = (c[byte] ?? 0) ^ (1 << bit)
  return c
}

const seed32 = (fill: number): Uint8Array => new Uint8Array(SUITE.sigSeedBytes).fill(fill)
const seed64 = (fill: number): Uint8Array => new Uint8Array(SUITE.kemSeedBytes).fill(fill)

describe('crypto/pq', function () {
  let liboqs: PqBackend
  let backends: PqBackend[]
  // Fixed keys shared by the tests (deterministic, so failures reproduce).
  const sigA: KeyPair = sigKeygen(seed32(1))
  const sigB: KeyPair = sigKeygen(seed32(2))
  const kemA: KeyPair = kemKeygen(seed64(3))
  const msg = utf8('pqmed: record 42, version 7')

  before(async function () {
    liboqs = await loadLiboqs()
    backends = [noblePq, liboqs]
  })

  it('keys have the sizes in SUITE', function () {
    assert.equal(sigA.publicKey.length, SUITE.sigPublicKeyBytes)
    assert.equal(sigA.secretKey.length, SUITE.sigSecretKeyBytes)
    assert.equal(kemA.publicKey.length, SUITE.kemPublicKeyBytes)
    assert.equal(kemA.secretKey.length, SUITE.kemSecretKeyBytes)
  })

  it('loads the two backends under their names', function () {
    assert.equal(noblePq.name, 'noble')
    assert.equal(liboqs.name, 'liboqs')
  })

  it('instantiates liboqs once per process: every load returns the same instance', async function () {
    const [a, b] = await Promise.all([loadLiboqs(), loadLiboqs()])
    assert.equal(a, liboqs)
    assert.equal(b, liboqs)
    assert.equal(await loadPqBackend(), liboqs)
  })

  for (const which of ['noble', 'liboqs'] as const) {
    describe(`${which} backend`, function () {
      const pq = (): PqBackend => (which === 'noble' ? noblePq : liboqs)

      it('sign/verify round trip with a signature of SUITE.sigBytes', function () {
        const sig = pq().sign(msg, sigA.secretKey)
        assert.equal(sig.length, SUITE.sigBytes)
        assert.equal(pq().verify(sig, msg, sigA.publicKey), true)
      })

      it('signs and verifies the empty message', function () {
        const empty = new Uint8Array(0)
        assert.equal(pq().verify(pq().sign(empty, sigA.secretKey), empty, sigA.publicKey), true)
      })

      it('rejects tampered signatures (bit flips at several positions)', function () {
        const sig = pq().sign(msg, sigA.secretKey)
        // challenge c~ (start), response z (middle), hint encoding (last bytes)
        const positions = [0, 31, 48, 700, 1600, 2500, 3200, SUITE.sigBytes - 60, SUITE.sigBytes - 1]
        for (const p of positions) {
          for (const bit of [0, 7]) {
            assert.equal(pq().verify(flipBit(sig, p, bit), msg, sigA.publicKey), false, `byte ${p} bit ${bit}`)
          }
        }
      })

      it('rejects a wrong message, a wrong key and a flipped public-key bit', function () {
        const sig = pq().sign(msg, sigA.secretKey)
        assert.equal(pq().verify(sig, utf8('pqmed: record 42, version 8'), sigA.publicKey), false)
        assert.equal(pq().verify(sig, new Uint8Array(0), sigA.publicKey), false)
        assert.equal(pq().verify(sig, msg, sigB.publicKey), false)
        assert.equal(pq().verify(sig, msg, flipBit(sigA.publicKey, 100)), false)
      })

      it('verify returns false (never throws) on wrong-length or non-byte inputs', function () {
        const sig = pq().sign(msg, sigA.secretKey)
        assert.equal(pq().verify(sig.subarray(1), msg, sigA.publicKey), false)
        assert.equal(pq().verify(new Uint8Array([...sig, 0]), msg, sigA.publicKey), false)
        assert.equal(pq().verify(new Uint8Array(0), msg, sigA.publicKey), false)
        assert.equal(pq().verify(sig, msg, sigA.publicKey.subarray(1)), false)
        assert.equal(pq().verify(sig, msg, new Uint8Array(SUITE.sigPublicKeyBytes + 1)), false)
        assert.equal(pq().verify(sig, msg, new Uint8Array(SUITE.sigPublicKeyBytes)), false)
        assert.equal(pq().verify(new Uint8Array(SUITE.sigBytes), msg, sigA.publicKey), false)
        assert.equal(pq().verify('sig' as unknown as Uint8Array, msg, sigA.publicKey), false)
        assert.equal(pq().verify(sig, 'msg' as unknown as Uint8Array, sigA.publicKey), false)
        assert.equal(pq().verify(sig, msg, null as unknown as Uint8Array), false)
      })

      it('sign rejects a wrong-length or non-byte secret key or message with BAD_INPUT', function () {
        assert.throws(() => pq().sign(msg, sigA.secretKey.subarray(1)), isCryptoError('BAD_INPUT'))
        assert.throws(() => pq().sign(msg, new Uint8Array(SUITE.sigSecretKeyBytes + 1)), isCryptoError('BAD_INPUT'))
        assert.throws(() => pq().sign(msg, sigA.publicKey), isCryptoError('BAD_INPUT'))
        assert.throws(() => pq().sign('msg' as unknown as Uint8Array, sigA.secretKey), isCryptoError('BAD_INPUT'))
      })

      it('encapsulate/decapsulate round trip', function () {
        const { cipherText, sharedSecret } = pq().encapsulate(kemA.publicKey)
        assert.equal(cipherText.length, SUITE.kemCiphertextBytes)
        assert.equal(sharedSecret.length, SUITE.kemSharedSecretBytes)
        assert.ok(equalBytes(pq().decapsulate(cipherText, kemA.secretKey), sharedSecret))
      })

      it('encapsulation is randomised', function () {
        const a = pq().encapsulate(kemA.publicKey)
        const b = pq().encapsulate(kemA.publicKey)
        assert.ok(!equalBytes(a.cipherText, b.cipherText))
        assert.ok(!equalBytes(a.sharedSecret, b.sharedSecret))
      })

      it('a tampered ciphertext decapsulates to a different secret (implicit rejection)', function () {
        const { cipherText, sharedSecret } = pq().encapsulate(kemA.publicKey)
        for (const p of [0, 500, SUITE.kemCiphertextBytes - 1]) {
          const k = pq().decapsulate(flipBit(cipherText, p), kemA.secretKey)
          assert.equal(k.length, SUITE.kemSharedSecretBytes)
          assert.ok(!equalBytes(k, sharedSecret), `byte ${p}`)
        }
        // Decapsulating under another key also yields an unrelated secret, not an error.
        const other = kemKeygen(seed64(4))
        assert.ok(!equalBytes(pq().decapsulate(cipherText, other.secretKey), sharedSecret))
      })

      it('encapsulate/decapsulate reject wrong-length inputs with BAD_INPUT', function () {
        const { cipherText } = pq().encapsulate(kemA.publicKey)
        assert.throws(() => pq().encapsulate(kemA.publicKey.subarray(1)), isCryptoError('BAD_INPUT'))
        assert.throws(() => pq().encapsulate(new Uint8Array(SUITE.kemPublicKeyBytes + 1)), isCryptoError('BAD_INPUT'))
        assert.throws(() => pq().encapsulate(sigA.publicKey), isCryptoError('BAD_INPUT'))
        assert.throws(() => pq().decapsulate(cipherText.subarray(1), kemA.secretKey), isCryptoError('BAD_INPUT'))
        assert.throws(() => pq().decapsulate(new Uint8Array([...cipherText, 0]), kemA.secretKey), isCryptoError('BAD_INPUT'))
        assert.throws(() => pq().decapsulate(cipherText, kemA.secretKey.subarray(1)), isCryptoError('BAD_INPUT'))
        assert.throws(() => pq().decapsulate(cipherText, kemA.publicKey), isCryptoError('BAD_INPUT'))
        assert.throws(() => pq().decapsulate([...cipherText] as unknown as Uint8Array, kemA.secretKey), isCryptoError('BAD_INPUT'))
      })
    })
  }

  describe('interoperability', function () {
    it('each backend verifies the other backend\'s signatures (both directions)', function () {
      for (const signer of backends) {
        const sig = signer.sign(msg, sigA.secretKey)
        for (const verifier of backends) {
          assert.equal(verifier.verify(sig, msg, sigA.publicKey), true, `${signer.name} -> ${verifier.name}`)
          assert.equal(verifier.verify(flipBit(sig, 10), msg, sigA.publicKey), false, `${signer.name} -> ${verifier.name} tampered`)
        }
      }
    })

    it('each backend decapsulates the other backend\'s ciphertexts (both directions)', function () {
      for (const sender of backends) {
        const { cipherText, sharedSecret } = sender.encapsulate(kemA.publicKey)
        for (const receiver of backends) {
          assert.ok(equalBytes(receiver.decapsulate(cipherText, kemA.secretKey), sharedSecret), `${sender.name} -> ${receiver.name}`)
        }
      }
    })

    it('both backends derive the same implicit-rejection secret from a tampered ciphertext', function () {
      const { cipherText } = liboqs.encapsulate(kemA.publicKey)
      const bad = flipBit(cipherText, 77, 3)
      assert.ok(equalBytes(noblePq.decapsulate(bad, kemA.secretKey), liboqs.decapsulate(bad, kemA.secretKey)))
    })
  })

  describe('deterministic key generation', function () {
    it('sigKeygen is a function of the seed', function () {
      const again = sigKeygen(seed32(1))
      assert.ok(equalBytes(again.publicKey, sigA.publicKey))
      assert.ok(equalBytes(again.secretKey, sigA.secretKey))
      assert.ok(!equalBytes(sigB.publicKey, sigA.publicKey))
      assert.ok(!equalBytes(sigKeygen(flipBit(seed32(1), 31, 7)).publicKey, sigA.publicKey))
    })

    it('kemKeygen is a function of the seed (both halves d and z matter)', function () {
      const again = kemKeygen(seed64(3))
      assert.ok(equalBytes(again.publicKey, kemA.publicKey))
      assert.ok(equalBytes(again.secretKey, kemA.secretKey))
      // d (first half) determines the public key; z (second half) only the implicit-rejection secret
      const dFlipped = kemKeygen(flipBit(seed64(3), 0))
      assert.ok(!equalBytes(dFlipped.publicKey, kemA.publicKey))
      const zFlipped = kemKeygen(flipBit(seed64(3), 63))
      assert.ok(equalBytes(zFlipped.publicKey, kemA.publicKey))
      assert.ok(!equalBytes(zFlipped.secretKey, kemA.secretKey))
    })

    it('keys from a random seed work with both backends', function () {
      const kp = sigKeygen(randomBytes(SUITE.sigSeedBytes))
      assert.equal(noblePq.verify(liboqs.sign(msg, kp.secretKey), msg, kp.publicKey), true)
    })

    it('reject wrong seed lengths and non-byte seeds with BAD_INPUT', function () {
      for (const n of [0, 31, 33, 64]) assert.throws(() => sigKeygen(new Uint8Array(n)), isCryptoError('BAD_INPUT'), `sig ${n}`)
      for (const n of [0, 32, 63, 65]) assert.throws(() => kemKeygen(new Uint8Array(n)), isCryptoError('BAD_INPUT'), `kem ${n}`)
      assert.throws(() => sigKeygen('x'.repeat(32) as unknown as Uint8Array), isCryptoError('BAD_INPUT'))
      assert.throws(() => kemKeygen(Array.from(seed64(0)) as unknown as Uint8Array), isCryptoError('BAD_INPUT'))
    })
  })

  describe('loadPqBackend', function () {
    it('defaults to liboqs', async function () {
      const pq = await loadPqBackend({ warn: () => { assert.fail('unexpected warning') } })
      assert.equal(pq.name, 'liboqs')
    })

    it('falls back to noble and warns exactly once when the WebAssembly backend fails to load', async function () {
      const warnings: string[] = []
      const pq = await loadPqBackend({ loadLiboqs: () => Promise.reject(new Error('no wasm')), warn: (m) => { warnings.push(m) } })
      assert.equal(pq, noblePq)
      assert.equal(warnings.length, 1)
      assert.match(warnings[0] ?? '', /no wasm/)
    })

    it('returns noble when asked for it, without trying liboqs', async function () {
      let tried = 0
      const pq = await loadPqBackend({ backend: 'noble', loadLiboqs: () => { tried++; return Promise.resolve(liboqs) }, warn: () => { assert.fail('unexpected warning') } })
      assert.equal(pq, noblePq)
      assert.equal(tried, 0)
    })

    it('uses the injected liboqs loader when it succeeds', async function () {
      const pq = await loadPqBackend({ backend: 'liboqs', loadLiboqs: () => Promise.resolve(liboqs), warn: () => { assert.fail('unexpected warning') } })
      assert.equal(pq, liboqs)
    })

    it('rejects an unknown backend name', async function () {
      await assert.rejects(loadPqBackend({ backend: 'openssl' as PqBackendName }), isCryptoError('BAD_INPUT'))
    })
  })
})
