/**
 * Which node the client commands talk to, and the small config file that tells them.
 *
 * The node's JSON-RPC URL comes from, in this order:
 *
 *   1. `--rpc URL`;
 *   2. the environment variable `PQMED_RPC`;
 *   3. the config file: `$PQMED_CONFIG` if set, else the first `.pqmed.json` found from the
 *      current directory upward (`npm start` and `npm run sim:local` write one in the directory
 *      they run in, normally the repository root);
 *   4. the default, `http://127.0.0.1:8645/` (user-0 of `npm start` on its default ports).
 *
 * The config file is JSON; every field is optional, paths are relative to the file's directory:
 *
 * ```json
 * { "rpc": "http://127.0.0.1:8645/",
 *   "consortiumKey": ".devnet/consortium-key.json",   // default of --consortium-key
 *   "state": ".devnet/client-state",                  // default of --state
 *   "genesis": ".devnet/genesis.json",                // default of --genesis (record get / verify)
 *   "writtenBy": "npm start (.devnet)" }             // shown in messages
 * ```
 *
 * @example
 * ```ts
 * const { url, source } = resolveNodeUrl({ flag: undefined, env: process.env, cwd: process.cwd() })
 * // on a failed call: console.error(unreachableMessage(url, source, 'ECONNREFUSED'))
 * ```
 */
import { existsSync, readFileSync } from 'node:fs'
import { rename, unlink, writeFile } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { DEFAULT_RPC_URL } from '../client/rpc.js'

export const RPC_ENV = 'PQMED_RPC'
export const CONFIG_ENV = 'PQMED_CONFIG'
export const CONFIG_FILE = '.pqmed.json'

/** A bad config file or a bad URL in the environment (bad usage: exit 2). */
export class CliConfigError extends Error {
  constructor (message: string) { super(message); this.name = 'CliConfigError' }
}

/** The config file's content, paths resolved to absolute paths. */
export interface CliConfig {
  rpc?: string
  consortiumKey?: string
  state?: string
  /** The network's genesis.json: the trust anchors `record get` / `record verify` check against. */
  genesis?: string
  writtenBy?: string
}

export interface LoadedConfig {
  path: string
  /** Found through PQMED_CONFIG (rather than by searching upward from the current directory). */
  fromEnv: boolean
  config: CliConfig
}

export type NodeUrlSource =
  | { kind: 'flag' }
  | { kind: 'env', name: string }
  | { kind: 'config', path: string, fromEnv: boolean, writtenBy?: string }
  | { kind: 'default', searchedFrom: string }

export type Env = Readonly<Record<string, string | undefined>>

function checkUrl (url: unknown, where: string): string {
  if (typeof url !== 'string') throw new CliConfigError(`${where}: the node URL must be a string`)
  let u: URL
  try { u = new URL(url) } catch { throw new CliConfigError(`${where}: not a URL: '${url}'`) }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CliConfigError(`${where}: the node URL must be http:// or https://, got '${url}'`)
  return url
}

/** Parses a config file's text; relative paths are resolved against `path`'s directory. */
export function parseConfig (text: string, path: string): CliConfig {
  let raw: unknown
  try { raw = JSON.parse(text) } catch (err) { throw new CliConfigError(`${path} is not JSON: ${(err as Error).message}`) }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new CliConfigError(`${path}: must be a JSON object`)
  const r = raw as Record<string, unknown>
  const allowed = ['rpc', 'consortiumKey', 'state', 'genesis', 'writtenBy']
  for (const k of Object.keys(r)) if (!allowed.includes(k)) throw new CliConfigError(`${path}: unknown key '${k}' (allowed: ${allowed.join(', ')})`)
  const str = (k: string): string | undefined => {
    const v = r[k]
    if (v === undefined) return undefined
    if (typeof v !== 'string' || v === '') throw new CliConfigError(`${path}: '${k}' must be a non-empty string`)
    return v
  }
  const base = dirname(path)
  const file = (k: string): string | undefined => { const v = str(k); return v === undefined ? undefined : resolve(base, v) }
  const rpc = r.rpc === undefined ? undefined : checkUrl(r.rpc, `${path}: 'rpc'`)
  const out: CliConfig = { rpc, consortiumKey: file('consortiumKey'), state: file('state'), writtenBy: str('writtenBy') }
  const genesis = file('genesis')
  if (genesis !== undefined) out.genesis = genesis
  return out
}

/**
 * The config file: `$PQMED_CONFIG`, else the first `.pqmed.json` from `cwd` upward; undefined if
 * none, or if `PQMED_CONFIG=none` (the test suite sets it, so a developer's `.pqmed.json` in the
 * repository cannot change what the tests' CLI processes do).
 */
export function findConfig (o: { env: Env, cwd: string }): LoadedConfig | undefined {
  const given = o.env[CONFIG_ENV]
  if (given === 'none') return undefined
  if (given !== undefined && given !== '') {
    const path = resolve(o.cwd, given)
    let text: string
    try { text = readFileSync(path, 'utf8') } catch (err) { throw new CliConfigError(`${CONFIG_ENV}=${given}: cannot read ${path}: ${(err as Error).message}`) }
    return { path, fromEnv: true, config: parseConfig(text, path) }
  }
  for (let dir = resolve(o.cwd); ; dir = dirname(dir)) {
    const path = join(dir, CONFIG_FILE)
    if (existsSync(path)) return { path, fromEnv: false, config: parseConfig(readFileSync(path, 'utf8'), path) }
    if (dirname(dir) === dir) return undefined
  }
}

/** The node URL and where it came from: `--rpc`, then PQMED_RPC, then the config file, then the default. */
export function resolveNodeUrl (o: { flag?: string, env: Env, cwd: string, config?: LoadedConfig }): { url: string, source: NodeUrlSource } {
  if (o.flag !== undefined) return { url: checkUrl(o.flag, '--rpc'), source: { kind: 'flag' } }
  const env = o.env[RPC_ENV]
  if (env !== undefined && env !== '') return { url: checkUrl(env, RPC_ENV), source: { kind: 'env', name: RPC_ENV } }
  const c = o.config
  if (c?.config.rpc !== undefined) return { url: c.config.rpc, source: { kind: 'config', path: c.path, fromEnv: c.fromEnv, ...(c.config.writtenBy !== undefined ? { writtenBy: c.config.writtenBy } : {}) } }
  return { url: DEFAULT_RPC_URL, source: { kind: 'default', searchedFrom: resolve(o.cwd) } }
}

/** Where a node URL came from, in words. */
export function describeSource (s: NodeUrlSource): string {
  switch (s.kind) {
    case 'flag': return 'the --rpc flag'
    case 'env': return `the environment variable ${s.name}`
    case 'config': return `${s.path}${s.fromEnv ? ` (${CONFIG_ENV})` : ''}${s.writtenBy !== undefined ? `, written by ${s.writtenBy}` : ''}`
    case 'default': return `the default (no --rpc, no ${RPC_ENV}, no ${CONFIG_ENV}, no ${CONFIG_FILE} in ${s.searchedFrom} or above)`
  }
}

/** The message for a node that did not answer at all: the URL tried, where it came from, how to set another. */
export function unreachableMessage (url: string, source: NodeUrlSource, reason: string): string {
  return [
    `cannot reach a pqmed node at ${url} (${reason})`,
    `  the URL came from ${describeSource(source)}`,
    source.kind === 'config'
      ? '  is that network still running? (`npm start` / `npm run sim:local` write the file when their nodes are up)'
      : '  is a node running there? `npm start` runs a devnet whose user-0 answers on http://127.0.0.1:8645/ when that port is free',
    `  to use another node: --rpc URL, or ${RPC_ENV}=URL, or a ${CONFIG_FILE} with {"rpc": URL} in this directory or above (or ${CONFIG_ENV}=FILE)`
  ].join('\n')
}

/** A config file for a running network, with paths written relative to the file's directory. */
export interface ConfigToWrite {
  rpc: string
  consortiumKey?: string
  state?: string
  genesis?: string
  writtenBy: string
}

/** The text of a config file at `path` (relative paths, so the directory can move with its data). */
export function configText (path: string, c: ConfigToWrite): string {
  const rel = (p: string | undefined): string | undefined => {
    if (p === undefined) return undefined
    const r = relative(dirname(resolve(path)), resolve(p))
    return r === '' ? '.' : r
  }
  const out: Record<string, string> = { rpc: c.rpc }
  const ck = rel(c.consortiumKey)
  const st = rel(c.state)
  if (ck !== undefined) out.consortiumKey = ck
  if (st !== undefined) out.state = st
  const gen = rel(c.genesis)
  if (gen !== undefined) out.genesis = gen
  out.writtenBy = c.writtenBy
  return JSON.stringify(out, null, 2) + '\n'
}

/** Writes the config file atomically (temp file, then rename over any older one). */
export async function writeConfig (path: string, c: ConfigToWrite): Promise<void> {
  const abs = resolve(path)
  const tmp = `${abs}.${process.pid}.tmp`
  await writeFile(tmp, configText(abs, c))
  await rename(tmp, abs)
}

/**
 * Removes the config file at `path` if it is still the one written with `c` (a later network may
 * have replaced it). Used when a network whose data goes away (a temporary sim:local dir) stops.
 */
export async function removeConfigIfOurs (path: string, c: ConfigToWrite): Promise<boolean> {
  const abs = resolve(path)
  let text: string
  try { text = readFileSync(abs, 'utf8') } catch { return false }
  if (text !== configText(abs, c)) return false
  await unlink(abs).catch(() => {})
  return true
}

/** Where `npm start` / `sim:local` write the config: `--config FILE`, else `$PQMED_CONFIG`, else ./.pqmed.json. */
export function configWritePath (o: { flag?: string, env: Env, cwd: string }): string {
  if (o.flag !== undefined && o.flag !== '') return resolve(o.cwd, o.flag)
  const e = o.env[CONFIG_ENV]
  if (e !== undefined && e !== '') return resolve(o.cwd, e)
  return join(resolve(o.cwd), CONFIG_FILE)
}

/** True when the CLI run in `cwd` (without PQMED_CONFIG) finds the config file at `path`. */
export function configFoundFrom (cwd: string, path: string): boolean {
  const dir = dirname(resolve(path))
  const rel = relative(dir, resolve(cwd))
  return basename(path) === CONFIG_FILE && (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel)))
}
