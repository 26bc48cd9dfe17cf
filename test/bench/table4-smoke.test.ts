import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { RowResult } from '../../bench/table4/report.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/**
 * Runs the first Table 4 row with a handful of queries, to keep the benchmark from rotting. The
 * loaded phase gets a 1 ms budget: one query pair runs, and the submissions stop with it instead
 * of going on through all 20 of the row's load records.
 */
describe('bench: table4 smoke (10 nodes, 5 queries, loaded phase cut by its budget)', function () {
  this.timeout(90_000)
  let out: string

  before(async () => { out = await mkdtemp(join(tmpdir(), 'pqmed-table4-smoke-')) })
  after(async () => { await rm(out, { recursive: true, force: true }) })

  it('writes table4.json with every row field, table4.md and table4.svg', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', './src/polyfill.ts', 'bench/table4.ts', '--rows', '10', '--queries', '5', '--workers', '2', '--loaded-seconds', '0.001', '--out-dir', out],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], detached: true })
    const err: string[] = []
    child.stderr.on('data', (d: Buffer) => { err.push(d.toString()) })
    // the bench stops its own managers and workers; the process group is killed in any case
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => { try { process.kill(-(child.pid as number), 'SIGKILL') } catch { /* gone */ } }, 80_000)
      child.on('exit', (c) => { clearTimeout(t); resolve(c) })
    })
    try { process.kill(-(child.pid as number), 'SIGKILL') } catch { /* already gone: nothing left running */ }
    assert.equal(code, 0, err.join(''))
    const j = JSON.parse(await readFile(join(out, 'table4.json'), 'utf8')) as { complete: boolean, rows: RowResult[] }
    assert.equal(j.complete, true)
    assert.equal(j.rows.length, 1)
    const r = j.rows[0]
    assert.ok(r !== undefined)
    assert.equal(r.nodes, 10)
    assert.equal(r.records, 20)
    assert.deepEqual(r.queries, { record: 5, symptom: 5 })
    assert.equal(r.loaded.pairs, 1, JSON.stringify(r.loaded))
    assert.equal(r.loaded.budgetHit, true)
    assert.equal(r.loaded.loadRecords, 20)
    // submissions stop with the pair (4 at a time, each waiting for its block): without the stop
    // all 20 go through before the phase ends; with it, those started while the pair ran
    assert.ok(r.loaded.committed + r.loaded.failedSubmissions < 20, `committed ${r.loaded.committed}`)
    for (const k of ['record', 'symptom'] as const) {
      for (const s of ['mean', 'p50', 'p95', 'max'] as const) {
        assert.ok(Number.isFinite(r.quiet[k][s]) && r.quiet[k][s] > 0, `quiet.${k}.${s}`)
        assert.ok(Number.isFinite(r.loaded[k][s]) && r.loaded[k][s] > 0, `loaded.${k}.${s}`)
      }
    }
    // the control: the same queries through a user node in its own process
    assert.ok(r.ownProcessUser !== undefined)
    assert.equal(r.ownProcessUser.record.count, 5)
    assert.ok(r.ownProcessUser.record.p50 > 0 && r.ownProcessUser.symptom.p50 > 0)
    assert.equal(r.userNodes, 5)
    assert.ok(r.setupSeconds.total > 0 && r.syncSeconds >= 0)
    assert.ok(r.headerPropagationMs.heights > 0 && Number.isFinite(r.headerPropagationMs.allNodesP99))
    assert.ok(r.memory.perUserNodeMiB > 0 && r.cpuSeconds.total > 0)
    assert.match(await readFile(join(out, 'table4.md'), 'utf8'), /\| +10 \| +20 \|/)
    assert.match(await readFile(join(out, 'table4.svg'), 'utf8'), /^<svg /)
  })
})
