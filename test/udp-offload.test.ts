/**
 * UDP GSO and GRO (io_uring and mmsg backends): runs of equal datagrams to
 * one peer leave in one sendmsg; GRO receives are split back into
 * datagrams. On the dgram backend the options are accepted and change
 * nothing, which the same tests show (offloads report false, every
 * datagram arrives whole).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BACKEND, collector, open, waitUntil, type Received } from './helpers.js';
import { Netns, tunSkipReason } from './netns.js';

/** The addon's backends have the offloads; node:dgram has none. */
const RING = BACKEND !== 'dgram';
const child = fileURLToPath(new URL('./offload-child.js', import.meta.url));

/** Datagram k of a test: its index in the first two bytes, then a pattern. */
function datagram(k: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (k * 7 + i) & 0xff;
  if (size >= 2) b.writeUInt16BE(k, 0);
  return b;
}

/** Sent after a test's datagrams: index 0xffff, which no test uses. */
const MARKER = Buffer.from([0xff, 0xff, 0x4d]);

/** Sizes with runs GSO can group, breaks it must respect, and a 0-byte datagram. */
const SIZES = [
  ...Array<number>(40).fill(1200),
  700, // shorter: ends the run
  ...Array<number>(10).fill(300),
  1200,
  1200,
  0, // never grouped
  5,
  ...Array<number>(70).fill(100), // longer than one run (64)
];

interface Case {
  gso?: boolean;
  gro?: boolean;
  receiveMode?: 'single' | 'auto';
  maxMessageSize?: number;
  v6?: boolean;
}

async function sendAndCollect(opts: Case, sizes: number[]) {
  const type = opts.v6 ? 'udp6' : 'udp4';
  const host = opts.v6 ? '::1' : '127.0.0.1';
  const rx = await open({ type, address: host, recvBuffers: 64, ...(opts.gro !== undefined ? { gro: opts.gro } : {}), ...(opts.receiveMode ? { receiveMode: opts.receiveMode } : {}), ...(opts.maxMessageSize ? { maxMessageSize: opts.maxMessageSize } : {}) });
  const tx = await open({ type, address: host, ...(opts.gso !== undefined ? { gso: opts.gso } : {}) });
  const got: Received[] = [];
  rx.onBatch = collector(got);
  try {
    const port = rx.address().port;
    sizes.forEach((size, k) => assert.equal(tx.send(datagram(k, size), port, host), true));
    await waitUntil(() => got.length >= sizes.length, 5000, `${sizes.length} datagrams`);
    // Nothing more may come (no datagram twice, no GRO segment split
    // wrong): a marker sent afterwards, from the same socket and so behind
    // all of them on loopback, must be the very next datagram.
    let markerSent = false;
    assert.equal(tx.send(MARKER, port, host, () => (markerSent = true)), true);
    await waitUntil(() => markerSent && got.some((r) => r.data.equals(MARKER)), 5000, 'the marker datagram and its send callback');
    assert.equal(got.length, sizes.length + 1, 'the marker is the only datagram after the last one');
    assert.deepEqual(got.pop()?.data, MARKER, 'the marker came next');
    // Counters without the marker: one datagram each way, never grouped
    // (a run of one) nor coalesced, never cut (3 bytes).
    const txStats = tx.stats();
    const rxStats = rx.stats();
    txStats.packetsOut--;
    rxStats.packetsIn--;
    return { got, txStats, rxStats, txOff: tx.offloads, rxOff: rx.offloads };
  } finally {
    rx.close();
    tx.close();
  }
}

function assertAllWhole(got: Received[], sizes: number[]): void {
  assert.equal(got.length, sizes.length);
  got.forEach((r, k) => {
    assert.equal(r.truncated, false, `datagram ${k} truncated`);
    assert.deepEqual(r.data, datagram(k, sizes[k] ?? 0), `datagram ${k} (${sizes[k]} bytes) differs or is out of order`);
  });
}

test(`GSO: runs of equal datagrams go out together, each arrives whole and in order (${BACKEND})`, async () => {
  const r = await sendAndCollect({}, SIZES);
  assertAllWhole(r.got, SIZES);
  assert.equal(r.txStats.packetsOut, SIZES.length);
  assert.equal(r.txStats.sendErrors, 0);
  assert.deepEqual(r.txOff, { gso: RING, gro: false });
  // Runs: 40+700, 10x300, 1200+1200, 70x100 (64 + 6): at least 4 sendmsg with several datagrams.
  if (RING) assert.ok(r.txStats.gsoSends >= 4, `gsoSends ${r.txStats.gsoSends}`);
  else assert.equal(r.txStats.gsoSends, 0);
  assert.equal(r.txStats.gsoFallbacks, 0);
});

test(`GSO off: every datagram is its own sendmsg (${BACKEND})`, async () => {
  const r = await sendAndCollect({ gso: false }, SIZES);
  assertAllWhole(r.got, SIZES);
  assert.equal(r.txStats.gsoSends, 0);
  assert.deepEqual(r.txOff, { gso: false, gro: false });
});

test(`GSO never groups datagrams to different destinations (${BACKEND})`, async () => {
  const a = await open({ type: 'udp4', address: '127.0.0.1' });
  const b = await open({ type: 'udp4', address: '127.0.0.1' });
  const tx = await open({ type: 'udp4', address: '127.0.0.1' });
  const ga: Received[] = [];
  const gb: Received[] = [];
  a.onBatch = collector(ga);
  b.onBatch = collector(gb);
  try {
    for (let k = 0; k < 60; k++) tx.send(datagram(k, 500), (k % 2 ? b : a).address().port, '127.0.0.1');
    await waitUntil(() => ga.length + gb.length >= 60, 5000, '60 datagrams');
    assert.deepEqual(ga.map((r) => r.data.readUInt16BE(0)), Array.from({ length: 30 }, (_, i) => 2 * i));
    assert.deepEqual(gb.map((r) => r.data.readUInt16BE(0)), Array.from({ length: 30 }, (_, i) => 2 * i + 1));
    assert.equal(tx.stats().gsoSends, 0);
  } finally {
    a.close();
    b.close();
    tx.close();
  }
});

for (const mode of ['auto', 'single'] as const) {
  test(`GRO (${mode} receives): coalesced receives are split into datagrams (${BACKEND})`, async () => {
    const r = await sendAndCollect({ gro: true, receiveMode: mode }, SIZES);
    assertAllWhole(r.got, SIZES);
    assert.equal(r.rxStats.packetsIn, SIZES.length);
    assert.deepEqual(r.rxOff, { gso: RING, gro: RING });
    // Over loopback a GSO send reaches a GRO socket still coalesced.
    if (RING) assert.ok(r.rxStats.groReceives >= 1, `groReceives ${r.rxStats.groReceives}`);
    else assert.equal(r.rxStats.groReceives, 0);
  });
}

test(`GSO and GRO over IPv6 (${BACKEND})`, async () => {
  const r = await sendAndCollect({ gro: true, v6: true }, SIZES);
  assertAllWhole(r.got, SIZES);
  r.got.forEach((g) => assert.equal(g.address, '::1'));
  if (RING) assert.ok(r.txStats.gsoSends >= 4 && r.rxStats.groReceives >= 1, JSON.stringify(r.rxStats));
  else assert.deepEqual([r.txStats.gsoSends, r.rxStats.groReceives], [0, 0]);
});

test(`GRO: datagrams longer than maxMessageSize are cut one by one and flagged (${BACKEND})`, async () => {
  const sizes = Array<number>(20).fill(1000);
  const r = await sendAndCollect({ gro: true, maxMessageSize: 600 }, sizes);
  assert.equal(r.got.length, 20);
  r.got.forEach((g, k) => {
    assert.equal(g.truncated, true);
    assert.deepEqual(g.data, datagram(k, 1000).subarray(0, 600));
  });
  assert.equal(r.rxStats.truncated, 20);
});

test(`GSO refused by the route (segment over the MTU): sent one by one, nothing lost (${BACKEND})`, { skip: tunSkipReason() }, async () => {
  const ns = Netns.create('gso');
  try {
    ns.ip('link', 'set', 'lo', 'mtu', '1500');
    const res = await ns.exec(process.execPath, [child], 20_000);
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout.trim()) as Record<string, number>;
    assert.equal(out.good, 40, res.stdout);
    assert.equal(out.bad, 0);
    assert.equal(out.sendErrors, 0);
    if (RING) {
      // The first burst was refused once, then sent alone; the socket remembers.
      assert.equal(out.fallbacksFirst, 1, res.stdout);
      assert.equal(out.fallbacksSecond, 1, res.stdout);
      assert.equal(out.gsoSends, 0);
    } else {
      assert.equal(out.fallbacksSecond, 0);
    }
  } finally {
    ns.destroy();
  }
});
