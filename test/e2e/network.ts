/** An in-process network for the end-to-end tests: 4 managers + 1 user node, each with a JSON-RPC server. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createConsortiumKeyFile, type ConsortiumKeyFile } from '../../src/client/index.js'
import { freePorts } from '../../src/cli/procs.js'
import { loadPqBackend, randomBytes, type PqBackend } from '../../src/crypto/index.js'
import { createDevnet, type DevnetFiles } from '../../src/node/devnet.js'
import { genesisToJson } from '../../src/node/genesis.js'
import { startNode, type RunningNode } from '../../src/node/node.js'
import { createRpcBackend } from '../../src/node/rpc-backend.js'
import { createRpcServer, type RpcBackend, type RpcServer } from '../../src/rpc/index.js'

export interface TestNetwork {
  pq: PqBackend
  files: DevnetFiles
  nodes: RunningNode[]
  /** RPC URL per node (managers 0..3, then the user node). */
  urls: string[]
  userUrl: string
  backends: RpcBackend[]
  consortiumKey: Uint8Array
  consortiumFile: ConsortiumKeyFile
  /** Warnings logged by the user node. */
  userWarnings: string[]
  dir: string
  /** Serves `backend` on a fresh RPC server (closed with the network). */
  serve: (backend: RpcBackend) => Promise<string>
  stop: () => Promise<void>
}

/** `users`: user identities listed in genesis (`userNodes`); the network's user node runs as the first. */
export async function startTestNetwork (doctors = 3, users = 1): Promise<TestNetwork> {
  const pq = await loadPqBackend()
  const dir = await mkdtemp(join(tmpdir(), 'pqmed-e2e-'))
  const ports = await freePorts(4)
  const files = await createDevnet({ chainId: 'pqmed-e2e', managers: 4, doctors, users, managerAddr: (i) => `/ip4/127.0.0.1/tcp/${ports[i]}`, params: { blockInterval: 50, viewChangeTimeout: 1500, heartbeatInterval: 300 } })
  const nodes: RunningNode[] = []
  const servers: RpcServer[] = []
  const backends: RpcBackend[] = []
  const userWarnings: string[] = []
  const serve = async (backend: RpcBackend): Promise<string> => {
    const s = await createRpcServer(backend, { port: 0, rateLimit: false, log: { warn: () => {} } })
    servers.push(s)
    return s.url
  }
  const urls: string[] = []
  for (let i = 0; i < 4; i++) {
    nodes.push(await startNode({ role: 'manager', genesis: files.genesis, dataDir: join(dir, `m${i}`), identity: files.managers[i], listen: [`/ip4/127.0.0.1/tcp/${ports[i]}`], loopback: true }))
  }
  nodes.push(await startNode({
    role: 'user', genesis: files.genesis, dataDir: join(dir, 'u0'), identity: files.users?.[0], listen: ['/ip4/127.0.0.1/tcp/0'], loopback: true,
    log: { info: () => {}, warn: (m: string) => { userWarnings.push(m) } }
  }))
  for (const node of nodes) {
    const b = createRpcBackend({ node, genesis: files.genesis, pq })
    backends.push(b)
    urls.push(await serve(b))
  }
  const consortiumKey = randomBytes(32)
  const consortiumFile = createConsortiumKeyFile(pq, files.genesis.doctors, consortiumKey)
  await writeFile(join(dir, 'genesis.json'), genesisToJson(files.genesis))
  await writeFile(join(dir, 'consortium-key.json'), JSON.stringify(consortiumFile))
  for (const d of files.doctors) await writeFile(join(dir, `${d.name}.json`), JSON.stringify(d))
  // wait until the user node is connected to the managers
  for (let t = 0; t < 100 && (nodes[4]?.light?.managers().length ?? 0) < 4; t++) await new Promise((r) => setTimeout(r, 100))
  return {
    pq, files, nodes, urls, userUrl: urls[4] as string, backends, consortiumKey, consortiumFile, userWarnings, dir, serve,
    stop: async () => {
      for (const s of servers) await s.close().catch(() => {})
      for (const n of nodes) await n.stop().catch(() => {})
      await rm(dir, { recursive: true, force: true })
    }
  }
}
