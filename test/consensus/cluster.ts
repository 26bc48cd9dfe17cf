/**
 * A hand-driven cluster for unit tests: n `Pbft` nodes, an explicit message queue the test
 * delivers (or drops) step by step, explicit time, and recorders for WAL, commits and signatures.
 * It also checks the WAL contract on every broadcast: a pre-prepare, prepare or commit a node sends
 * is already in its WAL.
 */
import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { toHex } from '../../src/crypto/index.js'
import { Pbft } from '../../src/consensus/index.js'
import type { ConsensusEffect, ConsensusEvent, ConsensusMessage, ConsensusTiming, SignerPort, Value, VerifierPort, WalRecord } from '../../src/consensus/index.js'
import type { CommitCertificate } from '../../src/blocks/types.js'
import { GENESIS_HASH, makeValue, parseValue, validateSimValue } from './sim/app.js'
import { hmacKit, type CryptoKit } from './sim/crypto.js'

export const CHAIN = 'pqmed-sim'

export const TEST_TIMING: ConsensusTiming = {
  blockInterval: 0,
  maxBlockRecords: 8,
  heartbeatInterval: 100,
  viewChangeTimeout: 400,
  maxTimeoutDoublings: 4,
  retransmitInterval: 150,
  syncDelay: 100,
  leaderBlacklistHeights: 16
}

/** An event without its clock: the cluster stamps `now`. */
export type EventInput = ConsensusEvent extends infer E ? E extends ConsensusEvent ? Omit<E, 'now'> & { now?: number } : never : never

export interface Envelope { from: number, to: number, msg: ConsensusMessage }
export interface Commit { height: number, value: Value, certificate: CommitCertificate }

export class Cluster {
  readonly kit: CryptoKit
  readonly nodes: Pbft[] = []
  readonly wal: WalRecord[][] = []
  readonly commits: Commit[][] = []
  readonly effects: ConsensusEffect[][] = []
  /** Every (kind/height/view → hash) each node signed, across restarts. */
  readonly signed: Array<Map<string, Set<string>>> = []
  readonly committedTxs: Array<Set<number>> = []
  queue: Envelope[] = []
  builds: Array<{ node: number, height: number, view: number }> = []
  now = 0
  injected = 1000

  constructor (readonly n: number, readonly timing: ConsensusTiming = TEST_TIMING, kit?: CryptoKit) {
    this.kit = kit ?? hmacKit(n, 7)
    for (let i = 0; i < n; i++) {
      this.wal.push([]); this.commits.push([]); this.effects.push([]); this.signed.push(new Map()); this.committedTxs.push(new Set())
      this.nodes.push(this.make(i))
    }
  }

  get verifier (): VerifierPort { return this.kit.verifier }

  /** A fresh instance for node i from its committed chain (used at construction and on restart). */
  make (i: number): Pbft {
    const chain = this.commits[i] as Commit[]
    const tip = chain[chain.length - 1]
    const inner = this.kit.signer(i)
    const signed = this.signed[i] as Map<string, Set<string>>
    const signer: SignerPort = {
      sign: (bytes) => {
        const x = dagCbor.decode(bytes) as unknown[]
        let key: string | null = null
        let hash: Uint8Array | null = null
        if (x[0] === 'pqmed/vote/1') { key = `${String(x[1])}/${String(x[3])}/${String(x[4])}`; hash = x[5] as Uint8Array }
        if (x[0] === 'pqmed/pre-prepare/1') { key = `pre-prepare/${String(x[2])}/${String(x[3])}`; hash = x[4] as Uint8Array }
        if (key !== null && hash !== null) {
          const set = signed.get(key) ?? new Set<string>()
          set.add(toHex(hash))
          signed.set(key, set)
        }
        return inner.sign(bytes)
      }
    }
    return new Pbft(
      { chainId: CHAIN, managers: this.n, self: i, head: { height: chain.length, hash: tip?.value.hash ?? GENESIS_HASH }, timing: this.timing },
      {
        signer,
        verifier: this.kit.verifier,
        app: { validate: (h, v, parent) => validateSimValue(h, v, parent, { injected: () => this.injected, committed: this.committedTxs[i] as Set<number>, maxRecords: this.timing.maxBlockRecords }) }
      }
    )
  }

  /** A valid block for node i's next height. */
  value (i: number, txs = [0, 1, 2], salt = 0, view = 0): Value {
    const chain = this.commits[i] as Commit[]
    const tip = chain[chain.length - 1]
    return makeValue({ height: chain.length + 1, prevHash: tip?.value.hash ?? GENESIS_HASH, proposer: i, view, txs, salt })
  }

  step (i: number, event: EventInput): ConsensusEffect[] {
    const fx = (this.nodes[i] as Pbft).step({ now: this.now, ...event } as ConsensusEvent)
    this.execute(i, fx)
    return fx
  }

  execute (i: number, fx: ConsensusEffect[]): void {
    (this.effects[i] as ConsensusEffect[]).push(...fx)
    for (const e of fx) {
      switch (e.type) {
        case 'wal-append': (this.wal[i] as WalRecord[]).push(e.record); break
        case 'broadcast':
          this.assertLogged(i, e.msg)
          for (let j = 0; j < this.n; j++) if (j !== i) this.queue.push({ from: i, to: j, msg: e.msg })
          break
        case 'send': this.queue.push({ from: i, to: e.to, msg: e.msg }); break
        case 'build-proposal': this.builds.push({ node: i, height: e.height, view: e.view }); break
        case 'commit':
          (this.commits[i] as Commit[]).push({ height: e.height, value: e.value, certificate: e.certificate })
          for (const t of parseValue(e.value.bytes)?.txs ?? []) (this.committedTxs[i] as Set<number>).add(t)
          break
        default: break
      }
    }
  }

  /** The WAL contract: what a node signs and sends was recorded first. */
  private assertLogged (i: number, msg: ConsensusMessage): void {
    if (msg.type !== 'pre-prepare' && msg.type !== 'prepare' && msg.type !== 'commit') return
    const hash = msg.type === 'pre-prepare' ? msg.value.hash : msg.hash
    const ok = (this.wal[i] as WalRecord[]).some((r) => r.kind === msg.type && r.height === msg.height && r.view === msg.view &&
      toHex(r.kind === 'pre-prepare' ? r.value.hash : (r as { hash: Uint8Array }).hash) === toHex(hash))
    assert.ok(ok, `node ${i} sent ${msg.type} h=${msg.height} v=${msg.view} without a WAL record`)
  }

  startAll (): void {
    for (let i = 0; i < this.n; i++) this.step(i, { type: 'start' })
  }

  /** Delivers queued messages (and those they cause) until the queue is empty; `keep` filters. */
  deliver (keep: (e: Envelope) => boolean = () => true, maxSteps = 100_000): void {
    let steps = 0
    while (this.queue.length > 0) {
      if (++steps > maxSteps) throw new Error('delivery did not converge')
      const e = this.queue.shift() as Envelope
      if (!keep(e)) continue
      this.step(e.to, { type: 'message', msg: e.msg })
    }
  }

  /** Answers every pending build-proposal with a block of the node's pending txs (or as told). */
  answerBuilds (make: (node: number, height: number, view: number) => Value | null = (node, _h, view) => this.value(node, [0, 1, 2], 0, view)): void {
    const builds = this.builds
    this.builds = []
    for (const b of builds) this.step(b.node, { type: 'proposal-built', height: b.height, view: b.view, value: make(b.node, b.height, b.view) })
  }

  /** Advances time to `t` in `stepMs` increments, ticking the listed nodes and delivering (filtered) after each. */
  advance (t: number, stepMs: number, alive: number[] = [...Array(this.n).keys()], keep: (e: Envelope) => boolean = () => true): void {
    while (this.now < t) {
      this.now = Math.min(t, this.now + stepMs)
      for (const i of alive) this.step(i, { type: 'tick' })
      this.answerBuildsFor(alive)
      this.deliver((e) => alive.includes(e.to) && alive.includes(e.from) && keep(e))
    }
  }

  private answerBuildsFor (alive: number[]): void {
    const builds = this.builds.filter((b) => alive.includes(b.node))
    this.builds = this.builds.filter((b) => !alive.includes(b.node))
    for (const b of builds) this.step(b.node, { type: 'proposal-built', height: b.height, view: b.view, value: this.value(b.node, [b.height * 10, b.height * 10 + 1], 0, b.view) })
  }

  sent (i: number, type: ConsensusMessage['type']): ConsensusMessage[] {
    return (this.effects[i] as ConsensusEffect[]).flatMap((e) => (e.type === 'broadcast' || e.type === 'send') && e.msg.type === type ? [e.msg] : [])
  }
}
