/**
 * Deterministic simulation of PBFT (see sim/simulation.ts for the fault model and the checks).
 *
 *   SIM_RUNS=5000 npx mocha test/consensus/simulation.test.ts      # more seeds per n (default 8000 for n=4, 3000 for n=7)
 *   SIM_SEED=1234 SIM_N=4 npx mocha test/consensus/simulation.test.ts  # one seed, with a full trace
 *   SIM_START=100000 ...                                             # another seed range
 *   SIM_SEED=3 SIM_N=7 SIM_MLDSA=1 npx mocha ...                      # one seed of the ML-DSA-65 batch (same kit and codec)
 */
import assert from 'node:assert/strict'
import { verifyCertificate } from '../../src/blocks/certificate.js'
import { loadPqBackend } from '../../src/crypto/index.js'
import { SIM_CHAIN_ID, simulate, type SimResult } from './sim/simulation.js'
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
  this.timeout(170_000)

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

  for (const [n, defaultRuns] of [[4, 8000], [7, 3000]] as const) {
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
