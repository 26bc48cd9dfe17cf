/**
 * The manager role: full chain, PBFT consensus, ciphertext store, searchable index, and the
 * status / sync / query / submit services that user nodes call.
 *
 * The consensus state machine (src/consensus) is driven here: events in, effects out, executed in
 * order, with every write-ahead-log record made durable before anything that follows it.
 */
import { join } from 'node:path'
import * as dagCbor from '@ipld/dag-cbor'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import {
  buildBlock, decodeBlock, decodeCertificate, encodeBlock, encodeTx, headerHash, indexUpdatesHash, validateBlock,
  MAX_BLOCK_BYTES, type Block, type CommitCertificate, type Tx
} from '../blocks/index.js'
import {
  Pbft, decodeMessage, headerPublishers, prePrepareSignBytes, decodeWalRecord, encodeMessage, encodeWalRecord, messageSignBytes, mlDsaSigner, mlDsaVerifier,
  type ConsensusEffect, type ConsensusEvent, type ConsensusMessage, type Value, type ValidateResult, type VerifierPort
} from '../consensus/index.js'
import { equalBytes, sha256, toHex, type PqBackend } from '../crypto/index.js'
import { authorizeGrant, verifyPatientSignature, verifyRecordTx } from '../records/index.js'
import { MemoryIndexStore, checkIndexUpdate, decodeSearchToken, serverSearch } from '../sse/index.js'
import type { BlobStore } from './blob-store.js'
import { decodeStoredRecord, type ChainStore } from './chain-store.js'
import type { Genesis } from './genesis.js'
import { protocols, topics } from './genesis.js'
import { pad } from './kv.js'
import type { PqmedHost } from './libp2p.js'
import { Mempool, claimName, claimsOf } from './mempool.js'
import {
  MAX_BLOBS_PER_REQUEST, MAX_BLOCKS_PER_REQUEST, MAX_FRAME_BYTES, MAX_HEADERS_PER_REQUEST, bytes, encodeCertifiedHeader, list, obj, uint
} from './messages.js'
import { ReqResp } from './reqresp.js'
import { decodeSubmission, validateSubmission, type Submission, type TxContext } from './validation/tx.js'
import type { Validation } from './validation/result.js'

export interface Logger {
  info: (msg: string) => void
  warn: (msg: string) => void
}

export interface ManagerOptions {
  host: PqmedHost
  genesis: Genesis
  /** This manager's index in `genesis.managers`. */
  self: number
  sigSecretKey: Uint8Array
  pq: PqBackend
  chain: ChainStore
  blobs: BlobStore
  log: Logger
  /** The node's data dir (named in errors about its stores). */
  dataDir?: string
  /** How long `submit` with `wait` waits for a commit before reporting failure. */
  commitTimeoutMs?: number
  /**
   * Fault injection for tests and research only. `unchecked-labels` makes this manager admit and,
   * when leader, propose record txs whose index labels are already committed (as a manager without
   * the label checks would); honest replicas must refuse such a proposal.
   * `equivocate` makes this manager, when leader,
   * send conflicting pre-prepares (two different blocks) to different halves of the managers.
   */
  byzantine?: Byzantine
}

export type Byzantine = 'equivocate' | 'unchecked-labels'

export class NodeError extends Error {
  readonly code: string
  readonly data?: unknown
  constructor (code: string, message: string, data?: unknown) { super(message); this.name = 'NodeError'; this.code = code; this.data = data }
}

export interface SubmitResult {
  status: 'committed' | 'pending'
  txHash: string
  height?: number
}

const WAL_PREFIX = 'wal/'
/** How long a record read waits for missing or corrupt ciphertexts to be fetched from other managers. */
const BLOB_REPAIR_WAIT_MS = 3000

function verdictResult (v: 'ACCEPT' | 'IGNORE' | 'REJECT'): TopicValidatorResult {
  return v === 'ACCEPT' ? TopicValidatorResult.Accept : v === 'IGNORE' ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
}

/** Each tx's hash (hex SHA-256 of its canonical encoding), computed once per block. */
function txKeys (block: Block): string[] {
  return block.txs.map((tx) => toHex(sha256(encodeTx(tx))))
}

/**
 * In-memory view of what is committed, rebuilt from the chain store at start.
 *
 * `conflict` checks everything `apply` (and `ChainStore.append`) assume of a block against what is
 * committed; `validateProposal` refuses a block for which it finds anything, so a committed block
 * always applies (docs/CONSENSUS.md, "A committed block always applies").
 */
class Committed {
  readonly records = new Set<string>()
  /** Doctor and owner ids of each committed record (hex id), to check grants synchronously. */
  readonly recordParties = new Map<string, { doctor: Uint8Array, owner: Uint8Array }>()
  /** Tx hash (hex SHA-256 of the encoded tx) → height it was committed at. */
  readonly txs = new Map<string, number>()
  readonly patients = new Map<string, Uint8Array>()
  readonly index = new MemoryIndexStore()

  hasLabel (label: Uint8Array): boolean { return this.index.get(label) !== undefined }

  /**
   * Why `block` cannot be applied on top of the committed state, or undefined if it can: a tx
   * committed already or twice in the block, a record id or patient committed already or twice, a
   * grant for a record that is not committed, an index label committed already or twice.
   */
  conflict (block: Block, opts: { labels?: boolean, keys?: string[] } = {}): string | undefined {
    const checkLabels = opts.labels !== false
    const keys = opts.keys ?? txKeys(block)
    const txs = new Set<string>()
    const records = new Set<string>()
    const patients = new Set<string>()
    const labels = new Set<string>()
    for (const [i, tx] of block.txs.entries()) {
      const at = `tx ${i}`
      const key = keys[i] as string
      if (this.txs.has(key) || txs.has(key)) return `${at}: tx ${key} is already committed or twice in the block`
      txs.add(key)
      if (tx.type === 'record') {
        const id = toHex(tx.recordId)
        if (this.records.has(id) || records.has(id)) return `${at}: record ${id} is already committed or twice in the block`
        records.add(id)
        for (const [j, u] of checkLabels ? tx.indexUpdates.entries() : []) {
          const l = toHex(u.label)
          const prior = this.index.get(u.label)
          if (prior !== undefined) return `${at} (record ${id}), index update ${j}: label ${l} is already committed at height ${prior.position.height} (position ${prior.position.index})`
          if (labels.has(l)) return `${at} (record ${id}), index update ${j}: label ${l} is written twice in the block`
          labels.add(l)
          try { checkIndexUpdate(u) } catch (err) { return `${at} (record ${id}), index update ${j}: ${(err as Error).message}` }
        }
      } else if (tx.type === 'patient') {
        const id = toHex(tx.patientId)
        if (this.patients.has(id) || patients.has(id)) return `${at}: patient ${id} is already enrolled or twice in the block`
        patients.add(id)
      } else if (!this.records.has(toHex(tx.recordId))) {
        return `${at}: grant for record ${toHex(tx.recordId)}, which is not committed`
      }
    }
    return undefined
  }

  apply (block: Block, keys: string[] = txKeys(block)): void {
    const h = block.header
    let pos = h.indexStart
    for (const [i, tx] of block.txs.entries()) {
      this.txs.set(keys[i] as string, h.height)
      if (tx.type === 'record') {
        this.records.add(toHex(tx.recordId))
        this.recordParties.set(toHex(tx.recordId), { doctor: tx.doctor, owner: tx.owner })
        for (const u of tx.indexUpdates) this.index.append(u, { height: h.height, index: pos++ })
      } else if (tx.type === 'patient') this.patients.set(toHex(tx.patientId), tx.sigPublicKey)
    }
  }
}

export class ManagerNode {
  readonly host: PqmedHost
  readonly genesis: Genesis
  readonly self: number
  readonly chain: ChainStore
  readonly blobs: BlobStore
  private readonly opts: ManagerOptions
  private readonly pq: PqBackend
  private readonly log: Logger
  private readonly topics: ReturnType<typeof topics>
  private readonly protos: ReturnType<typeof protocols>
  private readonly doctors = new Map<string, Uint8Array>()
  private readonly committed = new Committed()
  private readonly mempool = new Mempool()
  /** Tx hashes whose signatures this node has verified (gossip or RPC), so block validation need not repeat it. */
  private readonly verifiedTxs = new Set<string>()
  /** Submitters waiting for a tx (by hash): resolved with its height, or failed when it can no longer commit. */
  private readonly waiters = new Map<string, Array<{ done: (height: number) => void, fail: (err: NodeError) => void }>>()
  /** Ciphertext fetches in flight, by hash (hex). */
  private readonly blobFetches = new Map<string, Promise<void>>()
  private readonly services: ReqResp[] = []
  private readonly managerPeers: string[]
  private readonly verifier: VerifierPort
  private readonly pbft: Pbft
  private queue: Promise<void> = Promise.resolve()
  private walSeq = 0
  /** Events fed but not yet processed, and the one being processed (diagnostics). */
  private pendingEvents = 0
  private current = ''
  private timer: NodeJS.Timeout | undefined
  private timerAt = Infinity
  private readonly deadlines = new Set<number>()
  private syncing = false
  private stopped = false
  /** Hashes of proposals refused (each is logged once). */
  private readonly refused = new Set<string>()

  constructor (opts: ManagerOptions) {
    this.opts = opts
    this.host = opts.host
    this.genesis = opts.genesis
    this.self = opts.self
    this.chain = opts.chain
    this.blobs = opts.blobs
    this.pq = opts.pq
    this.log = opts.log
    this.topics = topics(opts.genesis.chainId)
    this.protos = protocols(opts.genesis.chainId)
    for (const d of opts.genesis.doctors) this.doctors.set(toHex(sha256(d.sigPublicKey)), d.sigPublicKey)
    this.managerPeers = opts.genesis.managers.map((m) => m.peerId)
    const keys = opts.genesis.managers.map((m) => m.sigPublicKey)
    this.verifier = mlDsaVerifier(this.pq, keys)
    const p = opts.genesis.params
    this.pbft = new Pbft(
      {
        chainId: opts.genesis.chainId,
        managers: keys.length,
        self: opts.self,
        head: { height: opts.chain.head.height, hash: opts.chain.head.hash },
        timing: { blockInterval: p.blockInterval, maxBlockRecords: p.maxBlockRecords, viewChangeTimeout: p.viewChangeTimeout, heartbeatInterval: p.heartbeatInterval }
      },
      { signer: mlDsaSigner(this.pq, opts.sigSecretKey), verifier: this.verifier, app: { validate: (h, v, parent) => this.checkProposal(h, v, parent) } }
    )
  }

  async start (): Promise<void> {
    // rebuild the in-memory view of the committed chain
    const where = join(this.opts.dataDir ?? '', 'chain')
    const inconsistent = (what: string): NodeError => new NodeError('STORE_INCONSISTENT',
      `the chain store${this.opts.dataDir !== undefined ? ` in ${where}` : ''} is inconsistent: ${what}. This manager refuses to start; ` +
      'move the data dir aside and let the manager sync the chain from its peers, or restore it from a backup')
    for (let h = 1; h <= this.chain.head.height; h++) {
      let b: Block | undefined
      try { b = await this.chain.block(h) } catch (err) { throw inconsistent(`block ${h} does not decode (${(err as Error).message})`) }
      if (b === undefined) throw inconsistent(`block ${h} is missing below the head at ${this.chain.head.height}`)
      if (b.header.height !== h) throw inconsistent(`the block stored at height ${h} has height ${b.header.height}`)
      const keys = txKeys(b)
      const why = this.committed.conflict(b, { keys })
      if (why !== undefined) throw inconsistent(`block ${h}, ${why}`)
      this.committed.apply(b, keys)
    }
    const pubsub = this.host.services.pubsub
    pubsub.topicValidators.set(this.topics.tx, async (_peer, msg) => await this.validateTxGossip(msg.data))
    pubsub.topicValidators.set(this.topics.consensus, (_peer, msg) => this.validateConsensusGossip(msg.data))
    pubsub.subscribe(this.topics.tx)
    pubsub.subscribe(this.topics.consensus)
    // Managers publish certified headers but do not subscribe to them: a subscribed manager sits
    // in every user node's headers mesh, so each user node would send every header back to the
    // managers (N × mesh-degree copies per block, all ignored). Publishing floods the header to
    // every subscribed peer (gossipsub floodPublish), i.e. every connected user node.

    const mk = (protocol: string, handler: (method: string, params: unknown) => Promise<unknown>): ReqResp =>
      new ReqResp(this.host, { protocol, maxBytes: MAX_FRAME_BYTES, timeoutMs: 10_000, handler: async (m, p) => await handler(m, p) })
    this.services.push(
      mk(this.protos.status, async () => ({ role: 'manager', self: this.self, height: this.chain.head.height, hash: this.chain.head.hash })),
      mk(this.protos.sync, async (m, p) => await this.serveSync(m, p)),
      mk(this.protos.query, async (m, p) => await this.serveQuery(m, p)),
      mk(this.protos.submit, async (m, p) => await this.serveSubmit(m, p))
    )
    for (const s of this.services) await s.start()

    const wal: ReturnType<typeof decodeWalRecord>[] = []
    for await (const [k, v] of this.chain.kv.range(WAL_PREFIX, WAL_PREFIX + '\xff')) {
      this.walSeq = Math.max(this.walSeq, parseInt(k.slice(WAL_PREFIX.length), 16) + 1)
      const r = decodeWalRecord(v)
      if (r.height > this.chain.head.height) wal.push(r)
    }
    this.feed({ type: 'restored', now: Date.now(), records: wal })
    this.feed({ type: 'start', now: Date.now() })
    await this.queue
    if (this.opts.byzantine !== undefined) this.log.warn(`FAULT INJECTION: this manager behaves byzantine (${this.opts.byzantine}); tests and research only`)
    this.log.info(`manager ${this.self} started at height ${this.chain.head.height} (${wal.length} WAL records restored)`)
  }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    const pubsub = this.host.services.pubsub
    for (const t of [this.topics.tx, this.topics.consensus]) { pubsub.unsubscribe(t); pubsub.topicValidators.delete(t) }
    for (const s of this.services) await s.stop()
    await this.queue.catch(() => {})
    for (const ws of this.waiters.values()) ws.length = 0
  }

  status (): { height: number, hash: Uint8Array, view: number, leader: number, mempool: number } {
    const s = this.pbft.status()
    return { height: this.chain.head.height, hash: this.chain.head.hash, view: s.view, leader: s.leader, mempool: this.mempool.size }
  }

  // ------------------------------------------------------------------------------------------
  // consensus driver

  private feed (e: ConsensusEvent): void {
    if (this.stopped) return
    this.pendingEvents++
    this.queue = this.queue.then(async () => {
      this.pendingEvents--
      if (this.stopped) return
      this.current = e.type
      await this.run(this.pbft.step(e))
      this.current = ''
    }).catch((err: Error) => { this.log.warn(`consensus driver error: ${err.stack ?? err.message}`) })
  }

  private async run (effects: ConsensusEffect[]): Promise<void> {
    for (const fx of effects) {
      if (this.stopped) return
      switch (fx.type) {
        case 'wal-append':
          await this.chain.kv.put(WAL_PREFIX + pad(this.walSeq++), encodeWalRecord(fx.record), true)
          break
        case 'broadcast':
          if (this.opts.byzantine === 'equivocate' && fx.msg.type === 'pre-prepare') this.equivocate(fx.msg)
          else this.publish(this.topics.consensus, encodeMessage(fx.msg))
          break
        case 'send':
          this.sendDirect(fx.to, fx.msg)
          break
        case 'build-proposal':
          this.feed({ type: 'proposal-built', now: Date.now(), height: fx.height, view: fx.view, value: this.buildProposal(fx.height, fx.view, fx.maxRecords) })
          break
        case 'commit':
          await this.onCommit(fx.value, fx.certificate)
          break
        case 'sync':
          this.background(this.syncBlocks(fx.fromHeight, fx.peers), 'block sync')
          break
        case 'schedule-tick':
          this.scheduleTick(fx.at)
          break
        case 'evidence':
          this.log.warn(`equivocation by manager ${fx.evidence.validator} at height ${fx.evidence.a.height}`)
          break
      }
    }
  }

  /**
   * Every deadline the state machine announced is kept until it has passed: the machine announces
   * each deadline once, so dropping a later one because an earlier timer was pending would stall it.
   */
  private scheduleTick (at: number): void {
    this.deadlines.add(at)
    this.armTimer()
  }

  private armTimer (): void {
    if (this.stopped || this.deadlines.size === 0) return
    const next = Math.min(...this.deadlines)
    if (this.timer !== undefined && this.timerAt <= next) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timerAt = next
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.timerAt = Infinity
      // Node timers may fire a millisecond before Date.now() reaches the deadline: never tick early.
      const now = Math.max(Date.now(), next)
      for (const d of this.deadlines) if (d <= now) this.deadlines.delete(d)
      this.feed({ type: 'tick', now })
      this.armTimer()
    }, Math.max(0, next - Date.now()))
  }

  /** Runs background work whose failure must be logged, never crash the process. */
  private background (work: Promise<void>, what: string): void {
    work.catch((err: Error) => { if (!this.stopped) this.log.warn(`${what} failed: ${err.message}`) })
  }

  private publish (topic: string, data: Uint8Array): void {
    this.host.services.pubsub.publish(topic, data).catch((err: Error) => { this.log.warn(`publish on ${topic} failed: ${err.message}`) })
  }

  private sendDirect (to: number, msg: ConsensusMessage): void {
    const peer = this.host.getConnections().find((c) => c.remotePeer.toString() === this.managerPeers[to])?.remotePeer
    const svc = this.services[1]
    if (peer === undefined || svc === undefined) return
    svc.request(peer, 'consensus', encodeMessage(msg), 5000).catch(() => {})
  }

  /** Byzantine fault injection: a second, conflicting block for the same (height, view). */
  private equivocate (msg: Extract<ConsensusMessage, { type: 'pre-prepare' }>): void {
    const block = decodeBlock(msg.value.bytes)
    const alt = buildBlock({ ...block.header, indexStart: block.header.indexStart, txs: block.txs, time: block.header.time + 1 })
    const altValue = { hash: headerHash(alt.header), bytes: encodeBlock(alt) }
    const altMsg = { ...msg, value: altValue, sig: this.pq.sign(prePrepareSignBytes(this.genesis.chainId, msg.height, msg.view, altValue.hash), this.opts.sigSecretKey) }
    this.log.warn(`byzantine: equivocating at height ${msg.height} view ${msg.view}`)
    for (let i = 0; i < this.genesis.managers.length; i++) {
      if (i !== this.self) this.sendDirect(i, i % 2 === 0 ? msg : altMsg)
    }
  }

  private buildProposal (height: number, view: number, maxRecords: number): Value | null {
    const head = this.chain.head
    if (height !== head.height + 1) return null
    // no two txs of the block may claim one label, record id or patient id (the mempool already
    // refuses such pairs; this keeps a block applicable whatever the mempool holds)
    const claimed = new Set<string>()
    const txs = this.mempool.take(maxRecords, MAX_BLOCK_BYTES - 256 * 1024, (s) => {
      if (!this.stillValid(s.tx)) return true
      const cs = claimsOf(s.tx)
      if (cs.some((c) => claimed.has(c))) return true
      for (const c of cs) claimed.add(c)
      return false
    })
    if (txs.length === 0) return null
    const block = buildBlock({
      chainId: this.genesis.chainId,
      height,
      prevHash: head.hash,
      time: Math.max(Date.now(), head.header.time),
      proposer: this.self,
      view,
      indexStart: head.indexNext,
      txs
    })
    return { hash: headerHash(block.header), bytes: encodeBlock(block) }
  }

  /** Whether a tx can still go into the next block (not committed meanwhile, no label committed meanwhile, dependencies present). */
  private stillValid (tx: Tx): boolean {
    if (this.committed.txs.has(toHex(sha256(encodeTx(tx))))) return false
    if (tx.type === 'record') {
      return !this.committed.records.has(toHex(tx.recordId)) &&
        (this.opts.byzantine === 'unchecked-labels' || !tx.indexUpdates.some((u) => this.committed.hasLabel(u.label)))
    }
    if (tx.type === 'patient') return !this.committed.patients.has(toHex(tx.patientId))
    return this.committed.records.has(toHex(tx.recordId))
  }

  /** `validateProposal`, logging each refused proposal once (an operator sees why a view changed). */
  private checkProposal (height: number, value: Value, parentHash: Uint8Array): ValidateResult {
    const r = this.validateProposal(height, value, parentHash)
    if (!r.ok && r.reason !== 'parent is not our head') { // (a pre-prepare for the next height can arrive before our commit)
      const id = toHex(value.hash)
      if (!this.refused.has(id)) {
        if (this.refused.size >= 256) this.refused.clear()
        this.refused.add(id)
        this.log.warn(`refused the proposal ${id.slice(0, 16)} for height ${height}: ${r.reason}`)
      }
    }
    return r
  }

  /** The app port: deterministic validation of a proposed block on top of `parentHash`. */
  private validateProposal (height: number, value: Value, parentHash: Uint8Array): ValidateResult {
    const head = this.chain.head
    let block: Block
    try { block = decodeBlock(value.bytes) } catch (err) { return { ok: false, reason: `undecodable block: ${(err as Error).message}` } }
    const h = block.header
    if (!equalBytes(headerHash(h), value.hash)) return { ok: false, reason: 'hash does not match header' }
    if (h.chainId !== this.genesis.chainId) return { ok: false, reason: 'wrong chain id' }
    if (h.height !== height) return { ok: false, reason: 'wrong height' }
    if (!equalBytes(h.prevHash, parentHash)) return { ok: false, reason: 'wrong parent' }
    if (!equalBytes(parentHash, head.hash)) return { ok: false, reason: 'parent is not our head' }
    if (h.indexStart !== head.indexNext) return { ok: false, reason: 'wrong indexStart' }
    if (h.time < head.header.time) return { ok: false, reason: 'time goes backwards' }
    if (h.proposer < 0 || h.proposer >= this.genesis.managers.length) return { ok: false, reason: 'unknown proposer' }
    const basic = validateBlock(block)
    if (!basic.ok) return { ok: false, reason: basic.reason }
    // everything applying the block needs, against the committed state (a committed block always applies)
    const keys = txKeys(block)
    const conflict = this.committed.conflict(block, { labels: this.opts.byzantine !== 'unchecked-labels', keys })
    if (conflict !== undefined) return { ok: false, reason: conflict }
    for (const [i, tx] of block.txs.entries()) {
      const key = keys[i] as string
      if (this.verifiedTxs.has(key)) continue
      if (tx.type === 'record') {
        const sig = verifyRecordTx(this.pq, (id) => this.doctors.get(toHex(id)), tx, indexUpdatesHash(tx.indexUpdates))
        if (!sig.ok) return { ok: false, reason: sig.code === 'UNREGISTERED_DOCTOR' ? 'unregistered doctor' : 'bad record signature' }
      } else if (tx.type === 'patient') {
        if (!equalBytes(sha256(tx.sigPublicKey), tx.patientId) || !verifyPatientSignature(this.pq, tx, tx.signature)) return { ok: false, reason: 'bad patient enrollment' }
      } else {
        // the record is committed (Committed.conflict); only its doctor or its owner may grant
        const parties = this.committed.recordParties.get(toHex(tx.recordId))
        if (parties === undefined) return { ok: false, reason: 'grant of an unknown record' }
        const auth = authorizeGrant(this.pq, tx, { recordId: tx.recordId, ...parties }, this.doctors.get(toHex(parties.doctor)))
        if (!auth.ok) return { ok: false, reason: `${auth.code}: ${auth.reason}` }
      }
      this.verifiedTxs.add(key)
    }
    return { ok: true }
  }

  private async onCommit (value: Value, cert: CommitCertificate): Promise<void> {
    const block = decodeBlock(value.bytes)
    const height = block.header.height
    // Checked before the block is made durable: validateProposal refused any block with a conflict,
    // so this fires only for a certified block adopted by sync that a Byzantine quorum signed.
    const keys = txKeys(block)
    const conflict = this.committed.conflict(block, { keys })
    if (conflict !== undefined) throw new NodeError('STORE_INCONSISTENT', `certified block ${height} cannot be applied: ${conflict}`)
    await this.chain.append(block, cert)
    this.committed.apply(block, keys)
    for (const key of keys) {
      this.mempool.removeKey(key)
      this.verifiedTxs.delete(key)
      const ws = this.waiters.get(key)
      if (ws !== undefined) { this.waiters.delete(key); for (const w of ws) w.done(height) }
    }
    this.mempool.prune((s) => {
      if (this.stillValid(s.tx)) return false
      // another tx took its record id or an index label: tell its waiting submitter now, truthfully
      const key = Mempool.key(s.txBytes)
      const ws = this.waiters.get(key)
      if (ws !== undefined && !this.committed.txs.has(key)) {
        this.waiters.delete(key)
        const err = s.tx.type === 'record' && this.committed.records.has(toHex(s.tx.recordId))
          ? new NodeError('DUPLICATE', `record ${toHex(s.tx.recordId)} was committed by another tx at height ${height}; tx ${key} was dropped`)
          : new NodeError('DUPLICATE_LABEL', `tx ${key} was dropped: another tx committed at height ${height} wrote one of its index labels (the submitting client's counters were behind; recover them and rebuild the record)`)
        for (const w of ws) w.fail(err)
      }
      return true
    })
    // drop WAL records of decided heights
    for await (const [k, v] of this.chain.kv.range(WAL_PREFIX, WAL_PREFIX + '\xff')) {
      if (decodeWalRecord(v).height <= height) await this.chain.kv.del(k)
    }
    if (headerPublishers(height, cert.view, this.genesis.managers.length).includes(this.self)) {
      this.publish(this.topics.headers, encodeCertifiedHeader(block.header, cert))
    }
    this.feed({ type: 'mempool', now: Date.now(), size: this.mempool.size })
    this.background(this.repairBlobs(block), 'ciphertext repair')
  }

  /** Fetches ciphertexts of committed records that did not reach this manager by gossip. */
  private async repairBlobs (block: Block): Promise<void> {
    const missing: Uint8Array[] = []
    for (const tx of block.txs) {
      if (tx.type !== 'record') continue
      for (const h of [...tx.fields, ...tx.attachments]) if (!(await this.blobs.has(h))) missing.push(h)
    }
    await this.fetchBlobs(missing)
  }

  /**
   * Fetches these ciphertexts from the other managers (only bytes that hash to a wanted hash are
   * stored). A hash already being fetched is not asked for twice: the caller waits for that fetch.
   */
  private async fetchBlobs (hashes: Uint8Array[]): Promise<void> {
    const waits: Array<Promise<void>> = []
    const fresh: Uint8Array[] = []
    for (const h of hashes) {
      const inFlight = this.blobFetches.get(toHex(h))
      if (inFlight !== undefined) waits.push(inFlight)
      else if (!fresh.some((f) => equalBytes(f, h))) fresh.push(h)
    }
    if (fresh.length > 0) {
      const p: Promise<void> = this.fetchFromManagers(fresh).finally(() => {
        for (const h of fresh) if (this.blobFetches.get(toHex(h)) === p) this.blobFetches.delete(toHex(h))
      })
      for (const h of fresh) this.blobFetches.set(toHex(h), p)
      waits.push(p)
    }
    await Promise.all(waits)
  }

  private async fetchFromManagers (missing: Uint8Array[]): Promise<void> {
    for (let i = 0; i < missing.length && !this.stopped; i += MAX_BLOBS_PER_REQUEST) {
      const want = missing.slice(i, i + MAX_BLOBS_PER_REQUEST)
      for (const peer of this.otherManagers()) {
        try {
          const got = await this.services[2]?.request(peer, 'blobs', { hashes: want })
          const arr = Array.isArray(got) ? got : []
          let ok = 0
          for (const b of arr) {
            if (b instanceof Uint8Array && want.some((h) => equalBytes(h, sha256(b)))) { await this.blobs.put(b); ok++ }
          }
          if (ok === want.length) break
        } catch { // try the next manager
        }
      }
    }
  }

  /**
   * This manager's copy of a ciphertext, checked against its hash (`BlobStore.read`). A corrupt
   * copy is never returned: the store has deleted it; this logs which hash and which record, and
   * fetches a good copy from the other managers in the background.
   */
  private async readBlob (hash: Uint8Array, recordId?: Uint8Array): Promise<Uint8Array | undefined> {
    const r = await this.blobs.read(hash)
    if (r.status === 'ok') return r.bytes
    if (r.status === 'corrupt') {
      const rid = recordId ?? (await this.chain.blobOwner(hash))?.recordId
      const what = `ciphertext ${toHex(hash)} of record ${rid === undefined ? '(none committed)' : toHex(rid)}`
      this.log.warn(`corrupt ${what}: the stored copy hashes to ${toHex(r.actual)}; deleted it, fetching a good copy from the other managers`)
      this.background(this.fetchBlobs([hash]).then(async () => {
        if (await this.blobs.has(hash)) this.log.info(`repaired ${what} from another manager`)
        else this.log.warn(`${what} not repaired yet: no other manager served a good copy`)
      }), 'ciphertext repair')
    }
    return undefined
  }

  private otherManagers (): Array<ReturnType<PqmedHost['getConnections']>[number]['remotePeer']> {
    const out: Array<ReturnType<PqmedHost['getConnections']>[number]['remotePeer']> = []
    for (const c of this.host.getConnections()) {
      const id = c.remotePeer.toString()
      if (id !== this.managerPeers[this.self] && this.managerPeers.includes(id) && !out.some((p) => p.toString() === id)) out.push(c.remotePeer)
    }
    return out
  }

  private async syncBlocks (fromHeight: number, peers: number[]): Promise<void> {
    if (this.syncing) return
    this.syncing = true
    try {
      const order = [...peers.map((i) => this.managerPeers[i]), ...this.managerPeers]
      const conns = this.otherManagers()
      let from = Math.max(fromHeight, this.chain.head.height + 1)
      for (const id of new Set(order)) {
        const peer = conns.find((p) => p.toString() === id)
        if (peer === undefined) continue
        for (;;) {
          let res: unknown
          try { res = await this.services[1]?.request(peer, 'blocks', { from, count: MAX_BLOCKS_PER_REQUEST }) } catch { break }
          const items = Array.isArray(res) ? res : []
          if (items.length === 0) break
          for (const it of items) {
            const o = obj(it, 'block item')
            const blockBytes = bytes(o.block, 'block')
            const cert = decodeCertificate(bytes(o.cert, 'cert'))
            const block = decodeBlock(blockBytes)
            this.feed({ type: 'sync-block', now: Date.now(), value: { hash: headerHash(block.header), bytes: blockBytes }, certificate: cert })
            from = block.header.height + 1
          }
          await this.queue
          if (this.chain.head.height < from - 1) break // not adopted: try another peer
        }
      }
    } finally {
      this.syncing = false
    }
  }

  // ------------------------------------------------------------------------------------------
  // gossip: all processing happens in the topic validators; an accepted message is already handled

  private validateConsensusGossip (data: Uint8Array): TopicValidatorResult {
    let msg: ConsensusMessage
    try { msg = decodeMessage(data, { maxManagers: this.genesis.managers.length, maxValueBytes: MAX_BLOCK_BYTES, maxMessageBytes: 2 * MAX_BLOCK_BYTES }) } catch { return TopicValidatorResult.Reject }
    if (msg.from < 0 || msg.from >= this.genesis.managers.length) return TopicValidatorResult.Reject
    if (!this.verifier.verify(msg.from, messageSignBytes(this.genesis.chainId, msg), msg.sig)) return TopicValidatorResult.Reject
    if (msg.height < this.chain.head.height) return TopicValidatorResult.Ignore
    this.feed({ type: 'message', now: Date.now(), msg })
    return TopicValidatorResult.Accept
  }

  private txContext (): TxContext {
    return {
      verifier: this.pq,
      doctorKey: (id) => this.doctors.get(toHex(id)),
      recordCommitted: async (id) => this.committed.records.has(toHex(id)),
      committedRecord: async (id) => {
        const raw = await this.chain.recordRaw(id)
        return raw === undefined ? undefined : decodeStoredRecord(raw).tx
      },
      patientKey: async (id) => this.committed.patients.get(toHex(id)),
      txCommitted: async (b) => this.committed.txs.has(toHex(sha256(b))),
      labelCommitted: async (label) => this.opts.byzantine !== 'unchecked-labels' && this.committed.hasLabel(label)
    }
  }

  private async validateTxGossip (data: Uint8Array): Promise<TopicValidatorResult> {
    const d = decodeSubmission(data)
    if (d.verdict !== 'ACCEPT') return verdictResult(d.verdict)
    if (this.mempool.has(d.value.txBytes)) return TopicValidatorResult.Ignore
    const v = await validateSubmission(d.value, this.txContext())
    if (v.verdict !== 'ACCEPT') return verdictResult(v.verdict)
    // a label written by another pending tx: first come, first served (no penalty, it may be an honest race)
    try { await this.admit(v.value) } catch { return TopicValidatorResult.Ignore }
    return TopicValidatorResult.Accept
  }

  /**
   * Stores a validated submission's ciphertexts and puts it in the mempool. Refuses, before
   * storing anything, a tx that claims an index label (DUPLICATE_LABEL), record id or patient id
   * (DUPLICATE) that another pending tx claims.
   */
  private async admit (s: Submission): Promise<boolean> {
    const key = Mempool.key(s.txBytes)
    if (this.mempool.hasKey(key)) return false
    const conflict = this.mempool.conflict(s.tx, key)
    if (conflict?.startsWith('l:') === true) {
      throw new NodeError('DUPLICATE_LABEL', `${claimName(conflict)} is already written by a pending tx: the submitting client's index counters are behind (recover them from the node and rebuild the record); nothing was stored`)
    }
    if (conflict !== undefined) throw new NodeError('DUPLICATE', `${claimName(conflict)} is already claimed by a pending tx (a second record or enrollment with the same id is refused; nothing was stored)`)
    for (const b of s.blobs) await this.blobs.put(b)
    const added = this.mempool.add(s)
    this.verifiedTxs.add(key)
    if (added) this.feed({ type: 'mempool', now: Date.now(), size: this.mempool.size })
    return added
  }

  // ------------------------------------------------------------------------------------------
  // local API (used by the RPC backend and by the submit protocol)

  /**
   * Validates and admits a submission, gossips it to the other managers, and (with `wait`) waits
   * until it is committed. Resubmitting a pending tx is harmless (it is not duplicated); a replay
   * of a committed tx is refused with `DUPLICATE` (its data says it is committed). Throws
   * NodeError with the validation code on a rejected submission, and `NOT_COMMITTED` on timeout.
   */
  async submit (data: Uint8Array, wait: boolean): Promise<SubmitResult> {
    const d = decodeSubmission(data)
    if (d.verdict !== 'ACCEPT') throw new NodeError(d.code, d.reason)
    const key = Mempool.key(d.value.txBytes)
    const v: Validation<Submission> = await validateSubmission(d.value, this.txContext())
    if (v.verdict !== 'ACCEPT') {
      if (v.code === 'DUPLICATE' && this.committed.txs.has(key)) {
        // a replay of a committed tx: refused, but the submitter learns that its tx is committed
        throw new NodeError('DUPLICATE', `tx ${key} is already committed at height ${String(this.committed.txs.get(key))} (a replay is refused; nothing was stored)`, { txHash: key, committed: true, height: this.committed.txs.get(key) })
      }
      throw new NodeError(v.code, v.reason)
    }
    const pending = wait ? this.waitFor(key) : undefined
    try {
      await this.admit(v.value)
    } catch (err) {
      pending?.catch(() => {}) // times out unused
      throw err instanceof NodeError ? err : new NodeError((err as { code?: string }).code ?? 'INTERNAL', (err as Error).message)
    }
    this.publish(this.topics.tx, data)
    if (pending === undefined) return { status: 'pending', txHash: key }
    const height = await pending
    return { status: 'committed', txHash: key, height }
  }

  private async waitFor (key: string): Promise<number> {
    const timeout = this.opts.commitTimeoutMs ?? 30_000
    return await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => {
        const ws = this.waiters.get(key)
        if (ws !== undefined) { const i = ws.indexOf(w); if (i >= 0) ws.splice(i, 1) }
        // never report a committed tx as not committed
        const committedAt = this.committed.txs.get(key)
        if (committedAt !== undefined) { resolve(committedAt); return }
        reject(new NodeError('NOT_COMMITTED', `tx ${key} not committed within ${timeout} ms; it stays in the mempool and resubmitting is safe`))
      }, timeout)
      const w = { done: (h: number): void => { clearTimeout(t); resolve(h) }, fail: (err: NodeError): void => { clearTimeout(t); reject(err) } }
      const ws = this.waiters.get(key) ?? []
      ws.push(w)
      this.waiters.set(key, ws)
    })
  }

  /** A committed record with its inclusion proof and ciphertexts (this manager's own store). */
  async getRecord (recordId: Uint8Array): Promise<{ stored: Uint8Array, blobs: Uint8Array[] } | undefined> {
    const stored = await this.chain.recordRaw(recordId)
    if (stored === undefined) return undefined
    const rec = decodeStoredRecord(stored)
    const tx = rec.tx
    if (tx.type !== 'record') return undefined
    const hashes = [...tx.fields, ...tx.attachments]
    const blobs: Array<Uint8Array | undefined> = []
    for (const h of hashes) blobs.push(await this.readBlob(h, recordId))
    // missing (not yet fetched after a sync) or corrupt (deleted by readBlob): fetch from the other
    // managers and wait briefly before answering BLOB_MISSING
    const deadline = Date.now() + BLOB_REPAIR_WAIT_MS
    for (;;) {
      const missing = hashes.filter((_, i) => blobs[i] === undefined)
      if (missing.length === 0 || this.stopped || Date.now() >= deadline) break
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        this.fetchBlobs(missing).catch(() => {}),
        new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(0, deadline - Date.now())) })
      ])
      clearTimeout(timer)
      for (let i = 0; i < hashes.length; i++) if (blobs[i] === undefined) blobs[i] = await this.blobs.get(hashes[i] as Uint8Array)
      if (blobs.some((b) => b === undefined)) await new Promise((resolve) => setTimeout(resolve, Math.min(200, Math.max(0, deadline - Date.now()))))
    }
    const out: Uint8Array[] = []
    for (let i = 0; i < hashes.length; i++) {
      const b = blobs[i]
      if (b === undefined) throw new NodeError('BLOB_MISSING', `ciphertext ${toHex(hashes[i] as Uint8Array)} not (yet) stored on this manager`)
      out.push(b)
    }
    return { stored, blobs: out }
  }

  /** Runs a search token against the committed index; each entry comes with its inclusion proof. */
  async search (token: Uint8Array): Promise<Uint8Array[]> {
    let entries
    try { entries = serverSearch(this.committed.index, decodeSearchToken(token)) } catch (err) {
      throw new NodeError((err as { code?: string }).code ?? 'MALFORMED_TOKEN', (err as Error).message)
    }
    const raws = await this.chain.indexRaw(entries.map((e) => e.label))
    return raws.map((r, i) => {
      if (r === undefined) throw new NodeError('INTERNAL', 'index entry without stored proof')
      return dagCbor.encode({ label: entries[i]?.label, stored: r })
    })
  }

  // ------------------------------------------------------------------------------------------
  // request/response services

  private async serveSync (method: string, params: unknown): Promise<unknown> {
    const p = obj(params ?? {}, 'params')
    if (method === 'consensus') {
      const data = bytes(params, 'message')
      this.validateConsensusGossip(data)
      return null
    }
    if (method === 'headers') {
      const from = uint(p.from, 'from')
      const to = Math.min(uint(p.to, 'to'), this.chain.head.height, from + MAX_HEADERS_PER_REQUEST - 1)
      if (to < from) return { headers: [], cert: null }
      return { headers: await this.chain.headerBytes(from, to), cert: await this.chain.certBytes(to) ?? null }
    }
    if (method === 'blocks') {
      const from = uint(p.from, 'from')
      const count = Math.min(uint(p.count, 'count'), MAX_BLOCKS_PER_REQUEST)
      const out = []
      for (let h = from; h < from + count && h <= this.chain.head.height; h++) {
        const block = await this.chain.blockBytes(h)
        const cert = await this.chain.certBytes(h)
        if (block === undefined || cert === undefined) break
        out.push({ block, cert })
      }
      return out
    }
    throw new NodeError('UNKNOWN_METHOD', `sync: unknown method ${method}`)
  }

  private async serveQuery (method: string, params: unknown): Promise<unknown> {
    const p = obj(params ?? {}, 'params')
    switch (method) {
      case 'record': {
        const r = await this.getRecord(bytes(p.recordId, 'recordId', 32))
        return r ?? null
      }
      case 'search':
        return await this.search(bytes(p.token, 'token'))
      case 'patient':
        return await this.chain.patientRaw(bytes(p.patientId, 'patientId', 32)) ?? null
      case 'file': {
        const owner = await this.chain.blobOwner(bytes(p.hash, 'hash', 32))
        if (owner === undefined) return null
        return { field: owner.field, stored: await this.chain.recordRaw(owner.recordId) }
      }
      case 'grants':
        return await this.chain.grantsRaw(bytes(p.recordId, 'recordId', 32))
      case 'blobs': {
        const hashes = list(p.hashes, 'hashes', MAX_BLOBS_PER_REQUEST, (h) => bytes(h, 'hash', 32))
        const out: Uint8Array[] = []
        // a corrupt copy is never served (readBlob deletes it and repairs it in the background)
        for (const h of hashes) { const b = await this.readBlob(h); if (b !== undefined) out.push(b) }
        return out
      }
      default:
        throw new NodeError('UNKNOWN_METHOD', `query: unknown method ${method}`)
    }
  }

  private async serveSubmit (method: string, params: unknown): Promise<unknown> {
    if (method !== 'submit') throw new NodeError('UNKNOWN_METHOD', `submit: unknown method ${method}`)
    const p = obj(params, 'params')
    const data = bytes(p.submission, 'submission')
    const wait = p.wait === true
    return await this.submit(data, wait)
  }
}

