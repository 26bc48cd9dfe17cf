import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createHost, type PqmedHost } from '../../src/node/libp2p.js'

describe('node: libp2p host connection gater', function () {
  this.timeout(30_000)
  const hosts: PqmedHost[] = []
  after(async () => { for (const h of hosts) await h.stop() })

  it('admits only the configured peers', async () => {
    const friendKey = await generateKeyPair('Ed25519')
    const base = { listen: ['/ip4/127.0.0.1/tcp/0'], loopback: true, maxGossipBytes: 1 << 20 }
    const guarded = await createHost({ ...base, privateKey: await generateKeyPair('Ed25519'), allowPeers: new Set([peerIdFromPrivateKey(friendKey).toString()]) })
    const friend = await createHost({ ...base, privateKey: friendKey })
    const stranger = await createHost({ ...base, privateKey: await generateKeyPair('Ed25519') })
    hosts.push(guarded, friend, stranger)
    for (const h of hosts) await h.start()
    const addr = guarded.getMultiaddrs()[0]
    assert.ok(addr)
    await friend.dial(addr)
    for (let i = 0; i < 50 && guarded.getConnections(friend.peerId).length === 0; i++) await new Promise((r) => setTimeout(r, 20))
    assert.equal(guarded.getConnections(friend.peerId).length > 0, true, 'the allowed peer is connected')
    assert.equal(friend.getConnections(guarded.peerId).length > 0, true)
    await assert.rejects(async () => {
      await stranger.dial(addr, { signal: AbortSignal.timeout(5000) })
      // an inbound connection the gater denies is closed right after the handshake
      await new Promise((r) => setTimeout(r, 300))
      if (stranger.getConnections(guarded.peerId).length === 0) throw new Error('closed by the gater')
    })
    assert.equal(guarded.getConnections(stranger.peerId).length, 0)
  })

  it('keeps at most maxConnections connections (a manager needs more than libp2p\'s default 300)', async () => {
    // not loopback mode: its allow list (127.0.0.0/8) exempts connections from the limit, as on a devnet
    const base = { listen: ['/ip4/127.0.0.1/tcp/0'], loopback: false, maxGossipBytes: 1 << 20 }
    const small = await createHost({ ...base, privateKey: await generateKeyPair('Ed25519'), maxConnections: 2 })
    const large = await createHost({ ...base, privateKey: await generateKeyPair('Ed25519'), maxConnections: 10 })
    const dialers = await Promise.all(Array.from({ length: 5 }, async () => await createHost({ ...base, privateKey: await generateKeyPair('Ed25519') })))
    hosts.push(small, large, ...dialers)
    for (const h of [small, large, ...dialers]) await h.start()
    for (const target of [small, large]) {
      const addr = target.getMultiaddrs()[0]
      assert.ok(addr)
      for (const d of dialers) await d.dial(addr, { signal: AbortSignal.timeout(5000) }).catch(() => {})
    }
    await new Promise((r) => setTimeout(r, 500))
    const peers = (h: PqmedHost): number => new Set(h.getConnections().map((c) => c.remotePeer.toString())).size
    assert.ok(peers(small) <= 2, `pruned to the limit: ${peers(small)} peers`)
    assert.equal(peers(large), 5, 'under the limit every dialer stays connected')
  })
})
