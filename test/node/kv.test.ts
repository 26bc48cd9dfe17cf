import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Level } from 'level'
import { KV_MAX_OPEN_FILES, Kv, kvOpenFiles } from '../../src/node/kv.js'

/** Table files of the store in `dir` that are mapped into this process now. */
function mappedTables (dir: string): Set<string> {
  const out = new Set<string>()
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const path = line.slice(line.indexOf('/'))
    if (line.includes('/') && path.startsWith(dir + '/') && path.endsWith('.ldb')) out.add(path)
  }
  return out
}

describe('Kv: memory of a large store', function () {
  this.timeout(300_000)
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'pqmed-kv-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  // LevelDB maps every table file its table cache holds (up to 1,000 per process) and the pages a
  // read touches stay in the process's RSS while the table is cached: with LevelDB's default of
  // 1,000 open files, a manager answering queries over a store of 10^5 records grew to 650 MiB of
  // RSS, 512 MiB of it mapped table files (bench:scale). A store opened with the defaults keeps at
  // most 64 tables (LevelDB's smallest table cache), so at most 64 files' pages, whatever its size.
  it('keeps at most 64 table files mapped while reading every table of a store that has more', async function () {
    if (process.platform !== 'linux') this.skip()
    const keys: string[] = []
    // a store of ~90 tables of ~1 MiB (incompressible values), written with small files
    const raw = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' })
    await raw.open({ maxFileSize: 1 << 20, writeBufferSize: 1 << 20 } as object)
    for (let b = 0; b < 96; b++) {
      const ops = Array.from({ length: 256 }, (_, i) => {
        const key = `k/${randomBytes(16).toString('hex')}`
        if (i % 16 === 0) keys.push(key)
        return { type: 'put' as const, key, value: new Uint8Array(randomBytes(4096)) }
      })
      await raw.batch(ops)
    }
    await raw.close()
    const tables = readdirSync(dir).filter((f) => f.endsWith('.ldb')).length
    assert.ok(tables > 70, `the store has ${tables} table files (the test needs more than the 64 a table cache holds)`)

    const kv = await Kv.open(dir)
    try {
      for (const k of keys) assert.ok((await kv.get(k))?.length === 4096, k)
      const got = await kv.getMany(keys.slice(0, 500))
      assert.ok(got.every((v) => v?.length === 4096))
      const mapped = mappedTables(dir).size
      assert.ok(mapped <= 64 && mapped <= KV_MAX_OPEN_FILES - 10, `${mapped} table files of ${tables} mapped, expected at most 64`)
    } finally { await kv.close() }

    // an operator's larger table cache (`pqmed node --store-open-files`) keeps every table open
    const big = await Kv.open(dir, { maxOpenFiles: 500 })
    try {
      for (const k of keys) assert.ok((await big.get(k))?.length === 4096, k)
      const mapped = mappedTables(dir).size
      assert.ok(mapped > 64, `${mapped} table files of ${tables} mapped with maxOpenFiles 500, expected more than 64`)
    } finally { await big.close() }
  })

  it('refuses a maxOpenFiles LevelDB would clamp, before opening anything', async () => {
    assert.equal(kvOpenFiles({}), KV_MAX_OPEN_FILES)
    assert.equal(kvOpenFiles({ maxOpenFiles: 1000 }), 1000)
    for (const bad of [0, 73, 74.5, 50_001, Number.NaN]) {
      assert.throws(() => kvOpenFiles({ maxOpenFiles: bad }), RangeError)
      await assert.rejects(Kv.open(join(dir, 'never'), { maxOpenFiles: bad }), RangeError)
    }
    assert.deepEqual(readdirSync(dir).filter((f) => f === 'never'), [])
  })
})
