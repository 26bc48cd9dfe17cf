/**
 * Who may connect to a permissioned manager: the genesis managers, the user nodes listed in genesis
 * (`userNodes`), the user nodes hospitals admitted on chain (`UserNodeTx`, `chainPeerSource`), and
 * the peer ids of the manager's own lists (`--allow-peer`, `--allow-peers-file`).
 * Each list comes from a `PeerListSource`, so another source (on-chain registration) can be added
 * without touching the gate. The libp2p connection gater (`peerGater` in libp2p.ts) asks `has`.
 *
 * The allow file holds one peer id per line; `#` starts a comment; blank lines are ignored. It is
 * re-read when it changes (polled every second) and on `reload()` (SIGHUP in `pqmed node`). A file
 * that fails to parse at start is an error; later, the previous list stays in force and the error
 * is logged.
 */
import { readFile } from 'node:fs/promises'
import { unwatchFile, watchFile } from 'node:fs'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Genesis } from './genesis.js'

export class PeerListError extends Error {
  readonly code = 'BAD_PEER_LIST'
  constructor (message: string) { super(message); this.name = 'PeerListError' }
}

/** One source of admitted peer ids. */
export interface PeerListSource {
  /** For logs, e.g. `genesis` or `file /etc/pqmed/allow`. */
  readonly name: string
  /** The current list; throws PeerListError with a clear message when the source is unreadable or malformed. */
  load: () => Promise<string[]>
  /** Calls `onChange` when the list may have changed; returns the function that stops watching. */
  watch?: (onChange: () => void) => () => void
}

/** The genesis managers and the genesis `userNodes`. */
export function genesisPeerSource (g: Genesis, opts: { managers?: boolean } = {}): PeerListSource {
  const ids = [...(opts.managers === false ? [] : g.managers.map((m) => m.peerId)), ...(g.userNodes ?? [])]
  return { name: opts.managers === false ? 'genesis user nodes' : 'genesis', load: async () => ids }
}

/** The on-chain source: fed by the governance registry once the chain store is open (`attach`), reloaded on each change (`changed`). */
export interface ChainPeerSource extends PeerListSource {
  /** Sets where the admitted peer ids come from (the registry's `admittedUserNodes`) and reloads. */
  attach: (ids: () => string[]) => void
  /** The registry committed a user-node change: reload. */
  changed: () => void
}

/** The user nodes admitted on chain (docs/GOVERNANCE.md); empty until `attach`. */
export function chainPeerSource (): ChainPeerSource {
  let get: () => string[] = () => []
  const listeners = new Set<() => void>()
  const notify = (): void => { for (const l of listeners) l() }
  return {
    name: 'chain',
    load: async () => get(),
    watch: (onChange) => { listeners.add(onChange); return () => { listeners.delete(onChange) } },
    attach: (ids) => { get = ids; notify() },
    changed: notify
  }
}

/** A fixed list (`--allow-peer`). */
export function staticPeerSource (name: string, ids: string[]): PeerListSource {
  const list = ids.map((id, i) => checkPeerId(id, `${name} #${i + 1}`))
  return { name, load: async () => list }
}

function checkPeerId (id: string, where: string): string {
  try { peerIdFromString(id) } catch { throw new PeerListError(`${where}: ${JSON.stringify(id)} is not a libp2p peer id`) }
  return id
}

/** Parses an allow file: one peer id per line, `#` comments. Errors name the line. */
export function parsePeerList (text: string, path: string): string[] {
  const out: string[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim()
    if (line === '') return
    if (/\s/.test(line)) throw new PeerListError(`${path}:${i + 1}: one peer id per line, got ${JSON.stringify(line)}`)
    out.push(checkPeerId(line, `${path}:${i + 1}`))
  })
  return out
}

/** An allow file, re-read when its size or modification time changes. */
export function filePeerSource (path: string, pollMs = 1000): PeerListSource {
  return {
    name: `file ${path}`,
    load: async () => {
      let text: string
      try { text = await readFile(path, 'utf8') } catch (err) { throw new PeerListError(`cannot read allow-peers file ${path}: ${(err as Error).message}`) }
      return parsePeerList(text, path)
    },
    watch: (onChange) => {
      const listener = (): void => { onChange() }
      watchFile(path, { interval: pollMs, persistent: false }, listener)
      return () => { unwatchFile(path, listener) }
    }
  }
}

export interface AllowListLog {
  info: (msg: string) => void
  warn: (msg: string) => void
}

/** The union of its sources; `has` is what the connection gater asks. */
export class PeerAllowList {
  private readonly sources: PeerListSource[]
  private readonly log: AllowListLog
  private ids = new Set<string>()
  private readonly unwatch: Array<() => void> = []
  private reloading: Promise<void> = Promise.resolve()
  /** Called after a reload with the peers no longer admitted (their connections should be closed). */
  onRemoved?: (ids: string[]) => void

  constructor (sources: PeerListSource[], log: AllowListLog) {
    this.sources = sources
    this.log = log
  }

  has (id: string): boolean { return this.ids.has(id) }

  get size (): number { return this.ids.size }

  /** Loads every source (throws PeerListError if one fails) and starts watching those that can be watched. */
  async start (): Promise<void> {
    this.ids = await this.loadAll()
    for (const s of this.sources) {
      const stop = s.watch?.(() => { void this.reload() })
      if (stop !== undefined) this.unwatch.push(stop)
    }
  }

  stop (): void {
    for (const u of this.unwatch.splice(0)) u()
  }

  /**
   * Re-reads every source. On an error the previous list stays in force and the error is logged;
   * never throws. Reloads run one at a time.
   */
  async reload (): Promise<void> {
    this.reloading = this.reloading.then(async () => {
      let next: Set<string>
      try { next = await this.loadAll() } catch (err) {
        this.log.warn(`allow list not reloaded, the previous one (${this.ids.size} peers) stays in force: ${(err as Error).message}`)
        return
      }
      const added = [...next].filter((id) => !this.ids.has(id))
      const removed = [...this.ids].filter((id) => !next.has(id))
      this.ids = next
      if (added.length === 0 && removed.length === 0) return
      this.log.info(`allow list reloaded: ${next.size} peers (${added.length} added, ${removed.length} removed)`)
      if (removed.length > 0) this.onRemoved?.(removed)
    })
    await this.reloading
  }

  private async loadAll (): Promise<Set<string>> {
    const out = new Set<string>()
    for (const s of this.sources) for (const id of await s.load()) out.add(id)
    return out
  }
}
