/**
 * The close contract: close() cancels everything in flight, every accepted
 * send's callback fires exactly once, nothing follows 'close', and fds and
 * memory are released, also under load.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import type { UdpSocket } from '../src/index.js';
import { closed, openFds, waitUntil, open } from './helpers.js';

const flooderPath = fileURLToPath(new URL('./flooder.js', import.meta.url));

function startFlooder(port: number, seconds: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [flooderPath, String(port), String(seconds)], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', () => resolve(child));
    child.once('error', reject);
  });
}

test('every send callback fires exactly once, before close; none after', async () => {
  const a = await open({ type: 'udp4', address: '127.0.0.1' });
  const sink = await open({ type: 'udp4', address: '127.0.0.1', onBatch: () => {} });
  const port = sink.address().port;
  const calls = new Map<number, number>();
  let closedAt = -1;
  let order = 0;
  const n = 500;
  let accepted = 0;
  for (let i = 0; i < n; i++) {
    const ok = a.send(Buffer.alloc(100, i & 0xff), port, '127.0.0.1', () => {
      calls.set(i, (calls.get(i) ?? 0) + 1);
      order++;
      assert.equal(closedAt, -1, 'callback after close');
    });
    if (ok) accepted++;
  }
  a.close(() => {
    closedAt = order;
  });
  await closed(a).catch(() => undefined);
  await waitUntil(() => closedAt >= 0, 5000, 'close callback');
  assert.equal(calls.size, accepted);
  for (const [, count] of calls) assert.equal(count, 1);
  // Nothing more arrives later.
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(calls.size, accepted);
  await new Promise<void>((r) => sink.close(r));
});

test('no batch after close(), even when packets were already received', async () => {
  let afterClose = 0;
  let closing = false;
  const a: UdpSocket = await open({
    type: 'udp4',
    address: '127.0.0.1',
    onBatch: () => {
      if (closing) afterClose++;
    },
  });
  const b = await open({ type: 'udp4', address: '127.0.0.1' });
  for (let i = 0; i < 100; i++) b.send(Buffer.from('x'), a.address().port, '127.0.0.1');
  await new Promise((r) => setImmediate(r));
  closing = true;
  a.close();
  await closed(a);
  assert.equal(afterClose, 0);
  await new Promise<void>((r) => b.close(r));
});

test('100 closes while a peer floods the socket', async () => {
  const fds0 = openFds();
  const first = await open({ type: 'udp4', address: '127.0.0.1', reuseAddr: true });
  const port = first.address().port;
  first.close();
  await closed(first);
  const flooder = await startFlooder(port, 60);
  try {
    let received = 0;
    for (let i = 0; i < 100; i++) {
      let mine = 0;
      const s = await open({
        type: 'udp4',
        address: '127.0.0.1',
        port,
        reuseAddr: true,
        onBatch: (b) => {
          mine += b.length;
          received += b.length;
        },
      });
      // Let the flood in, put a send in flight, then close mid-stream.
      await waitUntil(() => mine > 0, 5000, `flood on socket ${i}`);
      s.send(Buffer.from('bye'), port, '127.0.0.1');
      s.close();
      await closed(s);
    }
    assert.ok(received > 0, 'the flood reached the sockets');
  } finally {
    flooder.stdin!.end();
    await new Promise((r) => flooder.once('exit', r));
  }
  assert.equal(openFds(), fds0, 'fd count returned to where it started');
});

test('2,000 bind/close cycles with traffic: no fd growth, RSS bounded', async () => {
  const peer = await open({ type: 'udp4', address: '127.0.0.1' });
  const fds0 = openFds();
  const rss0 = process.memoryUsage().rss;
  for (let i = 0; i < 2000; i++) {
    let got = 0;
    const s = await open({ type: 'udp4', address: '127.0.0.1', recvBuffers: 16, onBatch: (b) => void (got += b.length) });
    peer.send(Buffer.from(`cycle ${i}`), s.address().port, '127.0.0.1');
    await waitUntil(() => got === 1, 5000, `datagram of cycle ${i}`);
    s.close();
    await closed(s);
  }
  const grew = process.memoryUsage().rss - rss0;
  assert.equal(openFds(), fds0, 'fd count returned to where it started');
  assert.ok(grew < 96 * 1024 * 1024, `RSS grew by ${grew} bytes`);
  await new Promise<void>((r) => peer.close(r));
});
