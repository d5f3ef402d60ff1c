/**
 * createTunnel() behaviour, in process: the TUN device sits in its own
 * network namespace (10.242.0.1/24) and a socket on loopback plays the
 * peer, sending ICMP echo requests that the namespace's kernel answers
 * back through the tunnel. Covers the peer filter and the drop counters,
 * IPv6 transport, a device the caller owns, rebinds raced with close(),
 * and configuration errors that must leave nothing behind.
 * Skips (saying why) when not root.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import { createTunnel, netdev, openTun, openUdp, type RecvBatch, type Tunnel, type UdpSocket } from '../src/index.js';
import { openFds, waitUntil } from './helpers.js';
import { Netns, rootHasLink, tunSkipReason, uniqueIfName } from './netns.js';
import { echoRequest4, get16, ip4, isEchoReply4 } from './tun-packets.js';

const skip = tunSkipReason();
const PEER_INNER = ip4('10.242.0.2');
const TUN_INNER = ip4('10.242.0.1');

interface Rig {
  ns: Netns;
  peer: UdpSocket;
  tunnel: Tunnel;
  /** Echo replies that came back to the peer. */
  replies: Buffer[];
  close(): Promise<void>;
}

/** A tunnel whose device is in a fresh namespace, and its peer socket. */
async function rig(type: 'udp4' | 'udp6' = 'udp4'): Promise<Rig> {
  const ns = Netns.create('tunapi');
  const host = type === 'udp4' ? '127.0.0.1' : '::1';
  const replies: Buffer[] = [];
  const peer = openUdp({ type, address: host, onBatch: (b: RecvBatch) => {
    // Only echo replies: the interface also sends IPv6 chatter (router solicitations).
    for (let i = 0; i < b.length; i++) if (isEchoReply4(b.data(i))) replies.push(b.copy(i));
  } });
  let tunnel: Tunnel | undefined;
  try {
    await peer.ready;
    const port = peer.address().port;
    tunnel = await createTunnel({
      tun: { name: uniqueIfName() },
      listen: type === 'udp4' ? `${host}:0` : `[${host}]:0`,
      peer: type === 'udp4' ? `${host}:${port}` : `[${host}]:${port}`,
    });
    const name = tunnel.tun.name;
    netdev.moveToNetns(name, ns.name);
    netdev.addAddress(name, '10.242.0.1/24', { netns: ns.name });
    netdev.linkUp(name, { netns: ns.name });
  } catch (err) {
    await tunnel?.close();
    peer.close();
    ns.destroy();
    throw err;
  }
  const t = tunnel;
  return {
    ns,
    peer,
    tunnel: t,
    replies,
    async close() {
      await t.close();
      if (peer.isOpen) await new Promise<void>((resolve) => peer.close(resolve));
      ns.destroy();
    },
  };
}

/** The ICMP sequence number of an IPv4 echo reply. */
function replySeq(p: Uint8Array): number {
  return get16(p, 26);
}

function request(seq: number): Uint8Array {
  return echoRequest4(PEER_INNER, TUN_INNER, 7, seq, new Uint8Array(32));
}

test('only the peer gets through; the others and bad datagrams are dropped and counted', { skip }, async () => {
  const r = await rig();
  const stranger = openUdp({ type: 'udp4', address: '127.0.0.1' });
  try {
    await stranger.ready;
    const port = r.tunnel.local.port;
    // From the peer: answered.
    r.peer.send(request(1), port, '127.0.0.1');
    await waitUntil(() => r.replies.length === 1, 5000, 'the echo reply');
    assert.ok(isEchoReply4(r.replies[0]!));
    // From a stranger: a valid packet, dropped before the device.
    const written = r.tunnel.tun.stats().packetsOut;
    stranger.send(request(2), port, '127.0.0.1');
    stranger.send(request(3), port, '127.0.0.1');
    await waitUntil(() => r.tunnel.stats().drops.notFromPeer === 2, 5000, 'notFromPeer drops');
    assert.equal(r.tunnel.tun.stats().packetsOut, written, 'nothing from the stranger reached the device');
    // From the peer but not IP, or longer than the device takes.
    r.peer.send(Buffer.from('hello, not an IP packet'), port, '127.0.0.1');
    r.peer.send(new Uint8Array(0), port, '127.0.0.1');
    r.peer.send(new Uint8Array(3000).fill(0x45), port, '127.0.0.1');
    await waitUntil(() => r.tunnel.stats().drops.total === 5, 5000, 'malformed and tooBig drops');
    const s = r.tunnel.stats();
    assert.equal(s.drops.malformed, 2);
    assert.equal(s.drops.tooBig, 1);
    assert.equal(s.rx.packets, 1);
    assert.ok(s.tx.packets >= 1);
    assert.equal(s.backend.udp, r.tunnel.socket.backend);
    assert.equal(r.replies.length, 1, 'nothing else came back');
  } finally {
    stranger.close();
    await r.close();
  }
});

test('IPv6 transport (udp6 on ::1)', { skip }, async () => {
  const r = await rig('udp6');
  try {
    for (let i = 0; i < 5; i++) r.peer.send(request(i), r.tunnel.local.port, '::1');
    await waitUntil(() => r.replies.length === 5, 5000, 'five replies');
    assert.equal(r.tunnel.local.family, 'IPv6');
    await r.tunnel.rebind();
    r.peer.send(request(9), r.tunnel.local.port, '::1');
    await waitUntil(() => r.replies.length === 6, 5000, 'a reply after a rebind');
  } finally {
    await r.close();
  }
});

test('a socket closed behind the tunnel is replaced by rebind()', { skip }, async () => {
  const r = await rig();
  try {
    const port = r.tunnel.local.port;
    const old = r.tunnel.socket;
    await new Promise<void>((resolve) => old.close(resolve));
    // Datagrams to the tunnel now have nowhere to go: dropped, no crash.
    let sent = false;
    r.peer.send(request(1), port, '127.0.0.1', () => (sent = true));
    await waitUntil(() => sent, 5000, 'the send to the closed port to complete');
    await r.tunnel.rebind();
    assert.notEqual(r.tunnel.socket, old);
    assert.equal(r.tunnel.local.port, port);
    r.peer.send(request(2), port, '127.0.0.1');
    await waitUntil(() => r.replies.length >= 1, 5000, 'a reply through the new socket');
    // Request 1 was never answered: the only reply, the marker's, is for 2.
    assert.deepEqual(r.replies.map(replySeq), [2]);
  } finally {
    await r.close();
  }
});

test('rebinds raced with close(): every call settles, nothing leaks', { skip }, async () => {
  const r = await rig();
  const fds = openFds();
  const calls = Array.from({ length: 20 }, () => r.tunnel.rebind());
  await new Promise((resolve) => setImmediate(resolve));
  const closing = r.tunnel.close();
  const results = await Promise.allSettled(calls);
  await closing;
  assert.equal(r.tunnel.isOpen, false);
  // Serialized: the calls that finished before the close resolved, every
  // later one rejected with the close's code. The last one cannot have
  // finished within the one turn before close() (else nothing raced).
  const firstRejected = results.findIndex((res) => res.status === 'rejected');
  assert.ok(firstRejected >= 0, `close() came before the last rebind finished: ${results.map((res) => res.status).join(',')}`);
  for (const [i, res] of results.entries()) {
    assert.equal(res.status, i < firstRejected ? 'fulfilled' : 'rejected', `call ${i}`);
    if (res.status === 'rejected') assert.equal((res.reason as { code?: string }).code, 'ERR_TUNNEL_CLOSED');
  }
  await assert.rejects(r.tunnel.rebind(), { code: 'ERR_TUNNEL_CLOSED' });
  await r.close();
  await waitUntil(() => openFds() < fds, 5000, 'the tunnel fds to close');
});

test('a device passed in stays open after close(); errors leave nothing behind', { skip }, async () => {
  const dev = openTun({ name: uniqueIfName() });
  const busy = createSocket('udp4');
  try {
    const peer = '127.0.0.1:9';
    const t = await createTunnel({ tun: dev, listen: '127.0.0.1:0', peer });
    await t.close();
    assert.equal(dev.isOpen, true, 'the caller still owns the device');

    await new Promise<void>((resolve) => busy.bind(0, '127.0.0.1', resolve));
    const taken = busy.address().port;
    const name = uniqueIfName();
    await assert.rejects(createTunnel({ tun: { name }, listen: `127.0.0.1:${taken}`, peer }), { code: 'EADDRINUSE' });
    await assert.rejects(createTunnel({ tun: { name }, listen: '127.0.0.1:0', peer: 'no-port' }), { code: 'ERR_TUNNEL_BAD_ADDRESS' });
    await assert.rejects(createTunnel({ tun: { name }, listen: '127.0.0.1:0', peer: '[::1]:5' }), { code: 'ERR_TUNNEL_BAD_ADDRESS' });
    await assert.rejects(createTunnel({ tun: { name }, listen: '[fe80::1%nosuch9]:0', peer }), { code: 'ERR_TUNNEL_UNKNOWN_INTERFACE' });
    assert.equal(rootHasLink(name), false, 'no interface was made');
  } finally {
    busy.close();
    await new Promise<void>((resolve) => (dev.isOpen ? dev.close(resolve) : resolve()));
  }
});
