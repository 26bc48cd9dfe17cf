/**
 * Markdown tables and number formatting for benchmark output.
 */

export type Align = 'left' | 'right'

/**
 * A GitHub-flavoured markdown table. Cells are padded so the raw text lines up; `|` inside a cell
 * is escaped. `align` gives each column's alignment (default: left).
 */
export function markdownTable (headers: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[] = []): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|')
  const head = headers.map(esc)
  const body = rows.map((r) => {
    if (r.length !== headers.length) throw new RangeError(`table row has ${r.length} cells, expected ${headers.length}`)
    return r.map(esc)
  })
  const width = head.map((h, i) => Math.max(3, h.length, ...body.map((r) => (r[i] as string).length)))
  const pad = (s: string, i: number): string => (align[i] === 'right' ? s.padStart(width[i] as number) : s.padEnd(width[i] as number))
  const line = (cells: readonly string[]): string => `| ${cells.map(pad).join(' | ')} |`
  const rule = `| ${width.map((w, i) => (align[i] === 'right' ? '-'.repeat(w - 1) + ':' : '-'.repeat(w))).join(' | ')} |`
  return [line(head), rule, ...body.map(line)].join('\n')
}

/**
 * A positive number with about three significant digits, thousands separated by commas:
 * 1234567 → "1,234,567", 512.3 → "512", 41.27 → "41.3", 2.345 → "2.35", 0.01234 → "0.0123".
 */
export function formatNumber (x: number): string {
  if (!Number.isFinite(x)) return String(x)
  const a = Math.abs(x)
  if (a >= 100) return Math.round(x).toLocaleString('en-US')
  if (a >= 10) return x.toFixed(1)
  if (a >= 1 || a === 0) return x.toFixed(2)
  return x.toPrecision(3)
}
