import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { randomBytes, sha256, SUITE } from '../../src/crypto/index.js'
import {
  BlockError, type BlockErrorCode, buildBlock, type CommitCertificate, decodeBlock, decodeCertificate, decodeHeader,
  decodeTx, encodeBlock, encodeCertificate, encodeHeader, encodeTx, genesisHeader, headerCid, headerHash, indexLeaf,
  MAX_BLOCK_BYTES, MAX_CERTIFICATE_BYTES, MAX_HEADER_BYTES, MAX_INDEX_UPDATES_PER_TX, MAX_INDEX_VALUE_BYTES, MAX_TX_BYTES,
  txHash, type Header, type Tx, blockCid, indexUpdatesHash
} from '../../src/blocks/index.js'
import { cbor, clone, grantTx, patientTx, recordTx } from './helpers.js'

/** Hash standing for the consortium configuration of these headers. */
const CFG = sha256(Uint8Array.of(0xcf))

function throwsCode (fn: () => unknown, code: BlockErrorCode, msg?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BlockError, `expected BlockError, got ${String(err)}`)
    assert.equal(err.code, code, `${msg ?? ''}: ${err.message}`)
    return true
  })
}

const genesis = genesisHeader('pqmed-test', sha256(Uint8Array.of(1)), CFG)
function sampleBlock (): ReturnType<typeof buildBlock> {
  return buildBlock({ chainId: 'pqmed-test', height: 1, prevHash: headerHash(genesis), time: 1000, proposer: 1, view: 0, indexStart: 0, configHash: CFG, nextConfigHash: CFG, txs: [recordTx(3), grantTx(), patientTx(), recordTx(0, 0)] })
}
function sampleCert (h: Header): CommitCertificate {
  return { chainId: h.chainId, height: h.height, view: 2, headerHash: headerHash(h), signatures: [{ validator: 0, signature: randomBytes(SUITE.sigBytes) }, { validator: 3, signature: randomBytes(SUITE.sigBytes) }] }
}

describe('blocks/codec: canonical dag-cbor', () => {
  describe('round trips', () => {
    it('every tx type', () => {
      for (const tx of [recordTx(), recordTx(0, 0), recordTx(MAX_INDEX_UPDATES_PER_TX, 64), grantTx([0]), grantTx([2, 0, 1]), patientTx()]) {
        const bytes = encodeTx(tx)
        const back = decodeTx(bytes)
        assert.deepEqual(back, tx)
        assert.deepEqual(encodeTx(back), bytes)
        assert.deepEqual(txHash(back), sha256(bytes))
      }
    })

    it('a record keeps its owner id and a grant its grantor key', () => {
      const r = recordTx()
      const back = decodeTx(encodeTx(r))
      assert.ok(back.type === 'record')
      assert.deepEqual(back.owner, r.owner)
      const g = grantTx()
      const gb = decodeTx(encodeTx(g))
      assert.ok(gb.type === 'grant')
      assert.equal(gb.grantorKey.length, SUITE.sigPublicKeyBytes)
      assert.deepEqual(gb.grantorKey, g.grantorKey)
      assert.deepEqual(sha256(gb.grantorKey), gb.grantor)
    })

    it('headers (genesis and a block header), blocks and certificates', () => {
      const block = sampleBlock()
      for (const h of [genesis, block.header]) {
        const bytes = encodeHeader(h)
        assert.deepEqual(decodeHeader(bytes), h)
        assert.deepEqual(headerHash(decodeHeader(bytes)), sha256(bytes))
      }
      const bb = encodeBlock(block)
      assert.deepEqual(decodeBlock(bb), block)
      assert.deepEqual(encodeBlock(decodeBlock(bb)), bb)
      const cert = sampleCert(block.header)
      const cb = encodeCertificate(cert)
      assert.deepEqual(decodeCertificate(cb), cert)
    })

    it('is the plain @ipld/dag-cbor encoding, and the block embeds each encoded tx', () => {
      const block = sampleBlock()
      assert.deepEqual(encodeBlock(block), dagCbor.encode(block))
      const bb = Buffer.from(encodeBlock(block))
      for (const tx of block.txs) assert.ok(bb.includes(Buffer.from(encodeTx(tx))))
      // the test's own CBOR writer agrees with dag-cbor on canonical output
      assert.deepEqual(cbor(block.header), encodeHeader(block.header))
    })

    it('decoded values do not share memory with the input', () => {
      const tx = recordTx()
      const bytes = encodeTx(tx)
      const back = decodeTx(bytes) as typeof tx
      bytes.fill(0)
      assert.deepEqual(back.recordId, tx.recordId)
    })

    it('decodes Buffer input into plain Uint8Array fields', () => {
      const tx = recordTx()
      const back = decodeTx(Buffer.from(encodeTx(tx))) as typeof tx
      assert.equal(Object.getPrototypeOf(back.recordId), Uint8Array.prototype)
      assert.equal(Object.getPrototypeOf(back.indexUpdates[0]!.label), Uint8Array.prototype)
      assert.deepEqual(back, tx)
    })

    it('indexUpdatesHash is deterministic, order-sensitive and checks shapes', () => {
      const tx = recordTx(3)
      const h = indexUpdatesHash(tx.indexUpdates)
      assert.equal(h.length, 32)
      assert.deepEqual(indexUpdatesHash(clone(tx.indexUpdates)), h)
      assert.notDeepEqual(indexUpdatesHash(tx.indexUpdates.slice().reverse()), h)
      assert.notDeepEqual(indexUpdatesHash(tx.indexUpdates.slice(1)), h)
      assert.equal(indexUpdatesHash([]).length, 32)
      throwsCode(() => indexUpdatesHash([{ label: randomBytes(31), value: randomBytes(4) }]), 'INVALID')
    })

    it('headerCid is a dag-cbor sha2-256 CIDv1 whose digest is headerHash', () => {
      const h = sampleBlock().header
      const cid = headerCid(h)
      assert.equal(cid.version, 1)
      assert.equal(cid.code, 0x71)
      assert.equal(cid.multihash.code, 0x12)
      assert.deepEqual(cid.multihash.digest, headerHash(h))
      assert.ok(CID.parse(cid.toString()).equals(cid))
      assert.equal(blockCid(sampleBlock()).code, 0x71)
    })

    it('genesisHeader is deterministic and indexLeaf is label ‖ value', () => {
      const d = sha256(Uint8Array.of(9))
      assert.deepEqual(encodeHeader(genesisHeader('c', d, CFG)), encodeHeader(genesisHeader('c', d, CFG)))
      assert.notDeepEqual(headerHash(genesisHeader('c', d, CFG)), headerHash(genesisHeader('d', d, CFG)))
      assert.deepEqual(genesisHeader('c', d, CFG).prevHash, d)
      throwsCode(() => genesisHeader('', d, CFG), 'INVALID')
      throwsCode(() => genesisHeader('c', d.subarray(1), CFG), 'INVALID')
      const u = { label: randomBytes(32), value: randomBytes(5) }
      assert.deepEqual(indexLeaf(u), Uint8Array.of(...u.label, ...u.value))
      throwsCode(() => indexLeaf({ label: randomBytes(31), value: randomBytes(5) }), 'INVALID')
    })
  })

  describe('rejections', () => {
    it('OVERSIZED: input above each type\'s limit, before parsing', () => {
      throwsCode(() => decodeTx(new Uint8Array(MAX_TX_BYTES + 1)), 'OVERSIZED')
      throwsCode(() => decodeHeader(new Uint8Array(MAX_HEADER_BYTES + 1)), 'OVERSIZED')
      throwsCode(() => decodeBlock(new Uint8Array(MAX_BLOCK_BYTES + 1)), 'OVERSIZED')
      throwsCode(() => decodeCertificate(new Uint8Array(MAX_CERTIFICATE_BYTES + 1)), 'OVERSIZED')
      assert.equal(MAX_BLOCK_BYTES, 4 * 1024 * 1024)
    })

    it('OVERSIZED: a tx over MAX_TX_BYTES, too many index updates, an index value over 128 bytes', () => {
      const big = grantTx(); big.wrapped = randomBytes(8192)
      const many = recordTx(MAX_INDEX_UPDATES_PER_TX + 1)
      throwsCode(() => encodeTx(many), 'OVERSIZED')
      throwsCode(() => decodeTx(dagCbor.encode(many)), 'OVERSIZED')
      const wide = recordTx(1); wide.indexUpdates[0]!.value = randomBytes(MAX_INDEX_VALUE_BYTES + 1)
      throwsCode(() => decodeTx(dagCbor.encode(wide)), 'OVERSIZED')
      const ok = recordTx(1); ok.indexUpdates[0]!.value = randomBytes(MAX_INDEX_VALUE_BYTES)
      assert.deepEqual(decodeTx(encodeTx(ok)), ok)
      // 256 updates of 128-byte values plus 64 attachments still fit in MAX_TX_BYTES
      const max = recordTx(MAX_INDEX_UPDATES_PER_TX, 64)
      for (const u of max.indexUpdates) u.value = randomBytes(MAX_INDEX_VALUE_BYTES)
      assert.ok(encodeTx(max).length <= MAX_TX_BYTES)
      assert.ok(encodeTx(big).length < MAX_TX_BYTES)
    })

    it('MALFORMED: garbage, empty, truncated, trailing bytes, not bytes', () => {
      const good = encodeTx(recordTx())
      throwsCode(() => decodeTx(new Uint8Array(0)), 'MALFORMED')
      throwsCode(() => decodeTx(good.subarray(0, good.length - 1)), 'MALFORMED')
      throwsCode(() => decodeTx(Uint8Array.of(...good, 0x00)), 'MALFORMED')
      throwsCode(() => decodeTx(Uint8Array.of(0x1c, 0x00)), 'MALFORMED') // reserved additional-info value
      throwsCode(() => decodeTx('a1' as unknown as Uint8Array), 'MALFORMED')
      for (let i = 0; i < 200; i++) {
        const junk = randomBytes(1 + (i % 64))
        assert.throws(() => decodeBlock(junk), (e: unknown) => e instanceof BlockError && ['MALFORMED', 'INVALID', 'NON_CANONICAL'].includes(e.code))
      }
    })

    it('NON_CANONICAL: map key order, non-minimal ints, floats for ints, duplicate keys, indefinite lengths', () => {
      const h = sampleBlock().header
      throwsCode(() => decodeHeader(cbor(h, { keyOrder: 'reverse' })), 'NON_CANONICAL', 'key order')
      throwsCode(() => decodeHeader(cbor(h, { wideInts: true })), 'NON_CANONICAL', 'wide ints')
      throwsCode(() => decodeHeader(cbor(h, { floatInts: true })), 'NON_CANONICAL', 'float ints')
      const tx = recordTx()
      throwsCode(() => decodeTx(cbor(tx, { keyOrder: 'reverse' })), 'NON_CANONICAL', 'tx key order')
      // duplicate key: a one-entry map {"a":1} with the pair repeated and the count bumped
      const dup = Uint8Array.of(0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x01)
      throwsCode(() => decodeTx(dup), 'NON_CANONICAL', 'duplicate key')
      // indefinite-length array of txs inside a block
      const block = sampleBlock()
      const canonical = encodeBlock({ header: block.header, txs: [] })
      const idx = Buffer.from(canonical).indexOf(Buffer.from([0x63, 0x74, 0x78, 0x73, 0x80])) // "txs" then []
      assert.ok(idx > 0)
      const indefinite = Uint8Array.of(...canonical.subarray(0, idx + 4), 0x9f, 0xff, ...canonical.subarray(idx + 5))
      throwsCode(() => decodeBlock(indefinite), 'NON_CANONICAL', 'indefinite')
      // non-minimal byte-string length
      const c = sampleCert(h)
      const bytes = encodeCertificate(c)
      const at = Buffer.from(bytes).indexOf(Buffer.from([0x58, 0x20, ...c.headerHash]))
      const wideLen = Uint8Array.of(...bytes.subarray(0, at), 0x59, 0x00, 0x20, ...bytes.subarray(at + 2))
      throwsCode(() => decodeCertificate(wideLen), 'NON_CANONICAL', 'wide length')
    })

    const cases: Array<[string, () => Tx | Record<string, unknown>]> = [
      ['unknown field', () => ({ ...recordTx(), extra: 1 })],
      ['missing field', () => { const t: Record<string, unknown> = { ...recordTx() }; delete t.signature; return t }],
      ['unknown tx type', () => ({ ...recordTx(), type: 'transfer' })],
      ['type not a string', () => ({ ...recordTx(), type: 1 })],
      ['recordId of 31 bytes', () => ({ ...recordTx(), recordId: randomBytes(31) })],
      ['doctor as a string', () => ({ ...recordTx(), doctor: 'alice' })],
      ['2 field hashes', () => ({ ...recordTx(), fields: [randomBytes(32), randomBytes(32)] })],
      ['4 field hashes', () => ({ ...recordTx(), fields: [randomBytes(32), randomBytes(32), randomBytes(32), randomBytes(32)] })],
      ['short attachment hash', () => ({ ...recordTx(), attachments: [randomBytes(33)] })],
      ['index label of 16 bytes', () => ({ ...recordTx(), indexUpdates: [{ label: randomBytes(16), value: randomBytes(8) }] })],
      ['index update with extra field', () => ({ ...recordTx(), indexUpdates: [{ label: randomBytes(32), value: randomBytes(8), x: 1 }] })],
      ['negative time', () => ({ ...recordTx(), time: -1 })],
      ['fractional time', () => ({ ...recordTx(), time: 1.5 })],
      ['time beyond 2^53', () => ({ ...recordTx(), time: 2n ** 60n })],
      ['signature of 3308 bytes', () => ({ ...recordTx(), signature: randomBytes(SUITE.sigBytes - 1) })],
      ['CID instead of bytes', () => ({ ...recordTx(), doctor: CID.parse('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy') })],
      ['record without an owner', () => { const { owner: _, ...rest } = recordTx(); return rest }],
      ['owner of 31 bytes', () => ({ ...recordTx(), owner: randomBytes(31) })],
      ['grant without a grantorKey', () => { const { grantorKey: _, ...rest } = grantTx(); return rest }],
      ['grantorKey of the wrong length', () => ({ ...grantTx(), grantorKey: randomBytes(SUITE.sigPublicKeyBytes - 1) })],
      ['grant with no fields', () => grantTx([])],
      ['grant field 3', () => grantTx([3])],
      ['grant field twice', () => grantTx([1, 1])],
      ['grant field as a string', () => ({ ...grantTx(), fields: ['1'] })],
      ['grant with empty wrapped keys', () => ({ ...grantTx(), wrapped: new Uint8Array(0) })],
      ['patient id not the hash of its key', () => ({ ...patientTx(), patientId: randomBytes(32) })],
      ['patient ML-DSA key of the wrong length', () => ({ ...patientTx(), sigPublicKey: randomBytes(SUITE.sigPublicKeyBytes - 1) })],
      ['patient ML-KEM key of the wrong length', () => ({ ...patientTx(), kemPublicKey: randomBytes(SUITE.kemPublicKeyBytes + 1) })],
      ['a list', () => [1, 2] as unknown as Record<string, unknown>],
      ['null', () => null as unknown as Record<string, unknown>]
    ]
    for (const [name, make] of cases) {
      it(`INVALID tx: ${name} (decode and encode)`, () => {
        const v = make()
        throwsCode(() => decodeTx(dagCbor.encode(v)), 'INVALID', name)
        throwsCode(() => encodeTx(v as Tx), 'INVALID', name)
      })
    }

    it('INVALID header, block and certificate shapes', () => {
      const block = sampleBlock()
      const h = block.header
      const bad: Array<[string, Record<string, unknown>]> = [
        ['unknown field', { ...h, extra: true }],
        ['empty chain id', { ...h, chainId: '' }],
        ['65-char chain id', { ...h, chainId: 'x'.repeat(65) }],
        ['chain id with a slash', { ...h, chainId: 'a/b' }],
        ['short prevHash', { ...h, prevHash: randomBytes(31) }],
        ['negative height', { ...h, height: -1 }],
        ['string height', { ...h, height: '1' }],
        ['record id of 33 bytes', { ...h, recordIds: [randomBytes(33)] }],
        ['proposer out of range', { ...h, proposer: 128 }],
        ['fractional view', { ...h, view: 0.5 }]
      ]
      for (const [name, v] of bad) {
        throwsCode(() => decodeHeader(dagCbor.encode(v)), 'INVALID', name)
        throwsCode(() => encodeHeader(v as unknown as Header), 'INVALID', name)
      }
      throwsCode(() => decodeBlock(dagCbor.encode({ ...block, extra: 1 })), 'INVALID')
      throwsCode(() => decodeBlock(dagCbor.encode({ header: h, txs: [{ ...recordTx(), type: 'nope' }] })), 'INVALID')
      throwsCode(() => decodeBlock(dagCbor.encode({ header: h })), 'INVALID')
      const cert = sampleCert(h)
      throwsCode(() => decodeCertificate(dagCbor.encode({ ...cert, headerHash: randomBytes(16) })), 'INVALID')
      throwsCode(() => decodeCertificate(dagCbor.encode({ ...cert, signatures: [{ validator: -1, signature: randomBytes(SUITE.sigBytes) }] })), 'INVALID')
      throwsCode(() => decodeCertificate(dagCbor.encode({ ...cert, signatures: [{ validator: 0, signature: randomBytes(10) }] })), 'INVALID')
      throwsCode(() => decodeCertificate(dagCbor.encode({ ...cert, signatures: [{ validator: 0, signature: randomBytes(SUITE.sigBytes), x: 1 }] })), 'INVALID')
      assert.deepEqual(decodeCertificate(encodeCertificate(clone(cert))), cert)
    })
  })
})
