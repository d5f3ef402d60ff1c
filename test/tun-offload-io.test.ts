/**
 * TUN offloads on a real device (openTun's default offload: 'auto'), in a
 * network namespace, on the backend of the run (io_uring, or poll with
 * IOURING_NET_BACKEND=mmsg); the ASan addon runs this file too:
 *
 * - reads: a UDP GSO send from the namespace towards an address routed to
 *   the device reaches it as one USO super-segment (Linux 6.2+); the
 *   handler sees plain packets, each with correct lengths and checksums
 *   (checked here by an independent RFC 1071 sum), payloads intact;
 * - writes: UDP packets of one flow written in one turn leave in one
 *   coalesced write; the kernel delivers every datagram to a socket in the
 *   namespace and every callback gets its packet's length;
 * - a coalesced write the kernel refuses (injected: tunTestRefuse) turns
 *   UDP coalescing off and the packets go out one by one, none lost;
 * - the offload option: false, packetInfo, bad values, wrapTun of fds
 *   opened with and without IFF_VNET_HDR.
 *
 * Skips (saying why) when not root or without `ip`.
 */
import assert from 'node:assert/strict';
import { closeSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { netdev, openTun, wrapTun, type PacketBatch, type TunDevice } from '../src/index.js';
import { FILE_BACKEND, waitUntil } from './helpers.js';
import { Netns, tunSkipReason, uniqueIfName } from './netns.js';
import { offloadBinding, packetOk, type OffloadExports } from './tun-offload-packets.js';
import { Proc } from './tunnel-pair.js';

const loaded = offloadBinding();
const skip = typeof loaded === 'string' ? loaded : tunSkipReason();
const CHILD = fileURLToPath(new URL('./tun-offload-child.js', import.meta.url));
const COUNT = 24;
const SIZE = 1200;

interface Net {
  ns: Netns;
  dev: TunDevice;
  local: string; // the namespace's address on the device
  peer: string; // an address routed to the device (we play it)
}

function up(v6: boolean, offload: boolean | 'auto' = 'auto'): Net {
  const ns = Netns.create('offio');
  try {
    const dev = openTun({ name: uniqueIfName(), offload });
    assert.equal(dev.backend, FILE_BACKEND);
    const opts = { netns: ns.name };
    netdev.moveToNetns(dev.name, ns.name);
    netdev.addAddress(dev.name, v6 ? 'fd00:78::1/64' : '10.78.0.1/24', opts);
    netdev.linkUp(dev.name, opts);
    return { ns, dev, local: v6 ? 'fd00:78::1' : '10.78.0.1', peer: v6 ? 'fd00:78::2' : '10.78.0.2' };
  } catch (err) {
    ns.destroy();
    throw err;
  }
}

async function down(n: Net): Promise<void> {
  if (n.dev.isOpen) await new Promise<void>((resolve) => n.dev.close(resolve));
  n.ns.destroy();
}

function child(n: Net, args: string[]): Proc {
  return new Proc(['ip', 'netns', 'exec', n.ns.name, process.execPath, CHILD, ...args]);
}

function lastJson<T>(p: Proc): T {
  return JSON.parse(p.stdout.trim().split('\n').pop() ?? '') as T;
}

/** RFC 1071 sum over b[start, end) (independent of the addon). */
function sum16(b: Uint8Array, start: number, end: number, acc = 0): number {
  for (let i = start; i + 1 < end; i += 2) acc += (b[i]! << 8) | b[i + 1]!;
  if ((end - start) & 1) acc += b[end - 1]! << 8;
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/** A UDP packet src:sport -> dst:dport (IPv4 or IPv6) with full checksums. */
function udpPacket(v6: boolean, src: string, dst: string, sport: number, dport: number, payload: Uint8Array, id: number): Buffer {
  const l3 = v6 ? 40 : 20;
  const p = Buffer.alloc(l3 + 8 + payload.length);
  const addr = (a: string): number[] =>
    v6 ? [...Buffer.from(a === 'fd00:78::1' ? 'fd000078000000000000000000000001' : 'fd000078000000000000000000000002', 'hex')] : a.split('.').map(Number);
  if (v6) {
    p.writeUInt32BE(6 << 28, 0);
    p.writeUInt16BE(p.length - 40, 4);
    p[6] = 17;
    p[7] = 64;
    p.set(addr(src), 8);
    p.set(addr(dst), 24);
  } else {
    p[0] = 0x45;
    p.writeUInt16BE(p.length, 2);
    p.writeUInt16BE(id, 4);
    p.writeUInt16BE(0x4000, 6);
    p[8] = 64;
    p[9] = 17;
    p.set(addr(src), 12);
    p.set(addr(dst), 16);
    p.writeUInt16BE(~sum16(p, 0, 20) & 0xffff, 10);
  }
  p.writeUInt16BE(sport, l3);
  p.writeUInt16BE(dport, l3 + 2);
  p.writeUInt16BE(p.length - l3, l3 + 4);
  p.set(payload, l3 + 8);
  const ph = sum16(p, v6 ? 8 : 12, v6 ? 40 : 20) + 17 + (p.length - l3);
  let c = ~sum16(p, l3, p.length, ph) & 0xffff;
  if (c === 0) c = 0xffff;
  p.writeUInt16BE(c, l3 + 6);
  return p;
}

function pattern(i: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let k = 0; k < size; k++) b[k] = (i * 7 + k) & 0xff;
  return b;
}

for (const v6 of [false, true]) {
  const fam = v6 ? 'IPv6' : 'IPv4';

  test(`offloads on by default; a UDP GSO send reaches the handler as plain packets (${fam})`, { skip, timeout: 60_000 }, async () => {
    const n = up(v6);
    try {
      const o = n.dev.offloads;
      assert.equal(o.vnetHdr, true);
      assert.ok(o.csum && o.tso4 && o.tso6 && o.coalesceTcp, JSON.stringify(o));
      assert.equal(o.coalesceUdp, o.uso4 && o.uso6);
      const got: Buffer[] = [];
      let bad = 0;
      n.dev.onBatch = (b: PacketBatch) => {
        for (let i = 0; i < b.length; i++) {
          const d = b.data(i);
          const l3 = v6 ? 40 : 20;
          const proto = v6 ? d[6] : d[9];
          if (proto !== 17 || ((d[l3 + 2]! << 8) | d[l3 + 3]!) !== 9999) continue; // neighbour discovery...
          if (!packetOk(d)) bad++;
          got.push(Buffer.from(d.subarray(l3 + 8)));
        }
      };
      const tx = child(n, ['send', n.peer, '9999', String(COUNT), String(SIZE)]);
      const r = await tx.exit(30_000);
      assert.equal(r.code, 0, tx.stderr);
      const sent = lastJson<{ sent: number; gsoSends: number }>(tx);
      assert.equal(sent.sent, COUNT);
      await waitUntil(() => got.length >= COUNT, 10_000, `${COUNT} packets on the device`);
      assert.equal(bad, 0, 'every packet has right lengths and checksums');
      assert.deepEqual(
        got.map((p) => p.length),
        new Array<number>(COUNT).fill(SIZE),
      );
      for (let i = 0; i < COUNT; i++) assert.ok(got[i]!.equals(pattern(i, SIZE)), `payload ${i} in order and intact`);
      const s = n.dev.stats();
      // A GSO send leaves as one super-segment only if the device takes USO.
      if (o.uso4 && sent.gsoSends > 0) assert.ok(s.superSegmentsIn >= 1, JSON.stringify(s));
      console.log(`${fam}: ${sent.gsoSends} GSO sends, ${s.superSegmentsIn} super-segments read, ${s.packetsIn} packets`);
      assert.equal(s.offloadErrors, 0);
    } finally {
      await down(n);
    }
  });

  for (const refuse of [false, true]) {
    const what = refuse ? 'a refused coalesced write is re-sent packet by packet' : 'UDP writes of one turn leave coalesced';
    test(`${what}; every datagram arrives, every callback gets its length (${fam})`, { skip, timeout: 60_000 }, async (t) => {
      const n = up(v6);
      try {
        if (!n.dev.offloads.coalesceUdp) {
          t.skip('this kernel takes no USO writes (Linux 6.2+)');
          return;
        }
        const rx = child(n, ['recv', n.local, '9998', String(COUNT)]);
        await rx.waitFor(/READY/, 20_000, 'the receiver');
        if (refuse) assert.equal((n.dev.nativeAddon as unknown as OffloadExports & { tunTestRefuse(id: number, k: number): number }).tunTestRefuse(n.dev.nativeId, 1), 0);
        const results: number[] = [];
        for (let i = 0; i < COUNT; i++) {
          const pkt = udpPacket(v6, n.peer, n.local, 5555, 9998, pattern(i, SIZE), 100 + i);
          assert.ok(
            n.dev.write(pkt, (err, bytes) => results.push(err ? -1 : bytes)),
            'the write ring takes it',
          );
        }
        await waitUntil(() => results.length === COUNT, 10_000, 'every write callback');
        assert.deepEqual(results, new Array<number>(COUNT).fill(SIZE + (v6 ? 48 : 28)));
        const r = await rx.exit(20_000);
        assert.equal(r.code, 0, rx.stderr);
        const got = lastJson<{ count: number; good: number; sizes: number[] }>(rx);
        assert.deepEqual(got, { count: COUNT, good: COUNT, sizes: [SIZE] });
        const s = n.dev.stats();
        if (refuse) {
          assert.equal(s.offloadFallbacks, 1);
          assert.equal(n.dev.offloads.coalesceUdp, false, 'UDP coalescing is off after the refusal');
          assert.equal(n.dev.offloads.coalesceTcp, true);
        } else {
          assert.ok(s.coalescedWrites >= 1 && s.coalescedPackets === COUNT, JSON.stringify(s));
          assert.equal(s.offloadFallbacks, 0);
        }
        assert.equal(s.packetsOut, COUNT);
        assert.equal(s.writeErrors, 0);
      } finally {
        await down(n);
      }
    });
  }
}

test('offload: false, packetInfo and bad values', { skip }, async () => {
  const plain = openTun({ name: uniqueIfName(), offload: false });
  const pi = openTun({ name: uniqueIfName(), packetInfo: true });
  try {
    assert.equal(plain.offloads.vnetHdr, false);
    assert.equal(plain.offloads.tso4, false);
    assert.equal(pi.offloads.vnetHdr, false, "'auto' with packetInfo is off");
  } finally {
    await new Promise<void>((resolve) => plain.close(resolve));
    await new Promise<void>((resolve) => pi.close(resolve));
  }
  assert.throws(() => openTun({ offload: true, packetInfo: true }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => openTun({ offload: 'yes' as unknown as boolean }), { code: 'ERR_INVALID_ARG_VALUE' });
  const on = openTun({ name: uniqueIfName(), offload: true });
  try {
    assert.ok(on.offloads.vnetHdr && on.offloads.tso4 && on.offloads.tso6);
  } finally {
    await new Promise<void>((resolve) => on.close(resolve));
  }
});

test('wrapTun: an fd with IFF_VNET_HDR is read as such; one without cannot have offloads', { skip }, async () => {
  const b = loaded as OffloadExports;
  const out = new Uint8Array(16);
  const [vfd = -1] = b.tunOpen(uniqueIfName(), 8 /* ION_TUN_VNET_HDR */, 0, out);
  const [pfd = -1] = b.tunOpen(uniqueIfName(), 0, 0, out);
  assert.ok(vfd >= 0 && pfd >= 0);
  let pclosed = false;
  try {
    assert.throws(() => wrapTun(pfd, { offload: true }), { code: 'ERR_TUN_OFFLOAD_UNAVAILABLE' });
    const off = wrapTun(vfd, { offload: false });
    assert.equal(off.offloads.vnetHdr, true, 'the header is on the fd whatever was asked');
    assert.equal(off.offloads.tso4, false);
    await new Promise<void>((resolve) => off.close(resolve));
    const plain = wrapTun(pfd);
    pclosed = true;
    assert.equal(plain.offloads.vnetHdr, false);
    await new Promise<void>((resolve) => plain.close(resolve));
  } finally {
    if (!pclosed) closeSync(pfd);
  }
});
