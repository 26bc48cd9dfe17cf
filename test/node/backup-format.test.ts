import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BackupError, BackupWriter, readBackup, safeRelativePath, type SectionHeader } from '../../src/node/backup-format.js'
import { tempDir } from './helpers.js'

/** A backup file's bytes, written by BackupWriter into memory. */
async function build (sections: Array<{ h: SectionHeader, entries?: Array<[string, string]>, data?: string }>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  const w = new BackupWriter(async (b) => { parts.push(Uint8Array.from(b)) })
  await w.header({ createdAt: '2026-12-02T00:00:00.000Z', live: false, pqmed: '0.1.0', dataDir: '/x' })
  for (const s of sections) {
    await w.begin(s.h)
    for (const [k, v] of s.entries ?? []) await w.entry(Buffer.from(k), Buffer.from(v))
    if (s.data !== undefined) await w.data(Buffer.from(s.data))
    await w.end()
  }
  await w.finish()
  return Buffer.concat(parts)
}

describe('node: backup file format (src/node/backup-format.ts)', () => {
  let dir: { path: string, remove: () => Promise<void> }
  before(async () => { dir = await tempDir('backup-format') })
  after(async () => { await dir.remove() })

  it('round-trips stores (raw bytes, in order) and files; the consumer sees every entry', async () => {
    const f = join(dir.path, 'ok.pqbak')
    const big = 'v'.repeat(3 * 1024 * 1024)  // more than one chunk
    await writeFile(f, await build([
      { h: { path: 'chain', kind: 'leveldb' }, entries: [['a', '1'], ['b', big], ['c', '']] },
      { h: { path: 'peer-key', kind: 'file', mode: 0o600 }, data: 'secret' }
    ]))
    const got: string[] = []
    const { header, manifest } = await readBackup(f, {
      entries: async (_s, list) => { for (const [k, v] of list) got.push(`${Buffer.from(k).toString()}=${v.length}`) },
      data: async (s, b) => { got.push(`${s.path}:${Buffer.from(b).toString()}`) }
    })
    assert.equal(header.version, 1)
    assert.deepEqual(got, ['a=1', `b=${big.length}`, 'c=0', 'peer-key:secret'])
    assert.deepEqual(manifest.sections.map((s) => [s.path, s.kind, s.entries]), [['chain', 'leveldb', 3], ['peer-key', 'file', 0]])
  })

  it('paths that could leave the restore directory are refused by the writer and by the reader', async () => {
    for (const p of ['../x', '/etc/passwd', 'a/../../b', 'a//b', '.', '', 'a/./b', 'a\\b']) assert.equal(safeRelativePath(p), false, p)
    for (const p of ['chain', 'blobs', 'peer-key', 'a/b.c/d_e-f']) assert.equal(safeRelativePath(p), true, p)
    const w = new BackupWriter(async () => {})
    await w.header({ createdAt: '', live: false, pqmed: '', dataDir: '' })
    await assert.rejects(w.begin({ path: '../evil', kind: 'file' }), /unsafe section path/)
    // a crafted file naming ../evil (same length as the valid name, digests recomputed) is refused as corrupt
    const crafted = await build([{ h: { path: 'zzzzzzz', kind: 'file', mode: 0o600 }, data: 'x' }])
    const evil = Buffer.from(crafted.toString('latin1').replaceAll('zzzzzzz', '../evil'), 'latin1')
    // re-hash: the section digest and the manifest digest
    const text = evil.toString('latin1')
    const sStart = text.indexOf('S{')
    const sEnd = evil.indexOf(Buffer.from([0, 0, 0, 0]), text.indexOf('x', sStart)) + 4
    createHash('sha256').update(evil.subarray(sStart, sEnd)).digest().copy(evil, sEnd)
    const mStart = text.lastIndexOf('{"sections"') - 5
    const mLen = evil.readUInt32BE(mStart + 1)
    const manifest = JSON.parse(evil.subarray(mStart + 5, mStart + 5 + mLen).toString()) as { sections: Array<{ sha256: string }> }
    ;(manifest.sections[0] as { sha256: string }).sha256 = evil.subarray(sEnd, sEnd + 32).toString('hex')
    const mJson = Buffer.from(JSON.stringify(manifest))
    assert.equal(mJson.length, mLen)
    mJson.copy(evil, mStart + 5)
    createHash('sha256').update(mJson).digest().copy(evil, mStart + 5 + mLen)
    const f = join(dir.path, 'evil.pqbak')
    await writeFile(f, evil)
    await assert.rejects(readBackup(f), (err: BackupError) => err.code === 'BACKUP_CORRUPT' && /invalid path/.test(err.message))
  })

  it('not a backup, another version, truncated and corrupted files are told apart', async () => {
    const good = await build([{ h: { path: 'chain', kind: 'leveldb' }, entries: [['k', 'value']] }])
    const cases: Array<[string, Buffer, string, RegExp]> = [
      ['json', Buffer.from('{"a":1}'), 'BACKUP_NOT_A_BACKUP', /is not a pqmed backup file/],
      ['v2', Buffer.concat([good.subarray(0, 8), Buffer.from([0, 2]), good.subarray(10)]), 'BACKUP_VERSION', /format version 2; this pqmed reads version 1/],
      ['cut', good.subarray(0, good.length - 3), 'BACKUP_TRUNCATED', /is truncated/],
      ['value', Buffer.from(good.toString('latin1').replace('value', 'valuf'), 'latin1'), 'BACKUP_CORRUPT', /section 1 of 1 \(chain\) does not match its SHA-256/]
    ]
    for (const [name, bytes, code, re] of cases) {
      const f = join(dir.path, `${name}.pqbak`)
      await writeFile(f, bytes)
      await assert.rejects(readBackup(f), (err: BackupError) => { assert.equal(err.code, code, name); assert.match(err.message, re, name); return true })
    }
    assert.deepEqual(await readFile(join(dir.path, 'value.pqbak')).then((b) => b.length), good.length)
  })
})
