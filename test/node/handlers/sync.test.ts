import assert from 'node:assert/strict'
import type { PeerId } from '@libp2p/interface'
import { describe, it } from 'mocha'
import type { ChainStore } from '../../../src/node/chain-store.js'
import { NodeError } from '../../../src/node/errors.js'
import { syncHandler } from '../../../src/node/handlers/sync.js'
import { MAX_BLOCKS_ANSWER_BYTES, MAX_FRAME_BYTES } from '../../../src/node/messages.js'

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

  it('`blocks` answers fewer blocks when they are large, so the answer fits one frame (at least one block)', async () => {
    const MiB = 1024 * 1024
    // 8 blocks of 4 MiB (a key epoch of 2 MiB and records) would be 32 MiB: twice the 16 MiB frame
    const big = { head: { height: 10 }, blockBytes: async () => new Uint8Array(4 * MiB), certBytes: async () => new Uint8Array(10_000) } as unknown as ChainStore
    const handle = syncHandler(big, () => {}, () => true)
    const items = await handle('blocks', { from: 1, count: 8 }, undefined as never) as Array<{ block: Uint8Array, cert: Uint8Array }>
    assert.equal(items.length, 2)
    assert.ok(items.reduce((n, it) => n + it.block.length + it.cert.length, 0) <= MAX_BLOCKS_ANSWER_BYTES)
    assert.ok(MAX_BLOCKS_ANSWER_BYTES < MAX_FRAME_BYTES - MiB, 'room for the framing')
    const huge = { ...big, blockBytes: async () => new Uint8Array(13 * MiB) } as unknown as ChainStore
    assert.equal((await syncHandler(huge, () => {}, () => true)('blocks', { from: 1, count: 8 }, undefined as never) as unknown[]).length, 1)
    const small = { ...big, blockBytes: async () => new Uint8Array(1000) } as unknown as ChainStore
    assert.equal((await syncHandler(small, () => {}, () => true)('blocks', { from: 1, count: 8 }, undefined as never) as unknown[]).length, 8)
  })
})
