/**
 * `pqmed consortium-key create --genesis FILE --out FILE` (also `pqmed consortium-key --genesis FILE --out FILE`): makes the consortium key file
 * (`consortium-key.json`, src/client/consortium.ts) of a network, so that doctors can submit and
 * search records with the CLI on any network, not only the devnet. `pqmed genesis`, `npm start`,
 * `sim:local` and the Compose `init` service write it next to the genesis with `writeConsortiumKey`.
 *
 * The file holds one fresh random 32-byte index key wrapped to every doctor the genesis registers
 * (ML-KEM-768 → HKDF-SHA256 → AES-256-GCM per doctor): only those doctors can open it, so it may be
 * handed to them over any channel; nothing in it is secret in clear (it names the doctors and their
 * public ids, which the genesis publishes anyway). It is made once per consortium and the same file
 * goes to every doctor: a second key would index records where searches with the first cannot find
 * them, so an existing file is never overwritten.
 */
import { link, readFile, unlink, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { createConsortiumKeyFile, type ConsortiumKeyFile } from '../client/consortium.js'
import type { PqBackend } from '../crypto/index.js'
import { parseGenesis, type Genesis } from '../node/genesis.js'

export class ConsortiumKeyError extends Error {
  /** 'USAGE': bad input (exit 2); 'EXISTS': the file is there already (exit 2). */
  readonly code: 'USAGE' | 'EXISTS'
  constructor (code: 'USAGE' | 'EXISTS', message: string) { super(message); this.name = 'ConsortiumKeyError'; this.code = code }
}

/**
 * Writes a new consortium key file for the genesis doctors at `path` (mode 0600). Refuses to
 * replace an existing file (`EXISTS`) and a genesis without doctors (`USAGE`); the file appears
 * whole or not at all.
 */
export async function writeConsortiumKey (genesis: Genesis, path: string, pq: PqBackend): Promise<ConsortiumKeyFile> {
  if (genesis.doctors.length === 0) throw new ConsortiumKeyError('USAGE', `the genesis of ${genesis.chainId} registers no doctor: a consortium key needs at least one`)
  const file = createConsortiumKeyFile(pq, genesis.doctors)
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`
  await writeFile(tmp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 })
  try {
    await link(tmp, path)  // fails if the file exists: never replaces a key doctors already use
  } catch (err) {
    if ((err as { code?: string }).code === 'EEXIST') {
      throw new ConsortiumKeyError('EXISTS', `${path} exists: not replacing a consortium key (records indexed under it would no longer be found); remove it only if no record was written with it`)
    }
    throw err
  } finally {
    await unlink(tmp).catch(() => {})
  }
  return file
}

export interface ConsortiumKeyOptions {
  /** The network's genesis.json (its `doctors` are the consortium). */
  genesis: string
  /** Where to write the file. */
  out: string
  pq: PqBackend
}

export interface ConsortiumKeyResult {
  event: 'consortium-key'
  path: string
  chainId: string
  keyId: string
  doctors: Array<{ name: string, doctorId: string }>
}

/** The `pqmed consortium-key` command (argv-free): reads the genesis, writes the file, returns what it wrote. */
export async function consortiumKeyCommand (o: ConsortiumKeyOptions): Promise<ConsortiumKeyResult> {
  if (o.genesis === '' || o.out === '') throw new ConsortiumKeyError('USAGE', 'consortium-key needs --genesis FILE and --out FILE')
  let text: string
  try { text = await readFile(o.genesis, 'utf8') } catch (err) { throw new ConsortiumKeyError('USAGE', `cannot read the genesis file ${o.genesis}: ${(err as Error).message}`) }
  let genesis: Genesis
  try { genesis = parseGenesis(text) } catch (err) { throw new ConsortiumKeyError('USAGE', `${o.genesis} is not a genesis file: ${(err as Error).message}`) }
  const path = resolve(o.out)
  const file = await writeConsortiumKey(genesis, path, o.pq)
  return { event: 'consortium-key', path, chainId: genesis.chainId, keyId: file.keyId, doctors: file.doctors.map((d) => ({ name: d.name, doctorId: d.doctorId })) }
}
