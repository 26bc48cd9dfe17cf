/**
 * Request/response over libp2p with one long-lived, multiplexed stream per (peer, protocol).
 * Measured on this machine: opening a stream per call costs ~2 ms p50 over TCP, a reused stream
 * ~0.25 ms, so the query path keeps streams to managers open.
 *
 * Wire format: length-prefixed dag-cbor frames. Request `[id, method, params]`; response
 * `[id, 0, result]` or `[id, 1, { code, message }]`. Frames above `maxBytes` are rejected by the
 * length-prefix decoder (the stream is then dropped); every request has a timeout.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { lpStream, type LengthPrefixedStream } from '@libp2p/utils'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { NodeError, ReqRespError, nodeErrorCode } from './errors.js'
import type { PqmedHost } from './libp2p.js'
import type { ReqRespMetrics } from './ops/node-metrics.js'

export { ReqRespError } from './errors.js'

export type ReqHandler = (method: string, params: unknown, from: PeerId) => Promise<unknown>

export interface ReqRespOptions {
  protocol: string
  maxBytes: number
  timeoutMs: number
  handler?: ReqHandler
  /** At most this many requests served concurrently per inbound stream. */
  maxConcurrent?: number
  /** Counts and times every call, both directions (default: none). */
  metrics?: ReqRespMetrics
}

interface Pending {
  resolve: (v: unknown) => void
  reject: (e: Error) => void
  timer: NodeJS.Timeout
}

interface Channel {
  lp: LengthPrefixedStream<Stream>
  stream: Stream
  pending: Map<number, Pending>
  writing: Promise<void>
}

export class ReqResp {
  private readonly host: PqmedHost
  private readonly opts: ReqRespOptions
  private readonly channels = new Map<string, Promise<Channel>>()
  private readonly inbound = new Set<Stream>()
  private nextId = 1
  private started = false

  constructor (host: PqmedHost, opts: ReqRespOptions) {
    this.host = host
    this.opts = opts
  }

  async start (): Promise<void> {
    if (this.opts.handler !== undefined) {
      await this.host.handle(this.opts.protocol, (stream, connection) => { this.serve(stream, connection) }, { maxInboundStreams: 64 })
    }
    this.started = true
  }

  async stop (): Promise<void> {
    this.started = false
    if (this.opts.handler !== undefined) await this.host.unhandle(this.opts.protocol)
    for (const ch of this.channels.values()) {
      ch.then((c) => { this.failChannel(c, new ReqRespError('STOPPED', 'node stopping')); c.stream.abort(new Error('stopping')) }, () => {})
    }
    this.channels.clear()
    for (const s of this.inbound) s.abort(new Error('stopping'))
    this.inbound.clear()
  }

  /** Sends a request and waits for its response. Throws ReqRespError on remote error, timeout or transport failure. */
  async request (peer: PeerId, method: string, params: unknown, timeoutMs = this.opts.timeoutMs): Promise<unknown> {
    if (!this.started) throw new ReqRespError('STOPPED', 'request/response service not started')
    const ch = await this.channel(peer)
    const id = this.nextId++
    const frame = dagCbor.encode([id, method, params ?? null])
    if (frame.length > this.opts.maxBytes) throw new ReqRespError('TOO_LARGE', `request of ${frame.length} bytes exceeds ${this.opts.maxBytes}`)
    const result = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        ch.pending.delete(id)
        reject(new ReqRespError('TIMEOUT', `${this.opts.protocol} ${method} to ${peer.toString()} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      ch.pending.set(id, { resolve, reject, timer })
    })
    ch.writing = ch.writing.then(async () => { await ch.lp.write(frame) }).catch((err: Error) => {
      this.dropChannel(peer, ch, new ReqRespError('TRANSPORT', err.message))
    })
    const m = this.opts.metrics
    if (m === undefined) return await result
    const t0 = performance.now()
    const done = (outcome: string): void => { m.reqresp(this.opts.protocol, method, 'out', outcome, (performance.now() - t0) / 1000, peer.toString()) }
    return await result.then((r) => { done('ok'); return r }, (err: unknown) => { done(err instanceof ReqRespError ? err.code : 'ERROR'); throw err })
  }

  private async channel (peer: PeerId): Promise<Channel> {
    const key = peer.toString()
    let ch = this.channels.get(key)
    if (ch === undefined) {
      ch = this.open(peer)
      this.channels.set(key, ch)
      ch.catch(() => { if (this.channels.get(key) === ch) this.channels.delete(key) })
    }
    return await ch
  }

  private async open (peer: PeerId): Promise<Channel> {
    let stream: Stream
    try {
      stream = await this.host.dialProtocol(peer, this.opts.protocol, { signal: AbortSignal.timeout(this.opts.timeoutMs) })
    } catch (err) {
      throw new ReqRespError('UNREACHABLE', `cannot open ${this.opts.protocol} to ${peer.toString()}: ${(err as Error).message}`)
    }
    const ch: Channel = { stream, lp: lpStream(stream, { maxDataLength: this.opts.maxBytes }), pending: new Map(), writing: Promise.resolve() }
    void this.readResponses(peer, ch)
    return ch
  }

  private async readResponses (peer: PeerId, ch: Channel): Promise<void> {
    try {
      for (;;) {
        const frame = await ch.lp.read()
        const msg = dagCbor.decode<unknown>(frame.subarray())
        if (!Array.isArray(msg) || msg.length !== 3 || typeof msg[0] !== 'number') throw new Error('malformed response frame')
        const p = ch.pending.get(msg[0])
        if (p === undefined) continue // timed out earlier
        ch.pending.delete(msg[0])
        clearTimeout(p.timer)
        if (msg[1] === 0) p.resolve(msg[2])
        else {
          const e = msg[2] as { code?: unknown, message?: unknown, data?: unknown } | null
          p.reject(new ReqRespError(nodeErrorCode(e?.code), typeof e?.message === 'string' ? e.message : 'remote error', e?.data ?? undefined))
        }
      }
    } catch (err) {
      this.dropChannel(peer, ch, new ReqRespError('TRANSPORT', `stream to ${peer.toString()} closed: ${(err as Error).message}`))
    }
  }

  private failChannel (ch: Channel, err: Error): void {
    for (const p of ch.pending.values()) { clearTimeout(p.timer); p.reject(err) }
    ch.pending.clear()
  }

  private dropChannel (peer: PeerId, ch: Channel, err: Error): void {
    this.failChannel(ch, err)
    const key = peer.toString()
    const cur = this.channels.get(key)
    if (cur !== undefined) {
      cur.then((c) => { if (c === ch) this.channels.delete(key) }, () => {})
    }
    try { ch.stream.abort(err) } catch { /* already closed */ }
  }

  private serve (stream: Stream, connection: Connection): void {
    const handler = this.opts.handler
    if (handler === undefined) { stream.abort(new Error('no handler')); return }
    this.inbound.add(stream)
    const lp = lpStream(stream, { maxDataLength: this.opts.maxBytes })
    let writing = Promise.resolve()
    let inFlight = 0
    const max = this.opts.maxConcurrent ?? 32
    const reply = (frame: unknown[]): void => {
      let bytes = dagCbor.encode(frame)
      if (bytes.length > this.opts.maxBytes) bytes = dagCbor.encode([frame[0], 1, { code: 'TOO_LARGE', message: `response exceeds ${this.opts.maxBytes} bytes` }])
      writing = writing.then(async () => { await lp.write(bytes) }).catch(() => { stream.abort(new Error('write failed')) })
    }
    const loop = async (): Promise<void> => {
      try {
        for (;;) {
          const frame = await lp.read()
          const msg = dagCbor.decode<unknown>(frame.subarray())
          if (!Array.isArray(msg) || msg.length !== 3 || typeof msg[0] !== 'number' || typeof msg[1] !== 'string') throw new Error('malformed request frame')
          const [id, method, params] = msg as [number, string, unknown]
          if (inFlight >= max) { reply([id, 1, { code: 'BUSY', message: 'too many concurrent requests' }]); continue }
          inFlight++
          const t0 = performance.now()
          const served = (outcome: string): void => { this.opts.metrics?.reqresp(this.opts.protocol, method, 'in', outcome, (performance.now() - t0) / 1000, connection.remotePeer.toString()) }
          handler(method, params, connection.remotePeer).then(
            (result) => { served('ok'); reply([id, 0, result ?? null]) },
            (err: unknown) => {
              // a generic transport: any typed error's string code travels (the client maps unknown ones to REMOTE)
              const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : 'INTERNAL'
              served(code)
              const data = err instanceof NodeError ? err.data : undefined
              reply([id, 1, { code, message: err instanceof Error ? err.message : String(err), ...(data !== undefined ? { data } : {}) }])
            }
          ).finally(() => { inFlight-- })
        }
      } catch {
        stream.abort(new Error('closed'))
      } finally {
        this.inbound.delete(stream)
      }
    }
    void loop()
  }
}
