/**
 * The narrow interface through which a node's components report what operators measure (metrics,
 * debug log events). Components get one passed in (default: `noopMetrics`, which does nothing);
 * `pqmed node --ops-port` passes the Prometheus implementation (./prom.ts). This module imports
 * nothing: the components that call it stay free of prom-client.
 */

/** A gossip validator's result, as the metric labels spell it. */
export type GossipVerdictLabel = 'accept' | 'ignore' | 'reject'

/** What a committed block tells the metrics (a subset of `Block`, so callers pass the block itself). */
export interface CommittedBlock {
  header: { height: number, time: number, view: number }
  txs: ReadonlyArray<{ type: string }>
}

/** Request/response calls (src/node/reqresp.ts), both directions. */
export interface ReqRespMetrics {
  /** `outcome` is `ok` or the error code (`TIMEOUT`, `UNREACHABLE`, a remote `NodeError` code ...). */
  reqresp: (protocol: string, method: string, direction: 'in' | 'out', outcome: string, seconds: number, peer: string) => void
}

export interface NodeMetrics extends ReqRespMetrics {
  /** A tx entered this manager's mempool (commit latency is measured from here). */
  txAdmitted: (txBytes: Uint8Array) => void
  /**
   * A block was committed on this manager, certified in view `certView`; `keys` are the mempool
   * keys of its txs, `dropped` those of pending txs it made invalid.
   */
  blockCommitted: (block: CommittedBlock, certView: number, keys: readonly string[], dropped: readonly string[]) => void
  /** A gossip validator's verdict on one message. */
  gossipVerdict: (topic: string, verdict: GossipVerdictLabel) => void
  /** A user node learned the height a manager reports (status answer), for its header lag. */
  heightAnnounced: (height: number, peer: string) => void
}

export const noopMetrics: NodeMetrics = {
  reqresp: () => {},
  txAdmitted: () => {},
  blockCommitted: () => {},
  gossipVerdict: () => {},
  heightAnnounced: () => {}
}
