/**
 * Where the client keeps its state: a directory (`--state DIR`, default `~/.pqmed/client`)
 * holding `counters.cbor`, the searchable-index counters (`CounterState`, dag-cbor; tree ids are
 * keyed hashes, so no keyword, patient or record id appears in it). Saving merges with what is on
 * disk (counts only go up), so several commands and doctors can share one state directory.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { CounterState } from '../sse/index.js'
import { ClientError } from './errors.js'

export const DEFAULT_STATE_DIR = join(homedir(), '.pqmed', 'client')
export const COUNTERS_FILE = 'counters.cbor'

/** The counters saved in `dir` (empty if there are none yet). */
export async function loadCounters (dir: string): Promise<CounterState> {
  let bytes: Uint8Array
  try { bytes = await readFile(join(dir, COUNTERS_FILE)) } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return new CounterState()
    throw new ClientError('BAD_INPUT', `cannot read client state ${join(dir, COUNTERS_FILE)}: ${(err as Error).message}`)
  }
  try { return CounterState.decode(new Uint8Array(bytes)) } catch (err) {
    throw new ClientError('BAD_INPUT', `client state ${join(dir, COUNTERS_FILE)} is corrupt: ${(err as Error).message}`)
  }
}

/** Merges `counters` into the state in `dir` (atomically: temp file + rename). */
export async function saveCounters (dir: string, counters: CounterState): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const merged = await loadCounters(dir)
  merged.merge(counters)
  const path = join(dir, COUNTERS_FILE)
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`
  await writeFile(tmp, merged.encode(), { mode: 0o600 })
  await rename(tmp, path)
}

/** Reads and parses a JSON file, with a clear error. */
export async function readJsonFile (path: string, what: string): Promise<unknown> {
  let raw: string
  try { raw = await readFile(path, 'utf8') } catch (err) { throw new ClientError('BAD_INPUT', `cannot read ${what} ${path}: ${(err as Error).message}`) }
  try { return JSON.parse(raw) as unknown } catch (err) { throw new ClientError('BAD_INPUT', `${what} ${path} is not JSON: ${(err as Error).message}`) }
}

/** Writes a JSON file atomically with mode 0600. */
export async function writeJsonFile (path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 })
  await rename(tmp, path)
}
