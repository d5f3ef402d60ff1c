/**
 * The memory a socket shares with the kernel belongs to the addon: JS code
 * that detaches or transfers `batch.bytes.buffer` (structuredClone with
 * transfer, postMessage, ArrayBuffer.prototype.transfer, and V8's own
 * detach) and lets any new owner be collected causes no use-after-free
 * (the ASan run of this file would report it), and the socket keeps
 * working: every datagram sent after the attempt arrives intact, replies
 * go out, the socket closes. Where the attempt really detaches the view
 * (always with V8's detach), the socket remaps a fresh view of the same
 * memory.
 *
 * The dgram backend's memory is a plain JS ArrayBuffer (no kernel or
 * native code writes into it): there a detach ends the socket, with the
 * coded error ERR_IOURING_NET_MEMORY_DETACHED, then 'close'.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RecvBatch, UdpSocket } from '../src/index.js';
import { DETACH_WAYS, collectGarbage, detach, type DetachWay } from './detach.js';
import { BACKEND, closed, open, udpMarker, waitUntil } from './helpers.js';

function payload(k: number): Buffer {
  const b = Buffer.alloc(64 + (k % 200));
  for (let i = 0; i < b.length; i++) b[i] = (k * 31 + i) & 0xff;
  b[0] = k & 0xff;
  b[1] = k >> 8;
  return b;
}

async function closeBoth(a: UdpSocket, b: UdpSocket): Promise<void> {
  for (const s of [a, b]) {
    if (!s.isOpen) continue;
    const c = closed(s);
    s.close();
    await c;
  }
}

// Tests that apply to one kind of backend are only registered there (no skips).
const nativeWays = BACKEND === 'dgram' ? [] : DETACH_WAYS;
for (const way of nativeWays) {
  test(`detaching batch.bytes.buffer (${way}) then GC: no crash, the socket keeps working (${BACKEND})`, async () => {
    const server = await open({ type: 'udp4', address: '127.0.0.1' });
    const client = await open({ type: 'udp4', address: '127.0.0.1' });
    try {
      assert.equal(server.backend, BACKEND);
      const port = server.address().port;
      const got = new Map<number, Buffer>();
      const echoed: Buffer[] = [];
      let detached: boolean | undefined;
      server.onBatch = (b: RecvBatch) => {
        for (let i = 0; i < b.length; i++) {
          const data = b.copy(i);
          got.set(data[0]! | (data[1]! << 8), data);
          server.reply(b, i); // echo from shared memory
        }
        if (detached === undefined) {
          // The kernel and the addon keep writing into this memory.
          detached = detach(b.bytes.buffer, way);
          if (way === 'v8') assert.equal(detached, true);
          assert.equal(b.bytes.byteLength === 0, detached);
        }
      };
      client.onBatch = (b: RecvBatch) => {
        for (let i = 0; i < b.length; i++) echoed.push(b.copy(i));
      };
      client.send(payload(0), port, '127.0.0.1');
      await waitUntil(() => detached !== undefined, 5000, 'the first batch');
      await collectGarbage();
      // Bursts of 50, each waited for: a socket's receive buffer holds a
      // few hundred small datagrams, and the kernel drops the rest.
      for (let k = 1; k <= 300; k++) {
        client.send(payload(k), port, '127.0.0.1');
        if (k % 50 === 0) await waitUntil(() => got.size === k + 1 && echoed.length === k + 1, 10_000, `datagrams and echoes up to ${k}`);
      }
      for (let k = 0; k <= 300; k++) assert.deepEqual(got.get(k), payload(k), `datagram ${k}`);
      assert.equal(server.stats().packetsIn, 301); // the remapped counters
      await collectGarbage();
    } finally {
      await closeBoth(server, client);
    }
  });
}

test(`a view kept past close, then detached and collected: no crash (${BACKEND})`, async () => {
  const server = await open({ type: 'udp4', address: '127.0.0.1' });
  const client = await open({ type: 'udp4', address: '127.0.0.1' });
  let kept: Uint8Array | undefined;
  server.onBatch = (b) => {
    kept ??= b.bytes;
  };
  client.send(Buffer.from('x'), server.address().port, '127.0.0.1');
  await waitUntil(() => kept !== undefined, 5000, 'a batch');
  await closeBoth(server, client);
  assert.equal(detach(kept!.buffer, 'v8'), true);
  await collectGarbage();
  // Still closed, and the thread's reactor still works: a round trip on new sockets.
  assert.equal(server.isOpen, false);
  assert.throws(() => server.send(Buffer.from('x'), 9, '127.0.0.1'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  await udpMarker();
});

const dgramWays: DetachWay[] = BACKEND === 'dgram' ? ['structuredClone', 'postMessage', 'v8'] : [];
for (const way of dgramWays) {
  test(`dgram backend: a detached buffer (${way}) ends the socket with ERR_IOURING_NET_MEMORY_DETACHED`, async () => {
    const server = await open({ type: 'udp4', address: '127.0.0.1' });
    const client = await open({ type: 'udp4', address: '127.0.0.1' });
    try {
      const errors: (Error & { code?: string })[] = [];
      server.on('error', (e) => errors.push(e));
      let batches = 0;
      server.onBatch = (b) => {
        batches++;
        if (batches === 1) assert.equal(detach(b.bytes.buffer, way), true);
      };
      const gone = closed(server, 10_000);
      const port = server.address().port;
      client.send(payload(1), port, '127.0.0.1');
      await waitUntil(() => batches === 1, 5000, 'the first batch');
      await collectGarbage();
      client.send(payload(2), port, '127.0.0.1');
      await gone; // it closes by itself
      assert.deepEqual(
        errors.map((e) => e.code),
        ['ERR_IOURING_NET_MEMORY_DETACHED'],
      );
      assert.equal(batches, 1);
    } finally {
      await closeBoth(server, client);
    }
  });
}
