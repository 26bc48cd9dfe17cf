/**
 * The consensus timer (CometBFT's ticker): keeps every deadline the state machine announced
 * (`schedule-tick`) and calls `tick(now)` when the earliest has passed, never before it.
 */
export class Ticker {
  private readonly deadlines = new Set<number>()
  private timer: NodeJS.Timeout | undefined
  private timerAt = Infinity
  private stopped = false
  private readonly tick: (now: number) => void

  constructor (tick: (now: number) => void) { this.tick = tick }

  /**
   * Every deadline is kept until it has passed: the machine announces each deadline once, so
   * dropping a later one because an earlier timer was pending would stall it.
   */
  schedule (at: number): void {
    this.deadlines.add(at)
    this.arm()
  }

  stop (): void {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  private arm (): void {
    if (this.stopped || this.deadlines.size === 0) return
    const next = Math.min(...this.deadlines)
    if (this.timer !== undefined && this.timerAt <= next) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timerAt = next
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.timerAt = Infinity
      // Node timers may fire a millisecond before Date.now() reaches the deadline: never tick early.
      const now = Math.max(Date.now(), next)
      for (const d of this.deadlines) if (d <= now) this.deadlines.delete(d)
      this.tick(now)
      this.arm()
    }, Math.max(0, next - Date.now()))
  }
}
