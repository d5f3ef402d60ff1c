/**
 * IP addresses, prefixes (AllowedIPs) and endpoints in the text forms wg(8)
 * reads and prints: inet_pton's input, inet_ntop's output (RFC 5952 with
 * glibc's embedded-IPv4 forms), "[v6]:port" endpoints.
 */
import { isIPv4, isIPv6 } from 'node:net';

import { ipv6Words, zeroRunToCompress } from '../core/address.js';

/** An IP address as bytes: 4 for IPv4, 16 for IPv6. */
export interface IPAddress {
  family: 4 | 6;
  bytes: Uint8Array;
}

/** A prefix (one AllowedIPs entry): address and prefix length. */
export interface IPPrefix extends IPAddress {
  /** Prefix length: 0..32 for IPv4, 0..128 for IPv6. */
  bits: number;
}

/** A UDP endpoint: a numeric address (IPv6 may carry a %zone) and a port. */
export interface Endpoint {
  address: string;
  port: number;
}

function parseIPv4(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

function parseIPv6(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let tail = text;
  let v4: Uint8Array | null = null;
  const lastColon = tail.lastIndexOf(':');
  if (tail.includes('.', lastColon)) {
    v4 = parseIPv4(tail.slice(lastColon + 1));
    tail = `${tail.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = tail.split('::') as [string, string | undefined];
  const groups = (s: string | undefined): number[] => (s ? s.split(':').map((g) => parseInt(g, 16)) : []);
  const front = groups(head);
  const back = groups(rest);
  const words = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  if (v4) out.set(v4, 12);
  return out;
}

/**
 * Parse a numeric IPv4 (dotted quad) or IPv6 address, as inet_pton does
 * (no zone, no brackets). Null when it is neither.
 */
export function parseIP(text: string): IPAddress | null {
  // node:net's validators accept "%zone" on IPv6; inet_pton does not.
  if (isIPv4(text)) return { family: 4, bytes: parseIPv4(text) };
  if (isIPv6(text) && !text.includes('%')) return { family: 6, bytes: parseIPv6(text) };
  return null;
}

function formatIPv6(b: Uint8Array): string {
  const words = ipv6Words(b);
  const { start: best, len: bestLen } = zeroRunToCompress(words);
  // glibc prints IPv4-compatible (::a.b.c.d) and IPv4-mapped (::ffff:a.b.c.d) forms.
  const v4 = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
    return bestLen === 6 ? `::${v4}` : `::ffff:${v4}`;
  }
  const hex = (from: number, to: number): string =>
    words
      .slice(from, to)
      .map((w) => w.toString(16))
      .join(':');
  return best < 0 ? hex(0, 8) : `${hex(0, best)}::${hex(best + bestLen, 8)}`;
}

/** inet_ntop's text for 4 or 16 address bytes. */
export function formatIP(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length === 16) return formatIPv6(bytes);
  throw new RangeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
}

/**
 * Parse "address[/bits]". Without "/bits" the prefix is a single host (/32
 * or /128) unless `requireBits` (UAPI's allowed_ip, as Go's ParsePrefix).
 * Bits must be decimal digits only. Host bits are kept as written (wg keeps
 * them, the device masks them when it inserts the prefix). Null when invalid.
 */
export function parsePrefix(text: string, requireBits = false): IPPrefix | null {
  const slash = text.indexOf('/');
  const ip = parseIP(slash < 0 ? text : text.slice(0, slash));
  if (!ip) return null;
  const max = ip.family === 4 ? 32 : 128;
  if (slash < 0) return requireBits ? null : { ...ip, bits: max };
  const bitsText = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(bitsText)) return null;
  const bits = Number(bitsText);
  return bits <= max ? { ...ip, bits } : null;
}

/** "address/bits" with inet_ntop's address text. */
export function formatPrefix(prefix: IPPrefix): string {
  return `${formatIP(prefix.bytes)}/${prefix.bits}`;
}

/** The prefix with its host bits cleared (what a routing table stores). */
export function maskPrefix(prefix: IPPrefix): IPPrefix {
  const bytes = Uint8Array.from(prefix.bytes);
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix.bits - 8 * i));
    bytes[i]! &= (0xff << (8 - keep)) & 0xff;
  }
  return { family: prefix.family, bytes, bits: prefix.bits };
}

/** Whether two prefixes are the same address bytes and length. */
export function prefixEqual(a: IPPrefix, b: IPPrefix): boolean {
  return a.bits === b.bits && a.bytes.length === b.bytes.length && a.bytes.every((x, i) => x === b.bytes[i]);
}

/**
 * Split "host:port" or "[host]:port" as wg does (the last colon separates
 * the port unless the host is bracketed). The host is not resolved. Null
 * when there is no port or the port is not a decimal 0..65535.
 */
export function splitHostPort(text: string): { host: string; port: number } | null {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') return null;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return null;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  if (!host || !/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) return null;
  return { host, port: Number(portText) };
}

/**
 * Parse a numeric endpoint "a.b.c.d:port" or "[v6%zone]:port" (the UAPI's
 * form; hostnames are not accepted). The address is normalized to
 * inet_ntop's text. Null when invalid.
 */
export function parseEndpoint(text: string): Endpoint | null {
  const hp = splitHostPort(text);
  if (!hp) return null;
  const bracketed = text.startsWith('[');
  const pct = hp.host.indexOf('%');
  const addr = pct < 0 ? hp.host : hp.host.slice(0, pct);
  const zone = pct < 0 ? '' : hp.host.slice(pct);
  const ip = parseIP(addr);
  if (!ip || (ip.family === 6) !== bracketed || (zone && (ip.family !== 6 || zone.length < 2))) return null;
  return { address: formatIP(ip.bytes) + zone, port: hp.port };
}

/** "a.b.c.d:port", or "[v6]:port" for any address with a colon (as wg prints it). */
export function formatEndpoint(endpoint: Endpoint): string {
  return endpoint.address.includes(':') ? `[${endpoint.address}]:${endpoint.port}` : `${endpoint.address}:${endpoint.port}`;
}
