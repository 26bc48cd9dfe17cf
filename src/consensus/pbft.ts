/**
 * PBFT as a deterministic state machine. `Pbft.step(event)` consumes one event and returns the
 * effects the driver must execute, in order. No I/O, no clock, no randomness: time arrives in
 * events, signing/verification/validation are synchronous ports, and everything else (network,
 * write-ahead log, block storage, mempool, sync) is an effect.
 *
 * One instance decides one height at a time, starting from the configured head. Per height, views
 * start at 0; the leader of (height, view) comes from a `LeaderSchedule`: rotation by height that
 * skips managers which recently failed to propose (folded from the committed blocks' origins).
 * See docs/CONSENSUS.md for the protocol, its safety argument and the leader choice.
 */
import type { CommitCertificate, CommitSignature } from '../blocks/types.js'
import { voteSignBytes } from '../blocks/vote.js'
import { equalBytes, fromHex, toHex } from '../crypto/index.js'
import { checkCommitCertificate, checkMessageSignature, checkNewView, checkViewChange, highestPrepared, type CheckContext } from './certs.js'
import { ConsensusError } from './errors.js'
import { LeaderSchedule, type ProposalOrigin } from './leaders.js'
import { heartbeatSignBytes, maxFaulty, newViewSignBytes, prePrepareSignBytes, quorumSize, viewChangeSignBytes } from './signing.js'
import type {
  ConsensusConfig, ConsensusEffect, ConsensusEvent, ConsensusMessage, ConsensusPorts, ConsensusTiming,
  HeartbeatMsg, NewViewMsg, PreparedCert, PrePrepareMsg, ValidateResult, Value, ViewChangeMsg, VoteMsg, WalRecord
} from './types.js'

/** Defaults for a LAN consortium of a handful of managers (ms). */
export const DEFAULT_TIMING: Readonly<ConsensusTiming> = Object.freeze({
  blockInterval: 50,
  maxBlockRecords: 500,
  heartbeatInterval: 500,
  viewChangeTimeout: 2000,
  maxTimeoutDoublings: 5,
  retransmitInterval: 1000,
  syncDelay: 300,
  leaderBlacklistHeights: 256
})

/** Votes, pre-prepares and view-changes are kept for at most this many views beyond the current one. */
export const MAX_VIEW_AHEAD = 16
/** Cap on the doublings of the spacing between unanswered sync requests (syncDelay × 2^k). */
export const MAX_SYNC_DOUBLINGS = 3
/** Verified messages for the next height buffered per sender. */
export const MAX_FUTURE_PER_SENDER = 32

type Hex = string

/** Everything a node tracks about the height being decided; discarded when it commits. */
interface HeightState {
  /** Values that passed the app's validation (or came from our own WAL), by hash. */
  values: Map<Hex, Value>
  /** Who proposed each validated value, in which view (when the app reports it). */
  origins: Map<Hex, ProposalOrigin>
  /** Validated values that change the manager set (the app reported `reconfig`). */
  reconfigs: Set<Hex>
  /** First valid pre-prepare per view. */
  prePrepares: Map<number, PrePrepareMsg>
  prepares: Map<number, Map<number, VoteMsg>>
  commits: Map<number, Map<number, VoteMsg>>
  viewChanges: Map<number, Map<number, ViewChangeMsg>>
  /** Accepted (or own) NEW-VIEW per view. */
  newViews: Map<number, NewViewMsg>
  /** Views in which pre-prepares may be accepted: required hash, or null for a free choice. */
  established: Map<number, Hex | null>
  myPrePrepare: Map<number, Value>
  myPrepare: Map<number, Hex>
  myCommit: Map<number, Hex>
  myNewView: Set<number>
  /** Highest prepared certificate (with the value's bytes). */
  prepared: { cert: PreparedCert, bytes: Uint8Array } | null
  /** Own signed messages, for retransmission; key `${type}:${view}`. */
  own: Map<string, ConsensusMessage>
  heartbeatSeq: number
  evidence: Set<string>
  nvSentAt: Map<number, number>
}

function newHeightState (): HeightState {
  return {
    values: new Map(),
    origins: new Map(),
    reconfigs: new Set(),
    prePrepares: new Map(),
    prepares: new Map(),
    commits: new Map(),
    viewChanges: new Map(),
    newViews: new Map(),
    established: new Map([[0, null]]),
    myPrePrepare: new Map(),
    myPrepare: new Map(),
    myCommit: new Map(),
    myNewView: new Set(),
    prepared: null,
    own: new Map(),
    heartbeatSeq: -Infinity,
    evidence: new Set(),
    nvSentAt: new Map()
  }
}

function getOrCreate<K, V> (m: Map<K, V>, k: K, make: () => V): V {
  let v = m.get(k)
  if (v === undefined) { v = make(); m.set(k, v) }
  return v
}

function isHash (b: unknown): b is Uint8Array {
  return b instanceof Uint8Array && b.length === 32
}

/** Read-only snapshot of a node's progress (for drivers, metrics and tests). */
export interface PbftStatus {
  height: number
  view: number
  /** False while waiting for the NEW-VIEW of `view`. */
  active: boolean
  leader: number
  parentHash: Uint8Array
  preparedView: number | null
  knownHeight: number
  /** Managers the leader schedule keeps out of view-0 leadership at `height`. */
  blacklisted: number[]
  /** The last height of this manager set's epoch (Infinity while no change is known). */
  lastHeight: number
  /** True once `lastHeight` is decided: the instance ignores every event from then on. */
  done: boolean
}

export class Pbft {
  readonly chainId: string
  readonly n: number
  readonly self: number
  readonly timing: Readonly<ConsensusTiming>
  readonly quorum: number
  readonly faulty: number

  private readonly ports: ConsensusPorts
  private readonly ctx: CheckContext
  private readonly schedule: LeaderSchedule
  /** Highest `height` of a `leaders` WAL record written or restored (labels never decrease). */
  private leadersLabel = 0
  private started = false
  private now = 0
  private fx: ConsensusEffect[] = []

  private height: number
  private parentHash: Uint8Array
  private view = 0
  private active = true
  private hs: HeightState = newHeightState()

  private mempoolSize = 0
  private progressDeadline = Infinity
  private nextHeartbeat = Infinity
  private nextRetransmit = Infinity
  private lastPrePrepareAt = -Infinity
  private throttleUntil = -Infinity
  /** When this node decided its last height, and whether its mempool was seen empty since (see `proposeNotBefore`). */
  private decidedAt = -Infinity
  private idleSinceDecided = true
  private building: { height: number, view: number, at: number } | null = null
  private future = new Map<number, ConsensusMessage[]>()
  /** Highest height each other manager was seen working on (validly signed messages only). */
  private peerHeights = new Map<number, number>()
  /** Highest height a manager was seen working on; > height means we are (probably) behind. */
  private knownHeight: number
  private aheadSince = Infinity
  /** Sync requests since the last commit: their spacing doubles, so a lying manager costs little. */
  private syncAttempts = 0
  private nextSyncAt = -Infinity
  private lastScheduled = NaN
  /** Last height of this epoch (see `ConsensusConfig.lastHeight`), and whether it is decided. */
  private lastHeight: number
  private readonly configDelay: number
  private done = false

  constructor (config: ConsensusConfig, ports: ConsensusPorts) {
    const { chainId, managers: n, self, head } = config
    if (typeof chainId !== 'string' || chainId.length === 0) throw new ConsensusError('BAD_CONFIG', 'chainId must be a non-empty string')
    if (!Number.isInteger(n) || n < 1 || n > 1024) throw new ConsensusError('BAD_CONFIG', `bad manager count ${n}`)
    if (!Number.isInteger(self) || self < 0 || self >= n) throw new ConsensusError('BAD_CONFIG', `bad self index ${self}`)
    if (!Number.isSafeInteger(head?.height) || head.height < 0 || !isHash(head.hash)) throw new ConsensusError('BAD_CONFIG', 'head must be { height ≥ 0, hash: 32 bytes }')
    const timing = { ...DEFAULT_TIMING, ...config.timing }
    for (const [k, v] of Object.entries(timing)) {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConsensusError('BAD_CONFIG', `bad timing.${k}`)
    }
    if (timing.maxBlockRecords < 1 || timing.viewChangeTimeout <= 0 || timing.retransmitInterval <= 0 || timing.heartbeatInterval <= 0) {
      throw new ConsensusError('BAD_CONFIG', 'maxBlockRecords, viewChangeTimeout, retransmitInterval and heartbeatInterval must be positive')
    }
    if (timing.viewChangeTimeout <= timing.blockInterval + timing.heartbeatInterval) {
      throw new ConsensusError('BAD_CONFIG', 'viewChangeTimeout must exceed blockInterval + heartbeatInterval')
    }
    this.chainId = chainId
    this.n = n
    this.self = self
    this.timing = Object.freeze(timing)
    this.quorum = quorumSize(n)
    this.faulty = maxFaulty(n)
    this.ports = ports
    this.schedule = new LeaderSchedule(n, this.faulty, timing.leaderBlacklistHeights)
    this.ctx = { chainId, n, verifier: ports.verifier, leader: (h, v) => this.schedule.leader(h, v) }
    this.height = head.height + 1
    this.parentHash = head.hash
    this.knownHeight = this.height
    const last = config.lastHeight ?? Infinity
    if (!(last === Infinity || (Number.isSafeInteger(last) && last >= this.height))) throw new ConsensusError('BAD_CONFIG', `lastHeight ${last} must be at least the next height ${this.height}`)
    this.lastHeight = last
    this.configDelay = config.configDelay ?? 2
    if (!Number.isSafeInteger(this.configDelay) || this.configDelay < 2) throw new ConsensusError('BAD_CONFIG', 'configDelay must be an integer ≥ 2')
    this.epochStart = config.epochStart ?? 1
    if (!Number.isSafeInteger(this.epochStart) || this.epochStart < 1 || this.epochStart > this.height) throw new ConsensusError('BAD_CONFIG', `epochStart ${this.epochStart} must be in [1, ${this.height}]`)
  }

  /** The first height this instance decides (leader blacklist records from before it belong to another manager set). */
  private readonly epochStart: number

  /** Processes one event; returns the effects to execute, in order (see `ConsensusEffect`). */
  step (event: ConsensusEvent): ConsensusEffect[] {
    this.fx = []
    if (this.done) return this.fx
    if (typeof event.now === 'number' && Number.isFinite(event.now) && event.now > this.now) this.now = event.now
    switch (event.type) {
      case 'restored':
        if (this.started) throw new ConsensusError('BAD_EVENT', '`restored` must come before `start`')
        this.restore(event.records)
        return this.fx
      case 'start':
        if (this.started) throw new ConsensusError('BAD_EVENT', 'already started')
        this.started = true
        this.onStart()
        break
      default:
        if (!this.started) return this.fx
        switch (event.type) {
          case 'tick': this.onTick(); break
          case 'message': this.onMessage(event.msg); break
          case 'proposal-built': this.onProposalBuilt(event.height, event.view, event.value); break
          case 'mempool':
            this.mempoolSize = Number.isSafeInteger(event.size) && event.size > 0 ? event.size : 0
            if (this.mempoolSize === 0) this.idleSinceDecided = true
            this.maybePropose()
            break
          case 'sync-block': this.onSyncBlock(event.value, event.certificate); break
        }
    }
    this.scheduleNext()
    return this.fx
  }

  status (): PbftStatus {
    return {
      height: this.height,
      view: this.view,
      active: this.active,
      leader: this.schedule.leader(this.height, this.view),
      parentHash: this.parentHash,
      preparedView: this.hs.prepared?.cert.view ?? null,
      knownHeight: this.knownHeight,
      blacklisted: this.schedule.blacklisted(this.height),
      lastHeight: this.lastHeight,
      done: this.done
    }
  }

  // -------------------------------------------------------------------------------------------
  // Restore and start

  private restore (records: WalRecord[]): void {
    const hs = this.hs
    let leaders: Extract<WalRecord, { kind: 'leaders' }> | null = null
    for (const r of records) {
      if (r.kind !== 'leaders') continue
      // a record with at > height was written before a commit that did not become durable; one with
      // at ≤ epochStart (> 1) by the previous manager set (its indices name other managers)
      if (r.at <= this.height && (this.epochStart === 1 || r.at > this.epochStart) && (leaders === null || r.at >= leaders.at)) leaders = r
      if (r.height > this.leadersLabel) this.leadersLabel = r.height
    }
    if (leaders !== null) this.schedule.restore(leaders.entries)
    for (const r of records) {
      if (r.kind === 'leaders' || r.height !== this.height) continue
      if (r.view > this.view) this.view = r.view
      switch (r.kind) {
        case 'view': break
        case 'new-view':
          hs.myNewView.add(r.view)
          hs.established.set(r.view, r.hash === null ? null : toHex(r.hash))
          break
        case 'pre-prepare': {
          const h = toHex(r.value.hash)
          hs.myPrePrepare.set(r.view, r.value)
          hs.values.set(h, r.value)
          if (!hs.established.has(r.view)) hs.established.set(r.view, h)
          break
        }
        case 'prepare': {
          const h = toHex(r.hash)
          hs.myPrepare.set(r.view, h)
          if (!hs.established.has(r.view)) hs.established.set(r.view, h)
          break
        }
        case 'commit': {
          const h = toHex(r.hash)
          hs.myPrepare.set(r.view, h)
          hs.myCommit.set(r.view, h)
          hs.values.set(h, { hash: r.hash, bytes: r.bytes })
          if (!hs.established.has(r.view)) hs.established.set(r.view, h)
          if (hs.prepared === null || r.prepared.view > hs.prepared.cert.view) hs.prepared = { cert: r.prepared, bytes: r.bytes }
          break
        }
      }
    }
    this.active = hs.established.has(this.view)
  }

  private onStart (): void {
    const hs = this.hs
    // Re-sign what the WAL says we signed: the same content, so never a conflicting message.
    const pp = hs.myPrePrepare.get(this.view)
    if (pp !== undefined && this.active) {
      const msg = this.signPrePrepare(this.view, pp)
      hs.prePrepares.set(this.view, msg)
      hs.own.set(`pre-prepare:${this.view}`, msg)
    }
    for (const [view, h] of hs.myPrepare) {
      if (view !== this.view) continue
      const v = this.signVote('prepare', view, fromHex(h))
      this.addVote(v)
    }
    for (const [view, h] of hs.myCommit) this.addVote(this.signVote('commit', view, fromHex(h)))
    if (!this.active) this.hs.own.set(`view-change:${this.view}`, this.storeOwnViewChange())
    for (const m of hs.own.values()) this.broadcast(m)
    this.resetViewTimers()
    this.maybePropose()
  }

  // -------------------------------------------------------------------------------------------
  // Timers

  private timeoutFor (view: number): number {
    return this.timing.viewChangeTimeout * 2 ** Math.min(view, this.timing.maxTimeoutDoublings)
  }

  private resetViewTimers (): void {
    this.progressDeadline = this.now + this.timeoutFor(this.view)
    this.nextRetransmit = this.now + this.timing.retransmitInterval
    this.nextHeartbeat = this.now + this.timing.heartbeatInterval
  }

  private leaderOf (view: number): number {
    return this.schedule.leader(this.height, view)
  }

  private isLeader (): boolean {
    return this.leaderOf(this.view) === this.self
  }

  /**
   * While records keep coming (the mempool was not seen empty since the last decision), a proposal
   * waits `blockInterval` after the last pre-prepare seen and after that decision, so records
   * submitted meanwhile share a block. After an idle spell the first record is proposed at once
   * (finality at light load). `throttleUntil` spaces retries after a failed build.
   */
  private proposeNotBefore (): number {
    const spacing = this.idleSinceDecided ? -Infinity : Math.max(this.lastPrePrepareAt, this.decidedAt) + this.timing.blockInterval
    return Math.max(spacing, this.throttleUntil)
  }

  private canPropose (): boolean {
    return this.active && this.isLeader() && this.building === null && this.mempoolSize > 0 &&
      this.hs.established.get(this.view) === null && !this.hs.prePrepares.has(this.view) && !this.hs.myPrePrepare.has(this.view)
  }

  private onTick (): void {
    const now = this.now
    if (now >= this.progressDeadline) this.startViewChange(this.view + 1)
    if (this.building !== null && now >= this.building.at + this.timing.retransmitInterval) this.building = null
    this.maybePropose()
    if (this.active && this.isLeader() && !this.hs.prePrepares.has(this.view) && now >= this.nextHeartbeat) {
      const sig = this.ports.signer.sign(heartbeatSignBytes(this.chainId, this.height, this.view, now))
      const hb: HeartbeatMsg = { type: 'heartbeat', height: this.height, view: this.view, from: this.self, seq: now, sig }
      this.broadcast(hb)
      this.nextHeartbeat = now + this.timing.heartbeatInterval
      if (this.mempoolSize === 0) this.progressDeadline = now + this.timeoutFor(this.view) // an idle leader is not stuck
    }
    if (now >= this.nextRetransmit) {
      for (const m of this.retransmittable()) this.broadcast(m)
      this.nextRetransmit = now + this.timing.retransmitInterval
    }
    if (this.knownHeight > this.height && now >= this.aheadSince + this.timing.syncDelay && now >= this.nextSyncAt) {
      const peers = [...this.peerHeights].filter(([, h]) => h > this.height).map(([p]) => p).sort((a, b) => a - b)
      this.fx.push({ type: 'sync', fromHeight: this.height, peers })
      this.nextSyncAt = now + this.timing.syncDelay * 2 ** Math.min(this.syncAttempts, MAX_SYNC_DOUBLINGS)
      this.syncAttempts++
    }
  }

  private retransmittable (): ConsensusMessage[] {
    const out: ConsensusMessage[] = []
    for (const m of this.hs.own.values()) {
      if (m.type === 'commit' || (m.view === this.view && !(m.type === 'view-change' && this.active))) out.push(m)
    }
    return out
  }

  private scheduleNext (): void {
    if (!this.started || this.done) return
    const c: number[] = [this.progressDeadline]
    if (this.active && this.isLeader() && !this.hs.prePrepares.has(this.view)) c.push(this.nextHeartbeat)
    if (this.canPropose()) c.push(this.proposeNotBefore())
    if (this.building !== null) c.push(this.building.at + this.timing.retransmitInterval)
    if (this.retransmittable().length > 0) c.push(this.nextRetransmit)
    if (this.knownHeight > this.height) c.push(Math.max(this.aheadSince + this.timing.syncDelay, this.nextSyncAt))
    let at = Math.min(...c)
    if (!Number.isFinite(at)) return
    if (at <= this.now) at = this.now + 1
    if (at !== this.lastScheduled) {
      this.lastScheduled = at
      this.fx.push({ type: 'schedule-tick', at })
    }
  }

  // -------------------------------------------------------------------------------------------
  // Signing helpers (each caller has written the WAL record first where one is needed)

  private signPrePrepare (view: number, value: Value): PrePrepareMsg {
    const sig = this.ports.signer.sign(prePrepareSignBytes(this.chainId, this.height, view, value.hash))
    return { type: 'pre-prepare', height: this.height, view, from: this.self, value, sig }
  }

  private signVote (type: 'prepare' | 'commit', view: number, hash: Uint8Array): VoteMsg {
    const sig = this.ports.signer.sign(voteSignBytes(type, this.chainId, this.height, view, hash))
    return { type, height: this.height, view, from: this.self, hash, sig }
  }

  /** Signs our VIEW-CHANGE for the current view and stores it among the view's view-changes. */
  private storeOwnViewChange (): ViewChangeMsg {
    const prepared = this.hs.prepared
    const sig = this.ports.signer.sign(viewChangeSignBytes(this.chainId, this.height, this.view, prepared?.cert ?? null))
    const vc: ViewChangeMsg = {
      type: 'view-change', height: this.height, view: this.view, from: this.self,
      prepared: prepared?.cert ?? null, value: prepared?.bytes ?? null, sig
    }
    getOrCreate(this.hs.viewChanges, this.view, () => new Map()).set(this.self, vc)
    return vc
  }

  private wal (record: WalRecord): void {
    if (this.done) return // (nothing is signed after the epoch's last decision)
    this.fx.push({ type: 'wal-append', record })
  }

  private broadcast (msg: ConsensusMessage): void {
    if (this.done) return
    this.fx.push({ type: 'broadcast', msg })
  }

  // -------------------------------------------------------------------------------------------
  // Messages

  private verified (msg: ConsensusMessage): boolean {
    return checkMessageSignature(this.ctx, msg)
  }

  private onMessage (msg: ConsensusMessage): void {
    if (typeof msg !== 'object' || msg === null) return
    if (!Number.isInteger(msg.from) || msg.from < 0 || msg.from >= this.n || msg.from === this.self) return
    if (!Number.isSafeInteger(msg.height) || !Number.isSafeInteger(msg.view) || msg.view < 0) return
    if (msg.height < this.height) return
    if (msg.height > this.height) {
      if (!this.verified(msg)) return
      this.noteAhead(msg.height, msg.from)
      if (msg.height === this.height + 1) {
        const q = getOrCreate(this.future, msg.from, () => [])
        if (q.length < MAX_FUTURE_PER_SENDER) q.push(msg)
      }
      return
    }
    this.handleCurrent(msg, false)
  }

  private handleCurrent (msg: ConsensusMessage, verified: boolean): void {
    switch (msg.type) {
      case 'pre-prepare': this.onPrePrepare(msg, verified); break
      case 'prepare':
      case 'commit': this.onVote(msg, verified); break
      case 'view-change': this.onViewChange(msg); break
      case 'new-view': this.onNewView(msg); break
      case 'heartbeat': this.onHeartbeat(msg, verified); break
    }
  }

  private noteAhead (height: number, from: number): void {
    if (height <= this.height) return
    if (height <= (this.peerHeights.get(from) ?? 0)) return
    this.peerHeights.set(from, height)
    // One honest manager ahead suffices to need a sync (the others may be stuck with us), so a single
    // signed message counts; a Byzantine one lying about its height only earns backed-off requests.
    if (height > this.knownHeight) this.knownHeight = height
    if (this.aheadSince === Infinity) this.aheadSince = this.now
  }

  private equivocation (a: PrePrepareMsg | VoteMsg, b: PrePrepareMsg | VoteMsg): void {
    const key = `${a.type}:${a.from}:${a.view}`
    if (this.hs.evidence.has(key)) return
    this.hs.evidence.add(key)
    this.fx.push({ type: 'evidence', evidence: { validator: a.from, a, b } })
  }

  /** A value is usable once the app validated it; the first valid bytes for a hash are kept. */
  private acceptValue (value: Value): boolean {
    if (typeof value !== 'object' || value === null || !isHash(value.hash) || !(value.bytes instanceof Uint8Array)) return false
    const h = toHex(value.hash)
    if (this.hs.values.has(h)) return true
    const r = this.validate(value)
    if (r === null) return false
    this.hs.values.set(h, value)
    if (r.origin !== undefined) this.hs.origins.set(h, r.origin)
    if (r.reconfig === true) this.hs.reconfigs.add(h)
    return true
  }

  /** The app's verdict; null if invalid. A reported origin that names no manager is ignored. */
  private validate (value: Value): { origin?: ProposalOrigin, reconfig?: boolean } | null {
    let r: ValidateResult
    try { r = this.ports.app.validate(this.height, value, this.parentHash) } catch { return null }
    if (!r.ok) return null
    const o = r.origin
    const good = o !== undefined && Number.isInteger(o.proposer) && o.proposer >= 0 && o.proposer < this.n && Number.isSafeInteger(o.view) && o.view >= 0
    const reconfig = r.reconfig === true ? { reconfig: true } : {}
    return good ? { origin: { proposer: o.proposer, view: o.view }, ...reconfig } : reconfig
  }

  /**
   * A fresh proposal (a view where the leader chooses freely) must say it is the leader's own, of
   * this view: the origin is what the leader schedule learns from, so a leader cannot pass its block
   * off as another manager's or as a later view's (which would blacklist the leaders before it).
   */
  private freshOriginOk (pp: PrePrepareMsg): boolean {
    const o = this.hs.origins.get(toHex(pp.value.hash))
    return o === undefined || (o.proposer === pp.from && o.view === pp.view)
  }

  private onPrePrepare (pp: PrePrepareMsg, verified: boolean): void {
    const v = pp.view
    if (pp.from !== this.leaderOf(v) || v > this.view + MAX_VIEW_AHEAD) return
    if (typeof pp.value !== 'object' || pp.value === null || !isHash(pp.value.hash)) return
    const existing = this.hs.prePrepares.get(v)
    if (existing !== undefined) {
      if (equalBytes(existing.value.hash, pp.value.hash)) return
      if (verified || this.verified(pp)) this.equivocation(existing, pp)
      return
    }
    if (!verified && !this.verified(pp)) return
    if (!this.acceptValue(pp.value)) return
    this.hs.prePrepares.set(v, pp)
    if (v === this.view && this.active) {
      this.lastPrePrepareAt = this.now
      this.progressDeadline = this.now + this.timeoutFor(v)
    }
    this.tryPrepare(v)
    this.checkDecidedAll()
  }

  private tryPrepare (v: number): void {
    if (!this.active || v !== this.view) return
    const hs = this.hs
    const pp = hs.prePrepares.get(v)
    if (pp === undefined) return
    const required = hs.established.get(v)
    if (required === undefined) return
    const h = toHex(pp.value.hash)
    if (required !== null && required !== h) return
    if (required === null && !this.freshOriginOk(pp)) return
    const mine = hs.myPrepare.get(v)
    if (mine === undefined) {
      this.wal({ kind: 'prepare', height: this.height, view: v, hash: pp.value.hash })
      hs.myPrepare.set(v, h)
      this.addVote(this.signVote('prepare', v, pp.value.hash))
      this.broadcast(hs.own.get(`prepare:${v}`) as VoteMsg)
    } else if (mine !== h) {
      return // never prepare two values in one view
    }
    this.checkPrepared(v)
  }

  /** Stores our own vote (and remembers it for retransmission). */
  private addVote (vote: VoteMsg): void {
    const votes = vote.type === 'prepare' ? this.hs.prepares : this.hs.commits
    getOrCreate(votes, vote.view, () => new Map()).set(this.self, vote)
    this.hs.own.set(`${vote.type}:${vote.view}`, vote)
  }

  private onVote (vote: VoteMsg, verified: boolean): void {
    const v = vote.view
    if (v > this.view + MAX_VIEW_AHEAD || !isHash(vote.hash)) return
    const votes = getOrCreate(vote.type === 'prepare' ? this.hs.prepares : this.hs.commits, v, () => new Map())
    const existing = votes.get(vote.from)
    if (existing !== undefined) {
      if (equalBytes(existing.hash, vote.hash)) return
      if (verified || this.verified(vote)) this.equivocation(existing, vote)
      return
    }
    if (!verified && !this.verified(vote)) return
    votes.set(vote.from, vote)
    if (vote.type === 'prepare') this.checkPrepared(v)
    else this.checkDecided(v, toHex(vote.hash))
  }

  private matching (votes: Map<number, VoteMsg> | undefined, h: Hex): VoteMsg[] {
    const out: VoteMsg[] = []
    if (votes === undefined) return out
    for (const vote of votes.values()) if (toHex(vote.hash) === h) out.push(vote)
    return out
  }

  private static signatures (votes: VoteMsg[], count: number): CommitSignature[] {
    return [...votes].sort((a, b) => a.from - b.from).slice(0, count).map((x) => ({ validator: x.from, signature: x.sig }))
  }

  private checkPrepared (v: number): void {
    const hs = this.hs
    if (!this.active || v !== this.view || hs.myCommit.has(v)) return
    const pp = hs.prePrepares.get(v)
    if (pp === undefined) return
    const h = toHex(pp.value.hash)
    if (hs.myPrepare.get(v) !== h) return
    const prepares = this.matching(hs.prepares.get(v), h)
    if (prepares.length < this.quorum) return
    const value = hs.values.get(h)
    if (value === undefined) return
    const cert: PreparedCert = { view: v, hash: value.hash, prePrepareSig: pp.sig, prepares: Pbft.signatures(prepares, this.quorum) }
    this.wal({ kind: 'commit', height: this.height, view: v, hash: value.hash, prepared: cert, bytes: value.bytes })
    hs.myCommit.set(v, h)
    if (hs.prepared === null || v > hs.prepared.cert.view) hs.prepared = { cert, bytes: value.bytes }
    this.addVote(this.signVote('commit', v, value.hash))
    this.broadcast(hs.own.get(`commit:${v}`) as VoteMsg)
    this.checkDecided(v, h)
  }

  private checkDecidedAll (): void {
    for (const [v, votes] of this.hs.commits) {
      const hashes = new Set<Hex>()
      for (const vote of votes.values()) hashes.add(toHex(vote.hash))
      for (const h of hashes) if (this.checkDecided(v, h)) return
    }
  }

  /** Commits if a quorum of commit votes for (view, hash) is known and we hold the value. */
  private checkDecided (v: number, h: Hex): boolean {
    const commits = this.matching(this.hs.commits.get(v), h)
    if (commits.length < this.quorum) return false
    const value = this.hs.values.get(h)
    if (value === undefined) {
      for (const c of commits) this.noteAhead(this.height + 1, c.from) // decided, but we lack the block: sync it
      return false
    }
    const certificate: CommitCertificate = {
      chainId: this.chainId, height: this.height, view: v, headerHash: value.hash, signatures: Pbft.signatures(commits, this.quorum)
    }
    this.decide(value, certificate)
    return true
  }

  private decide (value: Value, certificate: CommitCertificate): void {
    this.noteDecided(value, certificate)
    this.fx.push({ type: 'commit', height: this.height, value, certificate })
    if (this.hs.reconfigs.has(toHex(value.hash))) this.lastHeight = Math.min(this.lastHeight, this.height + this.configDelay - 1)
    if (this.height >= this.lastHeight) {
      // the epoch is over: the next height belongs to the next manager set's instance
      this.done = true
      this.height += 1
      this.parentHash = value.hash
      this.hs = newHeightState()
      this.future = new Map()
      return
    }
    this.height += 1
    this.parentHash = value.hash
    this.view = 0
    this.active = true
    this.hs = newHeightState()
    this.building = null
    this.throttleUntil = -Infinity
    this.decidedAt = this.now
    this.idleSinceDecided = false
    this.resetViewTimers()
    this.syncAttempts = 0
    this.nextSyncAt = -Infinity
    if (this.knownHeight <= this.height) {
      this.knownHeight = this.height
      this.aheadSince = Infinity
    }
    const buffered = [...this.future.values()].flat()
    this.future = new Map()
    const startHeight = this.height
    for (const m of buffered) {
      if (this.height !== startHeight) break // a buffered quorum already decided this height too
      this.handleCurrent(m, true)
    }
    if (this.height === startHeight) this.maybePropose()
  }

  /**
   * Folds the decision into the leader schedule and, if the blacklist changed, logs it (before the
   * commit effect, so a restart at any point finds the blacklist that goes with its head).
   */
  private noteDecided (value: Value, certificate: CommitCertificate): void {
    const h = toHex(value.hash)
    let origin = this.hs.origins.get(h)
    if (origin === undefined && this.hs.values.get(h) !== undefined) { // restored from our WAL
      const r = this.validate(value)
      origin = r?.origin
      if (r?.reconfig === true) this.hs.reconfigs.add(h)
    }
    // Without an origin from the app: this node's own view of the decision (may differ between nodes).
    origin ??= { proposer: this.leaderOf(certificate.view), view: certificate.view }
    if (!this.schedule.decided(this.height, origin)) return
    const at = this.height + 1
    this.leadersLabel = Math.max(this.leadersLabel, at, this.schedule.lastRelevantHeight() ?? at)
    this.wal({ kind: 'leaders', height: this.leadersLabel, at, entries: this.schedule.snapshot() })
  }

  // -------------------------------------------------------------------------------------------
  // Proposals

  private maybePropose (): void {
    if (!this.started || this.done || !this.canPropose() || this.now < this.proposeNotBefore()) return
    this.building = { height: this.height, view: this.view, at: this.now }
    this.fx.push({ type: 'build-proposal', height: this.height, view: this.view, maxRecords: this.timing.maxBlockRecords })
  }

  private onProposalBuilt (height: number, view: number, value: Value | null): void {
    const b = this.building
    if (b === null || b.height !== height || b.view !== view) return
    this.building = null
    if (height !== this.height || view !== this.view) return
    if (value === null || !this.canPropose() || !this.acceptValue(value)) {
      this.throttleUntil = this.now + this.timing.blockInterval
      return
    }
    const hs = this.hs
    this.wal({ kind: 'pre-prepare', height: this.height, view, value })
    hs.myPrePrepare.set(view, value)
    const pp = this.signPrePrepare(view, value)
    hs.prePrepares.set(view, pp)
    hs.own.set(`pre-prepare:${view}`, pp)
    this.broadcast(pp)
    this.lastPrePrepareAt = this.now
    this.progressDeadline = this.now + this.timeoutFor(view)
    this.tryPrepare(view)
  }

  private onHeartbeat (hb: HeartbeatMsg, verified: boolean): void {
    if (hb.view !== this.view || !this.active || hb.from !== this.leaderOf(this.view)) return
    if (typeof hb.seq !== 'number' || !(hb.seq > this.hs.heartbeatSeq)) return
    if (!verified && !this.verified(hb)) return
    this.hs.heartbeatSeq = hb.seq
    // An idle leader is alive; with pending records or a pending proposal, only progress counts.
    if (!this.hs.prePrepares.has(this.view) && this.mempoolSize === 0) this.progressDeadline = this.now + this.timeoutFor(this.view)
  }

  // -------------------------------------------------------------------------------------------
  // View change

  private startViewChange (view: number): void {
    if (view <= this.view) return
    this.view = view
    this.active = false
    this.building = null
    this.wal({ kind: 'view', height: this.height, view })
    const vc = this.storeOwnViewChange()
    this.hs.own.set(`view-change:${view}`, vc)
    this.broadcast(vc)
    this.resetViewTimers()
    this.applyViewChangeRules()
  }

  private onViewChange (vc: ViewChangeMsg): void {
    const v = vc.view
    const hs = this.hs
    if (v < this.view || (v === this.view && this.active)) {
      // The sender lags behind our view: hand it the NEW-VIEW that established ours.
      const nv = hs.newViews.get(this.view)
      const last = hs.nvSentAt.get(vc.from) ?? -Infinity
      if (this.active && nv !== undefined && this.now >= last + this.timing.retransmitInterval && this.verified(vc)) {
        hs.nvSentAt.set(vc.from, this.now)
        this.fx.push({ type: 'send', to: vc.from, msg: nv })
      }
      return
    }
    if (v > this.view + MAX_VIEW_AHEAD) return
    const vcs = getOrCreate(hs.viewChanges, v, () => new Map())
    if (vcs.has(vc.from)) return
    if (!checkViewChange(this.ctx, vc)) return
    if (vc.value !== null && vc.prepared !== null && vc.value instanceof Uint8Array) {
      this.acceptValue({ hash: vc.prepared.hash, bytes: vc.value })
    }
    vcs.set(vc.from, vc)
    this.applyViewChangeRules()
    this.checkDecidedAll()
  }

  private applyViewChangeRules (): void {
    // f+1 managers want a later view: at least one honest one timed out, so join (PBFT's liveness rule).
    const maxBySender = new Map<number, number>()
    for (const [v, vcs] of this.hs.viewChanges) {
      if (v <= this.view) continue
      for (const from of vcs.keys()) {
        if (from !== this.self && v > (maxBySender.get(from) ?? -1)) maxBySender.set(from, v)
      }
    }
    if (maxBySender.size >= this.faulty + 1) {
      const views = [...maxBySender.values()].sort((a, b) => b - a)
      const target = views[this.faulty] as number
      if (target > this.view) { this.startViewChange(target); return }
    }
    this.maybeSendNewView()
  }

  private maybeSendNewView (): void {
    const hs = this.hs
    const view = this.view
    if (this.active || !this.isLeader() || hs.myNewView.has(view)) return
    const vcs = hs.viewChanges.get(view)
    if (vcs === undefined || vcs.size < this.quorum) return
    const all = [...vcs.values()].sort((a, b) => a.from - b.from)
    const best = highestPrepared(all)
    let value: Value | null = null
    if (best !== null) {
      const h = toHex(best.cert.hash)
      for (const vc of all) {
        if (vc.value !== null && vc.prepared !== null && toHex(vc.prepared.hash) === h) this.acceptValue({ hash: vc.prepared.hash, bytes: vc.value })
      }
      value = hs.values.get(h) ?? null
      if (value === null) return // wait for a view-change that carries the prepared block's bytes
    }
    const chosen = best === null ? all.slice(0, this.quorum) : [best.vc, ...all.filter((x) => x !== best.vc).slice(0, this.quorum - 1)]
    chosen.sort((a, b) => a.from - b.from)
    const stripped = chosen.map((vc): ViewChangeMsg => ({ ...vc, value: null }))
    this.wal({ kind: 'new-view', height: this.height, view, hash: value?.hash ?? null })
    let pp: PrePrepareMsg | null = null
    if (value !== null) {
      this.wal({ kind: 'pre-prepare', height: this.height, view, value })
      hs.myPrePrepare.set(view, value)
      pp = this.signPrePrepare(view, value)
      hs.prePrepares.set(view, pp)
      this.lastPrePrepareAt = this.now
    }
    const sig = this.ports.signer.sign(newViewSignBytes(this.chainId, this.height, view, stripped.map((x) => x.from), pp?.value.hash ?? null))
    const nv: NewViewMsg = { type: 'new-view', height: this.height, view, from: this.self, viewChanges: stripped, prePrepare: pp, sig }
    hs.myNewView.add(view)
    hs.newViews.set(view, nv)
    hs.established.set(view, value === null ? null : toHex(value.hash))
    hs.own.set(`new-view:${view}`, nv)
    this.active = true
    this.broadcast(nv)
    this.resetViewTimers()
    this.tryPrepare(view)
    this.maybePropose()
  }

  private onNewView (nv: NewViewMsg): void {
    const v = nv.view
    if (v < this.view || (v === this.view && this.active) || v > this.view + MAX_VIEW_AHEAD) return
    const check = checkNewView(this.ctx, nv)
    if (!check.ok) return
    const pp = nv.prePrepare
    if (pp !== null && !this.acceptValue(pp.value)) return
    const hs = this.hs
    if (v > this.view) {
      this.view = v
      this.wal({ kind: 'view', height: this.height, view: v })
    }
    this.active = true
    this.building = null
    hs.established.set(v, check.required === null ? null : toHex(check.required.hash))
    hs.newViews.set(v, nv)
    this.resetViewTimers()
    if (pp !== null) {
      const existing = hs.prePrepares.get(v)
      if (existing === undefined) hs.prePrepares.set(v, pp)
      else if (!equalBytes(existing.value.hash, pp.value.hash)) this.equivocation(existing, pp)
      this.lastPrePrepareAt = this.now
    }
    this.tryPrepare(v)
    this.checkDecidedAll()
    if (this.height === nv.height) this.maybePropose()
  }

  // -------------------------------------------------------------------------------------------
  // Catch-up

  private onSyncBlock (value: Value, certificate: CommitCertificate): void {
    if (typeof value !== 'object' || value === null || typeof certificate !== 'object' || certificate === null) return
    if (certificate.height !== this.height || !isHash(value.hash) || !equalBytes(certificate.headerHash, value.hash)) return
    if (!checkCommitCertificate(this.ctx, certificate, this.height, value.hash)) return
    if (!this.acceptValue(value)) return
    this.decide(this.hs.values.get(toHex(value.hash)) as Value, certificate)
  }
}
