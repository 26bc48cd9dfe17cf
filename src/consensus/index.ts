/**
 * PBFT consensus among the genesis managers, as a deterministic state machine.
 *
 * `new Pbft(config, ports)` decides heights one after another from `config.head`. The driver
 * (src/node) feeds it events and executes the effects each `step` returns, IN ORDER:
 *
 * - `wal-append`: make the record durable (fsync) before executing any later effect of the step.
 *   This is what guarantees that a restarted manager never signs two different values for one
 *   (height, view) and never forgets a prepare or a commit.
 * - `commit`: persist the block and its certificate durably (then drop WAL records of that height
 *   and below, tell the mempool, and feed a `mempool` event) before executing later effects.
 * - `broadcast` / `send`: publish on the consensus topic / send to manager `to` (best effort;
 *   encode with `encodeMessage`). Messages are self-authenticating: relays are fine.
 * - `build-proposal`: build a block of at most `maxRecords` records at (height, view) on top of the
 *   head and answer with a `proposal-built` event (`value: null` if there is nothing to propose).
 * - `sync`: fetch committed blocks with certificates from `fromHeight` on (from `peers` first) and
 *   feed them, in height order, as `sync-block` events; they are verified before adoption.
 * - `schedule-tick`: call `tick` at that time (calling it more often is harmless).
 * - `evidence`: two conflicting signed messages of one manager; log or report it.
 *
 * On restart: construct with the stored head, feed `restored` with the WAL records (those above the
 * head), then `start`.
 *
 * @example
 * ```ts
 * import { Pbft, mlDsaSigner, mlDsaVerifier, encodeMessage, decodeMessage, type ConsensusEffect } from './consensus/index.js'
 *
 * const pbft = new Pbft(
 *   { chainId, managers: publicKeys.length, self: myIndex, head: await store.head(), timing: { blockInterval: 50 } },
 *   { signer: mlDsaSigner(pq, secretKey), verifier: mlDsaVerifier(pq, publicKeys), app: { validate: (h, v, parent) => chain.validate(h, v, parent) } }
 * )
 * let queue = Promise.resolve()
 * const feed = (e: Parameters<Pbft['step']>[0]) => { queue = queue.then(() => run(pbft.step(e))) } // one step at a time
 * async function run (effects: ConsensusEffect[]): Promise<void> {
 *   for (const fx of effects) {
 *     switch (fx.type) {
 *       case 'wal-append': await wal.appendDurably(fx.record); break          // before anything after it
 *       case 'commit': await store.commitBlock(fx.height, fx.value, fx.certificate); await wal.truncateTo(fx.height)
 *         feed({ type: 'mempool', now: Date.now(), size: mempool.size }); break
 *       case 'broadcast': void gossip.publish(topic, encodeMessage(fx.msg)); break
 *       case 'send': void direct.send(managerPeer(fx.to), encodeMessage(fx.msg)); break
 *       case 'build-proposal': feed({ type: 'proposal-built', now: Date.now(), height: fx.height, view: fx.view, value: await app.build(fx.maxRecords) }); break
 *       case 'sync': for (const b of await syncBlocks(fx.fromHeight, fx.peers)) feed({ type: 'sync-block', now: Date.now(), value: b.value, certificate: b.certificate }); break
 *       case 'schedule-tick': timers.at(fx.at, () => feed({ type: 'tick', now: Date.now() })); break
 *       case 'evidence': log.warn('equivocation', fx.evidence.validator); break
 *     }
 *   }
 * }
 * feed({ type: 'restored', now: Date.now(), records: await wal.readAll() })
 * feed({ type: 'start', now: Date.now() })
 * gossip.on(topic, (bytes) => feed({ type: 'message', now: Date.now(), msg: decodeMessage(bytes) }))
 * mempool.on('change', (size) => feed({ type: 'mempool', now: Date.now(), size }))
 * ```
 */
export * from './types.js'
export * from './errors.js'
export * from './signing.js'
export * from './certs.js'
export * from './codec.js'
export * from './ports.js'
export { LeaderSchedule, MAX_BLACKLIST_DOUBLINGS, type LeaderEntry, type ProposalOrigin } from './leaders.js'
export { EpochPbft, type Epoch, type EpochConfig, type EpochPorts } from './epochs.js'
export { Pbft, DEFAULT_TIMING, MAX_VIEW_AHEAD, MAX_FUTURE_PER_SENDER, MAX_SYNC_DOUBLINGS, type PbftStatus } from './pbft.js'
