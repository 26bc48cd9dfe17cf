/**
 * A hospital's governance on the client (docs/GOVERNANCE.md): the hospital's manager identity
 * (its PUF identity file, as `pqmed genesis` writes it) signs doctor add / rotate / revoke and
 * user-node add / remove txs, submitted with `chain_submitGovernance`. A new doctor identity
 * file is published only once its registration is committed (as `enrollNewIdentity` does for
 * patients), so a refused `doctor add` leaves nothing.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import {
  encodeSubmission, hospitalId, signGovernanceTx, type DoctorTx, type UnsignedGovernanceTx, type UserNodeTx
} from '../blocks/index.js'
import { fromHex, type PqBackend } from '../crypto/index.js'
import { SimulatedSramPuf, deriveIdentityKeys, reproduce, type IdentityKeys } from '../puf/index.js'
import { createConsortiumKeyFile, openConsortiumKey, parseConsortiumKeyFile, type ConsortiumKeyFile } from './consortium.js'
import { publish, writeNew } from './enroll.js'
import { ClientError } from './errors.js'
import { loadClientIdentity, newClientIdentity, parseClientIdentity, type ClientIdentityFile } from './identity.js'
import { hex, unb64, type RpcClient } from './rpc.js'
import { readJsonFile } from './state.js'

/** A hospital's signing identity: its manager's ML-DSA-65 key and hospital id. */
export interface Hospital {
  name: string
  id: Uint8Array
  keys: IdentityKeys
}

/**
 * Loads a hospital from its manager identity file (`pqmed genesis` writes identities/manager-<i>.json):
 * the PUF secret is reproduced and the ML-DSA-65 key re-derived. The hospital id assumes the
 * manager still has its first key (SHA-256 of it).
 */
export async function loadHospital (path: string): Promise<Hospital> {
  const raw = await readJsonFile(path, 'hospital identity file') as { name?: unknown, role?: unknown, deviceSeed?: unknown, helper?: unknown, bitErrorRate?: unknown, hospitalId?: unknown } | null
  if (raw === null || typeof raw !== 'object' || raw.role !== 'manager' || typeof raw.name !== 'string' || typeof raw.deviceSeed !== 'string' || typeof raw.helper !== 'string') {
    throw new ClientError('BAD_IDENTITY', `${path} is not a manager identity file (role "manager", as pqmed genesis writes identities/manager-<i>.json)`)
  }
  const ber = typeof raw.bitErrorRate === 'number' ? raw.bitErrorRate : 0.1
  let keys: IdentityKeys
  try {
    keys = deriveIdentityKeys(reproduce(new SimulatedSramPuf({ seed: unb64(raw.deviceSeed), bitErrorRate: ber }), unb64(raw.helper)))
  } catch (err) {
    throw new ClientError('BAD_IDENTITY', `cannot reproduce the PUF secret of ${raw.name}: ${(err as Error).message}`)
  }
  // a rotated manager key keeps its hospital's id (written in the identity file by `pqmed peer-id --new-identity --role manager --hospital-id`)
  if (raw.hospitalId !== undefined && (typeof raw.hospitalId !== 'string' || !/^[0-9a-f]{64}$/.test(raw.hospitalId))) {
    throw new ClientError('BAD_IDENTITY', `${path}: hospitalId must be 64 lowercase hex digits`)
  }
  return { name: raw.name, id: typeof raw.hospitalId === 'string' ? fromHex(raw.hospitalId) : hospitalId(keys.sig.publicKey), keys }
}

export interface GovernanceOutcome {
  status: 'committed' | 'pending'
  txHash: string
  height?: number
}

/** Signs an unsigned governance tx as `hospital` for the node's chain and submits it (waits for the commit). */
export async function submitGovernanceTx (pq: PqBackend, rpc: RpcClient, hospital: Hospital, unsigned: UnsignedGovernanceTx): Promise<GovernanceOutcome & { tx: DoctorTx | UserNodeTx }> {
  const { chainId } = await rpc.nodeInfo()
  const tx = signGovernanceTx(pq, chainId, hospital.keys.sig.secretKey, unsigned) as DoctorTx | UserNodeTx
  const r = await rpc.submitGovernance(encodeSubmission(tx, []), true)
  return { ...r, tx }
}

export interface DoctorOutcome extends GovernanceOutcome {
  name: string
  doctorId: string
  hospital: string
  identity: string
  /** The id the rotation retired. */
  previous?: string
  /** The consortium key file the new key was added to. */
  consortiumKey?: string
}

/**
 * Wraps the consortium index key (opened with `holder`'s ML-KEM key) to `doctor` and writes the
 * file back (atomically) with the new entry; a file already listing the doctor is left unchanged.
 */
export async function addToConsortiumKey (pq: PqBackend, path: string, holder: ClientIdentityFile, doctor: ClientIdentityFile): Promise<void> {
  const file: ConsortiumKeyFile = parseConsortiumKeyFile(await readJsonFile(path, 'consortium key file'))
  const d = loadClientIdentity(doctor)
  if (file.doctors.some((e) => e.doctorId === hex(d.keys.id))) return
  const key = openConsortiumKey(pq, file, loadClientIdentity(holder).keys.kem.secretKey)
  const entry = createConsortiumKeyFile(pq, [{ name: d.name, sigPublicKey: d.keys.sig.publicKey, kemPublicKey: d.keys.kem.publicKey }], key).doctors[0]
  if (entry === undefined) throw new ClientError('BAD_CONSORTIUM_KEY', 'could not wrap the consortium key')
  const next = { ...file, doctors: [...file.doctors, entry] }
  const { writeFile, rename } = await import('node:fs/promises')
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(next, null, 2) + '\n', { mode: 0o600 })
  await rename(tmp, path)
}

/**
 * Creates a doctor identity (`add`: a new doctor named `name`; `rotate`: new keys for the doctor of
 * `previous`), registers it with a tx signed by `hospital`, and only then writes it to `path`.
 * A refused registration leaves no file; one sent but not confirmed keeps the file and throws
 * `UNCONFIRMED`.
 */
export async function registerDoctor (pq: PqBackend, rpc: RpcClient, hospital: Hospital, opts: { path: string, name?: string, previous?: ClientIdentityFile, time?: number }): Promise<DoctorOutcome> {
  const { path } = opts
  if (existsSync(path)) throw new ClientError('BAD_INPUT', `${path} exists; refusing to overwrite an identity`)
  const name = opts.previous?.name ?? opts.name
  if (name === undefined) throw new ClientError('BAD_INPUT', 'a new doctor needs a name')
  const file = newClientIdentity(name, 'doctor')
  const keys = loadClientIdentity(file).keys
  const time = opts.time ?? Date.now()
  const previousId = opts.previous !== undefined ? loadClientIdentity(parseClientIdentity(opts.previous)).keys.id : undefined
  const unsigned: UnsignedGovernanceTx = previousId === undefined
    ? { type: 'doctor', action: 'add', hospital: hospital.id, doctor: keys.id, name, sigPublicKey: keys.sig.publicKey, kemPublicKey: keys.kem.publicKey, time }
    : { type: 'doctor', action: 'rotate', hospital: hospital.id, doctor: previousId, sigPublicKey: keys.sig.publicKey, kemPublicKey: keys.kem.publicKey, time }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${nodeRandomBytes(4).toString('hex')}.registering`)
  await writeNew(tmp, file)
  let r
  try {
    r = await submitGovernanceTx(pq, rpc, hospital, unsigned)
  } catch (err) {
    const { registrationMayHaveBeenSent } = await import('./enroll.js')
    if (!registrationMayHaveBeenSent(err)) {
      await unlink(tmp).catch(() => {})
      throw err
    }
    await publish(tmp, path)
    throw new ClientError('UNCONFIRMED', `the registration of doctor ${name} (id ${hex(keys.id)}) was sent but not confirmed (${(err as Error).message}); ` +
      `its identity is kept in ${path}: check it with chain_getConsortium before using it`)
  }
  await publish(tmp, path)
  return {
    name,
    doctorId: hex(keys.id),
    hospital: hex(hospital.id),
    identity: path,
    status: r.status,
    txHash: r.txHash,
    ...(r.height !== undefined ? { height: r.height } : {}),
    ...(previousId !== undefined ? { previous: hex(previousId) } : {})
  }
}
