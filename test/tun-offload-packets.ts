/**
 * Helpers of the TUN offload tests (tun-offload-*.test.ts): the addon's
 * offload exports (src/native/tun/addon_offload.c) as a typed view, packet
 * builders, and a checksum written here from RFC 1071 (16-bit big-endian
 * words, folded at the end) that shares no code with the C under test.
 */
import { loadBinding } from '../src/core/binding.js';

/** Exports of src/native/tun/addon_offload.c; numbers < 0 are -errno. */
export interface OffloadExports {
  offloadSplit(read: Uint8Array, maxSegments: number, slotSize: number): Buffer[] | number;
  offloadCoalesce(packets: Uint8Array[], features: number): Buffer[] | number;
  tunEnableOffload(fd: number, want: number): number;
  tunGroFeatures(tunFeatures: number): number;
  offloadConstants: Record<string, number>;
  tunOpen(name: string, flags: number, mtu: number, nameOut: Uint8Array): number[];
  tunInfo(fd: number, nameOut: Uint8Array): number;
}

/** The loaded addon's offload exports, or why they are missing. */
export function offloadBinding(): OffloadExports | string {
  const { binding, error } = loadBinding();
  if (!binding) return `the native addon is not loaded: ${error?.message ?? 'unknown'}`;
  const b = binding as unknown as Partial<OffloadExports>;
  if (typeof b.offloadSplit !== 'function') return 'the addon was built without the offload exports';
  return b as OffloadExports;
}

export const EINVAL = -22;
export const ENOSPC = -28;
export const VNET_HDR_LEN = 10;

/** RFC 1071 sum of bytes (not complemented, not folded). */
function sumWords(b: Uint8Array, start: number, end: number, acc = 0): number {
  for (let i = start; i + 1 < end; i += 2) acc += (b[i]! << 8) | b[i + 1]!;
  if ((end - start) & 1) acc += b[end - 1]! << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/** The pseudo-header sum (RFC 793, RFC 8200 section 8.1) of an IP packet. */
function pseudo(p: Uint8Array, proto: number, l4len: number): number {
  const v6 = p[0]! >> 4 === 6;
  const acc = v6 ? sumWords(p, 8, 40) : sumWords(p, 12, 20);
  return acc + proto + (l4len >>> 16) + (l4len & 0xffff);
}

/** True if lengths, IPv4 header checksum and TCP/UDP checksum are right. */
export function packetOk(p: Uint8Array): boolean {
  const v6 = p[0]! >> 4 === 6;
  const l3 = v6 ? 40 : (p[0]! & 15) * 4;
  const proto = v6 ? p[6]! : p[9]!;
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (v6 ? dv.getUint16(4) + 40 !== p.length : dv.getUint16(2) !== p.length) return false;
  if (!v6 && fold(sumWords(p, 0, l3)) !== 0xffff) return false;
  return fold(sumWords(p, l3, p.length, pseudo(p, proto, p.length - l3))) === 0xffff;
}

/** Byte k of test stream `seed`. */
export function streamByte(seed: number, k: number): number {
  const x = Math.imul(k + 1, 2654435761) ^ Math.imul(seed, 40503);
  return ((x >>> 13) ^ x) & 0xff;
}

export interface Spec {
  v6: boolean;
  proto: 6 | 17;
  flags: number;
  seq: number;
  ack: number;
  id: number;
  ttl: number;
  sport: number;
  dport: number;
  opts: number[];
  seed: number;
  off: number;
  plen: number;
}

export function spec(v6: boolean, proto: 6 | 17, over: Partial<Spec> = {}): Spec {
  const tsOpts = [1, 1, 8, 10, 0, 0, 1, 2, 0, 0, 3, 4]; // NOP NOP timestamps
  return {
    v6,
    proto,
    flags: 0x10,
    seq: 0xfffff000,
    ack: 0x01020304,
    id: 0x1234,
    ttl: 64,
    sport: 40000,
    dport: 5201,
    opts: proto === 6 ? tsOpts : [],
    seed: 7,
    off: 0,
    plen: 1000,
    ...over,
  };
}

export function headerLen(s: Spec): number {
  return (s.v6 ? 40 : 20) + (s.proto === 6 ? 20 + s.opts.length : 8);
}

/** Build an IP packet; seedOnly leaves the pseudo-header sum in the L4
 * checksum field (a partial checksum, as a TUN read with NEEDS_CSUM). */
export function buildPacket(s: Spec, seedOnly = false): Buffer {
  const l3 = s.v6 ? 40 : 20;
  const hdr = headerLen(s);
  const p = Buffer.alloc(hdr + s.plen);
  if (s.v6) {
    p.writeUInt32BE((6 << 28) | 0x12345, 0);
    p.writeUInt16BE(p.length - 40, 4);
    p[6] = s.proto;
    p[7] = s.ttl;
    p[8] = p[24] = 0xfd;
    p[23] = 1;
    p[39] = 2;
  } else {
    p[0] = 0x45;
    p.writeUInt16BE(p.length, 2);
    p.writeUInt16BE(s.id & 0xffff, 4);
    p.writeUInt16BE(0x4000, 6);
    p[8] = s.ttl;
    p[9] = s.proto;
    p.set([10, 77, 0, 1, 10, 77, 0, 2], 12);
    p.writeUInt16BE(~fold(sumWords(p, 0, 20)) & 0xffff, 10);
  }
  p.writeUInt16BE(s.sport, l3);
  p.writeUInt16BE(s.dport, l3 + 2);
  if (s.proto === 6) {
    p.writeUInt32BE(s.seq >>> 0, l3 + 4);
    p.writeUInt32BE(s.ack >>> 0, l3 + 8);
    p[l3 + 12] = ((20 + s.opts.length) / 4) << 4;
    p[l3 + 13] = s.flags;
    p.writeUInt16BE(512, l3 + 14);
    p.set(s.opts, l3 + 20);
  } else {
    p.writeUInt16BE(p.length - l3, l3 + 4);
  }
  for (let k = 0; k < s.plen; k++) p[hdr + k] = streamByte(s.seed, s.off + k);
  const at = l3 + (s.proto === 6 ? 16 : 6);
  const ph = pseudo(p, s.proto, p.length - l3);
  let c = seedOnly ? fold(ph) : ~fold(sumWords(p, l3, p.length, ph)) & 0xffff;
  if (!seedOnly && c === 0 && s.proto === 17) c = 0xffff;
  p.writeUInt16BE(c, at);
  return p;
}

/** A TUN read: virtio_net_hdr (host order: little-endian here) + a
 * super-segment of s.plen payload bytes cut at gso_size. */
export function buildRead(s: Spec, gsoSize: number): Buffer {
  const pkt = buildPacket(s, true);
  const h = Buffer.alloc(VNET_HDR_LEN);
  h[0] = 1; // NEEDS_CSUM
  h[1] = s.proto === 17 ? 5 : s.v6 ? 4 : 1;
  if (s.proto === 6 && s.flags & 0x80) h[1] = h[1]! | 0x80; // ECN
  h.writeUInt16LE(headerLen(s), 2);
  h.writeUInt16LE(gsoSize, 4);
  h.writeUInt16LE(s.v6 ? 40 : 20, 6);
  h.writeUInt16LE(s.proto === 6 ? 16 : 6, 8);
  return Buffer.concat([h, pkt]);
}
