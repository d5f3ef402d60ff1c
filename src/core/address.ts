/**
 * IP address text <-> the 16 bytes the addon takes, without DNS. Parsing is
 * done once per distinct address (see Endpoint); formatting only when a user
 * asks for a string.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

export type Family = 4 | 6;

export interface ParsedAddress {
  family: Family;
  bytes: Uint8Array; // 16 bytes; IPv4 uses the first 4
  scope: number;
}

function parseV4Into(text: string, out: Uint8Array, at: number): void {
  const parts = text.split('.');
  for (let i = 0; i < 4; i++) out[at + i] = Number(parts[i]);
}

/** Interface name -> index, from /sys/class/net (no syscall in JS for it). */
let ifIndexes: Map<string, number> | undefined;

function readIfIndexes(): Map<string, number> {
  const map = new Map<string, number>();
  try {
    for (const name of readdirSync('/sys/class/net')) {
      const n = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));
      if (Number.isInteger(n) && n > 0) map.set(name, n);
    }
  } catch {
    // not Linux, or no sysfs: fall back to networkInterfaces() below
  }
  for (const [name, list] of Object.entries(networkInterfaces())) {
    const scoped = list?.find((i) => i.family === 'IPv6' && i.scopeid);
    if (scoped?.scopeid && !map.has(name)) map.set(name, scoped.scopeid);
  }
  return map;
}

/** Index of an interface (0: unknown); the table is read again on a miss. */
function ifIndex(name: string): number {
  const hit = (ifIndexes ??= readIfIndexes()).get(name);
  if (hit !== undefined) return hit;
  ifIndexes = readIfIndexes();
  return ifIndexes.get(name) ?? 0;
}

/** Name of interface `index`, or undefined. */
function ifName(index: number): string | undefined {
  for (let pass = 0; pass < 2; pass++) {
    for (const [name, i] of (ifIndexes ??= readIfIndexes())) if (i === index) return name;
    ifIndexes = readIfIndexes(); // an interface that appeared since
  }
  return undefined;
}

/** Scope id of a zone: a number, or an interface name. */
function zoneToScope(zone: string): number {
  if (/^\d+$/.test(zone)) return Number(zone);
  return ifIndex(zone);
}

/**
 * An address as Node shows it: a link-local IPv6 address (fe80::/10) with a
 * scope gets `%` and its interface's name (the index if it has none).
 */
export function withZone(text: string, family: number, scope: number): string {
  if (family !== 6 || scope <= 0 || !/^fe[89ab]/i.test(text)) return text;
  return `${text}%${ifName(scope) ?? scope}`;
}

function parseV6(text: string): ParsedAddress {
  const bytes = new Uint8Array(16);
  let scope = 0;
  const pct = text.indexOf('%');
  if (pct >= 0) {
    scope = zoneToScope(text.slice(pct + 1));
    text = text.slice(0, pct);
  }
  let groups: string[];
  const dbl = text.indexOf('::');
  let tail: string[] = [];
  if (dbl >= 0) {
    const head = text.slice(0, dbl);
    const rest = text.slice(dbl + 2);
    groups = head ? head.split(':') : [];
    tail = rest ? rest.split(':') : [];
  } else {
    groups = text.split(':');
  }
  const words: number[] = [];
  const push = (list: string[], target: number[]): void => {
    for (const g of list) {
      if (g.includes('.')) {
        const v4 = new Uint8Array(4);
        parseV4Into(g, v4, 0);
        target.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else {
        target.push(parseInt(g, 16));
      }
    }
  };
  const headWords: number[] = [];
  const tailWords: number[] = [];
  push(groups, headWords);
  push(tail, tailWords);
  words.push(...headWords);
  for (let i = headWords.length + tailWords.length; i < 8; i++) words.push(0);
  words.push(...tailWords);
  for (let i = 0; i < 8; i++) {
    const w = words[i] ?? 0;
    bytes[i * 2] = w >> 8;
    bytes[i * 2 + 1] = w & 0xff;
  }
  return { family: 6, bytes, scope };
}

/** Parse an IP literal; null if it is not one. */
export function parseAddress(text: string): ParsedAddress | null {
  if (isIPv4(text)) {
    const bytes = new Uint8Array(16);
    parseV4Into(text, bytes, 0);
    return { family: 4, bytes, scope: 0 };
  }
  const bare = text.indexOf('%') >= 0 ? text.slice(0, text.indexOf('%')) : text;
  if (isIPv6(bare)) return parseV6(text);
  return null;
}

/** An IPv4 address as the v4-mapped IPv6 address a udp6 socket needs. */
export function toV4Mapped(a: ParsedAddress): ParsedAddress {
  const bytes = new Uint8Array(16);
  bytes[10] = 0xff;
  bytes[11] = 0xff;
  bytes.set(a.bytes.subarray(0, 4), 12);
  return { family: 6, bytes, scope: 0 };
}

/** Format address bytes (from an rmeta/name entry) as text, like inet_ntop. */
export function formatAddress(family: number, bytes: Uint8Array): string {
  if (family === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  let mapped = true;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) mapped = false;
  if (mapped && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  const words = ipv6Words(bytes);
  const run = zeroRunToCompress(words);
  const hex = (list: number[]): string => list.map((w) => w.toString(16)).join(':');
  if (run.start < 0) return hex(words);
  return `${hex(words.slice(0, run.start))}::${hex(words.slice(run.start + run.len))}`;
}

/** The eight 16-bit words of 16 IPv6 address bytes. */
export function ipv6Words(bytes: Uint8Array): number[] {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(((bytes[i * 2] ?? 0) << 8) | (bytes[i * 2 + 1] ?? 0));
  return words;
}

/**
 * The zero words IPv6 text shows as "::" (RFC 5952 4.2): the longest run of
 * two or more, the first of equal runs; start -1 when there is none.
 */
export function zeroRunToCompress(words: readonly number[]): { start: number; len: number } {
  let start = -1;
  let len = 0;
  for (let i = 0; i < words.length; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < words.length && words[j] === 0) j++;
    if (j - i > len && j - i >= 2) {
      start = i;
      len = j - i;
    }
    i = j;
  }
  return { start, len };
}
