/**
 * Backup and restore of a node's data dir (`pqmed backup`, `pqmed restore`; format in
 * ./backup-format.ts).
 *
 * What a data dir holds: LevelDB stores (a manager's `chain/` — headers, blocks, certificates,
 * records, index, consent log and its consensus write-ahead log — and `blobs/`; a user node's
 * `headers/`) and plain files (a user node without `--identity` keeps its secret libp2p key in
 * `peer-key`). Every LevelDB store found is backed up generically (all keys and values), every
 * other regular file byte for byte; the identity and genesis files that `pqmed node` is given by
 * flags live outside the data dir and are not part of it.
 *
 * Consistency while the node runs: LevelDB allows one process per store (its LOCK file), so the
 * CLI cannot read the stores of a running node. Each node listens on a unix socket in its data
 * dir, `admin.sock` (mode 0600: only the node's own user, and root, may connect); `backup` asks
 * the node through it, and the node takes an explicit LevelDB snapshot of every open store in one
 * synchronous step (no write of the node can fall between two of them) and streams them. When no
 * node answers on the socket, the CLI opens the stores itself.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { chmod, lstat, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve, sep } from 'node:path'
import { Level } from 'level'
import { BackupError, BackupWriter, readBackup, safeRelativePath, type BackupHeader, type BackupManifest, type ByteSink, type SectionHeader } from './backup-format.js'
import { openStore, type OpenStore } from './store-registry.js'
import type { Logger } from './log.js'

/** The admin socket's name in a data dir. */
export const ADMIN_SOCKET = 'admin.sock'
/** Longest unix socket path Linux accepts (sun_path is 108 bytes with the terminating NUL). */
const MAX_SOCKET_PATH = 107

/** The version of pqmed written into a backup's header (package.json, next to src/ and dist/). */
export function pqmedVersion (): string {
  try { return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version } catch { return 'unknown' }
}

/** An error the user can fix (bad flags, an existing file, a data dir in use): `pqmed` exits 2. */
export class BackupUsageError extends Error {
  constructor (message: string) { super(message); this.name = 'BackupUsageError' }
}

interface Item { path: string, abs: string, kind: 'leveldb' | 'file', mode: number }

/** A LevelDB directory: has a CURRENT file. */
async function isLevelDb (dir: string): Promise<boolean> {
  try { return (await stat(join(dir, 'CURRENT'))).isFile() } catch { return false }
}

/**
 * What a backup of `dataDir` contains, in a fixed order: LevelDB stores and regular files
 * (temporary files of an atomic write, `*.tmp`, and sockets are left out).
 */
async function inventory (dataDir: string): Promise<Item[]> {
  const out: Item[] = []
  const walk = async (abs: string, rel: string): Promise<void> => {
    const entries = (await readdir(abs, { withFileTypes: true })).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    for (const e of entries) {
      const a = join(abs, e.name)
      const r = rel === '' ? e.name : `${rel}/${e.name}`
      if (!safeRelativePath(r)) throw new Error(`cannot back up ${a}: its name has characters a backup does not carry`)
      if (e.isDirectory()) {
        if (await isLevelDb(a)) out.push({ path: r, abs: a, kind: 'leveldb', mode: 0o700 })
        else await walk(a, r)
      } else if (e.isFile()) {
        if (e.name.endsWith('.tmp')) continue
        out.push({ path: r, abs: a, kind: 'file', mode: (await stat(a)).mode & 0o777 })
      }
    }
  }
  await walk(dataDir, '')
  return out
}

type Entries = AsyncIterable<Array<[Uint8Array, Uint8Array]>>

/** Every entry of a LevelDB handle as raw bytes, in key order, from `snapshot` when given. */
async function * dump (db: OpenStore | Level<Uint8Array, Uint8Array>, snapshot?: ReturnType<OpenStore['snapshot']>): Entries {
  const it = (db as Level<Uint8Array, Uint8Array>).iterator({ keyEncoding: 'view', valueEncoding: 'view', ...(snapshot !== undefined ? { snapshot } : {}) })
  try {
    for (;;) {
      const batch = await it.nextv(1000)
      if (batch.length === 0) return
      yield batch
    }
  } finally {
    await it.close()
  }
}

function lockedError (err: unknown, dir: string, dataDir: string): Error {
  const code = (err as { code?: string, cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code
  if (code === 'LEVEL_LOCKED' || /lock/i.test(String((err as Error).message)) || /lock/i.test(String((err as { cause?: Error }).cause?.message))) {
    return new BackupUsageError(`${dir} is locked by another process (a running node?), which does not answer on ${join(dataDir, ADMIN_SOCKET)}: ` +
      'stop that process, or run the backup as the user that runs it')
  }
  return err as Error
}

/**
 * Writes a backup of `dataDir` to `sink`. In a running node (`live`), the stores this process
 * has open are read from snapshots taken together, before anything is read; stores it does not
 * have open are opened here (which fails if another process holds them).
 */
export async function writeBackup (dataDir: string, sink: ByteSink, opts: { live: boolean }): Promise<BackupManifest> {
  const items = await inventory(dataDir)
  // one synchronous step: a snapshot of every store this process has open
  const snaps = new Map<string, { db: OpenStore, snapshot: ReturnType<OpenStore['snapshot']> }>()
  for (const it of items) {
    const db = it.kind === 'leveldb' ? openStore(it.abs) : undefined
    if (db !== undefined && db.status === 'open') snaps.set(it.path, { db, snapshot: db.snapshot() })
  }
  try {
    const w = new BackupWriter(sink)
    await w.header({ createdAt: new Date().toISOString(), live: opts.live, pqmed: pqmedVersion(), dataDir: resolve(dataDir) })
    for (const it of items) {
      await w.begin({ path: it.path, kind: it.kind, ...(it.kind === 'file' ? { mode: it.mode } : {}) })
      if (it.kind === 'file') {
        await w.data(await readFile(it.abs))
      } else {
        const s = snaps.get(it.path)
        if (s !== undefined) {
          for await (const batch of dump(s.db, s.snapshot)) for (const [k, v] of batch) await w.entry(k, v)
        } else {
          const db = new Level<Uint8Array, Uint8Array>(it.abs, { keyEncoding: 'view', valueEncoding: 'view', createIfMissing: false })
          try { await db.open() } catch (err) { throw lockedError(err, it.abs, dataDir) }
          try {
            for await (const batch of dump(db)) for (const [k, v] of batch) await w.entry(k, v)
          } finally {
            await db.close()
          }
        }
      }
      await w.end()
    }
    return await w.finish()
  } finally {
    await Promise.all([...snaps.values()].map(async (s) => { await s.snapshot.close() }))
  }
}

/** A running node's admin socket: answers `{"op":"backup"}` with a backup stream. */
export interface AdminServer { path: string, close: () => Promise<void> }

/** Writes to a socket, waiting when its buffer is full. */
function socketSink (sock: Socket): ByteSink {
  return async (bytes) => {
    if (sock.destroyed) throw new Error('the backup client went away')
    if (!sock.write(bytes)) {
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error): void => { sock.off('drain', onDrain); sock.off('close', onClose); if (err !== undefined) reject(err); else resolve() }
        const onDrain = (): void => { done() }
        const onClose = (): void => { done(new Error('the backup client went away')) }
        sock.once('drain', onDrain)
        sock.once('close', onClose)
      })
    }
  }
}

/**
 * Listens on `<dataDir>/admin.sock` (mode 0600). Never fails the node: returns undefined, with a
 * warning, when the socket cannot be made (a path too long for a unix socket, a file system
 * without sockets); a backup of this node then needs it stopped.
 */
export async function startAdminServer (dataDir: string, log: Logger): Promise<AdminServer | undefined> {
  const path = join(resolve(dataDir), ADMIN_SOCKET)
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    log.warn(`no admin socket: ${path} is longer than ${MAX_SOCKET_PATH} bytes; pqmed backup of this data dir needs the node stopped`)
    return undefined
  }
  // a socket left by a node that was killed
  try { if ((await lstat(path)).isSocket()) await unlink(path) } catch { /* none */ }
  const busy = new Set<Socket>()
  const server: Server = createServer((sock) => {
    busy.add(sock)
    sock.on('close', () => { busy.delete(sock) })
    sock.on('error', () => {})
    let line = ''
    const onData = (d: Buffer): void => {
      line += d.toString('utf8')
      if (line.length > 4096) { sock.destroy(); return }
      const nl = line.indexOf('\n')
      if (nl < 0) return
      sock.off('data', onData)
      let op: unknown
      try { op = (JSON.parse(line.slice(0, nl)) as { op?: unknown }).op } catch { /* below */ }
      if (op !== 'backup') { sock.end(JSON.stringify({ error: 'unknown request (expected {"op":"backup"})' }) + '\n'); return }
      log.info('admin: backup requested')
      writeBackup(dataDir, socketSink(sock), { live: true }).then((m) => {
        log.info(`admin: backup sent (${m.sections.length} sections)`)
        sock.end()
      }, (err: Error) => {
        log.warn(`admin: backup failed: ${err.message}`)
        sock.destroy()
      })
    }
    sock.on('data', onData)
  })
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => { server.off('error', reject); resolve() })
    })
    await chmod(path, 0o600)
  } catch (err) {
    // the node runs without it; only a live backup is lost
    server.close()
    log.warn(`no admin socket at ${path} (${(err as Error).message}); pqmed backup of this data dir needs the node stopped`)
    return undefined
  }
  return {
    path,
    close: async () => {
      for (const s of busy) s.destroy()
      await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
      await unlink(path).catch(() => {})
    }
  }
}

export interface BackupResult { out: string, live: boolean, manifest: BackupManifest, bytes: number }

/**
 * `pqmed backup`: writes a backup of `dataDir` to `out` (mode 0600: it may hold a secret key),
 * through a running node's admin socket, else from the stores directly. The file is written
 * under a temporary name, read back and checked completely, then renamed: `out` is never half a
 * backup. An existing `out` is never replaced.
 */
export async function backupDataDir (dataDir: string, out: string): Promise<BackupResult> {
  const dir = resolve(dataDir)
  const dst = resolve(out)
  let st
  try { st = await stat(dir) } catch { throw new BackupUsageError(`--data-dir ${dir} does not exist`) }
  if (!st.isDirectory()) throw new BackupUsageError(`--data-dir ${dir} is not a directory`)
  if (dst === dir || dst.startsWith(dir + sep)) throw new BackupUsageError(`--out ${dst} is inside the data dir: write the backup elsewhere`)
  if (await exists(dst)) throw new BackupUsageError(`--out ${dst} exists: not replacing it (choose a new name or remove the old file)`)
  const tmp = join(dirname(dst), `.${basename(dst)}.${process.pid}.tmp`)
  const fh = await open(tmp, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
    throw new BackupUsageError(`cannot write ${tmp}: ${err.message}`)
  })
  let live = false
  try {
    const sink: ByteSink = async (b) => { await fh.write(b) }
    const sock = await connectAdmin(join(dir, ADMIN_SOCKET))
    if (sock !== undefined) {
      live = true
      await receiveBackup(sock, sink)
    } else {
      await writeBackup(dir, sink, { live: false })
    }
    await fh.sync()
    await fh.close()
    const { manifest } = await readBackup(tmp)
    const bytes = (await stat(tmp)).size
    await rename(tmp, dst)
    return { out: dst, live, manifest, bytes }
  } catch (err) {
    await fh.close().catch(() => {})
    await rm(tmp, { force: true })
    if (err instanceof BackupError) throw new Error(`the backup read back from ${tmp} failed its check, nothing was written: ${err.message}`, { cause: err })
    throw err
  }
}

async function exists (p: string): Promise<boolean> {
  try { await lstat(p); return true } catch { return false }
}

/** Connects to a node's admin socket; undefined when no node listens there. */
async function connectAdmin (path: string): Promise<Socket | undefined> {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) return undefined
  return await new Promise<Socket | undefined>((resolve, reject) => {
    const sock = createConnection(path)
    sock.once('connect', () => { sock.off('error', onErr); resolve(sock) })
    const onErr = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTSOCK') resolve(undefined)
      else if (err.code === 'EACCES') reject(new BackupUsageError(`${path}: permission denied (run the backup as the user that runs the node)`))
      else reject(err)
    }
    sock.once('error', onErr)
  })
}

/** Asks the node for a backup and copies the stream to `sink`. */
async function receiveBackup (sock: Socket, sink: ByteSink): Promise<void> {
  sock.write(JSON.stringify({ op: 'backup' }) + '\n')
  let first = true
  let failed: Error | undefined
  try {
    for await (const chunk of sock as AsyncIterable<Buffer>) {
      if (first && chunk[0] === 0x7b) {  // '{': the node answered with an error
        const msg = (() => { try { return (JSON.parse(chunk.toString('utf8').trim()) as { error?: string }).error } catch { return undefined } })()
        throw new Error(`the node refused the backup: ${msg ?? chunk.toString('utf8').slice(0, 200)}`)
      }
      first = false
      await sink(chunk)
    }
  } catch (err) {
    failed = err as Error
  } finally {
    sock.destroy()
  }
  if (failed !== undefined) {
    if (failed.message.startsWith('the node refused')) throw failed
    throw new Error(`the node's backup stream broke off (${failed.message}); nothing was written`, { cause: failed })
  }
}

export interface RestoreResult { dataDir: string, header: BackupHeader, manifest: BackupManifest }

/**
 * `pqmed restore`: restores a backup into `dataDir`, which must not exist or be empty. Everything
 * is written into a temporary directory next to it and checked (every section's SHA-256, then
 * every restored store read back and compared with the backup's digest of it) before the
 * directory is renamed into place: a bad backup leaves nothing behind.
 */
export async function restoreDataDir (file: string, dataDir: string): Promise<RestoreResult> {
  const src = resolve(file)
  const dst = resolve(dataDir)
  try {
    if (!(await stat(src)).isFile()) throw new BackupUsageError(`--in ${src} is not a file`)
  } catch (err) {
    if (err instanceof BackupUsageError) throw err
    throw new BackupUsageError(`--in ${src} cannot be read: ${(err as Error).message}`)
  }
  let replaceEmpty = false
  if (await exists(dst)) {
    const s = await stat(dst)
    if (!s.isDirectory()) throw new BackupUsageError(`--data-dir ${dst} exists and is not a directory`)
    if ((await readdir(dst)).length > 0) throw new BackupUsageError(`--data-dir ${dst} is not empty: restore only into a new or empty directory (move the old data dir aside first; restore never overwrites a node's data)`)
    replaceEmpty = true
  }
  await mkdir(dirname(dst), { recursive: true })
  const tmp = join(dirname(dst), `.${basename(dst)}.restore-${process.pid}.tmp`)
  await rm(tmp, { recursive: true, force: true })
  await mkdir(tmp, { mode: 0o700 })
  const stores = new Map<string, Level<Uint8Array, Uint8Array>>()
  let file_: Awaited<ReturnType<typeof open>> | undefined
  try {
    const { header, manifest } = await readBackup(src, {
      begin: async (s: SectionHeader) => {
        const abs = join(tmp, ...s.path.split('/'))
        await mkdir(dirname(abs), { recursive: true, mode: 0o700 })
        if (s.kind === 'file') {
          file_ = await open(abs, 'wx', typeof s.mode === 'number' ? s.mode & 0o777 : 0o600)
        } else {
          const db = new Level<Uint8Array, Uint8Array>(abs, { keyEncoding: 'view', valueEncoding: 'view' })
          await db.open()
          stores.set(s.path, db)
        }
      },
      data: async (_s, bytes) => { await file_?.write(bytes) },
      entries: async (s, list) => {
        // copies: the reader's buffers are reused
        await stores.get(s.path)?.batch(list.map(([k, v]) => ({ type: 'put' as const, key: Uint8Array.from(k), value: Uint8Array.from(v) })))
      },
      end: async (s) => {
        if (s.kind === 'file') { await file_?.sync(); await file_?.close(); file_ = undefined; return }
        const db = stores.get(s.path)
        if (db === undefined) return
        // read the restored store back: the same entries as the backup's section, byte for byte
        await db.close()
        await db.open()
        await checkRestored(db, s.path, s.entries, s.sha256)
        await db.close()
        stores.delete(s.path)
      }
    })
    if (replaceEmpty) await rmdir(dst)
    await rename(tmp, dst)
    return { dataDir: dst, header, manifest }
  } catch (err) {
    await file_?.close().catch(() => {})
    await Promise.all([...stores.values()].map(async (db) => { await db.close().catch(() => {}) }))
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
}

/** Re-encodes a restored store as its backup section's payload and compares the SHA-256 and count. */
async function checkRestored (db: Level<Uint8Array, Uint8Array>, path: string, entries: number, sha256: string): Promise<void> {
  // a writer over a hash: the same bytes as the section in the file
  const h = createHash('sha256')
  const w = new BackupWriter(async (b) => { h.update(b) })
  await w.begin({ path, kind: 'leveldb' })
  for await (const batch of dump(db)) for (const [k, v] of batch) await w.entry(k, v)
  const s = await w.end()
  if (s.entries !== entries || s.sha256 !== sha256) throw new Error(`restored store ${path} does not read back as the backup (${s.entries} entries, expected ${entries}); nothing was restored`)
}
