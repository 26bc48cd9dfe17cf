import assert from 'node:assert/strict'
import { loadPqBackend, sha256, type PqBackend } from '../../src/crypto/index.js'
import {
  decryptAttachment, encryptAttachment, readAttachmentInfo, sealRecord, verifyRecord, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS,
  type Attachment
} from '../../src/records/index.js'
import { bytes32, doctor, fieldKeys, fields, flip, indexUpdatesHash, otherRecordId, recordId, TIME, throwsCode, owner } from './fixtures.js'

describe('records: attachments', () => {
  let pq: PqBackend
  before(async () => { pq = await loadPqBackend() })
  const key = bytes32('attachment-key')
  const mib = new Uint8Array(1024 * 1024).map((_, i) => (i * 31 + (i >> 8)) & 0xff)
  const pdf: Attachment = { name: 'Befund 2024 – Röntgen.pdf', mediaType: 'application/pdf', data: mib }

  it('a 1 MiB file round-trips with its (encrypted) name and media type', () => {
    const cip = encryptAttachment(key, recordId, 0, pdf)
    assert.deepEqual(decryptAttachment(key, recordId, 0, cip), pdf)
    assert.deepEqual(readAttachmentInfo(key, recordId, 0, cip), { name: pdf.name, mediaType: pdf.mediaType, size: mib.length })
    assert.equal(Buffer.from(cip).includes(Buffer.from('Befund')), false, 'the file name is not in the clear')
    assert.equal(Buffer.from(cip).includes(Buffer.from('application/pdf')), false, 'the media type is not in the clear')
  })

  it('an empty file round-trips', () => {
    const e = { name: 'empty.txt', mediaType: 'text/plain; charset=utf-8', data: new Uint8Array(0) }
    assert.deepEqual(decryptAttachment(key, recordId, 3, encryptAttachment(key, recordId, 3, e)), e)
  })

  it('over 10 MiB → TOO_LARGE before any work; at exactly 10 MiB it is accepted', () => {
    const over = { ...pdf, data: new Uint8Array(MAX_ATTACHMENT_BYTES + 1) }
    throwsCode(() => encryptAttachment(key, recordId, 0, over), 'TOO_LARGE')
    // sealRecord refuses before encrypting or signing anything: the signer is never called
    let signs = 0
    const counting: PqBackend = { ...pq, name: pq.name, sign: (m, sk) => { signs++; return pq.sign(m, sk) } }
    const small = { key, name: 'ok.txt', mediaType: 'text/plain', data: new Uint8Array(1) }
    throwsCode(() => sealRecord(counting, doctor.sig.secretKey, { recordId, owner, fieldKeys, fields, indexUpdatesHash, time: TIME, attachments: [small, { ...over, key }] }), 'TOO_LARGE')
    assert.equal(signs, 0)
    sealRecord(counting, doctor.sig.secretKey, { recordId, owner, fieldKeys, fields, indexUpdatesHash, time: TIME, attachments: [small] })
    assert.equal(signs, 1)
    const exact = encryptAttachment(key, recordId, 1, { ...pdf, data: new Uint8Array(MAX_ATTACHMENT_BYTES) })
    assert.equal(readAttachmentInfo(key, recordId, 1, exact).size, MAX_ATTACHMENT_BYTES)
    throwsCode(() => decryptAttachment(key, recordId, 1, new Uint8Array(MAX_ATTACHMENT_BYTES + 1000)), 'TOO_LARGE')
  })

  it('bound to record, slot, metadata and key', () => {
    const cip = encryptAttachment(key, recordId, 2, pdf)
    throwsCode(() => decryptAttachment(key, otherRecordId, 2, cip), 'WRONG_RECORD_ID')
    throwsCode(() => decryptAttachment(key, recordId, 1, cip), 'WRONG_FIELD')
    throwsCode(() => decryptAttachment(bytes32('other key'), recordId, 2, cip), 'WRONG_KEY')
    const moved = cip.slice(); moved.set(otherRecordId, 6)
    throwsCode(() => decryptAttachment(key, otherRecordId, 2, moved), 'TAMPERED')
    const reslotted = cip.slice(); reslotted[5] = 1
    throwsCode(() => decryptAttachment(key, recordId, 1, reslotted), 'TAMPERED')
    throwsCode(() => decryptAttachment(key, recordId, 2, flip(cip, 80)), 'TAMPERED') // inside the metadata box
    throwsCode(() => decryptAttachment(key, recordId, 2, flip(cip, -100)), 'TAMPERED') // inside the data
    // a data box spliced under another attachment's metadata box fails (data AAD binds the metadata)
    const other = encryptAttachment(key, recordId, 2, { ...pdf, name: 'other.pdf' })
    const metaLen = new DataView(cip.buffer).getUint32(70)
    const otherMetaLen = new DataView(other.buffer).getUint32(70)
    const spliced = new Uint8Array([...other.subarray(0, 74 + otherMetaLen), ...cip.subarray(74 + metaLen)])
    throwsCode(() => decryptAttachment(key, recordId, 2, spliced), 'TAMPERED')
  })

  it('malformed and bad inputs', () => {
    const cip = encryptAttachment(key, recordId, 0, pdf)
    throwsCode(() => decryptAttachment(key, recordId, 0, cip.subarray(0, 100)), 'MALFORMED')
    const badLen = cip.slice(); new DataView(badLen.buffer).setUint32(70, 0xffff)
    throwsCode(() => decryptAttachment(key, recordId, 0, badLen), 'MALFORMED')
    throwsCode(() => encryptAttachment(key, recordId, MAX_ATTACHMENTS, pdf), 'BAD_INPUT')
    throwsCode(() => encryptAttachment(key, recordId, 0, { ...pdf, name: '' }), 'BAD_INPUT')
    throwsCode(() => encryptAttachment(key, recordId, 0, { ...pdf, name: 'a\nb' }), 'BAD_INPUT')
    throwsCode(() => encryptAttachment(key, recordId, 0, { ...pdf, name: 'x'.repeat(256) }), 'BAD_INPUT')
    throwsCode(() => encryptAttachment(key, recordId, 0, { ...pdf, mediaType: 'pdf' }), 'BAD_INPUT')
    throwsCode(() => encryptAttachment(new Uint8Array(31), recordId, 0, pdf), 'BAD_INPUT')
  })

  it('sealRecord hashes and signs the attachments in order', () => {
    const a = { key, name: 'a.txt', mediaType: 'text/plain', data: new Uint8Array([1]) }
    const b = { key: bytes32('k-b'), name: 'b.txt', mediaType: 'text/plain', data: new Uint8Array([2]) }
    const s = sealRecord(pq, doctor.sig.secretKey, { recordId, owner, fieldKeys, fields, indexUpdatesHash, time: TIME, attachments: [a, b] })
    assert.deepEqual(s.attachmentHashes, s.attachments.map((c) => sha256(c)))
    assert.deepEqual(verifyRecord(pq, doctor.sig.publicKey, s, s).attachments, ['valid', 'valid'])
    const swapped = verifyRecord(pq, doctor.sig.publicKey, s, { attachments: [s.attachments[1], s.attachments[0]] })
    assert.deepEqual(swapped.attachments, ['invalid', 'invalid'])
    assert.equal(swapped.valid, false)
    const extra = verifyRecord(pq, doctor.sig.publicKey, s, { attachments: [undefined, s.attachments[1], s.attachments[0]] })
    assert.deepEqual(extra.attachments, ['unchecked', 'valid', 'invalid'])
    assert.equal(decryptAttachment(b.key, recordId, 1, s.attachments[1] as Uint8Array).name, 'b.txt')
  })
})
