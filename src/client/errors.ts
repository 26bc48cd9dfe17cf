/** Errors of the client SDK, each with a stable `code`. */
export type ClientErrorCode =
  | 'BAD_INPUT' // a caller-supplied value is malformed (identity file, record input, field list...)
  | 'BAD_IDENTITY' // an identity file cannot be read or reproduced
  | 'BAD_CONSORTIUM_KEY' // a consortium key file is malformed or not addressed to this doctor
  | 'RPC' // the node answered with a JSON-RPC error (see `RpcCallError`)
  | 'TRANSPORT' // the node could not be reached or did not answer JSON-RPC
  | 'VERIFY_FAILED' // an answer from the node failed client-side verification
  | 'NO_ACCESS' // no key (own PUF secret or grant) opens the requested field
  | 'UNCONFIRMED' // a submission was sent but its outcome is unknown (it may still commit)

export class ClientError extends Error {
  readonly code: ClientErrorCode
  constructor (code: ClientErrorCode, message: string) {
    super(message)
    this.name = 'ClientError'
    this.code = code
  }
}
