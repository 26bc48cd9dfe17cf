/**
 * The user role: a light client. It stores only headers and the newest commit certificate, syncs
 * headers by range from managers (checking hash links and the certificate on the newest header of
 * each batch, not block contents), follows new certified headers over gossip, and verifies every
 * record and search result a manager sends against its own headers before answering its caller.
 * A manager whose answer fails verification is skipped and the next one is asked.
 *
 * The header chain (store, range sync, gossip, older certificates) is `light-headers.ts`; the choice
 * of manager to ask (rotation, distrust) is `light-peers.ts`; this file holds the verified reads.
 */
import * as dagCbor from '@ipld/dag-cbor'
import {
  decodeBlock, isGovernanceTx, validateBlock, type Block, headerHash, indexUpdatesHash, verifyIndexInclusion, verifyRecordInclusion, type CommitCertificate, type Header, type RecordTx
} from '../blocks/index.js'
import type { ConsortiumConfig } from '../blocks/index.js'
import { equalBytes, sha256, toHex, type PqBackend } from '../crypto/index.js'
import { verifyRecordTx } from '../records/index.js'
import { Registry } from './app/governance.js'
import { decodeStoredRecord, type StoredRecord } from './chain-store.js'
import type { Genesis } from './genesis.js'
import { genesisConsortium, protocols, topics } from './genesis.js'
import type { KvStore } from './kv.js'
import { HeaderChain } from './light-headers.js'
import { ManagerPicker } from './light-peers.js'
import type { PqmedHost } from './libp2p.js'
import { NodeError, ReqRespError, asNodeError } from './errors.js'
import type { Logger } from './log.js'
import type { SubmitResult } from './manager.js'
import { MAX_FRAME_BYTES, bytes, list, obj, uint } from './messages.js'
import { MAX_FIELD_NUMBER, MAX_RECORDS_PER_CALL, SEARCH_PAGE_DEFAULT } from '../rpc/openrpc.js'
import { ReqResp } from './reqresp.js'
import type { NodeMetrics } from './ops/node-metrics.js'
import type { PeerId } from '@libp2p/interface'

export interface LightOptions {
  host: PqmedHost
  genesis: Genesis
  genesisHeader: Header
  pq: PqBackend
  kv: KvStore
  log: Logger
  requestTimeoutMs?: number
  /** Metrics hooks (src/node/ops); none by default. */
  metrics?: NodeMetrics
}

/** A record as verified by the light client: each check is reported. */
export interface VerifiedRecord {
  tx: RecordTx
  height: number
  txIndex: number
  txCount: number
  proof: Uint8Array[]
  header: Header
  blobs: Uint8Array[]
  checks: { inclusion: boolean, ciphertexts: boolean, signature: boolean, certificate: boolean }
  /** The manager that answered. */
  source: string
}

export interface VerifiedIndexEntry {
  label: Uint8Array
  value: Uint8Array
  height: number
  position: number
}

/** One page of a verified search, with the index range of each height's certified header. */
export interface VerifiedSearchPage {
  entries: VerifiedIndexEntry[]
  /** `indexStart`/`indexCount` of our certified header at each height an entry is at, ascending. */
  headers: Array<{ height: number, indexStart: number, indexCount: number }>
  /** The cursor of the next page; absent on the last. */
  next?: number
}

/**
 * A record of a multi-record read, verified like `getRecord`; `fields` lists the ciphertexts in
 * `blobs` (null where the record has no such field).
 */
export interface VerifiedRecordFields extends Omit<VerifiedRecord, 'blobs'> {
  fields: number[]
  blobs: Array<Uint8Array | null>
}

export class LightNode {
  readonly host: PqmedHost
  readonly genesis: Genesis
  private readonly opts: LightOptions
  private readonly topics: ReturnType<typeof topics>
  private readonly status: ReqResp
  private readonly sync: ReqResp
  private readonly query: ReqResp
  private readonly submitSvc: ReqResp
  /** The governance registry rebuilt from verified governance txs up to `govHeight` (`registryAt`). */
  private gov: Registry
  private govHeight = 0
  private readonly picker: ManagerPicker
  private readonly chain: HeaderChain

  constructor (opts: LightOptions) {
    this.opts = opts
    this.host = opts.host
    this.genesis = opts.genesis
    this.topics = topics(opts.genesis.chainId)
    const protos = protocols(opts.genesis.chainId)
    const t = opts.requestTimeoutMs ?? 10_000
    const metrics = opts.metrics
    this.status = new ReqResp(this.host, { protocol: protos.status, maxBytes: 64 * 1024, timeoutMs: t, metrics })
    this.sync = new ReqResp(this.host, { protocol: protos.sync, maxBytes: MAX_FRAME_BYTES, timeoutMs: t, metrics })
    this.query = new ReqResp(this.host, { protocol: protos.query, maxBytes: MAX_FRAME_BYTES, timeoutMs: t, metrics })
    this.submitSvc = new ReqResp(this.host, { protocol: protos.submit, maxBytes: MAX_FRAME_BYTES, timeoutMs: 60_000, metrics })
    this.gov = new Registry(opts.genesis, opts.pq)
    this.picker = new ManagerPicker(this.host, opts.genesis, opts.log)
    this.chain = new HeaderChain({
      genesis: opts.genesis, genesisHeader: opts.genesisHeader, pq: opts.pq, kv: opts.kv, log: opts.log, peers: this.picker, status: this.status, sync: this.sync, metrics: opts.metrics
    })
  }

  get height (): number { return this.chain.height }
  get headerHashHex (): string { return toHex(this.chain.headHashBytes) }
  get certificate (): CommitCertificate | null { return this.chain.certificate }
  /**
   * How headers arrived: appended from gossip, or fetched by range sync (at start, on a gap, every
   * 5 s); and how many ML-DSA signatures of certificates were verified (repeats answered from memory).
   */
  /** The manager set certifying block `height`, as this node's verified headers name it (fetched by hash once). */
  async configAt (height: number): ReturnType<HeaderChain['configAt']> { return await this.chain.configAt(height) }
  get headerStats (): { gossip: number, synced: number, signatures: number } { return { ...this.chain.stats, signatures: this.chain.signaturesVerified } }

  async start (): Promise<void> {
    await this.chain.open()
    for (const s of [this.status, this.sync, this.query, this.submitSvc]) await s.start()
    const pubsub = this.host.services.pubsub
    pubsub.topicValidators.set(this.topics.headers, async (_p, msg) => await this.chain.onGossip(msg.data))
    pubsub.subscribe(this.topics.headers)
    this.opts.log.info(`user node started at height ${this.chain.height}`)
  }

  async stop (): Promise<void> {
    const pubsub = this.host.services.pubsub
    pubsub.unsubscribe(this.topics.headers)
    pubsub.topicValidators.delete(this.topics.headers)
    for (const s of [this.status, this.sync, this.query, this.submitSvc]) await s.stop()
    await this.chain.close()
  }

  /** Connected managers, trusted ones first, rotated so load spreads across them. */
  managers (): PeerId[] { return this.picker.managers() }

  private distrust (peer: PeerId, why: string): void { this.picker.distrust(peer, why) }

  /** Brings the header chain up to the highest height any connected manager reports. */
  async syncHeaders (): Promise<void> { await this.chain.sync() }

  /** Header at `height` from the local store, syncing first if it is beyond the head. */
  async header (height: number): Promise<Header | undefined> { return await this.chain.header(height) }

  /** The verified commit certificate of the block at `height` (null if no manager has a valid one). */
  async certificateAt (height: number): Promise<CommitCertificate | null> { return await this.chain.certificateAt(height) }

  // ------------------------------------------------------------------------------------------
  // verified reads

  /** Fetches a record from a manager and verifies it against our headers. Undefined if no manager knows it. */
  async getRecord (recordId: Uint8Array): Promise<VerifiedRecord | undefined> {
    let notFound = 0
    const managers = this.managers()
    if (managers.length === 0) throw new NodeError('NO_MANAGER', 'not connected to any manager')
    for (const peer of managers) {
      let res: unknown
      try { res = await this.query.request(peer, 'record', { recordId }) } catch { continue }
      if (res === null) { notFound++; continue }
      try {
        const o = obj(res, 'record response')
        const blobs = list(o.blobs, 'blobs', 100, (b) => bytes(b, 'blob'))
        const v = await this.verifyRecordAnswer(recordId, o.stored, blobs, undefined, peer)
        return { ...v, blobs }
      } catch (err) {
        this.distrust(peer, (err as Error).message)
      }
    }
    if (notFound > 0) return undefined
    throw new NodeError('UNVERIFIABLE', 'no manager returned a record that passed verification')
  }

  /**
   * Checks a manager's answer for one record (as `record` and `records` send it) against our
   * certified headers: the tx is the record asked for, its audit path verifies against the
   * header's `txRoot`, each ciphertext hashes to the hash the tx commits to (`fields`: which ones
   * `blobs` holds, in order; null where the record has no such field; all of them without), and the
   * doctor's ML-DSA signature verifies. Throws on any failure.
   */
  private async verifyRecordAnswer (recordId: Uint8Array, rawStored: unknown, blobs: Array<Uint8Array | null>, fields: readonly number[] | undefined, peer: PeerId): Promise<Omit<VerifiedRecord, 'blobs'>> {
    const stored = decodeStoredRecord(bytes(rawStored, 'stored'))
    const tx = stored.tx
    if (tx.type !== 'record' || !equalBytes(tx.recordId, recordId)) throw new Error('answer is not the requested record')
    const header = await this.header(stored.height)
    if (header === undefined) throw new Error(`no certified header at height ${stored.height}`)
    const inclusion = verifyRecordInclusion(header, { tx, txIndex: stored.txIndex, txCount: stored.txCount, height: stored.height, proof: stored.proof })
    const hashes = [...tx.fields, ...tx.attachments]
    const asked = fields ?? hashes.map((_, i) => i)
    const ciphertexts = blobs.length === asked.length && blobs.every((b, i) => {
      const h = hashes[asked[i] as number]
      return h === undefined ? b === null : b !== null && equalBytes(sha256(b), h)
    })
    const gov = this.gov.keyAt(tx.doctor, stored.height) === undefined ? await this.registryAt(stored.height) : this.gov
    const signature = verifyRecordTx(this.opts.pq, (id) => gov.keyAt(id, stored.height), tx, indexUpdatesHash(tx.indexUpdates)).ok
    const checks = { inclusion, ciphertexts, signature, certificate: true }
    if (!inclusion || !ciphertexts || !signature) throw new Error(`verification failed: ${JSON.stringify(checks)}`)
    return { tx, height: stored.height, txIndex: stored.txIndex, txCount: stored.txCount, proof: stored.proof, header, checks, source: peer.toString() }
  }

  /**
   * Many records in one request (`/query/1 records`), each verified as `getRecord` verifies one,
   * with only the ciphertexts of `fields` (all without). Ids a manager reports missing, leaves
   * out or answers wrongly are asked of the next manager (a wrong, extra or misplaced record
   * makes that manager distrusted); `missing` lists the ids no manager has. Throws
   * `UNVERIFIABLE` if some id got neither a verified record nor a "not committed" answer.
   */
  async getRecords (recordIds: readonly Uint8Array[], fields?: readonly number[]): Promise<{ records: Array<VerifiedRecordFields | undefined>, missing: Uint8Array[] }> {
    if (recordIds.length > MAX_RECORDS_PER_CALL) throw new NodeError('TOO_LARGE', `at most ${MAX_RECORDS_PER_CALL} record ids per request`)
    const managers = this.managers()
    if (managers.length === 0) throw new NodeError('NO_MANAGER', 'not connected to any manager')
    const records: Array<VerifiedRecordFields | undefined> = recordIds.map(() => undefined)
    const notFound = new Set<number>()
    let lastErr: Error | undefined
    for (const peer of managers) {
      let ask = recordIds.map((_, i) => i).filter((i) => records[i] === undefined)
      while (ask.length > 0) {
        let res: unknown
        try { res = await this.query.request(peer, 'records', fields === undefined ? { recordIds: ask.map((i) => recordIds[i]) } : { recordIds: ask.map((i) => recordIds[i]), fields }) } catch (err) {
          lastErr = err as Error
          break
        }
        const deferred: number[] = []
        let got = 0
        try {
          const items = list(res, 'records answer', ask.length, (x) => x)
          if (items.length !== ask.length) throw new Error(`answer has ${items.length} entries for ${ask.length} ids`)
          for (let k = 0; k < items.length; k++) {
            const i = ask[k] as number
            const item = items[k]
            if (item === null) { notFound.add(i); continue }
            if (item === 0) { deferred.push(i); continue }
            const o = obj(item, 'record entry')
            const blobs = list(o.blobs, 'blobs', MAX_FIELD_NUMBER + 1, (b) => b === null ? null : bytes(b, 'blob'))
            const v = await this.verifyRecordAnswer(recordIds[i] as Uint8Array, o.stored, blobs, fields, peer)
            const tx = v.tx as RecordTx
            records[i] = { ...v, fields: [...(fields ?? [...tx.fields, ...tx.attachments].map((_, f) => f))], blobs }
            got++
          }
        } catch (err) {
          lastErr = err as Error
          this.distrust(peer, `records: ${(err as Error).message}`)
          break
        }
        // left out for size: ask this manager again while it makes progress
        ask = got > 0 ? deferred : []
      }
      if (records.every((r) => r !== undefined)) break
    }
    const open = recordIds.map((_, i) => i).filter((i) => records[i] === undefined)
    const unanswered = open.filter((i) => !notFound.has(i))
    if (unanswered.length > 0) {
      throw new NodeError('UNVERIFIABLE', `no manager returned a verifiable answer for ${unanswered.length} of ${recordIds.length} records${lastErr !== undefined ? `: ${lastErr.message}` : ''}`)
    }
    return { records, missing: open.map((i) => recordIds[i] as Uint8Array) }
  }

  /**
   * Runs an encoded search token on a manager, one page (`limit` entries from `cursor`), and
   * verifies every returned entry's inclusion proof against our headers; the answer carries each
   * height's certified index range. Omissions are detected by the client (it knows its counters).
   */
  async search (token: Uint8Array, page: { cursor?: number, limit?: number } = {}): Promise<VerifiedSearchPage> {
    const managers = this.managers()
    if (managers.length === 0) throw new NodeError('NO_MANAGER', 'not connected to any manager')
    const limit = page.limit ?? SEARCH_PAGE_DEFAULT
    const params: Record<string, unknown> = { token, limit }
    if (page.cursor !== undefined) params.cursor = page.cursor
    let lastErr: Error | undefined
    for (const peer of managers) {
      let res: unknown
      try { res = await this.query.request(peer, 'search', params) } catch (err) {
        lastErr = err as Error
        if (err instanceof ReqRespError && (err.code === 'MALFORMED_TOKEN' || err.code === 'TOKEN_LIMIT')) throw new NodeError(err.code, err.message)
        continue
      }
      try {
        const o = obj(res, 'search answer')
        const next = o.next === undefined ? undefined : uint(o.next, 'next')
        if (next !== undefined && next <= (page.cursor ?? -1)) throw new Error('search answer does not advance its cursor')
        const items = list(o.entries, 'results', limit, (x) => {
          const o = obj(dagCbor.decode(bytes(x, 'entry')), 'entry')
          const label = bytes(o.label, 'label', 32)
          const s = obj(dagCbor.decode(bytes(o.stored, 'stored')), 'stored entry')
          return {
            update: { label, value: bytes(s.value, 'value') },
            height: uint(s.height, 'height'),
            index: uint(s.index, 'index'),
            position: uint(s.position, 'position'),
            indexCount: uint(s.indexCount, 'indexCount'),
            proof: list(s.proof, 'proof', 64, (p) => bytes(p, 'proof node', 32))
          }
        })
        const out: VerifiedIndexEntry[] = []
        const ranges = new Map<number, { height: number, indexStart: number, indexCount: number }>()
        for (const it of items) {
          const header = await this.header(it.height)
          if (header === undefined || !verifyIndexInclusion(header, it)) throw new Error(`index entry at position ${it.position} fails its inclusion proof`)
          out.push({ label: it.update.label, value: it.update.value, height: it.height, position: it.position })
          ranges.set(it.height, { height: it.height, indexStart: header.indexStart, indexCount: header.indexCount })
        }
        const headers = [...ranges.values()].sort((a, b) => a.height - b.height)
        return next === undefined ? { entries: out, headers } : { entries: out, headers, next }
      } catch (err) {
        lastErr = err as Error
        this.distrust(peer, (err as Error).message)
      }
    }
    throw new NodeError('UNVERIFIABLE', `no manager returned verifiable search results${lastErr !== undefined ? `: ${lastErr.message}` : ''}`)
  }

  /** Verifies a stored tx (tx, position, audit path) from a manager against our headers. */
  private async verifyStored (raw: Uint8Array): Promise<StoredRecord & { header: Header }> {
    const stored = decodeStoredRecord(raw)
    const header = await this.header(stored.height)
    if (header === undefined) throw new Error(`no certified header at height ${stored.height}`)
    if (!verifyRecordInclusion(header, { tx: stored.tx, txIndex: stored.txIndex, txCount: stored.txCount, height: stored.height, proof: stored.proof })) {
      throw new Error('inclusion proof does not verify')
    }
    return { ...stored, header }
  }

  /** Asks managers in turn until one gives an answer that `verify` accepts; `null` answers count as "not found". */
  private async askVerified<T> (method: string, params: unknown, verify: (res: unknown, peer: PeerId) => Promise<T>): Promise<T | undefined> {
    const managers = this.managers()
    if (managers.length === 0) throw new NodeError('NO_MANAGER', 'not connected to any manager')
    let notFound = 0
    for (const peer of managers) {
      let res: unknown
      try { res = await this.query.request(peer, method, params) } catch { continue }
      if (res === null) { notFound++; continue }
      try { return await verify(res, peer) } catch (err) { this.distrust(peer, (err as Error).message) }
    }
    if (notFound > 0) return undefined
    throw new NodeError('UNVERIFIABLE', `no manager returned a verifiable answer to ${method}`)
  }

  /**
   * The governance registry as of `height` (at least; never above our head), rebuilt from the
   * committed doctor and user-node txs a manager lists: each tx's audit path is checked against
   * our certified header, and each must pass the registry's own check (hospital signature,
   * ownership, transition) in chain order. A manager can omit txs (not detected: the headers do
   * not commit to the registry), not forge or alter one.
   */
  async registryAt (height: number): Promise<Registry> {
    if (height <= this.govHeight) return this.gov
    const to = Math.min(Math.max(height, this.chain.height), this.chain.height)
    const reg = await this.askVerified('governance', { to }, async (res) => {
      // each tx is checked against the hospitals of the manager set certifying its block (joins, departures, rotated keys)
      let config: ConsortiumConfig = genesisConsortium(this.genesis)
      const r = new Registry(this.genesis, this.opts.pq, (id) => config.managers.find((m) => equalBytes(m.hospitalId, id))?.sigPublicKey)
      let last = 0
      for (const raw of list(res, 'governance txs', 100_000, (x) => bytes(x, 'stored tx'))) {
        const v = await this.verifyStored(raw)
        if (!isGovernanceTx(v.tx) || v.height < last || v.height > to) throw new Error('answer holds a non-governance tx or is out of order')
        const c0 = await this.configAt(v.height)
        if (c0 === undefined) throw new Error(`the manager set of height ${v.height} is unknown`)
        config = c0
        const c = r.check(v.tx)
        if (!c.ok) throw new Error(`governance tx at height ${v.height} does not apply: ${c.reason}`)
        r.applyTx(v.tx, v.height)
        last = v.height
      }
      config = await this.configAt(to) ?? config
      return r
    })
    if (reg !== undefined && to >= this.govHeight) { this.gov = reg; this.govHeight = to }
    return this.gov
  }

  /** An enrolled patient's committed enrollment tx, verified. */
  async getPatient (patientId: Uint8Array): Promise<(StoredRecord & { header: Header }) | undefined> {
    return await this.askVerified('patient', { patientId }, async (res) => {
      const v = await this.verifyStored(bytes(res, 'stored'))
      if (v.tx.type !== 'patient' || !equalBytes(v.tx.patientId, patientId)) throw new Error('answer is not the requested patient')
      return v
    })
  }

  /** The committed grants of a record (the consent log), each verified. */
  async listGrants (recordId: Uint8Array): Promise<Array<StoredRecord & { header: Header }>> {
    return await this.askVerified('grants', { recordId }, async (res) => {
      const out = []
      for (const raw of list(res, 'grants', 1000, (x) => bytes(x, 'grant'))) {
        const v = await this.verifyStored(raw)
        if (v.tx.type !== 'grant' || !equalBytes(v.tx.recordId, recordId)) throw new Error('answer holds a grant of another record')
        out.push(v)
      }
      return out
    }) ?? []
  }

  /**
   * The committed key epochs above `since` (as many as one manager answer holds: ask again from the
   * last one while `latest` is above it), each verified (inclusion under our certified header,
   * a key-epoch tx, epochs consecutive from `since + 1`). A manager cannot forge an epoch but could
   * withhold the newest ones, so f + 1 managers are asked and the longest verified answer wins (at
   * least one of them is honest). `recipients` (the doctors a next epoch must be wrapped to) is
   * that manager's word, not verified here: the managers refuse an epoch wrapped to another set.
   */
  async getKeyEpochs (since: number): Promise<{ latest: number, epochs: Array<StoredRecord & { header: Header }>, recipients: Array<{ id: Uint8Array, kemPublicKey: Uint8Array }> }> {
    const managers = this.managers()
    if (managers.length === 0) throw new NodeError('NO_MANAGER', 'not connected to any manager')
    const want = Math.floor((this.genesis.managers.length - 1) / 3) + 1
    let best: { latest: number, epochs: Array<StoredRecord & { header: Header }>, recipients: Array<{ id: Uint8Array, kemPublicKey: Uint8Array }> } | undefined
    let answered = 0
    for (const peer of managers) {
      if (answered >= want) break
      let res: unknown
      try { res = await this.query.request(peer, 'keyEpochs', { since }) } catch { continue }
      try {
        const o = obj(res, 'key epochs answer')
        const epochs = []
        for (const raw of list(o.epochs, 'epochs', 10_000, (x) => bytes(x, 'epoch'))) {
          const v = await this.verifyStored(raw)
          if (v.tx.type !== 'key-epoch' || v.tx.epoch !== since + 1 + epochs.length) throw new Error('answer is not the consecutive key epochs asked for')
          epochs.push(v)
        }
        const recipients = list(o.recipients, 'recipients', 10_000, (x) => {
          const r = obj(x, 'recipient')
          return { id: bytes(r.id, 'id', 32), kemPublicKey: bytes(r.kemPublicKey, 'kemPublicKey', 1184) }
        })
        // the newest epoch: proven when the answer holds epochs above `since`, else the manager's word (capped at `since`);
        // an answer holds the epochs that fit its byte budget (MAX_KEY_EPOCHS_ANSWER_BYTES): when the manager says there
        // are more, `latest` is its word, and the asker continues from `since + epochs.length` (an empty answer ends it)
        const claimed = uint(o.latest, 'latest')
        const latest = epochs.length > 0 ? Math.max(since + epochs.length, claimed) : Math.min(since, claimed)
        answered++
        if (best === undefined || epochs.length > best.epochs.length) best = { latest, epochs, recipients }
      } catch (err) { this.distrust(peer, (err as Error).message) }
    }
    if (best === undefined) throw new NodeError('UNVERIFIABLE', 'no manager returned verifiable key epochs')
    return best
  }

  /** The committed record whose field (or attachment) ciphertext has SHA-256 `hash`, verified. */
  async findFile (hash: Uint8Array): Promise<{ stored: StoredRecord & { header: Header }, field: number } | undefined> {
    return await this.askVerified('file', { hash }, async (res) => {
      const o = obj(res, 'file answer')
      const field = uint(o.field, 'field')
      const v = await this.verifyStored(bytes(o.stored, 'stored'))
      if (v.tx.type !== 'record') throw new Error('answer is not a record')
      const h = [...v.tx.fields, ...v.tx.attachments][field]
      if (h === undefined || !equalBytes(h, hash)) throw new Error('the record does not commit to this file')
      return { stored: v, field }
    })
  }

  /** A full block from a manager, checked against our certified header at that height. */
  async getBlock (height: number): Promise<Block | undefined> {
    const header = await this.header(height)
    if (header === undefined) return undefined
    for (const peer of this.managers()) {
      try {
        const items = await this.sync.request(peer, 'blocks', { from: height, count: 1 })
        const first = Array.isArray(items) ? items[0] : undefined
        if (first === undefined) continue
        const block = decodeBlock(bytes(obj(first, 'block item').block, 'block'))
        if (!equalBytes(headerHash(block.header), headerHash(header)) || !validateBlock(block).ok) throw new Error('block does not match our certified header')
        return block
      } catch (err) { this.distrust(peer, (err as Error).message) }
    }
    throw new NodeError('UNVERIFIABLE', `no manager returned block ${height}`)
  }

  /** Forwards a submission to a manager (the first that accepts it), optionally waiting for its commit. */
  async submit (data: Uint8Array, wait: boolean): Promise<SubmitResult> {
    const managers = this.managers()
    if (managers.length === 0) throw new NodeError('NO_MANAGER', 'not connected to any manager')
    let lastErr: Error | undefined
    for (const peer of managers) {
      try {
        const r = obj(await this.submitSvc.request(peer, 'submit', { submission: data, wait }), 'submit result') as unknown as SubmitResult
        return r
      } catch (err) {
        const e = asNodeError(err)
        const code = e.code
        // Our earlier attempt reached a manager that failed before answering, and meanwhile the tx
        // got committed: for this caller that is success, not a replay.
        const detail = e.data as { committed?: unknown, txHash?: unknown } | undefined
        if (lastErr !== undefined && code === 'DUPLICATE' && detail?.committed === true && typeof detail.txHash === 'string') {
          return { status: 'committed', txHash: detail.txHash }
        }
        // a validation verdict is final: every honest manager gives the same one
        // (with the manager's data: a replay's `committed: true` tells the client its tx is committed)
        if (!['TIMEOUT', 'TRANSPORT', 'UNREACHABLE', 'STOPPED', 'BUSY', 'INTERNAL'].includes(code)) throw new NodeError(code, e.message, detail)
        lastErr = err as Error
      }
    }
    throw new NodeError('NO_MANAGER', `no manager accepted the submission${lastErr !== undefined ? `: ${lastErr.message}` : ''}`)
  }
}
