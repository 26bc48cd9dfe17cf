/**
 * The application a manager runs under consensus (the PBFT app port and its commit): the mempool,
 * the committed state, building a block from the mempool, validating a proposed block, and
 * applying a committed one to the chain store.
 *
 * A proposal travels as a compact block (header + tx hashes, `src/blocks/proposal.ts`): a replica
 * rebuilds the block from the txs it holds (mempool, or fetched from the proposer: `bodies`), and
 * the commit stores the block's encoding assembled from the txs' bytes (`encodeBlockFromParts`).
 * A block is decoded once and each of its txs encoded once per manager: the leader keeps the
 * block it built, a replica the block it validated (`held`).
 *
 * The committed state is on disk (`Committed`, ./committed.ts) with bounded caches; the PBFT app
 * port (`validateProposal`, `buildProposal`, `stillValid`) stays synchronous because the facts it
 * reads are loaded before: `admit` loads those of a pending tx (kept while it is pending), and
 * `prepare(value)` (async) those of a proposed block. Call `prepare` before `validateProposal` on a
 * value this manager did not build: on a store that is not fresh, a block whose committed state
 * was not loaded is refused ("…not loaded"), never wrongly accepted. `commit` loads what it needs
 * itself. `restore` checks the head block and does not replay the chain.
 */
import { join } from 'node:path'
import {
  buildBlock, decodeBlock, decodeCompactBlock, decodeTx, encodeBlockFromParts, encodeCompactBlock, encodeTx, headerHash, indexUpdatesHash,
  validateBlock, isGovernanceTx, MAX_BLOCK_BYTES, MAX_COMPACT_BLOCK_BYTES, type Block, type CommitCertificate, type GovernanceCaps, type Tx,
  ConsortiumHistory, DEFAULT_CONFIG_DELAY, decodeConsortiumConfig, encodeConsortiumConfig, managerIndex, type ConsortiumConfig
} from '../../blocks/index.js'
import type { Value, ValidateResult } from '../../consensus/index.js'
import { equalBytes, fromHex, sha256, toHex, type PqBackend } from '../../crypto/index.js'
import { authorizeGrant, verifyPatientSignature, verifyRecordTx } from '../../records/index.js'
import type { BlobStore } from '../blob-store.js'
import { decodeStoredRecord, type ChainStore } from '../chain-store.js'
import { NodeError } from '../errors.js'
import { genesisConsortium, type Genesis } from '../genesis.js'
import type { ManagerHooks } from '../hooks.js'
import { pad, type BatchOp } from '../kv.js'
import type { Logger } from '../log.js'
import { Mempool, claimName, claimsOf } from '../mempool.js'
import type { Submission, TxContext } from '../validation/tx.js'
import { Committed, factsOf, txKeys, type Fact, type RecordParties } from './committed.js'
import { newTally, Registry } from './governance.js'
import { KeyEpochs, type KeyEpochAuthority } from './key-epochs.js'

/** Chain-store keys of the consortium configurations after genesis, by activation height (written in the commit batch). */
export const CONSORTIUM_KEY_PREFIX = 'gov/mcfg/'
const consortiumKey = (activation: number): string => `${CONSORTIUM_KEY_PREFIX}${pad(activation)}`

export interface ApplicationOptions {
  genesis: Genesis
  /** This manager's hospital id (SHA-256 of its first ML-DSA key): its index in each configuration is looked up by it. */
  hospitalId: Uint8Array
  pq: PqBackend
  chain: ChainStore
  blobs: BlobStore
  log: Logger
  hooks: ManagerHooks
  /** The node's data dir (named in errors about its stores). */
  dataDir?: string
  /**
   * Asks manager `from` for the txs with these hashes (hex); each answer is the tx's bytes or
   * null. Bodies are checked here (hash, decoding), never trusted.
   */
  fetchTxs?: (from: number, keys: string[], timeoutMs?: number) => Promise<Array<Uint8Array | null>>
  /** Unpinned committed facts kept in memory (`Committed`); default 100,000. */
  maxFacts?: number
  /** Active doctors and current managers for key epochs (default: the genesis ones). */
  keyEpochAuthority?: KeyEpochAuthority
  /** Caps on active doctors and user nodes (default `GOVERNANCE_CAPS`, src/blocks/governance.ts; smaller ones in tests only: a consensus rule). */
  governanceCaps?: Partial<GovernanceCaps>
}

/** What a commit did: the txs it committed (hashes), and the pending txs it made impossible, each with the error for its submitter. */
export interface CommitOutcome {
  height: number
  block: Block
  keys: string[]
  dropped: Array<{ key: string, err: NodeError }>
}

/** Blocks this manager built or validated, kept until committed so they are decoded and encoded once. */
const MAX_HELD = 64
/** Tx bodies of held blocks and bodies fetched from a proposer, kept until committed (oldest dropped first). */
const MAX_BODIES = 16_384
/** Tx hashes remembered as signature-checked (oldest forgotten first: a forgotten one is checked again). */
const MAX_VERIFIED = 65_536

/** A value read: the block (txs resolved), or the hashes of the txs this manager lacks. */
type Parsed = { block: Block, keys: string[], compact: boolean, missing?: undefined } | { missing: string[] }

export class Application {
  readonly committed: Committed
  /** Committed key epochs of the index-2 key (app/key-epochs.ts). */
  readonly keyEpochs: KeyEpochs
  readonly mempool = new Mempool()
  private readonly opts: ApplicationOptions
  /** Doctors and user nodes (genesis, then governance txs), persisted in the commit batch. */
  readonly gov: Registry
  /** Tx hashes whose signatures this node has verified (gossip or RPC), so block validation need not repeat it. */
  private readonly verifiedTxs = new Set<string>()
  /** Blocks built or validated, by value hash (hex), with their tx hashes. */
  private readonly held = new Map<string, { bytes: Uint8Array, block: Block, keys: string[] }>()
  /** Tx bodies (by tx hash, hex) outside the mempool: of held blocks, and fetched from proposers. */
  private readonly bodies = new Map<string, Tx>()
  /** Tx bodies fetched from proposers: accepted, and refused (wrong hash or undecodable). */
  readonly fetchStats = { fetched: 0, refused: 0 }
  /** Hashes of proposals refused (each is logged once). */
  private readonly refused = new Set<string>()

  /** The consortium configurations of the chain (genesis, then each committed manager change). */
  private history: ConsortiumHistory

  constructor (opts: ApplicationOptions) {
    this.opts = opts
    this.history = new ConsortiumHistory([genesisConsortium(opts.genesis)], opts.genesis.params.configDelay ?? DEFAULT_CONFIG_DELAY)
    this.committed = new Committed(opts.chain, { maxFacts: opts.maxFacts })
    // a hospital signs governance txs and key epochs with its manager's key in the configuration the
    // next block is certified by: a hospital that joined may, one that left may not, a rotated key replaces the old
    this.gov = new Registry(opts.genesis, opts.pq, (id) => this.hospitalKey(id), opts.governanceCaps)
    this.keyEpochs = new KeyEpochs(opts.genesis.chainId, opts.pq, opts.keyEpochAuthority ?? this.gov.keyEpochAuthority())
  }

  private get chain (): ChainStore { return this.opts.chain }

  /** Whether a committed label counts as committed for admission, building and validation (see `ManagerHooks`). */
  private labelCommitted = (label: Uint8Array): boolean =>
    this.committed.fact(`l:${toHex(label)}`) != null && (this.opts.hooks.labelCommitted?.(label) ?? true)

  /** The consortium configurations (manager sets) of the chain, as far as committed. */
  get consortium (): ConsortiumHistory { return this.history }

  /** The configuration that certifies block `height`. */
  configAt (height: number): ConsortiumConfig { return this.history.at(height) }

  /** The current signing key of hospital `id` in the configuration of the next block, if it is a member. */
  hospitalKey (id: Uint8Array): Uint8Array | undefined {
    const cfg = this.history.at(this.chain.head.height + 1)
    return cfg.managers.find((m) => equalBytes(m.hospitalId, id))?.sigPublicKey
  }

  /** This manager's index in the configuration certifying `height`, or −1 if it is not a member there. */
  selfAt (height: number): number { return managerIndex(this.history.at(height), this.opts.hospitalId) }

  /**
   * Checks, in bounded time whatever the chain's length, that the store's head is whole: the head
   * block is present, decodes, has the head's height and hash, and its txs and index entries are
   * stored where the head says. STORE_INCONSISTENT names what is wrong. (The committed state is
   * read from the store on demand: nothing is replayed.)
   */
  async restore (): Promise<void> {
    const where = join(this.opts.dataDir ?? '', 'chain')
    const inconsistent = (what: string): NodeError => new NodeError('STORE_INCONSISTENT',
      `the chain store${this.opts.dataDir !== undefined ? ` in ${where}` : ''} is inconsistent: ${what}. This manager refuses to start; ` +
      'move the data dir aside and let the manager sync the chain from its peers, or restore it from a backup')
    // the consortium configurations are their own keys (written in each commit's batch): read, never replayed
    const configs = [...this.history.configs]
    for await (const [key, bytes] of this.chain.kv.range(CONSORTIUM_KEY_PREFIX, CONSORTIUM_KEY_PREFIX + '\uffff')) {
      try { configs.push(decodeConsortiumConfig(bytes)) } catch (err) { throw inconsistent(`${key} does not decode (${(err as Error).message})`) }
    }
    try { this.history = new ConsortiumHistory(configs, this.history.delay) } catch (err) { throw inconsistent(`the stored consortium configurations: ${(err as Error).message}`) }
    await this.gov.load(this.chain.kv) // the registry's own keys, written by each commit (never a replay)
    try { await this.keyEpochs.load(this.chain.kv) } catch (err) { throw inconsistent((err as Error).message) }
    const head = this.chain.head
    if (head.height === 0) return
    const h = head.height
    let b: Block | undefined
    try { b = await this.chain.block(h) } catch (err) { throw inconsistent(`block ${h} (the head) does not decode (${(err as Error).message})`) }
    if (b === undefined) throw inconsistent(`block ${h} (the head) is missing`)
    if (b.header.height !== h) throw inconsistent(`the block stored at height ${h} has height ${b.header.height}`)
    if (!equalBytes(headerHash(b.header), head.hash)) throw inconsistent(`block ${h} does not match the head's header`)
    if (b.header.indexStart + b.header.indexCount !== head.indexNext) throw inconsistent(`block ${h} ends the index at ${b.header.indexStart + b.header.indexCount}, the head says ${head.indexNext}`)
    const keys = txKeys(b)
    const locs = await this.chain.txLocations(keys, b.txs.map((tx) => encodeTx(tx)))
    const updates = b.txs.flatMap((tx) => tx.type === 'record' ? tx.indexUpdates : [])
    const stored = await this.chain.indexPositions(updates.map((u) => u.label))
    let pos = b.header.indexStart
    for (const [i, tx] of b.txs.entries()) {
      const at = locs[i]
      if (at?.height !== h || at.txIndex !== i) throw inconsistent(`block ${h}, tx ${i} (${keys[i] as string}) is not recorded as committed there`)
      if (tx.type !== 'record') continue
      for (const [j, u] of tx.indexUpdates.entries()) {
        const p = stored[pos - b.header.indexStart]
        if (p?.height !== h || p.index !== pos) throw inconsistent(`block ${h}, tx ${i} (record ${toHex(tx.recordId)}), index update ${j}: label ${toHex(u.label)} is stored at ${p === undefined ? 'no position' : `height ${p.height} (position ${p.index})`}, not at position ${pos}`)
        pos++
      }
    }
  }

  /** What tx validation needs to know about the chain (`validation/tx.ts`). */
  txContext (): TxContext {
    return {
      verifier: this.opts.pq,
      doctorKey: (id) => this.gov.activeKey(id),
      governance: this.gov,
      recordCommitted: async (id) => await this.factOf(`r:${toHex(id)}`) !== null,
      committedRecord: async (id) => {
        const raw = await this.chain.recordRaw(id)
        return raw === undefined ? undefined : decodeStoredRecord(raw).tx
      },
      patientKey: async (id) => (await this.factOf(`p:${toHex(id)}`) as Uint8Array | null) ?? undefined,
      txCommitted: async (b) => await this.factOf(`t:${Mempool.key(b)}`, b) !== null,
      labelCommitted: async (label) => await this.factOf(`l:${toHex(label)}`) !== null && (this.opts.hooks.labelCommitted?.(label) ?? true),
      keyEpoch: (tx) => this.keyEpochs.check(tx, this.chain.head.height),
      managerChange: (tx) => this.history.check(tx, this.opts.genesis.chainId, this.chain.head.height + 1, this.opts.pq)
    }
  }

  /** A committed fact (see `Committed`), from memory or the store. */
  private async factOf (k: string, txBytes?: Uint8Array): Promise<Fact | null> {
    const f = this.committed.fact(k)
    if (f !== undefined) return f
    await this.committed.ensure([{ k, txBytes }])
    return this.committed.fact(k) ?? null
  }

  /** The height a tx (by hash) is committed at, if it is (from memory or the store). */
  async txHeight (key: string, txBytes?: Uint8Array): Promise<number | undefined> {
    return (await this.factOf(`t:${key}`, txBytes) as number | null) ?? undefined
  }

  /**
   * Loads (async) the committed state `validateProposal` will check `value` against, and keeps it
   * until the value is committed or among the oldest 64 prepared (the manager calls this before
   * feeding PBFT a message carrying a value, once its tx bodies are here). Does nothing for a value
   * it cannot read yet (missing bodies, undecodable: `validateProposal` refuses those anyway).
   */
  async prepare (value: Value): Promise<void> {
    const id = toHex(value.hash)
    if (this.committed.holds(`v:${id}`)) return
    let p: Parsed
    try { p = this.heldFor(value) ?? this.parse(value) } catch { return }
    if (p.missing !== undefined) return
    await this.committed.prepareValue(id, p.block, p.keys)
  }

  /** Whether `prepare(value)` has anything to load (false: `validateProposal` can run now). */
  needsPrepare (value: Value): boolean {
    if (this.committed.holds(`v:${toHex(value.hash)}`)) return false
    try {
      const p: Parsed = this.heldFor(value) ?? this.parse(value)
      return p.missing === undefined && p.block.txs.some((tx, i) => factsOf(tx, p.keys[i] as string).some((w) => this.committed.fact(w.k) === undefined))
    } catch { return false }
  }

  /**
   * Stores a validated submission's ciphertexts and puts it in the mempool; false if it is
   * pending already. Refuses, before storing anything, a tx that claims an index label
   * (DUPLICATE_LABEL), record id or patient id (DUPLICATE) that another pending tx claims.
   */
  async admit (s: Submission): Promise<boolean> {
    const key = Mempool.key(s.txBytes)
    if (this.mempool.hasKey(key)) return false
    const conflict = this.mempool.conflict(s.tx, key)
    if (conflict?.startsWith('l:') === true) {
      throw new NodeError('DUPLICATE_LABEL', `${claimName(conflict)} is already written by a pending tx: the submitting client's index counters are behind (recover them from the node and rebuild the record); nothing was stored`)
    }
    if (conflict !== undefined) throw new NodeError('DUPLICATE', `${claimName(conflict)} is already claimed by a pending tx (a second record or enrollment with the same id is refused; nothing was stored)`)
    // the committed state its checks read while it is pending (buildProposal, stillValid)
    await this.committed.ensure(factsOf(s.tx, key), `m:${key}`)
    if (s.tx.type === 'record') {
      // validateSubmission checked that the blobs hash to the tx's fields and attachments, in order
      const hashes = [...s.tx.fields, ...s.tx.attachments]
      await this.opts.blobs.putChecked(s.blobs.map((bytes, i) => ({ hash: hashes[i] as Uint8Array, bytes })))
    }
    // a block committed during the awaits above may have made the tx inapplicable (its doctor
    // revoked, its record id or a label taken): the commit's prune ran before it was pending, and
    // no later block may come to prune it, so it is refused now, as the prune would have
    if (!this.mempool.hasKey(key) && this.stale(s.tx, key) === true) {
      this.committed.release(`m:${key}`)
      throw this.committed.fact(`t:${key}`) !== null
        ? new NodeError('DUPLICATE', `tx ${key} was committed at or before height ${this.chain.head.height} while it was being admitted`)
        : this.staleError(s.tx, key, this.chain.head.height)
    }
    let added
    try { added = this.mempool.add(s) } catch (err) { if (!this.mempool.hasKey(key)) this.committed.release(`m:${key}`); throw err }
    // (not added: pending already, admitted meanwhile by a concurrent call whose facts stay pinned)
    this.verified(key)
    return added
  }

  /** The block to propose at (height, view) from the mempool, or null if there is nothing to propose. */
  buildProposal (height: number, view: number, maxRecords: number): Value | null {
    const head = this.chain.head
    if (height !== head.height + 1) return null
    // no two txs of the block may claim one label, record id or patient id (the mempool already
    // refuses such pairs; this keeps a block applicable whatever the mempool holds), and the
    // block's doctor and user-node additions together stay within the caps (each pending one was
    // checked alone against the committed registry)
    const claimed = new Set<string>()
    const tally = newTally()
    const txs = this.mempool.take(maxRecords, MAX_BLOCK_BYTES - 256 * 1024, (s) => {
      if (!this.stillValid(s.tx, Mempool.key(s.txBytes))) return true
      const cs = claimsOf(s.tx)
      if (cs.some((c) => claimed.has(c))) return true
      if (isGovernanceTx(s.tx)) {
        if (!this.gov.checkState(s.tx, tally).ok) return true
        this.gov.count(s.tx, tally)
      }
      for (const c of cs) claimed.add(c)
      return false
    })
    if (txs.length === 0) return null
    const block = buildBlock({
      chainId: this.opts.genesis.chainId,
      height,
      prevHash: head.hash,
      time: Math.max(Date.now(), head.header.time),
      proposer: this.selfAt(height),
      view,
      indexStart: head.indexNext,
      configHash: this.history.hashAt(height),
      nextConfigHash: this.history.hashAt(height + 1),
      txs
    })
    const keys = txKeys(block)
    const value = { hash: headerHash(block.header), bytes: encodeCompactBlock({ header: block.header, txHashes: keys.map(fromHex) }) }
    this.hold(value, block, keys)
    this.committed.pinValue(toHex(value.hash), block, keys) // (its txs' facts are pinned while pending)
    return value
  }

  /**
   * Whether a tx can still go into the next block (not committed meanwhile, no label committed
   * meanwhile, dependencies present). A pending tx's facts are loaded (`admit`); for a tx whose
   * facts are not, false.
   */
  stillValid (tx: Tx, key?: string): boolean {
    return this.stale(tx, key ?? Mempool.key(encodeTx(tx))) === false
  }

  /**
   * Why a pending tx that `stale` found no longer applicable (and not itself committed) can never
   * commit: the error its waiting submitter is told.
   */
  private staleError (tx: Tx, key: string, height: number): NodeError {
    const gov = tx.type === 'doctor' || tx.type === 'user-node' ? this.gov.checkState(tx) : undefined
    const inactive = tx.type === 'record' ? this.gov.inactive(tx.doctor) : tx.type === 'grant' ? this.gov.inactive(tx.grantor) : undefined
    return gov !== undefined && !gov.ok ? new NodeError(gov.code, `tx ${key} was dropped: ${gov.reason}`)
      : inactive !== undefined ? new NodeError('INACTIVE_DOCTOR', `tx ${key} was dropped: ${inactive}`)
      : tx.type === 'record' && this.committed.fact(`r:${toHex(tx.recordId)}`) !== null
      ? new NodeError('DUPLICATE', `record ${toHex(tx.recordId)} was committed by another tx at height ${height}; tx ${key} was dropped`)
      : tx.type === 'key-epoch'
        ? new NodeError('DUPLICATE', `key epoch ${tx.epoch} was dropped at height ${height}: ${this.keyEpochs.check(tx, height, { signature: false })?.reason ?? 'no longer valid'}`)
        : new NodeError('DUPLICATE_LABEL', `tx ${key} was dropped: another tx committed at height ${height} wrote one of its index labels (the submitting client's counters were behind; recover them and rebuild the record)`)
  }

  /** Whether a tx can no longer go into a block; undefined if its committed state is not loaded. */
  private stale (tx: Tx, key: string): boolean | undefined {
    const f = (k: string): Fact | null | undefined => this.committed.fact(k)
    if (factsOf(tx, key).some((w) => f(w.k) === undefined)) return undefined
    if (f(`t:${key}`) !== null) return true
    if (tx.type === 'record') {
      return f(`r:${toHex(tx.recordId)}`) !== null || tx.indexUpdates.some((u) => this.labelCommitted(u.label)) || this.gov.inactive(tx.doctor) !== undefined
    }
    if (tx.type === 'patient') return f(`p:${toHex(tx.patientId)}`) !== null
    if (tx.type === 'grant') return f(`r:${toHex(tx.recordId)}`) === null || this.gov.inactive(tx.grantor) !== undefined
    if (tx.type === 'doctor' || tx.type === 'user-node') return !this.gov.checkState(tx).ok
    if (tx.type === 'key-epoch') return this.keyEpochs.check(tx, this.chain.head.height, { signature: false }) !== undefined
    if (tx.type === 'manager') {
      const next = this.chain.head.height + 1
      return this.history.pendingAt(next) !== null || !equalBytes(tx.baseConfig, this.history.hashAt(next)) // a change pending, or not against the configuration in effect
    }
    return false
  }

  /** The PBFT app port: `validateProposal`, logging each refused proposal once (an operator sees why a view changed). */
  checkProposal (height: number, value: Value, parentHash: Uint8Array): ValidateResult {
    const r = this.validateProposal(height, value, parentHash)
    if (!r.ok && r.reason !== 'parent is not our head') { // (a pre-prepare for the next height can arrive before our commit)
      const id = toHex(value.hash)
      if (!this.refused.has(id)) {
        if (this.refused.size >= 256) this.refused.clear()
        this.refused.add(id)
        this.opts.log.warn(`refused the proposal ${id.slice(0, 16)} for height ${height}: ${r.reason}`)
      }
    }
    return r
  }

  /** Deterministic validation of a proposed block on top of `parentHash`. */
  validateProposal (height: number, value: Value, parentHash: Uint8Array): ValidateResult {
    const head = this.chain.head
    const genesis = this.opts.genesis
    const held = this.heldFor(value)
    let parsed: Parsed
    try { parsed = held ?? this.parse(value) } catch (err) { return { ok: false, reason: `undecodable block: ${(err as Error).message}` } }
    if (parsed.missing !== undefined) return { ok: false, reason: `${parsed.missing.length} tx bodies are missing (not gossiped, and the proposer did not supply them)` }
    const block = parsed.block
    const h = block.header
    if (!equalBytes(headerHash(h), value.hash)) return { ok: false, reason: 'hash does not match header' }
    if (h.chainId !== genesis.chainId) return { ok: false, reason: 'wrong chain id' }
    if (h.height !== height) return { ok: false, reason: 'wrong height' }
    if (!equalBytes(h.prevHash, parentHash)) return { ok: false, reason: 'wrong parent' }
    if (!equalBytes(parentHash, head.hash)) return { ok: false, reason: 'parent is not our head' }
    if (h.indexStart !== head.indexNext) return { ok: false, reason: 'wrong indexStart' }
    if (h.time < head.header.time) return { ok: false, reason: 'time goes backwards' }
    if (h.proposer < 0 || h.proposer >= this.history.at(height).managers.length) return { ok: false, reason: 'unknown proposer' }
    if (!equalBytes(h.configHash, this.history.hashAt(height))) return { ok: false, reason: 'configHash is not the hash of the consortium configuration at this height' }
    if (!equalBytes(h.nextConfigHash, this.history.hashAt(height + 1))) return { ok: false, reason: 'nextConfigHash is not the hash of the consortium configuration at the next height' }
    const basic = validateBlock(block)
    if (!basic.ok) return { ok: false, reason: basic.reason }
    // everything applying the block needs, against the committed state (a committed block always applies)
    const keys = parsed.keys
    const conflict = this.committed.conflict(block, { labelCommitted: this.opts.hooks.labelCommitted, keys }) ??
      this.keyEpochs.conflict(block, { height: head.height, verified: (i) => this.verifiedTxs.has(keys[i] as string) })
    if (conflict !== undefined) return { ok: false, reason: conflict }
    const govConflict = this.gov.conflict(block, keys, this.verifiedTxs) // governance txs against the registry before the block
    if (govConflict !== undefined) return { ok: false, reason: govConflict }
    for (const [i, tx] of block.txs.entries()) {
      const key = keys[i] as string
      const signer = tx.type === 'record' ? tx.doctor : tx.type === 'grant' ? tx.grantor : undefined
      if (signer !== undefined && this.gov.inactive(signer) !== undefined) return { ok: false, reason: `tx ${i}: INACTIVE_DOCTOR: ${this.gov.inactive(signer) as string}` }
      if (this.verifiedTxs.has(key) || tx.type === 'doctor' || tx.type === 'user-node') continue
      if (tx.type === 'record') {
        const sig = verifyRecordTx(this.opts.pq, (id) => this.gov.activeKey(id), tx, indexUpdatesHash(tx.indexUpdates))
        if (!sig.ok) return { ok: false, reason: sig.code === 'UNREGISTERED_DOCTOR' ? 'unregistered doctor' : 'bad record signature' }
      } else if (tx.type === 'patient') {
        if (!equalBytes(sha256(tx.sigPublicKey), tx.patientId) || !verifyPatientSignature(this.opts.pq, tx, tx.signature)) return { ok: false, reason: 'bad patient enrollment' }
      } else if (tx.type === 'manager') {
        if (block.txs.filter((t) => t.type === 'manager').length > 1) return { ok: false, reason: 'more than one manager change in a block' }
        const c = this.history.check(tx, genesis.chainId, height, this.opts.pq)
        if (!c.ok) return { ok: false, reason: `manager change: ${c.code}: ${c.reason}` }
      } else if (tx.type === 'grant') {
        // the record is committed (Committed.conflict); only its doctor or its owner may grant
        const parties = this.committed.fact(`r:${toHex(tx.recordId)}`) as RecordParties | null | undefined
        if (parties == null) return { ok: false, reason: 'grant of an unknown record' }
        const cur = this.gov.current(parties.doctor) // a rotated doctor grants with its current key
        const auth = authorizeGrant(this.opts.pq, tx, { recordId: tx.recordId, ...parties, ...(cur !== undefined ? { doctor: fromHex(cur.id) } : {}) }, cur?.sigPublicKey)
        if (!auth.ok) return { ok: false, reason: `${auth.code}: ${auth.reason}` }
      }
      this.verified(key)
    }
    if (held === undefined) this.hold(value, block, keys)
    // who proposed it, in which view (the leader schedule learns from it); a manager change ends the epoch at height + delay − 1
    return { ok: true, origin: { proposer: h.proposer, view: h.view }, ...(block.txs.some((t) => t.type === 'manager') ? { reconfig: true } : {}) }
  }

  private verified (key: string): void {
    if (this.verifiedTxs.size >= MAX_VERIFIED) this.verifiedTxs.delete(this.verifiedTxs.values().next().value as string)
    this.verifiedTxs.add(key)
  }

  private hold (value: Value, block: Block, keys: string[]): void {
    if (this.held.size >= MAX_HELD) this.held.delete(this.held.keys().next().value as string)
    this.held.set(toHex(value.hash), { bytes: value.bytes, block, keys })
    block.txs.forEach((tx, i) => { this.keepBody(keys[i] as string, tx) })
  }

  private keepBody (key: string, tx: Tx): void {
    if (this.bodies.has(key)) return
    if (this.bodies.size >= MAX_BODIES) this.bodies.delete(this.bodies.keys().next().value as string)
    this.bodies.set(key, tx)
  }

  /** The block held for exactly these bytes, if any. */
  private heldFor (value: Value): { block: Block, keys: string[], compact: boolean } | undefined {
    const held = this.held.get(toHex(value.hash))
    return held !== undefined && equalBytes(held.bytes, value.bytes) ? { block: held.block, keys: held.keys, compact: true } : undefined
  }

  /** A pending or held tx by hash (hex): the mempool's, or a body kept in `bodies`. */
  private tx (key: string): Tx | undefined { return this.mempool.get(key)?.tx ?? this.bodies.get(key) }

  /**
   * The canonical bytes of txs this manager holds, by hash (served to a replica that lacks them),
   * null for each it does not: pending or in a block it built or validated, or committed (read from
   * the stored block: a restarted manager completes a decided compact block from its WAL this way;
   * at most 16 blocks are read per request).
   */
  async txBytes (keys: string[]): Promise<Array<Uint8Array | null>> {
    const out = keys.map((k) => { const tx = this.tx(k); return tx === undefined ? null : encodeTx(tx) })
    const byHeight = new Map<number, number[]>()
    for (const [i, k] of keys.entries()) {
      const h = out[i] === null && byHeight.size <= 16 ? (await this.chain.txLocation(k))?.height : undefined
      if (h !== undefined && (byHeight.has(h) || byHeight.size < 16)) byHeight.set(h, [...(byHeight.get(h) ?? []), i])
    }
    for (const [h, idx] of byHeight) {
      const block = await this.chain.block(h)
      if (block === undefined) continue
      const ks = txKeys(block)
      for (const i of idx) {
        const j = ks.indexOf(keys[i] as string)
        if (j >= 0) out[i] = encodeTx(block.txs[j] as Tx)
      }
    }
    return out
  }

  /**
   * Reads a value: a compact block (header + tx hashes), its txs resolved from the mempool and
   * `bodies`, or an encoded block (a certified block adopted by sync). Throws BlockError on bytes
   * that are neither.
   */
  private parse (value: Value): Parsed {
    let compact
    if (value.bytes.length <= MAX_COMPACT_BLOCK_BYTES) {
      try { compact = decodeCompactBlock(value.bytes) } catch { compact = undefined } // (then it must be an encoded block)
    }
    if (compact === undefined) {
      const block = decodeBlock(value.bytes)
      return { block, keys: txKeys(block), compact: false }
    }
    const keys = compact.txHashes.map(toHex)
    const txs: Tx[] = []
    const missing: string[] = []
    for (const k of keys) {
      const tx = this.tx(k)
      if (tx === undefined) missing.push(k)
      else txs.push(tx)
    }
    return missing.length > 0 ? { missing } : { block: { header: compact.header, txs }, keys, compact: true }
  }

  /** Hashes (hex) of the txs of a proposed value this manager does not hold (none for a value it cannot read). */
  missingTxs (value: Value): string[] {
    if (this.heldFor(value) !== undefined) return []
    try {
      const p = this.parse(value)
      return p.missing ?? []
    } catch { return [] }
  }

  /**
   * Fetches missing tx bodies from manager `from`: each answer must decode as a tx and hash to the
   * hash asked for, else it is dropped (and logged). Returns how many are still missing. A fetched
   * body is validated like any tx of a proposal (signatures, committed state) by `validateProposal`.
   */
  async fetchTxs (from: number, keys: string[], timeoutMs?: number): Promise<number> {
    const want = keys.filter((k) => this.tx(k) === undefined)
    if (want.length === 0 || this.opts.fetchTxs === undefined) return want.length
    let answers: Array<Uint8Array | null>
    try { answers = await this.opts.fetchTxs(from, want, timeoutMs) } catch (err) {
      this.opts.log.warn(`manager ${from} did not supply ${want.length} tx bodies: ${(err as Error).message}`)
      return want.length
    }
    let bad = 0
    want.forEach((k, i) => {
      const b = answers[i]
      if (!(b instanceof Uint8Array)) return
      if (toHex(sha256(b)) !== k) { bad++; return }
      try { this.keepBody(k, decodeTx(b)); this.fetchStats.fetched++ } catch { bad++ }
    })
    this.fetchStats.refused += bad
    if (bad > 0) this.opts.log.warn(`manager ${from} supplied ${bad} tx bodies that do not hash to the hashes asked for (or do not decode); dropped`)
    return want.filter((k) => this.tx(k) === undefined).length
  }

  /**
   * Applies a committed block: one atomic batch with the block's bytes as agreed, its
   * certificate, and `extra` (the WAL records it decides). Then the mempool and the committed
   * state follow.
   */
  async commit (value: Value, cert: CommitCertificate, extra: BatchOp[]): Promise<CommitOutcome> {
    const parsed = this.heldFor(value) ?? await this.parseFetching(value, cert.height)
    const { block, keys } = parsed
    const height = block.header.height
    await this.committed.prepareValue(toHex(value.hash), block, keys)
    // Checked before the block is made durable: validateProposal refused any block with a conflict,
    // so this fires only for a certified block adopted by sync that a Byzantine quorum signed.
    const conflict = this.committed.conflict(block, { keys }) ?? this.keyEpochs.conflict(block)
    if (conflict !== undefined) throw new NodeError('STORE_INCONSISTENT', `certified block ${height} cannot be applied: ${conflict}`)
    const blockBytes = parsed.compact ? encodeBlockFromParts(block.header, block.txs.map((tx) => encodeTx(tx))) : value.bytes
    // a manager change: the next configuration is written in the same batch as the block
    let history = this.history
    for (const tx of block.txs) {
      if (tx.type !== 'manager') continue
      try { history = history.commit(tx, height) } catch (err) { throw new NodeError('STORE_INCONSISTENT', `certified block ${height} carries a manager change that does not apply: ${(err as Error).message}`) }
      extra = [...extra, { type: 'put', key: consortiumKey(history.latest.activationHeight), value: encodeConsortiumConfig(history.latest) }]
    }
    await this.chain.append(block, cert, { blockBytes, extra: [...extra, ...this.gov.commitOps(block), ...this.keyEpochs.ops(block)] })
    if (history !== this.history) {
      this.history = history
      this.opts.log.info(`manager change committed at height ${height}: ${history.latest.managers.length} managers from height ${history.latest.activationHeight}`)
    }
    for (const [k, b] of this.held) if (b.block.header.height <= height) this.held.delete(k)
    this.committed.apply(block, keys)
    this.gov.apply(block)
    this.keyEpochs.apply(block)
    for (const key of keys) {
      this.mempool.removeKey(key)
      this.verifiedTxs.delete(key)
      this.bodies.delete(key)
    }
    const dropped: CommitOutcome['dropped'] = []
    this.mempool.prune((s) => {
      const key = Mempool.key(s.txBytes)
      if (this.stale(s.tx, key) !== true) return false
      // another tx took its record id or an index label: its waiting submitter is told now, truthfully
      if (this.committed.fact(`t:${key}`) === null) dropped.push({ key, err: this.staleError(s.tx, key, height) })
      return true
    })
    this.committed.sweepPending((key) => this.mempool.hasKey(key))
    return { height, block, keys, dropped }
  }

  /**
   * A decided value's block. Its txs may be missing only after a restart (the WAL holds the
   * decided compact block; the mempool is gone): any manager that committed or validated it has
   * them, so each is asked in turn, a few rounds. The certificate binds the header, whose txRoot
   * binds the txs, so bodies that hash to the listed hashes are the decided ones.
   */
  private async parseFetching (value: Value, height: number): Promise<{ block: Block, keys: string[], compact: boolean }> {
    for (let round = 0; ; round++) {
      const p = this.parse(value)
      if (p.missing === undefined) return p
      if (round === 5) throw new NodeError('UNREACHABLE', `block ${height} is decided but ${p.missing.length} of its tx bodies could not be fetched from any manager`)
      const n = this.history.at(height).managers.length
      for (let m = 0; m < n && p.missing.length > 0; m++) {
        if (m !== this.selfAt(height) && await this.fetchTxs(m, p.missing) === 0) break
      }
      if (this.parse(value).missing !== undefined) await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** round))
    }
  }
}
