/**
 * The explorer's static pages (`src/explorer/static/`: one HTML page, its script and stylesheet),
 * served under `/explorer/` by every node's JSON-RPC server (`src/rpc/server.ts`) and by
 * `pqmed explorer` (`./server.ts`). Only the listed files are served (no path from a request ever
 * reaches the filesystem); they are read once and kept in memory. The pages call the JSON-RPC
 * endpoint of the origin they came from (`POST /`), and nothing else: no CDN, no external request
 * (the Content-Security-Policy forbids any other origin).
 */
import { existsSync, readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'

/** Where the explorer lives on a node's HTTP server. */
export const EXPLORER_PATH = '/explorer/'

const FILES: Record<string, { file: string, type: string }> = {
  '': { file: 'index.html', type: 'text/html; charset=utf-8' },
  'index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  'app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  'style.css': { file: 'style.css', type: 'text/css; charset=utf-8' }
}

/** Pages, scripts and styles from this origin only; JSON-RPC to this origin only; no framing. */
export const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/**
 * The static directory: next to this module (the sources; dist/, where the build copies it). A
 * dist/ inside a checkout serves the checkout's sources instead, so that a page edited since the
 * last build (or a bare `tsc` build, which copies nothing) is never served stale.
 */
function staticDir (): string | undefined {
  const inDist = /\/dist\/explorer\/[^/]+$/.test(fileURLToPath(import.meta.url))
  for (const rel of inDist ? ['../../src/explorer/static/', './static/'] : ['./static/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url))
    if (existsSync(`${dir}index.html`)) return dir
  }
  return undefined
}

let cache: Map<string, Buffer> | undefined

function load (): Map<string, Buffer> {
  if (cache !== undefined) return cache
  const dir = staticDir()
  if (dir === undefined) throw new Error('explorer pages not found next to src/explorer/assets (run `npm run build`, which copies src/explorer/static/ to dist/)')
  const out = new Map<string, Buffer>()
  for (const { file } of Object.values(FILES)) if (!out.has(file)) out.set(file, readFileSync(`${dir}${file}`))
  cache = out
  return out
}

/** Whether `path` (without query) belongs to the explorer: `/explorer` or anything under `/explorer/`. */
export function isExplorerPath (path: string): boolean {
  return path === '/explorer' || path.startsWith(EXPLORER_PATH)
}

/**
 * Answers a request for an explorer path: GET/HEAD of a listed file (200), `/explorer` (301 to
 * `/explorer/`), another file (404), another method (405). Missing pages (a broken build) are a
 * 500 with the reason, logged through `warn`.
 */
export function serveExplorer (req: IncomingMessage, res: ServerResponse, path: string, warn: (msg: string) => void): void {
  const headers: Record<string, string> = {
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy': CONTENT_SECURITY_POLICY
  }
  const end = (status: number, type: string, body: Buffer | string, extra: Record<string, string> = {}): void => {
    if (res.headersSent) return
    res.writeHead(status, { ...headers, ...extra, 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)) })
    res.end(req.method === 'HEAD' ? undefined : body)
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') { end(405, 'text/plain; charset=utf-8', 'Method not allowed: the explorer pages are read with GET\n', { Allow: 'GET, HEAD' }); return }
  if (path === '/explorer') { end(301, 'text/plain; charset=utf-8', `Moved to ${EXPLORER_PATH}\n`, { Location: EXPLORER_PATH }); return }
  const entry = FILES[path.slice(EXPLORER_PATH.length)]
  if (entry === undefined) { end(404, 'text/plain; charset=utf-8', 'Not found: the explorer is at /explorer/\n'); return }
  let files
  try { files = load() } catch (err) {
    warn(`explorer: ${(err as Error).message}`)
    end(500, 'text/plain; charset=utf-8', 'The explorer pages are missing from this installation (see the node log).\n')
    return
  }
  end(200, entry.type, files.get(entry.file) as Buffer)
}
