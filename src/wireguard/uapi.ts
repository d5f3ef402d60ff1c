/**
 * The cross-platform userspace API (wireguard.com/xplatform): the text
 * protocol `wg` speaks to a userspace WireGuard over
 * /var/run/wireguard/NAME.sock. This file is the protocol over an abstract
 * device (UapiDevice), so it can be tested with an in-memory fake;
 * uapi-server.ts serves it on the socket.
 *
 * get=1 answers with the device's state in wireguard-go's order and form;
 * set=1 applies key=value lines with wireguard-go's semantics (device keys
 * first, then per peer from public_key=; update_only, remove,
 * replace_peers, replace_allowed_ips, "-" allowed_ip removal; a peer whose
 * key is our own is ignored). Errors are wireguard-go's: errno=-22 (EINVAL)
 * for a bad key or value, -71 (EPROTO) for a line without '=', -98
 * (EADDRINUSE) when the port or fwmark cannot be applied, -5 (EIO) for a
 * broken read, -55 for anything else.
 *
 * One departure: a set request is parsed whole before anything is
 * applied, so a request with a malformed line changes nothing (wireguard-go
 * applies the lines before it). The errno is the same.
 */
import { CodedError } from '../core/errors.js';
import type { WireGuardConfig } from './config.js';
import { isZeroKey, KEY_HEX_LENGTH, keysEqual } from './keys.js';
import { formatEndpoint, formatPrefix, parseEndpoint, parseIP, parsePrefix, type Endpoint, type IPPrefix } from './ip.js';

/** wireguard-go's UAPI error numbers (negative errno values). */
export const UAPI_ERRNO = {
  io: -5,
  invalid: -22,
  protocol: -71,
  portInUse: -98,
  unknown: -55,
} as const;

/** An error the UAPI reports as errno=`errno` (a negative errno value). */
export class UapiError extends CodedError {
  readonly errno: number;
  constructor(errno: number, message: string) {
    super('ERR_WIREGUARD_UAPI', message);
    this.errno = errno;
  }
}

/** A peer as get=1 reports it. */
export interface UapiPeerState {
  publicKey: Uint8Array;
  /** Null (or all zeros) when none. */
  presharedKey: Uint8Array | null;
  endpoint: Endpoint | null;
  /** Wall-clock time of the last handshake, ns since the Unix epoch; null or 0n when none. */
  lastHandshakeNanos: bigint | null;
  rxBytes: bigint;
  txBytes: bigint;
  /** Seconds, 0 = off. */
  persistentKeepalive: number;
  allowedIPs: IPPrefix[];
}

/** The device as get=1 reports it. */
export interface UapiDeviceState {
  privateKey: Uint8Array | null;
  listenPort: number;
  fwmark: number;
  peers: UapiPeerState[];
}

/**
 * What the UAPI drives. Peers are named by their public keys (32 bytes).
 * Methods may throw: a UapiError's errno is reported as is; another error
 * becomes EADDRINUSE from setListenPort/setFwmark (as wireguard-go reports
 * a failed rebind), EINVAL from addPeer, and -55 otherwise.
 */
export interface UapiDevice {
  /** The whole state, for get=1. */
  getState(): UapiDeviceState;
  /** Our public key, or null without a private key. */
  publicKey(): Uint8Array | null;
  /** Set the private key; null clears it (an all-zero private_key). */
  setPrivateKey(key: Uint8Array | null): void;
  /** Set the listening port and rebind (0: any port). */
  setListenPort(port: number): void;
  /** Set the fwmark of the sockets (0: none). */
  setFwmark(mark: number): void;
  removeAllPeers(): void;
  hasPeer(publicKey: Uint8Array): boolean;
  addPeer(publicKey: Uint8Array): void;
  removePeer(publicKey: Uint8Array): void;
  /** null: no preshared key (an all-zero one). */
  setPresharedKey(publicKey: Uint8Array, key: Uint8Array | null): void;
  setEndpoint(publicKey: Uint8Array, endpoint: Endpoint): void;
  /** Seconds, 0 = off. Turning it on from off should send a keepalive (PeerTimers does). */
  setPersistentKeepalive(publicKey: Uint8Array, seconds: number): void;
  clearAllowedIPs(publicKey: Uint8Array): void;
  addAllowedIP(publicKey: Uint8Array, prefix: IPPrefix): void;
  removeAllowedIP(publicKey: Uint8Array, prefix: IPPrefix): void;
  /**
   * Optional: every line about this peer in one request was applied
   * (wireguard-go's handlePostConfig: start the peer if the device is up,
   * send what waited for it). `created`: the request added the peer.
   */
  peerConfigured?(publicKey: Uint8Array, created: boolean): void;
}

/** One validated line of a set=1 request, in request order. */
export type UapiOp =
  | { op: 'private_key'; key: Buffer | null }
  | { op: 'listen_port'; port: number }
  | { op: 'fwmark'; mark: number }
  | { op: 'replace_peers' }
  | { op: 'public_key'; key: Buffer }
  | { op: 'update_only' }
  | { op: 'remove' }
  | { op: 'preshared_key'; key: Buffer | null }
  | { op: 'endpoint'; endpoint: Endpoint }
  | { op: 'persistent_keepalive_interval'; seconds: number }
  | { op: 'replace_allowed_ips' }
  | { op: 'allowed_ip'; prefix: IPPrefix; remove: boolean }
  | { op: 'protocol_version' };

const HEX_KEY = /^[0-9a-fA-F]{64}$/;

function invalid(message: string): UapiError {
  return new UapiError(UAPI_ERRNO.invalid, message);
}

function parseHexKey(key: string, value: string): Buffer {
  if (value.length !== KEY_HEX_LENGTH || !HEX_KEY.test(value)) throw invalid(`${key}: not a ${KEY_HEX_LENGTH}-digit hex key`);
  return Buffer.from(value, 'hex');
}

/** strconv.ParseUint(value, 10, bits): decimal digits only, within range. */
function parseUint(key: string, value: string, max: number): number {
  if (!/^[0-9]+$/.test(value) || Number(value) > max) throw invalid(`${key}: invalid value ${JSON.stringify(value)}`);
  return Number(value);
}

function mustBeTrue(key: string, value: string): void {
  if (value !== 'true') throw invalid(`${key}: invalid value ${JSON.stringify(value)}`);
}

/** An allowed_ip value as Go's netip.ParsePrefix reads it ("/bits" required, no leading zeros). */
function parseAllowedIP(value: string): UapiOp {
  const remove = value.startsWith('-');
  const text = remove ? value.slice(1) : value;
  const bits = text.slice(text.indexOf('/') + 1);
  const prefix = text.includes('/') && !/^0[0-9]/.test(bits) ? parsePrefix(text, true) : null;
  if (!prefix) throw invalid(`allowed_ip: invalid prefix ${JSON.stringify(value)}`);
  return { op: 'allowed_ip', prefix, remove };
}

function deviceOp(key: string, value: string): UapiOp {
  switch (key) {
    case 'private_key': {
      const k = parseHexKey(key, value);
      return { op: 'private_key', key: isZeroKey(k) ? null : k };
    }
    case 'listen_port':
      return { op: 'listen_port', port: parseUint(key, value, 0xffff) };
    case 'fwmark':
      return { op: 'fwmark', mark: parseUint(key, value, 0xffffffff) };
    case 'replace_peers':
      mustBeTrue(key, value);
      return { op: 'replace_peers' };
    default:
      throw invalid(`invalid UAPI device key: ${key}`);
  }
}

function peerOp(key: string, value: string): UapiOp {
  switch (key) {
    case 'update_only':
    case 'remove':
    case 'replace_allowed_ips':
      mustBeTrue(key, value);
      return { op: key };
    case 'preshared_key': {
      const k = parseHexKey(key, value);
      return { op: 'preshared_key', key: isZeroKey(k) ? null : k };
    }
    case 'endpoint': {
      const endpoint = parseEndpoint(value);
      if (!endpoint) throw invalid(`endpoint: invalid ${JSON.stringify(value)}`);
      return { op: 'endpoint', endpoint };
    }
    case 'persistent_keepalive_interval':
      return { op: 'persistent_keepalive_interval', seconds: parseUint(key, value, 0xffff) };
    case 'allowed_ip':
      return parseAllowedIP(value);
    case 'protocol_version':
      if (value !== '1') throw invalid(`invalid protocol version: ${value}`);
      return { op: 'protocol_version' };
    default:
      throw invalid(`invalid UAPI peer key: ${key}`);
  }
}

/**
 * Parse the lines of a set=1 request (without the "set=1" line and the
 * blank line that ends it). Throws UapiError on the first bad line.
 */
export function parseSetRequest(lines: Iterable<string>): UapiOp[] {
  const ops: UapiOp[] = [];
  let peers = false;
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq < 0) throw new UapiError(UAPI_ERRNO.protocol, `failed to parse line ${JSON.stringify(line)}`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'public_key') {
      peers = true;
      ops.push({ op: 'public_key', key: parseHexKey(key, value) });
    } else {
      ops.push(peers ? peerOp(key, value) : deviceOp(key, value));
    }
  }
  return ops;
}

/** Run a device call, turning what it throws into a UapiError. */
function call(fallback: number, what: string, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof UapiError) throw err;
    throw new UapiError(fallback, `${what}: ${(err as Error)?.message ?? String(err)}`);
  }
}

interface Selected {
  key: Buffer;
  dummy: boolean;
  created: boolean;
}

function applyPeerOp(device: UapiDevice, peer: Selected, op: UapiOp): void {
  const key = peer.key;
  const u = UAPI_ERRNO.unknown;
  switch (op.op) {
    case 'update_only':
      // Only undoes a creation: an existing peer is updated as usual.
      if (peer.created && !peer.dummy) {
        call(u, 'remove peer', () => device.removePeer(key));
        peer.dummy = true;
      }
      return;
    case 'remove':
      if (!peer.dummy) call(u, 'remove peer', () => device.removePeer(key));
      peer.dummy = true;
      return;
    case 'protocol_version':
      return;
  }
  if (peer.dummy) return;
  switch (op.op) {
    case 'preshared_key':
      return call(u, 'preshared_key', () => device.setPresharedKey(key, op.key));
    case 'endpoint':
      return call(u, 'endpoint', () => device.setEndpoint(key, op.endpoint));
    case 'persistent_keepalive_interval':
      return call(u, 'persistent_keepalive_interval', () => device.setPersistentKeepalive(key, op.seconds));
    case 'replace_allowed_ips':
      return call(u, 'replace_allowed_ips', () => device.clearAllowedIPs(key));
    case 'allowed_ip':
      return call(u, 'allowed_ip', () => (op.remove ? device.removeAllowedIP(key, op.prefix) : device.addAllowedIP(key, op.prefix)));
    default:
      throw new UapiError(u, `unexpected operation ${op.op}`);
  }
}

function applyDeviceOp(device: UapiDevice, op: UapiOp): void {
  switch (op.op) {
    case 'private_key':
      return call(UAPI_ERRNO.unknown, 'private_key', () => device.setPrivateKey(op.key));
    case 'listen_port':
      return call(UAPI_ERRNO.portInUse, 'listen_port', () => device.setListenPort(op.port));
    case 'fwmark':
      return call(UAPI_ERRNO.portInUse, 'fwmark', () => device.setFwmark(op.mark));
    case 'replace_peers':
      return call(UAPI_ERRNO.unknown, 'replace_peers', () => device.removeAllPeers());
    default:
      throw new UapiError(UAPI_ERRNO.unknown, `unexpected operation ${op.op}`);
  }
}

/**
 * Apply parsed operations to `device` in order, with wireguard-go's
 * semantics. Throws UapiError when the device refuses one; what was
 * applied before stays applied.
 */
export function applySetRequest(device: UapiDevice, ops: readonly UapiOp[]): void {
  let peer: Selected | null = null;
  const finishPeer = (): void => {
    if (peer && !peer.dummy && device.peerConfigured) {
      const p: Selected = peer;
      call(UAPI_ERRNO.unknown, 'peer configuration', () => device.peerConfigured!(p.key, p.created));
    }
  };
  for (const op of ops) {
    if (op.op === 'public_key') {
      finishPeer();
      const own = device.publicKey();
      const dummy = own !== null && keysEqual(own, op.key);
      const created = !dummy && !device.hasPeer(op.key);
      if (created) call(UAPI_ERRNO.invalid, 'failed to create new peer', () => device.addPeer(op.key));
      peer = { key: op.key, dummy, created };
    } else if (peer) {
      applyPeerOp(device, peer, op);
    } else {
      applyDeviceOp(device, op);
    }
  }
  finishPeer();
}

/**
 * Parse and apply a set=1 request's lines: 0 on success, else the negative
 * errno the UAPI reports (the error goes to `onError` if given).
 */
export function handleSet(device: UapiDevice, lines: Iterable<string>, onError?: (err: UapiError) => void): number {
  try {
    applySetRequest(device, parseSetRequest(lines));
    return 0;
  } catch (err) {
    const e = err instanceof UapiError ? err : new UapiError(UAPI_ERRNO.unknown, `other UAPI error: ${String(err)}`);
    onError?.(e);
    return e.errno;
  }
}

function hexKey(name: string, key: Uint8Array | null): string {
  const bytes = key ?? new Uint8Array(32);
  return `${name}=${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')}\n`;
}

/**
 * The body of a get=1 answer (everything before "errno=0"), in
 * wireguard-go's order: private_key (when set), listen_port and fwmark
 * (when non-zero), then per peer public_key, preshared_key,
 * protocol_version, endpoint (when known), last_handshake_time_sec/nsec,
 * tx_bytes, rx_bytes, persistent_keepalive_interval, allowed_ip lines.
 */
export function formatGetResponse(state: UapiDeviceState): string {
  let out = '';
  if (state.privateKey && !isZeroKey(state.privateKey)) out += hexKey('private_key', state.privateKey);
  if (state.listenPort) out += `listen_port=${state.listenPort}\n`;
  if (state.fwmark) out += `fwmark=${state.fwmark}\n`;
  for (const p of state.peers) {
    out += hexKey('public_key', p.publicKey) + hexKey('preshared_key', p.presharedKey);
    out += 'protocol_version=1\n';
    if (p.endpoint) out += `endpoint=${formatEndpoint(p.endpoint)}\n`;
    const ns = p.lastHandshakeNanos ?? 0n;
    out += `last_handshake_time_sec=${ns / 1_000_000_000n}\nlast_handshake_time_nsec=${ns % 1_000_000_000n}\n`;
    out += `tx_bytes=${p.txBytes}\nrx_bytes=${p.rxBytes}\n`;
    out += `persistent_keepalive_interval=${p.persistentKeepalive}\n`;
    for (const prefix of p.allowedIPs) out += `allowed_ip=${formatPrefix(prefix)}\n`;
  }
  return out;
}

/**
 * The set=1 operations that `wg setconf` (or, with `append`, `wg addconf`)
 * sends for a configuration. Endpoints must be numeric (resolveEndpoints()
 * first); throws ERR_WIREGUARD_CONFIG otherwise.
 */
export function configToSetRequest(cfg: WireGuardConfig, append = false): UapiOp[] {
  const ops: UapiOp[] = [];
  const ifc = cfg.interface;
  if (!append || ifc.privateKey) ops.push({ op: 'private_key', key: ifc.privateKey && !isZeroKey(ifc.privateKey) ? ifc.privateKey : null });
  if (!append || ifc.listenPort !== undefined) ops.push({ op: 'listen_port', port: ifc.listenPort ?? 0 });
  if (!append || ifc.fwmark !== undefined) ops.push({ op: 'fwmark', mark: ifc.fwmark ?? 0 });
  if (!append) ops.push({ op: 'replace_peers' });
  for (const p of cfg.peers) {
    ops.push({ op: 'public_key', key: p.publicKey });
    if (p.presharedKey) ops.push({ op: 'preshared_key', key: isZeroKey(p.presharedKey) ? null : p.presharedKey });
    if (p.endpoint) {
      const host = p.endpoint.host;
      const ip = parseIP(host.replace(/%.*$/, ''));
      if (!ip) throw new CodedError('ERR_WIREGUARD_CONFIG', `endpoint host ${host} is not resolved (see resolveEndpoints)`);
      const ep = parseEndpoint(ip.family === 6 ? `[${host}]:${p.endpoint.port}` : `${host}:${p.endpoint.port}`);
      if (!ep) throw new CodedError('ERR_WIREGUARD_CONFIG', `invalid endpoint ${host}`);
      ops.push({ op: 'endpoint', endpoint: ep });
    }
    if (p.persistentKeepalive !== undefined) ops.push({ op: 'persistent_keepalive_interval', seconds: p.persistentKeepalive });
    if (p.replaceAllowedIPs) ops.push({ op: 'replace_allowed_ips' });
    for (const prefix of p.allowedIPs) ops.push({ op: 'allowed_ip', prefix, remove: false });
    for (const prefix of p.removedAllowedIPs) ops.push({ op: 'allowed_ip', prefix, remove: true });
  }
  return ops;
}

/**
 * The device's state as a configuration (what `wg showconf` prints):
 * formatConfig(stateToConfig(device.getState())).
 */
export function stateToConfig(state: UapiDeviceState): WireGuardConfig {
  const cfg: WireGuardConfig = { interface: {}, peers: [] };
  if (state.privateKey && !isZeroKey(state.privateKey)) cfg.interface.privateKey = Buffer.from(state.privateKey);
  if (state.listenPort) cfg.interface.listenPort = state.listenPort;
  if (state.fwmark) cfg.interface.fwmark = state.fwmark;
  for (const p of state.peers) {
    cfg.peers.push({
      publicKey: Buffer.from(p.publicKey),
      ...(p.presharedKey && !isZeroKey(p.presharedKey) ? { presharedKey: Buffer.from(p.presharedKey) } : {}),
      ...(p.endpoint ? { endpoint: { host: p.endpoint.address, port: p.endpoint.port } } : {}),
      ...(p.persistentKeepalive ? { persistentKeepalive: p.persistentKeepalive } : {}),
      allowedIPs: [...p.allowedIPs],
      removedAllowedIPs: [],
      replaceAllowedIPs: true,
    });
  }
  return cfg;
}
