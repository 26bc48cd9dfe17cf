/**
 * Node and doctor identities for devnets and simulations. An identity file holds the *public*
 * PUF helper data and, because there is no hardware here, the seed of the simulated SRAM PUF that
 * stands for the chip. No key is stored: the ML-DSA-65 / ML-KEM-768 keys and the libp2p peer key
 * are re-derived from the PUF at every start (enroll once, reproduce after).
 *
 * On real hardware `deviceSeed` is absent and the `PufDevice` is the chip's driver.
 */
import { readFile, writeFile, rename } from 'node:fs/promises'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { hkdfSha256, randomBytes, utf8 } from '../crypto/index.js'
import { SimulatedSramPuf, deriveIdentityKeys, enroll, reproduce, type IdentityKeys } from '../puf/index.js'

export interface IdentityFile {
  name: string
  role: 'manager' | 'doctor' | 'user'
  /** Simulation only: the seed standing for the chip's manufacturing variation. */
  deviceSeed: string
  bitErrorRate: number
  /** Public fuzzy-extractor helper data. */
  helper: string
  /**
   * Managers only, hex: the hospital this manager key belongs to (SHA-256 of the hospital's FIRST
   * manager key). Absent: this key is the hospital's first (a genesis manager, or one joining);
   * set by `pqmed consortium propose rotate` in the new identity.
   */
  hospitalId?: string
}

export interface Identity {
  name: string
  role: IdentityFile['role']
  keys: IdentityKeys
  peerKey: PrivateKey
  peerId: string
}

export class IdentityError extends Error {
  readonly code = 'BAD_IDENTITY'
  constructor (message: string) { super(message); this.name = 'IdentityError' }
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64')

/** Enrolls a fresh simulated PUF and returns the identity file (nothing secret inside but the simulated chip). */
export function newIdentityFile (name: string, role: IdentityFile['role'], bitErrorRate = 0.1): IdentityFile {
  const deviceSeed = randomBytes(32)
  const { helper } = enroll(new SimulatedSramPuf({ seed: deviceSeed, bitErrorRate }))
  return { name, role, deviceSeed: b64(deviceSeed), bitErrorRate, helper: b64(helper) }
}

/** Reproduces the PUF secret (a fresh noisy reading) and derives every key from it. */
export async function loadIdentity (f: IdentityFile): Promise<Identity> {
  if (typeof f?.deviceSeed !== 'string' || typeof f.helper !== 'string' || typeof f.name !== 'string') throw new IdentityError('identity file needs name, deviceSeed and helper')
  const device = new SimulatedSramPuf({ seed: new Uint8Array(Buffer.from(f.deviceSeed, 'base64')), bitErrorRate: f.bitErrorRate })
  const secret = reproduce(device, new Uint8Array(Buffer.from(f.helper, 'base64')))
  const keys = deriveIdentityKeys(secret)
  const peerKey = await generateKeyPairFromSeed('Ed25519', hkdfSha256(secret, new Uint8Array(0), utf8('pqmed/libp2p-peer-key/v1'), 32))
  return { name: f.name, role: f.role, keys, peerKey, peerId: peerIdFromPrivateKey(peerKey).toString() }
}

export async function readIdentityFile (path: string): Promise<IdentityFile> {
  let raw: string
  try { raw = await readFile(path, 'utf8') } catch (err) { throw new IdentityError(`cannot read identity ${path}: ${(err as Error).message}`) }
  try { return JSON.parse(raw) as IdentityFile } catch { throw new IdentityError(`identity ${path} is not JSON`) }
}

/** Writes a file atomically (temp file + rename), so a crash never leaves half a file. */
export async function writeFileAtomic (path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, data, { mode: 0o600 })
  await rename(tmp, path)
}
