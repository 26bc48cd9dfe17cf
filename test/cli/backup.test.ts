import assert from 'node:assert/strict'
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadPqBackend } from '../../src/crypto/index.js'
import { createDevnet, writeDevnet } from '../../src/node/devnet.js'
import { ProcNet, rpc } from '../../src/cli/procs.js'
import { freePorts, tempDir, TestDoctor } from '../node/helpers.js'
import { ensureBuilt, pqmed as pqmedCli, type CliRun } from './helpers.js'

/** The CLI as a process, with a generous timeout (a loaded machine). */
const pqmed = async (args: string[]): Promise<CliRun> => await pqmedCli(args, { timeoutMs: 180_000 })

interface Status { height: number, headerHash: string }
interface BackupOut { event: string, out: string, bytes: number, live: boolean, stores: Array<{ path: string, entries: number }>, files: string[] }

/**
 * Issue 15, item 5: `pqmed backup` of a running manager (through its admin socket) while records
 * are committed, then the manager stopped, its data dir wiped, `pqmed restore`d and restarted: it
 * rejoins and catches up. Corrupt and truncated backups are refused and leave nothing; a stopped
 * node is backed up from its stores; bad flags are usage errors.
 */
describe('cli: pqmed backup / restore (real processes)', function () {
  this.timeout(600_000)
  const net = new ProcNet()
  let root: { path: string, remove: () => Promise<void> }
  let ports: number[]
  const dataDir = (i: number): string => join(root.path, `m${i}`)
  const managerArgs = (i: number): string[] => [
    '--role', 'manager', '--genesis', join(root.path, 'genesis.json'), '--data-dir', dataDir(i),
    '--identity', join(root.path, 'identities', `manager-${i}.json`), '--listen', `/ip4/127.0.0.1/tcp/${ports[i] as number}`, '--rpc-port', '0', '--loopback', '--quiet'
  ]
  /** Under a loaded machine a node can take long to start (generous, never a measurement). */
  const START_MS = 180_000
  const url = (name: string): string => { const p = net.procs.get(name); if (p === undefined) throw new Error(`${name} not running`); return p.rpc }
  const height = async (name: string): Promise<number> => (await rpc<Status>(url(name), 'chain_status')).height
  let doctor: TestDoctor
  let seq = 0
  /** Submits `n` records through manager `via`, waiting for each to commit. */
  const submitRecords = async (via: string, n: number): Promise<void> => {
    await Promise.all(Array.from({ length: n }, async () => {
      const s = doctor.record(seq++)
      const r = await rpc<{ status: string }>(url(via), 'ehr_submitRecord', { submission: Buffer.from(s.bytes).toString('base64'), wait: true })
      assert.equal(r.status, 'committed')
    }))
  }
  const parse = (r: CliRun): BackupOut => {
    assert.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout.trim().split('\n').pop() as string) as BackupOut
  }

  before(async () => {
    await ensureBuilt()
    root = await tempDir('backup')
    ports = await freePorts(4)
    const files = await createDevnet({ chainId: 'pqmed-backup', managers: 4, doctors: 1, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i] as number}`, params: { blockInterval: 50, viewChangeTimeout: 1500, heartbeatInterval: 300 } })
    await writeDevnet(root.path, files)
    doctor = await TestDoctor.create(files, 0, await loadPqBackend())
    // allSettled: if one fails to start, the others are registered (and stopped by after) before the hook fails
    const started = await Promise.allSettled([0, 1, 2, 3].map(async (i) => await net.start({ name: `m${i}`, args: managerArgs(i) }, START_MS)))
    for (const s of started) if (s.status === 'rejected') throw s.reason
    await submitRecords('m0', 6)
  })

  after(async () => {
    await net.stopAll()
    await root?.remove()
  })

  it('backs up a running manager while records are committed; wiped, restored and restarted, it rejoins and catches up', async () => {
    const sock = await stat(join(dataDir(3), 'admin.sock'))
    assert.ok(sock.isSocket())
    assert.equal(sock.mode & 0o777, 0o600, 'only the node\'s user may use the admin socket')
    // records keep being committed while the backup runs
    let submitting = true
    const load = (async () => { while (submitting) await submitRecords('m0', 4) })()
    const out = join(root.path, 'm3.pqbak')
    let b: BackupOut
    try {
      await new Promise((r) => setTimeout(r, 300))
      b = parse(await pqmed(['backup', '--data-dir', dataDir(3), '--out', out]))
      await new Promise((r) => setTimeout(r, 300))
    } finally {
      submitting = false
      await load
    }
    assert.equal(b.live, true, 'taken from the running node through its admin socket')
    assert.deepEqual(b.stores.map((s) => s.path), ['blobs', 'chain'])
    assert.ok((b.stores.find((s) => s.path === 'blobs')?.entries ?? 0) >= 18, 'every committed record\'s ciphertexts')
    assert.equal((await stat(out)).mode & 0o777, 0o600, 'the backup file is private')
    assert.deepEqual((await readdir(root.path)).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left')

    // the manager is lost: stopped, its data dir wiped; then restored and restarted
    assert.equal(await net.stop('m3'), 0)
    await rm(dataDir(3), { recursive: true, force: true })
    const r = parse(await pqmed(['restore', '--in', out, '--data-dir', dataDir(3)]))
    assert.equal(r.event, 'restore')
    assert.deepEqual(r.stores, b.stores)
    await submitRecords('m0', 4)  // the others move on meanwhile
    await net.start({ name: 'm3', args: managerArgs(3) }, START_MS)
    await submitRecords('m1', 2)
    const deadline = Date.now() + 60_000
    for (;;) {
      const hs = await Promise.all(['m0', 'm1', 'm2', 'm3'].map(height))
      const st = await Promise.all(['m0', 'm3'].map(async (n) => await rpc<Status>(url(n), 'chain_status')))
      if (hs.every((h) => h === hs[0]) && st[0]?.headerHash === st[1]?.headerHash) break
      if (Date.now() > deadline) throw new Error(`the restored manager did not catch up: heights ${JSON.stringify(hs)}`)
      await new Promise((res) => setTimeout(res, 250))
    }
    // and it takes part in consensus again: with m0 stopped, the other three (m3 among them) still commit
    assert.equal(await net.stop('m0'), 0)
    try {
      const before = await height('m1')
      await submitRecords('m3', 1)
      assert.ok(await height('m3') > before)
    } finally {
      await net.start({ name: 'm0', args: managerArgs(0) }, START_MS)
    }
  })

  it('a truncated or corrupted backup is refused with what is wrong, and nothing is written', async () => {
    const good = join(root.path, 'm3.pqbak')
    const bytes = await readFile(good)
    const cases: Array<[string, Buffer, RegExp]> = [
      ['truncated', bytes.subarray(0, Math.floor(bytes.length / 2)), /BACKUP_TRUNCATED: .*is truncated: it does not end with the PQMEDEND marker/],
      ['last byte cut', bytes.subarray(0, bytes.length - 1), /BACKUP_TRUNCATED/],
      ['flipped', Buffer.from(bytes).fill(bytes[Math.floor(bytes.length / 2)] as number ^ 0xff, Math.floor(bytes.length / 2), Math.floor(bytes.length / 2) + 1), /BACKUP_CORRUPT: .*is corrupt: section \d of 2 \((blobs|chain)\)/],
      ['flipped in the manifest', Buffer.from(bytes).fill(bytes[bytes.length - 60] as number ^ 0x01, bytes.length - 60, bytes.length - 59), /BACKUP_CORRUPT: .*the manifest does not match its SHA-256/]
    ]
    const dir = join(root.path, 'bad')
    await mkdir(dir)
    for (const [name, data, re] of cases) {
      const f = join(dir, `${name}.pqbak`)
      await writeFile(f, data)
      const target = join(dir, 'restored')
      const r = await pqmed(['restore', '--in', f, '--data-dir', target])
      assert.equal(r.code, 3, `${name}: ${r.stderr}`)
      assert.match(r.stderr, re, name)
      assert.match(r.stderr, /nothing was restored/)
      assert.deepEqual((await readdir(dir)).filter((e) => !e.endsWith('.pqbak')), [], `${name}: nothing written next to the target`)
    }
  })

  it('backs up a stopped node from its stores (files with their mode), and a restore reads back identical', async () => {
    // m3 is stopped; its data dir also gets a user node's secret key file (peer-id --data-dir creates DATA_DIR/peer-key)
    assert.equal(await net.stop('m3'), 0)
    assert.equal((await pqmed(['peer-id', '--data-dir', dataDir(3)])).code, 0)
    const first = join(root.path, 'stopped.pqbak')
    const a = parse(await pqmed(['backup', '--data-dir', dataDir(3), '--out', first]))
    assert.equal(a.live, false)
    assert.deepEqual(a.files, ['peer-key'])
    const restored = join(root.path, 'restored-m3')
    parse(await pqmed(['restore', '--in', first, '--data-dir', restored]))
    assert.deepEqual(await readFile(join(restored, 'peer-key')), await readFile(join(dataDir(3), 'peer-key')))
    assert.equal((await stat(join(restored, 'peer-key'))).mode & 0o777, 0o600)
    assert.equal((await stat(restored)).mode & 0o777, 0o700)
    // a backup of the restored dir has the same sections, byte for byte (same digests)
    const second = join(root.path, 'restored.pqbak')
    const b = parse(await pqmed(['backup', '--data-dir', restored, '--out', second]))
    assert.deepEqual(b.stores, a.stores)
    const sections = async (f: string): Promise<unknown> => {
      const { readBackup } = await import('../../src/node/backup-format.js')
      return (await readBackup(f)).manifest.sections
    }
    assert.deepEqual(await sections(second), await sections(first))
    await net.start({ name: 'm3', args: managerArgs(3) }, START_MS)
  })

  it('bad flags and inputs are usage errors (exit 2) that leave nothing', async () => {
    const good = join(root.path, 'm3.pqbak')
    const notBackup = join(root.path, 'not-a-backup.pqbak')
    await writeFile(notBackup, '{"hello": "world"}\n')
    const cases: Array<[string[], RegExp]> = [
      [['backup', '--data-dir', dataDir(1)], /required option '--out <FILE>' not specified/],
      [['restore', '--in', good], /required option '--data-dir <DIR>' not specified/],
      [['backup', '--data-dir', join(root.path, 'nope'), '--out', join(root.path, 'x.pqbak')], /--data-dir .*nope does not exist/],
      [['backup', '--data-dir', dataDir(1), '--out', good], /--out .*m3\.pqbak exists: not replacing it/],
      [['backup', '--data-dir', dataDir(1), '--out', join(dataDir(1), 'b.pqbak')], /is inside the data dir/],
      [['restore', '--in', good, '--data-dir', dataDir(2)], /--data-dir .*m2 is not empty/],
      [['restore', '--in', notBackup, '--data-dir', join(root.path, 'r')], /is not a pqmed backup file/],
      [['restore', '--in', join(root.path, 'missing.pqbak'), '--data-dir', join(root.path, 'r')], /--in .*missing\.pqbak cannot be read/]
    ]
    for (const [args, re] of cases) {
      const r = await pqmed(args)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, re, args.join(' '))
    }
    await assert.rejects(stat(join(root.path, 'x.pqbak')))
    await assert.rejects(stat(join(root.path, 'r')))
    await assert.rejects(stat(join(dataDir(1), 'b.pqbak')))
  })
})
