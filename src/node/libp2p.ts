/**
 * The libp2p host of a pqmed node: TCP, Noise, Yamux (window updates at half the window:
 * ./yamux-window.ts), identify, ping and gossipsub (libp2p v3).
 * This is the only module that composes libp2p; the rest of src/node talks to the narrow
 * `PqmedHost` interface.
 *
 * Transport security is libp2p's (Noise XX over X25519, Ed25519 peer ids): classical, defence in
 * depth only. Everything that must survive a quantum adversary is protected above it: records are
 * AES-256-GCM encrypted by the client with keys wrapped by ML-KEM-768, and every consensus message,
 * certificate, record and grant is signed with ML-DSA-65.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2p } from 'libp2p'
import type { ConnectionGater, PeerId, PrivateKey } from '@libp2p/interface'
import type { Registry } from 'prom-client'
import { yamuxHalfWindowUpdates } from './yamux-window.js'

export type PqmedHost = Libp2p<{ pubsub: GossipSub, identify: ReturnType<ReturnType<typeof identify>>, ping: ReturnType<ReturnType<typeof ping>> }>

export interface HostOptions {
  privateKey: PrivateKey
  /** Multiaddrs to listen on, e.g. `/ip4/127.0.0.1/tcp/0`. */
  listen: string[]
  /**
   * Peer ids allowed to connect (asked at every dial and every inbound connection, so a list that
   * changes takes effect for new connections at once). `undefined` admits anyone: user nodes, and
   * managers started with `open: true`; a manager is permissioned by default (`PeerAllowList`).
   */
  allowPeers?: PeerFilter
  /** Loopback/devnet tuning: allow many connections from 127.0.0.0/8 and neutralize the IP-colocation score. */
  loopback?: boolean
  /** Largest gossip message accepted (bytes). */
  maxGossipBytes: number
  /** Gossipsub mesh degree (lower for light user nodes). */
  meshDegree?: number
  /**
   * A user node, whose only topic is the headers topic, which every manager publishing a header
   * floods to it directly (and the 5 s resync backs up): gossipsub's own repair (IHAVE/IWANT gossip
   * among user nodes) and mesh upkeep matter little, so heartbeats are half as frequent and gossip
   * goes to fewer peers (`USER_GOSSIP`).
   */
  headersOnly?: boolean
  /**
   * Connections kept before libp2p prunes the least valuable ones (libp2p's default is 300).
   * A manager is connected to every user node of the consortium, so it needs more.
   */
  maxConnections?: number
  /**
   * libp2p's own metrics (`libp2p_*`: connections, streams, bytes by protocol, gossipsub) into this
   * prom-client registry (`@libp2p/prometheus-metrics`); none without it. One host per process:
   * that package keeps its metric objects in a module-level map.
   */
  metricsRegistry?: Registry
}

/**
 * Gossipsub settings of a user node (`headersOnly`), beside its mesh degree: a heartbeat every 2 s
 * instead of 1 s (mesh upkeep, IHAVE gossip, score decay bookkeeping), IHAVE to at least 2 peers
 * (Dlazy, default 6) and to 10 % of the other candidates (gossipFactor, default 0.25). A header
 * missed by gossip is still fetched by range sync within 5 s.
 */
export const USER_GOSSIP = { heartbeatInterval: 2000, Dlazy: 2, gossipFactor: 0.1 } as const

/** A manager's default connection limit: every user node keeps a connection to every manager. */
export const MANAGER_MAX_CONNECTIONS = 4096

/** What the connection gater asks: a `Set<string>` of peer ids, or a `PeerAllowList`. */
export interface PeerFilter { has: (peerId: string) => boolean }

/**
 * Refuses every connection to or from a peer not in `allow`: outbound dials, and inbound
 * connections right after the Noise handshake (when the remote peer id is authenticated), so a
 * stranger never gets a stream (sync, query, submit) or a gossip message through.
 */
export function peerGater (allow: PeerFilter | undefined): ConnectionGater {
  if (allow === undefined) return {}
  const deny = (peer: PeerId): boolean => !allow.has(peer.toString())
  return {
    denyDialPeer: deny,
    denyInboundEncryptedConnection: deny,
    denyOutboundEncryptedConnection: deny
  }
}

export async function createHost (opts: HostOptions): Promise<PqmedHost> {
  const D = opts.meshDegree ?? 6
  // one WINDOW_UPDATE per half receive window instead of per data frame (./yamux-window.ts)
  yamuxHalfWindowUpdates()
  return await createLibp2p({
    privateKey: opts.privateKey,
    addresses: { listen: opts.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: peerGater(opts.allowPeers),
    connectionManager: {
      ...(opts.maxConnections !== undefined ? { maxConnections: opts.maxConnections } : {}),
      ...(opts.loopback === true ? { allow: ['/ip4/127.0.0.0/ipcidr/8'] } : {})
    },
    connectionMonitor: { enabled: false },
    ...(opts.metricsRegistry !== undefined ? { metrics: prometheusMetrics({ registry: opts.metricsRegistry, collectDefaultMetrics: false }) } : {}),
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        // Every pqmed gossip payload is self-authenticating (ML-DSA-signed txs, votes and
        // certificates), so libp2p's per-message Ed25519 signature would only cost CPU; message
        // ids are then the SHA-256 of the payload, so duplicates from several senders collapse.
        globalSignaturePolicy: 'StrictNoSign',
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        // a node's own messages go to every subscribed peer, not only its mesh: how a manager's
        // certified header reaches every connected user node in one hop (managers are not in the
        // headers mesh, see ManagerNode.start)
        floodPublish: true,
        D,
        Dlo: Math.max(1, D - 2),
        Dhi: D + 4,
        maxInboundDataLength: opts.maxGossipBytes + 4096,
        ...(opts.headersOnly === true ? USER_GOSSIP : {}),
        ...(opts.loopback === true ? { scoreParams: { IPColocationFactorWeight: 0 } } : {})
      })
    }
  })
}
