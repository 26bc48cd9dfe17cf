/**
 * The network the JSON-RPC fuzz runs against (test/rpc/fuzz.test.ts, `npm run bench:fuzz`): the
 * smallest topology with a working chain and a user node, started as real processes through
 * `startNetwork` with the RPC rate limit off (`--rpc-rate-limit off`), so that fuzz requests reach
 * dispatch instead of being answered -32031. Every fuzz network is started here (one place to
 * adapt when node admission changes).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startNetwork, type NodeEndpoint, type RunningNetwork } from '../../src/cli/network.js'
import { rpc } from '../../src/cli/procs.js'
import { topologyFromFlags } from '../../src/cli/topology.js'
import { SimulatedDoctor } from '../../src/client/simulated-doctor.js'
import { seededRng } from '../../src/client/synthetic.js'
import { loadPqBackend, toHex } from '../../src/crypto/index.js'
import { loadIdentity, readIdentityFile } from '../../src/node/identity.js'
import type { OpenRpcDocument, RecordVerificationJson, SubmitResultJson } from '../../src/rpc/index.js'

export interface FuzzNetwork {
  net: RunningNetwork
  manager: NodeEndpoint
  user: NodeEndpoint
  /** Builds real record submissions with doctor-0 (fresh record ids, the doctor's index state advancing). */
  doctor: SimulatedDoctor
  rng: () => number
  /** The user node's OpenRPC document (`rpc.discover`). */
  doc: OpenRpcDocument
  /** Stops every node (resolving with the exit codes) and removes the data dir. */
  stop: () => Promise<Record<string, number | null>>
}

export interface FuzzNetworkOptions {
  /** Managers (default 1: the smallest committing chain; PBFT with n = 1, f = 0). */
  managers?: number
  log?: (line: string) => void
  seed?: number
}

/** Starts `managers` managers and one user node as processes, RPC rate limit off. */
export async function startFuzzNetwork (o: FuzzNetworkOptions = {}): Promise<FuzzNetwork> {
  const dir = await mkdtemp(join(tmpdir(), 'pqmed-fuzz-'))
  let net: RunningNetwork
  try {
    net = await startNetwork(topologyFromFlags({ managers: o.managers ?? 1, users: 1, doctors: 1, chainId: 'pqmed-fuzz' }), dir, {
      log: o.log,
      extraArgs: () => ['--rpc-rate-limit', 'off']
    })
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  const manager = net.managers[0] as NodeEndpoint
  const user = net.users[0] as NodeEndpoint
  const pq = await loadPqBackend()
  const id = await loadIdentity(await readIdentityFile(join(dir, 'identities', 'doctor-0.json')))
  const doctor = new SimulatedDoctor(pq, { id: id.keys.id, sigSecretKey: id.keys.sig.secretKey }, new Uint8Array(32).fill(9))
  const doc = await rpc<OpenRpcDocument>(user.rpc, 'rpc.discover')
  return {
    net,
    manager,
    user,
    doctor,
    rng: seededRng(o.seed ?? 1),
    doc,
    stop: async () => {
      try { return await net.stop() } finally { await rm(dir, { recursive: true, force: true }) }
    }
  }
}

/** Whether process `pid` exists (signal 0). */
export function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

/** Submits a fresh valid record through `submitUrl` (waiting for commit) and verifies it on `verifyUrl`. */
export async function commitAndVerify (f: FuzzNetwork, submitUrl: string, verifyUrl: string, timeoutMs = 30_000): Promise<{ recordId: string, result: SubmitResultJson, verification: RecordVerificationJson }> {
  const s = f.doctor.record(f.rng, 0)
  const recordId = toHex(s.tx.recordId)
  const result = await rpc<SubmitResultJson>(submitUrl, 'ehr_submitRecord', { submission: Buffer.from(s.bytes).toString('base64'), wait: true })
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return { recordId, result, verification: await rpc<RecordVerificationJson>(verifyUrl, 'ehr_verifyRecord', { recordId }) }
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 200))
    }
  }
}

/** Resident set size and its high-water mark of process `pid`, from /proc (Linux), in MiB. */
export async function procMemory (pid: number): Promise<{ rssMiB: number, hwmMiB: number } | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
    return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 }
  } catch {
    return undefined
  }
}
