/**
 * Yamux receive-window updates at half the window, as go-yamux and the yamux spec's reference
 * implementation do, instead of after every data frame.
 *
 * `@chainsafe/libp2p-yamux` 8 sends a WINDOW_UPDATE frame for every data frame a stream receives
 * (`YamuxStream.handleData` → `sendWindowUpdate`, which returns early only when no byte of the
 * window is used). On a user node that frame is most of what it writes: each gossiped header copy
 * costs a yamux frame, a Noise encryption and a socket write back to the manager (`bench:headers`
 * profiled it at ~15 % of a light node's CPU). With this policy the update is sent once at least
 * half of the stream's receive window has been consumed, which never stalls the sender: it is
 * blocked only when the window is exhausted, and then the update is due. Stream opening (SYN/ACK
 * flags), paused streams and the window auto-tuning keep the library's own code path.
 *
 * The library exposes no option for this, so the method is wrapped on the class (once per process;
 * every libp2p host in the process uses it). If a future version renames the fields read here, the
 * wrapper falls through to the library's method unchanged.
 */
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'

interface WindowFields { state: unknown, recvWindow: unknown, recvWindowCapacity: unknown }
type SendWindowUpdate = (this: WindowFields) => void

const WRAPPED = Symbol.for('pqmed.yamux.halfWindowUpdates')

/** Installs the half-window update policy on `YamuxStream` (idempotent). */
export function yamuxHalfWindowUpdates (): void {
  const proto = YamuxStream.prototype as unknown as { sendWindowUpdate: SendWindowUpdate, [WRAPPED]?: true }
  if (proto[WRAPPED] === true) return
  const original = proto.sendWindowUpdate
  if (typeof original !== 'function') return
  proto.sendWindowUpdate = function (this: WindowFields): void {
    const { state, recvWindow, recvWindowCapacity } = this
    // an established stream with at least half its window left: the remote can keep sending, no update yet
    if (state === StreamState.Established && typeof recvWindow === 'number' && typeof recvWindowCapacity === 'number' && recvWindowCapacity * 2 >= recvWindow) return
    original.call(this)
  }
  proto[WRAPPED] = true
}
