/**
 * Client identities (patients and doctors) from a PUF enrollment, as the node does for its own
 * identity: the file holds the *public* fuzzy-extractor helper data and — only because there is
 * no hardware here — the seed of the simulated SRAM PUF standing for the chip. No key is stored:
 * each load takes a fresh noisy PUF reading, reproduces the 32-byte secret and re-derives the
 * ML-DSA-65 / ML-KEM-768 key pairs, the per-record field keys and the patient's index key.
 * Doctor identity files written by `pqmed genesis` (role "doctor") load unchanged.
 */
import { randomBytes } from '../crypto/index.js'
import { SimulatedSramPuf, deriveIdentityKeys, enroll, reproduce, type IdentityKeys } from '../puf/index.js'
import { ClientError } from './errors.js'
import { b64, unb64 } from './rpc.js'

export type ClientRole = 'patient' | 'doctor'

export interface ClientIdentityFile {
  name: string
  role: ClientRole
  /** SIMULATION ONLY: the seed standing for the chip's manufacturing variation (absent with a real PUF). */
  deviceSeed: string
  bitErrorRate: number
  /** Public fuzzy-extractor helper data (base64). */
  helper: string
}

export interface LoadedIdentity {
  name: string
  role: ClientRole
  keys: IdentityKeys
  /** The reproduced PUF secret: kept in memory only, never written. */
  secret: Uint8Array
}

/** Enrolls a fresh simulated PUF; the returned file holds nothing secret but the simulated chip seed. */
export function newClientIdentity (name: string, role: ClientRole, bitErrorRate = 0.1): ClientIdentityFile {
  if (typeof name !== 'string' || name.length === 0 || name.length > 128) throw new ClientError('BAD_INPUT', 'identity name must be 1..128 characters')
  if (role !== 'patient' && role !== 'doctor') throw new ClientError('BAD_INPUT', 'role must be patient or doctor')
  const deviceSeed = randomBytes(32)
  const { helper } = enroll(new SimulatedSramPuf({ seed: deviceSeed, bitErrorRate }))
  return { name, role, deviceSeed: b64(deviceSeed), bitErrorRate, helper: b64(helper) }
}

/** Checks the shape of a parsed identity file. */
export function parseClientIdentity (raw: unknown): ClientIdentityFile {
  const f = raw as Partial<ClientIdentityFile> | null
  if (f === null || typeof f !== 'object') throw new ClientError('BAD_IDENTITY', 'identity file must be a JSON object')
  if (typeof f.name !== 'string' || typeof f.deviceSeed !== 'string' || typeof f.helper !== 'string') throw new ClientError('BAD_IDENTITY', 'identity file needs name, deviceSeed and helper')
  if (f.role !== 'patient' && f.role !== 'doctor') throw new ClientError('BAD_IDENTITY', `identity role must be patient or doctor, got ${String(f.role)}`)
  const ber = f.bitErrorRate ?? 0.1
  if (typeof ber !== 'number' || !(ber >= 0 && ber < 0.5)) throw new ClientError('BAD_IDENTITY', 'bitErrorRate must be in [0, 0.5)')
  return { name: f.name, role: f.role, deviceSeed: f.deviceSeed, bitErrorRate: ber, helper: f.helper }
}

/** Reproduces the PUF secret from a fresh reading and derives the identity keys. */
export function loadClientIdentity (file: ClientIdentityFile): LoadedIdentity {
  const f = parseClientIdentity(file)
  let secret: Uint8Array
  try {
    const device = new SimulatedSramPuf({ seed: unb64(f.deviceSeed), bitErrorRate: f.bitErrorRate })
    secret = reproduce(device, unb64(f.helper))
  } catch (err) {
    throw new ClientError('BAD_IDENTITY', `cannot reproduce the PUF secret of ${f.name}: ${(err as Error).message}`)
  }
  return { name: f.name, role: f.role, keys: deriveIdentityKeys(secret), secret }
}
