/**
 * Known-answer tests against official NIST ACVP vectors (usnistgov/ACVP-Server,
 * gen-val/json-files): a few ML-DSA-65 and ML-KEM-768 cases copied verbatim into
 * test/fixtures/acvp (provenance in test/fixtures/acvp/README.md).
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js'
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js'
import {
  SUITE, concatBytes, equalBytes, fromHex, kemKeygen, loadLiboqs, noblePq, sigKeygen, toHex, utf8, type PqBackend
} from '../../src/crypto/index.js'

interface Source { repository: string, path: string, files: string[], commit: string, parameterSet: string }
interface DsaKeyGenFile { source: Source, tests: Array<{ tcId: number, seed: string, pk: string, sk: string }> }
interface DsaSigVerFile {
  source: Source & { signatureInterface: string, preHash: string }
  tests: Array<{ tcId: number, pk: string, message: string, context: string, signature: string, testPassed: boolean }>
}
interface KemKeyGenFile { source: Source, tests: Array<{ tcId: number, d: string, z: string, ek: string, dk: string }> }
interface KemEncapDecapFile {
  source: Source
  encapsulation: { function: string, tests: Array<{ tcId: number, ek: string, m: string, c: string, k: string }> }
  decapsulation: { function: string, dk: string, tests: Array<{ tcId: number, c: string, k: string }> }
}

function fixture<T> (name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/acvp/${name}`, import.meta.url), 'utf8')) as T
}
/** ACVP files use upper-case hex; our fromHex accepts lower case only. */
const hex = (s: string): Uint8Array => fromHex(s.toLowerCase())
const HEX = (b: Uint8Array): string => toHex(b).toUpperCase()

const dsaKeyGen = fixture<DsaKeyGenFile>('ml-dsa-65-keygen.json')
const dsaSigVer = fixture<DsaSigVerFile>('ml-dsa-65-sigver.json')
const kemKeyGen = fixture<KemKeyGenFile>('ml-kem-768-keygen.json')
const kemEncDec = fixture<KemEncapDecapFile>('ml-kem-768-encapdecap.json')

describe('crypto/acvp (NIST ACVP known answers)', function () {
  let backends: PqBackend[]
  before(async function () {
    backends = [noblePq, await loadLiboqs()]
  })

  it('fixtures are the expected parameter sets and non-empty', function () {
    assert.equal(dsaKeyGen.source.parameterSet, 'ML-DSA-65')
    assert.equal(dsaSigVer.source.parameterSet, 'ML-DSA-65')
    assert.equal(dsaSigVer.source.signatureInterface, 'external')
    assert.equal(dsaSigVer.source.preHash, 'pure')
    assert.equal(kemKeyGen.source.parameterSet, 'ML-KEM-768')
    assert.equal(kemEncDec.source.parameterSet, 'ML-KEM-768')
    assert.ok(dsaKeyGen.tests.length >= 3 && kemKeyGen.tests.length >= 3)
    assert.ok(kemEncDec.encapsulation.tests.length >= 3 && kemEncDec.decapsulation.tests.length >= 3)
    assert.ok(dsaSigVer.tests.some((t) => t.testPassed) && dsaSigVer.tests.some((t) => !t.testPassed))
  })

  describe('ML-DSA-65 keyGen (ML-DSA.KeyGen_internal from seed xi)', function () {
    for (const t of dsaKeyGen.tests) {
      it(`tcId ${t.tcId}: sigKeygen(seed) equals pk and sk`, function () {
        const kp = sigKeygen(hex(t.seed))
        assert.equal(kp.publicKey.length, SUITE.sigPublicKeyBytes)
        assert.equal(HEX(kp.publicKey), t.pk)
        assert.equal(HEX(kp.secretKey), t.sk)
      })
    }

    it('both backends sign with an ACVP secret key and verify under its ACVP public key', function () {
      const t = dsaKeyGen.tests[0]
      assert.ok(t)
      const msg = utf8('pqmed ACVP cross-check')
      for (const signer of backends) {
        const sig = signer.sign(msg, hex(t.sk))
        for (const verifier of backends) assert.equal(verifier.verify(sig, msg, hex(t.pk)), true, `${signer.name} -> ${verifier.name}`)
      }
    })
  })

  describe('ML-DSA-65 sigVer (external interface, pure, with context)', function () {
    for (const t of dsaSigVer.tests) {
      it(`tcId ${t.tcId}: noble ml_dsa65.verify(..., { context }) is ${String(t.testPassed)}`, function () {
        const sig = hex(t.signature)
        assert.equal(sig.length, SUITE.sigBytes)
        assert.equal(ml_dsa65.verify(sig, hex(t.message), hex(t.pk), { context: hex(t.context) }), t.testPassed)
      })
    }

    it('a valid signature is bound to its context: other contexts and our empty-context backends reject it', function () {
      // The selected cases all have non-empty contexts (ACVP draws contexts of 0..255 bytes);
      // our backends verify with the empty context, so they must reject these signatures.
      const valid = dsaSigVer.tests.filter((t) => t.testPassed)
      assert.ok(valid.length > 0)
      for (const t of valid) {
        assert.ok(t.context.length > 0)
        const sig = hex(t.signature)
        const msg = hex(t.message)
        const pk = hex(t.pk)
        const ctx = hex(t.context)
        assert.equal(ml_dsa65.verify(sig, msg, pk, { context: ctx.subarray(1) }), false)
        assert.equal(ml_dsa65.verify(sig, msg, pk), false)
        for (const pq of backends) assert.equal(pq.verify(sig, msg, pk), false, pq.name)
      }
    })
  })

  describe('ML-KEM-768 keyGen (ML-KEM.KeyGen_internal from d and z)', function () {
    for (const t of kemKeyGen.tests) {
      it(`tcId ${t.tcId}: kemKeygen(d || z) equals ek and dk`, function () {
        const kp = kemKeygen(concatBytes(hex(t.d), hex(t.z)))
        assert.equal(HEX(kp.publicKey), t.ek)
        assert.equal(HEX(kp.secretKey), t.dk)
      })
    }
  })

  describe('ML-KEM-768 encapsulation (deterministic, noble with fixed m)', function () {
    for (const t of kemEncDec.encapsulation.tests) {
      it(`tcId ${t.tcId}: ml_kem768.encapsulate(ek, m) equals c and k`, function () {
        const { cipherText, sharedSecret } = ml_kem768.encapsulate(hex(t.ek), hex(t.m))
        assert.equal(HEX(cipherText), t.c)
        assert.equal(HEX(sharedSecret), t.k)
      })
    }
  })

  describe('ML-KEM-768 decapsulation', function () {
    const { dk, tests } = kemEncDec.decapsulation
    for (const t of tests) {
      it(`tcId ${t.tcId}: both backends decapsulate(c, dk) to k`, function () {
        for (const pq of backends) assert.equal(HEX(pq.decapsulate(hex(t.c), hex(dk))), t.k, pq.name)
      })
    }

    it('both backends encapsulate to the ek embedded in the ACVP dk, and it decapsulates', function () {
      // FIPS 203: dk = dk_PKE (384k bytes) || ek || H(ek) || z
      const dkBytes = hex(dk)
      const ek = dkBytes.subarray(384 * 3, 384 * 3 + SUITE.kemPublicKeyBytes)
      for (const sender of backends) {
        const { cipherText, sharedSecret } = sender.encapsulate(ek)
        for (const receiver of backends) assert.ok(equalBytes(receiver.decapsulate(cipherText, dkBytes), sharedSecret), `${sender.name} -> ${receiver.name}`)
      }
    })
  })
})
