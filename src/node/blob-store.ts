/**
 * Content-addressed ciphertext store: the IPFS blockstore format (`blockstore-level`, CIDv1 with
 * the raw codec and a sha2-256 multihash), so the SHA-256 committed in a record tx *is* the CID's
 * digest. Managers serve these blocks over bitswap (helia.ts) to the peers their gater admits.
 */
import { LevelBlockstore } from 'blockstore-level'
import { base32upper } from 'multiformats/bases/base32'
import type { CID } from 'multiformats/cid'
import { concatBytes, equalBytes, sha256 } from '../crypto/index.js'
import { blobCid } from '../records/cid.js'
import { registerStore, unregisterStore } from './store-registry.js'
import { kvOpenFiles, type KvOptions } from './kv.js'

/** CIDv1 (raw, sha2-256) for a blob whose SHA-256 is `hash` (src/records/cid.ts). */
export { blobCid }

/** One read of a stored blob: its bytes, or why there are none. */
export type BlobRead =
  | { status: 'ok', bytes: Uint8Array }
  | { status: 'missing' }
  /** The stored bytes did not hash to their key: they were deleted and are never served. */
  | { status: 'corrupt', actual: Uint8Array }

/** The blockstore's LevelDB key of a CID (`blockstore-level`'s own encoding: `/` + base32upper of the multihash). */
export function blockstoreKey (cid: CID): string { return `/${base32upper.encode(cid.multihash.bytes)}` }

export class BlobStore {
  private readonly bs: LevelBlockstore
  private readonly dir: string
  /** Puts waiting for the next batch: every put of one event-loop turn goes into one LevelDB batch. */
  private pending: Array<{ type: 'put', key: string, value: Uint8Array }> = []
  private flush: Promise<void> | null = null
  private constructor (bs: LevelBlockstore, dir: string) { this.bs = bs; this.dir = dir }

  /** Opens the store in `dir`, registered for `pqmed backup` (./store-registry.ts). */
  static async open (dir: string, opts: KvOptions = {}): Promise<BlobStore> {
    const bs = new LevelBlockstore(dir, { maxOpenFiles: kvOpenFiles(opts) })
    await bs.open()
    registerStore(dir, bs.db)
    return new BlobStore(bs, dir)
  }

  /** Stores a blob under its SHA-256; returns the hash. */
  async put (bytes: Uint8Array): Promise<Uint8Array> {
    const hash = sha256(bytes)
    await this.putChecked([{ hash, bytes }])
    return hash
  }

  /**
   * Stores blobs whose SHA-256 the caller has just checked (a submission's ciphertexts against the
   * hashes its tx commits to), without hashing them again. Puts made in the same event-loop turn
   * share one LevelDB batch (one write instead of one per blob). A wrong hash would only make
   * `read` find the copy corrupt and delete it.
   */
  async putChecked (blobs: ReadonlyArray<{ hash: Uint8Array, bytes: Uint8Array }>): Promise<void> {
    for (const b of blobs) this.pending.push({ type: 'put', key: blockstoreKey(blobCid(b.hash)), value: b.bytes })
    this.flush ??= new Promise<void>((resolve) => { setImmediate(resolve) }).then(async () => {
      const ops = this.pending
      this.pending = []
      this.flush = null
      await this.bs.db.batch(ops)
    })
    await this.flush
  }

  async has (hash: Uint8Array): Promise<boolean> { return await this.bs.has(blobCid(hash)) }

  /**
   * Reads a blob and checks its SHA-256 against the key: a copy that does not match (disk
   * corruption, tampering) is deleted and reported as `corrupt`, never returned.
   */
  async read (hash: Uint8Array): Promise<BlobRead> {
    const cid = blobCid(hash)
    if (!(await this.bs.has(cid))) return { status: 'missing' }
    const chunks: Uint8Array[] = []
    for await (const c of this.bs.get(cid)) chunks.push(c)
    const bytes = chunks.length === 1 ? chunks[0] as Uint8Array : concatBytes(...chunks)
    const actual = sha256(bytes)
    if (!equalBytes(actual, hash)) {
      await this.bs.delete(cid)
      return { status: 'corrupt', actual }
    }
    return { status: 'ok', bytes }
  }

  /** The blob whose SHA-256 is `hash`, or undefined if it is missing or its copy was corrupt (see `read`). */
  async get (hash: Uint8Array): Promise<Uint8Array | undefined> {
    const r = await this.read(hash)
    return r.status === 'ok' ? r.bytes : undefined
  }

  async close (): Promise<void> { unregisterStore(this.dir, this.bs.db); await this.bs.close() }
}
