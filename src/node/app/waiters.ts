/**
 * Submitters waiting for their tx to commit (`submit` with `wait`), by tx hash. A waiter is
 * resolved with the commit height, failed when its tx can no longer commit, or failed with
 * `NOT_COMMITTED` after the timeout — unless the tx is committed by then (`committedAt`): a
 * committed tx is never reported as not committed.
 */
import { NodeError } from '../errors.js'

interface Waiter { done: (height: number) => void, fail: (err: NodeError) => void }

export class Waiters {
  private readonly byKey = new Map<string, Waiter[]>()
  private readonly timeoutMs: number
  private readonly committedAt: (key: string) => number | undefined

  constructor (timeoutMs: number, committedAt: (key: string) => number | undefined) {
    this.timeoutMs = timeoutMs
    this.committedAt = committedAt
  }

  /** Resolves with the height `key` is committed at; rejects as described above. */
  async wait (key: string): Promise<number> {
    const timeout = this.timeoutMs
    return await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => {
        const ws = this.byKey.get(key)
        if (ws !== undefined) { const i = ws.indexOf(w); if (i >= 0) ws.splice(i, 1) }
        const at = this.committedAt(key)
        if (at !== undefined) { resolve(at); return }
        reject(new NodeError('NOT_COMMITTED', `tx ${key} not committed within ${timeout} ms; it stays in the mempool and resubmitting is safe`))
      }, timeout)
      const w: Waiter = { done: (h) => { clearTimeout(t); resolve(h) }, fail: (err) => { clearTimeout(t); reject(err) } }
      const ws = this.byKey.get(key) ?? []
      ws.push(w)
      this.byKey.set(key, ws)
    })
  }

  committed (key: string, height: number): void {
    const ws = this.byKey.get(key)
    if (ws !== undefined) { this.byKey.delete(key); for (const w of ws) w.done(height) }
  }

  failed (key: string, err: NodeError): void {
    const ws = this.byKey.get(key)
    if (ws !== undefined) { this.byKey.delete(key); for (const w of ws) w.fail(err) }
  }

  /** Forgets every waiter (at stop; their timers still settle them). */
  clear (): void { for (const ws of this.byKey.values()) ws.length = 0 }
}
