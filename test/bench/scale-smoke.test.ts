import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { reusableFill, type FillSpec } from '../../bench/lib/scale-fill.js'
import type { ScaleReport } from '../../bench/lib/scale-report.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** Runs bench:scale on a tiny row (60 records), to keep the benchmark from rotting. */
describe('bench: scale smoke (60 records)', function () {
  this.timeout(180_000)
  let out: string

  before(async () => { out = await mkdtemp(join(tmpdir(), 'pqmed-scale-smoke-')) })
  after(async () => { await rm(out, { recursive: true, force: true }) })

  it('fills a store through the application, measures a manager and a user node on it, writes scale.json/md/svg and keeps a reusable row', async () => {
    const keep = join(out, 'keep')
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', './src/polyfill.ts', 'bench/scale.ts', '--rows', '60', '--per-block', '20', '--queries', '3', '--doctors', '2', '--workers', '1', '--keep', keep, '--out-dir', out],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], detached: true })
    const err: string[] = []
    child.stderr.on('data', (d: Buffer) => { err.push(d.toString()) })
    // the bench stops the processes it starts; the process group is killed in any case
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => { try { process.kill(-(child.pid as number), 'SIGKILL') } catch { /* gone */ } }, 170_000)
      child.on('exit', (c) => { clearTimeout(t); resolve(c) })
    })
    try { process.kill(-(child.pid as number), 'SIGKILL') } catch { /* already gone: nothing left running */ }
    assert.equal(code, 0, err.join(''))
    const j = JSON.parse(await readFile(join(out, 'scale.json'), 'utf8')) as ScaleReport
    assert.equal(j.complete, true)
    assert.equal(j.rows.length, 1)
    const r = j.rows[0]
    assert.ok(r !== undefined)
    assert.equal(r.records, 60)
    assert.equal(r.blocks, 3)
    assert.equal(r.reused, false)
    const f = r.figures
    assert.equal(f.manager.height, 3)
    assert.ok(f.manager.rssMiB > 0 && f.manager.rssAfterSyncMiB > 0 && f.manager.readyMs > 0 && f.manager.firstAnswerMs >= f.manager.readyMs)
    const mem = f.manager.memory?.queries
    assert.ok(mem !== undefined && mem.rssAnon > 0 && mem.rssFile > 0 && (mem.heapUsed ?? 0) > 0, JSON.stringify(mem))
    assert.ok(f.disk.bytesPerRecord > 2000, `${f.disk.bytesPerRecord} bytes per record`)
    assert.ok((f.disk.stores.chain ?? 0) > 0 && (f.disk.stores.blobs ?? 0) > 0)
    assert.equal(f.disk.chainKeys?.rec?.entries, 60)
    assert.equal(f.lightSync.headers, 3)
    assert.ok(f.search.results > 0 && f.search.keywordMatches >= f.search.results)
    for (const q of [f.record.manager, f.record.user, f.search.manager, f.search.user]) {
      assert.equal(q.count, 3)
      assert.ok(Number.isFinite(q.p50) && q.p50 > 0 && q.p95 >= q.p50)
    }
    assert.ok(j.emptyStart !== undefined && j.emptyStart.rssMiB > 0)
    assert.match(await readFile(join(out, 'scale.md'), 'utf8'), /\| +60 \| +3 \|/)
    assert.match(await readFile(join(out, 'scale.svg'), 'utf8'), /^<svg /)

    // the kept row is reused only by a run with the same fill options, and only when complete
    const dir = join(keep, 'records-60')
    const spec: FillSpec = { records: 60, perBlock: 20, doctors: 2, noteBytes: 2000, seed: 1 }
    assert.equal(reusableFill(dir, spec)?.records, 60)
    assert.equal(reusableFill(dir, { ...spec, perBlock: 10 }), undefined)
    const meta = JSON.parse(await readFile(join(dir, 'fill.json'), 'utf8')) as Record<string, unknown>
    await writeFile(join(dir, 'fill.json'), JSON.stringify({ ...meta, complete: false }))
    assert.equal(reusableFill(dir, spec), undefined)
  })
})
