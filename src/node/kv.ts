/**
 * A small typed facade over LevelDB (`level`): string keys, byte values, atomic batches. Keys
 * embed zero-padded heights so that range scans come out in chain order.
 */
import { Level } from 'level'

export type BatchOp = { type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }

export class Kv {
  private readonly db: Level<string, Uint8Array>
  private constructor (db: Level<string, Uint8Array>) { this.db = db }

  static async open (dir: string): Promise<Kv> {
    const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
    await db.open()
    return new Kv(db)
  }

  async get (key: string): Promise<Uint8Array | undefined> {
    const v = await this.db.get(key)
    return v ?? undefined
  }

  async getMany (keys: string[]): Promise<Array<Uint8Array | undefined>> {
    if (keys.length === 0) return []
    return (await this.db.getMany(keys)).map((v) => v ?? undefined)
  }

  /** `durable: true` asks LevelDB to fsync before returning (write-ahead-log records, committed blocks). */
  async put (key: string, value: Uint8Array, durable = false): Promise<void> { await this.db.put(key, value, durable ? { sync: true } as object : {}) }
  async batch (ops: BatchOp[], durable = false): Promise<void> { if (ops.length > 0) await this.db.batch(ops, durable ? { sync: true } as object : {}) }
  async del (key: string): Promise<void> { await this.db.del(key) }

  async * range (gte: string, lt: string, limit = -1): AsyncGenerator<[string, Uint8Array]> {
    for await (const [k, v] of this.db.iterator({ gte, lt, limit })) yield [k, v]
  }

  async close (): Promise<void> { await this.db.close() }
}

export const pad = (n: number): string => n.toString(16).padStart(12, '0')
