/**
 * The TUN offload engine through the addon's JS exports (offloadSplit,
 * offloadCoalesce): TSO/USO super-segments over IPv4 and IPv6 split into
 * packets whose fields and checksums are checked here with an independent
 * checksum (tun-offload-packets.ts), split-then-coalesce round trips that
 * give back the original bytes, packets that must stay apart, malformed
 * reads refused with -EINVAL/-ENOSPC, and argument validation with Node
 * error codes. No device needed; skips only when the addon is not built.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildPacket,
  buildRead,
  EINVAL,
  ENOSPC,
  headerLen,
  offloadBinding,
  packetOk,
  spec,
  streamByte,
  VNET_HDR_LEN,
  type OffloadExports,
  type Spec,
} from './tun-offload-packets.js';

const loaded = offloadBinding();
const skip = typeof loaded === 'string' ? loaded : false;
const b = (): OffloadExports => loaded as OffloadExports;
const GRO_TCP = 1;
const GRO_UDP = 2;

function splitOk(read: Buffer, max = 64, slot = 2000): Buffer[] {
  const r = b().offloadSplit(read, max, slot);
  assert.ok(Array.isArray(r), `split returned ${String(r)}`);
  return r;
}

/** Every segment of a split of s at gsoSize, checked field by field. */
function checkSegments(s: Spec, gsoSize: number, segs: Buffer[]): void {
  const l3 = s.v6 ? 40 : 20;
  const hdr = headerLen(s);
  assert.equal(segs.length, Math.max(1, Math.ceil(s.plen / gsoSize)));
  segs.forEach((p, i) => {
    const n = Math.min(gsoSize, s.plen - i * gsoSize);
    assert.equal(p.length, hdr + n, `segment ${i} length`);
    assert.ok(packetOk(p), `segment ${i} checksums`);
    if (!s.v6) assert.equal(p.readUInt16BE(4), (s.id + i) & 0xffff, `segment ${i} IPv4 id`);
    if (s.proto === 6) {
      assert.equal(p.readUInt32BE(l3 + 4), (s.seq + i * gsoSize) >>> 0, `segment ${i} seq`);
      let want = s.flags;
      if (i < segs.length - 1) want &= ~0x09; // FIN, PSH on the last only
      if (i > 0) want &= ~0x80; // CWR on the first only
      assert.equal(p[l3 + 13], want, `segment ${i} flags`);
    } else {
      assert.equal(p.readUInt16BE(l3 + 4), 8 + n, `segment ${i} UDP length`);
    }
    for (let k = 0; k < n; k++) assert.equal(p[hdr + k], streamByte(s.seed, i * gsoSize + k));
  });
}

const roundTrips: Array<[string, Spec, number, number]> = [
  ['TCP/IPv4, timestamps, PSH+FIN, id wrap', spec(false, 6, { plen: 10_001, flags: 0x19, id: 0xfffe }), 1448, GRO_TCP],
  ['TCP/IPv6, CWR (ECN)', spec(true, 6, { plen: 30 * 1428, flags: 0x90 }), 1428, GRO_TCP | GRO_UDP],
  ['UDP/IPv4, last shorter', spec(false, 17, { plen: 9 * 1200 + 7 }), 1200, GRO_UDP],
  ['UDP/IPv6', spec(true, 17, { plen: 5000 }), 999, GRO_TCP | GRO_UDP],
];

for (const [name, s, gso, features] of roundTrips) {
  test(`split then coalesce gives the super-segment back: ${name}`, { skip }, () => {
    const read = buildRead(s, gso);
    const segs = splitOk(read);
    checkSegments(s, gso, segs);
    const writes = b().offloadCoalesce(segs, features);
    assert.ok(Array.isArray(writes), `coalesce returned ${String(writes)}`);
    assert.equal(writes.length, 1);
    assert.deepEqual(writes[0], read);
  });
}

test('split: one segment, and gso_size larger than the payload', { skip }, () => {
  for (const plen of [1448, 100, 0]) {
    const s = spec(false, 6, { plen, flags: 0x18 });
    checkSegments(s, 1448, splitOk(buildRead(s, 1448)));
  }
});

test('split: a non-GSO read with NEEDS_CSUM is completed, one without passes as is', { skip }, () => {
  const s = spec(true, 6, { plen: 333 });
  const pkt = buildPacket(s, true);
  const h = Buffer.alloc(VNET_HDR_LEN);
  h[0] = 1; // NEEDS_CSUM
  h.writeUInt16LE(40, 6);
  h.writeUInt16LE(16, 8);
  const [done] = splitOk(Buffer.concat([h, pkt]));
  assert.ok(done && packetOk(done));
  h[0] = 2; // DATA_VALID: untouched, even a partial checksum
  const [asIs] = splitOk(Buffer.concat([h, pkt]));
  assert.deepEqual(asIs, pkt);
});

test('split: malformed reads are refused with -EINVAL, small output with -ENOSPC', { skip }, () => {
  const good = buildRead(spec(false, 6, { plen: 3000, opts: [] }), 1000);
  const bad = (what: string, change: (r: Buffer) => Buffer): void => {
    assert.equal(b().offloadSplit(change(Buffer.from(good)), 64, 2000), EINVAL, what);
  };
  bad('gso_size 0', (r) => (r.writeUInt16LE(0, 4), r));
  bad('UFO', (r) => ((r[1] = 3), r));
  bad('TCPV6 on IPv4', (r) => ((r[1] = 4), r));
  bad('csum_start', (r) => (r.writeUInt16LE(24, 6), r));
  bad('csum_offset', (r) => (r.writeUInt16LE(6, 8), r));
  bad('IPv4 total length', (r) => ((r[VNET_HDR_LEN + 3] = r[VNET_HDR_LEN + 3]! ^ 1), r));
  bad('IPv4 fragment', (r) => ((r[VNET_HDR_LEN + 6] = 0x20), r));
  bad('TCP header length', (r) => ((r[VNET_HDR_LEN + 32] = 0x40), r));
  bad('truncated', (r) => r.subarray(0, r.length - 1));
  bad('header only', (r) => r.subarray(0, VNET_HDR_LEN));
  assert.equal(b().offloadSplit(good, 2, 2000), ENOSPC, 'three segments, two slots');
  assert.equal(b().offloadSplit(good, 3, 1039), ENOSPC, 'slots one byte short');
  assert.equal(splitOk(good, 3, 1040).length, 3);
});

/** Three 1000-byte segments of one flow; change() edits the middle one. */
function three(v6: boolean, proto: 6 | 17, change: (s: Spec) => void): Buffer[] {
  const specs = [0, 1, 2].map((i) => spec(v6, proto, { off: i * 1000, seq: 0xfffff000 + i * 1000, id: 0x1234 + i }));
  change(specs[1]!);
  return specs.map((s) => buildPacket(s));
}

const apart: Array<[string, Buffer[], number, number[]]> = [
  ['baseline', three(false, 6, () => {}), GRO_TCP, [3]],
  ['another port', three(false, 6, (s) => (s.sport += 1)), GRO_TCP, [1, 1, 1]],
  ['a gap in seq', three(true, 6, (s) => (s.seq += 1)), GRO_TCP, [1, 1, 1]],
  ['other options', three(false, 6, (s) => (s.opts = s.opts.map((x, i) => (i === 11 ? x ^ 1 : x)))), GRO_TCP, [1, 1, 1]],
  ['SYN', three(false, 6, (s) => (s.flags |= 0x02)), GRO_TCP, [1, 1, 1]],
  ['RST', three(true, 6, (s) => (s.flags |= 0x04)), GRO_TCP, [1, 1, 1]],
  ['PSH ends the group', three(false, 6, (s) => (s.flags |= 0x08)), GRO_TCP, [2, 1]],
  ['another TTL', three(false, 6, (s) => (s.ttl = 63)), GRO_TCP, [1, 1, 1]],
  ['another hop limit', three(true, 17, (s) => (s.ttl = 63)), GRO_UDP, [1, 1, 1]],
  ['UDP without USO', three(true, 17, () => {}), GRO_TCP, [1, 1, 1]],
  ['UDP larger in the middle', three(true, 17, (s) => (s.plen = 1001)), GRO_UDP, [1, 2]],
];

for (const [name, pkts, features, want] of apart) {
  test(`coalesce keeps apart what GRO would: ${name}`, { skip }, () => {
    const writes = b().offloadCoalesce(pkts, features);
    assert.ok(Array.isArray(writes), `coalesce returned ${String(writes)}`);
    assert.deepEqual(
      writes.map((w) => (w.subarray(0, VNET_HDR_LEN).every((x) => x === 0) ? 1 : splitOk(w).length)),
      want,
    );
    for (const w of writes) {
      if (w.subarray(0, VNET_HDR_LEN).every((x) => x === 0)) {
        assert.ok(pkts.some((p) => p.equals(w.subarray(VNET_HDR_LEN))), 'a single packet goes out unchanged');
      } else {
        for (const seg of splitOk(w)) assert.ok(packetOk(seg));
      }
    }
  });
}

test('coalesce: a bad checksum, ICMP and garbage go out as they are', { skip }, () => {
  const pkts = three(false, 6, () => {});
  pkts[1]![pkts[1]!.length - 1]! ^= 1; // payload changed, checksum not
  const icmp = Buffer.from([0x45, 0, 0, 28, 0, 1, 0x40, 0, 64, 1, 0, 0, 10, 77, 0, 1, 10, 77, 0, 2, 8, 0, 0, 0, 0, 0, 0, 0]);
  const writes = b().offloadCoalesce([pkts[0]!, icmp, pkts[1]!, Buffer.from([1, 2, 3]), pkts[2]!], GRO_TCP);
  assert.ok(Array.isArray(writes));
  assert.equal(writes.length, 5);
  for (const w of writes) assert.ok(w.subarray(0, VNET_HDR_LEN).every((x) => x === 0));
  assert.deepEqual(writes[1]!.subarray(VNET_HDR_LEN), icmp);
  assert.deepEqual(writes[2]!.subarray(VNET_HDR_LEN), pkts[1]);
});

test('arguments are validated with Node error codes', { skip }, () => {
  const read = buildRead(spec(false, 6, { plen: 100 }), 50);
  const throws = (fn: () => unknown, code: string): void => {
    assert.throws(fn, (err: NodeJS.ErrnoException) => err.code === code, code);
  };
  const any = b() as unknown as Record<string, (...args: unknown[]) => unknown>;
  throws(() => any.offloadSplit!('not bytes', 1, 100), 'ERR_INVALID_ARG_TYPE');
  throws(() => any.offloadSplit!(new Uint16Array(8), 1, 100), 'ERR_INVALID_ARG_TYPE');
  throws(() => any.offloadSplit!(read, 0, 100), 'ERR_OUT_OF_RANGE');
  throws(() => any.offloadSplit!(read, 1025, 100), 'ERR_OUT_OF_RANGE');
  throws(() => any.offloadSplit!(read, 1.5, 100), 'ERR_OUT_OF_RANGE');
  throws(() => any.offloadSplit!(read, 2, 65536), 'ERR_OUT_OF_RANGE');
  throws(() => any.offloadSplit!(read, '2', 100), 'ERR_INVALID_ARG_TYPE');
  throws(() => any.offloadSplit!(Buffer.alloc(70000), 2, 100), 'ERR_OUT_OF_RANGE');
  throws(() => any.offloadSplit!(read), 'ERR_MISSING_ARGS');
  throws(() => any.offloadCoalesce!(read, GRO_TCP), 'ERR_INVALID_ARG_TYPE');
  throws(() => any.offloadCoalesce!([read, 'x'], GRO_TCP), 'ERR_INVALID_ARG_TYPE');
  throws(() => any.offloadCoalesce!([Buffer.alloc(65536)], GRO_TCP), 'ERR_OUT_OF_RANGE');
  throws(() => any.offloadCoalesce!(new Array(1025).fill(read), GRO_TCP), 'ERR_OUT_OF_RANGE');
  throws(() => any.offloadCoalesce!([read], 4), 'ERR_OUT_OF_RANGE');
  throws(() => any.offloadCoalesce!([read], -1), 'ERR_OUT_OF_RANGE');
  throws(() => any.tunEnableOffload!(-1, 0), 'ERR_OUT_OF_RANGE');
  throws(() => any.tunEnableOffload!(0, 0x80), 'ERR_OUT_OF_RANGE');
  throws(() => any.tunGroFeatures!(null), 'ERR_INVALID_ARG_TYPE');
  assert.deepEqual(b().offloadCoalesce([], GRO_TCP), []);
  assert.equal(b().tunGroFeatures(0x6f), GRO_TCP | GRO_UDP);
  assert.equal(b().tunGroFeatures(0x07), GRO_TCP);
  assert.equal(b().tunGroFeatures(0x06), 0); // TSO without CSUM is nothing
  assert.equal(b().offloadConstants.VNET_HDR_LEN, VNET_HDR_LEN);
});
