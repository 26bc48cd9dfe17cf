import assert from 'node:assert/strict'
import { describe, it } from 'mocha'
import type { ChainStore } from '../../../src/node/chain-store.js'
import { NodeError } from '../../../src/node/errors.js'
import { RECORDS_ANSWER_BUDGET, queryHandler, type QuerySource } from '../../../src/node/handlers/query.js'

const id = (b: number): Uint8Array => new Uint8Array(32).fill(b)
const malformed = (e: unknown): boolean => e instanceof NodeError && e.code === 'MALFORMED'

/** A source holding records 1..9 (record b: stored [b], blobs [b,0], [b,1], [b,2]); record 7's ciphertexts are missing. */
function source (over: Partial<QuerySource> = {}): QuerySource & { asked: Array<{ id: number, fields?: readonly number[] }>, pages: Array<{ cursor?: number, limit: number }> } {
  const asked: Array<{ id: number, fields?: readonly number[] }> = []
  const pages: Array<{ cursor?: number, limit: number }> = []
  return {
    asked,
    pages,
    chain: {} as ChainStore,
    getRecord: async (recordId, fields) => {
      const b = recordId[0] as number
      asked.push({ id: b, fields })
      if (b === 0 || b > 9) return undefined
      if (b === 7) throw new NodeError('BLOB_MISSING', 'not yet')
      const all = [0, 1, 2].map((f) => new Uint8Array([b, f]))
      return { stored: new Uint8Array([b]), blobs: fields === undefined ? all : fields.map((f) => all[f] ?? null) }
    },
    search: async (_t, page) => { pages.push(page); return { entries: [new Uint8Array([1])], next: 9 } },
    readBlob: async () => undefined,
    ...over
  }
}

describe('node/handlers: query', () => {
  it('`records` answers every id in the order asked, in one request: the record with the asked fields, null if not committed, 0 if its ciphertexts are missing here', async () => {
    const src = source()
    const handle = queryHandler(src)
    const res = await handle('records', { recordIds: [id(3), id(0), id(1), id(7), id(12)], fields: [1, 5] }, undefined as never)
    assert.deepEqual(res, [
      { stored: new Uint8Array([3]), blobs: [new Uint8Array([3, 1]), null] },
      null,
      { stored: new Uint8Array([1]), blobs: [new Uint8Array([1, 1]), null] },
      0,
      null
    ])
    assert.deepEqual(src.asked.map((a) => a.id), [3, 0, 1, 7, 12])
    assert.ok(src.asked.every((a) => JSON.stringify(a.fields) === '[1,5]'))
    // without fields: every ciphertext
    assert.deepEqual(await handle('records', { recordIds: [id(2)] }, undefined as never), [{ stored: new Uint8Array([2]), blobs: [0, 1, 2].map((f) => new Uint8Array([2, f])) }])
  })

  it('`records` refuses more than 100 ids, malformed ids, and fields that repeat or exceed 66', async () => {
    const handle = queryHandler(source())
    await assert.rejects(handle('records', { recordIds: Array.from({ length: 101 }, (_, i) => id(i % 9 + 1)) }, undefined as never), malformed)
    assert.equal((await handle('records', { recordIds: Array.from({ length: 100 }, () => id(1)) }, undefined as never) as unknown[]).length, 100)
    await assert.rejects(handle('records', { recordIds: [new Uint8Array(31)] }, undefined as never), malformed)
    await assert.rejects(handle('records', { recordIds: [id(1)], fields: [1, 1] }, undefined as never), malformed)
    await assert.rejects(handle('records', { recordIds: [id(1)], fields: [67] }, undefined as never), malformed)
    await assert.rejects(handle('records', { recordIds: [id(1)], fields: [-1] }, undefined as never), malformed)
  })

  it('`records` stops adding ciphertexts past its byte budget: the rest are answered 0 (ask again)', async () => {
    const big = new Uint8Array(RECORDS_ANSWER_BUDGET / 2)
    const handle = queryHandler(source({ getRecord: async (recordId) => ({ stored: recordId, blobs: [big] }) }))
    const res = await handle('records', { recordIds: [id(1), id(2), id(3), id(4)] }, undefined as never) as unknown[]
    assert.equal(res.filter((r) => r !== 0).length, 2)
    assert.deepEqual(res.slice(2), [0, 0])
  })

  it('`search` takes a cursor and a limit (default 1,000, at most 10,000) and answers entries with the next cursor', async () => {
    const src = source()
    const handle = queryHandler(src)
    assert.deepEqual(await handle('search', { token: new Uint8Array([1]) }, undefined as never), { entries: [new Uint8Array([1])], next: 9 })
    await handle('search', { token: new Uint8Array([1]), cursor: 9, limit: 10_000 }, undefined as never)
    assert.deepEqual(src.pages, [{ cursor: undefined, limit: 1000 }, { cursor: 9, limit: 10_000 }])
    await assert.rejects(handle('search', { token: new Uint8Array([1]), limit: 10_001 }, undefined as never), malformed)
    await assert.rejects(handle('search', { token: new Uint8Array([1]), limit: 0 }, undefined as never), malformed)
    await assert.rejects(handle('search', { token: new Uint8Array([1]), cursor: -2 }, undefined as never), malformed)
    assert.equal(src.pages.length, 2)
  })
})
