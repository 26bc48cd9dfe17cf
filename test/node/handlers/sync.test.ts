import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import type { ChainStore } from '../../../src/node/chain-store.js'
import { NodeError } from '../../../src/node/errors.js'
import { syncHandler } from '../../../src/node/handlers/sync.js'

describe('node/handlers: sync', () => {
  const chain = { head: { height: 0 } } as unknown as ChainStore

  it('`consensus` hands the message bytes to the consensus validator (a manager\'s direct `send`)', async () => {
    const got: Uint8Array[] = []
    const handle = syncHandler(chain, (data) => { got.push(data) })
    const msg = new Uint8Array([1, 2, 3])
    assert.equal(await handle('consensus', msg, undefined as never), null)
    assert.deepEqual(got, [msg])
  })

  it('refuses non-bytes for `consensus` and unknown methods with typed errors', async () => {
    const handle = syncHandler(chain, () => { assert.fail('not a message') })
    await assert.rejects(handle('consensus', { a: 1 }, undefined as never), (e: unknown) => e instanceof NodeError && e.code === 'MALFORMED')
    await assert.rejects(handle('nope', {}, undefined as never), (e: unknown) => e instanceof NodeError && e.code === 'UNKNOWN_METHOD')
  })
})
