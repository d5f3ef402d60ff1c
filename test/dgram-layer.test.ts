/**
 * The node:dgram layer's own guarantees, beyond what the parity table shows:
 * sends stay batched, no accepted send is lost when the send ring is full,
 * nothing follows 'close', the process lifetime rules, interoperation with
 * node:dgram peers, an adopted fd's lifetime, and the documented
 * differences fail clearly.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as nodeDgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { fstatSync } from 'node:fs';
import { loadBinding } from '../src/core/binding.js';
import { kStateSymbol } from '../src/dgram/handles.js';
import { createSocket, type Socket } from '../src/dgram/socket.js';
import * as index from '../src/index.js';
import { openUdp } from '../src/index.js';
import { BACKEND, openFds, waitUntil, within } from './helpers.js';

const child = fileURLToPath(new URL('./dgram-child.js', import.meta.url));
const rssChild = fileURLToPath(new URL('./rss-child.js', import.meta.url));
const hasV6Loopback = Object.values(networkInterfaces()).some((list) => list?.some((i) => i.address === '::1'));

type AnySocket = Socket | nodeDgram.Socket;

function bound<T extends AnySocket>(s: T, address = '127.0.0.1'): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('bind timed out')), 5000);
    (s as Socket).bind(0, address, () => {
      clearTimeout(t);
      resolve(s);
    });
  });
}

function closeAll(...socks: AnySocket[]): Promise<void> {
  return Promise.all(
    socks.map(
      (s) =>
        new Promise<void>((resolve) => {
          try {
            (s as Socket).close(() => resolve());
          } catch {
            resolve();
          }
        }),
    ),
  ).then(() => undefined);
}

test("'iouring-net/dgram' has node:dgram's module shape; the package root exports createSocket too", async () => {
  const entry = (await import('iouring-net/dgram')) as typeof import('../src/dgram/entry.js');
  assert.equal(entry.createSocket, createSocket);
  assert.equal(entry.default.createSocket, createSocket);
  assert.equal(entry.default.Socket, entry.Socket);
  assert.equal(index.createSocket, createSocket);
  const s = index.createSocket('udp4');
  assert.ok(s instanceof index.DgramSocket);
  s.close();
});

/** The first datagram from a fresh socket to rx has arrived: rx's receive is armed and settled. */
async function roundTrip(rx: Socket, what: string): Promise<void> {
  const tx = await bound(createSocket('udp4'));
  try {
    const tag = `${what}-${process.pid}`;
    const got = new Promise<void>((resolve) => {
      const on = (m: Buffer): void => {
        if (m.toString() !== tag) return;
        rx.off('message', on);
        resolve();
      };
      rx.on('message', on);
    });
    tx.send(tag, rx.address().port, '127.0.0.1');
    await within(got, 5000, `the ${what} datagram`);
  } finally {
    await closeAll(tx);
  }
}

// stats().enters counts the enters of this thread's ring, shared by every
// socket. io_uring sockets submit through it. mmsg sockets send and
// receive with sendmmsg/recvmmsg, but each dispatch still reaps the ring
// (one enter) when the thread has one: batching keeps that count low too.
// dgram sockets (node:dgram) have no native reactor: the counter is 0.
const entersTitle =
  BACKEND === 'dgram'
    ? 'the dgram backend has no ring: stats().enters stays 0 while datagrams flow'
    : 'sends of one JS turn reach the kernel in a few io_uring_enter calls, not one per datagram';

test(entersTitle, async () => {
  const probe = openUdp({ type: 'udp4', address: '127.0.0.1' });
  const rx = await bound(createSocket('udp4'));
  const tx = await bound(createSocket('udp4'));
  try {
    await probe.ready;
    assert.equal(probe.backend, BACKEND);
    let got = 0;
    rx.on('message', () => got++);
    // Start-up (binds, the first receive armed) is over once a datagram made it.
    await roundTrip(rx, 'warm-up');
    got = 0;
    const before = probe.stats().enters;
    const n = 200;
    let acked = 0;
    for (let i = 0; i < n; i++) tx.send(`d${i}`, rx.address().port, '127.0.0.1', () => acked++);
    await waitUntil(() => acked === n && got === n, 5000, `${n} sends and receives (acked ${acked}, got ${got})`);
    const enters = probe.stats().enters - before;
    if (BACKEND === 'dgram') {
      assert.equal(before, 0);
      assert.equal(enters, 0);
    } else {
      if (BACKEND === 'io_uring') assert.ok(enters >= 1, 'the sends went through the ring');
      assert.ok(enters < n / 4, `${enters} io_uring_enter calls for ${n} datagrams sent and received`);
    }
  } finally {
    probe.close();
    await closeAll(rx, tx);
  }
});

test('a burst larger than the send ring waits in JS and all of it is sent, in order', async () => {
  // The receiver is a batch socket with room for the whole burst.
  const got: string[] = [];
  const rx = openUdp({
    type: 'udp4',
    address: '127.0.0.1',
    recvBuffers: 8192,
    maxMessageSize: 1024,
    onBatch: (b) => {
      for (let i = 0; i < b.length; i++) got.push(b.copy(i).subarray(0, 8).toString().trim());
    },
  });
  const tx = await bound(createSocket('udp4'));
  try {
    const n = 3000;
    const results: (Error | null)[] = [];
    const bytes: number[] = [];
    // One buffer, rewritten after every send: each send must have copied it.
    const payload = Buffer.alloc(1000, 0x20);
    for (let i = 0; i < n; i++) {
      payload.fill(0x20, 0, 8);
      payload.write(String(i));
      tx.send(payload, rx.address().port, '127.0.0.1', (err, len) => {
        results.push(err);
        bytes.push(len ?? -1);
      });
    }
    // 3,000 kB do not fit in the 256 kB send ring: most of the burst waits.
    assert.ok(tx.getSendQueueCount() > n / 2, `queued: ${tx.getSendQueueCount()}`);
    assert.equal(tx.getSendQueueSize(), tx.getSendQueueCount() * 1000);
    await waitUntil(() => results.length === n, 10_000, `all callbacks (${results.length})`);
    assert.ok(results.every((e) => e === null));
    assert.ok(bytes.every((b) => b === 1000));
    assert.equal(tx.getSendQueueCount(), 0);
    assert.equal(tx.getSendQueueSize(), 0);
    // The kernel's drop count comes with each received datagram: a last
    // one brings the final count.
    tx.send('end', rx.address().port, '127.0.0.1');
    await waitUntil(() => got.at(-1) === 'end', 5000, `the end marker (${got.length} + ${rx.stats().drops} dropped)`);
    got.pop();
    // The receiver shares this thread's ring, so its socket queue may
    // overflow between two enters (node:dgram's would too); what arrives
    // must be in send order, each datagram once.
    const seq = got.map(Number);
    assert.ok(seq.length > 0);
    for (let i = 1; i < seq.length; i++) assert.ok((seq[i] ?? 0) > (seq[i - 1] ?? 0), `out of order at ${i}: ${seq[i - 1]} then ${seq[i]}`);
    // node:dgram (the dgram backend) cannot see the kernel's drop counter.
    if (BACKEND !== 'dgram') {
      assert.equal(seq.length + rx.stats().drops, n, 'every datagram either arrived or was counted as dropped by the receiver');
    }
  } finally {
    rx.close();
    await closeAll(tx);
  }
});

test("nothing follows 'close': each send callback fires at most once, all before 'close'", async () => {
  const rx = await bound(createSocket('udp4'));
  rx.on('message', () => undefined);
  // Closed in the same turn, no callback may come at all; later, most do.
  let totalEvents = 0;
  for (const delayTurns of [0, 1, 2, 5]) {
    const tx = await bound(createSocket('udp4'));
    const calls = new Map<number, number>();
    let closedAt = -1;
    let events = 0;
    for (let i = 0; i < 500; i++) {
      tx.send(Buffer.alloc(200, i & 0xff), rx.address().port, '127.0.0.1', () => {
        calls.set(i, (calls.get(i) ?? 0) + 1);
        events++;
        assert.equal(closedAt, -1, 'a send callback after close');
      });
    }
    for (let k = 0; k < delayTurns; k++) await new Promise((r) => setImmediate(r));
    await new Promise<void>((resolve) =>
      tx.close(() => {
        closedAt = events;
        resolve();
      }),
    );
    totalEvents += events;
    for (const [, n] of calls) assert.equal(n, 1);
    // Nothing after close: a datagram sent after it has since come through rx.
    await roundTrip(rx, `marker-${delayTurns}`);
    for (const [, n] of calls) assert.equal(n, 1);
    assert.equal(events, closedAt, 'callbacks after close');
  }
  assert.ok(totalEvents > 0, 'send callbacks fired in some round: the checks above are not vacuous');
  await closeAll(rx);
});

test('interoperates with node:dgram peers (udp4 and udp6)', async () => {
  const cases: ['udp4' | 'udp6', string][] = [['udp4', '127.0.0.1']];
  if (hasV6Loopback) cases.push(['udp6', '::1']);
  for (const [type, host] of cases) {
    const server = await bound(createSocket(type), host);
    server.on('message', (msg, rinfo) => server.send(Buffer.concat([Buffer.from('echo:'), msg]), rinfo.port, rinfo.address));
    const client = await bound(nodeDgram.createSocket(type), host);
    const reply = new Promise<[Buffer, nodeDgram.RemoteInfo]>((resolve) => client.once('message', (m, r) => resolve([m, r])));
    client.send('hi', server.address().port, host);
    const [msg, rinfo] = await reply;
    assert.equal(msg.toString(), 'echo:hi');
    assert.equal(rinfo.port, server.address().port);
    assert.equal(rinfo.address, host);
    // And the other way round: our client, node:dgram's server.
    const nodeServer = await bound(nodeDgram.createSocket(type), host);
    nodeServer.on('message', (m, r) => nodeServer.send(m, r.port, r.address));
    const ours = createSocket(type);
    const back = new Promise<Buffer>((resolve) => ours.once('message', (m) => resolve(m)));
    ours.send(Buffer.alloc(3000, 7), nodeServer.address().port, host);
    assert.deepEqual(await back, Buffer.alloc(3000, 7));
    await closeAll(server, client, nodeServer, ours);
  }
});

test('multicast calls fail exactly like node:dgram on bad input', async () => {
  const ours = await bound(createSocket('udp4'));
  const theirs = nodeDgram.createSocket('udp4');
  await new Promise<void>((r) => theirs.bind(0, '127.0.0.1', r));
  const outcome = (fn: () => unknown): string => {
    try {
      return `ok ${String(fn())}`;
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      return `${err.name} ${err.code} ${err.syscall ?? ''} ${err.message}`;
    }
  };
  try {
    const cases: ((s: nodeDgram.Socket | Socket) => unknown)[] = [
      (s) => s.addMembership('bogus'),
      (s) => s.addMembership('ff02::1'),
      (s) => s.dropMembership('239.1.2.3'), // never joined
      (s) => s.addSourceSpecificMembership('bogus', '232.1.2.3'),
      (s) => s.setMulticastInterface('not-an-ip'),
      (s) => s.setMulticastTTL(4),
      (s) => s.setMulticastLoopback(false),
    ];
    for (const c of cases) {
      assert.equal(outcome(() => c(ours)), outcome(() => c(theirs)), c.toString());
    }
  } finally {
    await closeAll(ours);
    await new Promise<void>((r) => theirs.close(r));
  }
});

test('bind({ fd }) takes the fd; close() releases it and the handle made for child_process', async () => {
  const fds0 = openFds();
  const made = (nodeDgram as unknown as { _createSocketHandle: (a: string, p: number, t: string) => { fd: number; close(): void } })._createSocketHandle(
    '127.0.0.1',
    0,
    'udp4',
  );
  const fd = loadBinding().binding?.fdDup?.(made.fd) ?? -1;
  made.close();
  assert.ok(fd >= 0, `a UDP fd to adopt: ${fd}`);
  const s = createSocket('udp4');
  let listening = false;
  s.bind({ fd }, () => (listening = true));
  assert.ok(listening, "'listening' before bind() returns");
  try {
    // What child_process reads to pass the socket: a handle on a duplicate
    // (on the dgram backend, node:dgram's own socket's handle).
    const state = (s as unknown as Record<symbol, { handle: { fd: number } }>)[kStateSymbol as symbol];
    const dup = BACKEND !== 'dgram';
    assert.ok(state && state.handle.fd >= 0 && (state.handle.fd !== fd) === dup);
    assert.equal(openFds(), fds0 + (dup ? 2 : 1));
  } finally {
    await closeAll(s);
  }
  assert.throws(() => fstatSync(fd), { code: 'EBADF' });
  assert.equal(openFds(), fds0);
});

test('the iouring option reaches the socket underneath', async () => {
  const rx = createSocket({ type: 'udp4', iouring: { maxMessageSize: 100, recvBuffers: 4 } });
  await bound(rx);
  const tx = createSocket('udp4');
  try {
    const got = new Promise<Buffer>((resolve) => rx.once('message', (m) => resolve(m)));
    tx.send(Buffer.alloc(300, 1), rx.address().port, '127.0.0.1');
    // Cut to maxMessageSize (the default, 65,535, never cuts a UDP datagram).
    assert.equal((await got).length, 100);
  } finally {
    await closeAll(rx, tx);
  }
});

test('a bad iouring option is an error event at bind time', async () => {
  const s = createSocket({ type: 'udp4', iouring: { recvBuffers: 3 } });
  const err = await new Promise<Error & { code?: string }>((resolve) => {
    s.once('error', resolve);
    s.bind(0, '127.0.0.1');
  });
  assert.equal(err.code, 'ERR_INVALID_ARG_VALUE');
  await closeAll(s);
});

/** Run dgram-child.js; it must exit by itself (the timeout is a hang guard). */
function runChild(which: string): { out: string; status: number | null } {
  const r = spawnSync(process.execPath, [child, which], { timeout: 30_000, encoding: 'utf8' });
  assert.equal(r.error, undefined, `hang guard: child ${which} did not exit within 30 s: ${String(r.error)}`);
  return { out: r.stdout.trim(), status: r.status };
}

test('process lifetime: a bound socket keeps it alive until close or unref; an unbound one does not', () => {
  // Each case must end by itself: its own unref'd guard timer prints
  // 'still alive' and exits 3 if it does not (dgram-child.ts).
  const unref = runChild('bound-unref');
  assert.deepEqual([unref.out, unref.status], ['bound', 0]);
  const early = runChild('unref-before-bind');
  assert.deepEqual([early.out, early.status], ['bound', 0]);
  const ref = runChild('bound-ref');
  assert.deepEqual([ref.out, ref.status], ['bound\nclosing', 0]);
  const unbound = runChild('unbound');
  assert.deepEqual([unbound.out, unbound.status], ['created', 0]);
});

test('a throwing message listener is an uncaught exception; the rest of the batch is delivered', () => {
  const r = runChild('listener-throws');
  const lines = r.out.split('\n');
  assert.ok(lines.includes('uncaught boom'), r.out);
  assert.ok(lines.includes('got a,b,c,d'), r.out);
  assert.equal(r.status, 0);
});

test('memory stays modest: 20 bound sockets receiving small datagrams', () => {
  // Measured in a fresh process: here, earlier tests' garbage moves RSS by
  // tens of MiB and made this flaky under load.
  const r = spawnSync(process.execPath, [rssChild], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const grew = Number(r.stdout.trim());
  assert.ok(Number.isFinite(grew) && grew > 0, r.stdout);
  // About one page per receive slot (64) plus the touched part of the send ring.
  assert.ok(grew < 40 * 1024 * 1024, `RSS grew by ${(grew / 1048576).toFixed(1)} MiB for 20 sockets`);
});
