/**
 * Persistent state of a manager: the full chain (headers, blocks, commit certificates), a record
 * lookup, the searchable index and the consent log, all in one LevelDB under `--data-dir`.
 *
 * Inclusion proofs are computed once, when a block is committed, and stored beside each record
 * and each index entry, so a query is a single key lookup (no block re-hashing on the hot path).
 * A committed block is written with one atomic batch: after a crash the store is either before or
 * after the block, never in between.
 *
 * Each tx's bytes are stored once, in its record (`rec/`), enrollment (`pat/`) or grant (`gr/`)
 * entry; a block is stored as the list of those keys (`blc/`) and its bytes are reassembled on
 * read (`blockBytes`: the canonical encoding, byte for byte the block as agreed). Stores written
 * before this layout keep whole blocks under `blk/` and txs under `txh/<Merkle leaf hash>`: both
 * are still read.
 */
import * as dagCbor from '@ipld/dag-cbor'
import {
  blockIndexUpdates, decodeBlock, decodeTx, decodeCertificate, decodeHeader, encodeBlock, encodeCertificate, encodeHeader,
  encodeBlockFromParts, encodeTx, headerHash, indexLeaf, leafHash, merkleLevels, proofFromLevels,
  type Block, type CommitCertificate, type Header, type IndexUpdate, type Tx
} from '../blocks/index.js'
import { concatBytes, equalBytes, sha256, toHex } from '../crypto/index.js'
import { Kv, pad, type BatchOp, type KvOptions } from './kv.js'

export interface StoredRecord {
  tx: Tx
  height: number
  txIndex: number
  txCount: number
  proof: Uint8Array[]
}

export interface StoredIndexEntry {
  update: IndexUpdate
  height: number
  index: number
  position: number
  indexCount: number
  proof: Uint8Array[]
}

export interface Head {
  height: number
  hash: Uint8Array
  header: Header
  /** Chain-wide count of index updates committed so far (the next block's indexStart). */
  indexNext: number
  /** Committed records. */
  records: number
  /** Committed txs. */
  txs: number
}

const K = {
  head: 'meta/head',
  header: (h: number) => `hdr/${pad(h)}`,
  block: (h: number) => `blk/${pad(h)}`,
  /** A block as the keys of its txs' entries (this layout); `blk/` holds whole blocks of older stores. */
  blockTxs: (h: number) => `blc/${pad(h)}`,
  cert: (h: number) => `crt/${pad(h)}`,
  record: (id: Uint8Array) => `rec/${toHex(id)}`,
  label: (l: Uint8Array) => `idx/${toHex(l)}`,
  /** A block's index tree above the levels kept in its entries. */
  indexTree: (h: number) => `ixt/${pad(h)}`,
  patient: (id: Uint8Array) => `pat/${toHex(id)}`,
  grant: (rid: Uint8Array, h: number, i: number) => `gr/${toHex(rid)}/${pad(h)}/${pad(i)}`,
  /** Tx by its hash (hex SHA-256 of its bytes, as the mempool names it) → where it is committed. */
  tx: (key: string) => `txk/${key}`,
  /** A tx of a kind with no entry of its own, by position. */
  txAt: (h: number, i: number) => `txa/${pad(h)}/${pad(i)}`,
  /** Older stores: tx by its Merkle leaf hash. */
  txLeaf: (hash: string) => `txh/${hash}`,
  blob: (hash: Uint8Array) => `blob/${toHex(hash)}`
}

/** Audit-path levels kept in each index entry (the rest: once per block, `ixt/`, about 16 B per entry). */
const INDEX_LOWER = 2
/** Bytes of upper index-tree levels kept cached (recently searched blocks). */
const TREE_CACHE_BYTES = 16 << 20

/** `proofFromLevels` over levels stored as concatenated 32-byte hashes. */
function packedProof (levels: readonly Uint8Array[], index: number): Uint8Array[] {
  const path: Uint8Array[] = []
  let i = index
  for (let l = 0; l < levels.length - 1; l++) {
    const level = levels[l] as Uint8Array
    const sibling = i ^ 1
    if (sibling * 32 < level.length) path.push(level.subarray(sibling * 32, sibling * 32 + 32))
    i >>= 1
  }
  return path
}

interface CompactIndexEntry { v: Uint8Array, h: number, x: number, p: Uint8Array }

export class ChainStore {
  readonly kv: Kv
  private _head: Head

  private constructor (kv: Kv, head: Head) { this.kv = kv; this._head = head }

  /** Opens (or initializes with the genesis header at height 0) the store in `dir`. */
  static async open (dir: string, genesis: Header, kvOptions: KvOptions = {}): Promise<ChainStore> {
    const kv = await Kv.open(dir, kvOptions)
    const raw = await kv.get(K.head)
    let head: Head
    if (raw === undefined) {
      head = { height: 0, hash: headerHash(genesis), header: genesis, indexNext: 0, records: 0, txs: 0 }
      await kv.batch([
        { type: 'put', key: K.header(0), value: encodeHeader(genesis) },
        { type: 'put', key: K.head, value: dagCbor.encode({ height: 0, indexNext: 0, records: 0, txs: 0 }) }
      ])
    } else {
      const m = dagCbor.decode<{ height: number, indexNext: number, records?: number, txs?: number }>(raw)
      const hb = await kv.get(K.header(m.height))
      if (hb === undefined) throw new Error(`chain store corrupt: head header ${m.height} missing`)
      const header = decodeHeader(hb)
      const g = await kv.get(K.header(0))
      if (g === undefined || toHex(headerHash(decodeHeader(g))) !== toHex(headerHash(genesis))) {
        throw new Error('chain store belongs to a different genesis')
      }
      let { records, txs } = m
      if (records === undefined || txs === undefined) { // (a store written before the head counted them: counted once)
        records = 0
        txs = 0
        for await (const _ of kv.range('rec/', 'rec/\xff')) records++
        for await (const _ of kv.range('txh/', 'txh/\xff')) txs++
      }
      head = { height: m.height, hash: headerHash(header), header, indexNext: m.indexNext, records, txs }
    }
    return new ChainStore(kv, head)
  }

  get head (): Head { return this._head }

  /**
   * Appends a committed block with its certificate. The caller has checked the certificate and
   * that the block extends the head; this re-checks the link and height.
   *
   * `blockBytes`: the block's encoding as agreed, stored as is (else it is encoded here); each tx
   * is encoded with `encodeTx`, which returns the bytes a decoded or built tx came from. `extra`
   * goes into the same atomic batch (the WAL records this commit decides).
   */
  async append (block: Block, cert: CommitCertificate, opts: { blockBytes?: Uint8Array, extra?: BatchOp[] } = {}): Promise<void> {
    const h = block.header
    if (h.height !== this._head.height + 1) throw new Error(`append: expected height ${this._head.height + 1}, got ${h.height}`)
    if (toHex(h.prevHash) !== toHex(this._head.hash)) throw new Error(`append: block ${h.height} does not extend the head`)
    const ops: BatchOp[] = []
    ops.push({ type: 'put', key: K.header(h.height), value: encodeHeader(h) })
    ops.push({ type: 'put', key: K.cert(h.height), value: encodeCertificate(cert) })
    const encoded = block.txs.map((tx) => encodeTx(tx))
    const txLevels = merkleLevels(encoded.map(leafHash))
    const where: string[] = []
    let records = this._head.records
    block.txs.forEach((tx, i) => {
      ops.push({ type: 'put', key: K.tx(toHex(sha256(encoded[i] as Uint8Array))), value: dagCbor.encode({ height: h.height, txIndex: i }) })
      const proof = proofFromLevels(txLevels, i)
      const stored = dagCbor.encode({ tx: encoded[i], height: h.height, txIndex: i, txCount: block.txs.length, proof })
      let key: string
      if (tx.type === 'record') {
        key = K.record(tx.recordId)
        records++
        ;[...tx.fields, ...tx.attachments].forEach((hash, field) => {
          ops.push({ type: 'put', key: K.blob(hash), value: dagCbor.encode({ recordId: tx.recordId, field }) })
        })
      } else if (tx.type === 'patient') key = K.patient(tx.patientId)
      else if (tx.type === 'grant') key = K.grant(tx.recordId, h.height, i)
      else key = K.txAt(h.height, i)
      ops.push({ type: 'put', key, value: stored })
      where.push(key)
    })
    // the block's bytes are its header and its txs' bytes (stored above, once): kept as the list of
    // entries unless the agreed bytes are not that canonical encoding (then stored whole)
    const bytes = opts.blockBytes ?? encodeBlock(block)
    const fromParts = encodeBlockFromParts(h, encoded)
    if (equalBytes(fromParts, bytes)) ops.push({ type: 'put', key: K.blockTxs(h.height), value: dagCbor.encode(where) })
    else ops.push({ type: 'put', key: K.block(h.height), value: bytes })
    // index entries: value, position and the lower INDEX_LOWER levels of the audit path; the levels
    // above, shared by 2^INDEX_LOWER entries each, once per block (`ixt/`)
    const updates = blockIndexUpdates(block)
    const idxLevels = merkleLevels(updates.map((u) => leafHash(indexLeaf(u))))
    const lower = idxLevels.slice(0, INDEX_LOWER + 1)
    updates.forEach((u, i) => {
      ops.push({
        type: 'put',
        key: K.label(u.label),
        value: dagCbor.encode({ v: u.value, h: h.height, x: h.indexStart + i, p: concatBytes(...proofFromLevels(lower, i)) })
      })
    })
    if (updates.length > 0) {
      ops.push({ type: 'put', key: K.indexTree(h.height), value: dagCbor.encode({ s: h.indexStart, c: updates.length, u: idxLevels.slice(INDEX_LOWER).map((l) => concatBytes(...l)) }) })
    }
    const indexNext = h.indexStart + h.indexCount
    const txs = this._head.txs + block.txs.length
    ops.push({ type: 'put', key: K.head, value: dagCbor.encode({ height: h.height, indexNext, records, txs }) })
    if (opts.extra !== undefined) ops.push(...opts.extra)
    await this.kv.batch(ops, true)
    this._head = { height: h.height, hash: headerHash(h), header: h, indexNext, records, txs }
  }

  async header (height: number): Promise<Header | undefined> {
    const b = await this.kv.get(K.header(height))
    return b === undefined ? undefined : decodeHeader(b)
  }

  async headerBytes (from: number, to: number): Promise<Uint8Array[]> {
    const out: Uint8Array[] = []
    for await (const [, v] of this.kv.range(K.header(from), K.header(to + 1))) out.push(v)
    return out
  }

  /** Block reads (tests check that a start reads none). */
  readonly reads = { blocks: 0 }

  /** The block's bytes as agreed: reassembled from its header and its txs' entries (or stored whole). */
  async blockBytes (height: number): Promise<Uint8Array | undefined> {
    this.reads.blocks++
    const [list, whole] = await this.kv.getMany([K.blockTxs(height), K.block(height)])
    if (whole !== undefined) return whole
    if (list === undefined) return undefined
    const keys = dagCbor.decode<string[]>(list)
    const [hb, ...entries] = await this.kv.getMany([K.header(height), ...keys])
    if (hb === undefined) throw new Error(`chain store corrupt: header ${height} missing`)
    const txs = entries.map((e, i) => {
      if (e === undefined) throw new Error(`chain store corrupt: block ${height} tx ${i} (${keys[i] ?? ''}) missing`)
      return dagCbor.decode<{ tx: Uint8Array }>(e).tx
    })
    return encodeBlockFromParts(decodeHeader(hb), txs)
  }
  async block (height: number): Promise<Block | undefined> {
    const b = await this.blockBytes(height)
    return b === undefined ? undefined : decodeBlock(b)
  }

  async certBytes (height: number): Promise<Uint8Array | undefined> { return await this.kv.get(K.cert(height)) }
  async cert (height: number): Promise<CommitCertificate | undefined> {
    const b = await this.certBytes(height)
    return b === undefined ? undefined : decodeCertificate(b)
  }

  /** True if a tx with these exact encoded bytes is committed (replay detection). */
  async hasTx (encodedTx: Uint8Array): Promise<boolean> {
    return (await this.txLocation(toHex(sha256(encodedTx)), encodedTx)) !== undefined
  }

  /** `txLocation` for many txs at once (one read for this layout). */
  async txLocations (keys: string[], txBytes: Uint8Array[]): Promise<Array<{ height: number, txIndex: number } | undefined>> {
    const got = await this.kv.getMany(keys.map(K.tx))
    return await Promise.all(got.map(async (b, i) => b === undefined ? await this.txLocation(keys[i] as string, txBytes[i]) : dagCbor.decode<{ height: number, txIndex: number }>(b)))
  }

  /** Where the tx with this hash (hex SHA-256 of its bytes) is committed; `txBytes` lets a store of the older layout answer too. */
  async txLocation (key: string, txBytes?: Uint8Array): Promise<{ height: number, txIndex: number } | undefined> {
    const b = await this.kv.get(K.tx(key)) ?? (txBytes === undefined ? undefined : await this.kv.get(K.txLeaf(toHex(leafHash(txBytes)))))
    return b === undefined ? undefined : dagCbor.decode<{ height: number, txIndex: number }>(b)
  }

  async recordRaw (recordId: Uint8Array): Promise<Uint8Array | undefined> { return await this.kv.get(K.record(recordId)) }
  /** Which committed record field or attachment has a ciphertext with this SHA-256 (SVBE verify-file). */
  async blobOwner (hash: Uint8Array): Promise<{ recordId: Uint8Array, field: number } | undefined> {
    const b = await this.kv.get(K.blob(hash))
    return b === undefined ? undefined : dagCbor.decode<{ recordId: Uint8Array, field: number }>(b)
  }

  async patientRaw (patientId: Uint8Array): Promise<Uint8Array | undefined> { return await this.kv.get(K.patient(patientId)) }

  async grantsRaw (recordId: Uint8Array): Promise<Uint8Array[]> {
    const p = `gr/${toHex(recordId)}/`
    const out: Uint8Array[] = []
    for await (const [, v] of this.kv.range(p, p + '\xff', 1000)) out.push(v)
    return out
  }

  /**
   * The index entries with these labels as the query protocol sends them (dag-cbor `{ value,
   * height, index, position, indexCount, proof }`, `decodeStoredIndexEntry`), rebuilt from the
   * compact entry and its block's upper tree levels (cached for `TREE_CACHE` blocks).
   */
  async indexRaw (labels: Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    const raws = await this.kv.getMany(labels.map(K.label))
    const out: Array<Uint8Array | undefined> = []
    for (const raw of raws) {
      if (raw === undefined) { out.push(undefined); continue }
      const e = dagCbor.decode<CompactIndexEntry | { proof: unknown }>(raw)
      if ('proof' in e) { out.push(raw); continue } // (older layout: stored whole)
      const t = await this.indexTree(e.h)
      const index = e.x - t.s
      const proof: Uint8Array[] = []
      for (let o = 0; o < e.p.length; o += 32) proof.push(e.p.subarray(o, o + 32))
      proof.push(...packedProof(t.u, index >> INDEX_LOWER))
      out.push(dagCbor.encode({ value: e.v, height: e.h, index, position: e.x, indexCount: t.c, proof }))
    }
    return out
  }

  /** Where the index entries with these labels were committed (height, chain-wide position), if they are. */
  async indexPositions (labels: Uint8Array[]): Promise<Array<{ height: number, index: number } | undefined>> {
    return (await this.kv.getMany(labels.map(K.label))).map((raw) => {
      if (raw === undefined) return undefined
      const e = dagCbor.decode<Partial<CompactIndexEntry> & { height?: number, position?: number }>(raw)
      return { height: e.h ?? e.height ?? -1, index: e.x ?? e.position ?? -1 }
    })
  }

  /** Upper index-tree levels of recently read blocks, by height (least recently used first), and their bytes. */
  private readonly trees = new Map<number, { s: number, c: number, u: Uint8Array[], bytes: number }>()
  private treeBytes = 0
  private async indexTree (height: number): Promise<{ s: number, c: number, u: Uint8Array[] }> {
    let t = this.trees.get(height)
    if (t !== undefined) { this.trees.delete(height); this.trees.set(height, t); return t }
    const raw = await this.kv.get(K.indexTree(height))
    if (raw === undefined) throw new Error(`chain store corrupt: index tree of block ${height} missing`)
    const o = dagCbor.decode<{ s: number, c: number, u: Uint8Array[] }>(raw)
    t = { ...o, bytes: raw.length }
    this.trees.set(height, t)
    this.treeBytes += t.bytes
    while (this.treeBytes > TREE_CACHE_BYTES && this.trees.size > 1) {
      const [k, v] = this.trees.entries().next().value as [number, { bytes: number }]
      this.trees.delete(k)
      this.treeBytes -= v.bytes
    }
    return t
  }

  async close (): Promise<void> { await this.kv.close() }
}

export function decodeStoredRecord (raw: Uint8Array): StoredRecord {
  const o = dagCbor.decode<{ tx: Uint8Array, height: number, txIndex: number, txCount: number, proof: Uint8Array[] }>(raw)
  return { ...o, tx: decodeTx(o.tx) }
}

/** A stored index entry (`indexRaw`); `update.label` is empty (the label is the entry's key). */
export function decodeStoredIndexEntry (raw: Uint8Array): StoredIndexEntry {
  const o = dagCbor.decode<{ value: Uint8Array, height: number, index: number, position: number, indexCount: number, proof: Uint8Array[] }>(raw)
  return { update: { label: new Uint8Array(0), value: o.value }, height: o.height, index: o.index, position: o.position, indexCount: o.indexCount, proof: o.proof }
}
