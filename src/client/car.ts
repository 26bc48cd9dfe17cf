/**
 * A record as a CAR file (Content-Addressable aRchive, CARv1, `@ipld/car`): every block of the
 * record under its CID, importable by any IPFS implementation (`ipfs dag import`, Helia's
 * `@helia/car`, …) and self-describing: the root is a dag-cbor block linking the rest.
 *
 * Blocks (each CID's multihash is the sha2-256 of the block's bytes):
 * - root (dag-cbor): `{ format: 'pqmed-record/1', chainId, recordId, height, txIndex,
 *   proof: [32-byte hashes], tx: CID, header: CID, certificate: CID | null, ciphertexts: [CID…] }`;
 * - tx, header, certificate (dag-cbor): the record tx, the header of its block and the commit
 *   certificate in the chain's canonical dag-cbor encoding (src/blocks/codec.ts), so an IPFS node
 *   can walk them (`ipfs dag get ROOT/tx/recordId`) and pqmed can check them (the tx's Merkle
 *   proof against `header.txRoot`, the certificate's 2f + 1 ML-DSA-65 signatures over the header);
 * - ciphertexts (raw): cip1, cip2, cip3 and the attachments, under the CIDs whose digests the tx
 *   names (the CIDs managers serve over bitswap).
 */
import { CarReader, CarWriter } from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { encodeCertificate, encodeHeader, encodeTx } from '../blocks/index.js'
import { concatBytes, equalBytes, sha256 } from '../crypto/index.js'
import { blobCid, blobHashOfCid, SHA2_256_CODE } from '../records/index.js'
import type { RecordJson } from '../rpc/backend.js'
import { ClientError } from './errors.js'
import * as codec from '../rpc/codec.js'
import { fromJson, unb64, unhex } from './rpc.js'
import { headerFromJson, recordTxFromJson } from './verify.js'

/** The `format` of a record CAR's root block. */
export const RECORD_CAR_FORMAT = 'pqmed-record/1'

export interface CarBlock { cid: CID, bytes: Uint8Array }

export interface RecordCar {
  root: CID
  /** The root first, then tx, header, certificate (if any), then the ciphertexts in record order. */
  blocks: CarBlock[]
}

/** The root block of a record CAR, decoded. */
export interface RecordCarRoot {
  format: string
  chainId: string
  recordId: Uint8Array
  height: number
  txIndex: number
  proof: Uint8Array[]
  tx: CID
  header: CID
  certificate: CID | null
  ciphertexts: CID[]
}

const DAG_CBOR = dagCbor.code

function cborBlock (bytes: Uint8Array): CarBlock {
  return { cid: CID.createV1(DAG_CBOR, Digest.create(SHA2_256_CODE, sha256(bytes))), bytes }
}

/**
 * The blocks of a record (an `ehr_getRecord` answer, verified by the caller). Throws ClientError
 * VERIFY_FAILED if a ciphertext does not hash to the tx (a CAR never holds a block under a wrong CID).
 */
export function recordCar (rec: RecordJson): RecordCar {
  const tx = recordTxFromJson(rec.tx)
  const header = headerFromJson(rec.header)
  const hashes = [...tx.fields, ...tx.attachments]
  if (rec.ciphertexts.length !== hashes.length) throw new ClientError('VERIFY_FAILED', `the record names ${hashes.length} ciphertexts, the answer carries ${rec.ciphertexts.length}`)
  const ciphertexts = rec.ciphertexts.map((c, i) => {
    const bytes = unb64(c)
    const h = hashes[i] as Uint8Array
    if (!equalBytes(sha256(bytes), h)) throw new ClientError('VERIFY_FAILED', `ciphertext ${i + 1} does not hash to the record's hash ${blobCid(h).toString()}`)
    return { cid: blobCid(h), bytes }
  })
  const txBlock = cborBlock(encodeTx(tx))
  const headerBlock = cborBlock(encodeHeader(header))
  const certBlock = rec.certificate === null ? undefined : cborBlock(encodeCertificate(fromJson(() => codec.certFromJson(rec.certificate as NonNullable<RecordJson['certificate']>))))
  const root: RecordCarRoot = {
    format: RECORD_CAR_FORMAT,
    chainId: header.chainId,
    recordId: tx.recordId,
    height: rec.height,
    txIndex: rec.txIndex,
    proof: rec.proof.map((p) => unhex(p)),
    tx: txBlock.cid,
    header: headerBlock.cid,
    certificate: certBlock?.cid ?? null,
    ciphertexts: ciphertexts.map((c) => c.cid)
  }
  const rootBlock = cborBlock(dagCbor.encode(root))
  return { root: rootBlock.cid, blocks: [rootBlock, txBlock, headerBlock, ...(certBlock !== undefined ? [certBlock] : []), ...ciphertexts] }
}

/** CARv1 bytes with `car.root` as the only root. */
export async function encodeCar (car: RecordCar): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create([car.root])
  const chunks: Uint8Array[] = []
  const collected = (async () => { for await (const c of out) chunks.push(c) })()
  for (const b of car.blocks) await writer.put(b)
  await writer.close()
  await collected
  return concatBytes(...chunks)
}

/**
 * Reads a record CAR back: every block's CID is checked against its bytes (sha2-256), the root
 * must be a `pqmed-record/1` dag-cbor block, and every block it links must be present.
 * Throws ClientError BAD_INPUT naming the first problem.
 */
export async function readRecordCar (bytes: Uint8Array): Promise<{ root: RecordCarRoot, rootCid: CID, blocks: CarBlock[] }> {
  let reader: CarReader
  try { reader = await CarReader.fromBytes(bytes) } catch (err) { throw new ClientError('BAD_INPUT', `not a CAR file: ${(err as Error).message}`) }
  const roots = await reader.getRoots()
  if (roots.length !== 1) throw new ClientError('BAD_INPUT', `a record CAR has one root, this one has ${roots.length}`)
  const rootCid = roots[0] as CID
  const blocks: CarBlock[] = []
  for await (const b of reader.blocks()) {
    if (b.cid.multihash.code !== SHA2_256_CODE || !equalBytes(b.cid.multihash.digest, sha256(b.bytes))) throw new ClientError('BAD_INPUT', `block ${b.cid.toString()} does not hash to its CID`)
    blocks.push({ cid: b.cid, bytes: b.bytes })
  }
  const get = (cid: CID): CarBlock | undefined => blocks.find((b) => b.cid.equals(cid))
  const rootBlock = get(rootCid)
  if (rootBlock === undefined || rootCid.code !== DAG_CBOR) throw new ClientError('BAD_INPUT', `the root ${rootCid.toString()} is not a dag-cbor block of the CAR`)
  const root = dagCbor.decode<RecordCarRoot>(rootBlock.bytes)
  if (root.format !== RECORD_CAR_FORMAT) throw new ClientError('BAD_INPUT', `the root's format is ${JSON.stringify(root.format)}, not ${RECORD_CAR_FORMAT}`)
  for (const cid of [root.tx, root.header, ...(root.certificate !== null ? [root.certificate] : []), ...root.ciphertexts]) {
    if (get(cid) === undefined) throw new ClientError('BAD_INPUT', `block ${cid.toString()} linked from the root is missing`)
  }
  for (const cid of root.ciphertexts) if (blobHashOfCid(cid) === undefined) throw new ClientError('BAD_INPUT', `ciphertext ${cid.toString()} is not a raw sha2-256 block`)
  return { root, rootCid, blocks }
}
