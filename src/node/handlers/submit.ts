/** `/pqmed/<chainId>/submit/1 submit {submission, wait}`: a user node forwards a client's submission. */
import { NodeError } from '../errors.js'
import { bytes, obj } from '../messages.js'
import type { ReqHandler } from '../reqresp.js'

export function submitHandler (submit: (data: Uint8Array, wait: boolean) => Promise<unknown>): ReqHandler {
  return async (method, params) => {
    if (method !== 'submit') throw new NodeError('UNKNOWN_METHOD', `submit: unknown method ${method}`)
    const p = obj(params, 'params')
    return await submit(bytes(p.submission, 'submission'), p.wait === true)
  }
}
