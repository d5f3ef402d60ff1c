/**
 * Just enough IPv4/IPv6 + ICMP for the TUN tests: build echo requests,
 * answer echo requests, check what came back. Addresses are byte arrays.
 */

export const PROTO_ICMP = 1;
export const PROTO_ICMPV6 = 58;

/** The Internet checksum (RFC 1071) over data, starting from `sum`. */
export function checksum(data: Uint8Array, sum = 0): number {
  let s = sum;
  for (let i = 0; i + 1 < data.length; i += 2) s += ((data[i] ?? 0) << 8) | (data[i + 1] ?? 0);
  if (data.length & 1) s += (data[data.length - 1] ?? 0) << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export function ip4(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

/** Expands '::' and parses an IPv6 literal. */
export function ip6(text: string): Uint8Array {
  const [head = '', tail = ''] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = text.includes('::') && tail ? tail.split(':') : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  return out;
}

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

export function get16(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) << 8) | (b[at + 1] ?? 0);
}

export function get32(b: Uint8Array, at: number): number {
  return (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0;
}

/** An IPv4 ICMP echo request (type 8). */
export function echoRequest4(src: Uint8Array, dst: Uint8Array, id: number, seq: number, payload: Uint8Array): Uint8Array {
  const p = new Uint8Array(20 + 8 + payload.length);
  p[0] = 0x45;
  put16(p, 2, p.length);
  put16(p, 4, seq & 0xffff); // identification
  p[8] = 64; // TTL
  p[9] = PROTO_ICMP;
  p.set(src, 12);
  p.set(dst, 16);
  put16(p, 10, checksum(p.subarray(0, 20)));
  const icmp = p.subarray(20);
  icmp[0] = 8;
  put16(icmp, 4, id);
  put16(icmp, 6, seq & 0xffff);
  icmp.set(payload, 8);
  put16(icmp, 2, checksum(icmp));
  return p;
}

/** Sum of the IPv6 pseudo-header (RFC 8200 8.1), not folded or inverted. */
function pseudo6(src: Uint8Array, dst: Uint8Array, len: number, next: number): number {
  const ph = new Uint8Array(40);
  ph.set(src, 0);
  ph.set(dst, 16);
  put16(ph, 34, len);
  ph[39] = next;
  return (~checksum(ph)) & 0xffff;
}

/** An echo reply for an IPv4 or IPv6 echo request, or null for anything else. */
export function echoReplyFor(req: Uint8Array): Uint8Array | null {
  const version = (req[0] ?? 0) >> 4;
  if (version === 4) return reply4(req);
  if (version === 6) return reply6(req);
  return null;
}

function reply4(req: Uint8Array): Uint8Array | null {
  const ihl = ((req[0] ?? 0) & 0x0f) * 4;
  if (req.length < ihl + 8 || req[9] !== PROTO_ICMP || req[ihl] !== 8) return null;
  const p = Uint8Array.from(req.subarray(0, get16(req, 2)));
  p.set(req.subarray(16, 20), 12); // swap source and destination
  p.set(req.subarray(12, 16), 16);
  p[8] = 64;
  put16(p, 10, 0);
  put16(p, 10, checksum(p.subarray(0, ihl)));
  const icmp = p.subarray(ihl);
  icmp[0] = 0; // echo reply
  put16(icmp, 2, 0);
  put16(icmp, 2, checksum(icmp));
  return p;
}

function reply6(req: Uint8Array): Uint8Array | null {
  if (req.length < 48 || req[6] !== PROTO_ICMPV6 || req[40] !== 128) return null;
  const plen = get16(req, 4);
  const p = Uint8Array.from(req.subarray(0, 40 + plen));
  p.set(req.subarray(24, 40), 8);
  p.set(req.subarray(8, 24), 24);
  p[7] = 64; // hop limit
  const icmp = p.subarray(40);
  icmp[0] = 129; // echo reply
  put16(icmp, 2, 0);
  put16(icmp, 2, checksum(icmp, pseudo6(p.subarray(8, 24), p.subarray(24, 40), plen, PROTO_ICMPV6)));
  return p;
}

/** Destination address of an IPv4 packet as text. */
export function dst4(p: Uint8Array): string {
  return Array.from(p.subarray(16, 20)).join('.');
}

/** True if p is a valid IPv4 ICMP echo reply; checks both checksums. */
export function isEchoReply4(p: Uint8Array): boolean {
  const ihl = ((p[0] ?? 0) & 0x0f) * 4;
  return (
    (p[0] ?? 0) >> 4 === 4 &&
    p[9] === PROTO_ICMP &&
    p[ihl] === 0 &&
    checksum(p.subarray(0, ihl)) === 0 &&
    checksum(p.subarray(ihl, get16(p, 2))) === 0
  );
}
