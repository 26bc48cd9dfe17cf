/**
 * Starts an HTTP server listening and gives back its origin and an idempotent close that also ends
 * kept-alive connections: shared by the JSON-RPC server, the operations server and the explorer.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Listening {
  /** `http://HOST:PORT` (IPv6 hosts in brackets), without a trailing slash. */
  origin: string
  address: AddressInfo
  /** Stops accepting, closes every connection; repeated calls wait for the same close. */
  close: () => Promise<void>
}

export async function listenHttp (server: Server, port: number, host: string): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  const address = server.address() as AddressInfo
  const origin = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
  let closing: Promise<void> | undefined
  return {
    origin,
    address,
    close: async () => {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((err) => { if (err !== undefined) reject(err); else resolve() })
        server.closeAllConnections()
      })
      await closing
    }
  }
}
