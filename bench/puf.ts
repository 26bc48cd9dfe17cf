/**
 * PUF fuzzy-extractor benchmark (`npm run bench:puf`): for bit error rates 5, 10, 13, 14, 15, 20, 25 %,
 * measures the reproduction failure rate over seeded trials (default 20,000 per BER: 20
 * enrollments on 20 simulated chips x 1,000 reproductions each), the enroll / reproduce time, and
 * prints them beside the analytic per-block and overall failure probability of the code.
 * Writes bench/results/puf.json.
 *
 * Options: --trials N (per BER, a multiple of --enrollments), --enrollments E.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cpus } from 'node:os'
import { equalBytes, sha256, utf8 } from '../src/crypto/index.js'
import {
  codeInfo, DEFAULT_CODE, DEFAULT_ENROLLMENT_READS, DEFAULT_MIN_ENTROPY_PER_BIT, enroll, entropyAccount, failureBound,
  PufError, reproduce, seededRandom, SimulatedSramPuf
} from '../src/puf/index.js'
import { checkArgs } from './lib/report.js'

checkArgs(process.argv.slice(2), [], ['trials', 'enrollments'])

function arg (name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return fallback
  const v = Number(process.argv[i + 1])
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} needs a positive integer`)
  return v
}

const TRIALS = arg('trials', 20000)
const ENROLLMENTS = arg('enrollments', 20)
if (TRIALS % ENROLLMENTS !== 0) throw new Error('--trials must be a multiple of --enrollments')
const PER_ENROLLMENT = TRIALS / ENROLLMENTS
/** The five required BERs, plus 13 and 14 % where the failure tail is measurable with 20,000 trials. */
const BERS = [0.05, 0.10, 0.13, 0.14, 0.15, 0.20, 0.25]
const seed = (label: string): Uint8Array => sha256(utf8(`pqmed/bench/puf/${label}`))

/** Wilson score 95% interval for k successes in n trials. */
function wilson (k: number, n: number): [number, number] {
  const z = 1.959963984540054
  const p = k / n
  const den = 1 + (z * z) / n
  const centre = (p + (z * z) / (2 * n)) / den
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / den
  return [k === 0 ? 0 : Math.max(0, centre - half), k === n ? 1 : Math.min(1, centre + half)]
}

interface Row {
  ber: number
  trials: number
  failures: number
  measuredFailureRate: number
  wilson95: [number, number]
  analyticEffectiveBer: number
  analyticInnerErrorRate: number
  analyticBlockFailure: number
  analyticFailure: number
  enrollMsMean: number
  reproduceMsMean: number
}

const info = codeInfo(DEFAULT_CODE)
const entropy = entropyAccount(DEFAULT_CODE, DEFAULT_MIN_ENTROPY_PER_BIT)
console.log(`pqmed PUF benchmark: code r=${info.repetition} inner repetition, BCH(${info.bchN}, ${info.bchK}, t=${info.bchT}) x ${info.blocks} blocks; ` +
  `${info.codeBits} response bits, ${info.messageBits} message bits; enrollment = majority of ${DEFAULT_ENROLLMENT_READS} readings`)
console.log(`${TRIALS} reproductions per BER (${ENROLLMENTS} enrollments x ${PER_ENROLLMENT}), seeded; node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}`)

const rows: Row[] = []
const started = performance.now()
for (const ber of BERS) {
  let failures = 0
  let enrollMs = 0
  let reproduceMs = 0
  for (let e = 0; e < ENROLLMENTS; e++) {
    const device = new SimulatedSramPuf({ seed: seed(`chip/${ber}/${e}`), bitErrorRate: ber, random: seededRandom(seed(`noise/${ber}/${e}`)) })
    let t0 = performance.now()
    const { secret, helper } = enroll(device, { random: seededRandom(seed(`enroll/${ber}/${e}`)) })
    enrollMs += performance.now() - t0
    t0 = performance.now()
    for (let i = 0; i < PER_ENROLLMENT; i++) {
      try {
        const again = reproduce(device, helper)
        if (!equalBytes(again, secret)) throw new Error(`WRONG KEY returned at BER ${ber}: this must never happen`)
      } catch (err) {
        if (!(err instanceof PufError)) throw err
        failures++
      }
    }
    reproduceMs += performance.now() - t0
  }
  const bound = failureBound(DEFAULT_CODE, ber, DEFAULT_ENROLLMENT_READS)
  rows.push({
    ber,
    trials: TRIALS,
    failures,
    measuredFailureRate: failures / TRIALS,
    wilson95: wilson(failures, TRIALS),
    analyticEffectiveBer: bound.effectiveBer,
    analyticInnerErrorRate: bound.innerErrorRate,
    analyticBlockFailure: bound.blockFailure,
    analyticFailure: bound.failure,
    enrollMsMean: enrollMs / ENROLLMENTS,
    reproduceMsMean: reproduceMs / TRIALS
  })
  process.stderr.write(`BER ${ber}: ${failures}/${TRIALS} failures\n`)
}
const seconds = (performance.now() - started) / 1000

const pct = (x: number): string => `${(100 * x).toFixed(0)} %`
const sci = (x: number): string => (x === 0 ? '0' : x >= 0.01 ? x.toFixed(4) : x.toExponential(2))
console.log('')
console.log('| BER | p\' vs reference | p_in after majority | trials | failures | measured rate | 95% CI (Wilson) | analytic P(block) | analytic P(fail) | enroll ms | reproduce ms |')
console.log('|---|---|---|---|---|---|---|---|---|---|---|')
for (const r of rows) {
  console.log(`| ${pct(r.ber)} | ${r.analyticEffectiveBer.toFixed(6)} | ${r.analyticInnerErrorRate.toFixed(6)} | ${r.trials} | ${r.failures} | ${sci(r.measuredFailureRate)} | [${sci(r.wilson95[0])}, ${sci(r.wilson95[1])}] | ` +
    `${sci(r.analyticBlockFailure)} | ${sci(r.analyticFailure)} | ${r.enrollMsMean.toFixed(1)} | ${r.reproduceMsMean.toFixed(2)} |`)
}
console.log('')
// Min-entropy per bit at which exactly 256 bits remain; and 1 - rate, below which no number of blocks suffices.
const breakEven = (256 + entropy.helperLeakageBits) / info.codeBits
const asymptote = 1 - info.messageBits / info.codeBits
console.log(`helper leakage ${entropy.helperLeakageBits} of ${info.codeBits} bits; remaining min-entropy ${entropy.remainingBits.toFixed(1)} bits at ${DEFAULT_MIN_ENTROPY_PER_BIT} bits/bit; ` +
  `256 bits remain down to ${breakEven.toFixed(4)} bits/bit; below ${asymptote.toFixed(4)} bits/bit (1 - code rate) no number of blocks suffices`)
console.log(`total ${seconds.toFixed(1)} s`)

const out = {
  command: 'npm run bench:puf' + (process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''),
  generatedAt: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  code: info,
  enrollmentReads: DEFAULT_ENROLLMENT_READS,
  entropy,
  breakEvenMinEntropyPerBit: breakEven,
  minEntropyAsymptote: asymptote,
  trialsPerBer: TRIALS,
  enrollmentsPerBer: ENROLLMENTS,
  seconds,
  rows
}
const file = join(dirname(fileURLToPath(import.meta.url)), 'results', 'puf.json')
mkdirSync(dirname(file), { recursive: true })
writeFileSync(file, JSON.stringify(out, null, 2) + '\n')
console.log(`wrote ${file}`)
