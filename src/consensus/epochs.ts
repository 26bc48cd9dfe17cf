/**
 * PBFT across changes of the manager set. An **epoch** is a run of heights certified by one manager
 * set; a `Pbft` instance decides the heights of one epoch and is `done` after its last one (it
 * learns the end from the app: a decided block that reports `reconfig` ends the epoch
 * `configDelay − 1` heights later). `EpochPbft` holds the current instance and, once the driver has
 * executed the effects of a step (so the app has applied every commit), `advance` replaces a done
 * instance with the next epoch's: n, f, the quorum, the leader schedule and the keys change at the
 * boundary height. Messages of the old set for heights of the new epoch are never counted: the
 * new instance verifies with the new set's keys and indices; certificates of earlier heights were
 * verified by the instance of their epoch.
 *
 * A node that is not a member of the epoch at its next height (a hospital that joins later, or
 * one that left) **follows**: it asks for certified blocks (`sync` effects, every `followSyncMs`)
 * and adopts each one whose certificate verifies against the manager set of that height and that
 * the app validates; when an epoch in which it is a member begins, it starts a `Pbft` instance and
 * takes part from that height on.
 *
 * Pure like `Pbft`: no I/O, no clock; `epochAt` is a synchronous port into the app's committed
 * state (src/blocks/consortium.ts `ConsortiumHistory` in pqmed).
 */
import type { CommitCertificate } from '../blocks/types.js'
import { equalBytes } from '../crypto/index.js'
import { checkCommitCertificate } from './certs.js'
import { ConsensusError } from './errors.js'
import { Pbft } from './pbft.js'
import type { AppPort, ConsensusEffect, ConsensusEvent, ConsensusTiming, Head, SignerPort, Value, VerifierPort } from './types.js'

/** The manager set certifying a height, as this node sees it. */
export interface Epoch {
  /** Number of managers. */
  n: number
  /** This node's index in the set, or −1 if it is not a member. */
  self: number
  /** Verifies signatures of this set's managers (by index in this set). */
  verifier: VerifierPort
  /** Signs as this node's key in this set (members only; a rotated key signs from its first height). */
  signer?: SignerPort
  /** The epoch's last height, if a change is already committed (after a restart); else Infinity. */
  lastHeight?: number
  /** The epoch's first height (the configuration's activation height); default 1. */
  firstHeight?: number
}

export interface EpochPorts {
  app: AppPort
  /** The manager set certifying `height` (called with the next height after every commit is applied). */
  epochAt: (height: number) => Epoch
}

export interface EpochConfig {
  chainId: string
  head: Head
  timing?: Partial<ConsensusTiming>
  configDelay?: number
  /** While following (not a member), ask for blocks this often (ms). Default 1000. */
  followSyncMs?: number
}

export class EpochPbft {
  private pbft: Pbft | null = null
  private head: Head
  private started = false
  private nextFollowSync = -Infinity
  private now = 0
  /**
   * Since when a message for a height above the one being decided was seen and no commit followed.
   * A manager still deciding the last height of an epoch cannot verify the next set's messages (other
   * indices, other keys), so PBFT's own "we are behind" signal never fires across a boundary: after
   * `followSyncMs` of such hints it asks for certified blocks (at most once per `followSyncMs`;
   * every fetched block is verified, so a forged hint costs one request).
   */
  private aheadSince = Infinity
  /** Epoch boundaries crossed (diagnostics, tests). */
  readonly switches: Array<{ height: number, n: number, self: number }> = []

  constructor (readonly config: EpochConfig, private readonly ports: EpochPorts) {
    this.head = { height: config.head.height, hash: config.head.hash }
    this.pbft = this.make()
  }

  /** The current instance (null while following). */
  get instance (): Pbft | null { return this.pbft }
  get following (): boolean { return this.pbft === null }
  /** The last height this node committed. */
  get headHeight (): number { return this.head.height }

  private make (): Pbft | null {
    const height = this.head.height + 1
    const e = this.ports.epochAt(height)
    this.switches.push({ height, n: e.n, self: e.self })
    if (e.self < 0) return null
    if (e.signer === undefined) throw new ConsensusError('BAD_CONFIG', `no signing key for this manager in the manager set of height ${height}`)
    return new Pbft(
      { chainId: this.config.chainId, managers: e.n, self: e.self, head: { ...this.head }, timing: this.config.timing, configDelay: this.config.configDelay, epochStart: Math.min(e.firstHeight ?? 1, height), ...(e.lastHeight !== undefined ? { lastHeight: e.lastHeight } : {}) },
      { signer: e.signer, verifier: e.verifier, app: this.ports.app }
    )
  }

  /** Processes one event (see `Pbft.step`); a follower handles `sync-block` and `tick` only. */
  step (event: ConsensusEvent): ConsensusEffect[] {
    if (typeof event.now === 'number' && Number.isFinite(event.now) && event.now > this.now) this.now = event.now
    if (event.type === 'start') this.started = true
    let fx: ConsensusEffect[]
    if (this.pbft !== null) {
      if (event.type === 'message' && typeof event.msg?.height === 'number' && event.msg.height > this.head.height + 1 && this.aheadSince === Infinity) this.aheadSince = this.now
      fx = this.pbft.step(event)
      const every = this.config.followSyncMs ?? 1000
      if (event.type === 'tick' && this.now >= this.aheadSince + every && this.now >= this.nextFollowSync) {
        fx.push({ type: 'sync', fromHeight: this.head.height + 1, peers: [] })
        this.nextFollowSync = this.now + every
        this.aheadSince = Infinity
      }
    } else {
      fx = []
      if (event.type === 'sync-block') this.followBlock(event.value, event.certificate, fx)
      if (this.started && (event.type === 'tick' || event.type === 'start')) this.followTick(fx)
    }
    for (const e of fx) if (e.type === 'commit') { this.head = { height: e.height, hash: e.value.hash }; this.aheadSince = Infinity }
    return fx
  }

  /**
   * Call after executing every effect of a step (the app has applied the commits): if the epoch is
   * over (or this node follows), moves to the manager set of the next height and returns the new
   * instance's start effects. Returns [] when nothing changes.
   */
  advance (now: number): ConsensusEffect[] {
    if (now > this.now) this.now = now
    if (!this.started) return []
    if (this.pbft !== null && !this.pbft.status().done) return []
    const was = this.pbft
    const e = this.ports.epochAt(this.head.height + 1)
    if (was === null && e.self < 0) return [] // still following
    this.pbft = this.make()
    if (this.pbft === null) { const fx: ConsensusEffect[] = []; this.followTick(fx); return fx }
    return this.pbft.step({ type: 'start', now: this.now })
  }

  private followTick (fx: ConsensusEffect[]): void {
    const every = this.config.followSyncMs ?? 1000
    if (this.now >= this.nextFollowSync) {
      fx.push({ type: 'sync', fromHeight: this.head.height + 1, peers: [] })
      this.nextFollowSync = this.now + every
    }
    fx.push({ type: 'schedule-tick', at: this.nextFollowSync })
  }

  /** A follower adopts a certified block of its next height: certificate by that height's set, app-valid. */
  private followBlock (value: Value, cert: CommitCertificate, fx: ConsensusEffect[]): void {
    const height = this.head.height + 1
    if (typeof value !== 'object' || value === null || typeof cert !== 'object' || cert === null) return
    if (cert.height !== height || !(value.hash instanceof Uint8Array) || !equalBytes(cert.headerHash, value.hash)) return
    const e = this.ports.epochAt(height)
    if (!checkCommitCertificate({ chainId: this.config.chainId, n: e.n, verifier: e.verifier }, cert, height, value.hash)) return
    let ok: boolean
    try { ok = this.ports.app.validate(height, value, this.head.hash).ok } catch { ok = false }
    if (!ok) return
    fx.push({ type: 'commit', height, value, certificate: cert })
  }

  status (): ReturnType<Pbft['status']> {
    if (this.pbft !== null) return this.pbft.status()
    return { height: this.head.height + 1, view: 0, active: false, leader: -1, parentHash: this.head.hash, preparedView: null, knownHeight: this.head.height + 1, blacklisted: [], lastHeight: Infinity, done: false }
  }
}
