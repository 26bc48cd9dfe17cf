/**
 * Deterministic discrete-event simulation of n PBFT managers (`Pbft` from src/consensus) on an
 * in-memory network. Everything random comes from one seeded PRNG, so a run is a pure function of
 * (seed, n, crypto kit): a failing seed replays exactly, with a trace if asked.
 *
 * Before the global stabilization time (GST): random delays (with a long tail, so reordering),
 * drops, duplicates, partitions that heal, crashes and restarts (the WAL and the committed chain
 * survive; some crashes hit between a `wal-append` and the effects after it). One manager is
 * Byzantine: equivocating proposals, conflicting votes, garbage signatures, forged senders, forged
 * prepared certificates, replays of old messages, forged sync replies, or silence. After GST the
 * network is synchronous (delay ≤ 30 ms, no loss) and crashed honest managers are back (for n = 7
 * one may stay down: with the Byzantine one that is f = 2 faults).
 *
 * Checked in every run: each commit's certificate verifies and extends the node's chain; no two
 * honest managers commit different values at a height; no honest manager ever signs two different
 * values for one (kind, height, view), across restarts; after GST every live honest manager reaches
 * `max height at GST + extraHeights` within `livenessBound` ms of simulated time.
 *
 * With `reconf` (changes of the manager set, see ./reconf.ts) every manager runs `EpochPbft` over
 * its own chain's `ConsortiumHistory`, messages and indices are mapped per manager set, and on top:
 * crashes around each boundary (restarting once the change is in effect), rotated managers
 * restarting with their new key, late joiners, refused changes and votes with retired keys from the
 * Byzantine manager. Also checked: each certificate against its height's set, one configuration
 * per height among honest managers, and (after GST) every planned change in effect everywhere.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { equalBytes, sha256, toHex } from '../../../src/crypto/index.js'
import { voteSignBytes } from '../../../src/blocks/vote.js'
import {
  EpochPbft, Pbft, checkCommitCertificate, decodeMessage, decodeWalRecord, encodeMessage, encodeWalRecord, leaderOf, prePrepareSignBytes, quorumSize,
  viewChangeSignBytes
} from '../../../src/consensus/index.js'
import type {
  CheckContext, ConsensusEffect, ConsensusEvent, ConsensusMessage, ConsensusTiming, Epoch, SignerPort, ValidateResult, Value, ViewChangeMsg, VoteMsg, WalRecord
} from '../../../src/consensus/index.js'
import type { CommitCertificate } from '../../../src/blocks/types.js'
import { managerTxShape, type ConsortiumHistory, type ManagerTx } from '../../../src/blocks/consortium.js'
import { GENESIS_HASH, makeValue, parseValue, validateSimValue } from './app.js'
import { planKeys, ReconfWorld, type ReconfPlan } from './reconf.js'
import { hmacKit, type CryptoKit } from './crypto.js'
import { EventHeap } from './heap.js'
import { Prng } from './prng.js'

export const SIM_CHAIN_ID = 'pqmed-sim'

export const SIM_TIMING: ConsensusTiming = {
  blockInterval: 30,
  maxBlockRecords: 8,
  heartbeatInterval: 100,
  viewChangeTimeout: 300,
  maxTimeoutDoublings: 4,
  retransmitInterval: 150,
  syncDelay: 100,
  leaderBlacklistHeights: 16
}

/**
 * `censor` and `frame` are only chosen explicitly (`SimOptions.byzantine`): `censor` runs the honest
 * protocol but never puts a censored tx (id ≡ 0 mod 5) in its blocks; `frame` proposes blocks whose
 * origin claims a view two above the real one (which, if accepted, would blacklist the leaders of
 * the views in between).
 */
export type ByzantineMode = 'equivocate' | 'chaos' | 'withhold' | 'silent' | 'all' | 'censor' | 'frame'

/** A tx the `censor` Byzantine manager leaves out of its blocks. */
export function censored (tx: number): boolean {
  return tx % 5 === 0
}

export interface SimOptions {
  seed: number
  n: number
  kit?: CryptoKit
  /** Pass every message and WAL record through the dag-cbor codec. */
  codec?: boolean
  trace?: (line: string) => void
  /** Simulated ms after GST within which all live honest managers must reach the target height. */
  livenessBound?: number
  /** Heights beyond the highest honest height at GST that everyone must reach. */
  extraHeights?: number
  /** false: a synchronous network from time 0, no crashes, all managers honest (the normal case). */
  faults?: boolean
  /** An additional, independent certificate check applied to every honest commit. */
  certCheck?: (certificate: CommitCertificate, height: number, hash: Uint8Array) => boolean
  /** Overrides of `SIM_TIMING`. */
  timing?: Partial<ConsensusTiming>
  /** Honest managers that are down from the start and never come up (a crashed manager). */
  down?: number[]
  /** The Byzantine manager and its mode (default: drawn from the seed when `faults`, none otherwise). */
  byzantine?: { id: number, mode: ByzantineMode }
  /**
   * Changes of the manager set during the run: every manager runs `EpochPbft` (one `Pbft` per
   * manager set) over its own chain's `ConsortiumHistory`; `n` counts every manager that is ever a
   * member. See `ReconfPlan` and the class comment.
   */
  reconf?: ReconfPlan
}

/** What a reconfiguration run did (`SimResult.reconf`). */
export interface ReconfStats {
  label: string
  /** Planned changes, and how many were in effect on every live honest manager at the end. */
  changes: number
  inEffect: number
  /** Manager-set switches (`EpochPbft.switches` after the first) of honest managers, summed. */
  switches: number
  /** Honest managers crashed when a change was first proposed and restarted after it took effect. */
  boundaryCrashes: number
  /** Rotated honest managers whose node restarted with the new key around the boundary (not voting in between). */
  rotationRestarts: number
  /** Changes refused by an honest manager's validation (the Byzantine leader's stale, pending or under-signed ones). */
  refusedChanges: number
  /** Signatures made with a rotated-in key in the certificates of decided heights (the new key's votes count). */
  rotatedKeySignatures: number
  /** Votes the Byzantine manager sent with a retired key (a removed manager's, a rotated-away key) or an old-set index. */
  retiredVotes: number
  /** Honest managers that started late (after their set took effect in some runs). */
  lateStarts: number
}

/** One committed height as the honest managers agreed on it. */
export interface SimDecision {
  height: number
  /** The block's origin (who proposed it, in which view). */
  proposer: number
  view: number
  /** Highest view in which an honest manager committed it (> 0: a view change happened at this height). */
  certificateView: number
  txs: number[]
}

export interface SimResult {
  seed: number
  n: number
  ok: boolean
  failure: string | null
  byzantine: number
  byzantineMode: ByzantineMode
  gst: number
  target: number
  /** Simulated ms from GST until every live honest manager reached the target. */
  reachedAfterGst: number | null
  heights: number[]
  delivered: number
  dropped: number
  crashes: number
  viewChanges: number
  evidence: number
  syncs: number
  /** NEW-VIEW messages (from honest leaders) that re-proposed a prepared value. */
  reproposals: number
  /** Commits (by honest managers) in a view > 0. */
  laterViewCommits: number
  /** Restarts that found WAL records of the height in progress. */
  walRestores: number
  /** `leaders` WAL records written by honest managers (the blacklist changed). */
  blacklistChanges: number
  /** Heights at which an honest manager's blacklist named an honest, live manager. */
  honestBlacklisted: number
  /** The decided heights, in order (from the honest managers' commits). */
  decisions: SimDecision[]
  /** Reconfiguration runs only. */
  reconf: ReconfStats | null
}

interface ChainEntry { value: Value, certificate: CommitCertificate }

interface SimNode {
  id: number
  honest: boolean
  up: boolean
  epoch: number
  pbft: Pbft | EpochPbft | null
  /** The consortium configurations of this node's chain (reconfiguration runs; derived from `chain`). */
  history: ConsortiumHistory | null
  /** Key indices this node's process holds (reconfiguration runs): a rotated key only after a restart, unless loaded in advance. */
  keys: Set<number>
  wal: WalRecord[]
  chain: ChainEntry[]
  committed: Set<number>
  ticks: Set<number>
  permanentlyDown: boolean
}

type SimEvent = { time: number, seq: number } & (
  | { kind: 'deliver', from: number, to: number, msg: ConsensusMessage }
  | { kind: 'tick', node: number, epoch: number }
  | { kind: 'built', node: number, epoch: number, height: number, view: number }
  | { kind: 'mempool', node: number, epoch: number }
  | { kind: 'sync-reply', node: number, epoch: number, blocks: ChainEntry[] }
  | { kind: 'start', node: number }
  | { kind: 'crash', node: number }
  | { kind: 'restart', node: number }
  | { kind: 'partition', groups: number[] }
  | { kind: 'heal' }
  | { kind: 'inject' }
  | { kind: 'gst' }
  | { kind: 'byz-noise' }
)
type SimEventBody = SimEvent extends infer E ? E extends SimEvent ? Omit<E, 'time' | 'seq'> : never : never

function describe (m: ConsensusMessage): string {
  const base = `${m.type} h=${m.height} v=${m.view} from=${m.from}`
  switch (m.type) {
    case 'pre-prepare': return `${base} ${toHex(m.value.hash).slice(0, 8)}`
    case 'prepare':
    case 'commit': return `${base} ${toHex(m.hash).slice(0, 8)}`
    case 'view-change': return `${base} prepared=${m.prepared === null ? '-' : `${m.prepared.view}:${toHex(m.prepared.hash).slice(0, 8)}`}`
    case 'new-view': return `${base} vcs=${m.viewChanges.map((v) => v.from).join(',')} pp=${m.prePrepare === null ? '-' : toHex(m.prePrepare.value.hash).slice(0, 8)}`
    case 'heartbeat': return `${base} seq=${m.seq}`
  }
}

export class Simulation {
  private readonly rng: Prng
  private readonly n: number
  private readonly kit: CryptoKit
  private readonly ctx: CheckContext
  private readonly nodes: SimNode[]
  private readonly heap = new EventHeap<SimEvent>()
  private seq = 0
  private now = 0
  private injected = 0
  private readonly gst: number
  private afterGst = false
  private groups: number[] | null = null
  private readonly dropRate: number
  /** Extra per-message-type loss before GST: the network adversary singles out some phases. */
  private readonly typeDrop: Record<ConsensusMessage['type'], number>
  /** Per-link delay multipliers before GST (slow links reorder across senders). */
  private readonly linkSlow: number[]
  /** Chance that the adaptive adversary isolates an honest manager right after it commits (before GST). */
  private readonly isolateOnCommit: number
  private readonly dupRate: number
  private readonly midCrashRate: number
  private readonly maxDown: number
  private readonly byz: number
  private readonly byzMode: ByzantineMode
  private readonly byzLog: ConsensusMessage[] = []
  private readonly byzAlt = new Map<string, Value>()
  private readonly decided = new Map<number, string>()
  private readonly signedAudit = new Map<string, string>()
  private failure: string | null = null
  private target = Infinity
  private reachedAt: number | null = null
  private readonly stats = { delivered: 0, dropped: 0, crashes: 0, viewChanges: 0, evidence: 0, syncs: 0, reproposals: 0, laterViewCommits: 0, walRestores: 0, blacklistChanges: 0, honestBlacklisted: 0 }
  private readonly timing: ConsensusTiming
  /** Blacklist per height, as the first honest manager to reach that height saw it: all must agree. */
  private readonly blacklists = new Map<number, string>()
  private readonly decisions = new Map<number, SimDecision>()
  private readonly livenessBound: number
  private readonly extraHeights: number
  /** Reconfiguration runs: the keys, configurations and planned changes; null with a fixed manager set. */
  private readonly world: ReconfWorld | null = null
  /** Config hash per height, as the first honest manager to commit it saw it: all must agree. */
  private readonly configs = new Map<number, string>()
  /** Changes some honest manager validated (the boundary-crash adversary strikes once per change). */
  private readonly changesSeen = new Set<number>()
  private readonly changesCommitted = new Set<number>()
  /** Crashed honest managers to restart once this height is decided. */
  private readonly restartAt = new Map<number, number>()
  private readonly rstats = { boundaryCrashes: 0, rotationRestarts: 0, refusedChanges: 0, retiredVotes: 0, rotatedKeySignatures: 0, lateStarts: 0 }

  constructor (private readonly opts: SimOptions) {
    this.rng = new Prng(opts.seed)
    this.n = opts.n
    this.kit = opts.kit ?? hmacKit(opts.reconf === undefined ? opts.n : planKeys(opts.n, opts.reconf), opts.seed)
    if (opts.reconf !== undefined) this.world = new ReconfWorld(SIM_CHAIN_ID, this.n, opts.reconf, this.kit)
    this.ctx = { chainId: SIM_CHAIN_ID, n: this.n, verifier: this.kit.verifier }
    this.livenessBound = opts.livenessBound ?? 30_000
    this.extraHeights = opts.extraHeights ?? 3
    const rng = this.rng
    const faults = opts.faults ?? true
    this.gst = faults ? rng.int(1000, 4000) : 0
    if (faults && opts.reconf !== undefined) this.gst += rng.int(0, 4000) // (more heights, so more changes, under faults)
    this.dropRate = rng.pick([0, 0.05, 0.2, 0.4])
    const targeted = faults && rng.chance(0.5)
    const td = (): number => targeted ? rng.pick([0, 0, 0.5, 0.8, 0.95]) : 0
    this.typeDrop = { 'pre-prepare': td(), prepare: td(), commit: td(), 'view-change': td(), 'new-view': td(), heartbeat: td() }
    this.isolateOnCommit = faults ? rng.pick([0, 0.2, 0.5]) : 0
    this.linkSlow = Array.from({ length: this.n * this.n }, () => targeted && rng.chance(0.2) ? rng.int(2, 10) : 1)
    this.dupRate = rng.pick([0, 0.05])
    this.midCrashRate = rng.pick([0, 0.005, 0.02])
    this.maxDown = this.n >= 7 && this.world === null ? 2 : 1
    this.byz = faults ? rng.int(0, this.n - 1) : -1
    this.byzMode = rng.pick(['equivocate', 'chaos', 'withhold', 'withhold', 'silent', 'all'] as const)
    if (opts.byzantine !== undefined) { this.byz = opts.byzantine.id; this.byzMode = opts.byzantine.mode }
    this.timing = { ...SIM_TIMING, ...opts.timing }
    this.nodes = Array.from({ length: this.n }, (_, id) => ({
      id, honest: id !== this.byz, up: false, epoch: 0, pbft: null, history: this.world?.genesis ?? null, keys: new Set([id]), wal: [], chain: [], committed: new Set<number>(), ticks: new Set<number>(), permanentlyDown: opts.down?.includes(id) === true
    }))
    if (faults && this.n >= 7 && this.world === null && rng.chance(0.5)) {
      const victim = this.pickHonest()
      victim.permanentlyDown = true
      this.push(rng.int(0, this.gst), { kind: 'crash', node: victim.id })
    }
  }

  run (): SimResult {
    const rng = this.rng
    for (const node of this.nodes) {
      let at = rng.int(0, 20)
      const late = this.world?.plan.lateStart[node.id]
      if (late !== undefined) { at = late; if (node.honest) this.rstats.lateStarts++ }
      if (!node.permanentlyDown) this.push(at, { kind: 'start', node: node.id })
    }
    this.push(5, { kind: 'inject' })
    for (let i = this.gst > 0 ? rng.int(0, 3) : 0; i > 0; i--) this.push(rng.int(100, this.gst - 100), { kind: 'crash', node: this.pickHonest().id })
    for (let i = this.gst > 0 ? rng.int(0, 2) : 0; i > 0; i--) {
      const at = rng.int(0, this.gst - 200)
      const groups = this.nodes.map(() => rng.int(0, 1))
      this.push(at, { kind: 'partition', groups })
      this.push(Math.min(this.gst, at + rng.int(200, 2000)), { kind: 'heal' })
    }
    if (this.byz >= 0 && (this.byzMode === 'chaos' || this.byzMode === 'all' || (this.world !== null && this.byzMode === 'equivocate'))) this.push(rng.int(10, 100), { kind: 'byz-noise' })
    this.push(this.gst, { kind: 'gst' })

    for (;;) {
      const ev = this.heap.pop()
      if (ev === undefined) { this.fail('event queue ran dry'); break }
      this.now = ev.time
      if (this.afterGst && this.now > this.gst + this.livenessBound) {
        this.fail(`liveness: not all honest managers reached height ${this.target} within ${this.livenessBound} ms after GST; ${this.stateLine()}`)
        break
      }
      this.handle(ev)
      if (this.failure !== null) break
      if (this.afterGst && this.liveHonest().every((x) => this.reached(x))) {
        this.reachedAt = this.now - this.gst
        break
      }
    }
    return {
      seed: this.opts.seed,
      n: this.n,
      ok: this.failure === null,
      failure: this.failure,
      byzantine: this.byz,
      byzantineMode: this.byzMode,
      gst: this.gst,
      target: this.target,
      reachedAfterGst: this.reachedAt,
      heights: this.nodes.map((x) => x.chain.length),
      ...this.stats,
      decisions: [...this.decisions.values()].sort((a, b) => a.height - b.height),
      reconf: this.world === null
        ? null
        : {
            label: this.world.plan.label,
            changes: this.world.plan.changes.length,
            inEffect: Math.min(...this.liveHonest().map((x) => this.changesInEffect(x))),
            switches: this.nodes.filter((x) => x.honest).reduce((sum, x) => sum + Math.max(0, (x.pbft instanceof EpochPbft ? x.pbft.switches.length : 1) - 1), 0),
            ...this.rstats
          }
    }
  }

  /** Changes in effect at node `x`'s next height. */
  private changesInEffect (x: SimNode): number {
    const h = x.history
    if (h === null) return 0
    return h.configs.filter((c) => c.activationHeight <= x.chain.length + 1).length - 1
  }

  /** After GST: `x` reached the target height and, in reconfiguration runs, every planned change is in effect there and its set decided two heights. */
  private reached (x: SimNode): boolean {
    if (x.chain.length < this.target) return false
    if (this.world === null || x.history === null) return true
    return x.history.configs.length === this.world.plan.changes.length + 1 && x.chain.length >= x.history.latest.activationHeight + 1
  }

  // -------------------------------------------------------------------------------------------

  private trace (line: string): void {
    this.opts.trace?.(`${String(this.now).padStart(6)} ${line}`)
  }

  private fail (why: string): void {
    if (this.failure === null) this.failure = why
    this.trace(`FAIL ${why}`)
  }

  private stateLine (): string {
    return this.nodes.map((x) => {
      const s = x.pbft?.status()
      return `n${x.id}${x.honest ? '' : '(byz)'}${x.up ? '' : '(down)'}: chain=${x.chain.length} h=${s?.height ?? '-'} v=${s?.view ?? '-'}${s?.active === false ? '*' : ''}`
    }).join('; ')
  }

  private push (time: number, body: SimEventBody): void {
    this.heap.push({ ...body, time, seq: this.seq++ } as SimEvent)
  }

  private pickHonest (): SimNode {
    return this.rng.pick(this.nodes.filter((x) => x.honest))
  }

  private liveHonest (): SimNode[] {
    return this.nodes.filter((x) => x.honest && !x.permanentlyDown)
  }

  private downCount (): number {
    return this.nodes.filter((x) => x.honest && !x.up).length
  }

  // -------------------------------------------------------------------------------------------
  // Events

  private handle (ev: SimEvent): void {
    switch (ev.kind) {
      case 'start': this.boot(this.nodes[ev.node] as SimNode); break
      case 'deliver': {
        const to = this.nodes[ev.to] as SimNode
        if (!to.up) { this.stats.dropped++; return }
        this.stats.delivered++
        this.trace(`${ev.from}->${ev.to} ${describe(ev.msg)}`)
        if (!to.honest && this.byzLog.length < 2000) this.byzLog.push(ev.msg)
        this.step(to, { type: 'message', now: this.now, msg: ev.msg })
        break
      }
      case 'tick': {
        const node = this.nodes[ev.node] as SimNode
        if (ev.epoch !== node.epoch) return
        node.ticks.delete(ev.time)
        if (node.up) this.step(node, { type: 'tick', now: this.now })
        break
      }
      case 'built': {
        const node = this.nodes[ev.node] as SimNode
        if (ev.epoch !== node.epoch || !node.up) return
        this.step(node, { type: 'proposal-built', now: this.now, height: ev.height, view: ev.view, value: this.build(node, ev.height, ev.view) })
        break
      }
      case 'mempool': {
        const node = this.nodes[ev.node] as SimNode
        if (ev.epoch !== node.epoch || !node.up) return
        this.step(node, { type: 'mempool', now: this.now, size: this.mempoolSize(node) })
        break
      }
      case 'sync-reply': {
        const node = this.nodes[ev.node] as SimNode
        if (ev.epoch !== node.epoch || !node.up) return
        for (const b of ev.blocks) {
          if (!node.up || ev.epoch !== node.epoch) break
          this.step(node, { type: 'sync-block', now: this.now, value: b.value, certificate: b.certificate })
        }
        break
      }
      case 'crash': this.crash(this.nodes[ev.node] as SimNode); break
      case 'restart': {
        const node = this.nodes[ev.node] as SimNode
        if (!node.up && !node.permanentlyDown) this.boot(node)
        break
      }
      case 'partition':
        if (!this.afterGst) { this.groups = ev.groups; this.trace(`partition ${ev.groups.join('')}`) }
        break
      case 'heal': this.groups = null; this.trace('heal'); break
      case 'inject': {
        this.injected += this.rng.int(1, 3)
        for (const node of this.nodes) if (node.up) this.step(node, { type: 'mempool', now: this.now, size: this.mempoolSize(node) })
        this.push(this.now + (this.rng.chance(0.1) ? this.rng.int(300, 1500) : this.rng.int(20, 80)), { kind: 'inject' })
        break
      }
      case 'gst': {
        this.afterGst = true
        this.groups = null
        for (const node of this.nodes) if (!node.up && !node.permanentlyDown && node.pbft !== null) this.boot(node)
        this.target = Math.max(...this.nodes.filter((x) => x.honest).map((x) => x.chain.length)) + this.extraHeights
        this.trace(`GST target=${this.target} ${this.stateLine()}`)
        break
      }
      case 'byz-noise': this.byzNoise(); break
    }
  }

  private boot (node: SimNode): void {
    node.up = true
    const tip = node.chain[node.chain.length - 1]
    const head = { height: node.chain.length, hash: tip?.value.hash ?? GENESIS_HASH }
    if (this.world !== null) {
      // everything but the chain (with its consortium history) and the WAL is lost; the operator
      // starts it with every key its hospital had on that chain (a rotated one included)
      const w = this.world
      for (const c of (node.history as ConsortiumHistory).configs) { const i = w.members(c).indexOf(node.id); if (i >= 0) node.keys.add(w.keys(c)[i] as number) }
      node.pbft = new EpochPbft(
        { chainId: SIM_CHAIN_ID, head, timing: this.timing, configDelay: this.world.plan.configDelay, followSyncMs: 100 },
        { app: { validate: (h, v, parent) => this.validateReconf(node, h, v, parent) }, epochAt: (h) => this.epochAt(node, h) }
      )
    } else {
      const signer = node.honest ? this.auditedSigner(node.id) : this.kit.signer(node.id)
      node.pbft = new Pbft(
        { chainId: SIM_CHAIN_ID, managers: this.n, self: node.id, head, timing: this.timing },
        {
          signer,
          verifier: this.kit.verifier,
          app: { validate: (h, v, parent) => validateSimValue(h, v, parent, { injected: () => this.injected, committed: node.committed, maxRecords: this.timing.maxBlockRecords }) }
        }
      )
    }
    node.wal = node.wal.filter((r) => r.height > head.height)
    if (node.wal.length > 0) this.stats.walRestores++
    this.trace(`n${node.id} boot head=${head.height} wal=${node.wal.length}`)
    this.step(node, { type: 'restored', now: this.now, records: node.wal })
    this.step(node, { type: 'start', now: this.now })
    this.step(node, { type: 'mempool', now: this.now, size: this.mempoolSize(node) })
  }

  private crash (node: SimNode, restartAtHeight?: number): boolean {
    if (!node.up || (this.afterGst && restartAtHeight === undefined)) return false
    if (!node.permanentlyDown && this.downCount() >= this.maxDown) return false
    node.up = false
    node.epoch++
    node.ticks.clear()
    this.stats.crashes++
    this.trace(`n${node.id} CRASH${restartAtHeight !== undefined ? ` until height ${restartAtHeight} is decided` : ''}`)
    if (restartAtHeight !== undefined) {
      // back once that height is decided, or after at most 3 s (if it is needed for a quorum); at GST at the latest
      this.restartAt.set(node.id, restartAtHeight)
      this.push(this.afterGst ? this.now + this.rng.int(500, 3000) : Math.min(this.gst, this.now + this.rng.int(500, 3000)), { kind: 'restart', node: node.id })
    } else if (!node.permanentlyDown) this.push(Math.min(this.gst, this.now + this.rng.int(50, 1500)), { kind: 'restart', node: node.id })
    return true
  }

  // -------------------------------------------------------------------------------------------
  // Reconfiguration runs: the manager set of a height comes from the node's own chain

  /** The manager set certifying `height` as node `node` sees it (what src/node/manager.ts gives `EpochPbft`). */
  private epochAt (node: SimNode, height: number): Epoch {
    const w = this.world as ReconfWorld
    const history = node.history as ConsortiumHistory
    const c = history.at(height)
    const self = w.members(c).indexOf(node.id)
    const pending = history.pendingAt(height)
    const key = w.keys(c)[self] ?? -1
    // (like src/node/manager.ts: a member whose key this process does not hold follows the chain)
    const member = self >= 0 && node.keys.has(key)
    return {
      n: c.managers.length,
      self: member ? self : -1,
      verifier: w.verifier(c),
      firstHeight: c.activationHeight,
      ...(member ? { signer: node.honest ? this.auditedSigner(node.id, key) : this.kit.signer(key) } : {}),
      ...(pending !== null ? { lastHeight: pending - 1 } : {})
    }
  }

  /** The honest app's check, plus a `ManagerTx` in the block: valid for the chain (`ConsortiumHistory.check`), reported as `reconfig`. */
  private validateReconf (node: SimNode, height: number, value: Value, parentHash: Uint8Array): ValidateResult {
    const r = validateSimValue(height, value, parentHash, { injected: () => this.injected, committed: node.committed, maxRecords: this.timing.maxBlockRecords })
    if (!r.ok) return r
    const b = parseValue(value.bytes)
    if (b?.mtx === undefined) return r
    const w = this.world as ReconfWorld
    let tx: ManagerTx
    try { tx = managerTxShape(b.mtx) } catch (err) { this.trace(`BADSHAPE ${(err as Error).message}`); return { ok: false, reason: 'malformed manager tx' } }
    const history = node.history as ConsortiumHistory
    if (height !== node.chain.length + 1) return { ok: false, reason: `validated at ${height} on a chain of ${node.chain.length}` }
    const check = history.check(tx, SIM_CHAIN_ID, height, w.sigVerifier)
    this.trace(`n${node.id} VALIDATE change at ${height} ${toHex(value.hash).slice(0, 8)}: ${check.ok ? 'ok' : check.code}`)
    if (!check.ok) {
      if (!node.honest) return r // (the Byzantine manager proposes it all the same)
      this.rstats.refusedChanges++
      return { ok: false, reason: `${check.code}: ${check.reason}` }
    }
    if (node.honest) this.onChangeProposed(node, history.configs.length - 1, height)
    return { ...r, reconfig: true }
  }

  /**
   * The first time an honest manager accepts a proposal of change k (at height h): often another
   * honest manager crashes right then, before the change commits, and restarts only once height
   * h + D + 0..3 is decided, i.e. after the change took effect (if it commits at h).
   */
  private onChangeProposed (node: SimNode, k: number, height: number): void {
    if (this.changesSeen.has(k)) return
    this.changesSeen.add(k)
    this.boundaryCrash(node, height + (this.world as ReconfWorld).plan.configDelay)
  }

  /** With probability ½, an honest manager other than `node` crashes now and restarts once `activation` + 0..3 is decided (or within 3 s). */
  private boundaryCrash (node: SimNode, activation: number): void {
    if (!this.rng.chance(0.5)) return
    const victims = this.nodes.filter((x) => x.honest && x.up && x.id !== node.id && !x.permanentlyDown)
    if (victims.length === 0) return
    const victim = this.rng.pick(victims)
    if (this.crash(victim, activation + this.rng.int(0, 3))) this.rstats.boundaryCrashes++
  }

  /** The global id of manager `index` in the set of node `node`'s current consensus instance (the index itself with a fixed set). */
  private globalOf (node: SimNode, index: number): number {
    if (this.world === null || !(node.pbft instanceof EpochPbft)) return index
    const sw = node.pbft.switches[node.pbft.switches.length - 1]
    return this.world.members((node.history as ConsortiumHistory).at(sw?.height ?? node.chain.length + 1))[index] ?? -1
  }

  /** Node `node`'s index in the set certifying `height` on its chain (node.id with a fixed set; −1: not a member). */
  private indexAt (node: SimNode, height: number): number {
    if (this.world === null) return node.id
    return this.world.members((node.history as ConsortiumHistory).at(height)).indexOf(node.id)
  }

  /** n of the set certifying `height` on node `node`'s chain. */
  private sizeAt (node: SimNode, height: number): number {
    return this.world === null ? this.n : (node.history as ConsortiumHistory).at(height).managers.length
  }

  /** The change (if any) node `node` puts in its block at `height`: honest — the next planned one, once allowed; the Byzantine one sometimes a refused one. */
  private changeFor (node: SimNode, height: number): ManagerTx | undefined {
    const w = this.world
    if (w === null) return undefined
    const history = node.history as ConsortiumHistory
    const k = history.configs.length - 1
    const pending = history.pendingAt(height)
    if (!node.honest && (this.byzMode === 'chaos' || this.byzMode === 'all') && this.rng.chance(0.3)) {
      this.trace(`n${node.id} BAD CHANGE at ${height} k=${k} pending=${pending}`)
      // stale (a change applied to an older configuration), pending (signed against the configuration about to take effect), or one signature short
      if (pending !== null && k < w.plan.changes.length) return w.sign(history.latest, w.change(k), height)
      if (k < w.plan.changes.length) return w.sign(history.at(height), w.change(k), height, quorumSize(history.at(height).managers.length) - 1)
      if (k > 0) return w.sign(history.configs[k - 1] as ConsortiumHistory['configs'][number], w.change(k - 1), height)
    }
    if (k >= w.plan.changes.length || height < (w.plan.from[k] as number) || pending !== null) return undefined
    return w.sign(history.at(height), w.change(k), height)
  }

  /**
   * (key index, manager index) pairs that certified an earlier height of node `node`'s chain but not
   * `height`: removed managers' keys, rotated-away keys, and the indices a manager had before a
   * removal shifted it (with its current key). The Byzantine manager holds these keys (a leaked
   * retired key) and votes with them: none may count.
   */
  private retired (node: SimNode, height: number): Array<{ key: number, index: number }> {
    const w = this.world as ReconfWorld
    const history = node.history as ConsortiumHistory
    const now = history.at(height)
    const keysNow = w.keys(now)
    const out: Array<{ key: number, index: number }> = []
    for (const c of history.configs) {
      if (c.activationHeight >= now.activationHeight) break
      w.keys(c).forEach((key, index) => { if (keysNow[index] !== key && !out.some((x) => x.key === key && x.index === index)) out.push({ key, index }) })
    }
    return out
  }

  /** A validly signed vote at (height, view) for `hash` under a retired key / old index (see `retired`). */
  private retiredVote (byz: SimNode, type: 'prepare' | 'commit', height: number, view: number, hash: Uint8Array): VoteMsg | null {
    const old = this.retired(byz, height)
    if (old.length === 0) return null
    const r = this.rng.pick(old)
    this.rstats.retiredVotes++
    return { type, height, view, from: r.index, hash, sig: this.kit.signer(r.key).sign(voteSignBytes(type, SIM_CHAIN_ID, height, view, hash)) }
  }

  private mempoolSize (node: SimNode): number {
    return this.injected - node.committed.size
  }

  private build (node: SimNode, height: number, view: number): Value | null {
    const txs: number[] = []
    const censor = !node.honest && this.byzMode === 'censor'
    for (let t = 0; t < this.injected && txs.length < this.timing.maxBlockRecords; t++) if (!node.committed.has(t) && !(censor && censored(t))) txs.push(t)
    if (txs.length === 0) return null
    const tip = node.chain[node.chain.length - 1]
    const claimed = !node.honest && this.byzMode === 'frame' ? view + 2 : view
    const mtx = this.changeFor(node, height)
    return makeValue({ height, prevHash: tip?.value.hash ?? GENESIS_HASH, proposer: this.indexAt(node, height), view: claimed, txs, salt: 0, ...(mtx !== undefined ? { mtx } : {}) })
  }

  /** The honest signer, wrapped to audit that no (kind, height, view) is ever signed for two values. */
  private auditedSigner (id: number, key = id): SignerPort {
    const inner = this.kit.signer(key)
    return {
      sign: (bytes) => {
        const x = dagCbor.decode(bytes) as unknown[]
        let key: string | null = null
        let hash: Uint8Array | null = null
        if (x[0] === 'pqmed/vote/1') { key = `${id}/${String(x[1])}/${String(x[3])}/${String(x[4])}`; hash = x[5] as Uint8Array }
        if (x[0] === 'pqmed/pre-prepare/1') { key = `${id}/pp/${String(x[2])}/${String(x[3])}`; hash = x[4] as Uint8Array }
        if (key !== null && hash !== null) {
          const h = toHex(hash)
          const prev = this.signedAudit.get(key)
          if (prev !== undefined && prev !== h) this.fail(`honest n${id} signed two values for ${key}: ${prev.slice(0, 8)} and ${h.slice(0, 8)}`)
          this.signedAudit.set(key, h)
        }
        return inner.sign(bytes)
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Effects

  private step (node: SimNode, event: ConsensusEvent): void {
    if (node.pbft === null || !node.up) return
    const effects = node.pbft.step(event)
    this.execute(node, effects)
    if (node.pbft instanceof EpochPbft) {
      // like src/node/driver: once the effects ran (the commits are applied), move to the next manager set
      for (let i = 0; i < 8 && node.up; i++) {
        const fx = node.pbft.advance(this.now)
        if (fx.length === 0) break
        const sw = node.pbft.switches[node.pbft.switches.length - 1]
        this.trace(`n${node.id} SWITCH at height ${sw?.height ?? '?'}: n=${sw?.n ?? '?'} self=${sw?.self ?? '?'}`)
        this.execute(node, fx)
      }
    }
    if (node.honest && node.up && node.pbft !== null) this.checkSchedule(node)
  }

  /** Honest managers at one height agree on the blacklist (so on every leader); it never names a live honest manager after GST without faults. */
  private checkSchedule (node: SimNode): void {
    if (node.pbft instanceof EpochPbft && (node.pbft.following || node.pbft.status().done)) return
    const s = (node.pbft as Pbft).status()
    const key = JSON.stringify(s.blacklisted)
    const seen = this.blacklists.get(s.height)
    if (seen === undefined) {
      this.blacklists.set(s.height, key)
      if (s.blacklisted.some((m) => { const x = this.nodes[this.globalOf(node, m)]; return x?.honest === true && !x.permanentlyDown })) this.stats.honestBlacklisted++
    } else if (seen !== key) {
      this.fail(`leader schedules differ at height ${s.height}: n${node.id} blacklists ${key}, another honest manager ${seen}`)
    }
  }

  private execute (node: SimNode, effects: ConsensusEffect[]): void {
    const epoch = node.epoch
    for (const fx of effects) {
      if (!node.up || node.epoch !== epoch) return // crashed part-way through the step
      switch (fx.type) {
        case 'wal-append':
          if (fx.record.kind === 'leaders' && node.honest) this.stats.blacklistChanges++
          node.wal.push(this.opts.codec === true ? decodeWalRecord(encodeWalRecord(fx.record)) : fx.record)
          if (node.honest && !this.afterGst && this.rng.chance(this.midCrashRate)) {
            this.trace(`n${node.id} crash right after wal-append ${fx.record.kind} h=${fx.record.height} v=${'view' in fx.record ? fx.record.view : '-'}`)
            this.crash(node)
          }
          break
        case 'broadcast':
          if (fx.msg.type === 'view-change' && node.honest) this.stats.viewChanges++
          if (fx.msg.type === 'new-view' && node.honest && fx.msg.viewChanges.some((vc) => vc.prepared !== null)) this.stats.reproposals++
          for (const other of this.nodes) if (other.id !== node.id) this.send(node, other.id, fx.msg)
          break
        case 'send': this.send(node, this.globalOf(node, fx.to), fx.msg); break
        case 'build-proposal': this.push(this.now + this.rng.int(0, 2), { kind: 'built', node: node.id, epoch, height: fx.height, view: fx.view }); break
        case 'commit': this.onCommit(node, fx.height, fx.value, fx.certificate); break
        case 'sync': this.onSync(node, fx.fromHeight, fx.peers.map((p) => this.globalOf(node, p))); break
        case 'schedule-tick':
          if (!node.ticks.has(fx.at)) {
            node.ticks.add(fx.at)
            this.push(Math.max(fx.at, this.now), { kind: 'tick', node: node.id, epoch })
          }
          break
        case 'evidence':
          this.stats.evidence++
          if (this.globalOf(node, fx.evidence.validator) !== this.byz) this.fail(`evidence against honest n${this.globalOf(node, fx.evidence.validator)} (index ${fx.evidence.validator}, h=${fx.evidence.a.height}, seen by n${node.id})`)
          break
      }
    }
  }

  private onCommit (node: SimNode, height: number, value: Value, certificate: CommitCertificate): void {
    this.trace(`n${node.id} COMMIT h=${height} ${toHex(value.hash).slice(0, 8)} view=${certificate.view}`)
    if (node.honest) {
      if (height !== node.chain.length + 1) return this.fail(`n${node.id} committed height ${height} on a chain of ${node.chain.length}`)
      let ctx = this.ctx
      if (this.world !== null) {
        // the certificate must verify against the manager set of its height (by this node's chain), and all agree on that set
        const c = (node.history as ConsortiumHistory).at(height)
        ctx = { chainId: SIM_CHAIN_ID, n: c.managers.length, verifier: this.world.verifier(c) }
        const ch = toHex(this.world.hash(c))
        const other = this.configs.get(height)
        if (other !== undefined && other !== ch) return this.fail(`n${node.id} sees another manager set at height ${height}: ${ch.slice(0, 8)} vs ${other.slice(0, 8)}`)
        this.configs.set(height, ch)
      }
      if (!checkCommitCertificate(ctx, certificate, height, value.hash)) return this.fail(`n${node.id} committed h=${height} with an invalid certificate${this.world !== null ? ' for its height\'s manager set' : ''}`)
      if (this.opts.certCheck !== undefined && !this.opts.certCheck(certificate, height, value.hash)) return this.fail(`n${node.id} certificate for h=${height} rejected by the independent check`)
      if (new Set(certificate.signatures.map((s) => s.validator)).size < quorumSize(ctx.n)) return this.fail(`n${node.id} certificate below quorum`)
      if (!equalBytes(sha256(value.bytes), value.hash)) return this.fail(`n${node.id} committed bytes that do not match the hash`)
      const block = parseValue(value.bytes)
      const tip = node.chain[node.chain.length - 1]
      if (block === null || !equalBytes(block.prevHash, tip?.value.hash ?? GENESIS_HASH)) return this.fail(`n${node.id} committed a block that does not extend its chain`)
      const h = toHex(value.hash)
      const prev = this.decided.get(height)
      if (prev !== undefined && prev !== h) return this.fail(`SAFETY: two values committed at height ${height}: ${prev.slice(0, 8)} and ${h.slice(0, 8)} (n${node.id})`)
      this.decided.set(height, h)
      if (certificate.view > 0) this.stats.laterViewCommits++
      if (prev === undefined && this.world !== null) {
        // signatures by a rotated-in key (key index ≥ n) in the certificate of a newly decided height
        const keys = this.world.keys((node.history as ConsortiumHistory).at(height))
        this.rstats.rotatedKeySignatures += certificate.signatures.filter((s) => (keys[s.validator] ?? -1) >= this.n).length
      }
      const d = this.decisions.get(height)
      if (d === undefined) this.decisions.set(height, { height, proposer: block.proposer, view: block.view, certificateView: certificate.view, txs: block.txs })
      else d.certificateView = Math.max(d.certificateView, certificate.view)
      if (prev === undefined && !this.afterGst && this.groups === null && this.rng.chance(this.isolateOnCommit)) {
        // Adaptive adversary: the first manager to learn a decision vanishes; the others must not decide differently.
        const groups = this.nodes.map((x) => x.id === node.id ? 1 : 0)
        this.push(this.now, { kind: 'partition', groups })
        this.push(Math.min(this.gst, this.now + this.rng.int(200, 1500)), { kind: 'heal' })
      }
    }
    const block = parseValue(value.bytes)
    let rotated: number | null = null
    if (this.world !== null && block?.mtx !== undefined) {
      const history = node.history as ConsortiumHistory
      let tx: ManagerTx | null
      try { tx = managerTxShape(block.mtx) } catch { tx = null }
      if (tx === null || !history.check(tx, SIM_CHAIN_ID, height, this.world.sigVerifier).ok) {
        if (node.honest) return this.fail(`n${node.id} committed an invalid manager change at height ${height}`)
      } else {
        if (node.honest && !this.changesCommitted.has(history.configs.length)) {
          // committed, not yet in effect: another crash between the commit and the boundary
          this.changesCommitted.add(history.configs.length)
          this.boundaryCrash(node, height + (this.world.plan.configDelay))
        }
        node.history = history.commit(tx, height)
        this.trace(`n${node.id} change ${tx.action} committed at ${height}, in effect from ${node.history.latest.activationHeight}`)
        if (tx.change.action === 'rotate' && equalBytes(tx.change.hospitalId, this.world.hospital(node.id))) rotated = node.history.latest.activationHeight
      }
    }
    node.chain.push({ value, certificate })
    for (const t of block?.txs ?? []) node.committed.add(t)
    if (node.honest && this.restartAt.size > 0) {
      for (const [id, h] of this.restartAt) {
        if (height < h) continue
        this.restartAt.delete(id)
        this.push(Math.min(Math.max(this.gst, this.now), this.now + this.rng.int(0, 100)), { kind: 'restart', node: id })
      }
    }
    if (rotated !== null) {
      // this hospital's key was rotated: its operator loaded the new key in advance, or restarts the
      // node with it around the boundary (until then the node does not vote in the new set)
      const key = (this.world as ReconfWorld).keys((node.history as ConsortiumHistory).latest)[this.indexAt(node, rotated)] as number
      if (!node.honest || this.rng.chance(0.5) || !this.crash(node, rotated + this.rng.int(0, 3))) node.keys.add(key)
      else this.rstats.rotationRestarts++
    }
    this.push(this.now, { kind: 'mempool', node: node.id, epoch: node.epoch })
  }

  private onSync (node: SimNode, fromHeight: number, peers: number[]): void {
    this.stats.syncs++
    const delay = this.delay()
    if (!this.afterGst && this.rng.chance(this.dropRate)) return
    const byz = this.nodes[this.byz]
    if (byz !== undefined && (this.byzMode === 'chaos' || this.byzMode === 'all') && byz.up && this.rng.chance(0.3)) {
      this.push(this.now + delay, { kind: 'sync-reply', node: node.id, epoch: node.epoch, blocks: [this.forgedBlock(node, fromHeight)] })
      return
    }
    const sources = this.nodes.filter((x) => x.honest && x.up && x.id !== node.id && x.chain.length >= fromHeight)
    if (sources.length === 0) return
    const preferred = sources.filter((x) => peers.includes(x.id))
    const src = this.rng.pick(preferred.length > 0 ? preferred : sources)
    const blocks = src.chain.slice(fromHeight - 1, fromHeight - 1 + 16)
    this.trace(`n${node.id} sync from ${fromHeight} via n${src.id}: ${blocks.length} blocks`)
    this.push(this.now + delay, { kind: 'sync-reply', node: node.id, epoch: node.epoch, blocks })
  }

  /** A block the Byzantine manager offers in a sync reply: valid-looking, but without a real certificate. */
  private forgedBlock (node: SimNode, height: number): ChainEntry {
    const tip = node.chain[node.chain.length - 1]
    const value = makeValue({ height, prevHash: tip?.value.hash ?? GENESIS_HASH, proposer: this.byz, view: 0, txs: [0], salt: this.rng.u32() })
    const q = quorumSize(this.sizeAt(node, height))
    const signatures = Array.from({ length: q }, (_, i) => ({ validator: i, signature: this.rng.bytes(this.kit.sigBytes) }))
    const byz = this.nodes[this.byz] as SimNode
    const byzSig = this.byzSigner(byz, height).sign(voteSignBytes('commit', SIM_CHAIN_ID, height, 0, value.hash))
    signatures[0] = { validator: Math.max(0, this.indexAt(byz, height)), signature: byzSig }
    return { value, certificate: { chainId: SIM_CHAIN_ID, height, view: 0, headerHash: value.hash, signatures } }
  }

  // -------------------------------------------------------------------------------------------
  // Network

  private delay (): number {
    if (this.afterGst) return this.rng.int(1, 30)
    return this.rng.chance(0.85) ? this.rng.int(1, 40) : this.rng.int(40, 400)
  }

  private send (from: SimNode, to: number, msg: ConsensusMessage): void {
    if (!from.honest) { this.byzSend(from, to, msg); return }
    this.transmit(from.id, to, msg)
  }

  private transmit (from: number, to: number, msg: ConsensusMessage): void {
    if (!this.afterGst) {
      if (this.groups !== null && this.groups[from] !== this.groups[to]) { this.stats.dropped++; return }
      if (this.rng.chance(this.dropRate) || this.rng.chance(this.typeDrop[msg.type])) { this.stats.dropped++; this.trace(`${from}->${to} DROP ${describe(msg)}`); return }
    }
    const m = this.opts.codec === true ? decodeMessage(encodeMessage(msg)) : msg
    const slow = this.afterGst ? 1 : (this.linkSlow[from * this.n + to] ?? 1)
    this.push(this.now + this.delay() * slow, { kind: 'deliver', from, to, msg: m })
    if (!this.afterGst && this.rng.chance(this.dupRate)) this.push(this.now + this.delay(), { kind: 'deliver', from, to, msg: m })
  }

  // -------------------------------------------------------------------------------------------
  // The Byzantine manager: runs the honest state machine, then corrupts what it sends.

  private byzSend (byz: SimNode, to: number, msg: ConsensusMessage): void {
    const rng = this.rng
    const mode = this.byzMode
    if (mode === 'silent') return
    const equivocate = mode === 'equivocate' || mode === 'all'
    const chaos = mode === 'chaos' || mode === 'all'
    const signer = this.byzSigner(byz, msg.height)
    let out: ConsensusMessage = msg
    if (this.world !== null && mode !== 'withhold' && (msg.type === 'prepare' || msg.type === 'commit') && rng.chance(0.4)) {
      // a leaked retired key (or an old index) votes for another block at this height
      const alt = this.byzAlt.get(`${msg.height}/${msg.view}`)
      const vote = this.retiredVote(byz, msg.type, msg.height, msg.view, alt?.hash ?? rng.bytes(32))
      if (vote !== null) this.transmit(byz.id, to, vote)
    }
    if (mode === 'withhold') {
      // Helps a decision reach exactly one manager, then claims never to have prepared.
      const target = this.withholdTarget(msg.height, msg.view)
      if (msg.type === 'commit' && to !== target) return
      if ((msg.type === 'pre-prepare' || msg.type === 'new-view') && to === this.withholdVictim(target)) return
      if (msg.type === 'view-change' && msg.prepared !== null) {
        out = { ...msg, prepared: null, value: null, sig: signer.sign(viewChangeSignBytes(SIM_CHAIN_ID, msg.height, msg.view, null)) }
      }
    } else if (equivocate && msg.type === 'pre-prepare' && to % 2 === 1) {
      const alt = this.altValue(msg.height, msg.view, msg.value)
      out = { ...msg, value: alt, sig: signer.sign(prePrepareSignBytes(SIM_CHAIN_ID, msg.height, msg.view, alt.hash)) }
    } else if (equivocate && (msg.type === 'prepare' || msg.type === 'commit') && rng.chance(0.5)) {
      const alt = this.byzAlt.get(`${msg.height}/${msg.view}`)
      const hash = alt !== undefined && rng.chance(0.7) ? alt.hash : rng.bytes(32)
      out = { ...msg, hash, sig: signer.sign(voteSignBytes(msg.type, SIM_CHAIN_ID, msg.height, msg.view, hash)) }
      if (rng.chance(0.3)) this.transmit(byz.id, to, msg) // both: a provable equivocation
    } else if (chaos && msg.type === 'view-change' && rng.chance(0.5)) {
      out = this.forgedViewChange(msg)
    }
    if (chaos && rng.chance(0.2)) out = rng.chance(0.5) ? { ...out, sig: rng.bytes(this.kit.sigBytes) } : { ...out, from: this.randomOther(byz.id) }
    this.transmit(byz.id, to, out)
  }

  private withholdTarget (height: number, view: number): number {
    const honest = this.nodes.filter((x) => x.honest)
    return (honest[(height * 7 + view * 3) % honest.length] as SimNode).id
  }

  private withholdVictim (target: number): number {
    const honest = this.nodes.filter((x) => x.honest)
    const i = honest.findIndex((x) => x.id === target)
    return (honest[(i + 1) % honest.length] as SimNode).id
  }

  /** A second valid block for (height, view): same parent and records, different salt. */
  private altValue (height: number, view: number, value: Value): Value {
    const key = `${height}/${view}`
    let alt = this.byzAlt.get(key)
    if (alt === undefined) {
      const b = parseValue(value.bytes)
      alt = b === null ? value : makeValue({ ...b, salt: b.salt + 1 + this.rng.int(0, 1000) })
      this.byzAlt.set(key, alt)
    }
    return alt
  }

  /** A VIEW-CHANGE correctly signed by the Byzantine manager but claiming a fabricated prepared certificate. */
  private forgedViewChange (vc: ViewChangeMsg): ViewChangeMsg {
    const q = quorumSize(this.sizeAt(this.nodes[this.byz] as SimNode, vc.height))
    const hash = this.rng.bytes(32)
    const prepared = {
      view: Math.max(0, vc.view - 1),
      hash,
      prePrepareSig: this.rng.bytes(this.kit.sigBytes),
      prepares: Array.from({ length: q }, (_, i) => ({ validator: i, signature: this.rng.bytes(this.kit.sigBytes) }))
    }
    const sig = this.byzSigner(this.nodes[this.byz] as SimNode, vc.height).sign(viewChangeSignBytes(SIM_CHAIN_ID, vc.height, vc.view, prepared))
    return { ...vc, prepared, value: this.rng.bytes(64), sig }
  }

  /** Background noise from the Byzantine manager: replays of old messages and garbage. */
  private byzNoise (): void {
    const byz = this.nodes[this.byz] as SimNode
    const rng = this.rng
    if (byz.up && this.byzLog.length > 0) {
      for (let i = rng.int(1, 3); i > 0; i--) {
        this.transmit(byz.id, this.randomOther(byz.id), rng.pick(this.byzLog))
      }
      const s = byz.pbft?.status()
      if (s !== undefined) {
        // A vote "from" an honest manager with a garbage signature, at the current height.
        const victim = (this.byz + 1) % this.n
        const vote: VoteMsg = { type: rng.chance(0.5) ? 'prepare' : 'commit', height: s.height, view: s.view, from: victim, hash: rng.bytes(32), sig: rng.bytes(this.kit.sigBytes) }
        for (const other of this.nodes) if (other.id !== byz.id) this.transmit(byz.id, other.id, vote)
        // A pre-prepare for the current height that does not extend the chain, correctly signed when it is the leader.
        const me = this.indexAt(byz, s.height)
        if (this.world === null ? leaderOf(s.height, s.view, this.n) === byz.id : me >= 0 && s.leader === me) {
          const bogus = makeValue({ height: s.height, prevHash: rng.bytes(32), proposer: me, view: s.view, txs: [0], salt: rng.u32() })
          const pp: ConsensusMessage = { type: 'pre-prepare', height: s.height, view: s.view, from: me, value: bogus, sig: this.byzSigner(byz, s.height).sign(prePrepareSignBytes(SIM_CHAIN_ID, s.height, s.view, bogus.hash)) }
          this.transmit(byz.id, this.randomOther(byz.id), pp)
        }
      }
    }
    if (this.world !== null && byz.up) {
      // removed, rotated or shifted: it keeps voting at the heights being decided with what it held before
      const height = Math.max(0, ...this.nodes.filter((x) => x.honest).map((x) => x.chain.length)) + 1
      for (const type of ['prepare', 'commit'] as const) {
        const vote = this.retiredVote(byz, type, height, rng.int(0, 1), rng.bytes(32))
        if (vote !== null) for (const other of this.nodes) if (other.id !== byz.id) this.transmit(byz.id, other.id, vote)
      }
    }
    this.push(this.now + rng.int(20, 150), { kind: 'byz-noise' })
  }

  /** The Byzantine manager's key for `height` (its current one by its chain; its node id with a fixed set). */
  private byzSigner (byz: SimNode, height: number): SignerPort {
    if (this.world === null) return this.kit.signer(byz.id)
    const c = (byz.history as ConsortiumHistory).at(height)
    const i = this.world.members(c).indexOf(byz.id)
    return this.kit.signer(i >= 0 ? this.world.keys(c)[i] as number : byz.id)
  }

  private randomOther (id: number): number {
    return this.rng.pick(this.nodes.filter((x) => x.id !== id)).id
  }
}

/** Runs one seeded simulation. */
export function simulate (opts: SimOptions): SimResult {
  return new Simulation(opts).run()
}
