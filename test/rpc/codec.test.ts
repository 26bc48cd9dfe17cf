import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import { buildBlock, headerHash } from '../../src/blocks/index.js'
import { ClientError, grantTxFromJson, headerFromJson, recordTxFromJson } from '../../src/client/index.js'
import { loadPqBackend } from '../../src/crypto/index.js'
import { createDevnet } from '../../src/node/devnet.js'
import { genesisHeaderOf } from '../../src/node/genesis.js'
import { JsonCodecError, certFromJson, certJson, headerJson, txJson, unhex, recordTxFromJson as codecRecordTx } from '../../src/rpc/codec.js'
import { TestDoctor } from '../node/helpers.js'

describe('rpc: the JSON codec shared by the node and the client', function () {
  this.timeout(60_000)

  it('round-trips a header, a record tx and a certificate', async () => {
    const pq = await loadPqBackend()
    const files = await createDevnet({ chainId: 'pqmed-codec', managers: 1, doctors: 1, managerAddr: () => '/ip4/127.0.0.1/tcp/1' })
    const g = genesisHeaderOf(files.genesis)
    const { tx } = (await TestDoctor.create(files, 0, pq)).record(1)
    const block = buildBlock({ chainId: g.chainId, height: 1, prevHash: headerHash(g), time: 5, proposer: 0, view: 0, indexStart: 0, configHash: g.configHash, nextConfigHash: g.configHash, txs: [tx] })
    const hj = headerJson(block.header)
    assert.equal(hj.hash, Buffer.from(headerHash(block.header)).toString('hex'))
    assert.deepEqual(headerHash(headerFromJson(hj)), headerHash(block.header))
    const tj = txJson(tx)
    assert.equal(tj.type, 'record')
    if (tj.type !== 'record') return
    assert.deepEqual(txJson(recordTxFromJson(tj)), tj)
    const cert = { chainId: g.chainId, height: 1, view: 0, headerHash: headerHash(block.header), signatures: [{ validator: 0, signature: new Uint8Array([1, 2, 3]) }] }
    assert.deepEqual(certJson(certFromJson(certJson(cert))), certJson(cert))
  })

  it('refuses malformed ids and shapes: JsonCodecError in the codec, the same message as ClientError BAD_INPUT / VERIFY_FAILED in the client', () => {
    assert.throws(() => unhex('AB'), (e: unknown) => e instanceof JsonCodecError && e.code === 'BAD_HEX' && e.message === 'hex id must be 64 lowercase hex digits')
    const grant = { type: 'grant' as const, recordId: 'x', grantor: '', grantorKey: '', grantee: '', fields: [], wrapped: '', time: 0, signature: '' }
    assert.throws(() => grantTxFromJson(grant), (e: unknown) => e instanceof ClientError && e.code === 'BAD_INPUT' && e.message === 'hex id must be 64 lowercase hex digits')
    const h = '00'.repeat(32)
    const rec = { type: 'record' as const, recordId: h, doctor: h, owner: h, fields: [h, h], attachments: [], indexUpdates: [], time: 0, signature: '' }
    assert.throws(() => codecRecordTx(rec), (e: unknown) => e instanceof JsonCodecError && e.code === 'BAD_SHAPE')
    assert.throws(() => recordTxFromJson(rec), (e: unknown) => e instanceof ClientError && e.code === 'VERIFY_FAILED' && e.message === 'a record tx has exactly three field hashes')
  })
})
