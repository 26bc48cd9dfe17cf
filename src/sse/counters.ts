/**
 * Client state: how many updates each (index key, writer, term) tree has, keyed by the tree's
 * non-secret id (so persisted state names no keyword). A writer bumps its own counters; a
 * searcher learns other writers' counters from snapshots they share (`merge`, taking maxima) or
 * by `recoverCounters`. Serialized as dag-cbor `{ v: 1, c: [[id (32 bytes), count], …] }`, ids sorted.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { fromHex, toHex } from '../crypto/index.js'
import { SseError } from './errors.js'
import { TREE_LEAVES } from './ggm.js'

const STATE_VERSION = 1

export class CounterState {
  private readonly counts = new Map<string, number>()

  /** Updates made so far in tree `id` (0 if unknown). */
  get (id: string): number { return this.counts.get(id) ?? 0 }

  /** Raises the count of `id` to `count` (counts never go down). */
  raise (id: string, count: number): void {
    if (typeof id !== 'string' || !/^[0-9a-f]{64}$/.test(id)) throw new SseError('BAD_INPUT', 'tree id must be 64 lowercase hex characters')
    if (!Number.isSafeInteger(count) || count < 0 || count > TREE_LEAVES) throw new SseError('COUNTER_OVERFLOW', `count ${count} outside [0, 2^32]`)
    if (count > this.get(id)) this.counts.set(id, count)
  }

  /** Reserves the next update number of `id` and returns it. */
  next (id: string): number {
    const c = this.get(id)
    if (c >= TREE_LEAVES) throw new SseError('COUNTER_OVERFLOW', 'tree is full (2^32 updates)')
    this.raise(id, c + 1)
    return c
  }

  /** Takes, for every tree, the larger of the two counts. */
  merge (other: CounterState): void {
    for (const [id, c] of other.entries()) this.raise(id, c)
  }

  entries (): IterableIterator<[string, number]> { return this.counts.entries() }
  get size (): number { return this.counts.size }

  encode (): Uint8Array {
    const ids = [...this.counts.keys()].sort()
    return dagCbor.encode({ v: STATE_VERSION, c: ids.map((id) => [fromHex(id), this.get(id)]) })
  }

  static decode (bytes: Uint8Array): CounterState {
    let obj: unknown
    try { obj = dagCbor.decode(bytes) } catch (err) {
      throw new SseError('MALFORMED_STATE', `counter state is not dag-cbor: ${(err as Error).message}`)
    }
    const o = obj as { v?: unknown, c?: unknown }
    if (obj === null || typeof obj !== 'object' || o.v !== STATE_VERSION || !Array.isArray(o.c)) {
      throw new SseError('MALFORMED_STATE', 'counter state must be { v: 1, c: [...] }')
    }
    const s = new CounterState()
    for (const item of o.c as unknown[]) {
      if (!Array.isArray(item) || item.length !== 2 || !(item[0] instanceof Uint8Array) || item[0].length !== 32 ||
        !Number.isSafeInteger(item[1]) || item[1] < 0 || item[1] > TREE_LEAVES) {
        throw new SseError('MALFORMED_STATE', 'counter entry must be [32-byte id, count ≤ 2^32]')
      }
      const id = toHex(item[0])
      if (s.counts.has(id)) throw new SseError('MALFORMED_STATE', 'repeated tree id')
      s.counts.set(id, item[1] as number)
    }
    return s
  }
}
