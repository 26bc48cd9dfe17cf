/**
 * The searchable index on disk: the chain store's `idx/` entries as an `AsyncIndexStore` for
 * `serverSearchAsync` (src/sse stays free of storage). Each entry carries its stored bytes (value,
 * position and inclusion proof), which the manager answers with as they are.
 */
import type { AsyncIndexStore, StoredEntry } from '../../sse/index.js'
import { decodeStoredIndexEntry, type ChainStore } from '../chain-store.js'

export type DiskIndexEntry = StoredEntry & { stored: Uint8Array }

export class DiskIndexStore implements AsyncIndexStore<DiskIndexEntry> {
  private readonly chain: ChainStore
  constructor (chain: ChainStore) { this.chain = chain }

  async getMany (labels: Uint8Array[]): Promise<Array<DiskIndexEntry | undefined>> {
    const raws = await this.chain.indexRaw(labels)
    return raws.map((stored, i) => {
      if (stored === undefined) return undefined
      const e = decodeStoredIndexEntry(stored)
      return { label: labels[i] as Uint8Array, value: e.update.value, position: { height: e.height, index: e.position }, stored }
    })
  }
}
