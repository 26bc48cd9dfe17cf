/**
 * `pqmed backup` and `pqmed restore` (definitions in ./commands.ts; the work in
 * src/node/backup.ts). Each prints one JSON line on stdout when done.
 *
 * Exit codes: 0 ok; 1 error; 2 bad usage (a missing flag, an existing --out, a non-empty
 * --data-dir, a file that is not a pqmed backup); 3 a backup that fails its checks (truncated or
 * corrupt: nothing is restored).
 */
import { BackupError } from '../node/backup-format.js'
import { backupDataDir, BackupUsageError, restoreDataDir } from '../node/backup.js'
import { EXIT, UsageError } from './usage.js'

const fail = (err: unknown): never => {
  if (err instanceof BackupUsageError) throw new UsageError(err.message)
  if (err instanceof BackupError) {
    if (err.code === 'BACKUP_NOT_A_BACKUP' || err.code === 'BACKUP_VERSION') throw new UsageError(err.message)
    console.error(`pqmed restore: ${err.code}: ${err.message}; nothing was restored`)
    process.exitCode = EXIT.verification
    return undefined as never
  }
  throw err
}

export type BackupValues = { 'data-dir'?: string, out?: string }

export async function backupCmd (values: BackupValues): Promise<void> {
  if (values['data-dir'] === undefined || values.out === undefined) throw new UsageError('backup needs --data-dir DIR and --out FILE')
  try {
    const r = await backupDataDir(values['data-dir'], values.out)
    const stores = r.manifest.sections.filter((s) => s.kind === 'leveldb')
    console.log(JSON.stringify({
      event: 'backup', out: r.out, bytes: r.bytes, live: r.live,
      stores: stores.map((s) => ({ path: s.path, entries: s.entries })), files: r.manifest.sections.filter((s) => s.kind === 'file').map((s) => s.path)
    }))
  } catch (err) { fail(err) }
}

export type RestoreValues = { in?: string, 'data-dir'?: string }

export async function restoreCmd (values: RestoreValues): Promise<void> {
  if (values.in === undefined || values['data-dir'] === undefined) throw new UsageError('restore needs --in FILE and --data-dir DIR')
  try {
    const r = await restoreDataDir(values.in, values['data-dir'])
    console.log(JSON.stringify({
      event: 'restore', dataDir: r.dataDir, createdAt: r.header.createdAt, live: r.header.live,
      stores: r.manifest.sections.filter((s) => s.kind === 'leveldb').map((s) => ({ path: s.path, entries: s.entries })),
      files: r.manifest.sections.filter((s) => s.kind === 'file').map((s) => s.path)
    }))
  } catch (err) { fail(err) }
}
