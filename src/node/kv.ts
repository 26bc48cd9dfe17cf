/**
 * A small typed facade over LevelDB (`level`): string keys, byte values, atomic batches. Keys
 * embed zero-padded heights so that range scans come out in chain order.
 */
import { Level } from 'level'
import { registerStore, unregisterStore } from './store-registry.js'

/** LevelDB tuning of one store. */
export interface KvOptions {
  /**
   * Files LevelDB keeps open (its table cache holds this many minus 10 table files). Every cached
   * table is mapped into memory (up to 1,000 per process), so pages read from it count in the
   * process's RSS until the table leaves the cache. Default `KV_MAX_OPEN_FILES`.
   */
  maxOpenFiles?: number
}

/**
 * Default `KvOptions.maxOpenFiles`: the smallest LevelDB accepts, a table cache of 64 tables of
 * at most 2 MiB each, so a store's mapped pages stay under 128 MiB however large it grows
 * (LevelDB's own default, 1,000, let a manager's RSS grow with the queries it answered, to 643 MiB
 * at 10^5 records, 512 MiB of it mapped table files). The price: a read from a table not in the
 * cache opens it (README "Scale").
 */
export const KV_MAX_OPEN_FILES = 74
/** The range LevelDB accepts for `maxOpenFiles` (it silently clamps anything outside it). */
export const KV_MIN_OPEN_FILES = 74
export const KV_MAX_OPEN_FILES_LIMIT = 50_000

/** `KvOptions.maxOpenFiles` with its default filled in; a RangeError outside what LevelDB accepts. */
export function kvOpenFiles (opts: KvOptions): number {
  const n = opts.maxOpenFiles ?? KV_MAX_OPEN_FILES
  if (!Number.isSafeInteger(n) || n < KV_MIN_OPEN_FILES || n > KV_MAX_OPEN_FILES_LIMIT) {
    throw new RangeError(`maxOpenFiles must be an integer in [${KV_MIN_OPEN_FILES}, ${KV_MAX_OPEN_FILES_LIMIT}], got ${String(n)}`)
  }
  return n
}

/** Keys per LevelDB read of a split `Kv.getMany`. */
const GET_MANY_CHUNK = 25

export type BatchOp = { type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }

/** The methods `Kv` offers, so a Map-backed `MemKv` can stand in for it (light nodes in big simulations). */
export interface KvStore {
  get: (key: string) => Promise<Uint8Array | undefined>
  getMany: (keys: string[]) => Promise<Array<Uint8Array | undefined>>
  put: (key: string, value: Uint8Array, durable?: boolean) => Promise<void>
  batch: (ops: BatchOp[], durable?: boolean) => Promise<void>
  del: (key: string) => Promise<void>
  range: (gte: string, lt: string, limit?: number) => AsyncGenerator<[string, Uint8Array]>
  close: () => Promise<void>
}

export class Kv implements KvStore {
  private readonly db: Level<string, Uint8Array>
  private readonly dir: string
  private constructor (db: Level<string, Uint8Array>, dir: string) { this.db = db; this.dir = dir }

  /** Opens (creating if missing) the store in `dir`, registered for `pqmed backup` (./store-registry.ts). */
  static async open (dir: string, opts: KvOptions = {}): Promise<Kv> {
    const maxOpenFiles = kvOpenFiles(opts)
    const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
    await db.open({ maxOpenFiles } as object)
    registerStore(dir, db)
    return new Kv(db, dir)
  }

  async get (key: string): Promise<Uint8Array | undefined> {
    const v = await this.db.get(key)
    return v ?? undefined
  }

  /** Large reads are split in `GET_MANY_CHUNK`s that run side by side on libuv's threads (a read that misses the table cache opens a table file). */
  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> {
    if (keys.length === 0) return []
    if (keys.length <= GET_MANY_CHUNK) return (await this.db.getMany(keys)).map((v) => v ?? undefined)
    const parts: Array<Promise<Array<Uint8Array | undefined>>> = []
    for (let i = 0; i < keys.length; i += GET_MANY_CHUNK) parts.push(this.db.getMany(keys.slice(i, i + GET_MANY_CHUNK)))
    return (await Promise.all(parts)).flat().map((v) => v ?? undefined)
  }

  /** `durable: true` asks LevelDB to fsync before returning (write-ahead-log records, committed blocks). */
  async put (key: string, value: Uint8Array, durable = false): Promise<void> { await this.db.put(key, value, durable ? { sync: true } as object : {}) }
  async batch (ops: BatchOp[], durable = false): Promise<void> { if (ops.length > 0) await this.db.batch(ops, durable ? { sync: true } as object : {}) }
  async del (key: string): Promise<void> { await this.db.del(key) }

  async * range (gte: string, lt: string, limit = -1): AsyncGenerator<[string, Uint8Array]> {
    for await (const [k, v] of this.db.iterator({ gte, lt, limit })) yield [k, v]
  }

  async close (): Promise<void> { unregisterStore(this.dir, this.db); await this.db.close() }
}

/**
 * An in-memory `KvStore` (a Map; nothing survives the process). For many light nodes in one
 * process (benchmarks, simulations), where one LevelDB per node costs file handles and memory.
 */
export class MemKv implements KvStore {
  private readonly m = new Map<string, Uint8Array>()

  async get (key: string): Promise<Uint8Array | undefined> { return this.m.get(key) }
  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> { return keys.map((k) => this.m.get(k)) }
  async put (key: string, value: Uint8Array): Promise<void> { this.m.set(key, value) }
  async batch (ops: BatchOp[]): Promise<void> {
    for (const op of ops) {
      if (op.type === 'put') this.m.set(op.key, op.value)
      else this.m.delete(op.key)
    }
  }

  async del (key: string): Promise<void> { this.m.delete(key) }

  async * range (gte: string, lt: string, limit = -1): AsyncGenerator<[string, Uint8Array]> {
    const keys = [...this.m.keys()].filter((k) => k >= gte && k < lt).sort()
    const n = limit < 0 ? keys.length : Math.min(limit, keys.length)
    for (let i = 0; i < n; i++) {
      const k = keys[i] as string
      const v = this.m.get(k)
      if (v !== undefined) yield [k, v]
    }
  }

  async close (): Promise<void> { this.m.clear() }
}

export const pad = (n: number): string => n.toString(16).padStart(12, '0')
