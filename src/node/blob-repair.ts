/**
 * A manager's ciphertexts: read with their hash checked, and fetched from the other managers when
 * missing (not gossiped to this manager, or stored before a sync) or corrupt.
 */
import type { Block, RecordTx } from '../blocks/index.js'
import { equalBytes, sha256, toHex } from '../crypto/index.js'
import type { BlobStore } from './blob-store.js'
import type { ChainStore } from './chain-store.js'
import { NodeError } from './errors.js'
import type { Logger } from './log.js'
import type { ManagerNet } from './manager-net.js'
import { MAX_BLOBS_PER_REQUEST } from './messages.js'
import type { ReqResp } from './reqresp.js'

/** How long a record read waits for missing or corrupt ciphertexts to be fetched from other managers. */
const BLOB_REPAIR_WAIT_MS = 3000

export interface BlobRepairOptions {
  blobs: BlobStore
  chain: ChainStore
  net: ManagerNet
  /** The query protocol's client (`blobs` requests). */
  query: () => ReqResp | undefined
  log: Logger
  stopped: () => boolean
}

export class BlobRepair {
  private readonly o: BlobRepairOptions
  /** Ciphertext fetches in flight, by hash (hex). */
  private readonly inFlight = new Map<string, Promise<void>>()

  constructor (opts: BlobRepairOptions) { this.o = opts }

  /** Runs background work whose failure is logged, never crashes the process. */
  background (work: Promise<void>, what: string): void {
    work.catch((err: Error) => { if (!this.o.stopped()) this.o.log.warn(`${what} failed: ${err.message}`) })
  }

  /**
   * This manager's copy of a ciphertext, checked against its hash (`BlobStore.read`). A corrupt
   * copy is never returned: the store has deleted it; this logs which hash and which record, and
   * fetches a good copy from the other managers in the background.
   */
  async read (hash: Uint8Array, recordId?: Uint8Array): Promise<Uint8Array | undefined> {
    const r = await this.o.blobs.read(hash)
    if (r.status === 'ok') return r.bytes
    if (r.status === 'corrupt') {
      const rid = recordId ?? (await this.o.chain.blobOwner(hash))?.recordId
      const what = `ciphertext ${toHex(hash)} of record ${rid === undefined ? '(none committed)' : toHex(rid)}`
      this.o.log.warn(`corrupt ${what}: the stored copy hashes to ${toHex(r.actual)}; deleted it, fetching a good copy from the other managers`)
      this.background(this.fetch([hash]).then(async () => {
        if (await this.o.blobs.has(hash)) this.o.log.info(`repaired ${what} from another manager`)
        else this.o.log.warn(`${what} not repaired yet: no other manager served a good copy`)
      }), 'ciphertext repair')
    }
    return undefined
  }

  /**
   * The ciphertexts of a committed record, in field then attachment order. Missing ones (not yet
   * fetched after a sync, or corrupt and deleted by `read`) are fetched from the other managers,
   * waiting briefly before answering BLOB_MISSING. With `fields` (numbers: 0–2 the fields, 3 + i
   * attachment i), only those, in that order, null for a field the record does not have.
   */
  async recordBlobs (tx: RecordTx, fields: readonly number[]): Promise<Array<Uint8Array | null>>
  async recordBlobs (tx: RecordTx): Promise<Uint8Array[]>
  async recordBlobs (tx: RecordTx, fields?: readonly number[]): Promise<Array<Uint8Array | null>> {
    const all = [...tx.fields, ...tx.attachments]
    if (fields === undefined) return await this.readAll(all, tx.recordId)
    // only the asked fields, in that order; null for a field this record does not have
    const have = fields.filter((f) => f < all.length)
    const got = await this.readAll(have.map((f) => all[f] as Uint8Array), tx.recordId)
    return fields.map((f) => f < all.length ? got[have.indexOf(f)] as Uint8Array : null)
  }

  private async readAll (hashes: Uint8Array[], recordId: Uint8Array): Promise<Uint8Array[]> {
    const blobs: Array<Uint8Array | undefined> = []
    for (const h of hashes) blobs.push(await this.read(h, recordId))
    const deadline = Date.now() + BLOB_REPAIR_WAIT_MS
    for (;;) {
      const missing = hashes.filter((_, i) => blobs[i] === undefined)
      if (missing.length === 0 || this.o.stopped() || Date.now() >= deadline) break
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        this.fetch(missing).catch(() => {}),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(0, deadline - Date.now())) })
      ])
      clearTimeout(timer)
      for (let i = 0; i < hashes.length; i++) if (blobs[i] === undefined) blobs[i] = await this.o.blobs.get(hashes[i] as Uint8Array)
      if (blobs.some((b) => b === undefined)) await new Promise((resolve) => setTimeout(resolve, Math.min(200, Math.max(0, deadline - Date.now()))))
    }
    const out: Uint8Array[] = []
    for (let i = 0; i < hashes.length; i++) {
      const b = blobs[i]
      if (b === undefined) throw new NodeError('BLOB_MISSING', `ciphertext ${toHex(hashes[i] as Uint8Array)} not (yet) stored on this manager`)
      out.push(b)
    }
    return out
  }

  /** Fetches the ciphertexts of a committed block's records that did not reach this manager by gossip. */
  async repairBlock (block: Block): Promise<void> {
    const missing: Uint8Array[] = []
    for (const tx of block.txs) {
      if (tx.type !== 'record') continue
      for (const h of [...tx.fields, ...tx.attachments]) if (!(await this.o.blobs.has(h))) missing.push(h)
    }
    await this.fetch(missing)
  }

  /**
   * Fetches these ciphertexts from the other managers (only bytes that hash to a wanted hash are
   * stored). A hash already being fetched is not asked for twice: the caller waits for that fetch.
   */
  async fetch (hashes: Uint8Array[]): Promise<void> {
    const waits: Array<Promise<void>> = []
    const fresh: Uint8Array[] = []
    for (const h of hashes) {
      const pending = this.inFlight.get(toHex(h))
      if (pending !== undefined) waits.push(pending)
      else if (!fresh.some((f) => equalBytes(f, h))) fresh.push(h)
    }
    if (fresh.length > 0) {
      const p: Promise<void> = this.fetchFromManagers(fresh).finally(() => {
        for (const h of fresh) if (this.inFlight.get(toHex(h)) === p) this.inFlight.delete(toHex(h))
      })
      for (const h of fresh) this.inFlight.set(toHex(h), p)
      waits.push(p)
    }
    await Promise.all(waits)
  }

  private async fetchFromManagers (missing: Uint8Array[]): Promise<void> {
    for (let i = 0; i < missing.length && !this.o.stopped(); i += MAX_BLOBS_PER_REQUEST) {
      const want = missing.slice(i, i + MAX_BLOBS_PER_REQUEST)
      for (const peer of this.o.net.otherManagers()) {
        try {
          const got = await this.o.query()?.request(peer, 'blobs', { hashes: want })
          const arr = Array.isArray(got) ? got : []
          let ok = 0
          for (const b of arr) {
            if (b instanceof Uint8Array && want.some((h) => equalBytes(h, sha256(b)))) { await this.o.blobs.put(b); ok++ }
          }
          if (ok === want.length) break
        } catch { // try the next manager
        }
      }
    }
  }
}
