/**
 * A light node's header chain: headers and the newest commit certificate in its key-value store,
 * synced by range from managers (hash links checked, the certificate checked on the newest header
 * of each batch), extended by certified headers from gossip, and older certificates fetched on
 * demand. No block contents: a user node trusts only what links to these headers.
 *
 * Cost per header (the headers topic is the only thing a user node follows): each header arrives
 * from f + 1 publishers, each copy with its own certificate. A copy is decoded header-first; one at
 * or below the head is ignored before its certificate is even decoded; a header whose certificate
 * was already verified (same height and hash) is answered from memory; the head moves before any
 * await, so a copy processed right after never races into a second verification; and signatures
 * go through a `MemoVerifier`, so no ML-DSA signature is verified twice. The header is hashed from
 * the received canonical bytes and stored as received (no re-encoding). Store writes are queued
 * and written in one batch per flush (headers, the newest certificate and the head together).
 */
import * as dagCbor from '@ipld/dag-cbor'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import {
  MemoVerifier, decodeCertificate, decodeHeader, encodeCertificate, encodeHeader, headerHash, verifyCertificate, verifyHeaderChain, verifyHeaderLink,
  type CertificateContext, type CommitCertificate, type Header
} from '../blocks/index.js'
import { checkConfigLinks, configHash, configKeys, decodeConsortiumConfig, encodeConsortiumConfig, firstConfigChange, type ConsortiumConfig } from '../blocks/consortium.js'
import { equalBytes, sha256, toHex, type PqBackend } from '../crypto/index.js'
import { genesisConsortium, type Genesis } from './genesis.js'
import { pad, type BatchOp, type KvStore } from './kv.js'
import type { ManagerChoice } from './light-peers.js'
import type { Logger } from './log.js'
import { MAX_HEADERS_PER_REQUEST, bytes, list, obj, splitCertifiedHeader, uint } from './messages.js'
import type { NodeMetrics } from './ops/node-metrics.js'
import type { ReqResp } from './reqresp.js'

export interface HeaderChainOptions {
  genesis: Pick<Genesis, 'chainId' | 'managers'>
  genesisHeader: Header
  pq: PqBackend
  kv: KvStore
  log: Logger
  peers: ManagerChoice
  /** `/status/1` (the managers' heights) and `/sync/1` (header ranges). */
  status: Pick<ReqResp, 'request'>
  sync: Pick<ReqResp, 'request'>
  /** Metrics hooks (src/node/ops): the best height a manager announced. */
  metrics?: Pick<NodeMetrics, 'heightAnnounced'>
}

const HEADER_CACHE = 4096
const CERT_CACHE = 1024
/** Certificates verified from gossip, by height and header hash (a window well beyond the f + 1 copies of the newest headers). */
const VERIFIED_CACHE = 64

export class HeaderChain {
  private readonly opts: HeaderChainOptions
  private readonly headerCache = new Map<number, Header>()
  /** Verified certificates of older blocks fetched for record answers (`certificateAt`), the most recent 1,024. */
  private readonly certCache = new Map<number, CommitCertificate>()
  private head: Header
  private headHash: Uint8Array
  private newestCert: CommitCertificate | null = null
  private syncing: Promise<void> | null = null
  private stopped = false
  /** Certificates verified for gossiped headers, by `height:headerHashHex`, with their received encoding. */
  private readonly verifiedCerts = new Map<string, { cert: CommitCertificate, certBytes: Uint8Array }>()
  /** Certified headers from gossip beyond head + 1 (a gap), by height: appended as soon as the gap closes. */
  private readonly ahead = new Map<number, { header: Header, bytes: Uint8Array, hash: Uint8Array, cert: CommitCertificate, certBytes: Uint8Array }>()
  /** Every signature check goes through it: a signature verified once is not verified again. */
  private readonly verifier: MemoVerifier
  /** Store writes not yet flushed (in order), the headers among them, and the running flush. */
  private pending: BatchOp[] = []
  private readonly unwritten = new Map<number, Header>()
  private flushing: Promise<void> | null = null
  /** How headers arrived: appended from gossip, or fetched by range sync (at start, on a gap, every 5 s). */
  readonly stats = { gossip: 0, synced: 0 }

  constructor (opts: HeaderChainOptions) {
    this.opts = opts
    this.head = opts.genesisHeader
    this.headHash = headerHash(opts.genesisHeader)
    this.verifier = new MemoVerifier(opts.pq)
  }

  /** ML-DSA signatures verified so far (repeats are answered from memory and not counted). */
  get signaturesVerified (): number { return this.verifier.verified }

  get height (): number { return this.head.height }
  get headHashBytes (): Uint8Array { return this.headHash }
  get certificate (): CommitCertificate | null { return this.newestCert }

  /** Loads the stored head (or stores the genesis header on first start). */
  async open (): Promise<void> {
    const { kv } = this.opts
    const h = await kv.get('meta/head')
    if (h !== undefined) {
      const height = dagCbor.decode<number>(h)
      const hb = await kv.get(`hdr/${pad(height)}`)
      const cb = await kv.get('meta/cert')
      if (hb === undefined) throw new Error('header store corrupt: head header missing')
      this.head = decodeHeader(hb)
      this.headHash = headerHash(this.head)
      this.newestCert = cb === undefined ? null : decodeCertificate(cb)
    } else {
      await kv.batch([{ type: 'put', key: `hdr/${pad(0)}`, value: encodeHeader(this.head) }, { type: 'put', key: 'meta/head', value: dagCbor.encode(0) }])
    }
  }

  async close (): Promise<void> {
    this.stopped = true
    await this.syncing?.catch(() => {})
    await this.flushed()
  }

  private ctx (config?: ConsortiumConfig): CertificateContext {
    return { chainId: this.opts.genesis.chainId, managers: config !== undefined ? configKeys(config) : this.opts.genesis.managers.map((m) => m.sigPublicKey), verifier: this.verifier }
  }

  // -- manager changes: each header is certified by the configuration its predecessor announced --

  /** Consortium configurations this node learned (by hex hash): the genesis one, then those fetched and checked. */
  private readonly configs = new Map<string, ConsortiumConfig>()

  /** A configuration already in memory (the genesis one is always known), without awaiting. */
  private knownConfig (hash: Uint8Array): ConsortiumConfig | undefined {
    if (this.configs.size === 0) {
      const g = genesisConsortium(this.opts.genesis as Genesis)
      this.configs.set(toHex(configHash(g)), g)
    }
    return this.configs.get(toHex(hash))
  }

  /** The configuration with this hash: known, stored (`cfg/<hash>`), or fetched from `peer` and checked against the hash. */
  private async configByHash (hash: Uint8Array, peer?: Parameters<ManagerChoice['distrust']>[0]): Promise<ConsortiumConfig | undefined> {
    const key = toHex(hash)
    const known = this.knownConfig(hash)
    if (known !== undefined) return known
    const stored = await this.opts.kv.get(`cfg/${key}`)
    if (stored !== undefined) { const c = decodeConsortiumConfig(stored); this.configs.set(key, c); return c }
    for (const p of peer !== undefined ? [peer] : this.opts.peers.managers()) {
      try {
        const res = await this.opts.sync.request(p, 'config', { hash })
        if (!(res instanceof Uint8Array)) continue
        const c = decodeConsortiumConfig(res)
        if (!equalBytes(configHash(c), hash)) { this.opts.peers.distrust(p, 'config: the configuration does not have the hash asked for'); continue }
        await this.opts.kv.put(`cfg/${key}`, encodeConsortiumConfig(c), true)
        this.configs.set(key, c)
        this.opts.log.info(`learned consortium configuration ${key.slice(0, 16)}: ${c.managers.length} managers from height ${c.activationHeight}`)
        return c
      } catch { /* try the next manager */ }
    }
    return undefined
  }

  /** Verifies a certificate against the configuration the header names (which must be known). */
  private async certCheck (header: Header, cert: CommitCertificate, peer?: Parameters<ManagerChoice['distrust']>[0]): Promise<ReturnType<typeof verifyCertificate>> {
    const config = await this.configByHash(header.configHash, peer)
    if (config === undefined) return { ok: false, code: 'UNKNOWN_CONFIG', reason: `consortium configuration ${toHex(header.configHash).slice(0, 16)} of height ${header.height} is unknown` }
    return verifyCertificate(cert, this.ctx(config), { height: header.height, headerHash: headerHash(header) })
  }

  /** Brings the header chain up to the highest height any connected manager reports. */
  async sync (): Promise<void> {
    if (this.syncing !== null) { await this.syncing; return }
    this.syncing = this.doSync().finally(() => { this.syncing = null })
    await this.syncing
  }

  private async doSync (): Promise<void> {
    const { peers } = this.opts
    for (const peer of peers.managers()) {
      let target: number
      try {
        const st = obj(await this.opts.status.request(peer, 'status', null), 'status')
        target = uint(st.height, 'height')
        this.opts.metrics?.heightAnnounced(target, peer.toString())
      } catch { continue }
      while (this.head.height < target && !this.stopped) {
        const from = this.head.height + 1
        const to = Math.min(target, from + MAX_HEADERS_PER_REQUEST - 1)
        let res: Record<string, unknown>
        try { res = obj(await this.opts.sync.request(peer, 'headers', { from, to }), 'headers response') } catch { break }
        const got = list(res.headers, 'headers', MAX_HEADERS_PER_REQUEST, (h) => decodeHeader(bytes(h, 'header')))
        if (got.length === 0 || res.cert === null) break
        // gossip may have appended some of these while the request was in flight: verify the rest
        // from the head we have now (else an honest manager's answer "does not follow" our head)
        let headers = got.filter((h) => h.height > this.head.height)
        if (headers.length === 0) continue
        let cert = decodeCertificate(bytes(res.cert, 'cert'))
        // a run of headers ends at the one announcing a manager change: its own certificate vouches for the run
        const cut = firstConfigChange(headers)
        if (cut >= 0 && cut < headers.length - 1) {
          headers = headers.slice(0, cut + 1)
          const at = (headers[cut] as Header).height
          try {
            const r = obj(await this.opts.sync.request(peer, 'headers', { from: at, to: at }), 'headers response')
            if (r.cert === null || r.cert === undefined) break
            cert = decodeCertificate(bytes(r.cert, 'cert'))
          } catch { break }
        }
        const links = checkConfigLinks(this.head, headers)
        if (!links.ok) { peers.distrust(peer, `header chain: ${links.reason}`); break }
        const config = await this.configByHash(this.head.nextConfigHash, peer)
        if (config === undefined) { peers.distrust(peer, `header chain: consortium configuration ${toHex(this.head.nextConfigHash).slice(0, 16)} unavailable`); break }
        const check = verifyHeaderChain(this.head, headers, cert, this.ctx(config))
        if (!check.ok) { peers.distrust(peer, `header chain: ${check.reason}`); break }
        this.append(headers.map((h) => ({ header: h })), cert)
        this.stats.synced += headers.length
        await this.flushed() // a long sync writes batch by batch, not all at the end
      }
      if (this.head.height >= target) return
    }
  }

  /**
   * Makes verified `headers` (following the head) and the certificate of the last one the new head
   * at once, in memory, and queues their writes; `bytes`/`hash`/`certBytes`, when the caller has the
   * received canonical encodings, spare encoding them again.
   */
  private append (headers: Array<{ header: Header, bytes?: Uint8Array, hash?: Uint8Array }>, cert: CommitCertificate, certBytes?: Uint8Array): void {
    const last = headers[headers.length - 1]
    if (last === undefined) return
    for (const { header: h, bytes } of headers) {
      this.pending.push({ type: 'put', key: `hdr/${pad(h.height)}`, value: bytes ?? encodeHeader(h) })
      this.unwritten.set(h.height, h)
      this.cacheHeader(h)
    }
    // the head and its certificate are written in the same batch as the headers they name
    this.pending = this.pending.filter((op) => op.key !== 'meta/cert' && op.key !== 'meta/head')
    this.pending.push({ type: 'put', key: 'meta/cert', value: certBytes ?? encodeCertificate(cert) })
    this.pending.push({ type: 'put', key: 'meta/head', value: dagCbor.encode(last.header.height) })
    this.head = last.header
    this.headHash = last.hash ?? headerHash(last.header)
    this.newestCert = cert
    for (const h of this.ahead.keys()) if (h <= this.head.height) this.ahead.delete(h)
    // a certified header that arrived early now follows the head: append it (its certificate was verified)
    const next = this.ahead.get(this.head.height + 1)
    if (next !== undefined) {
      this.ahead.delete(next.header.height)
      if (verifyHeaderLink(this.head, next.header, this.headHash).ok) {
        this.append([{ header: next.header, bytes: next.bytes, hash: next.hash }], next.cert, next.certBytes)
        this.stats.gossip++
        return
      }
    }
    // (ops are queued above, so flush() awaits before it clears `flushing`)
    if (this.flushing === null) this.flushing = this.flush()
  }

  /**
   * Writes queued ops, one batch per round, until none is left (appends during a write join the
   * next batch). It clears `flushing` in the same step as it finds the queue empty, so an append
   * never finds a flush that is about to end.
   */
  private async flush (): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const ops = this.pending
        this.pending = []
        try {
          await this.opts.kv.batch(ops, true)
        } catch (err) {
          // the headers stay in memory (and are synced again after a restart): say so, do not crash the node
          this.opts.log.warn(`header store write failed: ${(err as Error).message}`)
        }
        for (const op of ops) if (op.key.startsWith('hdr/')) this.unwritten.delete(parseInt(op.key.slice(4), 16))
      }
    } finally {
      this.flushing = null
    }
  }

  /** Resolves when every header appended so far has been written. */
  async flushed (): Promise<void> {
    while (this.flushing !== null) await this.flushing
  }

  private cacheHeader (h: Header): void {
    this.headerCache.set(h.height, h)
    if (this.headerCache.size > HEADER_CACHE) {
      const first = this.headerCache.keys().next().value
      if (first !== undefined) this.headerCache.delete(first)
    }
  }

  /** Header at `height` from the local store, syncing first if it is beyond the head. */
  async header (height: number): Promise<Header | undefined> {
    if (height > this.head.height) await this.sync()
    if (height > this.head.height) return undefined
    const c = this.headerCache.get(height) ?? this.unwritten.get(height)
    if (c !== undefined) return c
    const b = await this.opts.kv.get(`hdr/${pad(height)}`)
    if (b === undefined) return undefined
    const h = decodeHeader(b)
    this.cacheHeader(h)
    return h
  }

  /** The consortium configuration (manager set) that certifies block `height` (its header's `configHash`). */
  async configAt (height: number): Promise<ConsortiumConfig | undefined> {
    const h = await this.header(Math.max(1, height))
    return h === undefined ? undefined : await this.configByHash(h.configHash)
  }

  /**
   * The gossip validator of the headers topic: a certified header extends the chain or triggers a
   * sync. Each header comes from f + 1 publishers: the first valid copy is accepted (and forwarded),
   * the others are ignored without verifying their certificates again.
   */
  async onGossip (data: Uint8Array): Promise<TopicValidatorResult> {
    let headerBytes: Uint8Array, certBytes: Uint8Array, header: Header
    try {
      ({ headerBytes, certBytes } = splitCertifiedHeader(data))
      header = decodeHeader(headerBytes)
    } catch { return TopicValidatorResult.Reject }
    if (header.height <= this.head.height) return TopicValidatorResult.Ignore // a copy of a header we have: certificate not even decoded
    if (!equalBytes(header.configHash, this.head.nextConfigHash)) {
      // certified by a manager set this node has not verified yet: range sync checks each step
      void this.sync().catch(() => {})
      return TopicValidatorResult.Ignore
    }
    let config = this.knownConfig(header.configHash)
    if (config === undefined) { // announced by our head but not fetched yet (once per configuration)
      config = await this.configByHash(header.configHash)
      if (config === undefined || header.height <= this.head.height) return TopicValidatorResult.Ignore
    }
    // decodeHeader accepts only the canonical encoding, so these bytes hash to headerHash(header)
    const hash = sha256(headerBytes)
    const key = `${header.height}:${toHex(hash)}`
    let known = this.verifiedCerts.get(key)
    const repeat = known !== undefined
    if (known === undefined) {
      let cert: CommitCertificate
      try { cert = decodeCertificate(certBytes) } catch { return TopicValidatorResult.Reject }
      const v = verifyCertificate(cert, this.ctx(config), { height: header.height, headerHash: hash })
      if (!v.ok) return TopicValidatorResult.Reject
      known = { cert, certBytes }
      this.verifiedCerts.set(key, known)
      if (this.verifiedCerts.size > VERIFIED_CACHE) {
        const first = this.verifiedCerts.keys().next().value
        if (first !== undefined) this.verifiedCerts.delete(first)
      }
    }
    // from here to the append nothing awaits: the next copy of this header already sees the new head
    if (header.height === this.head.height + 1) {
      if (!verifyHeaderLink(this.head, header, this.headHash).ok) {
        this.opts.log.warn(`certified header ${header.height} does not extend our head: resyncing`)
        void this.sync().catch(() => {})
        return TopicValidatorResult.Ignore
      }
      this.append([{ header, bytes: headerBytes, hash }], known.cert, known.certBytes)
      this.stats.gossip++
    } else {
      // a gap: keep the certified header to append when the gap closes, and sync (once per header)
      this.ahead.set(header.height, { header, bytes: headerBytes, hash, cert: known.cert, certBytes: known.certBytes })
      if (this.ahead.size > VERIFIED_CACHE) this.ahead.delete(Math.max(...this.ahead.keys())) // the farthest is needed last
      if (!repeat) void this.sync().catch(() => {})
    }
    // a repeat (another publisher's copy of a header already verified) is not forwarded again
    return repeat ? TopicValidatorResult.Ignore : TopicValidatorResult.Accept
  }

  /**
   * The commit certificate of the block at `height`: the newest one is kept; an older one is
   * fetched from a manager (`headers` from..to = height returns the certificate of `to`) and
   * checked against our stored header before it is returned. Null if no manager has a valid one.
   */
  async certificateAt (height: number): Promise<CommitCertificate | null> {
    if (this.newestCert !== null && this.newestCert.height === height) return this.newestCert
    const cached = this.certCache.get(height)
    if (cached !== undefined) return cached
    const header = await this.header(height)
    if (header === undefined || height === 0) return null
    for (const peer of this.opts.peers.managers()) {
      try {
        const res = obj(await this.opts.sync.request(peer, 'headers', { from: height, to: height }), 'headers response')
        if (res.cert === null || res.cert === undefined) continue
        const cert = decodeCertificate(bytes(res.cert, 'cert'))
        const v = await this.certCheck(header, cert, peer)
        if (!v.ok) throw new Error(`certificate for height ${height}: ${v.reason}`)
        this.certCache.set(height, cert)
        if (this.certCache.size > CERT_CACHE) {
          const first = this.certCache.keys().next().value
          if (first !== undefined) this.certCache.delete(first)
        }
        return cert
      } catch (err) { this.opts.peers.distrust(peer, (err as Error).message) }
    }
    return null
  }
}
