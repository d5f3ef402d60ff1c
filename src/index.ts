/**
 * iouring-net: UDP sockets for Node.js whose I/O goes through io_uring.
 */
import { selectBackend } from './backend.js';
import type { UdpSocketOptions } from './options.js';
import { UdpSocket } from './udp.js';

export { probe, type ProbeResult, type ProbeFeatures } from './probe.js';
export { RecvBatch } from './batch.js';
export { Endpoint } from './endpoint.js';
export { UdpSocket, type AddressInfo } from './udp.js';
export type { UdpSocketOptions, SocketType, ReceiveMode } from './options.js';
export type { UdpStats } from './stats.js';
export type { BackendName, BackendChoice, FileBackendName, FileBackendChoice } from './backend.js';
export type { SendCallback } from './sendqueue.js';

/**
 * Open a UDP socket bound to options.address:options.port (default: any
 * address, ephemeral port). Throws a Node-style error if binding fails.
 */
export function openUdp(options: UdpSocketOptions): UdpSocket {
  const where = typeof options?.port === 'number' ? `UDP ${options.address ?? '*'}:${options.port}` : 'UDP';
  const sel = selectBackend({ backend: options?.backend, quiet: options?.quiet }, where);
  return new UdpSocket(sel.reactor, sel.backend, options);
}

// TUN devices and files over io_uring (src/tun.ts, src/file.ts), and the
// interface helpers (src/netdev.ts: up, addresses, MTU, namespaces).
export {
  openTun,
  wrapTun,
  TunDevice,
  PacketBatch,
  type TunOptions,
  type TunIoOptions,
  type WrapTunOptions,
  type TunReadMode,
  type TunStats,
} from './tun.js';
export { openFile, RingFile, type OpenFileOptions } from './file.js';
export * as netdev from './netdev.js';

// node:dgram-compatible layer (also the 'iouring-net/dgram' entry point).
export { createSocket, Socket as DgramSocket } from './dgram.js';
export type {
  SocketOptions as DgramSocketOptions,
  RemoteInfo,
  BindOptions,
  IouringDgramOptions,
  LookupFunction,
} from './dgram.js';

// The TUN <-> UDP data plane (src/tunnel.ts) and its counters.
export { createTunnel, Tunnel, type TunnelOptions, type TunnelUdpOptions, type TunnelError } from './tunnel.js';
export { formatStats as formatTunnelStats, DROP_REASONS, type TunnelStats, type DropReason } from './tunnel-stats.js';
