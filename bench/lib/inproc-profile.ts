/**
 * A V8 CPU profile of this process over a window (`node:inspector` Profiler, started and stopped
 * in-process, so setup and shutdown are left out), its self time grouped into named categories by
 * the file each sampled function belongs to, and the top functions. `bench:headers` uses it to
 * say where a light node's CPU goes.
 */
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { functionKey, shortUrl } from './cpuprofile.js'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame }
interface CpuProfile { nodes: ProfileNode[], startTime: number, endTime: number, samples: number[], timeDeltas: number[] }

/** A category: the first whose test matches a sampled function's `shortUrl` (or name, for builtins) gets its self time. */
export interface Category { name: string, test: (file: string, fn: string) => boolean }

export interface ProfileBreakdown {
  /** Sampled non-idle time, ms. */
  busyMs: number
  categories: Array<{ category: string, ms: number, share: number }>
  top: Array<{ fn: string, ms: number, share: number }>
}

export class WindowProfiler {
  private readonly session = new Session()

  /** Starts sampling every `intervalUs` µs. */
  async start (intervalUs = 1000): Promise<void> {
    this.session.connect()
    await this.session.post('Profiler.enable')
    await this.session.post('Profiler.setSamplingInterval', { interval: intervalUs })
    await this.session.post('Profiler.start')
  }

  /**
   * Stops sampling and groups self time by `categories` (the rest is "other"); with `rawOut`, also
   * writes the profile there (a `.cpuprofile` that Chrome DevTools opens).
   */
  async stop (categories: readonly Category[], top = 25, rawOut?: string): Promise<ProfileBreakdown> {
    const { profile } = await this.session.post('Profiler.stop') as unknown as { profile: CpuProfile }
    await this.session.post('Profiler.disable')
    this.session.disconnect()
    if (rawOut !== undefined) writeFileSync(rawOut, JSON.stringify(profile))
    const frames = new Map<number, CallFrame>()
    for (const n of profile.nodes) frames.set(n.id, n.callFrame)
    const byFn = new Map<string, number>()
    const byCat = new Map<string, number>()
    let busy = 0
    for (let i = 0; i < profile.samples.length; i++) {
      const f = frames.get(profile.samples[i] as number)
      const dt = profile.timeDeltas[i + 1] ?? 0 // sample i lasts until sample i + 1
      if (f === undefined || f.functionName === '(idle)') continue
      busy += dt
      const key = functionKey(f)
      byFn.set(key, (byFn.get(key) ?? 0) + dt)
      const file = f.url === '' ? '' : shortUrl(f.url)
      const cat = categories.find((c) => c.test(file, f.functionName))?.name ?? 'other'
      byCat.set(cat, (byCat.get(cat) ?? 0) + dt)
    }
    const ms = (us: number): number => Math.round(us / 10) / 100
    const share = (us: number): number => Math.round(us / Math.max(busy, 1) * 1000) / 1000
    return {
      busyMs: ms(busy),
      categories: [...byCat].sort((a, b) => b[1] - a[1]).map(([category, us]) => ({ category, ms: ms(us), share: share(us) })),
      top: [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, us]) => ({ fn, ms: ms(us), share: share(us) }))
    }
  }
}

/** A pqmed node's CPU by component (bench:headers, bench:table4 --profile-workers): the first matching category (file as `shortUrl`) gets a sampled function's self time. */
export const NODE_CATEGORIES: Category[] = [
  { name: 'ML-DSA-65 verify (liboqs wasm / noble)', test: (f) => f.startsWith('@oqs/') || f.startsWith('@noble/post-quantum') || f.startsWith('wasm://') },
  { name: 'Noise (ChaCha20-Poly1305, handshake)', test: (f) => f.startsWith('@chainsafe/libp2p-noise') || f.startsWith('@chainsafe/as-chacha20poly1305') || f.startsWith('@noble/ciphers') || f.startsWith('@noble/curves') },
  { name: 'yamux (stream muxing)', test: (f) => f.startsWith('@chainsafe/libp2p-yamux') },
  { name: 'gossipsub (RPC handling, heartbeats, scoring)', test: (f) => f.startsWith('@libp2p/gossipsub') },
  { name: 'other libp2p (connections, identify, streams, protobuf)', test: (f) => /^(@libp2p\/|libp2p\/|it-|uint8arraylist|protons-runtime|@multiformats|multiformats|race-|p-queue|main-event-target|abort-error|progress-events)/.test(f) },
  { name: 'CBOR decode/encode (dag-cbor, cborg)', test: (f) => f.startsWith('@ipld/dag-cbor') || f.startsWith('cborg') },
  { name: 'hashing (SHA-256)', test: (f) => f.startsWith('@noble/hashes') || f.startsWith('@chainsafe/as-sha256') || f === 'src/crypto/hash.ts' },
  { name: 'header chain code (src/blocks, src/node, store)', test: (f) => f.startsWith('src/') },
  { name: 'Node.js internals (net, streams, timers, promises)', test: (f) => f.startsWith('node:') },
  { name: 'garbage collector', test: (_f, fn) => fn === '(garbage collector)' },
  { name: '(program): native code not attributed to JS', test: (_f, fn) => fn === '(program)' }
]
