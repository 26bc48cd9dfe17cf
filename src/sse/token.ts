/**
 * Search tokens: what a client sends to an index holder.
 *
 * A token is a list of groups, one per (term, writer) tree searched, each a list of GGM nodes
 * (depth, index, key) in increasing, non-overlapping leaf order; plus bare labels (used only by
 * counter recovery, which must not hand out nodes above leaves that may not exist yet). Groups
 * carry no writer or term: the holder learns only the nodes.
 *
 * Wire format (big-endian): `0x01` ‖ u16 groups ‖ per group (u8 n ‖ n × (u8 depth ‖ u32 index ‖
 * 32-byte key)) ‖ u16 labels ‖ labels × 32 bytes. Nothing may follow. Every decode and every
 * server-side search validates the token and its limits first, so a hostile token costs at most
 * `maxLeaves` label derivations.
 */
import { SseError } from './errors.js'
import { LABEL_BYTES, NODE_KEY_BYTES, nodeSpan, TREE_DEPTH, type GgmNode } from './ggm.js'

export const TOKEN_VERSION = 1
const NODE_WIRE_BYTES = 1 + 4 + NODE_KEY_BYTES

export interface SearchToken {
  groups: GgmNode[][]
  labels: Uint8Array[]
}

export interface TokenLimits {
  /** Groups ((term, writer) trees) per token. Default 4096. */
  maxGroups: number
  /** Nodes per group. Default 64 (a cover of any leaf range has at most 62). */
  maxNodesPerGroup: number
  /** Bare labels per token. Default 4096. */
  maxLabels: number
  /** Leaves (label derivations) per token, summed over groups. Default 2^18. */
  maxLeaves: number
}

export const DEFAULT_TOKEN_LIMITS: TokenLimits = Object.freeze({
  maxGroups: 4096,
  maxNodesPerGroup: 64,
  maxLabels: 4096,
  maxLeaves: 2 ** 18
})

function malformed (msg: string): never { throw new SseError('MALFORMED_TOKEN', msg) }
function limit (msg: string): never { throw new SseError('TOKEN_LIMIT', msg) }

function resolveLimits (l?: Partial<TokenLimits>): TokenLimits {
  const out = { ...DEFAULT_TOKEN_LIMITS, ...(l ?? {}) }
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isSafeInteger(v) || v < 0) throw new SseError('BAD_INPUT', `token limit ${k} must be a non-negative integer`)
  }
  if (out.maxGroups > 0xffff || out.maxLabels > 0xffff || out.maxNodesPerGroup > 0xff) {
    throw new SseError('BAD_INPUT', 'token limits exceed the wire format (u16 groups/labels, u8 nodes)')
  }
  return out
}

/**
 * Checks that `token` is a well-formed token within `limits`; returns the number of leaves it
 * covers. Throws `MALFORMED_TOKEN` or `TOKEN_LIMIT`.
 */
export function validateSearchToken (token: unknown, limits?: Partial<TokenLimits>): number {
  const lim = resolveLimits(limits)
  if (token === null || typeof token !== 'object') malformed('token must be an object')
  const { groups, labels } = token as { groups?: unknown, labels?: unknown }
  if (!Array.isArray(groups) || !Array.isArray(labels)) malformed('token needs groups and labels arrays')
  if (groups.length > lim.maxGroups) limit(`${groups.length} groups > ${lim.maxGroups}`)
  if (labels.length > lim.maxLabels) limit(`${labels.length} labels > ${lim.maxLabels}`)
  let leaves = 0
  groups.forEach((group: unknown, g) => {
    if (!Array.isArray(group) || group.length === 0) malformed(`group ${g} must be a non-empty array`)
    if (group.length > lim.maxNodesPerGroup) limit(`group ${g}: ${group.length} nodes > ${lim.maxNodesPerGroup}`)
    let prevEnd = 0
    group.forEach((node: unknown, n) => {
      if (node === null || typeof node !== 'object') malformed(`group ${g} node ${n} must be an object`)
      const { depth, index, key } = node as Partial<GgmNode>
      if (!Number.isInteger(depth) || (depth as number) < 0 || (depth as number) > TREE_DEPTH) {
        malformed(`group ${g} node ${n}: depth out of range [0, ${TREE_DEPTH}]`)
      }
      if (!Number.isInteger(index) || (index as number) < 0 || (index as number) >= 2 ** (depth as number)) {
        malformed(`group ${g} node ${n}: index out of range for depth ${depth as number}`)
      }
      if (!(key instanceof Uint8Array) || key.length !== NODE_KEY_BYTES) malformed(`group ${g} node ${n}: key must be ${NODE_KEY_BYTES} bytes`)
      const { start, size } = nodeSpan({ depth: depth as number, index: index as number })
      if (n > 0 && start < prevEnd) malformed(`group ${g} node ${n}: nodes overlap, repeat or are out of order`)
      prevEnd = start + size
      leaves += size
    })
  })
  if (leaves > lim.maxLeaves) limit(`token covers ${leaves} leaves > ${lim.maxLeaves}`)
  const seen = new Set<string>()
  labels.forEach((label: unknown, i) => {
    if (!(label instanceof Uint8Array) || label.length !== LABEL_BYTES) malformed(`label ${i} must be ${LABEL_BYTES} bytes`)
    const k = Buffer.from(label.buffer, label.byteOffset, label.length).toString('latin1')
    if (seen.has(k)) malformed(`label ${i} repeated`)
    seen.add(k)
  })
  return leaves
}

export function encodeSearchToken (token: SearchToken, limits?: Partial<TokenLimits>): Uint8Array {
  validateSearchToken(token, limits)
  let n = 1 + 2 + 2 + token.labels.length * LABEL_BYTES
  for (const g of token.groups) n += 1 + g.length * NODE_WIRE_BYTES
  const out = new Uint8Array(n)
  const dv = new DataView(out.buffer)
  let o = 0
  out[o++] = TOKEN_VERSION
  dv.setUint16(o, token.groups.length); o += 2
  for (const g of token.groups) {
    out[o++] = g.length
    for (const node of g) {
      out[o++] = node.depth
      dv.setUint32(o, node.index); o += 4
      out.set(node.key, o); o += NODE_KEY_BYTES
    }
  }
  dv.setUint16(o, token.labels.length); o += 2
  for (const l of token.labels) { out.set(l, o); o += LABEL_BYTES }
  return out
}

/** Parses and validates a token. Throws `MALFORMED_TOKEN` or `TOKEN_LIMIT` (never anything else on bytes). */
export function decodeSearchToken (bytes: Uint8Array, limits?: Partial<TokenLimits>): SearchToken {
  const lim = resolveLimits(limits)
  if (!(bytes instanceof Uint8Array)) malformed('token must be a Uint8Array')
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let o = 0
  const need = (k: number): void => { if (o + k > bytes.length) malformed('token truncated') }
  need(3)
  if (bytes[0] !== TOKEN_VERSION) malformed(`unknown token version ${bytes[0] as number}`)
  const groupCount = dv.getUint16(1)
  o = 3
  if (groupCount > lim.maxGroups) limit(`${groupCount} groups > ${lim.maxGroups}`)
  const groups: GgmNode[][] = []
  for (let g = 0; g < groupCount; g++) {
    need(1)
    const count = bytes[o++] as number
    if (count > lim.maxNodesPerGroup) limit(`group ${g}: ${count} nodes > ${lim.maxNodesPerGroup}`)
    need(count * NODE_WIRE_BYTES)
    const nodes: GgmNode[] = []
    for (let i = 0; i < count; i++) {
      const depth = bytes[o] as number
      const index = dv.getUint32(o + 1)
      nodes.push({ depth, index, key: bytes.slice(o + 5, o + 5 + NODE_KEY_BYTES) })
      o += NODE_WIRE_BYTES
    }
    groups.push(nodes)
  }
  need(2)
  const labelCount = dv.getUint16(o); o += 2
  if (labelCount > lim.maxLabels) limit(`${labelCount} labels > ${lim.maxLabels}`)
  need(labelCount * LABEL_BYTES)
  const labels: Uint8Array[] = []
  for (let i = 0; i < labelCount; i++) { labels.push(bytes.slice(o, o + LABEL_BYTES)); o += LABEL_BYTES }
  if (o !== bytes.length) malformed(`${bytes.length - o} trailing bytes`)
  const token = { groups, labels }
  validateSearchToken(token, lim)
  return token
}
