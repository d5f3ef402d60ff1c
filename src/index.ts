/**
 * iouring-net: UDP sockets for Node.js whose I/O goes through io_uring.
 */
// The declarations use Node's types (EventEmitter, Buffer, NodeJS.*): keep
// the reference in the emitted .d.ts so that a consumer whose tsconfig
// lists no "types" still gets @types/node (a dependency of this package).
/// <reference types="node" preserve="true" />

export { openUdp } from './udp/open.js';
export { probe, type ProbeResult, type ProbeFeatures } from './core/probe.js';
export { RecvBatch } from './udp/batch.js';
export { Endpoint } from './udp/endpoint.js';
export { UdpSocket, type AddressInfo, type UdpSocketEvents } from './udp/socket.js';
export type { SystemError, ObjectError } from './core/errors.js';
export { CodedError } from './core/errors.js';
export type { UdpSocketOptions, SocketType, ReceiveMode } from './udp/options.js';
export type { UdpStats } from './udp/stats.js';
export type { RingStats, RingEnterErrors } from './core/ring-stats.js';
export type { BackendName, BackendChoice, FileBackendName, FileBackendChoice } from './core/backend.js';
export type { SendCallback } from './core/sendqueue.js';

// TUN devices and files over io_uring (src/tun/device.ts, src/file/file.ts), and the
// interface helpers (src/tun/netdev.ts: up, addresses, MTU, namespaces).
export { openTun, wrapTun } from './tun/open.js';
export { TunDevice, PacketBatch, type TunStats, type TunDeviceEvents } from './tun/device.js';
export type { TunOptions, TunIoOptions, WrapTunOptions, TunReadMode, TunOffloadChoice, TunOffloads } from './tun/options.js';
export { openFile, RingFile, type OpenFileOptions } from './file/file.js';
export * as netdev from './tun/netdev.js';

// node:dgram-compatible layer (also the 'iouring-net/dgram' entry point).
export { createSocket, Socket as DgramSocket } from './dgram/socket.js';
export type {
  SocketOptions as DgramSocketOptions,
  RemoteInfo,
  BindOptions,
  IouringDgramOptions,
  LookupFunction,
  SendCallback as DgramSendCallback,
} from './dgram/socket.js';

// The TUN <-> UDP data plane (src/tunnel/tunnel.ts) and its counters.
export { createTunnel, Tunnel, type TunnelOptions, type TunnelUdpOptions, type TunnelError, type TunnelEvents } from './tunnel/tunnel.js';
export { formatStats as formatTunnelStats, DROP_REASONS, type TunnelStats, type DropReason } from './tunnel/stats.js';

// WireGuard (src/wireguard): the device (createWireGuard), keys, wg(8)
// configuration text and the UAPI server; every protocol piece under the
// `wireguard` namespace and the 'iouring-net/wireguard' entry point.
export { createWireGuard } from './wireguard/create.js';
export {
  WireGuardDevice,
  type WireGuardOptions,
  type WireGuardSettings,
  type WireGuardPeerOptions,
  type WireGuardUdpOptions,
  type WireGuardDeviceConfig,
  type WireGuardPeerConfig,
  type WireGuardStats,
  type WireGuardPeerStats,
  type WireGuardDropReason,
  type HandshakeEvent,
} from './wireguard/device.js';
export { generatePrivateKey, generatePresharedKey, publicKeyFromPrivate, keyToBase64, keyFromBase64 } from './wireguard/keys.js';
export { parseConfig as parseWireGuardConfig, formatConfig as formatWireGuardConfig } from './wireguard/config.js';
export { serveUapi, uapiSocketPath, type UapiServer, type UapiServerOptions } from './wireguard/uapi-server.js';
export { wireGuardCrypto, type WireGuardCrypto } from './wireguard/native.js';
export * as wireguard from './wireguard/index.js';
