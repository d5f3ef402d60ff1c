/**
 * The WireGuard device's public types: its options, configuration and
 * counters in wg(8)'s terms (device.ts makes and runs the device).
 */
import type { BackendChoice, FileBackendChoice } from '../core/backend.js';
import type { UdpSocketOptions } from '../udp/options.js';
import type { UdpStats } from '../udp/stats.js';
import type { TunDevice, TunStats } from '../tun/device.js';
import type { TunOptions } from '../tun/options.js';
import type { TimerClock } from './clock.js';
import type { LinkCounters } from './link.js';
import type { HandshakeDropReason } from './noise.js';
import type { EndpointInput, KeyInput } from './peer.js';

/** A peer in createWireGuard() / addPeer() / setConfig(), in wg(8)'s terms. */
export interface WireGuardPeerOptions {
  publicKey: KeyInput;
  /** null or absent: none. */
  presharedKey?: KeyInput | null;
  /** "a.b.c.d:port", "[v6]:port" (host names are resolved by createWireGuard and setConfig), or { address, port }. */
  endpoint?: EndpointInput | null;
  /** Prefixes routed to this peer and accepted from it: ["10.0.0.2/32", "fd00::/64"] or "10.0.0.2/32, fd00::/64". */
  allowedIPs?: readonly string[] | string;
  /** Seconds between keepalives when nothing else is sent (0 = off). */
  persistentKeepalive?: number;
}

/** The device-wide settings, in wg(8)'s terms. */
export interface WireGuardSettings {
  /** null: none (the device cannot handshake). */
  privateKey?: KeyInput | null;
  /** UDP port (0 = any). */
  listenPort?: number;
  /** SO_MARK of the socket (0 = none). */
  fwmark?: number;
  peers?: readonly WireGuardPeerOptions[];
}

/** Tuning of the device's UDP socket (openUdp options). */
export type WireGuardUdpOptions = Pick<
  UdpSocketOptions,
  'recvBuffers' | 'sendQueueSize' | 'sendBufferBytes' | 'recvBufferSize' | 'sendBufferSize' | 'receiveMode' | 'gso' | 'gro'
>;

export interface WireGuardOptions extends WireGuardSettings {
  /** Create a TUN interface of this name (MTU `mtu`). One of interface and tun. */
  interface?: string;
  /** An open TUN device (stays open after close()), or options for openTun(). */
  tun?: TunDevice | TunOptions;
  /** MTU of a TUN interface created here (default 1420, as wg-quick). */
  mtu?: number;
  /** UDP backend: 'auto' (default), 'io_uring', 'mmsg' or 'dgram'. */
  backend?: BackendChoice;
  /** TUN backend when the device is created here: 'auto' (default), 'io_uring' or 'poll'. */
  tunBackend?: FileBackendChoice;
  /** UDP socket tuning. */
  udp?: WireGuardUdpOptions;
  /** Monotonic time and timers (tests inject a ManualClock). */
  clock?: TimerClock;
  /** Wall clock in ns since the epoch, for handshake timestamps and last-handshake times. */
  wallClock?: () => bigint;
  /** Handshake messages per second above which cookies are demanded (default 256; 0: always). */
  underLoadThreshold?: number;
  /** No IOURING_NET_FALLBACK warning. */
  quiet?: boolean;
  /**
   * @internal Zero bytes written before each packet to the TUN device: a
   * virtio_net_hdr when the device has offloads on (10 or 12). Default 0.
   */
  tunHeadroom?: number;
}

/** A peer as getConfig() reports it. */
export interface WireGuardPeerConfig {
  publicKey: string;
  presharedKey: string | null;
  endpoint: string | null;
  allowedIPs: string[];
  persistentKeepalive: number;
}

/** The configuration as getConfig() reports it (keys in base64). */
export interface WireGuardDeviceConfig {
  privateKey: string | null;
  publicKey: string | null;
  listenPort: number;
  fwmark: number;
  peers: WireGuardPeerConfig[];
}

/** Native drop reasons (src/native/wg/wg_types.h), by the names the addon gives them. */
export type WireGuardDropReason =
  | 'noRoute'
  | 'txInvalid'
  | 'noEndpoint'
  | 'stagedOverflow'
  | 'malformed'
  | 'unknownIndex'
  | 'keyExpired'
  | 'replay'
  | 'auth'
  | 'innerInvalid'
  | 'sourceNotAllowed'
  | 'sink'
  | 'cryptoError';

export interface WireGuardPeerStats {
  publicKey: string;
  endpoint: string | null;
  /** Wall-clock ms since the epoch of the last completed handshake, or null. */
  lastHandshake: number | null;
  handshakes: number;
  /** Bytes received from / sent to the peer: transport and handshake messages, as wg(8) counts them. */
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  rxKeepalives: number;
  txKeepalives: number;
  /** Packets waiting for keys or ring room. */
  staged: number;
  /** Keypairs the native device holds for the peer (current, previous, next): 0 to 3. */
  keypairs: number;
  persistentKeepalive: number;
  drops: Record<WireGuardDropReason, number>;
}

export interface WireGuardStats {
  backend: { udp: string; tun: string };
  listenPort: number;
  peers: WireGuardPeerStats[];
  /** Data-path drops of the whole device, by reason (peer-less ones included). */
  drops: Record<WireGuardDropReason, number>;
  /** Handshake messages not accepted, by reason ('overflow': beyond what one batch handles). */
  handshakeDrops: Partial<Record<HandshakeDropReason | 'overflow', number>>;
  /** Handshake messages sent and cookies taken; `indices`: receiver indices live (handshakes in progress and keypairs). */
  handshake: { initiationsSent: number; responsesSent: number; cookiesSent: number; cookiesReceived: number; indices: number };
  link: LinkCounters;
  udp: UdpStats;
  tun: TunStats;
}

/** What the 'handshake' event carries. */
export interface HandshakeEvent {
  publicKey: string;
  /** We sent the initiation. */
  initiator: boolean;
}
