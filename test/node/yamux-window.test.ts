import assert from 'node:assert/strict'
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import { describe, it } from 'mocha'
import { yamuxHalfWindowUpdates } from '../../src/node/yamux-window.js'

/** yamux frame types (the library's `FrameType`, not exported). */
const DATA = 0
const WINDOW_UPDATE = 1

/**
 * `yamuxHalfWindowUpdates` (installed by every `createHost`): a stream that receives data sends a
 * WINDOW_UPDATE once half of its receive window is used, not after every data frame.
 */
describe('node/yamux-window: receive-window updates at half the window', () => {
  const log = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false, newScope: () => log })
  const stream = (sent: Array<{ type: number, length: number, flag: number }>): YamuxStream => new YamuxStream({
    id: 's1', streamId: 1, direction: 'inbound', log: log as never, state: StreamState.Established, getRTT: () => -1,
    sendFrame: (h) => { sent.push({ type: h.type, length: h.length, flag: h.flag }); return true }
  })
  const data = (n: number): Parameters<YamuxStream['handleData']>[0] => ({ header: { type: DATA, flag: 0, streamID: 1, length: n }, data: new Uint8Array(n) as never })

  it('one update per half window of data received (256 KiB window: none for 12 frames of 10 KiB, one at the 13th)', () => {
    yamuxHalfWindowUpdates()
    yamuxHalfWindowUpdates() // idempotent
    const sent: Array<{ type: number, length: number, flag: number }> = []
    const s = stream(sent)
    for (let i = 0; i < 12; i++) s.handleData(data(10 * 1024))
    assert.deepEqual(sent.filter((f) => f.type === WINDOW_UPDATE), [], '120 KiB of a 256 KiB window used: no update yet')
    s.handleData(data(10 * 1024))
    assert.deepEqual(sent.filter((f) => f.type === WINDOW_UPDATE), [{ type: WINDOW_UPDATE, length: 130 * 1024, flag: 0 }], 'the update returns all 130 KiB at once')
    for (let i = 0; i < 12; i++) s.handleData(data(10 * 1024))
    assert.equal(sent.filter((f) => f.type === WINDOW_UPDATE).length, 1)
  })

  it('a stream that is not established yet still answers with its flags at once', () => {
    const sent: Array<{ type: number, length: number, flag: number }> = []
    const s = new YamuxStream({
      id: 's2', streamId: 2, direction: 'inbound', log: log as never, state: StreamState.SYNReceived, getRTT: () => -1,
      sendFrame: (h) => { sent.push({ type: h.type, length: h.length, flag: h.flag }); return true }
    })
    s.handleData(data(1024))
    assert.equal(sent.length, 1)
    assert.equal(sent[0]?.type, WINDOW_UPDATE)
    assert.notEqual(sent[0]?.flag, 0, 'the ACK flag')
  })
})
