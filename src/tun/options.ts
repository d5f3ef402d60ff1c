/**
 * Options of openTun() and wrapTun() (tun/open.ts) and their checks: what
 * the device does (read mode, backend, buffers, offloads) and how the
 * interface is created.
 */
import type { FileBackendChoice } from '../core/backend.js';
import { invalidArgType, invalidArgValue } from '../core/errors.js';
import { intInRange, powerOfTwo } from '../file/file.js';
import type { PacketBatch } from './device.js';

/** The largest IP packet (IPv4 total length). */
export const MAX_IP_PACKET = 65535;
/** struct tun_pi */
export const PI_LEN = 4;

export type TunReadMode = 'auto' | 'multishot' | 'single';

/** openTun/wrapTun `offload`: true, false, or 'auto' (the default). */
export type TunOffloadChoice = boolean | 'auto';

/** What a device's offloads are (TunDevice.offloads). */
export interface TunOffloads {
  /**
   * The fd carries a virtio_net_hdr in front of every packet (IFF_VNET_HDR):
   * reads are split and writes coalesced in native code.
   */
  vnetHdr: boolean;
  /** TUNSETOFFLOAD features the kernel took: the kernel may hand over packets with partial checksums... */
  csum: boolean;
  /** ...TCP/IPv4 and TCP/IPv6 super-segments (TSO)... */
  tso4: boolean;
  tso6: boolean;
  /** ...with ECN (CWR) on their first segment... */
  tsoEcn: boolean;
  /** ...and UDP super-segments (USO, Linux 6.2+). */
  uso4: boolean;
  uso6: boolean;
  /**
   * Writes of one turn coalesced into TCP / UDP super-segments, as the
   * kernel's GRO would. Turned off for good (and counted in
   * stats().offloadFallbacks) if the kernel refuses such a write; its
   * packets are then written one by one, none lost.
   */
  coalesceTcp: boolean;
  coalesceUdp: boolean;
}

/** Options shared by openTun() and wrapTun(). */
export interface TunIoOptions {
  /**
   * 'auto' (default): multishot reads (IORING_OP_READ_MULTISHOT, Linux 6.7+)
   * with a provided buffer ring where the kernel has them, else 'single'.
   * 'multishot': the same, said explicitly. 'single': plain reads, never
   * more than one in flight on the fd (chained in the kernel, so one
   * io_uring_enter still reads every queued packet).
   */
  readMode?: TunReadMode;
  /**
   * 'auto' (default): io_uring where usable, else 'poll' (uv_poll plus
   * non-blocking read/write; said once per process with the warning code
   * IOURING_NET_FALLBACK). 'io_uring' or 'poll' force one; forcing io_uring
   * where it is refused throws ERR_IOURING_NET_BACKEND_UNAVAILABLE. Without
   * this option IOURING_NET_BACKEND decides: 'mmsg' (or 'dgram') means 'poll'.
   */
  backend?: FileBackendChoice;
  /** Largest packet delivered whole (default: the MTU at open, at least 1500). */
  maxPacketSize?: number;
  /**
   * Read buffers in the pool (power of two; default 256, or 64 with
   * offloads, where each holds a 64 KiB super-segment: at most 4096 then;
   * 'auto' turns offloads off for more).
   */
  readBuffers?: number;
  /**
   * TUN offloads (IFF_VNET_HDR + TUNSETOFFLOAD: checksum, TSO4/6, USO4/6).
   * 'auto' (default): on where the kernel takes them, feature by feature,
   * else off; never fails the open. true: on, or throw
   * ERR_TUN_OFFLOAD_UNAVAILABLE when the kernel refuses IFF_VNET_HDR or
   * TSO. false: plain packets on the fd. Not with packetInfo ('auto' then
   * means off). All queues of a multi-queue interface must agree (the
   * kernel keeps one setting per interface). wrapTun: an fd opened with
   * IFF_VNET_HDR is always read as such ('auto' and true turn the offloads
   * on, false turns them off); one opened without it cannot have them.
   */
  offload?: TunOffloadChoice;
  /** Writes queued or in flight at most (power of two, default 1024). */
  writeQueueSize?: number;
  /** Bytes of write payload space (default 1 MiB). */
  writeBufferBytes?: number;
  /** Batch handler; reading starts when one is set. */
  onBatch?: (batch: PacketBatch) => void;
}

export interface TunOptions extends TunIoOptions {
  /** Interface name, or a pattern such as 'tun%d' (default: the kernel picks 'tunN'). */
  name?: string;
  /** MTU to set at open (SIOCSIFMTU); default: leave the kernel's (1500). */
  mtu?: number;
  /** Keep the 4-byte packet information header on the wire (default false: IFF_NO_PI). */
  packetInfo?: boolean;
  /** IFF_MULTI_QUEUE: open the same name again for more queues. */
  multiQueue?: boolean;
  /** TUNSETPERSIST: the interface stays after close (delete it with deleteLink()). */
  persist?: boolean;
}

export interface WrapTunOptions extends TunIoOptions {
  /** Must match how the fd was opened; default: what TUNGETIFF reports. */
  packetInfo?: boolean;
}

export interface ResolvedIo {
  readMode: TunReadMode;
  backend: FileBackendChoice | undefined;
  maxPacketSize: number | undefined;
  readBuffers: number | undefined;
  offload: TunOffloadChoice;
  writeQueueSize: number;
  writeBufferBytes: number;
}

export function resolveIo(o: TunIoOptions): ResolvedIo {
  const readMode = o.readMode ?? 'auto';
  if (!['auto', 'multishot', 'single'].includes(readMode)) {
    throw invalidArgValue('options.readMode', readMode, "must be 'auto', 'multishot' or 'single'");
  }
  if (o.onBatch !== undefined && typeof o.onBatch !== 'function') throw invalidArgType('options.onBatch', 'of type function', o.onBatch);
  const offload = o.offload ?? 'auto';
  if (offload !== true && offload !== false && offload !== 'auto') throw invalidArgValue('options.offload', offload, "must be true, false or 'auto'");
  return {
    readMode,
    backend: o.backend,
    maxPacketSize: o.maxPacketSize === undefined ? undefined : intInRange('options.maxPacketSize', o.maxPacketSize, 0, 68, MAX_IP_PACKET),
    readBuffers: o.readBuffers === undefined ? undefined : powerOfTwo('options.readBuffers', o.readBuffers, 256, 32768),
    offload,
    writeQueueSize: powerOfTwo('options.writeQueueSize', o.writeQueueSize, 1024, 65536),
    writeBufferBytes: intInRange('options.writeBufferBytes', o.writeBufferBytes, 1 << 20, 2 * (MAX_IP_PACKET + PI_LEN), 1 << 28),
  };
}

export function checkBool(name: string, v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw invalidArgType(name, 'of type boolean', v);
  return v;
}

/** Linux's dev_valid_name(), plus room for the kernel's NUL. */
export function checkIfName(name: unknown): string {
  if (name === undefined) return '';
  if (typeof name !== 'string') throw invalidArgType('options.name', 'of type string', name);
  if (Buffer.byteLength(name) > 15 || name === '.' || name === '..' || /[/:\s]/.test(name)) {
    throw invalidArgValue('options.name', name, 'must be an interface name of at most 15 bytes without "/", ":" or spaces');
  }
  return name;
}
