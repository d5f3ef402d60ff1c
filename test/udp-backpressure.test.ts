/**
 * Backpressure: memory stays bounded whatever the caller does. When the
 * send queue is full send() returns false (the packet is not taken), and
 * 'drain' says when to go on. Every accepted packet is sent.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { waitUntil, open } from './helpers.js';

test('send() refuses when the queue is full, then drain; nothing accepted is lost', async () => {
  let received = 0;
  const rx = await open({ type: 'udp4', address: '127.0.0.1', recvBufferSize: 8 << 20, onBatch: (b) => void (received += b.length) });
  const tx = await open({ type: 'udp4', address: '127.0.0.1', sendQueueSize: 16, sendBufferBytes: 4096 });
  const ep = tx.endpoint('127.0.0.1', rx.address().port);
  const payload = Buffer.alloc(200, 1);
  let accepted = 0;
  let refusals = 0;
  let drains = 0;
  tx.on('drain', () => drains++);
  const target = 2000;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('stalled')), 10_000);
    const pump = (): void => {
      while (accepted < target) {
        if (!tx.sendTo(payload, ep)) {
          refusals++;
          tx.once('drain', pump);
          return;
        }
        accepted++;
      }
      clearTimeout(t);
      resolve();
    };
    pump();
  });
  assert.ok(refusals > 0, 'the small queue filled up at least once');
  assert.ok(drains > 0, "'drain' was emitted");
  await waitUntil(() => received === target, 10_000, `all ${target} datagrams (got ${received})`);
  assert.equal(tx.stats().packetsOut, target);
  await new Promise<void>((r) => tx.close(r));
  await new Promise<void>((r) => rx.close(r));
});

test('sendMany() reports how many it accepted', async () => {
  const rx = await open({ type: 'udp4', address: '127.0.0.1', onBatch: () => {} });
  const tx = await open({ type: 'udp4', address: '127.0.0.1', sendQueueSize: 8 });
  const list = Array.from({ length: 20 }, (_, i) => Buffer.from(`m${i}`));
  const n = tx.sendMany(list, rx.address().port, '127.0.0.1');
  assert.equal(n, 8);
  await new Promise<void>((r) => tx.once('drain', r));
  assert.equal(tx.sendMany(list.slice(n), rx.address().port, '127.0.0.1') > 0, true);
  await new Promise<void>((r) => tx.close(r));
  await new Promise<void>((r) => rx.close(r));
});
