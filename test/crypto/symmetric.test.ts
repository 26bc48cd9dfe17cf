/**
 * Symmetric primitives and encodings against published test vectors:
 * SHA-256 (FIPS 180-2 / NIST CSRC examples), HMAC-SHA256 (RFC 4231), HKDF-SHA256 (RFC 5869),
 * AES-256-GCM (McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 13-16,
 * the AES-256 cases also used by NIST SP 800-38D implementations).
 */
import assert from 'node:assert/strict'
import {
  AEAD_NONCE_BYTES, AEAD_OVERHEAD, AEAD_TAG_BYTES, CryptoError, aeadOpen, aeadSeal, concatBytes, equalBytes, framed,
  fromHex, fromUtf8, hkdfSha256, hmacSha256, randomBytes, sha256, toHex, u32be, utf8
} from '../../src/crypto/index.js'

const isCryptoError = (code: CryptoError['code']) => (err: unknown): boolean => {
  assert.ok(err instanceof CryptoError, `expected CryptoError, got ${String(err)}`)
  assert.equal(err.code, code)
  return true
}
const h = fromHex
const repeat = (byte: number, n: number): Uint8Array => new Uint8Array(n).fill(byte)
const range = (from: number, to: number): Uint8Array => Uint8Array.from({ length: to - from + 1 }, (_, i) => from + i)
function flipBit (b: Uint8Array, byte: number, bit = 0): Uint8Array {
  const c = Uint8Array.from(b)
  c[byte] = (c[byte] ?? 0) ^ (1 << bit)
  return c
}

describe('crypto/symmetric', function () {
  describe('SHA-256 (FIPS 180)', function () {
    it('"abc"', function () {
      assert.equal(toHex(sha256(utf8('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
    })
    it('the empty string', function () {
      assert.equal(toHex(sha256(new Uint8Array(0))), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
      assert.equal(toHex(sha256()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
    })
    it('the 448-bit message "abcdbcdecdef...nopq"', function () {
      const m = utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')
      assert.equal(m.length * 8, 448)
      assert.equal(toHex(sha256(m)), '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1')
    })
    it('hashes the concatenation of its parts', function () {
      assert.equal(toHex(sha256(utf8('ab'), new Uint8Array(0), utf8('c'))), toHex(sha256(utf8('abc'))))
    })
  })

  describe('HMAC-SHA256 (RFC 4231)', function () {
    const cases: Array<[string, Uint8Array, Uint8Array, string]> = [
      ['test case 1', repeat(0x0b, 20), utf8('Hi There'),
        'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
      ['test case 2', utf8('Jefe'), utf8('what do ya want for nothing?'),
        '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
      ['test case 3', repeat(0xaa, 20), repeat(0xdd, 50),
        '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'],
      ['test case 4', range(0x01, 0x19), repeat(0xcd, 50),
        '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b'],
      ['test case 6 (key longer than the block)', repeat(0xaa, 131), utf8('Test Using Larger Than Block-Size Key - Hash Key First'),
        '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54'],
      ['test case 7 (key and data longer than the block)', repeat(0xaa, 131),
        utf8('This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.'),
        '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2']
    ]
    for (const [name, key, data, mac] of cases) {
      it(name, function () {
        assert.equal(toHex(hmacSha256(key, data)), mac)
      })
    }
    it('MACs the concatenation of its parts', function () {
      assert.equal(toHex(hmacSha256(utf8('Jefe'), utf8('what do ya want '), utf8('for nothing?'))),
        '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843')
    })
    it('rejects a non-byte key with BAD_INPUT', function () {
      assert.throws(() => hmacSha256('Jefe' as unknown as Uint8Array, utf8('x')), isCryptoError('BAD_INPUT'))
    })
  })

  describe('HKDF-SHA256 (RFC 5869)', function () {
    it('test case 1 (basic)', function () {
      const okm = hkdfSha256(repeat(0x0b, 22), range(0x00, 0x0c), range(0xf0, 0xf9), 42)
      assert.equal(toHex(okm), '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865')
    })
    it('test case 2 (longer inputs and outputs)', function () {
      const okm = hkdfSha256(range(0x00, 0x4f), range(0x60, 0xaf), range(0xb0, 0xff), 82)
      assert.equal(toHex(okm),
        'b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c' +
        '59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71' +
        'cc30c58179ec3e87c14c01d5c1f3434f1d87')
    })
    it('test case 3 (empty salt and info)', function () {
      const okm = hkdfSha256(repeat(0x0b, 22), new Uint8Array(0), new Uint8Array(0), 42)
      assert.equal(toHex(okm), '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8')
    })
    it('a string info is its UTF-8 encoding', function () {
      const ikm = repeat(0x0b, 22)
      assert.ok(equalBytes(hkdfSha256(ikm, new Uint8Array(0), 'pqmed/field-key', 32), hkdfSha256(ikm, new Uint8Array(0), utf8('pqmed/field-key'), 32)))
      assert.ok(!equalBytes(hkdfSha256(ikm, new Uint8Array(0), 'pqmed/field-key', 32), hkdfSha256(ikm, new Uint8Array(0), 'pqmed/index-key', 32)))
    })
    it('rejects output lengths outside 1..8160 and non-byte inputs with BAD_INPUT', function () {
      const ikm = repeat(0x0b, 22)
      for (const n of [0, -1, 1.5, 255 * 32 + 1, Number.NaN]) {
        assert.throws(() => hkdfSha256(ikm, new Uint8Array(0), '', n), isCryptoError('BAD_INPUT'), String(n))
      }
      assert.equal(hkdfSha256(ikm, new Uint8Array(0), '', 255 * 32).length, 255 * 32)
      assert.throws(() => hkdfSha256('ikm' as unknown as Uint8Array, new Uint8Array(0), '', 32), isCryptoError('BAD_INPUT'))
      assert.throws(() => hkdfSha256(ikm, 'salt' as unknown as Uint8Array, '', 32), isCryptoError('BAD_INPUT'))
    })
  })

  describe('AES-256-GCM', function () {
    // McGrew & Viega, GCM specification, Appendix B test cases 13-16 (AES-256).
    const K0 = repeat(0, 32)
    const N0 = repeat(0, 12)
    const K = h('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308')
    const N = h('cafebabefacedbaddecaf888')
    const P64 = 'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72' +
      '1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255'
    const C64 = '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa' +
      '8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad'
    const vectors: Array<{ name: string, key: Uint8Array, nonce: Uint8Array, pt: string, aad: string, ct: string, tag: string }> = [
      { name: 'test case 13 (empty plaintext)', key: K0, nonce: N0, pt: '', aad: '', ct: '', tag: '530f8afbc74536b9a963b4f1c4cb738b' },
      { name: 'test case 14 (one zero block)', key: K0, nonce: N0, pt: '00000000000000000000000000000000', aad: '', ct: 'cea7403d4d606b6e074ec5d3baf39d18', tag: 'd0d1c8a799996bf0265b98b5d48ab919' },
      { name: 'test case 15 (64-byte plaintext)', key: K, nonce: N, pt: P64, aad: '', ct: C64, tag: 'b094dac5d93471bdec1a502270e3cc6c' },
      { name: 'test case 16 (60-byte plaintext, 20-byte AAD)', key: K, nonce: N, pt: P64.slice(0, 120), aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2', ct: C64.slice(0, 120), tag: '76fc6ece0f4e1768cddf8853bb2d551b' }
    ]
    for (const v of vectors) {
      it(`${v.name}: aeadSeal = nonce || ct || tag, and aeadOpen inverts it`, function () {
        const sealed = aeadSeal(v.key, h(v.pt), h(v.aad), v.nonce)
        assert.equal(toHex(sealed), toHex(v.nonce) + v.ct + v.tag)
        assert.equal(toHex(aeadOpen(v.key, sealed, h(v.aad))), v.pt)
      })
    }

    const key = randomBytes(32)
    const aad = utf8('record:42|field:diagnosis')
    const pt = utf8('J45.909 unspecified asthma, uncomplicated')

    it('round trip with a random nonce; two seals of the same plaintext differ', function () {
      const a = aeadSeal(key, pt, aad)
      const b = aeadSeal(key, pt, aad)
      assert.equal(a.length, pt.length + AEAD_OVERHEAD)
      assert.ok(!equalBytes(a.subarray(0, AEAD_NONCE_BYTES), b.subarray(0, AEAD_NONCE_BYTES)))
      assert.ok(equalBytes(aeadOpen(key, a, aad), pt))
      assert.ok(equalBytes(aeadOpen(key, b, aad), pt))
      assert.equal(fromUtf8(aeadOpen(key, aeadSeal(key, new Uint8Array(0)), new Uint8Array(0))), '')
    })

    it('aeadOpen throws DECRYPT_FAILED on any tampering, wrong AAD, wrong key or truncation', function () {
      const sealed = aeadSeal(key, pt, aad)
      const tagStart = sealed.length - AEAD_TAG_BYTES
      const bad: Array<[string, () => Uint8Array]> = [
        ['flipped ciphertext bit', () => aeadOpen(key, flipBit(sealed, AEAD_NONCE_BYTES + 3, 5), aad)],
        ['flipped last ciphertext bit', () => aeadOpen(key, flipBit(sealed, tagStart - 1, 7), aad)],
        ['flipped tag bit', () => aeadOpen(key, flipBit(sealed, tagStart), aad)],
        ['flipped last tag bit', () => aeadOpen(key, flipBit(sealed, sealed.length - 1, 7), aad)],
        ['flipped nonce bit', () => aeadOpen(key, flipBit(sealed, 0), aad)],
        ['wrong AAD', () => aeadOpen(key, sealed, utf8('record:43|field:diagnosis'))],
        ['missing AAD', () => aeadOpen(key, sealed)],
        ['wrong key', () => aeadOpen(flipBit(key, 31), sealed, aad)],
        ['truncated by one byte', () => aeadOpen(key, sealed.subarray(0, sealed.length - 1), aad)],
        ['tag dropped', () => aeadOpen(key, sealed.subarray(0, tagStart), aad)],
        ['shorter than nonce + tag', () => aeadOpen(key, sealed.subarray(0, AEAD_OVERHEAD - 1), aad)],
        ['empty', () => aeadOpen(key, new Uint8Array(0), aad)],
        ['extra byte appended', () => aeadOpen(key, concatBytes(sealed, new Uint8Array(1)), aad)]
      ]
      for (const [name, open] of bad) assert.throws(open, isCryptoError('DECRYPT_FAILED'), name)
    })

    it('rejects a bad key or nonce length with BAD_INPUT', function () {
      for (const n of [0, 16, 24, 31, 33]) {
        assert.throws(() => aeadSeal(new Uint8Array(n), pt), isCryptoError('BAD_INPUT'), `seal key ${n}`)
        assert.throws(() => aeadOpen(new Uint8Array(n), aeadSeal(key, pt)), isCryptoError('BAD_INPUT'), `open key ${n}`)
      }
      for (const n of [0, 8, 11, 13, 16]) {
        assert.throws(() => aeadSeal(key, pt, aad, new Uint8Array(n)), isCryptoError('BAD_INPUT'), `nonce ${n}`)
      }
      assert.throws(() => aeadSeal(key, 'pt' as unknown as Uint8Array), isCryptoError('BAD_INPUT'))
      assert.throws(() => aeadOpen(key, 'sealed' as unknown as Uint8Array), isCryptoError('BAD_INPUT'))
    })
  })

  describe('encodings', function () {
    it('toHex/fromHex round trip, lower case', function () {
      const b = Uint8Array.from([0, 1, 0x7f, 0x80, 0xab, 0xff])
      assert.equal(toHex(b), '00017f80abff')
      assert.ok(equalBytes(fromHex('00017f80abff'), b))
      assert.equal(fromHex('').length, 0)
      assert.equal(toHex(b.subarray(2, 4)), '7f80')
    })

    it('fromHex rejects upper case, odd length and non-hex with BAD_INPUT', function () {
      for (const s of ['AB', 'aB', '0', 'abc', 'zz', '0x00', 'ab ', ' ab', 'ab\n', 'g0', '--']) {
        assert.throws(() => fromHex(s), isCryptoError('BAD_INPUT'), JSON.stringify(s))
      }
      assert.throws(() => fromHex(42 as unknown as string), isCryptoError('BAD_INPUT'))
    })

    it('u32be encodes big-endian and rejects non-u32 values', function () {
      assert.equal(toHex(u32be(0)), '00000000')
      assert.equal(toHex(u32be(0x01020304)), '01020304')
      assert.equal(toHex(u32be(0xffffffff)), 'ffffffff')
      for (const n of [-1, 0x100000000, 1.5, Number.NaN]) assert.throws(() => u32be(n), isCryptoError('BAD_INPUT'), String(n))
    })

    it('framed is u32-length-prefixed concatenation', function () {
      assert.equal(toHex(framed(h('aabb'), new Uint8Array(0), h('cc'))), '00000002aabb' + '00000000' + '00000001cc')
      assert.equal(framed().length, 0)
    })

    it('framed is unambiguous where plain concatenation is not', function () {
      const a = utf8('pat'); const b = utf8('ient'); const c = utf8('42')
      assert.ok(equalBytes(concatBytes(concatBytes(a, b), c), concatBytes(a, concatBytes(b, c))))
      assert.ok(!equalBytes(framed(concatBytes(a, b), c), framed(a, concatBytes(b, c))))
      assert.ok(!equalBytes(framed(a, b), framed(concatBytes(a, b))))
      assert.ok(!equalBytes(framed(a, new Uint8Array(0)), framed(a)))
      assert.ok(!equalBytes(sha256(framed(concatBytes(a, b), c)), sha256(framed(a, concatBytes(b, c)))))
    })

    it('equalBytes compares contents and lengths', function () {
      assert.equal(equalBytes(h('0102'), h('0102')), true)
      assert.equal(equalBytes(h('0102'), h('0103')), false)
      assert.equal(equalBytes(h('0102'), h('010200')), false)
      assert.equal(equalBytes(new Uint8Array(0), new Uint8Array(0)), true)
    })

    it('utf8/fromUtf8 round trip; invalid UTF-8 is rejected', function () {
      assert.equal(fromUtf8(utf8('Zoë ✓ 患者')), 'Zoë ✓ 患者')
      assert.throws(() => fromUtf8(h('c328')))
    })

    it('randomBytes returns fresh bytes of the requested length', function () {
      assert.equal(randomBytes(0).length, 0)
      const a = randomBytes(32); const b = randomBytes(32)
      assert.equal(a.length, 32)
      assert.ok(!equalBytes(a, b))
    })
  })
})
