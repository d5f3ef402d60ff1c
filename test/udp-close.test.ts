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
import { closed, openFds, waitUntil, open, udpMarker } from './helpers.js';

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
  const whenClosed = closed(a);
  a.close(() => {
    closedAt = order;
  });
  await whenClosed;
  await waitUntil(() => closedAt >= 0, 5000, 'close callback');
  assert.ok(accepted > 0, 'sends were accepted');
  assert.equal(calls.size, accepted);
  for (const [, count] of calls) assert.equal(count, 1);
  // Nothing more arrives later: a datagram's round trip on other sockets,
  // started after 'close', has since completed.
  await udpMarker();
  assert.equal(calls.size, accepted);
  for (const [, count] of calls) assert.equal(count, 1);
  await new Promise<void>((r) => sink.close(r));
});

test('no batch after close(), even when packets were already received', async () => {
  let batches = 0;
  let afterClose = 0;
  let closing = false;
  const b = await open({ type: 'udp4', address: '127.0.0.1' });
  const a: UdpSocket = await open({
    type: 'udp4',
    address: '127.0.0.1',
    onBatch: () => {
      if (closing) {
        afterClose++;
        return;
      }
      batches++;
      if (batches !== 1) return;
      // Inside the first batch: more datagrams go out and a is closed in
      // the same turn. On io_uring the sends and the close reach the
      // kernel in one enter, sends first, so a's receive completes for
      // them before it is cancelled: packets received, never delivered.
      for (let i = 0; i < 100; i++) b.send(Buffer.from('y'), a.address().port, '127.0.0.1');
      closing = true;
      a.close();
    },
  });
  const whenClosed = closed(a);
  for (let i = 0; i < 100; i++) b.send(Buffer.from('x'), a.address().port, '127.0.0.1');
  await whenClosed;
  assert.equal(batches, 1, 'a batch arrived before close()');
  assert.equal(closing, true);
  // And none after, even later: a marker round trip has since completed.
  await udpMarker();
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

/**
 * What RSS may grow by besides our own memory: under the ASan addon
 * (scripts/test-asan-addon.sh), AddressSanitizer keeps freed memory in a
 * quarantine to catch use-after-free, up to quarantine_size_mb (the script
 * sets it explicitly: 256, ASan's default). Measured here for 2,000
 * cycles: 3-4 MiB without ASan on io_uring and mmsg; 160-170 MiB with it,
 * 16 MiB with a 1 MiB quarantine.
 */
function asanQuarantineBytes(): number {
  if (!/libasan/.test(process.env.LD_PRELOAD ?? '')) return 0;
  const mb = /(?:^|:)quarantine_size_mb=(\d+)/.exec(process.env.ASAN_OPTIONS ?? '')?.[1];
  return (mb === undefined ? 256 : Number(mb)) * 1024 * 1024;
}

/** Native objects (sockets) the thread's reactor holds: reactorInfo()[4]. */
function reactorObjects(s: UdpSocket): number {
  return (s as unknown as { native: { reactorInfo(): number[] } }).native.reactorInfo()[4] ?? -1;
}

test('2,000 bind/close cycles with traffic: no fd growth, no object left, RSS bounded', async () => {
  const peer = await open({ type: 'udp4', address: '127.0.0.1' });
  try {
    const fds0 = openFds();
    const objects0 = reactorObjects(peer);
    assert.ok(objects0 >= 1, `the reactor holds the peer (${objects0})`);
    const rss0 = process.memoryUsage().rss;
    for (let i = 0; i < 2000; i++) {
      let got = 0;
      const s = await open({ type: 'udp4', address: '127.0.0.1', recvBuffers: 16, onBatch: (b) => void (got += b.length) });
      peer.send(Buffer.from(`cycle ${i}`), s.address().port, '127.0.0.1');
      await waitUntil(() => got === 1, 5000, `datagram of cycle ${i}`);
      const c = closed(s);
      s.close();
      await c;
    }
    const grew = process.memoryUsage().rss - rss0;
    assert.equal(openFds(), fds0, 'fd count returned to where it started');
    // The native object goes once 'close' has been handed to JS.
    await waitUntil(() => reactorObjects(peer) === objects0, 5000, `every closed socket to leave the reactor (${reactorObjects(peer)} objects, ${objects0} before)`);
    const limit = 96 * 1024 * 1024 + asanQuarantineBytes();
    assert.ok(grew < limit, `RSS grew by ${(grew / 1048576).toFixed(1)} MiB (limit ${(limit / 1048576).toFixed(0)} MiB)`);
  } finally {
    // Also after a failure: an open socket would keep this file's process alive.
    await new Promise<void>((r) => peer.close(r));
  }
});
