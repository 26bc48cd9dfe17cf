/**
 * Persistent state of a manager: the full chain (headers, blocks, commit certificates), a record
 * lookup, the searchable index and the consent log, all in one LevelDB under `--data-dir`.
 *
 * Inclusion proofs are computed once, when a block is committed, and stored beside each record
 * and each index entry, so a query is a single key lookup (no block re-hashing on the hot path).
 * A committed block is written with one atomic batch: after a crash the store is either before or
 * after the block, never in between.
 */
import * as dagCbor from '@ipld/dag-cbor'
import {
  blockIndexUpdates, decodeBlock, decodeTx, decodeCertificate, decodeHeader, encodeBlock, encodeCertificate, encodeHeader,
  encodeTx, headerHash, indexLeaf, leafHash, merkleLevels, proofFromLevels,
  type Block, type CommitCertificate, type Header, type IndexUpdate, type Tx
} from '../blocks/index.js'
import { toHex } from '../crypto/index.js'
import { Kv, pad, type BatchOp } from './kv.js'

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
}

const K = {
  head: 'meta/head',
  header: (h: number) => `hdr/${pad(h)}`,
  block: (h: number) => `blk/${pad(h)}`,
  cert: (h: number) => `crt/${pad(h)}`,
  record: (id: Uint8Array) => `rec/${toHex(id)}`,
  label: (l: Uint8Array) => `idx/${toHex(l)}`,
  patient: (id: Uint8Array) => `pat/${toHex(id)}`,
  grant: (rid: Uint8Array, h: number, i: number) => `gr/${toHex(rid)}/${pad(h)}/${pad(i)}`,
  tx: (hash: string) => `txh/${hash}`,
  blob: (hash: Uint8Array) => `blob/${toHex(hash)}`
}

export class ChainStore {
  readonly kv: Kv
  private _head: Head

  private constructor (kv: Kv, head: Head) { this.kv = kv; this._head = head }

  /** Opens (or initializes with the genesis header at height 0) the store in `dir`. */
  static async open (dir: string, genesis: Header): Promise<ChainStore> {
    const kv = await Kv.open(dir)
    const raw = await kv.get(K.head)
    let head: Head
    if (raw === undefined) {
      head = { height: 0, hash: headerHash(genesis), header: genesis, indexNext: 0 }
      await kv.batch([
        { type: 'put', key: K.header(0), value: encodeHeader(genesis) },
        { type: 'put', key: K.head, value: dagCbor.encode({ height: 0, indexNext: 0 }) }
      ])
    } else {
      const m = dagCbor.decode<{ height: number, indexNext: number }>(raw)
      const hb = await kv.get(K.header(m.height))
      if (hb === undefined) throw new Error(`chain store corrupt: head header ${m.height} missing`)
      const header = decodeHeader(hb)
      const g = await kv.get(K.header(0))
      if (g === undefined || toHex(headerHash(decodeHeader(g))) !== toHex(headerHash(genesis))) {
        throw new Error('chain store belongs to a different genesis')
      }
      head = { height: m.height, hash: headerHash(header), header, indexNext: m.indexNext }
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
    ops.push({ type: 'put', key: K.block(h.height), value: opts.blockBytes ?? encodeBlock(block) })
    ops.push({ type: 'put', key: K.cert(h.height), value: encodeCertificate(cert) })
    const encoded = block.txs.map((tx) => encodeTx(tx))
    const txLevels = merkleLevels(encoded.map(leafHash))
    block.txs.forEach((tx, i) => {
      const ref = dagCbor.encode({ height: h.height, txIndex: i })
      ops.push({ type: 'put', key: K.tx(toHex(leafHash(encoded[i] as Uint8Array))), value: ref })
      const proof = proofFromLevels(txLevels, i)
      const stored = dagCbor.encode({ tx: encoded[i], height: h.height, txIndex: i, txCount: block.txs.length, proof })
      if (tx.type === 'record') {
        ops.push({ type: 'put', key: K.record(tx.recordId), value: stored })
        ;[...tx.fields, ...tx.attachments].forEach((hash, field) => {
          ops.push({ type: 'put', key: K.blob(hash), value: dagCbor.encode({ recordId: tx.recordId, field }) })
        })
      }
      else if (tx.type === 'patient') ops.push({ type: 'put', key: K.patient(tx.patientId), value: stored })
      else if (tx.type === 'grant') ops.push({ type: 'put', key: K.grant(tx.recordId, h.height, i), value: stored })
    })
    const updates = blockIndexUpdates(block)
    const idxLevels = merkleLevels(updates.map((u) => leafHash(indexLeaf(u))))
    updates.forEach((u, i) => {
      ops.push({
        type: 'put',
        key: K.label(u.label),
        value: dagCbor.encode({ value: u.value, height: h.height, index: i, position: h.indexStart + i, indexCount: updates.length, proof: proofFromLevels(idxLevels, i) })
      })
    })
    const indexNext = h.indexStart + h.indexCount
    ops.push({ type: 'put', key: K.head, value: dagCbor.encode({ height: h.height, indexNext }) })
    if (opts.extra !== undefined) ops.push(...opts.extra)
    await this.kv.batch(ops, true)
    this._head = { height: h.height, hash: headerHash(h), header: h, indexNext }
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

  async blockBytes (height: number): Promise<Uint8Array | undefined> { return await this.kv.get(K.block(height)) }
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
    return (await this.kv.get(K.tx(toHex(leafHash(encodedTx))))) !== undefined
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

  async indexRaw (labels: Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    return await this.kv.getMany(labels.map(K.label))
  }

  async close (): Promise<void> { await this.kv.close() }
}

export function decodeStoredRecord (raw: Uint8Array): StoredRecord {
  const o = dagCbor.decode<{ tx: Uint8Array, height: number, txIndex: number, txCount: number, proof: Uint8Array[] }>(raw)
  return { ...o, tx: decodeTx(o.tx) }
}
