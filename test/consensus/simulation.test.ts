/**
 * Deterministic simulation of PBFT (see sim/simulation.ts for the fault model and the checks).
 *
 *   SIM_RUNS=8000 npx mocha test/consensus/simulation.test.ts      # more seeds per n (default in npm test: 3000 for n=4, 1000 for n=7;
 *                                                                  # npm run test:sim runs 8000 per n)
 *   SIM_SEED=1234 SIM_N=4 npx mocha test/consensus/simulation.test.ts  # one seed, with a full trace
 *   SIM_START=100000 ...                                             # another seed range
 *   SIM_SEED=3 SIM_N=7 SIM_MLDSA=1 npx mocha ...                      # one seed of the ML-DSA-65 batch (same kit and codec)
 */
import assert from 'node:assert/strict'
import { verifyCertificate } from '../../src/blocks/certificate.js'
import { loadPqBackend } from '../../src/crypto/index.js'
import { SIM_CHAIN_ID, SIM_TIMING, censored, simulate, type SimResult } from './sim/simulation.js'
import { mlDsaKit } from './sim/crypto.js'

const env = process.env
const single = env.SIM_SEED !== undefined ? Number(env.SIM_SEED) : null
const start = Number(env.SIM_START ?? 1)

function summary (label: string, results: SimResult[], ms: number): string {
  const ok = results.filter((r) => r.ok)
  const reach = ok.map((r) => r.reachedAfterGst ?? 0).sort((a, b) => a - b)
  const sum = (k: 'viewChanges' | 'reproposals' | 'laterViewCommits' | 'walRestores' | 'crashes' | 'evidence' | 'syncs'): number => results.reduce((s, r) => s + r[k], 0)
  return `${label}: ${results.length} seeded runs in ${(ms / 1000).toFixed(1)} s; ` +
    `${results.length - ok.length} failed; after GST all reached the target in p50 ${reach[Math.floor(reach.length / 2)] ?? '-'} / max ${reach[reach.length - 1] ?? '-'} simulated ms; ` +
    `totals: ${sum('viewChanges')} view-changes, ${sum('reproposals')} re-proposals, ${sum('laterViewCommits')} commits in view>0, ${sum('crashes')} crashes (${sum('walRestores')} restarts with WAL), ${sum('evidence')} equivocation evidences, ${sum('syncs')} syncs`
}

function reportFailures (n: number, failures: SimResult[]): string {
  return failures.slice(0, 10).map((r) => `  seed ${r.seed} (n=${n}, byzantine ${r.byzantine} ${r.byzantineMode}): ${r.failure ?? ''}\n    rerun: SIM_SEED=${r.seed} SIM_N=${n} npx mocha test/consensus/simulation.test.ts`).join('\n')
}

describe('consensus simulation', function () {
  this.timeout(600_000) // generous: on a shared, loaded machine n = 7 took 162 s (23 s when idle)

  if (single !== null) {
    for (const n of env.SIM_N !== undefined ? [Number(env.SIM_N)] : [4, 7]) {
      it(`replays seed ${single} with n=${n} and a trace`, async () => {
        const real = env.SIM_MLDSA === '1'
        const kit = real ? mlDsaKit(await loadPqBackend(), n) : undefined
        const r = simulate({ seed: single, n, kit, codec: real, trace: (line) => { console.log(line) } })
        console.log(JSON.stringify(r))
        assert.ok(r.ok, r.failure ?? '')
      })
    }
    return
  }

  for (const [n, defaultRuns] of [[4, 3000], [7, 1000]] as const) {
    it(`n=${n}: safety in every run, liveness after GST (HMAC signer)`, () => {
      const runs = Number(env.SIM_RUNS ?? defaultRuns)
      const t0 = performance.now()
      const results: SimResult[] = []
      for (let seed = start; seed < start + runs; seed++) results.push(simulate({ seed, n }))
      const ms = performance.now() - t0
      console.log(`      ${summary(`n=${n}, seeds ${start}..${start + runs - 1}`, results, ms)}`)
      const failures = results.filter((r) => !r.ok)
      assert.equal(failures.length, 0, `${failures.length} of ${runs} runs failed:\n${reportFailures(n, failures)}`)
      // The fault model really exercised the protocol's hard paths.
      assert.ok(results.some((r) => r.reproposals > 0) && results.some((r) => r.walRestores > 0) && results.some((r) => r.evidence > 0))
      // ... and the leader blacklist changed in many runs (every run checks that honest managers agree on it)
      assert.ok(results.filter((r) => r.blacklistChanges > 0).length > runs / 10)
    })
  }

  it('20 runs with real ML-DSA-65 signatures, every message and WAL record through the codec', async () => {
    const pq = await loadPqBackend()
    const t0 = performance.now()
    const results: SimResult[] = []
    for (const [n, count] of [[4, 12], [7, 8]] as const) {
      const kit = mlDsaKit(pq, n)
      const managers = kit.publicKeys as Uint8Array[]
      const certCheck: Parameters<typeof simulate>[0]['certCheck'] = (cert, height, headerHash) =>
        verifyCertificate(cert, { chainId: SIM_CHAIN_ID, managers, verifier: pq }, { height, headerHash }).ok
      for (let seed = start; seed < start + count; seed++) {
        const r = simulate({ seed, n, kit, codec: true, certCheck })
        results.push(r)
        assert.ok(r.ok, `ML-DSA run seed ${seed} n=${n} failed: ${r.failure ?? ''}\n  rerun: SIM_SEED=${seed} SIM_N=${n} SIM_MLDSA=1 npx mocha test/consensus/simulation.test.ts`)
      }
    }
    console.log(`      ${summary(`ML-DSA-65 (${pq.name}), seeds ${start}..${start + 11} n=4 and ${start}..${start + 7} n=7`, results, performance.now() - t0)}`)
  })
})

describe('consensus simulation: leader choice', function () {
  this.timeout(300_000)
  const HEIGHTS = 400
  const base = SIM_TIMING.leaderBlacklistHeights
  /** Heights decided after a view change (some honest manager committed in a view > 0). */
  const viewChangeHeights = (r: SimResult): number => r.decisions.filter((d) => d.certificateView > 0 || d.view > 0).length
  // A crashed manager fails once, then after base, 2·base, 4·base... heights: 1 + log2(H/base + 1) failures,
  // plus one for a failure that straddles the end.
  const bound = 2 + Math.ceil(Math.log2(HEIGHTS / base + 1))

  for (const [n, down] of [[4, [2]], [4, [0]], [7, [3, 5]]] as const) {
    it(`n=${n} with manager(s) ${down.join(', ')} crashed: at most ${bound} view changes per crashed manager over ${HEIGHTS} heights (rotation without the blacklist: one every n heights)`, () => {
      for (let seed = start; seed < start + 3; seed++) {
        const opts = { seed, n, faults: false, down: [...down], extraHeights: HEIGHTS, livenessBound: 3_600_000 }
        const r = simulate(opts)
        assert.ok(r.ok, `seed ${seed}: ${r.failure ?? ''}`)
        assert.ok(r.decisions.length >= HEIGHTS)
        const vc = viewChangeHeights(r)
        const plain = simulate({ ...opts, timing: { leaderBlacklistHeights: 0 } })
        assert.ok(plain.ok, plain.failure ?? '')
        const vcPlain = viewChangeHeights(plain)
        console.log(`      seed ${seed}: ${vc} view changes with the blacklist, ${vcPlain} with plain rotation (${r.decisions.length} / ${plain.decisions.length} heights); ${r.blacklistChanges} blacklist changes`)
        assert.ok(vc <= bound * down.length, `seed ${seed}: ${vc} view changes over ${r.decisions.length} heights (bound ${bound * down.length})`)
        assert.ok(vcPlain >= Math.floor(HEIGHTS * down.length / n) - 2, `plain rotation: ${vcPlain}`)
        assert.equal(r.honestBlacklisted, 0, 'no live honest manager is ever blacklisted on a synchronous network')
      }
    })
  }

  it('a censoring Byzantine leader leads one height at a time: every tx it leaves out is committed at the next height', () => {
    for (let seed = start; seed < start + 3; seed++) {
      const byz = seed % 4
      const r = simulate({ seed, n: 4, faults: false, byzantine: { id: byz, mode: 'censor' }, extraHeights: 200, livenessBound: 3_600_000 })
      assert.ok(r.ok, `seed ${seed}: ${r.failure ?? ''}`)
      const committedAt = new Map<number, number>()
      for (const d of r.decisions) for (const t of d.txs) committedAt.set(t, d.height)
      let run = 0
      let skips = 0
      for (const d of r.decisions) {
        run = d.proposer === byz ? run + 1 : 0
        assert.ok(run <= 1, `seed ${seed}: the censor proposed ${run} heights in a row (height ${d.height})`)
        // every censored tx with a lower id than one of this block's txs was pending and passed over here
        const top = Math.max(...d.txs)
        for (let t = 0; t < top; t++) {
          if (!censored(t) || (committedAt.get(t) ?? Infinity) <= d.height) continue
          skips++
          assert.ok(d.proposer === byz, `seed ${seed}: an honest leader left tx ${t} out at height ${d.height}`)
          assert.ok((committedAt.get(t) ?? Infinity) <= d.height + 1, `seed ${seed}: tx ${t}, left out at height ${d.height}, committed at ${committedAt.get(t) ?? 'never'}`)
        }
      }
      assert.ok(skips > 0, 'the censor did leave txs out')
      assert.ok(r.decisions.some((d) => d.proposer === byz), 'the censor did lead')
    }
  })

  it('a Byzantine leader cannot blacklist honest managers by claiming a later view for its block: its blocks are refused and it is blacklisted itself', () => {
    for (let seed = start; seed < start + 3; seed++) {
      const byz = seed % 4
      const r = simulate({ seed, n: 4, faults: false, byzantine: { id: byz, mode: 'frame' }, extraHeights: HEIGHTS, livenessBound: 3_600_000 })
      assert.ok(r.ok, `seed ${seed}: ${r.failure ?? ''}`)
      assert.equal(r.honestBlacklisted, 0, `seed ${seed}: an honest manager was blacklisted`)
      assert.ok(r.decisions.every((d) => d.proposer !== byz), 'no framing block is committed')
      assert.ok(r.blacklistChanges > 0)
      assert.ok(viewChangeHeights(r) <= bound, `seed ${seed}: ${viewChangeHeights(r)} view changes`)
    }
  })
})
