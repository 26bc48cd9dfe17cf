/**
 * Fetches ciphertext blocks from a pqmed manager with a plain Helia node (Helia's and libp2p's
 * packages only, no pqmed code): `createHeliaLight` + `withLibp2pLight` (TCP, Noise, Yamux,
 * identify) + `withBitswap`. The manager's gater must admit the node's peer id: with
 * `--allow-file FILE` (e.g. `npm start`'s `.devnet/allow-peers.txt`, which the managers re-read
 * when it changes) the id is appended there first if missing. The peer key is kept in `--key FILE`
 * (created on first use), so the id stays the same across runs.
 *
 *   node --import tsx --import ./src/polyfill.ts scripts/helia-fetch.ts \
 *     [--key FILE] [--allow-file FILE] MANAGER_MULTIADDR CID...
 *
 * Prints, per CID, the size and SHA-256 of the bytes received (Helia has checked them against the
 * CID); exit 1 if a block did not arrive within 20 s.
 */
import { appendFile, readFile, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { withBitswap } from '@helia/bitswap'
import { withLibp2pLight } from '@helia/libp2p'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'

const { values, positionals } = parseArgs({ options: { key: { type: 'string', default: 'helia-fetch.key' }, 'allow-file': { type: 'string' } }, allowPositionals: true })
const [addr, ...cids] = positionals
if (addr === undefined || cids.length === 0) {
  console.error('usage: scripts/helia-fetch.ts [--key FILE] [--allow-file FILE] MANAGER_MULTIADDR CID...')
  process.exit(2)
}

async function loadKey (path: string): Promise<PrivateKey> {
  try { return privateKeyFromProtobuf(new Uint8Array(await readFile(path))) } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    const key = await generateKeyPair('Ed25519')
    await writeFile(path, privateKeyToProtobuf(key), { flag: 'wx' })
    return key
  }
}

const privateKey = await loadKey(values.key)
const peerId = peerIdFromPrivateKey(privateKey).toString()
console.log(`peer id ${peerId} (key in ${values.key})`)
const allow = values['allow-file']
if (allow !== undefined && !(await readFile(allow, 'utf8')).split(/\r?\n/).some((l) => l.replace(/#.*$/, '').trim() === peerId)) {
  await appendFile(allow, `${peerId}   # helia-fetch\n`)
  console.log(`added to ${allow}; waiting for the managers to re-read it`)
  await new Promise((resolve) => setTimeout(resolve, 2500))
}

const helia = withBitswap(withLibp2pLight(createHeliaLight(), {
  privateKey,
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify() }
}))
await helia.start()
let failed = false
try {
  await helia.libp2p.dial(multiaddr(addr), { signal: AbortSignal.timeout(10_000) })
  for (const c of cids) {
    const t0 = performance.now()
    try {
      const chunks: Uint8Array[] = []
      for await (const chunk of helia.blockstore.get(CID.parse(c), { signal: AbortSignal.timeout(20_000) })) chunks.push(chunk)
      const bytes = Buffer.concat(chunks)
      const digest = Buffer.from((await sha256.digest(bytes)).digest).toString('hex')
      console.log(`${c}: ${bytes.length} bytes over bitswap in ${(performance.now() - t0).toFixed(0)} ms, sha256 ${digest}`)
    } catch (err) {
      failed = true
      console.error(`${c}: not fetched: ${(err as Error).message}`)
    }
  }
} finally {
  await helia.stop()
}
process.exit(failed ? 1 : 0)
