/**
 * The tunnel's counters: one Float64Array bumped on the data path (no
 * allocation, exact up to 2^53), turned into an object only when asked.
 */
import type { UdpStats } from '../udp/stats.js';
import type { TunStats } from '../tun/device.js';

/** Why a packet did not make it across. */
export const DROP_REASONS = [
  /** A datagram from anyone but the configured peer. */
  'notFromPeer',
  /** Longer than the receiving side takes whole (maxMessageSize / maxPacketSize). */
  'tooBig',
  /** A datagram whose payload is not an IPv4/IPv6 packet. */
  'malformed',
  /** The UDP send ring was full (the peer direction is congested). */
  'udpQueueFull',
  /** The TUN write ring was full. */
  'tunQueueFull',
  /** The kernel refused a send (e.g. no route to the peer). */
  'sendError',
  /** The kernel refused a TUN write (e.g. the interface is down). */
  'writeError',
  /** Lost while the UDP socket was being replaced (see Tunnel.rebind). */
  'rebind',
  /**
   * Dropped by the kernel before the tunnel saw it: a UDP receive queue was
   * full (SO_RXQ_OVFL, summed over every socket the tunnel had; the dgram
   * backend cannot see it).
   */
  'receiveQueueFull',
] as const;

export type DropReason = (typeof DROP_REASONS)[number];

/** Counter indices in TunnelCounters.v. */
export const TX_PACKETS = 0;
export const TX_BYTES = 1;
export const RX_PACKETS = 2;
export const RX_BYTES = 3;
export const REBINDS = 4;
/** Retired sockets closed without their end marker back (see leg.ts). */
export const REBIND_UNCONFIRMED = 5;
const DROP_BASE = 6;

export const DROP: { readonly [K in DropReason]: number } = Object.fromEntries(
  DROP_REASONS.map((r, i) => [r, DROP_BASE + i]),
) as { [K in DropReason]: number };

export class TunnelCounters {
  readonly v = new Float64Array(DROP_BASE + DROP_REASONS.length);

  add(index: number, n: number): void {
    this.v[index] = (this.v[index] ?? 0) + n;
  }
}

export interface DirectionStats {
  packets: number;
  bytes: number;
}

export interface TunnelStats {
  /** Which backends move the packets. */
  backend: { udp: string; tun: string };
  /** From the TUN device to the peer (accepted into the UDP send ring). */
  tx: DirectionStats;
  /** From the peer to the TUN device (accepted into the TUN write ring). */
  rx: DirectionStats;
  drops: Record<DropReason, number> & { total: number };
  /** Completed socket replacements. */
  rebinds: number;
  /**
   * Replaced sockets closed before their drain could be confirmed (their end
   * marker never came back through the loopback interface, e.g. because it
   * is down): what they still held, if anything, could not be counted.
   */
  rebindsUnconfirmed: number;
  /** The current UDP socket's own counters (they restart with each rebind). */
  udp: UdpStats;
  /** UDP GSO / GRO in use on the current socket (io_uring and mmsg backends). */
  offloads: { gso: boolean; gro: boolean };
  tun: TunStats;
}

export function snapshot(
  c: TunnelCounters,
  backend: { udp: string; tun: string },
  udp: UdpStats,
  tun: TunStats,
  offloads: { gso: boolean; gro: boolean },
  kernelDrops: number,
): TunnelStats {
  const v = (i: number): number => c.v[i] ?? 0;
  let total = 0;
  const drops = {} as Record<DropReason, number> & { total: number };
  for (const r of DROP_REASONS) {
    drops[r] = r === 'receiveQueueFull' ? kernelDrops : v(DROP[r]);
    total += drops[r];
  }
  drops.total = total;
  return {
    backend,
    tx: { packets: v(TX_PACKETS), bytes: v(TX_BYTES) },
    rx: { packets: v(RX_PACKETS), bytes: v(RX_BYTES) },
    drops,
    rebinds: v(REBINDS),
    rebindsUnconfirmed: v(REBIND_UNCONFIRMED),
    udp,
    offloads,
    tun,
  };
}

/** snake_case for the one-line text form. */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
}

/**
 * One line of key=value pairs, for people and for grep:
 * `backend=io_uring tun_backend=io_uring tx_packets=... drops_total=0 drop_not_from_peer=0 ... rebinds=0`.
 */
export function formatStats(s: TunnelStats): string {
  const parts = [
    `backend=${s.backend.udp}`,
    `tun_backend=${s.backend.tun}`,
    `tx_packets=${s.tx.packets}`,
    `tx_bytes=${s.tx.bytes}`,
    `rx_packets=${s.rx.packets}`,
    `rx_bytes=${s.rx.bytes}`,
    `drops_total=${s.drops.total}`,
  ];
  for (const r of DROP_REASONS) parts.push(`drop_${snake(r)}=${s.drops[r]}`);
  parts.push(
    `rebinds=${s.rebinds}`,
    `rebinds_unconfirmed=${s.rebindsUnconfirmed}`,
    `udp_kernel_drops=${s.udp.drops}`,
    `udp_batches=${s.udp.batches}`,
    `udp_gso=${s.offloads.gso ? 'on' : 'off'}`,
    `udp_gro=${s.offloads.gro ? 'on' : 'off'}`,
    `udp_gso_sends=${s.udp.gsoSends}`,
    `udp_gro_receives=${s.udp.groReceives}`,
    `tun_batches=${s.tun.batches}`,
    `tun_super_in=${s.tun.superSegmentsIn}`,
    `tun_coalesced_writes=${s.tun.coalescedWrites}`,
    `tun_coalesced_packets=${s.tun.coalescedPackets}`,
    `tun_offload_fallbacks=${s.tun.offloadFallbacks}`,
    `tun_offload_errors=${s.tun.offloadErrors}`,
    `tun_split_deferred=${s.tun.splitDeferred}`,
  );
  return parts.join(' ');
}
