/**
 * The structured logger of `pqmed node` (pino): one event per line on stderr (stdout is kept for
 * the machine-readable `{"event":"ready",...}` line). Every event carries `role` and `node`, plus
 * the fields its caller gives (height, view, peer, method, code ...).
 *
 * - `json`: pino's JSON lines (`{"level":"info","time":"...","role":"manager","node":"manager-0","msg":"...",...}`).
 * - `pretty`: `[manager] message key=value ...` for info, `[manager] warning: ...` for warn,
 *   `[manager] debug: ...` for debug (the node's classic format, fields appended).
 */
import { pino, stdTimeFunctions, type DestinationStream, type Level, type Logger as Pino } from 'pino'
import type { LogFields, Logger } from './log.js'

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = typeof LOG_LEVELS[number]
export const LOG_FORMATS = ['json', 'pretty'] as const
export type LogFormat = typeof LOG_FORMATS[number]

export interface NodeLogOptions {
  level: LogLevel
  format: LogFormat
  role: string
  node: string
  /** Where lines go (default: stderr, written synchronously so nothing is lost at exit). */
  write?: (line: string) => void
}

export interface NodeLogger extends Logger {
  debug: (msg: string, fields?: LogFields) => void
  error: (msg: string, fields?: LogFields) => void
  readonly pino: Pino
}

const PRETTY_TAG: Record<string, string> = { trace: 'trace: ', debug: 'debug: ', info: '', warn: 'warning: ', error: 'error: ', fatal: 'fatal: ' }
const OWN_KEYS = new Set(['level', 'time', 'msg', 'role', 'node', 'pid', 'hostname'])

/** `key=value` with a value quoted (JSON) when it has spaces, quotes or is empty. */
function kv (k: string, v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v)
  return `${k}=${typeof v === 'string' && (s === '' || /[\s"=]/.test(s)) ? JSON.stringify(s) : s}`
}

/** A pino JSON line as the pretty format writes it. */
export function prettyLine (json: string): string {
  let o: Record<string, unknown>
  try { o = JSON.parse(json) as Record<string, unknown> } catch { return json.endsWith('\n') ? json : json + '\n' }
  const fields = Object.entries(o).filter(([k, v]) => !OWN_KEYS.has(k) && v !== undefined).map(([k, v]) => kv(k, v))
  const tag = PRETTY_TAG[String(o.level)] ?? `${String(o.level)}: `
  return `[${String(o.role)}] ${tag}${String(o.msg ?? '')}${fields.length > 0 ? ' ' + fields.join(' ') : ''}\n`
}

export function createNodeLogger (opts: NodeLogOptions): NodeLogger {
  const out = opts.write ?? ((line: string) => { process.stderr.write(line) })
  const dest: DestinationStream = opts.format === 'pretty'
    ? { write: (line: string) => { out(prettyLine(line)) } }
    : opts.write !== undefined ? { write: (line: string) => { out(line) } } : pino.destination({ fd: 2, sync: true })
  const p = pino({
    level: opts.level,
    base: { role: opts.role, node: opts.node },
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) }
  }, dest)
  const at = (level: Level) => (msg: string, fields?: LogFields): void => {
    if (fields === undefined) p[level](msg)
    else p[level](fields, msg)
  }
  return { pino: p, info: at('info'), warn: at('warn'), debug: at('debug'), error: at('error') }
}
