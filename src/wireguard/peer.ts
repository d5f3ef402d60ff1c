/**
 * One peer of a WireGuard device as the JS side keeps it: its handshake
 * identity (a NoisePeer of the device's HandshakeEngine), its timers, the
 * receiver indices of the keypairs the native device holds for it, and the
 * configuration wg(8) shows (preshared key, endpoint, keepalive). Counters,
 * keys in use and AllowedIPs live in the native device (src/native/wg),
 * under the peer's native id.
 *
 * Also the conversions between what users write (keys in base64,
 * "host:port" endpoints, "a.b.c.d/n" prefixes) and what the native calls
 * take.
 */
import { parseAddress, toV4Mapped } from '../core/address.js';
import { CodedError, invalidArgType, invalidArgValue } from '../core/errors.js';
import type { Endpoint as UdpEndpoint } from '../udp/endpoint.js';
import { formatIP, parseEndpoint, parsePrefix, type Endpoint, type IPPrefix } from './ip.js';
import { checkKey, isBase64Key } from './keys.js';
import type { NoisePeer } from './noise.js';
import type { PeerTimers } from './timers.js';
import type { WgEndpoint } from './wg-native.js';

/** A key as users give it: wg's base64 text (44 characters) or 32 bytes. */
export type KeyInput = string | Uint8Array;

/** An endpoint as users give it: "a.b.c.d:port", "[v6]:port" or { address, port }. */
export type EndpointInput = string | { address: string; port: number };

export class WgPeer {
  /** The peer's id in the native device (0 .. 2^20 - 1). */
  readonly id: number;
  readonly publicKey: Buffer;
  readonly noise: NoisePeer<WgPeer>;
  readonly timers: PeerTimers;
  /** A copy for getConfig(); zeroed when replaced or the peer goes. */
  presharedKey: Buffer | null = null;
  /** Where the peer is, as wg(8) shows it (an IPv4 peer of a dual-stack socket shows as IPv4). */
  endpoint: Endpoint | null = null;
  /** The same, parsed for the device's socket (handshake messages). */
  sendTo: UdpEndpoint | null = null;
  persistentKeepalive = 0;
  /** Local (receiver) indices of the keypairs the native device holds for this peer, oldest first. */
  keypairs: number[] = [];
  /** A responder's keypair waiting for the initiator's first packet, or -1. */
  pendingNext = -1;
  /** Completed handshakes (either side). */
  handshakes = 0;
  /**
   * Bytes of handshake messages exchanged with the peer (initiations and
   * responses sent, and accepted ones received): wg(8)'s transfer counters
   * include them, as wireguard-go's and the kernel's do. Cookie replies are
   * not the peer's and are not counted (neither do they).
   */
  handshakeRx = 0;
  handshakeTx = 0;

  constructor(id: number, publicKey: Buffer, noise: NoisePeer<WgPeer>, timers: PeerTimers) {
    this.id = id;
    this.publicKey = publicKey;
    this.noise = noise;
    this.timers = timers;
  }
}

/** A key from base64 text or bytes (copied); `name` for errors. */
export function keyFrom(input: KeyInput, name: string): Buffer {
  if (typeof input === 'string') {
    if (!isBase64Key(input)) throw invalidArgValue(name, '(hidden)', 'must be a key in base64 (44 characters, as wg genkey prints)');
    return Buffer.from(input, 'base64');
  }
  if (!(input instanceof Uint8Array)) throw invalidArgType(name, 'a base64 string or a Uint8Array of 32 bytes', input);
  checkKey(input, name);
  return Buffer.from(input);
}

/** A numeric endpoint from user input (host names must be resolved first: setConfig does). */
export function endpointFrom(input: EndpointInput, name: string): Endpoint {
  if (typeof input === 'string') {
    const ep = parseEndpoint(input);
    if (!ep) throw invalidArgValue(name, input, 'must be "a.b.c.d:port" or "[v6]:port" with a numeric address');
    return ep;
  }
  if (input === null || typeof input !== 'object') throw invalidArgType(name, 'a string or an object { address, port }', input);
  const { address, port } = input;
  if (typeof address !== 'string' || !parseAddress(address)) throw invalidArgValue(`${name}.address`, address, 'must be an IP address literal');
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalidArgValue(`${name}.port`, port, 'must be an integer from 1 to 65535');
  }
  const text = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
  const ep = parseEndpoint(text);
  if (!ep) throw invalidArgValue(name, text, 'is not a valid endpoint');
  return ep;
}

/** "a.b.c.d/n" or "v6/n" prefixes from a list or a comma-separated string. */
export function prefixesFrom(input: readonly string[] | string, name: string): IPPrefix[] {
  const list = typeof input === 'string' ? input.split(',') : input;
  if (!Array.isArray(list)) throw invalidArgType(name, 'an array of strings or a comma-separated string', input);
  return list.map((s: unknown) => {
    const p = typeof s === 'string' ? parsePrefix(s.trim()) : null;
    if (!p) throw invalidArgValue(name, s, 'must hold prefixes such as "10.0.0.2/32" or "fd00::/64"');
    return p;
  });
}

/** A persistent keepalive interval (seconds, 0 = off). */
export function keepaliveFrom(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) {
    throw invalidArgValue(name, v, 'must be an integer number of seconds from 0 (off) to 65535');
  }
  return v;
}

/** An endpoint as the native device keeps it for a socket of `socketFamily` (IPv4 as v4-mapped on udp6). */
export function toWgEndpoint(ep: Endpoint, socketFamily: 4 | 6): WgEndpoint {
  let p = parseAddress(ep.address);
  if (!p) throw invalidArgValue('endpoint', ep.address, 'must be an IP address literal');
  if (p.family === 4 && socketFamily === 6) p = toV4Mapped(p);
  if (p.family === 6 && socketFamily === 4) {
    throw new CodedError('ERR_WIREGUARD_ENDPOINT_FAMILY', `endpoint ${ep.address} is IPv6 but the device's socket is IPv4-only`);
  }
  return { family: p.family, address: p.bytes.slice(0, p.family === 4 ? 4 : 16), port: ep.port, scopeId: p.scope };
}

/** What wg(8) shows for a native endpoint (v4-mapped as IPv4), or null for none. */
export function fromWgEndpoint(ep: WgEndpoint): Endpoint | null {
  const a = ep.address;
  if (!ep.family || !a || ep.port === 0) return null;
  if (a.length === 16 && a.subarray(0, 10).every((x) => x === 0) && a[10] === 0xff && a[11] === 0xff) {
    return { address: formatIP(a.subarray(12)), port: ep.port };
  }
  const scope = a.length === 16 && ep.scopeId ? `%${ep.scopeId}` : '';
  return { address: formatIP(a) + scope, port: ep.port };
}

/** The address bytes of a prefix for the native trie (4 or 16). */
export function prefixBytes(p: IPPrefix): Uint8Array {
  return p.bytes.length === (p.family === 4 ? 4 : 16) ? p.bytes : p.bytes.slice(0, p.family === 4 ? 4 : 16);
}
