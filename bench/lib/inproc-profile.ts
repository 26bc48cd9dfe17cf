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
