import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import {
  BlockError, decodeTx, encodeSubmission, encodeTx, keyEpochSigningPayload, MAX_KEY_EPOCH_RECIPIENTS, MAX_KEY_EPOCH_TX_BYTES, MAX_SUBMISSION_BYTES, MAX_TX_BYTES,
  signKeyEpochTx, validateTx, verifyKeyEpochTx, type KeyEpochTx
} from '../../src/blocks/index.js'
import { randomBytes, sha256, sigKeygen, loadPqBackend, type PqBackend } from '../../src/crypto/index.js'

function recipient (i: number): KeyEpochTx['recipients'][number] {
  const doctor = new Uint8Array(32); doctor[0] = i >> 8; doctor[1] = i & 0xff
  return { doctor, kemKeyId: randomBytes(32), kemCiphertext: randomBytes(1088), sealed: randomBytes(60) }
}

describe('blocks: KeyEpochTx', function () {
  this.timeout(60_000)
  let pq: PqBackend
  before(async () => { pq = await loadPqBackend() })
  const manager = sigKeygen(randomBytes(32))
  const body = (over: Partial<KeyEpochTx> = {}): Omit<KeyEpochTx, 'signature'> => ({
    type: 'key-epoch', epoch: 2, keyId: randomBytes(32), recipients: [recipient(1), recipient(2)], hospital: sha256(manager.publicKey), time: 1_700_000_000_000, ...over
  })

  it('round-trips canonically and verifies under the hospital key, bound to the chain id and the tx kind', () => {
    const tx = signKeyEpochTx(pq, manager.secretKey, 'pqmed-a', body())
    const bytes = encodeTx(tx)
    const back = decodeTx(bytes)
    assert.deepEqual(back, tx)
    assert.ok(verifyKeyEpochTx(pq, manager.publicKey, 'pqmed-a', back as KeyEpochTx))
    assert.equal(verifyKeyEpochTx(pq, manager.publicKey, 'pqmed-b', tx), false, 'a signature of one chain is not valid on another')
    assert.equal(verifyKeyEpochTx(pq, sigKeygen(randomBytes(32)).publicKey, 'pqmed-a', tx), false)
    assert.equal(verifyKeyEpochTx(pq, manager.publicKey, 'pqmed-a', { ...tx, epoch: 3 }), false, 'the epoch is signed')
    assert.equal(verifyKeyEpochTx(pq, manager.publicKey, 'pqmed-a', { ...tx, recipients: tx.recipients.slice(0, 1) }), false, 'the recipients are signed')
    const p = keyEpochSigningPayload('pqmed-a', tx)
    assert.equal(new TextDecoder().decode(p.subarray(4, 4 + 21)), 'pqmed/key-epoch-tx/v1', 'domain-separated')
  })

  it('refuses epoch 0 and 1, unordered or repeated recipients, none, too many, and wrong lengths', () => {
    const bad = (over: Partial<KeyEpochTx>, re: RegExp): void => {
      const tx = { ...signKeyEpochTx(pq, manager.secretKey, 'pqmed-a', body()), ...over }
      assert.throws(() => encodeTx(tx as KeyEpochTx), (e: unknown) => e instanceof BlockError && re.test(e.message))
      assert.equal(validateTx(tx).ok, false)
    }
    bad({ epoch: 1 }, /at least 2/)
    bad({ epoch: 0 }, /at least 2/)
    bad({ recipients: [recipient(2), recipient(1)] }, /ordered by doctor id/)
    bad({ recipients: [recipient(1), recipient(1)] }, /ordered by doctor id, each doctor once/)
    bad({ recipients: [] }, /at least 1/)
    bad({ recipients: Array.from({ length: MAX_KEY_EPOCH_RECIPIENTS + 1 }, (_, i) => recipient(i)) }, new RegExp(`at most ${MAX_KEY_EPOCH_RECIPIENTS}`))
    bad({ recipients: [{ ...recipient(1), sealed: randomBytes(59) }] }, /sealed must be 60 bytes/)
    bad({ recipients: [{ ...recipient(1), kemCiphertext: randomBytes(1087) }] }, /kemCiphertext must be 1088 bytes/)
    bad({ hospital: randomBytes(31) }, /hospital must be 32 bytes/)
  })

  it(`a key epoch may exceed MAX_TX_BYTES: with the most recipients (${MAX_KEY_EPOCH_RECIPIENTS}) it fits MAX_KEY_EPOCH_TX_BYTES, its submission MAX_SUBMISSION_BYTES`, () => {
    assert.equal(MAX_KEY_EPOCH_RECIPIENTS, 1600)
    const tx = signKeyEpochTx(pq, manager.secretKey, 'pqmed-a', body({ time: Number.MAX_SAFE_INTEGER, recipients: Array.from({ length: MAX_KEY_EPOCH_RECIPIENTS }, (_, i) => recipient(i)) }))
    const bytes = encodeTx(tx)
    assert.ok(bytes.length > MAX_TX_BYTES && bytes.length <= MAX_KEY_EPOCH_TX_BYTES, `${bytes.length} bytes`)
    assert.ok(encodeSubmission(tx, []).length <= MAX_SUBMISSION_BYTES)
    assert.equal(validateTx(tx).ok, true)
    const back = decodeTx(bytes.slice())
    assert.equal((back as KeyEpochTx).recipients.length, MAX_KEY_EPOCH_RECIPIENTS)
    assert.ok(verifyKeyEpochTx(pq, manager.publicKey, 'pqmed-a', back as KeyEpochTx))
    // 48 recipients, the most of a tx of MAX_TX_BYTES, was the limit before
    const small = signKeyEpochTx(pq, manager.secretKey, 'pqmed-a', body({ recipients: Array.from({ length: 60 }, (_, i) => recipient(i)) }))
    assert.ok(encodeTx(small).length > MAX_TX_BYTES)
    assert.deepEqual(decodeTx(encodeTx(small).slice()), small)
  })

  it('every other tx kind stays within MAX_TX_BYTES: input above it that is not a key epoch is refused before parsing', () => {
    const tx = signKeyEpochTx(pq, manager.secretKey, 'pqmed-a', body({ recipients: Array.from({ length: 60 }, (_, i) => recipient(i)) }))
    const bytes = encodeTx(tx).slice()
    // the same bytes with the kind renamed (same length): refused as OVERSIZED, not parsed as a key epoch
    const renamed = bytes.slice()
    const at = Buffer.from(renamed).indexOf('key-epoch')
    renamed.set(new TextEncoder().encode('key-epocx'), at)
    assert.throws(() => decodeTx(renamed), (e: unknown) => e instanceof BlockError && e.code === 'OVERSIZED' && /at most 65536/.test(e.message))
    // over MAX_KEY_EPOCH_TX_BYTES even a key epoch is refused before parsing
    const huge = new Uint8Array(MAX_KEY_EPOCH_TX_BYTES + 1); huge.set(bytes.subarray(0, 64))
    assert.throws(() => decodeTx(huge), (e: unknown) => e instanceof BlockError && e.code === 'OVERSIZED')
  })
})
