/**
 * Creating a network: identities for managers, doctors and user nodes (simulated PUFs) and the
 * genesis file that lists them. Used by `pqmed genesis`, the devnet, simulations and tests.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DEFAULT_PARAMS, genesisToJson, type ConsensusParams, type Genesis } from './genesis.js'
import { loadIdentity, newIdentityFile, writeFileAtomic, type IdentityFile } from './identity.js'

export interface DevnetSpec {
  chainId: string
  managers: number
  doctors: number
  /**
   * User-node identities to create (`user-<i>`), whose peer ids genesis lists in `userNodes` so
   * the (permissioned) managers admit them. Default 0 (no `userNodes` in genesis).
   */
  users?: number
  /** Listen address of manager i (written into genesis so every node can find the managers). */
  managerAddr: (i: number) => string
  params?: Partial<ConsensusParams>
}

export interface DevnetFiles {
  genesis: Genesis
  managers: IdentityFile[]
  doctors: IdentityFile[]
  /** User-node identities (`spec.users`); absent or empty when none were asked for. */
  users?: IdentityFile[]
}

export async function createDevnet (spec: DevnetSpec): Promise<DevnetFiles> {
  if (!Number.isInteger(spec.managers) || spec.managers < 1 || spec.managers > 100) throw new Error('managers must be 1..100')
  if (!Number.isInteger(spec.doctors) || spec.doctors < 0 || spec.doctors > 10_000) throw new Error('doctors must be 0..10000')
  const nUsers = spec.users ?? 0
  if (!Number.isInteger(nUsers) || nUsers < 0 || nUsers > 10_000) throw new Error('users must be 0..10000')
  const managers = Array.from({ length: spec.managers }, (_, i) => newIdentityFile(`manager-${i}`, 'manager'))
  const doctors = Array.from({ length: spec.doctors }, (_, i) => newIdentityFile(`doctor-${i}`, 'doctor'))
  const users = Array.from({ length: nUsers }, (_, i) => newIdentityFile(`user-${i}`, 'user'))
  const mIds = await Promise.all(managers.map(loadIdentity))
  const dIds = await Promise.all(doctors.map(loadIdentity))
  const uIds = await Promise.all(users.map(loadIdentity))
  const genesis: Genesis = {
    chainId: spec.chainId,
    time: Date.now(),
    managers: mIds.map((id, i) => ({ name: id.name, sigPublicKey: id.keys.sig.publicKey, peerId: id.peerId, addrs: [spec.managerAddr(i)] })),
    doctors: dIds.map((id) => ({ name: id.name, sigPublicKey: id.keys.sig.publicKey, kemPublicKey: id.keys.kem.publicKey })),
    ...(nUsers > 0 ? { userNodes: uIds.map((id) => id.peerId) } : {}),
    params: { ...DEFAULT_PARAMS, ...spec.params }
  }
  return { genesis, managers, doctors, users }
}

/** Writes `genesis.json` and `identities/<name>.json` into `dir`. */
export async function writeDevnet (dir: string, files: DevnetFiles): Promise<void> {
  await mkdir(join(dir, 'identities'), { recursive: true })
  for (const f of [...files.managers, ...files.doctors, ...(files.users ?? [])]) {
    await writeFileAtomic(join(dir, 'identities', `${f.name}.json`), JSON.stringify(f, null, 2) + '\n')
  }
  await writeFile(join(dir, 'genesis.json'), genesisToJson(files.genesis))
}
