/**
 * `pqmed explorer --rpc URL [--port N] [--host H]` (definition in src/cli/commands.ts): serves the
 * explorer pages for the node at URL and runs until SIGINT / SIGTERM. Prints one JSON line
 * `{"event":"ready","url":...,"rpc":...}` when it listens.
 */
import { UsageError } from '../cli/usage.js'
import { DEFAULT_EXPLORER_PORT, parseRpcUrl, startExplorerServer } from './server.js'

export type ExplorerValues = { rpc?: string, port?: string, host?: string }

export async function explorerCmd (values: ExplorerValues): Promise<void> {
  if (values.rpc === undefined) throw new UsageError('--rpc is required')
  let rpc: URL
  try { rpc = parseRpcUrl(values.rpc) } catch (err) { throw new UsageError((err as Error).message) }
  const port = values.port === undefined ? DEFAULT_EXPLORER_PORT : Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new UsageError('--port must be an integer in [0, 65535]')
  const server = await startExplorerServer({ rpc: rpc.href, port, host: values.host ?? '127.0.0.1' })
  // a first call tells the user at once whether the node answers (the pages show it too)
  try {
    const res = await fetch(rpc, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'node_info' }), signal: AbortSignal.timeout(5_000) })
    const info = (await res.json() as { result?: { role?: string, chainId?: string } }).result
    if (info === undefined) console.error(`pqmed explorer: warning: ${rpc.href} answered node_info without a result`)
  } catch (err) {
    console.error(`pqmed explorer: warning: the node at ${rpc.href} does not answer yet (${(err as Error).message}); the pages will say so until it does`)
  }
  const stop = (): void => { void server.close().then(() => { process.exit(0) }) }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  console.log(JSON.stringify({ event: 'ready', url: server.url, rpc: rpc.href }))
}
