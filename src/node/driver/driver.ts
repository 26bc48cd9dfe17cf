/**
 * The consensus driver (CometBFT's consensus/state.go loop): feeds events to the PBFT state
 * machine (src/consensus) one at a time and executes the effects it returns, in order. A
 * `wal-append` is durable before anything after it runs. The driver knows no libp2p and no
 * block format: the application, the network and block sync are ports.
 */
import type { CommitCertificate } from '../../blocks/index.js'
import type { ConsensusEffect, ConsensusEvent, ConsensusMessage, EpochPbft, Pbft, Value, WalRecord } from '../../consensus/index.js'
import type { Logger } from '../log.js'
import { Ticker } from './ticker.js'
import type { Wal } from './wal.js'

export interface DriverPorts {
  wal: Wal
  /** The block to propose at (height, view), or null with nothing to propose. */
  build: (height: number, view: number, maxRecords: number) => Value | null
  /** Applies a committed value (the driver has awaited every earlier effect). */
  commit: (value: Value, cert: CommitCertificate) => Promise<void>
  /** Gossips a consensus message to every manager. */
  broadcast: (msg: ConsensusMessage) => void
  /** Sends a consensus message to one manager. */
  send: (to: number, msg: ConsensusMessage) => void
  /** Starts fetching certified blocks from `fromHeight` (in the background; results come back as `sync-block` events). */
  sync: (fromHeight: number, peers: number[]) => void
  log: Logger
}

export class ConsensusDriver {
  private readonly pbft: EpochPbft
  private readonly ports: DriverPorts
  private readonly ticker: Ticker
  private queue: Promise<void> = Promise.resolve()
  private stopped = false

  /**
   * `pbft` decides heights epoch by epoch: after the effects of each step are executed (the app has
   * applied the commits), the driver lets it move to the next manager set (`EpochPbft.advance`).
   */
  constructor (pbft: EpochPbft, ports: DriverPorts) {
    this.pbft = pbft
    this.ports = ports
    this.ticker = new Ticker((now) => { this.feed({ type: 'tick', now }) })
  }

  /** Replays the WAL records and starts the state machine; resolves when both are processed. */
  async start (restored: WalRecord[]): Promise<void> {
    this.feed({ type: 'restored', now: Date.now(), records: restored })
    this.feed({ type: 'start', now: Date.now() })
    await this.drained()
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.ticker.stop()
    await this.queue.catch(() => {})
  }

  status (): ReturnType<Pbft['status']> { return this.pbft.status() }

  /** Resolves when every event fed so far is processed. */
  async drained (): Promise<void> { await this.queue }

  /** Queues an event; events are processed one at a time, in the order fed. */
  feed (e: ConsensusEvent): void {
    if (this.stopped) return
    this.queue = this.queue.then(async () => {
      if (this.stopped) return
      await this.run(this.pbft.step(e))
      for (let i = 0; i < 4 && !this.stopped; i++) {
        const fx = this.pbft.advance(Date.now())
        if (fx.length === 0) break
        const s = this.pbft.switches[this.pbft.switches.length - 1]
        if (s !== undefined) this.ports.log.info(`manager set changed at height ${s.height}: ${s.n} managers, ${s.self >= 0 ? `this node is manager ${s.self}` : 'this node is not a member (it follows the chain)'}`)
        await this.run(fx)
      }
    }).catch((err: Error) => { this.ports.log.warn(`consensus driver error: ${err.stack ?? err.message}`) })
  }

  private async run (effects: ConsensusEffect[]): Promise<void> {
    const p = this.ports
    for (const fx of effects) {
      if (this.stopped) return
      switch (fx.type) {
        case 'wal-append':
          await p.wal.append(fx.record)
          break
        case 'broadcast':
          p.broadcast(fx.msg)
          break
        case 'send':
          p.send(fx.to, fx.msg)
          break
        case 'build-proposal':
          this.feed({ type: 'proposal-built', now: Date.now(), height: fx.height, view: fx.view, value: p.build(fx.height, fx.view, fx.maxRecords) })
          break
        case 'commit':
          await p.commit(fx.value, fx.certificate)
          break
        case 'sync':
          p.sync(fx.fromHeight, fx.peers)
          break
        case 'schedule-tick':
          this.ticker.schedule(fx.at)
          break
        case 'evidence':
          p.log.warn(`equivocation by manager ${fx.evidence.validator} at height ${fx.evidence.a.height}`)
          break
      }
    }
  }
}
