/**
 * Send and receive in both directions, checking payloads and the reply
 * address (net/uring's TestUDPSendRecv), over IPv4, IPv6 and dual-stack,
 * with the multishot and the single-shot receive paths.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { probe, type UdpSocket } from '../src/index.js';
import { BACKEND, collector, waitUntil, type Received, open } from './helpers.js';

const features = probe().features;
const cases = [
  { name: 'IPv4', type: 'udp4', host: '127.0.0.1', peerHost: '127.0.0.1', wantAddr: '127.0.0.1', family: 4 },
  { name: 'IPv6', type: 'udp6', host: '::1', peerHost: '::1', wantAddr: '::1', family: 6 },
  { name: 'dual-stack (v4-mapped)', type: 'udp6', host: '::', peerHost: '127.0.0.1', wantAddr: '::ffff:127.0.0.1', family: 6 },
] as const;

// The io_uring backend has two receive paths; the others have one.
const modes = BACKEND === 'io_uring' ? (['multishot', 'single'] as const) : (['auto'] as const);
const expectMode = (mode: string): string => (BACKEND === 'io_uring' ? mode : BACKEND);

for (const mode of modes) {
  describe(`send/receive, ${mode} receive (${BACKEND})`, { skip: mode === 'multishot' && !features.multishotRecvmsg ? 'kernel lacks multishot recvmsg (6.0+)' : false }, () => {
    for (const c of cases) {
      test(c.name, async () => {
        const atA: Received[] = [];
        const atB: Received[] = [];
        const a = await open({ type: c.type, address: c.host, receiveMode: mode, onBatch: collector(atA) });
        const bType = c.name.startsWith('dual') ? 'udp4' : c.type;
        const b = await open({ type: bType, address: c.peerHost, receiveMode: mode, onBatch: collector(atB) });
        try {
          assert.equal(a.receiveMode, expectMode(mode));
          assert.equal(a.backend, BACKEND);
          const aPort = a.address().port;
          const bPort = b.address().port;
          const n = 50;
          for (let i = 0; i < n; i++) assert.ok(b.send(Buffer.from(`ping ${i}`), aPort, c.name.startsWith('dual') ? '127.0.0.1' : c.host));
          await waitUntil(() => atA.length === n, 5000, 'pings');
          for (let i = 0; i < n; i++) {
            const r = atA[i]!;
            assert.equal(r.data.toString(), `ping ${i}`);
            assert.equal(r.port, bPort);
            assert.equal(r.address, c.wantAddr);
            assert.equal(r.family, c.family);
            assert.equal(r.truncated, false);
          }
          // Reply to the address the datagram came from.
          for (let i = 0; i < n; i++) assert.ok(a.send(Buffer.from(`pong ${i}`), atA[i]!.port, atA[i]!.address));
          await waitUntil(() => atB.length === n, 5000, 'pongs');
          atB.forEach((r, i) => {
            assert.equal(r.data.toString(), `pong ${i}`);
            assert.equal(r.port, aPort);
          });
          const s = a.stats();
          assert.equal(s.packetsIn, n);
          assert.equal(s.packetsOut, n);
        } finally {
          await Promise.all([closeSock(a), closeSock(b)]);
        }
      });
    }

    test('reply() echoes a packet to its sender without copying it out', async () => {
      const got: Received[] = [];
      const srv: UdpSocket = await open({
        type: 'udp4',
        address: '127.0.0.1',
        receiveMode: mode,
        onBatch: (batch) => {
          for (let i = 0; i < batch.length; i++) srv.reply(batch, i);
        },
      });
      const cli = await open({ type: 'udp4', address: '127.0.0.1', receiveMode: mode, onBatch: collector(got) });
      try {
        const ep = cli.endpoint('127.0.0.1', srv.address().port);
        const payloads = [Buffer.alloc(0), Buffer.from('x'), Buffer.alloc(1400, 7), Buffer.alloc(2048, 9)];
        for (const p of payloads) assert.ok(cli.sendTo(p, ep));
        await waitUntil(() => got.length === payloads.length, 5000, 'echoes');
        const sizes = got.map((g) => g.data.length).sort((x, y) => x - y);
        assert.deepEqual(sizes, [0, 1, 1400, 2048]);
        for (const g of got) {
          const want = payloads.find((p) => p.length === g.data.length)!;
          assert.ok(g.data.equals(want));
          assert.equal(g.truncated, false);
        }
      } finally {
        await Promise.all([closeSock(srv), closeSock(cli)]);
      }
    });

    test('datagrams longer than maxMessageSize are flagged, never cut silently', async () => {
      const got: Received[] = [];
      const a = await open({ type: 'udp4', address: '127.0.0.1', receiveMode: mode, maxMessageSize: 100, onBatch: collector(got) });
      const b = await open({ type: 'udp4', address: '127.0.0.1' });
      try {
        b.send(Buffer.alloc(300, 1), a.address().port, '127.0.0.1');
        b.send(Buffer.alloc(100, 2), a.address().port, '127.0.0.1');
        await waitUntil(() => got.length === 2, 5000, 'packets');
        assert.equal(got[0]!.truncated, true);
        assert.equal(got[0]!.data.length, 100);
        assert.equal(got[1]!.truncated, false);
        assert.equal(got[1]!.data.length, 100);
        assert.equal(a.stats().truncated, 1);
      } finally {
        await Promise.all([closeSock(a), closeSock(b)]);
      }
    });
  });
}

test('connect() then send() without an address; remoteAddress()', async () => {
  const got: Received[] = [];
  const a = await open({ type: 'udp4', address: '127.0.0.1', onBatch: collector(got) });
  const b = await open({ type: 'udp4', address: '127.0.0.1' });
  try {
    b.connect(a.address().port, '127.0.0.1');
    assert.deepEqual(b.remoteAddress(), { address: '127.0.0.1', family: 'IPv4', port: a.address().port });
    const results: (Error | null)[] = [];
    b.send(Buffer.from('connected'), undefined, undefined, (err) => results.push(err));
    await waitUntil(() => got.length === 1 && results.length === 1, 5000, 'connected send');
    assert.equal(results[0], null);
    assert.equal(got[0]!.data.toString(), 'connected');
    b.disconnect();
    assert.throws(() => b.remoteAddress(), { code: 'ERR_SOCKET_DGRAM_NOT_CONNECTED' });
  } finally {
    await Promise.all([closeSock(a), closeSock(b)]);
  }
});

test('socket options: buffer sizes, TTL, broadcast, reuse', async () => {
  // Node 20's node:dgram has no reusePort (the dgram backend refuses it).
  const reusePort = BACKEND !== 'dgram';
  const a = await open({ type: 'udp4', address: '127.0.0.1', reuseAddr: true, reusePort, recvBufferSize: 1 << 20, sendBufferSize: 1 << 19 });
  const b = await open({ type: 'udp4', address: '127.0.0.1', port: a.address().port, reuseAddr: true, reusePort });
  try {
    assert.equal(b.address().port, a.address().port);
    // Linux doubles the value for bookkeeping and caps it at rmem_max.
    assert.ok(a.getRecvBufferSize() >= 2048);
    assert.ok(a.getSendBufferSize() >= 2048);
    assert.equal(a.setTTL(12), 12);
    a.setBroadcast(true);
  } finally {
    await Promise.all([closeSock(a), closeSock(b)]);
  }
});

async function closeSock(s: UdpSocket): Promise<void> {
  if (!s.isOpen) return;
  await new Promise<void>((r) => s.close(r));
}

test('multishot receive re-arms after running out of buffers (ENOBUFS): nothing lost', { skip: BACKEND !== 'io_uring' ? 'io_uring backend only' : !features.multishotRecvmsg && 'kernel lacks multishot recvmsg' }, async () => {
  const got: Received[] = [];
  const rx = await open({ type: 'udp4', address: '127.0.0.1', recvBuffers: 2, recvBufferSize: 4 << 20, onBatch: collector(got) });
  const tx = await open({ type: 'udp4', address: '127.0.0.1' });
  try {
    const n = 300;
    for (let i = 0; i < n; i++) tx.send(Buffer.from(`b${i}`), rx.address().port, '127.0.0.1');
    await waitUntil(() => got.length === n, 5000, `${n} datagrams (got ${got.length})`);
    assert.deepEqual(
      got.map((g) => g.data.toString()),
      Array.from({ length: n }, (_, i) => `b${i}`),
    );
    const s = rx.stats();
    assert.ok(s.enobufs > 0 && s.rearms > 0, `enobufs=${s.enobufs} rearms=${s.rearms}`);
    assert.equal(s.drops, 0);
  } finally {
    await Promise.all([closeSock(rx), closeSock(tx)]);
  }
});

test(`stats() shows the ring-wide counters; none of the enter failures in normal traffic (${BACKEND})`, async () => {
  const a = await open({ type: 'udp4', address: '127.0.0.1' });
  const b = await open({ type: 'udp4', address: '127.0.0.1' });
  try {
    let got = 0;
    a.onBatch = (batch) => void (got += batch.length);
    for (let i = 0; i < 50; i++) b.send(Buffer.alloc(20, i), a.address().port, '127.0.0.1');
    await waitUntil(() => got === 50, 5000, '50 datagrams');
    const s = b.stats();
    assert.deepEqual(Object.keys(s.enterErrors).sort(), ['EAGAIN', 'EBADR', 'EBUSY', 'other']);
    assert.deepEqual(s.enterErrors, { EAGAIN: 0, EBUSY: 0, EBADR: 0, other: 0 });
    assert.equal(s.lostCompletions, 0);
    assert.equal(s.recoveries, 0);
    assert.equal(s.lostRearms, 0);
    assert.equal(s.packetsOut, 50);
    // (On the other backends the thread may still have a ring, entered to
    // deliver their events: enters says nothing about them.)
    if (BACKEND === 'io_uring') assert.ok(s.enters > 0, 'the sends went through io_uring_enter');
  } finally {
    await new Promise<void>((r) => a.close(r));
    await new Promise<void>((r) => b.close(r));
  }
});
