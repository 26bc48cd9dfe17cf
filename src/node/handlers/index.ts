/**
 * The four request/response services of a manager, one handler module per protocol
 * (`status`, `sync`, `query`, `submit`), each a `ReqResp` that also serves as this manager's
 * client of the same protocol on other managers.
 */
import type { Genesis } from '../genesis.js'
import { protocols } from '../genesis.js'
import type { PqmedHost } from '../libp2p.js'
import { MAX_FRAME_BYTES } from '../messages.js'
import { ReqResp, type ReqHandler } from '../reqresp.js'
import type { ReqRespMetrics } from '../ops/node-metrics.js'

export { statusHandler } from './status.js'
export { syncHandler } from './sync.js'
export { queryHandler, type QuerySource } from './query.js'
export { submitHandler } from './submit.js'

export interface ManagerHandlers { status: ReqHandler, sync: ReqHandler, query: ReqHandler, submit: ReqHandler }

export class ManagerServices {
  readonly status: ReqResp
  readonly sync: ReqResp
  readonly query: ReqResp
  readonly submit: ReqResp

  constructor (host: PqmedHost, genesis: Genesis, handlers: ManagerHandlers, metrics?: ReqRespMetrics) {
    const protos = protocols(genesis.chainId)
    const mk = (protocol: string, handler: ReqHandler): ReqResp => new ReqResp(host, { protocol, maxBytes: MAX_FRAME_BYTES, timeoutMs: 10_000, handler, metrics })
    this.status = mk(protos.status, handlers.status)
    this.sync = mk(protos.sync, handlers.sync)
    this.query = mk(protos.query, handlers.query)
    this.submit = mk(protos.submit, handlers.submit)
  }

  private all (): ReqResp[] { return [this.status, this.sync, this.query, this.submit] }

  async start (): Promise<void> { for (const s of this.all()) await s.start() }
  async stop (): Promise<void> { for (const s of this.all()) await s.stop() }
}
