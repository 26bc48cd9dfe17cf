/**
 * The consensus write-ahead log (CometBFT's wal.go), kept in the chain store's LevelDB under
 * `wal/<seq>`. A record is made durable (`sync: true`) before the driver executes anything after
 * it, so a restarted manager never signs two different blocks for one (height, view).
 *
 * Records of decided heights are dropped in the commit's own atomic batch (`decidedOps`): the log
 * keeps each live record's height in memory, so no range scan is needed after a commit.
 */
import { decodeWalRecord, encodeWalRecord, type WalRecord } from '../../consensus/index.js'
import { pad, type BatchOp, type KvStore } from '../kv.js'

const PREFIX = 'wal/'

export class Wal {
  private readonly kv: KvStore
  private seq = 0
  /** Key → height of each record on disk. */
  private readonly live = new Map<string, number>()

  constructor (kv: KvStore) { this.kv = kv }

  /** Reads the log at start: the records of heights above `head`, in the order they were written. */
  async restore (head: number): Promise<WalRecord[]> {
    const out: WalRecord[] = []
    for await (const [k, v] of this.kv.range(PREFIX, PREFIX + '\xff')) {
      this.seq = Math.max(this.seq, parseInt(k.slice(PREFIX.length), 16) + 1)
      const r = decodeWalRecord(v)
      this.live.set(k, r.height)
      if (r.height > head) out.push(r)
    }
    return out
  }

  /** Appends a record durably (fsync) before returning. */
  async append (record: WalRecord): Promise<void> {
    const key = PREFIX + pad(this.seq++)
    await this.kv.put(key, encodeWalRecord(record), true)
    this.live.set(key, record.height)
  }

  /**
   * Deletes of every record of a height up to `height`, for the batch that commits that height.
   * The records are forgotten here: if the batch fails they are read again at the next start
   * (and dropped by the commit after it).
   */
  decidedOps (height: number): BatchOp[] {
    const ops: BatchOp[] = []
    for (const [key, h] of this.live) {
      if (h <= height) { ops.push({ type: 'del', key }); this.live.delete(key) }
    }
    return ops
  }
}
