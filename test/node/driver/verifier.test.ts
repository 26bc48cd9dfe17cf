import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import type { VerifierPort } from '../../../src/consensus/index.js'
import { VerifyOnce } from '../../../src/node/driver/verifier.js'

/** A verifier port that accepts exactly one (validator, bytes, sig) and counts its calls. */
function counting (): VerifierPort & { calls: number } {
  const port = {
    calls: 0,
    verify: (validator: number, bytes: Uint8Array, sig: Uint8Array): boolean => {
      port.calls++
      return validator === 1 && bytes[0] === 7 && sig[0] === 9
    }
  }
  return port
}

describe('node/driver: VerifyOnce (each consensus signature verified once)', () => {
  it('answers a repeat of a verified (signer, bytes, signature) from memory: the gossip check and PBFT\'s cost one ML-DSA verification', () => {
    const inner = counting()
    const v = new VerifyOnce(inner)
    const sig = new Uint8Array([9, 9])
    assert.equal(v.verify(1, new Uint8Array([7, 1]), sig), true) // the gossip validator
    assert.equal(v.verify(1, new Uint8Array([7, 1]), sig), true) // PBFT, same message (bytes recomputed)
    assert.equal(inner.calls, 1)
    assert.deepEqual(v.stats, { verified: 1, remembered: 1 })
  })

  it('verifies in full anything else: another signer, other bytes, another signature object, a failed signature', () => {
    const inner = counting()
    const v = new VerifyOnce(inner)
    const sig = new Uint8Array([9])
    assert.equal(v.verify(1, new Uint8Array([7]), sig), true)
    assert.equal(v.verify(2, new Uint8Array([7]), sig), false) // another signer
    assert.equal(v.verify(1, new Uint8Array([8]), sig), false) // other bytes
    assert.equal(v.verify(1, new Uint8Array([7]), new Uint8Array([9])), true) // an equal but distinct signature object
    const bad = new Uint8Array([1])
    assert.equal(v.verify(1, new Uint8Array([7]), bad), false)
    assert.equal(v.verify(1, new Uint8Array([7]), bad), false) // a failure is never remembered
    assert.equal(inner.calls, 6)
  })
})
