/**
 * Addresses of a tunnel: parsing `[ADDR:]PORT` and `HOST:PORT`, resolving
 * the peer once, and checking that the listen port is free. Errors are
 * CodedErrors whose codes start with ERR_TUNNEL_, so callers (the CLI) can
 * tell a bad configuration from a failure.
 */
import { lookup } from 'node:dns/promises';
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { CodedError } from '../core/errors.js';

export interface HostPort {
  /** An IP literal (listen) or a host name or IP literal (peer); '' = any address. */
  host: string;
  port: number;
}

export interface ResolvedPeer {
  address: string;
  family: 4 | 6;
  port: number;
}

export function badAddress(message: string): CodedError {
  return new CodedError('ERR_TUNNEL_BAD_ADDRESS', message);
}

function parsePort(text: string, what: string, allowZero: boolean): number {
  if (!/^\d{1,5}$/.test(text)) throw badAddress(`${what}: "${text}" is not a port number`);
  const port = Number(text);
  if (port > 65535 || (port === 0 && !allowZero)) throw badAddress(`${what}: port ${port} is out of range (${allowZero ? 0 : 1}-65535)`);
  return port;
}

/**
 * Split `HOST:PORT`, `[IPV6]:PORT`, or (when portOnly is allowed) `PORT`.
 * An IPv6 address with a port needs brackets.
 */
export function parseHostPort(text: string, what: string, opts: { portOnly: boolean; allowZero: boolean }): HostPort {
  if (typeof text !== 'string' || text === '') throw badAddress(`${what}: an address is required`);
  if (opts.portOnly && /^\d+$/.test(text)) return { host: '', port: parsePort(text, what, opts.allowZero) };
  let host: string;
  let portText: string;
  const bracket = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (bracket) {
    host = bracket[1] ?? '';
    portText = bracket[2] ?? '';
    if (isIP(host.split('%')[0] ?? '') !== 6) throw badAddress(`${what}: "${host}" in brackets is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0) throw badAddress(`${what}: "${text}" needs a port (${opts.portOnly ? '[ADDR:]PORT' : 'HOST:PORT'})`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw badAddress(`${what}: write an IPv6 address with a port as [ADDR]:PORT, not "${text}"`);
  }
  return { host, port: parsePort(portText, what, opts.allowZero) };
}

/**
 * Check a local address: an IP literal, and an IPv6 zone (`%eth0`) must
 * name an interface that exists.
 */
export function checkListenAddress(address: string, what = 'listen'): 4 | 6 {
  const pct = address.indexOf('%');
  const bare = pct >= 0 ? address.slice(0, pct) : address;
  const family = isIP(bare);
  if (family === 0) throw badAddress(`${what}: "${address}" is not an IP address (the listen address must be a literal)`);
  if (pct >= 0) {
    const zone = address.slice(pct + 1);
    if (family !== 6) throw badAddress(`${what}: only IPv6 addresses take a %zone`);
    if (!/^\d+$/.test(zone) && networkInterfaces()[zone] === undefined) {
      throw new CodedError('ERR_TUNNEL_UNKNOWN_INTERFACE', `${what}: unknown interface "${zone}" in ${address}`);
    }
  }
  return family === 4 ? 4 : 6;
}

/**
 * Resolve the peer once (dns.lookup, as node:dgram does). With a udp4
 * socket only IPv4 answers are usable; a udp6 socket takes either (IPv4
 * peers are reached as v4-mapped addresses).
 */
export async function resolvePeer(peer: HostPort, socketFamily: 4 | 6 | 0): Promise<ResolvedPeer> {
  const literal = isIP(peer.host.split('%')[0] ?? '');
  if (literal !== 0) {
    if (literal === 6 && socketFamily === 4) {
      throw badAddress(`peer: ${peer.host} is IPv6 but the listen address is IPv4`);
    }
    return { address: peer.host, family: literal === 4 ? 4 : 6, port: peer.port };
  }
  if (peer.host === '') throw badAddress('peer: a host is required');
  try {
    const r = await lookup(peer.host, { family: socketFamily === 4 ? 4 : 0 });
    return { address: r.address, family: r.family === 6 ? 6 : 4, port: peer.port };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new CodedError('ERR_TUNNEL_PEER_UNRESOLVABLE', `peer: cannot resolve "${peer.host}" (${code})`);
  }
}

/**
 * Fail with the kernel's error (EADDRINUSE, EADDRNOTAVAIL...) if address:port
 * cannot be bound exclusively. The tunnel's sockets set SO_REUSEPORT so that
 * a replacement can bind next to the socket it replaces (Linux allows that
 * only between sockets of the same user); this check keeps a tunnel from
 * silently joining a port that another program of the same user holds
 * with SO_REUSEPORT.
 */
export function checkPortFree(type: 'udp4' | 'udp6', address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type, reuseAddr: false });
    s.once('error', (err) => {
      try {
        s.close();
      } catch {
        // already closed
      }
      reject(err);
    });
    s.bind({ address, port, exclusive: true }, () => {
      s.close(() => resolve());
    });
  });
}
