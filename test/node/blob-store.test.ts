import assert from 'node:assert/strict'
import { join } from 'node:path'
import { equalBytes, randomBytes, sha256 } from '../../src/crypto/index.js'
import { BlobStore } from '../../src/node/blob-store.js'
import { tempDir } from './helpers.js'

describe('node/blob-store: puts share a batch and stay readable through the blockstore', () => {
  it('blobs put in one turn (put and putChecked) are all stored under their CIDs, and read back verified', async () => {
    const dir = await tempDir('blobstore')
    const store = await BlobStore.open(join(dir.path, 'blobs'))
    try {
      const blobs = Array.from({ length: 20 }, (_, i) => randomBytes(100 + i))
      const hashes = blobs.map((b) => sha256(b))
      await Promise.all([
        store.putChecked(blobs.slice(0, 10).map((bytes, i) => ({ hash: hashes[i] as Uint8Array, bytes }))),
        ...blobs.slice(10).map(async (b) => await store.put(b))
      ])
      for (const [i, h] of hashes.entries()) {
        assert.equal(await store.has(h), true)
        assert.ok(equalBytes(await store.get(h) ?? new Uint8Array(), blobs[i] as Uint8Array))
      }
      // a blob stored under a wrong hash is never served (found corrupt, deleted)
      const wrong = randomBytes(32)
      await store.putChecked([{ hash: wrong, bytes: randomBytes(10) }])
      assert.equal((await store.read(wrong)).status, 'corrupt')
      assert.equal(await store.has(wrong), false)
    } finally { await store.close(); await dir.remove() }
  })
})
