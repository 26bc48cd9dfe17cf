/**
 * The LevelDB stores this process has open, by absolute directory. `pqmed backup` asks a running
 * node (src/node/backup.ts) for a snapshot of every store under its data dir: a store opened
 * through `Kv.open` or `BlobStore.open` is registered here, so a new store is backed up without
 * the backup knowing its schema. A store opened another way cannot be snapshotted while the node
 * runs, and the backup says so.
 */
import { resolve } from 'node:path'
import type { Level } from 'level'

/** A LevelDB handle as `level` opens it (keys and values are read back as raw bytes by the backup). */
export type OpenStore = Level<string, Uint8Array>

const open = new Map<string, OpenStore>()

export function registerStore (dir: string, db: OpenStore): void { open.set(resolve(dir), db) }

export function unregisterStore (dir: string, db: OpenStore): void {
  const key = resolve(dir)
  if (open.get(key) === db) open.delete(key)
}

/** The open store of directory `dir` in this process, if any. */
export function openStore (dir: string): OpenStore | undefined { return open.get(resolve(dir)) }
