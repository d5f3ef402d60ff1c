/**
 * wg(8)'s configuration file format, as `wg setconf`/`wg addconf` read it
 * and `wg showconf` prints it:
 *
 *   [Interface]   PrivateKey, ListenPort, FwMark
 *   [Peer]        PublicKey, PresharedKey, AllowedIPs, Endpoint,
 *                 PersistentKeepalive
 *
 * Parsing follows wireguard-tools' config.c: '#' starts a comment, all
 * whitespace is removed before a line is read, section names and keys are
 * case-insensitive, an empty value is an unrecognized line, every [Peer]
 * needs a PublicKey, and wg-quick's own keys (Address, DNS, MTU, Table,
 * PreUp, PostUp, PreDown, PostDown, SaveConfig) are rejected as `wg setconf`
 * rejects them ("Line unrecognized"), unless { wgQuick: true } asks to set
 * them aside as `wg-quick strip` would. Errors name the line and use wg's
 * messages.
 *
 * Two departures, both stricter: ListenPort and Endpoint ports must be
 * numbers (wg also takes service names from /etc/services), and Endpoint
 * hosts are kept as text: resolveEndpoints() resolves names, as wg does
 * before it talks to the device.
 */
import { lookup } from 'node:dns/promises';

import { CodedError } from '../core/errors.js';
import { isBase64Key, isZeroKey, keyToBase64 } from './keys.js';
import { formatPrefix, parseIP, parsePrefix, type IPPrefix } from './ip.js';

/** An Endpoint line: host as written (a name or a numeric address, IPv6 without brackets) and port. */
export interface ConfigEndpoint {
  host: string;
  port: number;
}

/** A [Peer] section. */
export interface PeerConfig {
  publicKey: Buffer;
  presharedKey?: Buffer;
  endpoint?: ConfigEndpoint;
  /** Prefixes to add (AllowedIPs entries, '+'-prefixed ones included), in order. */
  allowedIPs: IPPrefix[];
  /** Prefixes to remove ('-'-prefixed entries, wireguard-tools 1.0.2025+). */
  removedAllowedIPs: IPPrefix[];
  /** Replace the peer's allowed IPs (false once any entry is '+' or '-' prefixed). */
  replaceAllowedIPs: boolean;
  persistentKeepalive?: number;
}

/** A whole configuration file. Absent fields were not in the file. */
export interface WireGuardConfig {
  interface: {
    privateKey?: Buffer;
    listenPort?: number;
    fwmark?: number;
  };
  peers: PeerConfig[];
  /** wg-quick keys set aside with { wgQuick: true }: lowercase key -> values (as written, trimmed). */
  wgQuick?: Record<string, string[]>;
}

/** Parse options. */
export interface ParseConfigOptions {
  /** Set wg-quick's keys aside (into `wgQuick`) instead of rejecting them. */
  wgQuick?: boolean;
}

/** A configuration error; `line` is 1-based (0 for the file as a whole). */
export class ConfigError extends CodedError {
  readonly line: number;
  constructor(line: number, message: string) {
    super('ERR_WIREGUARD_CONFIG', line > 0 ? `line ${line}: ${message}` : message);
    this.line = line;
  }
}

const WG_QUICK_KEYS = new Set(['address', 'dns', 'mtu', 'table', 'preup', 'postup', 'predown', 'postdown', 'saveconfig']);

/** wg's char_is_space: \t \n \v \f \r and space. */
const SPACES = /[\t\n\v\f\r ]/g;

function parseKey(value: string, line: number): Buffer {
  if (!isBase64Key(value)) throw new ConfigError(line, `Key is not the correct length or format: \`${value}'`);
  return Buffer.from(value, 'base64');
}

function parsePort(value: string, line: number): number {
  if (!/^[0-9]+$/.test(value) || Number(value) > 65535) throw new ConfigError(line, `Unable to parse port: \`${value}'`);
  return Number(value);
}

function parseFwmark(value: string, line: number): number {
  if (value.toLowerCase() === 'off') return 0;
  const hex = value.length > 2 && value.startsWith('0x');
  const ok = hex ? /^0x[0-9a-fA-F]+$/.test(value) : /^[0-9]+$/.test(value);
  const mark = ok ? Number(BigInt(value)) : NaN;
  if (!ok || mark > 0xffffffff) throw new ConfigError(line, `Fwmark is neither 0/off nor 0-0xffffffff: \`${value}'`);
  return mark;
}

function parseKeepalive(value: string, line: number): number {
  if (value.toLowerCase() === 'off') return 0;
  if (!/^[0-9]+$/.test(value) || Number(value) > 65535) {
    throw new ConfigError(line, `Persistent keepalive interval is neither 0/off nor 1-65535: \`${value}'`);
  }
  return Number(value);
}

function parseConfigEndpoint(value: string, line: number): ConfigEndpoint {
  let host: string;
  let port: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0) throw new ConfigError(line, `Unable to find matching brace of endpoint: \`${value}'`);
    if (value[close + 1] !== ':' || close + 2 >= value.length) {
      throw new ConfigError(line, `Unable to find port of endpoint: \`${value}'`);
    }
    host = value.slice(1, close);
    port = value.slice(close + 2);
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0 || colon === value.length - 1) throw new ConfigError(line, `Unable to find port of endpoint: \`${value}'`);
    host = value.slice(0, colon);
    port = value.slice(colon + 1);
  }
  if (!host) throw new ConfigError(line, `Unable to parse empty endpoint host: \`${value}'`);
  if (!/^[0-9]+$/.test(port) || Number(port) > 65535) {
    throw new ConfigError(line, `Unable to parse port of endpoint (a number 0-65535): \`${value}'`);
  }
  return { host, port: Number(port) };
}

function parseAllowedIPs(peer: PeerConfig, value: string, line: number): void {
  peer.replaceAllowedIPs = true;
  const entries: [IPPrefix, boolean][] = [];
  let incremental = false;
  for (let entry of value.split(',')) {
    let remove = false;
    if (entry.startsWith('+') || entry.startsWith('-')) {
      remove = entry.startsWith('-');
      incremental = true;
      entry = entry.slice(1);
    }
    const slash = entry.indexOf('/');
    const ip = slash < 0 ? entry : entry.slice(0, slash);
    if (!parseIP(ip)) throw new ConfigError(line, `Unable to parse IP address: \`${ip}'`);
    const prefix = parsePrefix(entry);
    if (!prefix) throw new ConfigError(line, `AllowedIP is not in the correct format: \`${entry}'`);
    entries.push([prefix, remove]);
  }
  if (incremental) peer.replaceAllowedIPs = false;
  for (const [prefix, remove] of entries) (remove ? peer.removedAllowedIPs : peer.allowedIPs).push(prefix);
}

/** Split "Key=value" (whitespace already removed) as wg's get_value does. */
function keyValue(line: string): [string, string] | null {
  const eq = line.indexOf('=');
  if (eq <= 0 || eq === line.length - 1) return null;
  return [line.slice(0, eq).toLowerCase(), line.slice(eq + 1)];
}

function interfaceLine(cfg: WireGuardConfig, key: string, value: string, line: number): boolean {
  const ifc = cfg.interface;
  if (key === 'listenport') ifc.listenPort = parsePort(value, line);
  else if (key === 'fwmark') ifc.fwmark = parseFwmark(value, line);
  else if (key === 'privatekey') ifc.privateKey = parseKey(value, line);
  else return false;
  return true;
}

function peerLine(peer: PeerConfig, key: string, value: string, line: number): boolean {
  if (key === 'endpoint') peer.endpoint = parseConfigEndpoint(value, line);
  else if (key === 'publickey') peer.publicKey = parseKey(value, line);
  else if (key === 'allowedips') parseAllowedIPs(peer, value, line);
  else if (key === 'persistentkeepalive') peer.persistentKeepalive = parseKeepalive(value, line);
  else if (key === 'presharedkey') peer.presharedKey = parseKey(value, line);
  else return false;
  return true;
}

/**
 * Parse configuration text in wg(8)'s format. Throws ConfigError (code
 * ERR_WIREGUARD_CONFIG) naming the first bad line.
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): WireGuardConfig {
  if (typeof text !== 'string') throw new TypeError('configuration text must be a string');
  const cfg: WireGuardConfig = { interface: {}, peers: [] };
  const peerLines: number[] = [];
  let section: 'none' | 'interface' | 'peer' = 'none';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const hash = raw.indexOf('#');
    const uncommented = hash < 0 ? raw : raw.slice(0, hash);
    const line = uncommented.replace(SPACES, '');
    if (!line) continue;
    const n = i + 1;
    const lower = line.toLowerCase();
    if (lower === '[interface]') {
      section = 'interface';
      continue;
    }
    if (lower === '[peer]') {
      section = 'peer';
      cfg.peers.push({ publicKey: Buffer.alloc(0), allowedIPs: [], removedAllowedIPs: [], replaceAllowedIPs: true });
      peerLines.push(n);
      continue;
    }
    const kv = keyValue(line);
    let handled = false;
    if (kv && section === 'interface') {
      handled = interfaceLine(cfg, kv[0], kv[1], n);
      if (!handled && options.wgQuick && WG_QUICK_KEYS.has(kv[0])) {
        const value = uncommented.slice(uncommented.indexOf('=') + 1).trim();
        ((cfg.wgQuick ??= {})[kv[0]] ??= []).push(value);
        handled = true;
      }
    } else if (kv && section === 'peer') {
      handled = peerLine(cfg.peers[cfg.peers.length - 1]!, kv[0], kv[1], n);
    }
    if (!handled) {
      const hint = kv && WG_QUICK_KEYS.has(kv[0]) ? ` (${kv[0]} is a wg-quick key; strip it or parse with { wgQuick: true })` : '';
      throw new ConfigError(n, `Line unrecognized: \`${line}'${hint}`);
    }
  }
  cfg.peers.forEach((p, i) => {
    if (p.publicKey.length === 0) throw new ConfigError(peerLines[i]!, 'A peer is missing a public key');
  });
  return cfg;
}

function formatHostPort(ep: ConfigEndpoint): string {
  return ep.host.includes(':') ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`;
}

/**
 * Print a configuration as `wg showconf` does: [Interface] with ListenPort
 * and FwMark (hex) when non-zero and PrivateKey when set, then a blank
 * line, then each [Peer] (PublicKey, PresharedKey when non-zero,
 * AllowedIPs, Endpoint, PersistentKeepalive when non-zero), blank lines
 * between peers. Removed-prefix entries are not printed.
 */
export function formatConfig(cfg: WireGuardConfig): string {
  const out: string[] = ['[Interface]'];
  const ifc = cfg.interface;
  if (ifc.listenPort) out.push(`ListenPort = ${ifc.listenPort}`);
  if (ifc.fwmark) out.push(`FwMark = 0x${ifc.fwmark.toString(16)}`);
  if (ifc.privateKey) out.push(`PrivateKey = ${keyToBase64(ifc.privateKey)}`);
  out.push('');
  cfg.peers.forEach((p, i) => {
    out.push('[Peer]', `PublicKey = ${keyToBase64(p.publicKey)}`);
    if (p.presharedKey && !isZeroKey(p.presharedKey)) out.push(`PresharedKey = ${keyToBase64(p.presharedKey)}`);
    if (p.allowedIPs.length) out.push(`AllowedIPs = ${p.allowedIPs.map(formatPrefix).join(', ')}`);
    if (p.endpoint) out.push(`Endpoint = ${formatHostPort(p.endpoint)}`);
    if (p.persistentKeepalive) out.push(`PersistentKeepalive = ${p.persistentKeepalive}`);
    if (i < cfg.peers.length - 1) out.push('');
  });
  return `${out.join('\n')}\n`;
}

/** A resolver: host name -> numeric address (dns.lookup's shape). */
export type HostResolver = (host: string) => Promise<string>;

/**
 * Resolve every Endpoint host that is not already a numeric address, as wg
 * does before configuring a device (first address getaddrinfo returns).
 * Returns a new configuration; throws ConfigError naming the endpoint that
 * did not resolve.
 */
export async function resolveEndpoints(
  cfg: WireGuardConfig,
  resolve: HostResolver = async (host) => (await lookup(host)).address,
): Promise<WireGuardConfig> {
  const peers = await Promise.all(
    cfg.peers.map(async (p) => {
      if (!p.endpoint || parseIP(p.endpoint.host.replace(/%.*$/, ''))) return p;
      let address: string;
      try {
        address = await resolve(p.endpoint.host);
      } catch (err) {
        throw new ConfigError(0, `${(err as Error).message}: \`${formatHostPort(p.endpoint)}'`);
      }
      return { ...p, endpoint: { host: address, port: p.endpoint.port } };
    }),
  );
  return { ...cfg, peers };
}
