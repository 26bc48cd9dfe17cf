import assert from 'node:assert/strict'
import { equalBytes, noblePq, sha256, SUITE, toHex, utf8 } from '../../src/crypto/index.js'
import {
  deriveAttachmentKey, deriveFieldKey, deriveFieldKeys, deriveIdentityKeys, deriveIndexKey, deriveRecordOwnerKey, enroll, PufError,
  recordOwnerId, reproduce, seededRandom, SimulatedSramPuf
} from '../../src/puf/index.js'

const secret = sha256(utf8('a PUF secret'))
const otherSecret = sha256(utf8('another PUF secret'))
const rec1 = sha256(utf8('record 1'))
const rec2 = sha256(utf8('record 2'))
const badInput = (e: unknown): boolean => e instanceof PufError && e.code === 'BAD_INPUT'

describe('puf/keys: key derivation from the PUF secret', () => {
  const id = deriveIdentityKeys(secret)

  it('identity keys: deterministic, right sizes, id = SHA-256(sig public key)', () => {
    const again = deriveIdentityKeys(secret.slice())
    assert.deepEqual(again.sig.publicKey, id.sig.publicKey)
    assert.deepEqual(again.sig.secretKey, id.sig.secretKey)
    assert.deepEqual(again.kem.publicKey, id.kem.publicKey)
    assert.deepEqual(again.kem.secretKey, id.kem.secretKey)
    assert.equal(id.sig.publicKey.length, SUITE.sigPublicKeyBytes)
    assert.equal(id.sig.secretKey.length, SUITE.sigSecretKeyBytes)
    assert.equal(id.kem.publicKey.length, SUITE.kemPublicKeyBytes)
    assert.equal(id.kem.secretKey.length, SUITE.kemSecretKeyBytes)
    assert.deepEqual(id.id, sha256(id.sig.publicKey))
    const other = deriveIdentityKeys(otherSecret)
    assert.ok(!equalBytes(other.sig.publicKey, id.sig.publicKey))
    assert.ok(!equalBytes(other.kem.publicKey, id.kem.publicKey))
  })

  it('an ML-DSA-65 signature made with the derived key verifies; ML-KEM round-trips', () => {
    const msg = utf8('recordId || H(cip1) || H(cip2) || H(cip3)')
    const sig = noblePq.sign(msg, id.sig.secretKey)
    assert.ok(noblePq.verify(sig, msg, id.sig.publicKey))
    assert.ok(!noblePq.verify(sig, utf8('another message'), id.sig.publicKey))
    assert.ok(!noblePq.verify(sig, msg, deriveIdentityKeys(otherSecret).sig.publicKey))
    const { cipherText, sharedSecret } = noblePq.encapsulate(id.kem.publicKey)
    assert.deepEqual(noblePq.decapsulate(cipherText, id.kem.secretKey), sharedSecret)
  })

  it('end to end: keys from a reproduced secret equal the keys from the enrolled one', () => {
    const dev = new SimulatedSramPuf({ seed: sha256(utf8('chip-keys')), random: seededRandom(sha256(utf8('noise-keys'))) })
    const e = enroll(dev)
    const k1 = deriveFieldKeys(e.secret, rec1)
    const k2 = deriveFieldKeys(reproduce(dev, e.helper), rec1)
    assert.deepEqual(k2, k1)
  })

  it('field keys: deterministic, 32 bytes, distinct across fields, records and secrets', () => {
    const [inf, sym, pre] = deriveFieldKeys(secret, rec1)
    assert.deepEqual(deriveFieldKeys(secret, rec1), [inf, sym, pre])
    assert.deepEqual(deriveFieldKey(secret, rec1, 'symptoms'), sym)
    const all = [
      inf, sym, pre,
      ...deriveFieldKeys(secret, rec2),
      ...deriveFieldKeys(otherSecret, rec1),
      deriveAttachmentKey(secret, rec1, 0),
      deriveAttachmentKey(secret, rec1, 1),
      deriveAttachmentKey(secret, rec2, 0),
      deriveAttachmentKey(secret, rec1, 0xffffffff),
      deriveIndexKey(secret, 'patient-index'),
      deriveIndexKey(secret, 'keyword-index'),
      deriveIndexKey(otherSecret, 'patient-index'),
      id.sig.secretKey.subarray(0, 32), id.kem.secretKey.subarray(0, 32)
    ]
    for (const k of all.slice(0, -2)) assert.equal(k.length, 32)
    assert.equal(new Set(all.map(toHex)).size, all.length)
    assert.deepEqual(deriveAttachmentKey(secret, rec1, 1), deriveAttachmentKey(secret, rec1, 1))
    assert.deepEqual(deriveIndexKey(secret, 'patient-index'), deriveIndexKey(secret, 'patient-index'))
  })

  it('record owner keys: deterministic ML-DSA-65 pairs, one per record, unlinkable ids', () => {
    const k1 = deriveRecordOwnerKey(secret, rec1)
    assert.equal(k1.publicKey.length, SUITE.sigPublicKeyBytes)
    assert.deepEqual(deriveRecordOwnerKey(secret.slice(), rec1.slice()), k1)
    assert.deepEqual(recordOwnerId(secret, rec1), sha256(k1.publicKey))
    // a signature with the owner key verifies under its public key
    const msg = utf8('grant')
    assert.equal(noblePq.verify(noblePq.sign(msg, k1.secretKey), msg, k1.publicKey), true)
    // per record, per secret: every owner id differs, and none is the identity id or a field/index key
    const ids = [recordOwnerId(secret, rec1), recordOwnerId(secret, rec2), recordOwnerId(otherSecret, rec1), recordOwnerId(otherSecret, rec2)]
    const others = [id.id, sha256(id.sig.publicKey), ...deriveFieldKeys(secret, rec1), deriveIndexKey(secret, 'patient-index')]
    assert.equal(new Set([...ids, ...others].map(toHex)).size, ids.length + others.length - 1) // id.id = sha256(id.sig.publicKey)
    assert.throws(() => deriveRecordOwnerKey(secret, new Uint8Array(31)), badInput)
    assert.throws(() => recordOwnerId(new Uint8Array(31), rec1), badInput)
  })

  it('checks input lengths and ranges', () => {
    assert.throws(() => deriveIdentityKeys(new Uint8Array(31)), badInput)
    assert.throws(() => deriveFieldKeys(new Uint8Array(33), rec1), badInput)
    assert.throws(() => deriveFieldKeys(secret, new Uint8Array(16)), badInput)
    assert.throws(() => deriveFieldKey(secret, rec1, 'diagnosis' as 'symptoms'), badInput)
    assert.throws(() => deriveAttachmentKey(secret, rec1, -1), badInput)
    assert.throws(() => deriveAttachmentKey(secret, rec1, 1.5), badInput)
    assert.throws(() => deriveAttachmentKey(secret, rec1, 2 ** 32), badInput)
    assert.throws(() => deriveAttachmentKey(secret, rec1.subarray(1), 0), badInput)
    assert.throws(() => deriveIndexKey(secret, ''), badInput)
    assert.throws(() => deriveIndexKey(secret, 'Patient Index'), badInput)
    assert.throws(() => deriveIndexKey(secret, 'x'.repeat(129)), badInput)
    assert.throws(() => deriveIndexKey('secret' as unknown as Uint8Array, 'patient-index'), badInput)
  })
})
