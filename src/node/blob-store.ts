/**
 * Content-addressed ciphertext store: the IPFS blockstore format (`blockstore-level`, CIDv1 with
 * the raw codec and a sha2-256 multihash), so the SHA-256 committed in a record tx *is* the CID's
 * digest and any IPFS/Helia node can serve the same blocks.
 */
import { LevelBlockstore } from 'blockstore-level'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { concatBytes, sha256 } from '../crypto/index.js'

const SHA2_256 = 0x12

/** CIDv1 (raw, sha2-256) for a blob whose SHA-256 is `hash`. */
export function blobCid (hash: Uint8Array): CID {
  return CID.createV1(raw.code, Digest.create(SHA2_256, hash))
}

export class BlobStore {
  private readonly bs: LevelBlockstore
  private constructor (bs: LevelBlockstore) { this.bs = bs }

  static async open (dir: string): Promise<BlobStore> {
    const bs = new LevelBlockstore(dir)
    await bs.open()
    return new BlobStore(bs)
  }

  /** Stores a blob under its SHA-256; returns the hash. */
  async put (bytes: Uint8Array): Promise<Uint8Array> {
    const hash = sha256(bytes)
    await this.bs.put(blobCid(hash), bytes)
    return hash
  }

  async has (hash: Uint8Array): Promise<boolean> { return await this.bs.has(blobCid(hash)) }

  async get (hash: Uint8Array): Promise<Uint8Array | undefined> {
    const cid = blobCid(hash)
    if (!(await this.bs.has(cid))) return undefined
    const chunks: Uint8Array[] = []
    for await (const c of this.bs.get(cid)) chunks.push(c)
    return chunks.length === 1 ? chunks[0] : concatBytes(...chunks)
  }

  /** Overwrites a stored blob with other bytes. Exists only so tests can simulate a corrupted manager. */
  async corruptForTesting (hash: Uint8Array, bytes: Uint8Array): Promise<void> {
    await this.bs.put(blobCid(hash), bytes)
  }

  async close (): Promise<void> { await this.bs.close() }
}
