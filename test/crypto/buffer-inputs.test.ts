import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { loadLiboqs, noblePq, sigKeygen, kemKeygen } from '../../src/crypto/index.js'

// @ipld/dag-cbor returns a Node Buffer for larger outputs; liboqs-js rejects non-plain Uint8Arrays.
describe('crypto: Buffer inputs (as produced by dag-cbor) work with both backends', () => {
  it('signs and verifies a dag-cbor Buffer message, with Buffer keys and signatures', async () => {
    const msg = Buffer.from(dagCbor.encode({ pad: new Uint8Array(400) }))
    const k = sigKeygen(new Uint8Array(32).fill(9))
    for (const pq of [await loadLiboqs(), noblePq]) {
      const sig = pq.sign(msg, Buffer.from(k.secretKey))
      assert.equal(pq.verify(Buffer.from(sig), msg, Buffer.from(k.publicKey)), true, pq.name)
    }
  })
  it('encapsulates to and decapsulates with Buffer keys', async () => {
    const k = kemKeygen(new Uint8Array(64).fill(4))
    const pq = await loadLiboqs()
    const e = pq.encapsulate(Buffer.from(k.publicKey))
    assert.deepEqual(pq.decapsulate(Buffer.from(e.cipherText), Buffer.from(k.secretKey)), e.sharedSecret)
  })
})
