/**
 * The JSON codec of chain values on the JSON-RPC API, used by the node (answers) and the client
 * (re-verification): bytes as base64, hashes and ids as 64 lowercase hex digits. `*Json` encode a
 * chain value; `*FromJson` decode one and throw `JsonCodecError` on a malformed id or shape.
 */
import { headerHash, type CommitCertificate, type GrantTx, type Header, type KeyEpochTx, type RecordTx, type Tx } from '../blocks/index.js'
import { fromHex, toHex } from '../crypto/index.js'
import type { CertificateJson, HeaderJson, TxJson } from './backend.js'

export type JsonCodecErrorCode =
  | 'BAD_HEX' // an id or hash that is not 64 lowercase hex digits
  | 'BAD_SHAPE' // a value of the wrong shape (e.g. a record tx without exactly three field hashes)

export class JsonCodecError extends Error {
  readonly code: JsonCodecErrorCode
  constructor (code: JsonCodecErrorCode, message: string) {
    super(message)
    this.name = 'JsonCodecError'
    this.code = code
  }
}

export const b64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')
export const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'))
export const hex = toHex
export const unhex = (s: string, what = 'hex id'): Uint8Array => {
  if (typeof s !== 'string' || !/^[0-9a-f]{64}$/.test(s)) throw new JsonCodecError('BAD_HEX', `${what} must be 64 lowercase hex digits`)
  return fromHex(s)
}

export function headerJson (h: Header): HeaderJson {
  return {
    chainId: h.chainId,
    height: h.height,
    prevHash: toHex(h.prevHash),
    time: h.time,
    proposer: h.proposer,
    view: h.view,
    recordIds: h.recordIds.map(toHex),
    txRoot: toHex(h.txRoot),
    txCount: h.txCount,
    indexRoot: toHex(h.indexRoot),
    indexCount: h.indexCount,
    indexStart: h.indexStart,
    configHash: toHex(h.configHash),
    nextConfigHash: toHex(h.nextConfigHash),
    hash: toHex(headerHash(h))
  }
}

export function certJson (c: CommitCertificate): CertificateJson {
  return { chainId: c.chainId, height: c.height, view: c.view, headerHash: toHex(c.headerHash), signatures: c.signatures.map((s) => ({ validator: s.validator, signature: b64(s.signature) })) }
}

export function txJson (tx: Tx): TxJson {
  switch (tx.type) {
    case 'record':
      return {
        type: 'record',
        recordId: toHex(tx.recordId),
        doctor: toHex(tx.doctor),
        owner: toHex(tx.owner),
        fields: tx.fields.map(toHex),
        attachments: tx.attachments.map(toHex),
        indexUpdates: tx.indexUpdates.map((u) => ({ label: toHex(u.label), value: b64(u.value) })),
        time: tx.time,
        signature: b64(tx.signature)
      }
    case 'grant':
      return { type: 'grant', recordId: toHex(tx.recordId), grantor: toHex(tx.grantor), grantorKey: b64(tx.grantorKey), grantee: toHex(tx.grantee), fields: [...tx.fields], wrapped: b64(tx.wrapped), time: tx.time, signature: b64(tx.signature) }
    case 'patient':
      return { type: 'patient', patientId: toHex(tx.patientId), sigPublicKey: b64(tx.sigPublicKey), kemPublicKey: b64(tx.kemPublicKey), time: tx.time, signature: b64(tx.signature) }
    case 'doctor': {
      const base = { type: 'doctor' as const, action: tx.action, hospital: toHex(tx.hospital), doctor: toHex(tx.doctor) }
      if (tx.action === 'revoke') return { ...base, time: tx.time, signature: b64(tx.signature) }
      return { ...base, ...(tx.action === 'add' ? { name: tx.name } : {}), sigPublicKey: b64(tx.sigPublicKey), kemPublicKey: b64(tx.kemPublicKey), time: tx.time, signature: b64(tx.signature) }
    }
    case 'user-node':
      return { type: 'user-node', action: tx.action, hospital: toHex(tx.hospital), peerId: tx.peerId, time: tx.time, signature: b64(tx.signature) }
    case 'key-epoch':
      return {
        type: 'key-epoch',
        epoch: tx.epoch,
        keyId: toHex(tx.keyId),
        recipients: tx.recipients.map((r) => ({ doctor: toHex(r.doctor), kemKeyId: toHex(r.kemKeyId), kemCiphertext: b64(r.kemCiphertext), sealed: b64(r.sealed) })),
        hospital: toHex(tx.hospital),
        time: tx.time,
        signature: b64(tx.signature)
      }
    case 'manager': {
      const c = tx.change
      const base = { type: 'manager' as const, action: tx.action, baseConfig: toHex(tx.baseConfig), time: tx.time, signers: tx.signatures.map((s) => toHex(s.hospitalId)) }
      if (c.action === 'add') return { ...base, hospitalId: toHex(c.manager.hospitalId), name: c.manager.name, sigPublicKey: b64(c.manager.sigPublicKey), peerId: c.manager.peerId, addrs: [...c.manager.addrs] }
      if (c.action === 'rotate') return { ...base, hospitalId: toHex(c.hospitalId), sigPublicKey: b64(c.sigPublicKey), peerId: c.peerId, addrs: [...c.addrs] }
      return { ...base, hospitalId: toHex(c.hospitalId) }
    }
  }
}

export function headerFromJson (h: HeaderJson): Header {
  return {
    chainId: h.chainId,
    height: h.height,
    prevHash: unhex(h.prevHash),
    time: h.time,
    proposer: h.proposer,
    view: h.view,
    recordIds: h.recordIds.map((x) => unhex(x)),
    txRoot: unhex(h.txRoot),
    txCount: h.txCount,
    indexRoot: unhex(h.indexRoot),
    indexCount: h.indexCount,
    indexStart: h.indexStart,
    configHash: unhex(h.configHash),
    nextConfigHash: unhex(h.nextConfigHash)
  }
}

export function recordTxFromJson (t: Extract<TxJson, { type: 'record' }>): RecordTx {
  const [f0, f1, f2] = t.fields.map((x) => unhex(x))
  if (f0 === undefined || f1 === undefined || f2 === undefined || t.fields.length !== 3) throw new JsonCodecError('BAD_SHAPE', 'a record tx has exactly three field hashes')
  return {
    type: 'record',
    recordId: unhex(t.recordId),
    doctor: unhex(t.doctor),
    owner: unhex(t.owner, 'record owner'),
    fields: [f0, f1, f2],
    attachments: t.attachments.map((x) => unhex(x)),
    indexUpdates: t.indexUpdates.map((u) => ({ label: unhex(u.label), value: unb64(u.value) })),
    time: t.time,
    signature: unb64(t.signature)
  }
}

export function grantTxFromJson (t: Extract<TxJson, { type: 'grant' }>): GrantTx {
  return {
    type: 'grant',
    recordId: unhex(t.recordId),
    grantor: unhex(t.grantor, 'grantor'),
    grantorKey: unb64(t.grantorKey),
    grantee: unhex(t.grantee, 'grantee'),
    fields: [...t.fields],
    wrapped: unb64(t.wrapped),
    time: t.time,
    signature: unb64(t.signature)
  }
}

export function keyEpochTxFromJson (t: Extract<TxJson, { type: 'key-epoch' }>): KeyEpochTx {
  return {
    type: 'key-epoch',
    epoch: t.epoch,
    keyId: unhex(t.keyId, 'keyId'),
    recipients: t.recipients.map((r) => ({ doctor: unhex(r.doctor, 'doctor'), kemKeyId: unhex(r.kemKeyId, 'kemKeyId'), kemCiphertext: unb64(r.kemCiphertext), sealed: unb64(r.sealed) })),
    hospital: unhex(t.hospital, 'hospital'),
    time: t.time,
    signature: unb64(t.signature)
  }
}

export function certFromJson (c: CertificateJson): CommitCertificate {
  return { chainId: c.chainId, height: c.height, view: c.view, headerHash: unhex(c.headerHash), signatures: c.signatures.map((s) => ({ validator: s.validator, signature: unb64(s.signature) })) }
}
