/**
 * Smoke test of `npm run bench:crypto`: runs it with `--quick --out <tmp>` in a child process and
 * checks that the JSON holds every expected row with positive, finite numbers (never a time
 * bound). Also checks the shared helpers of bench/lib that the rows are computed with.
 */
import { strict as assert } from 'node:assert'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { checkArgs, formatNumber, markdownTable, measure, optionValue, percentile, summarize } from '../../bench/lib/index.js'

const run = promisify(execFile)

/** Every row the issue asks for: [name prefix, backend]. */
const EXPECTED: [string, string][] = [
  ...['liboqs', 'noble'].flatMap((b): [string, string][] => [
    ['ML-DSA-65 sign', b], ['ML-DSA-65 verify', b], ['ML-KEM-768 encapsulate', b], ['ML-KEM-768 decapsulate', b],
    ['createKeyTransfer', b], ['openKeyTransfer', b], ['sealRecord', b], ['verifyRecord', b], ['createGrant', b], ['openGrant', b]
  ]),
  ['ML-DSA-65 keygen from seed', 'noble'],
  ['ML-KEM-768 keygen from seed', 'noble'],
  ['SHA-256, 1 KiB', 'node:crypto'],
  ['HMAC-SHA256, 64 B', 'node:crypto'],
  ['HKDF-SHA256, 32 B output', 'node:crypto'],
  ['AES-256-GCM seal, 1 KiB', 'node:crypto'],
  ['AES-256-GCM open, 1 KiB', 'node:crypto'],
  ['AES-256-GCM seal, 1 MiB', 'node:crypto'],
  ['AES-256-GCM open, 1 MiB', 'node:crypto'],
  ['PUF enroll', 'js'],
  ['PUF reproduce', 'js'],
  ['deriveIdentityKeys', 'noble'],
  ['merkleRoot, 1,000 leaves', 'node:crypto'],
  ['merkleRoot, 100,000 leaves', 'node:crypto'],
  ['inclusionProof, 100,000 leaves', 'node:crypto'],
  ['proofFromLevels, 100,000 leaves', 'js'],
  ['verifyInclusion, 100,000 leaves', 'node:crypto']
]

interface JsonRow { name: string, backend: string, opsPerSec: number, meanUs: number, p50Us: number, p95Us: number, iterations: number, cpuShare: number }

const positive = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x > 0

describe('bench:crypto --quick', function () {
  this.timeout(15_000)
  let dir: string
  before(() => { dir = mkdtempSync(join(tmpdir(), 'pqmed-bench-crypto-')) })
  after(() => { rmSync(dir, { recursive: true, force: true }) })

  it('writes every expected row with positive numbers and prints the markdown table', async () => {
    const out = join(dir, 'crypto.json')
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--import', './src/polyfill.ts', 'bench/crypto.ts', '--quick', '--out', out], { maxBuffer: 4 << 20 })
    const json = JSON.parse(readFileSync(out, 'utf8')) as { quick: boolean, machine: Record<string, unknown>, rows: JsonRow[] }
    assert.equal(json.quick, true)
    assert.equal(json.machine.node, process.version)
    assert.ok(typeof json.machine.cpu === 'string' && json.machine.cpu.length > 0)
    assert.ok(Number.isInteger(json.machine.cores) && (json.machine.cores as number) > 0)
    assert.ok(!Number.isNaN(Date.parse(String(json.machine.date))))

    for (const [prefix, backend] of EXPECTED) {
      const matches = json.rows.filter((r) => r.name.startsWith(prefix) && r.backend === backend)
      assert.equal(matches.length, 1, `expected exactly one row '${prefix}…' [${backend}], found ${matches.length}`)
    }
    assert.equal(json.rows.length, EXPECTED.length, 'unexpected extra rows')
    for (const r of json.rows) {
      for (const k of ['opsPerSec', 'meanUs', 'p50Us', 'p95Us'] as const) assert.ok(positive(r[k]), `${r.name} [${r.backend}] ${k} = ${String(r[k])}`)
      assert.ok(Number.isInteger(r.iterations) && r.iterations >= 1, `${r.name} iterations`)
      assert.ok(r.p95Us >= r.p50Us, `${r.name}: p95 < p50`)
      assert.ok(Number.isFinite(r.cpuShare) && r.cpuShare >= 0, `${r.name} cpuShare`)
      assert.ok(Math.abs(r.opsPerSec * r.meanUs - 1e6) / 1e6 < 0.01, `${r.name}: ops/s is not 1e6 / mean µs`)
    }

    assert.match(stdout, /^Machine: node v\d+/m)
    assert.match(stdout, /^\| Operation +\| Backend +\| +ops\/s \| mean µs \| +p50 µs \| +p95 µs \| iterations \|$/m)
    const tableLines = stdout.split('\n').filter((l) => l.startsWith('| '))
    assert.equal(tableLines.length, EXPECTED.length + 2)
  })
})

describe('bench/lib', () => {
  it('percentile interpolates linearly between ranks', () => {
    assert.equal(percentile([1, 2, 3, 4], 0.5), 2.5)
    assert.equal(percentile([10], 0.95), 10)
    assert.equal(percentile([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.95), 95)
    assert.equal(percentile([1, 2, 3], 0), 1)
    assert.equal(percentile([1, 2, 3], 1), 3)
    assert.throws(() => percentile([], 0.5), RangeError)
    assert.throws(() => percentile([1], 1.5), RangeError)
  })

  it('summarize sorts a copy', () => {
    const xs = [5, 1, 4, 2, 3]
    const s = summarize(xs)
    assert.deepEqual(s, { count: 5, mean: 3, min: 1, max: 5, p50: 3, p95: 4.8 })
    assert.deepEqual(xs, [5, 1, 4, 2, 3])
  })

  it('measure honours minIterations and maxIterations and counts every call', () => {
    let calls = 0
    const m = measure(() => { calls++; return calls }, { timeMs: 0, warmupMs: 0, minIterations: 7, maxIterations: 7 })
    assert.equal(m.iterations, 7)
    assert.equal(calls, 8) // one warm-up call
    assert.ok(m.batch >= 1 && m.samples >= 1 && m.samples <= 7)
    assert.ok(m.meanUs > 0 && m.p50Us > 0 && Math.abs(m.opsPerSec * m.meanUs - 1e6) < 1)
    assert.throws(() => measure(() => 0, { maxIterations: 0 }), RangeError)
    const busy = measure(() => { let x = 0; for (let i = 0; i < 1e5; i++) x += i; return x }, { timeMs: 30, warmupMs: 0 })
    assert.ok(busy.cpuShare > 0 && busy.iterations >= 5)
  })

  it('markdownTable aligns columns and escapes pipes', () => {
    const t = markdownTable(['a', 'num'], [['x|y', '1'], ['z', '1,234']], ['left', 'right'])
    assert.equal(t, [
      '| a    |   num |',
      '| ---- | ----: |',
      '| x\\|y |     1 |',
      '| z    | 1,234 |'
    ].join('\n'))
    assert.throws(() => markdownTable(['a'], [['1', '2']]), RangeError)
  })

  it('formatNumber keeps about three significant digits', () => {
    assert.equal(formatNumber(1234567.8), '1,234,568')
    assert.equal(formatNumber(512.3), '512')
    assert.equal(formatNumber(41.27), '41.3')
    assert.equal(formatNumber(2.345), '2.35')
    assert.equal(formatNumber(0.012345), '0.0123')
  })

  it('parses and checks options', () => {
    assert.equal(optionValue(['--quick', '--out', 'x.json'], 'out'), 'x.json')
    assert.equal(optionValue(['--out=y.json'], 'out'), 'y.json')
    assert.equal(optionValue(['--quick'], 'out'), undefined)
    assert.throws(() => optionValue(['--out'], 'out'), /needs a value/)
    checkArgs(['--quick', '--out', 'x'], ['quick'], ['out'])
    assert.throws(() => { checkArgs(['--quik'], ['quick'], ['out']) }, /unknown option '--quik'/)
    assert.throws(() => { checkArgs(['stray'], ['quick'], ['out']) }, /unexpected argument/)
  })
})
