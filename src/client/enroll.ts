/**
 * Enrolling a patient so that an identity file is never left behind by a failed enrollment and
 * never lost after a successful one:
 *
 * - `enrollNewIdentity` enrolls a fresh PUF identity and publishes its file only once the node
 *   confirmed the registration. The file is first written next to the target under a temporary
 *   name (so an unwritable directory fails before anything is registered), then linked to the
 *   target name (atomic; never overwrites a file). A refused or impossible registration removes
 *   the temporary file: nothing is left. A registration that was sent but not confirmed (timeout,
 *   connection lost) may still commit, so its identity is published with an `UNCONFIRMED` error
 *   that says how to confirm it (`enrollExistingIdentity`).
 * - `enrollExistingIdentity` registers the identity in an existing file; it is idempotent (an
 *   identity already enrolled with the same keys is `already-enrolled`, not an error).
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { link, open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { PqBackend } from '../crypto/index.js'
import { ClientError } from './errors.js'
import { newClientIdentity, parseClientIdentity, type ClientIdentityFile } from './identity.js'
import { Patient } from './patient.js'
import { hex, RpcCallError, type RpcClient } from './rpc.js'
import { readJsonFile } from './state.js'

export interface EnrollOutcome {
  name: string
  patientId: string
  /** Absolute or caller-given path of the identity file. */
  identity: string
  /** `already-enrolled`: the same keys were enrolled before (a repeated or recovered enrollment). */
  status: 'committed' | 'pending' | 'already-enrolled'
  height?: number
  txHash?: string
}

/** Whether a failed registration may still have reached the managers (and so may still commit). */
export function registrationMayHaveBeenSent (err: unknown): boolean {
  if (err instanceof RpcCallError) return err.rpcName === 'NOT_COMMITTED' || err.rpcName === 'DUPLICATE' || err.rpcCode === -32603
  return err instanceof ClientError && err.code === 'TRANSPORT'
}

/**
 * Creates a patient identity, registers it, and only then writes it to `path` (mode 0600). Throws
 * `BAD_INPUT` if `path` exists (use `enrollExistingIdentity`), the registration's error if the
 * node refused it or could not be reached (no file is left), and `UNCONFIRMED` (the file is
 * written) if the registration was sent but its outcome is unknown.
 */
export async function enrollNewIdentity (pq: PqBackend, rpc: RpcClient, opts: { name: string, path: string, time?: number }): Promise<EnrollOutcome> {
  const { name, path } = opts
  if (existsSync(path)) throw new ClientError('BAD_INPUT', `${path} exists; refusing to overwrite an identity (to register the identity it holds: pqmed enroll --identity ${path})`)
  const file = newClientIdentity(name, 'patient')
  const patient = Patient.fromIdentity(pq, file)
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${nodeRandomBytes(4).toString('hex')}.enrolling`)
  await writeNew(tmp, file)
  let r: Awaited<ReturnType<Patient['enroll']>>
  try {
    // first a read: a node that cannot be reached (or refuses) fails here, before anything is sent
    await patient.enrolledAt(rpc)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
  try {
    r = await patient.enroll(rpc, opts.time)
  } catch (err) {
    if (!registrationMayHaveBeenSent(err)) {
      await unlink(tmp).catch(() => {})
      throw err
    }
    await publish(tmp, path)
    throw new ClientError('UNCONFIRMED', `the registration of ${name} (patient id ${hex(patient.id)}) was sent but not confirmed (${(err as Error).message}); ` +
      `the identity is kept in ${path}: run \`pqmed enroll --identity ${path}\` to confirm or complete it`)
  }
  await publish(tmp, path)
  return { name, patientId: hex(patient.id), identity: path, ...r }
}

/** Registers the patient identity held in `path` (idempotent: `already-enrolled` if it is). */
export async function enrollExistingIdentity (pq: PqBackend, rpc: RpcClient, path: string, time?: number): Promise<EnrollOutcome> {
  const file = parseClientIdentity(await readJsonFile(path, 'identity file'))
  if (file.role !== 'patient') throw new ClientError('BAD_IDENTITY', `${path} holds a ${file.role} identity; only a patient enrolls (doctors are registered in the genesis)`)
  const patient = Patient.fromIdentity(pq, file)
  const r = await patient.enroll(rpc, time)
  return { name: file.name, patientId: hex(patient.id), identity: path, ...r }
}

/** Writes `file` to a path that must not exist, flushed to disk, mode 0600. */
export async function writeNew (path: string, file: ClientIdentityFile): Promise<void> {
  let fh
  try { fh = await open(path, 'wx', 0o600) } catch (err) { throw new ClientError('BAD_INPUT', `cannot write the identity file next to ${path}: ${(err as Error).message}`) }
  try {
    await fh.writeFile(JSON.stringify(file, null, 2) + '\n')
    await fh.sync()
  } catch (err) {
    await fh.close().catch(() => {})
    await unlink(path).catch(() => {})
    throw new ClientError('BAD_INPUT', `cannot write the identity file ${path}: ${(err as Error).message}`)
  }
  await fh.close()
}

/** Gives the temporary file its final name without ever overwriting a file (hard link, else rename). */
export async function publish (tmp: string, path: string): Promise<void> {
  try {
    await link(tmp, path)
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'EEXIST' || existsSync(path)) {
      throw new ClientError('BAD_INPUT', `${path} was created by someone else during the enrollment; the enrolled identity is kept in ${tmp}`)
    }
    // a filesystem without hard links: rename (the target was just checked to be absent)
    await rename(tmp, path)
    return
  }
  await unlink(tmp)
}
