import assert from 'node:assert/strict'
import type { PeerId } from '@libp2p/interface'
import { describe, it } from 'mocha'
import type { ChainStore } from '../../../src/node/chain-store.js'
import { NodeError } from '../../../src/node/errors.js'
import { syncHandler } from '../../../src/node/handlers/sync.js'

describe('node/handlers: sync', () => {
  const chain = { head: { height: 0 } } as unknown as ChainStore

  it('`consensus` hands the message bytes to the consensus validator (a manager\'s direct `send`)', async () => {
    const got: Uint8Array[] = []
    const handle = syncHandler(chain, (data) => { got.push(data) }, () => true)
    const msg = new Uint8Array([1, 2, 3])
    assert.equal(await handle('consensus', msg, undefined as never), null)
    assert.deepEqual(got, [msg])
  })

  it('refuses non-bytes for `consensus` and unknown methods with typed errors', async () => {
    const handle = syncHandler(chain, () => { assert.fail('not a message') }, () => true)
    await assert.rejects(handle('consensus', { a: 1 }, undefined as never), (e: unknown) => e instanceof NodeError && e.code === 'MALFORMED')
    await assert.rejects(handle('nope', {}, undefined as never), (e: unknown) => e instanceof NodeError && e.code === 'UNKNOWN_METHOD')
  })

  it('refuses a consensus message sent directly by a peer that is not another manager (FORBIDDEN), before anything is verified', async () => {
    const manager = { toString: () => 'manager-1' } as unknown as PeerId
    const user = { toString: () => 'user-7' } as unknown as PeerId
    const got: Uint8Array[] = []
    const handle = syncHandler(chain, (data) => { got.push(data) }, (peer) => peer.toString() === 'manager-1')
    await assert.rejects(handle('consensus', new Uint8Array([1]), user), (e: unknown) => e instanceof NodeError && e.code === 'FORBIDDEN')
    assert.equal(await handle('consensus', new Uint8Array([2]), manager), null)
    assert.deepEqual(got, [new Uint8Array([2])])
  })

  it('`txs` answers each asked hash with the held tx bytes or null, to managers only; malformed hashes are refused', async () => {
    const manager = { toString: () => 'manager-1' } as unknown as PeerId
    const user = { toString: () => 'user-7' } as unknown as PeerId
    const held = new Map([['11'.repeat(32), new Uint8Array([9, 9])]])
    const handle = syncHandler(chain, () => {}, (peer) => peer.toString() === 'manager-1', async (keys) => keys.map((k) => held.get(k) ?? null))
    const hashes = [new Uint8Array(32).fill(0x11), new Uint8Array(32).fill(0x22)]
    assert.deepEqual(await handle('txs', { hashes }, manager), [new Uint8Array([9, 9]), null])
    await assert.rejects(handle('txs', { hashes }, user), (e: unknown) => e instanceof NodeError && e.code === 'FORBIDDEN')
    await assert.rejects(handle('txs', { hashes: [new Uint8Array(31)] }, manager), (e: unknown) => e instanceof NodeError && e.code === 'MALFORMED')
    await assert.rejects(handle('txs', { hashes: new Array(3000).fill(hashes[0]) }, manager), (e: unknown) => e instanceof NodeError && e.code === 'MALFORMED')
  })
})
