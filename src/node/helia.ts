/**
 * Helia on a manager: Helia's bitswap (`@helia/bitswap`, the IPFS block exchange protocol
 * `/ipfs/bitswap/1.2.0`) over the node's own libp2p host, serving every committed ciphertext and
 * attachment as an IPFS block (CIDv1 raw sha2-256, src/records/cid.ts) to the peers the manager's
 * connection gater admits (peer-allow.ts): any IPFS implementation with bitswap that is admitted
 * fetches them by CID.
 *
 * The composition is the lightest that is still Helia's own code: `withBitswap` (Helia's bitswap
 * mixin, which builds Helia's `BitswapBlockBroker`) applied to the components a Helia node would
 * hand it — the node's libp2p host (so no second libp2p, no second peer id, the same gater), a
 * read-only view of the manager's blockstore, libp2p's logger and metrics, a sha2-256 hasher and no
 * content routers (peers ask the managers they are connected to; there is no DHT). Neither the
 * `helia` package nor `@helia/libp2p` (with its default transports, DHT, WebRTC…) is loaded.
 *
 * Only committed blocks are served: a CID whose digest no committed record names (a ciphertext of a
 * pending tx, anything else) is answered as missing. Every block served is read with its SHA-256
 * checked (`BlobRepair.read`: a corrupt copy is deleted, logged, repaired from another manager,
 * never sent). The manager's bitswap never asks for blocks itself: missing ciphertexts are still
 * fetched from the other managers with `/query/1 blobs`, and user nodes keep reading records over
 * `/query/1 record`, which is much faster than a bitswap round trip.
 */
import { withBitswap } from '@helia/bitswap'
import { BaseBlockstore } from 'blockstore-core'
import type { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import type { AbortOptions } from '@libp2p/interface'
import { blobHashOfCid, SHA2_256_CODE } from '../records/cid.js'
import type { PqmedHost } from './libp2p.js'

/** What the manager serves: committed ciphertexts, read with their hash checked. */
export interface ServedBlobs {
  /** True if a committed record names a ciphertext with this SHA-256. */
  committed: (hash: Uint8Array) => Promise<boolean>
  /** True if the store holds a copy (not yet checked). */
  stored: (hash: Uint8Array) => Promise<boolean>
  /** The stored copy checked against its hash; undefined if missing or corrupt (then deleted and repaired). */
  read: (hash: Uint8Array) => Promise<Uint8Array | undefined>
}

/** The bitswap protocol Helia speaks (and the only one served: 1.2.0 answers 1.0.0/1.1.0 peers too). */
export const BITSWAP_PROTOCOL = '/ipfs/bitswap/1.2.0'

/** Thrown for a block that is not served (the name is what Helia and libp2p match). */
class BlockNotFound extends Error {
  constructor (message: string) { super(message); this.name = 'NotFoundError' }
}

/**
 * The blocks bitswap may send: committed ciphertexts only, read-only. Writes are refused (the
 * manager's bitswap never stores a block: ciphertexts enter the store with their tx).
 */
export class CommittedBlockstore extends BaseBlockstore {
  private readonly blobs: ServedBlobs
  constructor (blobs: ServedBlobs) { super(); this.blobs = blobs }

  override async has (cid: CID): Promise<boolean> {
    const hash = blobHashOfCid(cid)
    return hash !== undefined && await this.blobs.committed(hash) && await this.blobs.stored(hash)
  }

  override async * get (cid: CID): AsyncGenerator<Uint8Array> {
    const hash = blobHashOfCid(cid)
    if (hash === undefined || !(await this.blobs.committed(hash))) throw new BlockNotFound(`${cid.toString()} is not a committed ciphertext`)
    const bytes = await this.blobs.read(hash)
    if (bytes === undefined) throw new BlockNotFound(`${cid.toString()} is not stored on this manager (or its copy was corrupt)`)
    yield bytes
  }

  override async put (cid: CID): Promise<CID> {
    throw new Error(`read-only: ${cid.toString()} not stored (ciphertexts are stored with their tx)`)
  }

  override async delete (cid: CID): Promise<void> {
    throw new Error(`read-only: ${cid.toString()} not deleted`)
  }
}

// `@helia/bitswap` types its argument with `@helia/libp2p`, a package it imports only for types;
// package.json's `overrides` keeps that package (and the WebRTC/React Native tree it pulls in) out
// of the install, so these types are spelled out here for what this file uses.
type HeliaForBitswap = Parameters<typeof withBitswap>[0]
type Routing = HeliaForBitswap['routing']
/** A Helia mixin as `withBitswap` registers it: started and stopped with the node. */
interface Mixin { start?: (helia: HeliaForBitswap) => Promise<void> | void, stop?: (helia: HeliaForBitswap) => Promise<void> | void }
interface Broker { name: string, stop?: () => Promise<void> | void }

/** No content routing: bitswap asks only the peers it is connected to. */
const NO_ROUTING: Routing = {
  provide: async () => {},
  cancelReprovide: async () => {},
  findProviders: async function * () {},
  put: async () => {},
  get: async () => { throw new BlockNotFound('no content routing on a pqmed manager') },
  findPeer: async () => { throw new BlockNotFound('no peer routing on a pqmed manager') },
  getClosestPeers: async function * () {}
}

const getHasher = (code: number, _options?: AbortOptions): typeof sha256 => {
  if (code !== SHA2_256_CODE) throw new Error(`hash 0x${code.toString(16)} not supported (ciphertext CIDs are sha2-256)`)
  return sha256
}

export interface HeliaServer {
  /** The bitswap protocol registered on the host. */
  protocol: string
  stop: () => Promise<void>
}

/**
 * Starts Helia's bitswap on `host`, serving `blobs`. Call after the host started; stop it before
 * the host stops.
 */
export async function startHeliaBitswap (host: PqmedHost, blobs: ServedBlobs): Promise<HeliaServer> {
  const mixins: Mixin[] = []
  const brokers: Broker[] = []
  // The part of a Helia node that `withBitswap` and Helia's BitswapBlockBroker use (its mixin and
  // block-broker registration, and the components bitswap takes: libp2p, blockstore, routing,
  // logger, metrics, getHasher); a full Helia node would also carry pins, a keychain, DNS and
  // garbage collection, none of which bitswap touches.
  const helia = {
    status: 'starting',
    libp2p: host,
    blockstore: new CommittedBlockstore(blobs),
    routing: NO_ROUTING,
    logger: host.logger,
    metrics: host.metrics,
    getHasher,
    addMixin: (m: Mixin) => { mixins.push(m) },
    hasBlockBroker: (name: string) => brokers.some((b) => b.name === name),
    addBlockBroker: (b: Broker) => { brokers.push(b) }
  }
  const h = helia as unknown as HeliaForBitswap
  withBitswap(h)
  for (const m of mixins) await m.start?.(h)
  helia.status = 'started'
  if (brokers.length === 0) throw new Error('Helia bitswap did not start (no block broker registered)')
  return {
    protocol: BITSWAP_PROTOCOL,
    stop: async () => {
      helia.status = 'stopping'
      for (const m of mixins) await m.stop?.(h)
      for (const b of brokers.splice(0)) await b.stop?.()
      helia.status = 'stopped'
    }
  }
}
