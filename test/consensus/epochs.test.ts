/**
 * PBFT across changes of the manager set (`EpochPbft`): a hand-driven network of toy blocks where
 * a block with salt 1000 + k switches to manager set k, `configDelay` heights after its commit; and
 * the deterministic simulation (test/consensus/sim) with changes of the manager set:
 *
 *   npx mocha test/consensus/epochs.test.ts                                     # 100 seeded runs (npm test)
 *   SIM_RECONF_RUNS=3000 npx mocha test/consensus/epochs.test.ts -g simulation  # more (npm run test:sim:reconf);
 *                                                                               # writes bench/results/sim-reconf.json
 *                                                                               # (or SIM_RECONF_OUT; SIM_RECONF_SEED=first seed)
 *   SIM_RECONF_SEED=17 SIM_RECONF_TRACE=1 npx mocha test/consensus/epochs.test.ts -g simulation  # replay one seed with a trace
 */
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import * as dagCbor from '@ipld/dag-cbor'
import { toHex } from '../../src/crypto/index.js'
import { EpochPbft, checkCommitCertificate, type ConsensusEffect, type ConsensusEvent, type ConsensusMessage, type Epoch, type Value, type VerifierPort } from '../../src/consensus/index.js'
import type { CommitCertificate } from '../../src/blocks/types.js'
import { voteSignBytes } from '../../src/blocks/vote.js'
import { GENESIS_HASH, makeValue, parseValue, validateSimValue } from './sim/app.js'
import { hmacKit } from './sim/crypto.js'
import { Prng } from './sim/prng.js'
import { reconfPlan } from './sim/reconf.js'
import { simulate, type SimResult } from './sim/simulation.js'
import { CHAIN, TEST_TIMING } from './cluster.js'

const DELAY = 2
/** Manager sets, by global node id: 0 genesis; 1 adds node 4; 2 removes node 1. */
const SETS = [[0, 1, 2, 3], [0, 1, 2, 3, 4], [0, 2, 3, 4]]

interface Commit { height: number, value: Value, certificate: CommitCertificate }

class ReconfNet {
  readonly kit = hmacKit(6, 11)
  readonly nodes = new Map<number, EpochPbft>()
  readonly commits = new Map<number, Commit[]>()
  readonly signedHeights = new Map<number, number[]>()
  queue: Array<{ to: number, msg: ConsensusMessage, fromNode: number }> = []
  builds: Array<{ node: number, height: number, view: number }> = []
  now = 0
  /** height → set index a block proposed at that height switches to. */
  readonly plan = new Map<number, number>()
  /** Nodes whose messages are dropped (crashed). */
  readonly down = new Set<number>()
  /** Seeded faults: random delivery order, drops before `gst`, a Byzantine node sending conflicting votes. */
  faults?: { rng: Prng, dropRate: number, gst: number, byzantine: number }
  evidence = 0

  /** The set index certifying `height`, from node `i`'s committed chain. */
  setAt (i: number, height: number): { k: number, lastHeight?: number } {
    let k = 0
    let last: number | undefined
    for (const c of this.commits.get(i) ?? []) {
      const b = parseValue(c.value.bytes)
      if (b === null || b.salt < 1000) continue
      if (c.height + DELAY <= height) k = b.salt - 1000
      else last = c.height + DELAY - 1
    }
    return last === undefined ? { k } : { k, lastHeight: last }
  }

  verifierOf (k: number): VerifierPort {
    const members = SETS[k] as number[]
    return { verify: (v, bytes, sig) => Number.isInteger(v) && v >= 0 && v < members.length && this.kit.verifier.verify(members[v] as number, bytes, sig) }
  }

  epochFor (i: number, height: number): Epoch {
    const { k, lastHeight } = this.setAt(i, height)
    const members = SETS[k] as number[]
    const inner = this.kit.signer(i)
    const signer = {
      sign: (bytes: Uint8Array) => {
        const x = dagCbor.decode(bytes) as unknown[] // [tag, (kind,) chainId, height, ...]: record the height signed for
        ;(this.signedHeights.get(i) as number[]).push((x[0] === 'pqmed/vote/1' ? x[3] : x[2]) as number)
        return inner.sign(bytes)
      }
    }
    return { n: members.length, self: members.indexOf(i), verifier: this.verifierOf(k), signer, ...(lastHeight !== undefined ? { lastHeight } : {}) }
  }

  start (i: number): void {
    this.commits.set(i, [])
    this.signedHeights.set(i, [])
    const committed = new Set<number>()
    const node = new EpochPbft({ chainId: CHAIN, head: { height: 0, hash: GENESIS_HASH }, timing: TEST_TIMING, configDelay: DELAY, followSyncMs: 100 }, {
      app: {
        validate: (h, v, parent) => {
          for (const c of this.commits.get(i) ?? []) for (const t of parseValue(c.value.bytes)?.txs ?? []) committed.add(t)
          const r = validateSimValue(h, v, parent, { injected: () => 100_000, committed, maxRecords: 8 })
          return r.ok && (parseValue(v.bytes)?.salt ?? 0) >= 1000 ? { ...r, reconfig: true } : r
        }
      },
      epochAt: (h) => this.epochFor(i, h)
    })
    this.nodes.set(i, node)
    this.step(i, { type: 'start', now: this.now })
  }

  step (i: number, e: ConsensusEvent): void {
    if (this.down.has(i)) return
    const node = this.nodes.get(i) as EpochPbft
    this.exec(i, node.step(e))
    for (;;) { const fx = node.advance(this.now); if (fx.length === 0) break; this.exec(i, fx) }
  }

  exec (i: number, fx: ConsensusEffect[]): void {
    const members = SETS[this.setAt(i, (this.commits.get(i)?.length ?? 0) + 1).k] as number[]
    for (const e of fx) {
      switch (e.type) {
        case 'broadcast': for (const j of this.nodes.keys()) if (j !== i) this.queue.push({ to: j, msg: e.msg, fromNode: i }); break
        case 'send': { const to = members[e.to]; if (to !== undefined) this.queue.push({ to, msg: e.msg, fromNode: i }); break }
        case 'build-proposal': this.builds.push({ node: i, height: e.height, view: e.view }); break
        case 'commit': (this.commits.get(i) as Commit[]).push({ height: e.height, value: e.value, certificate: e.certificate }); break
        case 'evidence': this.evidence++; break
        case 'sync': {
          // any node further ahead answers with its certified blocks, in order
          const best = [...this.commits.entries()].filter(([j]) => j !== i && !this.down.has(j)).sort((a, b) => b[1].length - a[1].length)[0]
          for (const c of best?.[1].slice(e.fromHeight - 1) ?? []) this.step(i, { type: 'sync-block', now: this.now, value: c.value, certificate: c.certificate })
          break
        }
        default: break
      }
    }
  }

  deliver (): void {
    const f = this.faults
    for (let n = 0; this.queue.length > 0; n++) {
      if (n > 200_000) throw new Error('no convergence')
      const at = f === undefined ? 0 : f.rng.int(0, this.queue.length - 1) // reordering
      const m = this.queue.splice(at, 1)[0] as { to: number, msg: ConsensusMessage, fromNode: number }
      if (this.down.has(m.fromNode)) continue
      if (f !== undefined && this.now < f.gst && f.rng.chance(f.dropRate)) continue
      if (f !== undefined && m.fromNode === f.byzantine && (m.msg.type === 'prepare' || m.msg.type === 'commit') && f.rng.chance(0.3)) {
        // the Byzantine manager also sends a validly signed vote for another block to this receiver
        const hash = f.rng.bytes(32)
        const sig = this.kit.signer(f.byzantine).sign(voteSignBytes(m.msg.type, CHAIN, m.msg.height, m.msg.view, hash))
        this.step(m.to, { type: 'message', now: this.now, msg: { ...m.msg, hash, sig } })
      }
      this.step(m.to, { type: 'message', now: this.now, msg: m.msg })
    }
  }

  /** Ticks every live node every `stepMs` until `until` (or `done`), answering builds and delivering. */
  run (until: number, stepMs: number, done: () => boolean): void {
    while (this.now < until && !done()) {
      this.now += stepMs
      for (const i of this.nodes.keys()) {
        this.step(i, { type: 'tick', now: this.now })
        this.step(i, { type: 'mempool', now: this.now, size: 4 })
      }
      const builds = this.builds
      this.builds = []
      for (const b of builds) {
        const chain = this.commits.get(b.node) as Commit[]
        if (chain.length + 1 !== b.height) continue
        const self = (SETS[this.setAt(b.node, b.height).k] as number[]).indexOf(b.node)
        const k = this.plan.get(b.height)
        const value = makeValue({ height: b.height, prevHash: chain[chain.length - 1]?.value.hash ?? GENESIS_HASH, proposer: self, view: b.view, txs: [b.height * 10, b.height * 10 + 1], salt: k === undefined ? 0 : 1000 + k })
        this.step(b.node, { type: 'proposal-built', now: this.now, height: b.height, view: b.view, value })
      }
      this.deliver()
    }
  }

  chain (i: number): Commit[] { return this.commits.get(i) as Commit[] }
}

/** One seeded run: a join and a removal at random heights, reordering, drops and a pause before GST, a Byzantine manager. */
function seededRun (seed: number): { heights: number, evidence: number } {
  const rng = new Prng(seed)
  const net = new ReconfNet()
  const addAt = rng.int(1, 4)
  const removeAt = addAt + DELAY + rng.int(0, 3)
  net.plan.set(addAt, 1)
  net.plan.set(removeAt, 2)
  // node 3 is a member of every set: the Byzantine one (f = 1 in each)
  net.faults = { rng, dropRate: rng.float() * 0.2, gst: rng.int(500, 3000), byzantine: 3 }
  for (const i of [0, 1, 2, 3, 4]) net.start(i)
  const paused = rng.pick([0, 2, 4])
  const pauseAt = rng.int(0, net.faults.gst)
  const target = removeAt + DELAY + 6
  const all = [0, 1, 2, 3, 4]
  while (net.now < net.faults.gst + 60_000 && !all.every((i) => net.chain(i).length >= target)) {
    if (net.now >= pauseAt && net.now < net.faults.gst) net.down.add(paused)
    else net.down.delete(paused)
    net.run(net.now + 20, 20, () => false)
  }
  for (const i of all) assert.ok(net.chain(i).length >= target, `seed ${seed}: node ${i} reached ${target} (at ${net.chain(i).length}); add ${addAt} remove ${removeAt}; ${all.map((j) => `${j}: chain ${net.chain(j).length} ${JSON.stringify({ ...net.nodes.get(j)?.status(), parentHash: undefined })} sw ${JSON.stringify(net.nodes.get(j)?.switches)}`).join(' | ')}`)
  const top = Math.max(...all.map((i) => net.chain(i).length))
  for (let h = 1; h <= top; h++) {
    const hashes = new Set(all.flatMap((i) => { const c = net.chain(i)[h - 1]; return c === undefined ? [] : [toHex(c.value.hash)] }))
    assert.equal(hashes.size, 1, `seed ${seed}: fork at height ${h}`)
    const k = h < addAt + DELAY ? 0 : h < removeAt + DELAY ? 1 : 2
    const c = net.chain(0)[h - 1]
    if (c !== undefined) assert.ok(checkCommitCertificate({ chainId: CHAIN, n: (SETS[k] as number[]).length, verifier: net.verifierOf(k) }, c.certificate, h, c.value.hash), `seed ${seed}: certificate ${h} under set ${k}`)
  }
  return { heights: top, evidence: net.evidence }
}

describe('consensus: PBFT across changes of the manager set (EpochPbft)', function () {
  this.timeout(600_000)

  it(`seeded runs with a join and a removal, reordering, drops, a paused manager and a Byzantine one: no fork (${process.env.SIM_RECONF_TOY_RUNS ?? 20} runs; SIM_RECONF_TOY_RUNS=N for more)`, () => {
    const runs = Number(process.env.SIM_RECONF_TOY_RUNS ?? 20)
    const first = Number(process.env.SIM_RECONF_TOY_SEED ?? 1)
    let heights = 0
    let evidence = 0
    const t0 = performance.now()
    for (let seed = first; seed < first + runs; seed++) {
      const r = seededRun(seed)
      heights += r.heights
      evidence += r.evidence
    }
    if (process.env.SIM_RECONF_TOY_RUNS !== undefined) console.log(`reconfiguration runs: ${runs} (seeds ${first}..${first + runs - 1}), 0 forks, ${heights} heights decided, ${evidence} equivocations detected, ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  })

  it('a hospital joins (n 4 → 5), another leaves (5 → 4): every node agrees, each certificate verifies against its height\'s set, the new manager signs, the removed one stops', () => {
    const net = new ReconfNet()
    net.plan.set(3, 1) // committed at 3: node 4 joins from height 5
    net.plan.set(7, 2) // committed at 7: node 1 leaves from height 9
    for (const i of [0, 1, 2, 3, 4]) net.start(i)
    assert.equal(net.nodes.get(4)?.following, true, 'node 4 is not in the genesis set: it follows')
    const target = 14
    net.run(60_000, 20, () => [0, 1, 2, 3, 4].every((i) => net.chain(i).length >= target))
    for (const i of [0, 1, 2, 3, 4]) assert.ok(net.chain(i).length >= target, `node ${i} reached ${target} (at ${net.chain(i).length})`)

    // no fork: every node has the same block at every height
    for (let h = 1; h <= target; h++) {
      const hashes = new Set([0, 1, 2, 3, 4].map((i) => toHex(net.chain(i)[h - 1]?.value.hash as Uint8Array)))
      assert.equal(hashes.size, 1, `one block at height ${h}`)
    }
    // each certificate verifies against the set of its height, with that set's quorum
    for (let h = 1; h <= target; h++) {
      const k = h < 5 ? 0 : h < 9 ? 1 : 2
      const c = net.chain(0)[h - 1] as Commit
      assert.ok(checkCommitCertificate({ chainId: CHAIN, n: (SETS[k] as number[]).length, verifier: net.verifierOf(k) }, c.certificate, h, c.value.hash), `certificate ${h} under set ${k}`)
      assert.equal(c.certificate.signatures.length, k === 1 ? 4 : 3)
      if (k !== 0) assert.equal(checkCommitCertificate({ chainId: CHAIN, n: 4, verifier: net.verifierOf(0) }, c.certificate, h, c.value.hash) && k === 2, false, `certificate ${h} does not verify under the genesis set`)
    }
    // the new manager took part from height 5 on: it signed votes there, and it proposed blocks
    assert.deepEqual(net.nodes.get(4)?.switches.map((s) => [s.height, s.self]), [[1, -1], [5, 4], [9, 3]])
    const signed4 = net.signedHeights.get(4) as number[]
    assert.ok(signed4.length > 0 && Math.min(...signed4) >= 5, 'node 4 signs only from its first height')
    const globalProposer = (c: Commit): number | undefined => (SETS[c.height < 5 ? 0 : c.height < 9 ? 1 : 2] as number[])[parseValue(c.value.bytes)?.proposer ?? -1]
    assert.ok(net.chain(0).some((c) => globalProposer(c) === 4), 'node 4 proposed a committed block')
    // the removed manager stopped at the boundary and follows (still gets every block)
    assert.deepEqual(net.nodes.get(1)?.switches.map((s) => [s.height, s.self]), [[1, 1], [5, 1], [9, -1]])
    assert.ok(Math.max(...(net.signedHeights.get(1) as number[])) <= 8, 'node 1 signs nothing after height 8')
    assert.equal(net.nodes.get(1)?.following, true)
  })

  it('votes of a removed manager do not count after the boundary: a certificate signed with the old set\'s indices is refused', () => {
    const net = new ReconfNet()
    const hash = new Uint8Array(32).fill(7)
    const bytes = voteSignBytes('commit', CHAIN, 9, 0, hash)
    // nodes 0, 1, 2 (genesis indices 0, 1, 2) sign height 9, which set 2 ([0, 2, 3, 4]) certifies
    const cert: CommitCertificate = { chainId: CHAIN, height: 9, view: 0, headerHash: hash, signatures: [0, 1, 2].map((v) => ({ validator: v, signature: net.kit.signer(v).sign(bytes) })) }
    assert.equal(checkCommitCertificate({ chainId: CHAIN, n: 4, verifier: net.verifierOf(0) }, cert, 9, hash), true, 'valid under the old set')
    assert.equal(checkCommitCertificate({ chainId: CHAIN, n: 4, verifier: net.verifierOf(2) }, cert, 9, hash), false, 'refused under the set of height 9')
  })

  it('a manager that crashes across the boundary catches up by sync, verifying each certificate against its height\'s set, and rejoins', () => {
    const net = new ReconfNet()
    net.plan.set(2, 1)
    for (const i of [0, 1, 2, 3, 4]) net.start(i)
    net.down.add(3)
    net.run(30_000, 20, () => [0, 1, 2, 4].every((i) => net.chain(i).length >= 8))
    assert.ok(net.chain(3).length < 4, `node 3 was down (at ${net.chain(3).length})`)
    net.down.delete(3)
    const target = net.chain(0).length + 6
    net.run(net.now + 60_000, 20, () => [0, 1, 2, 3, 4].every((i) => net.chain(i).length >= target))
    assert.ok(net.chain(3).length >= target, `node 3 caught up (at ${net.chain(3).length})`)
    for (let h = 1; h <= target; h++) assert.equal(toHex(net.chain(3)[h - 1]?.value.hash as Uint8Array), toHex(net.chain(0)[h - 1]?.value.hash as Uint8Array))
    assert.ok((net.signedHeights.get(3) as number[]).some((h) => h > 9), 'node 3 votes again after catching up')
  })
})

describe('consensus simulation with changes of the manager set (EpochPbft in test/consensus/sim)', function () {
  this.timeout(3_600_000)
  const env = process.env
  const single = env.SIM_RECONF_SEED !== undefined && env.SIM_RECONF_RUNS === undefined
  const runs = single ? 1 : Number(env.SIM_RECONF_RUNS ?? 100)
  const first = Number(env.SIM_RECONF_SEED ?? 1)

  it(`${runs} seeded run(s) (seeds ${first}..${first + runs - 1}): joins, key rotations and removals (n 4 → 5 → 4, 4 → 7, 7 → 4) under the full fault model — no fork, every certificate valid for its height's set, no honest double signing across restarts, every change in effect and decided after GST`, () => {
    const t0 = performance.now()
    const cpu0 = process.cpuUsage()
    const load0 = loadavg()[0] as number
    const results: Array<SimResult & { label: string }> = []
    for (let seed = first; seed < first + runs; seed++) {
      const { n, plan } = reconfPlan(seed)
      const r = simulate({ seed, n, reconf: plan, ...(env.SIM_RECONF_TRACE === '1' ? { trace: (line: string) => { console.log(line) } } : {}) })
      results.push({ ...r, label: plan.label })
    }
    const seconds = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    const failures = results.filter((r) => !r.ok)
    const sum = (f: (r: SimResult) => number): number => results.reduce((s, r) => s + f(r), 0)
    const rc = (k: 'changes' | 'inEffect' | 'switches' | 'boundaryCrashes' | 'rotationRestarts' | 'refusedChanges' | 'retiredVotes' | 'rotatedKeySignatures' | 'lateStarts'): number => sum((r) => r.reconf?.[k] ?? 0)
    const byLabel = Object.fromEntries(['4-5-4', '4-7', '7-4'].map((l) => [l, results.filter((r) => r.label === l).length]))
    const byMode = Object.fromEntries(['equivocate', 'chaos', 'withhold', 'silent', 'all'].map((m) => [m, results.filter((r) => r.byzantineMode === m).length]))
    const figures = {
      runs,
      seeds: `${first}..${first + runs - 1}`,
      failed: failures.length,
      forks: failures.filter((r) => r.failure?.startsWith('SAFETY') === true).length,
      plans: byLabel,
      byzantineModes: byMode,
      heightsDecided: sum((r) => r.decisions.length),
      changesPlanned: rc('changes'),
      changesInEffect: rc('inEffect'),
      managerSetSwitches: rc('switches'),
      crashes: sum((r) => r.crashes),
      restartsWithWal: sum((r) => r.walRestores),
      boundaryCrashes: rc('boundaryCrashes'),
      rotationRestarts: rc('rotationRestarts'),
      lateStarts: rc('lateStarts'),
      refusedChanges: rc('refusedChanges'),
      retiredKeyVotes: rc('retiredVotes'),
      rotatedKeySignatures: rc('rotatedKeySignatures'),
      equivocationEvidence: sum((r) => r.evidence),
      viewChanges: sum((r) => r.viewChanges),
      maxSimulatedMsAfterGst: Math.max(0, ...results.map((r) => r.reachedAfterGst ?? 0)),
      seconds: Number(seconds.toFixed(1)),
      cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
      loadAverage1m: { start: Number(load0.toFixed(1)), end: Number((loadavg()[0] as number).toFixed(1)) }
    }
    console.log(`      reconfiguration simulation: ${JSON.stringify(figures)}`)
    if (env.SIM_RECONF_RUNS !== undefined) {
      mkdirSync('bench/results', { recursive: true })
      const out = env.SIM_RECONF_OUT ?? 'bench/results/sim-reconf.json'
      writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), command: `SIM_RECONF_RUNS=${runs}${env.SIM_RECONF_SEED !== undefined ? ` SIM_RECONF_SEED=${first}` : ''} npx mocha test/consensus/epochs.test.ts -g simulation`, ...figures }, null, 2) + '\n')
    }
    assert.equal(failures.length, 0, `${failures.length} of ${runs} runs failed:\n${failures.slice(0, 10).map((r) => `  seed ${r.seed} (${r.label}, n=${r.n}, byzantine ${r.byzantine} ${r.byzantineMode}): ${r.failure ?? ''}\n    rerun: SIM_RECONF_SEED=${r.seed} SIM_RECONF_TRACE=1 npx mocha test/consensus/epochs.test.ts -g simulation`).join('\n')}`)
    if (single) return
    // the runs did reach the cases they are for
    assert.equal(figures.changesInEffect, figures.changesPlanned, 'every planned change took effect on every live honest manager')
    for (const [label, count] of Object.entries(byLabel)) assert.ok(count > 0, `some runs of shape ${label}`)
    assert.ok(figures.boundaryCrashes > 0 && figures.restartsWithWal > 0 && figures.rotationRestarts > 0 && figures.lateStarts > 0)
    assert.ok(figures.refusedChanges > 0 && figures.retiredKeyVotes > 0 && figures.rotatedKeySignatures > 0 && figures.equivocationEvidence > 0)
  })
})
