import assert from 'node:assert/strict'
import { randomBytes, sha256 } from '../../src/crypto/index.js'
import {
  BlockError, buildBlock, decodeBlock, decodeCompactBlock, encodeBlock, encodeBlockFromParts, encodeCompactBlock, encodeTx,
  type Tx
} from '../../src/blocks/index.js'
import { grantTx, patientTx, recordTx } from './helpers.js'

/** Hash standing for the consortium configuration of these headers. */
const CFG = sha256(Uint8Array.of(0xcf))

function block (n: number): ReturnType<typeof buildBlock> {
  const txs: Tx[] = []
  for (let i = 0; i < n; i++) txs.push(i % 3 === 0 ? recordTx(2, 1) : i % 3 === 1 ? grantTx() : patientTx())
  return buildBlock({ chainId: 'pqmed-test', height: 3, prevHash: randomBytes(32), time: 1_700_000_000_000, proposer: 1, view: 0, indexStart: 7, configHash: CFG, nextConfigHash: CFG, txs })
}

describe('blocks/proposal: compact blocks and a block encoded from its parts', () => {
  it('encodeBlockFromParts equals encodeBlock for 0, 1, 23, 24, 255, 256 and 300 txs', () => {
    for (const n of [0, 1, 23, 24, 255, 256, 300]) {
      const b = block(n)
      const parts = encodeBlockFromParts(b.header, b.txs.map((t) => encodeTx(t)))
      assert.deepEqual(parts, new Uint8Array(encodeBlock(b)), `${n} txs`)
      assert.deepEqual(decodeBlock(parts).header, b.header)
    }
  })

  it('a compact block round-trips, and neither a block nor a compact block decodes as the other', () => {
    const b = block(5)
    const c = { header: b.header, txHashes: b.txs.map((t) => sha256(encodeTx(t))) }
    const bytes = encodeCompactBlock(c)
    assert.deepEqual(decodeCompactBlock(bytes), c)
    assert.ok(bytes.length < encodeBlock(b).length / 5)
    assert.throws(() => decodeBlock(bytes), BlockError)
    assert.throws(() => decodeCompactBlock(encodeBlock(b)), BlockError)
  })

  it('refuses a hash of the wrong length', () => {
    const b = block(2)
    assert.throws(() => encodeCompactBlock({ header: b.header, txHashes: [randomBytes(31)] }), BlockError)
  })
})
