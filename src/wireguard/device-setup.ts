/**
 * What createWireGuard() and setConfig() do before they touch the device:
 * configuration text to settings, endpoint host names resolved, and the
 * device's UDP socket opened (dual-stack udp6, or udp4 where IPv6 is
 * unavailable).
 */
import { lookup } from 'node:dns/promises';
import { invalidArgType } from '../core/errors.js';
import { openUdp } from '../udp/open.js';
import type { UdpSocket } from '../udp/socket.js';
import { parseConfig, type WireGuardConfig } from './config.js';
import type { WireGuardOptions, WireGuardPeerOptions, WireGuardSettings } from './device-types.js';
import { formatPrefix, splitHostPort } from './ip.js';

/** Configuration text (wg setconf format) as settings. */
export function settingsFromText(text: string): WireGuardSettings {
  const cfg: WireGuardConfig = parseConfig(text);
  return {
    privateKey: cfg.interface.privateKey ?? null,
    listenPort: cfg.interface.listenPort ?? 0,
    fwmark: cfg.interface.fwmark ?? 0,
    peers: cfg.peers.map((p) => ({
      publicKey: p.publicKey,
      presharedKey: p.presharedKey ?? null,
      endpoint: p.endpoint ? (p.endpoint.host.includes(':') ? `[${p.endpoint.host}]:${p.endpoint.port}` : `${p.endpoint.host}:${p.endpoint.port}`) : null,
      allowedIPs: p.allowedIPs.map(formatPrefix),
      persistentKeepalive: p.persistentKeepalive ?? 0,
    })),
  };
}

/** Peers with every endpoint host name resolved (dns.lookup, as wg does). */
export async function resolvePeers(peers: readonly WireGuardPeerOptions[]): Promise<WireGuardPeerOptions[]> {
  if (!Array.isArray(peers)) throw invalidArgType('peers', 'an array', peers);
  return Promise.all(
    peers.map(async (p: WireGuardPeerOptions) => {
      if (p === null || typeof p !== 'object') throw invalidArgType('peer', 'an object', p);
      if (typeof p.endpoint !== 'string') return p;
      const hp = splitHostPort(p.endpoint);
      const host = hp?.host.replace(/%.*$/, '');
      if (!hp || !host || /^[0-9.]+$/.test(host) || host.includes(':')) return p; // numeric (or invalid: setPeer says so)
      const { address } = await lookup(host);
      return { ...p, endpoint: { address, port: hp.port } };
    }),
  );
}

/** The device's socket: dual-stack udp6 unless `type` says udp4. */
export function openSocket(o: WireGuardOptions, port: number, type: 'udp4' | 'udp6'): UdpSocket {
  return openUdp({
    // Bursts of a TCP flow overflow the default 208 KiB receive queue; the
    // kernel caps these at net.core.rmem_max / wmem_max.
    recvBufferSize: 4 << 20,
    sendBufferSize: 4 << 20,
    // Room for two TUN read batches of sealed messages.
    sendQueueSize: 2048,
    sendBufferBytes: 4 << 20,
    gro: true,
    recvBuffers: 64,
    ...o.udp,
    maxMessageSize: 65535,
    type,
    address: type === 'udp6' ? '::' : '0.0.0.0',
    ipv6Only: false,
    port,
    ...(o.backend !== undefined ? { backend: o.backend } : {}),
    ...(o.quiet !== undefined ? { quiet: o.quiet } : {}),
  });
}

const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EPROTONOSUPPORT']);

/** udp6 dual-stack, or udp4 where IPv6 is unavailable; bound and ready. */
export async function openReadySocket(o: WireGuardOptions, port: number): Promise<UdpSocket> {
  for (const type of ['udp6', 'udp4'] as const) {
    let sock: UdpSocket | undefined;
    try {
      sock = openSocket(o, port, type);
      await sock.ready;
      return sock;
    } catch (err) {
      if (sock?.isOpen) sock.close();
      if (type === 'udp4' || !NO_IPV6.has((err as { code?: string }).code ?? '')) throw err;
    }
  }
  throw new Error('unreachable');
}
