/**
 * The manager role: full chain, PBFT consensus, ciphertext store, searchable index, and the
 * status / sync / query / submit services that user nodes call. This file wires the parts along
 * the data flow (docs/ARCHITECTURE.md, "Inside a manager"):
 *
 *   gossip /tx/1 ──► validation/tx ──► app (mempool) ◄── handlers/submit (user nodes)
 *   gossip /consensus/1, /sync/1 consensus ──► validation/consensus ──► (missing tx bodies fetched
 *     from the sender, /sync/1 txs) ──► driver ──► PBFT
 *   driver effects: wal · broadcast/send (manager-net) · build/validate/commit (app) · block-sync · ticker
 *   commit ──► chain store (one batch, decided WAL records dropped in it) ──► waiters, headers gossip, blob-repair
 */
import * as dagCbor from '@ipld/dag-cbor'
import { MAX_VALIDATORS, configHash, configKeys, encodeConsortiumConfig, hospitalIdOf, managerIndex, type CommitCertificate, type ConsortiumConfig } from '../blocks/index.js'
import { EpochPbft, encodeMessage, headerPublishers, mlDsaSigner, mlDsaVerifier, type ConsensusEvent, type ConsensusMessage, type Epoch, type Value, type ValidateResult } from '../consensus/index.js'
import { equalBytes, toHex, type PqBackend } from '../crypto/index.js'
import { SEARCH_PAGE_DEFAULT } from '../rpc/openrpc.js'
import { SseError, decodeSearchToken, serverSearchPageAsync } from '../sse/index.js'
import { Application } from './app/application.js'
import { DiskIndexStore } from './app/index-store.js'
import { Waiters } from './app/waiters.js'
import type { Registry } from './app/governance.js'
import type { ActiveDoctor, KeyEpochs } from './app/key-epochs.js'
import { BlobRepair } from './blob-repair.js'
import type { BlobStore } from './blob-store.js'
import { BlockSync } from './block-sync.js'
import { decodeStoredRecord, type ChainStore } from './chain-store.js'
import { ConsensusDriver } from './driver/driver.js'
import { VerifyOnce } from './driver/verifier.js'
import { Wal } from './driver/wal.js'
import { NodeError, asNodeError } from './errors.js'
import type { Genesis } from './genesis.js'
import { topics } from './genesis.js'
import { ManagerServices, queryHandler, statusHandler, submitHandler, syncHandler } from './handlers/index.js'
import type { ManagerHooks } from './hooks.js'
import type { PqmedHost } from './libp2p.js'
import type { Logger } from './log.js'
import { ManagerNet } from './manager-net.js'
import { noopMetrics, type NodeMetrics } from './ops/node-metrics.js'
import { Mempool } from './mempool.js'
import { encodeCertifiedHeader } from './messages.js'
import { validateConsensusMessage } from './validation/consensus.js'
import { decodeSubmission, validateSubmission } from './validation/tx.js'
import { accept, ignore, type Validation } from './validation/result.js'
import { topicValidator } from './validation/verdict.js'

export type { Logger } from './log.js'
export { NodeError } from './errors.js'

export interface ManagerOptions {
  host: PqmedHost
  genesis: Genesis
  /**
   * This manager's hospital id (SHA-256 of its first ML-DSA-65 key: its genesis key, or the key of
   * the change that added it). Default: SHA-256 of `sigPublicKey`.
   */
  hospitalId?: Uint8Array
  /** The ML-DSA-65 public key of `sigSecretKey`. */
  sigPublicKey: Uint8Array
  sigSecretKey: Uint8Array
  /** Further key pairs of this hospital (a rotated key): each manager set's key for it is looked up here. */
  moreSigKeys?: Array<{ publicKey: Uint8Array, secretKey: Uint8Array }>
  pq: PqBackend
  chain: ChainStore
  blobs: BlobStore
  log: Logger
  /** The node's data dir (named in errors about its stores). */
  dataDir?: string
  /** How long `submit` with `wait` waits for a commit before reporting failure. */
  commitTimeoutMs?: number
  /** Fault injection for tests and research only (src/node/faults.ts); none in production. */
  hooks?: ManagerHooks
  /** Metrics hooks (src/node/ops); none by default. */
  metrics?: NodeMetrics
}

export interface SubmitResult {
  status: 'committed' | 'pending'
  txHash: string
  height?: number
}

export class ManagerNode {
  readonly host: PqmedHost
  readonly genesis: Genesis
  readonly hospitalId: Uint8Array
  readonly chain: ChainStore
  readonly blobs: BlobStore
  private readonly log: Logger
  private readonly topics: ReturnType<typeof topics>
  private readonly hooks: ManagerHooks
  private readonly app: Application
  private readonly waiters: Waiters
  private readonly net: ManagerNet
  private readonly services: ManagerServices
  private readonly wal: Wal
  /** One signature-remembering verifier per manager set (by config hash), shared by the gossip validator and PBFT. */
  private readonly verifiers = new Map<string, { keys: Uint8Array[], v: VerifyOnce }>()
  private readonly sigKeys: Array<{ publicKey: Uint8Array, secretKey: Uint8Array }>
  private readonly pq: PqBackend
  private readonly driver: ConsensusDriver
  private readonly blockSync: BlockSync
  private readonly repair: BlobRepair
  private readonly metrics: NodeMetrics
  private stopped = false
  /** Tx-body fetches and committed-state loads in flight, by value hash (hex). */
  private readonly fetching = new Map<string, Promise<void>>()
  /** Blocks from block sync, fed in order once their committed state is loaded. */
  private syncFeed: Promise<void> = Promise.resolve()
  private readonly index: DiskIndexStore

  constructor (opts: ManagerOptions) {
    this.host = opts.host
    this.genesis = opts.genesis
    this.hospitalId = opts.hospitalId ?? hospitalIdOf(opts.sigPublicKey)
    this.sigKeys = [{ publicKey: opts.sigPublicKey, secretKey: opts.sigSecretKey }, ...(opts.moreSigKeys ?? [])]
    this.pq = opts.pq
    this.chain = opts.chain
    this.blobs = opts.blobs
    this.log = opts.log
    this.hooks = opts.hooks ?? {}
    this.metrics = opts.metrics ?? noopMetrics
    this.topics = topics(opts.genesis.chainId)
    this.net = new ManagerNet(opts.host, opts.genesis, opts.log, () => this.app.configAt(this.chain.head.height + 1).managers.map((m) => m.peerId))
    this.app = new Application({
      genesis: opts.genesis, hospitalId: this.hospitalId, pq: opts.pq, chain: opts.chain, blobs: opts.blobs, log: opts.log, hooks: this.hooks, dataDir: opts.dataDir,
      fetchTxs: async (from, keys, timeoutMs) => await this.net.fetchTxs(from, keys, timeoutMs)
    })
    this.index = new DiskIndexStore(opts.chain)
    this.waiters = new Waiters(opts.commitTimeoutMs ?? 30_000, (key) => this.app.committed.txs.get(key))
    this.services = new ManagerServices(opts.host, opts.genesis, {
      status: statusHandler(opts.chain, () => this.self, () => this.driver.status().view),
      sync: syncHandler(opts.chain, (data) => { this.onConsensusMessage(data) }, (peer) => this.isManagerPeer(peer.toString()), async (keys) => {
        const bodies = await this.app.txBytes(keys)
        return this.hooks.serveTxs?.(keys, bodies) ?? bodies
      }, (hash) => { const c = this.app.consortium.byHash(hash); return c === undefined ? undefined : encodeConsortiumConfig(c) }),
      query: queryHandler({ chain: opts.chain, getRecord: async (id, fields) => fields === undefined ? await this.getRecord(id) : await this.getRecord(id, fields), search: async (t, page) => await this.search(t, page), readBlob: async (h) => await this.repair.read(h), serveRecords: this.hooks.serveRecords, keyEpochRecipients: () => this.keyEpochRecipients(), keyEpochLatest: () => this.app.keyEpochs.latest }),
      submit: submitHandler(async (data, wait) => await this.submit(data, wait))
    }, this.metrics)
    this.net.syncService = this.services.sync
    this.wal = new Wal(opts.chain.kv)
    this.repair = new BlobRepair({ blobs: opts.blobs, chain: opts.chain, net: this.net, query: () => this.services.query, log: opts.log, stopped: () => this.stopped })
    this.driver = new ConsensusDriver(this.makeEpochs(), {
      wal: this.wal,
      build: (height, view, max) => this.app.buildProposal(height, view, max),
      commit: async (value, cert) => { await this.onCommit(value, cert) },
      broadcast: (msg) => {
        if (this.hooks.broadcast?.(msg, (to, m) => { this.net.send(to, m) }) === true) return
        this.net.publish(this.topics.consensus, encodeMessage(msg))
      },
      send: (to, msg) => { this.net.send(to, msg) },
      sync: (from, peers) => { this.repair.background(this.blockSync.run(from, peers), 'block sync') },
      log: opts.log
    })
    this.blockSync = new BlockSync({ chain: opts.chain, net: this.net, sync: () => this.services.sync, feed: (e) => { this.feedSynced(e) }, drained: async () => { await this.syncFeed; await this.driver.drained() } })
  }

  /** The manager set certifying `height` as PBFT sees it: n, this node's index, the verifier, the signer of its key there. */
  private epochAt (height: number): Epoch {
    const c = this.app.configAt(height)
    const self = managerIndex(c, this.hospitalId)
    const key = self < 0 ? undefined : this.sigKeys.find((k) => equalBytes(k.publicKey, (c.managers[self] as ConsortiumConfig['managers'][number]).sigPublicKey))
    if (self >= 0 && key === undefined) this.log.warn(`this hospital's manager key at height ${height} is not among the keys this node holds: it cannot vote (start it with the rotated key)`)
    const pending = this.app.consortium.pendingAt(height)
    return {
      n: c.managers.length,
      firstHeight: c.activationHeight,
      self: key === undefined ? -1 : self,
      verifier: this.verifierFor(c),
      ...(key !== undefined ? { signer: mlDsaSigner(this.pq, key.secretKey) } : {}),
      ...(pending !== null ? { lastHeight: pending - 1 } : {})
    }
  }

  private verifierFor (c: ConsortiumConfig): VerifyOnce {
    const id = toHex(configHash(c))
    let e = this.verifiers.get(id)
    if (e === undefined) {
      if (this.verifiers.size >= 8) this.verifiers.delete(this.verifiers.keys().next().value as string)
      const keys = configKeys(c)
      e = { keys, v: new VerifyOnce(mlDsaVerifier(this.pq, keys)) }
      this.verifiers.set(id, e)
    }
    return e.v
  }

  private makeEpochs (): EpochPbft {
    const p = this.genesis.params
    return new EpochPbft(
      {
        chainId: this.genesis.chainId,
        head: { height: this.chain.head.height, hash: this.chain.head.hash },
        timing: { blockInterval: p.blockInterval, maxBlockRecords: p.maxBlockRecords, viewChangeTimeout: p.viewChangeTimeout, heartbeatInterval: p.heartbeatInterval },
        configDelay: this.app.consortium.delay
      },
      { app: { validate: (h, v, parent) => this.app.checkProposal(h, v, parent) }, epochAt: (h) => this.epochAt(h) }
    )
  }

  /** This manager's index in the manager set of the height being decided, or −1 (not a member: it follows the chain). */
  get self (): number {
    const h = this.chain.head.height + 1
    return managerIndex(this.app.configAt(h), this.hospitalId)
  }

  /** The consortium configurations of the chain (managers and their keys, by activation height). */
  get consortium (): Application['consortium'] { return this.app.consortium }

  /** Whether a peer is another manager of the current set or of a committed (pending) one. */
  private isManagerPeer (peer: string): boolean {
    if (peer === this.host.peerId.toString()) return false
    const h = this.chain.head.height + 1
    return this.app.configAt(h).managers.some((m) => m.peerId === peer) || this.app.consortium.latest.managers.some((m) => m.peerId === peer)
  }

  async start (): Promise<void> {
    await this.app.restore()
    const pubsub = this.host.services.pubsub
    pubsub.topicValidators.set(this.topics.tx, topicValidator(this.topics.tx, this.log, async (data) => await this.onTxGossip(data)))
    pubsub.topicValidators.set(this.topics.consensus, topicValidator(this.topics.consensus, this.log, (data) => this.onConsensusMessage(data)))
    pubsub.subscribe(this.topics.tx)
    pubsub.subscribe(this.topics.consensus)
    // Managers publish certified headers but do not subscribe to them: a subscribed manager sits
    // in every user node's headers mesh, so each user node would send every header back to the
    // managers (N × mesh-degree copies per block, all ignored). Publishing floods the header to
    // every subscribed peer (gossipsub floodPublish), i.e. every connected user node.
    await this.services.start()
    const wal = await this.wal.restore(this.chain.head.height)
    // the committed state the restored values are validated against (`Application.prepare`)
    for (const r of wal) {
      if (r.kind === 'pre-prepare') await this.app.prepare(r.value)
      else if (r.kind === 'commit') await this.app.prepare({ hash: r.hash, bytes: r.bytes })
    }
    await this.driver.start(wal)
    this.log.info(`manager ${this.self}${this.self < 0 ? ' (not in the current manager set: following the chain)' : ''} started at height ${this.chain.head.height} (${wal.length} WAL records restored)`)
  }

  async stop (): Promise<void> {
    this.stopped = true
    const driverStopped = this.driver.stop() // (no event is processed from here on)
    const pubsub = this.host.services.pubsub
    for (const t of [this.topics.tx, this.topics.consensus]) { pubsub.unsubscribe(t); pubsub.topicValidators.delete(t) }
    await this.services.stop()
    await driverStopped
    this.waiters.clear()
  }

  status (): { height: number, hash: Uint8Array, view: number, leader: number, mempool: number } {
    const s = this.driver.status()
    return { height: this.chain.head.height, hash: this.chain.head.hash, view: s.view, leader: s.leader, mempool: this.app.mempool.size }
  }

  /** Consensus signatures verified with ML-DSA, and repeats answered from memory (each signature is verified once). */
  get signatureStats (): { verified: number, remembered: number } {
    const out = { verified: 0, remembered: 0 }
    for (const { v } of this.verifiers.values()) { out.verified += v.stats.verified; out.remembered += v.stats.remembered }
    return out
  }

  /** Bytes of the txs in the mempool, and committed records (metrics). */
  get mempoolBytes (): number { return this.app.mempool.bytes }
  get recordCount (): number { return this.app.committed.records }
  /** The governance registry (doctors, on-chain user nodes), as committed. */
  get registry (): Registry { return this.app.gov }
  /** Tx bodies of compact proposals fetched from proposers: accepted, and refused (wrong hash or undecodable). */
  get txFetchStats (): { fetched: number, refused: number } { return { ...this.app.fetchStats } }

  /** The PBFT app port (deterministic validation of a proposed block), as the replicas run it. */
  validateProposal (height: number, value: Value, parentHash: Uint8Array): ValidateResult {
    return this.app.validateProposal(height, value, parentHash)
  }

  private feed (e: ConsensusEvent): void {
    if (!this.stopped) this.driver.feed(e)
  }

  /** A block from block sync, fed once the committed state it is validated against is loaded (in order). */
  private feedSynced (e: ConsensusEvent): void {
    if (e.type !== 'sync-block') { this.feed(e); return }
    this.syncFeed = this.syncFeed.then(async () => { await this.app.prepare(e.value) }).catch(() => {}).then(() => { this.feed(e) })
  }

  // ------------------------------------------------------------------------------------------
  // gossip: an accepted message is already handled

  /** A consensus message from gossip or sent directly: validated (signature checked once), then fed. */
  private onConsensusMessage (data: Uint8Array): Validation<unknown> {
    const v = validateConsensusMessage(data, {
      chainId: this.genesis.chainId,
      managers: MAX_VALIDATORS,
      managersAt: (h) => this.app.configAt(h).managers.length,
      verifier: this.verifierFor(this.app.configAt(this.chain.head.height + 1)),
      verifierAt: (h) => this.verifierFor(this.app.configAt(h)),
      head: () => this.chain.head.height
    })
    if (v.verdict === 'ACCEPT') this.deliver(v.value)
    return v
  }

  /**
   * Feeds a verified message to PBFT once this manager holds the txs of the value it carries (a
   * compact block): missing ones are first fetched from the sender, who proposed or relays the
   * value. If the sender cannot supply them the message is fed anyway and the value fails
   * validation: no vote (the view changes if the proposer never supplies them). Then the committed
   * state the value is validated against is loaded from the store (`Application.prepare`).
   */
  private deliver (msg: ConsensusMessage): void {
    const value = msg.type === 'pre-prepare' ? msg.value
      : msg.type === 'new-view' ? msg.prePrepare?.value
        : msg.type === 'view-change' && msg.prepared !== null && msg.value !== null ? { hash: msg.prepared.hash, bytes: msg.value } : undefined
    const missing = value === undefined ? [] : this.app.missingTxs(value)
    if (value === undefined || (missing.length === 0 && !this.app.needsPrepare(value))) { this.feed({ type: 'message', now: Date.now(), msg }); return }
    const key = toHex(value.hash)
    let fetching = this.fetching.get(key)
    if (fetching === undefined) {
      fetching = (missing.length > 0 ? this.complete(msg.from, value) : Promise.resolve())
        .then(async () => { await this.app.prepare(value) })
        .catch(() => {}).finally(() => { this.fetching.delete(key) })
      this.fetching.set(key, fetching)
    }
    void fetching.then(() => { this.feed({ type: 'message', now: Date.now(), msg }) })
  }

  /**
   * Gets the txs of `value` this manager lacks: asks `from` again after a failure or a partial
   * answer (gossip delivers a message once: this is the replica's one chance to vote for it), and
   * meanwhile takes those that arrive by tx gossip. Gives up after the view-change timeout.
   */
  private async complete (from: number, value: Value): Promise<void> {
    const deadline = Date.now() + this.genesis.params.viewChangeTimeout
    for (;;) {
      const missing = this.app.missingTxs(value)
      if (missing.length === 0 || this.stopped || Date.now() >= deadline) return
      if (await this.app.fetchTxs(from, missing, Math.max(100, deadline - Date.now())) === 0) return
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  private async onTxGossip (data: Uint8Array): Promise<Validation<unknown>> {
    if (this.hooks.txGossip?.() === false) return ignore('STALE', 'tx gossip is dropped on this manager (fault injection)')
    const d = decodeSubmission(data)
    if (d.verdict !== 'ACCEPT') return d
    if (this.app.mempool.has(d.value.txBytes)) return ignore('DUPLICATE', 'pending already')
    const v = await validateSubmission(d.value, this.app.txContext())
    if (v.verdict !== 'ACCEPT') return v
    // a label written by another pending tx: first come, first served (no penalty, it may be an honest race)
    try { await this.admit(v.value) } catch (err) { const e = asNodeError(err); return ignore(e.code, e.message) }
    return accept(null)
  }

  private async admit (s: Parameters<Application['admit']>[0]): Promise<void> {
    if (await this.app.admit(s)) { this.metrics.txAdmitted(s.txBytes); this.feed({ type: 'mempool', now: Date.now(), size: this.app.mempool.size }) }
  }

  // ------------------------------------------------------------------------------------------
  // commit

  private async onCommit (value: Value, cert: CommitCertificate): Promise<void> {
    const out = await this.app.commit(value, cert, this.wal.decidedOps(cert.height))
    for (const key of out.keys) this.waiters.committed(key, out.height)
    for (const d of out.dropped) this.waiters.failed(d.key, d.err)
    this.metrics.blockCommitted(out.block, cert.view, out.keys, out.dropped.map((d) => d.key))
    if (headerPublishers(out.height, cert.view, this.app.configAt(out.height).managers.length).includes(managerIndex(this.app.configAt(out.height), this.hospitalId))) {
      this.net.publish(this.topics.headers, encodeCertifiedHeader(out.block.header, cert))
    }
    this.feed({ type: 'mempool', now: Date.now(), size: this.app.mempool.size })
    this.repair.background(this.repair.repairBlock(out.block), 'ciphertext repair')
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
    const v = await validateSubmission(d.value, this.app.txContext())
    if (v.verdict !== 'ACCEPT') {
      const at = v.code === 'DUPLICATE' ? await this.app.txHeight(key, d.value.txBytes) : undefined
      if (v.code === 'DUPLICATE' && at !== undefined) {
        // a replay of a committed tx: refused, but the submitter learns that its tx is committed
        throw new NodeError('DUPLICATE', `tx ${key} is already committed at height ${String(at)} (a replay is refused; nothing was stored)`, { txHash: key, committed: true, height: at })
      }
      throw new NodeError(v.code, v.reason)
    }
    const pending = wait ? this.waiters.wait(key) : undefined
    try {
      await this.admit(v.value)
    } catch (err) {
      pending?.catch(() => {}) // times out unused
      throw asNodeError(err)
    }
    this.net.publish(this.topics.tx, data)
    if (pending === undefined) return { status: 'pending', txHash: key }
    const height = await pending
    return { status: 'committed', txHash: key, height }
  }

  /** The committed key epochs of the index-2 key (app/key-epochs.ts). */
  get keyEpochs (): KeyEpochs { return this.app.keyEpochs }

  /** The doctors the next key epoch must be wrapped to (the active doctors of the committed state). */
  keyEpochRecipients (): ActiveDoctor[] { return [...this.app.keyEpochs.authority.activeDoctors(this.chain.head.height)] }

  /**
   * A committed record with its inclusion proof and ciphertexts (this manager's own store). With
   * `fields` (0 personal info, 1 symptoms, 2 prescriptions, 3 + i attachment i), only those
   * ciphertexts, in that order, null for a field the record does not have.
   */
  async getRecord (recordId: Uint8Array, fields: readonly number[]): Promise<{ stored: Uint8Array, blobs: Array<Uint8Array | null> } | undefined>
  async getRecord (recordId: Uint8Array): Promise<{ stored: Uint8Array, blobs: Uint8Array[] } | undefined>
  async getRecord (recordId: Uint8Array, fields?: readonly number[]): Promise<{ stored: Uint8Array, blobs: Array<Uint8Array | null> } | undefined> {
    const stored = await this.chain.recordRaw(recordId)
    if (stored === undefined) return undefined
    const tx = decodeStoredRecord(stored).tx
    if (tx.type !== 'record') return undefined
    return { stored, blobs: fields === undefined ? await this.repair.recordBlobs(tx) : await this.repair.recordBlobs(tx, fields) }
  }

  /** A stored ciphertext checked against its hash (a corrupt copy is deleted, logged and repaired, never returned). */
  async readBlob (hash: Uint8Array): Promise<Uint8Array | undefined> { return await this.repair.read(hash) }

  /**
   * Runs a search token against the committed index (on disk), one page at a time (`limit`
   * entries from the token label numbered `cursor`, `serverSearchPageAsync`); each entry comes
   * with its inclusion proof. `next`: the cursor of the following page, absent on the last one.
   */
  async search (token: Uint8Array, page: { cursor?: number, limit: number } = { limit: SEARCH_PAGE_DEFAULT }): Promise<{ entries: Uint8Array[], next?: number }> {
    let decoded
    try { decoded = decodeSearchToken(token) } catch (err) {
      throw new NodeError(err instanceof SseError && err.code === 'TOKEN_LIMIT' ? 'TOKEN_LIMIT' : 'MALFORMED_TOKEN', (err as Error).message)
    }
    let found
    try { found = await serverSearchPageAsync(this.index, decoded, page) } catch (err) {
      if (!(err instanceof SseError)) throw err
      throw new NodeError(err.code === 'TOKEN_LIMIT' ? 'TOKEN_LIMIT' : 'MALFORMED_TOKEN', err.message)
    }
    const entries = found.entries.map((e) => dagCbor.encode({ label: e.label, stored: e.stored }))
    return found.next === undefined ? { entries } : { entries, next: found.next }
  }
}
