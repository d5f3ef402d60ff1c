/**
 * The memory a socket shares with the kernel belongs to the addon: JS code
 * that detaches or transfers `batch.bytes.buffer` (structuredClone with
 * transfer, postMessage, ArrayBuffer.prototype.transfer, and V8's own
 * detach) and lets any new owner be collected causes no use-after-free
 * (the ASan run of this file would report it), and the socket keeps
 * working: every datagram sent after the attempt arrives intact, replies
 * go out, the socket closes. Where the attempt really detaches the view
 * (always with V8's detach), the socket remaps a fresh view of the same
 * memory. On the dgram backend the memory is a SharedArrayBuffer, which
 * cannot be detached: transfer lists refuse it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RecvBatch, UdpSocket } from '../src/index.js';
import { DETACH_WAYS, collectGarbage, detach } from './detach.js';
import { BACKEND, closed, open, udpMarker, waitUntil } from './helpers.js';

function payload(k: number): Buffer {
  const b = Buffer.alloc(64 + (k % 200));
  for (let i = 0; i < b.length; i++) b[i] = (k * 31 + i) & 0xff;
  return b;
}

for (const way of DETACH_WAYS) {
  test(`detaching batch.bytes.buffer (${way}) then GC: no crash, the socket keeps working (${BACKEND})`, async () => {
    const server = await open({ type: 'udp4', address: '127.0.0.1' });
    const client = await open({ type: 'udp4', address: '127.0.0.1' });
    try {
      assert.equal(server.backend, BACKEND);
      const port = server.address().port;
      const got = new Map<number, Buffer>();
      const echoed: Buffer[] = [];
      let detachedOnce: boolean | undefined;
      server.onBatch = (b: RecvBatch) => {
        for (let i = 0; i < b.length; i++) {
          const data = b.copy(i);
          got.set(data[0]! | (data[1]! << 8), data);
          server.reply(b, i); // echo from shared memory
        }
        if (detachedOnce === undefined) {
          // The kernel and the addon keep writing into this memory.
          detachedOnce = BACKEND === 'dgram' ? tryDetach(b.bytes.buffer, way) : detach(b.bytes.buffer, way);
          if (way === 'v8' && BACKEND !== 'dgram') assert.equal(detachedOnce, true);
          assert.equal(b.bytes.byteLength === 0, detachedOnce);
        }
      };
      client.onBatch = (b: RecvBatch) => {
        for (let i = 0; i < b.length; i++) echoed.push(b.copy(i));
      };
      const send = (k: number): void => {
        const p = payload(k);
        p[0] = k & 0xff;
        p[1] = k >> 8;
        client.send(p, port, '127.0.0.1');
      };
      send(0);
      await waitUntil(() => detachedOnce !== undefined, 5000, 'the first batch');
      await collectGarbage();
      // Bursts of 50, each waited for: a socket's receive buffer holds a
      // few hundred small datagrams, and the kernel drops the rest.
      for (let k = 1; k <= 300; k++) {
        send(k);
        if (k % 50 === 0) await waitUntil(() => got.size === k + 1 && echoed.length === k + 1, 10_000, `datagrams and echoes up to ${k}`);
      }
      for (let k = 0; k <= 300; k++) {
        const want = payload(k);
        want[0] = k & 0xff;
        want[1] = k >> 8;
        assert.deepEqual(got.get(k), want, `datagram ${k}`);
      }
      const s = server.stats(); // reads the remapped counters
      assert.equal(s.packetsIn, 301);
      await collectGarbage();
    } finally {
      await closeBoth(server, client);
    }
  });
}

function tryDetach(buf: ArrayBufferLike, way: (typeof DETACH_WAYS)[number]): boolean {
  // SharedArrayBuffer: transfer lists refuse it (ERR_INVALID_TRANSFER_OBJECT), and
  // detach() reports that it cannot be detached.
  assert.equal(buf instanceof SharedArrayBuffer, true);
  assert.throws(() => structuredClone(buf, { transfer: [buf as unknown as ArrayBuffer] }), { code: 'ERR_INVALID_TRANSFER_OBJECT' });
  return detach(buf, way);
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
  // The dgram backend's memory is a SharedArrayBuffer: it cannot be detached.
  if (BACKEND === 'dgram') assert.equal(tryDetach(kept!.buffer, 'v8'), false);
  else assert.equal(detach(kept!.buffer, 'v8'), true);
  await collectGarbage();
  // Still closed, and the thread's reactor still works: a round trip on new sockets.
  assert.equal(server.isOpen, false);
  assert.throws(() => server.send(Buffer.from('x'), 9, '127.0.0.1'), { code: 'ERR_SOCKET_DGRAM_NOT_RUNNING' });
  await udpMarker();
});

async function closeBoth(a: UdpSocket, b: UdpSocket): Promise<void> {
  for (const s of [a, b]) {
    if (!s.isOpen) continue;
    const c = closed(s);
    s.close();
    await c;
  }
}
