/**
 * TUN devices over io_uring, batch-first like the UDP socket. Where
 * io_uring is refused (or `backend: 'poll'`), the same device runs on the
 * poll backend: the fd is watched with uv_poll, packets are read() into the
 * same pool when it is readable and written with write() at the end of the
 * turn, with the same batches, events and close contract.
 *
 * Reading: one handler call per drain with a PacketBatch (views into the
 * device's shared pool, no per-packet objects). Writing: packets are copied
 * into the device's write ring and every write of one JS turn reaches the
 * kernel in one io_uring_enter. When the ring is full, write() returns
 * false and 'drain' follows.
 *
 * Offloads (`offload`, default 'auto'): the device is opened with
 * IFF_VNET_HDR and TSO/USO/checksum offloads where the kernel takes them.
 * The kernel then hands over 64 KiB TCP/UDP super-segments and takes
 * coalesced ones back; native code splits the ones read into plain IP
 * packets before the handler sees the batch, and coalesces the packets of
 * one turn's writes as the kernel's GRO would. Batches and writes stay
 * plain IP packets either way; `offloads` says what is on.
 *
 * Close contract (as for UDP): close() cancels the read in flight and every
 * write; each accepted write's callback fires exactly once (ECANCELED if it
 * was not written), before 'close'; nothing follows 'close'. The fd is
 * closed once the kernel has returned every request, and with it the
 * interface goes away unless it was made persistent.
 */
import { EventEmitter } from 'node:events';
import { Batch } from '../core/batch.js';
import type { FileBackendName } from '../core/backend.js';
import { CodedError, CodedRangeError, errnoException, invalidArgType, protocolError, type ObjectError, type SystemError } from '../core/errors.js';
import { EPROTO } from '../core/layout.js';
import { ringStats, type RingStats } from '../core/ring-stats.js';
import * as F from '../file/binding.js';
import { FileCore, type CoreOwner, type FileSite } from '../file/file.js';
import type { SendCallback, SendWindow } from '../core/sendqueue.js';
import { alignedAt, ForeignCopier } from '../core/copy.js';
import { MAX_IP_PACKET, PI_LEN, type ResolvedIo, type TunOffloads } from './options.js';

export interface TunStats extends RingStats {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  /** Packets longer than maxPacketSize, delivered cut. */
  truncated: number;
  /** Multishot read stopped for lack of buffers (then re-armed). */
  enobufs: number;
  /** Multishot re-arms, or new chains of single reads. */
  rearms: number;
  writeErrors: number;
  readErrors: number;
  /** Batches delivered to the handler. */
  batches: number;
  /** Offloads: TSO/USO super-segments read and split into packets. */
  superSegmentsIn: number;
  /** Offloads: writes that carried several coalesced packets, and those packets. */
  coalescedWrites: number;
  coalescedPackets: number;
  /** Offloads: coalesced writes the kernel refused (then written packet by packet). */
  offloadFallbacks: number;
  /** Offloads: reads whose virtio header the split could not take (dropped). */
  offloadErrors: number;
  /** Offloads: reads kept for the next batch because its split area was full. */
  splitDeferred: number;
}

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const EINVAL = -22;
const EMSGSIZE = -90;
/** vnet: a read slot holds a virtio header and a 64 KiB super-segment. */
const VNET_SLOT = (F.VNET_HDR_LEN + MAX_IP_PACKET + 7) & ~7;
/** vnet: split area per read buffer, and entries (file.h). */
const SPLIT_BYTES_PER_READ = 72 << 10;
const SPLIT_ENTRIES_PER_READ = 64;

/**
 * The packets of one drain (the common part, lifetime rules included, is
 * core/batch.ts). Reused for every batch of its device; packet bytes live
 * in the device's shared pool and are valid only until the handler
 * returns (then the buffers go back to the kernel): copy(i) what you keep.
 */
export class PacketBatch extends Batch {
  /** @internal */
  constructor(bytes: Uint8Array, meta: Int32Array) {
    super(bytes, meta, SHAPE);
  }

  /** IP version from the first byte: 4, 6, or 0 for anything else. */
  version(i: number): 4 | 6 | 0 {
    const off = this.offset(i);
    if (this.size(i) < 1) return 0;
    const v = (this.bytes[off] ?? 0) >> 4;
    return v === 4 ? 4 : v === 6 ? 6 : 0;
  }

  /** With packetInfo: the header's ethertype (0x0800, 0x86dd); else 0. */
  proto(i: number): number {
    return this.meta[this.at(i) + F.R_PROTO] ?? 0;
  }
}

/** TUN read entries (file.h ION_R_*). */
const SHAPE = { words: F.R_WORDS, off: F.R_OFF, len: F.R_LEN, flags: F.R_FLAGS, truncBit: F.RF_TRUNC };

export interface DeviceInfo {
  name: string;
  fd: number;
  mtu: number;
  packetInfo: boolean;
  multiQueue: boolean;
  persist: boolean;
  /** IFF_VNET_HDR, and the TUN_F_* set the kernel took (tunEnableOffload). */
  vnet: boolean;
  tunFeatures: number;
}

/** The events of a TunDevice and their arguments (typed `on`/`once`/`emit`). */
export interface TunDeviceEvents {
  /**
   * A read error (after it the device reads no more), a failed write
   * without a callback, or a coded failure that closes it (ObjectError).
   */
  error: [err: ObjectError];
  /** A write refused with `false` may be retried now. */
  drain: [];
  /** Closed: nothing follows. */
  close: [];
}

/** A TUN queue: one fd of a TUN interface, read and written through io_uring (or poll). */
export class TunDevice extends EventEmitter<TunDeviceEvents> implements CoreOwner {
  /** 'io_uring', or 'poll' where io_uring is refused (see TunIoOptions.backend). */
  readonly backend: FileBackendName;
  /** The interface name (e.g. 'tun0'). */
  readonly name: string;
  /** The TUN fd (owned by the device: closed by close()). */
  readonly fd: number;
  /** The interface MTU when the device was opened. */
  readonly mtu: number;
  /** Packets carry the 4-byte packet information header on the fd. */
  readonly packetInfo: boolean;
  readonly multiQueue: boolean;
  readonly persist: boolean;
  /** Largest packet delivered whole and largest packet write() accepts. */
  readonly maxPacketSize: number;
  /** The fd carries virtio headers (see offloads). */
  private readonly vnet: boolean;
  private readonly tunFeatures: number;
  /** Bytes written in front of each packet in the write ring. */
  private readonly headroom: number;
  private readonly core: FileCore;
  private readonly batch: PacketBatch;
  private handler: ((batch: PacketBatch) => void) | undefined;
  private closeCallbacks: (() => void)[] = [];

  /** @internal use openTun() or wrapTun(); takes info.fd */
  constructor(site: FileSite, info: DeviceInfo, io: ResolvedIo) {
    super();
    this.backend = site.backend;
    this.name = info.name;
    this.fd = info.fd;
    this.mtu = info.mtu;
    this.packetInfo = info.packetInfo;
    this.multiQueue = info.multiQueue;
    this.persist = info.persist;
    this.maxPacketSize = io.maxPacketSize ?? Math.min(MAX_IP_PACKET, Math.max(info.mtu, 1500));
    this.vnet = info.vnet;
    this.tunFeatures = info.tunFeatures;
    this.headroom = info.vnet ? F.VNET_HDR_LEN : info.packetInfo ? PI_LEN : 0;
    // Room for the header, and one byte more so that a longer packet shows.
    const slot = (this.maxPacketSize + PI_LEN + 1 + 7) & ~7;
    const readBuffers = io.readBuffers ?? (info.vnet ? 64 : 256);
    this.core = new FileCore(site, this, info.fd, {
      kind: F.KIND_TUN,
      readBuffers,
      readSlot: info.vnet ? VNET_SLOT : Math.max(slot, 64),
      queueSize: io.writeQueueSize,
      bufferBytes: io.writeBufferBytes,
      multishot: io.readMode !== 'single',
      packetInfo: info.packetInfo,
      maxPacket: this.maxPacketSize,
      ...(info.vnet
        ? {
            vnet: {
              gro: site.native.tunGroFeatures(info.tunFeatures),
              splitBytes: readBuffers * SPLIT_BYTES_PER_READ,
              splitEntries: readBuffers * SPLIT_ENTRIES_PER_READ,
            },
          }
        : {}),
    });
    this.batch = new PacketBatch(this.core.bytes, this.core.rmeta);
  }

  /** Which offloads are on (see TunIoOptions.offload). */
  get offloads(): TunOffloads {
    const f = this.tunFeatures;
    const gro = this.vnet && this.core.state === 'open' ? (this.core.info()[3] ?? 0) : 0;
    return {
      vnetHdr: this.vnet,
      csum: (f & F.TUN_F_CSUM) !== 0,
      tso4: (f & F.TUN_F_TSO4) !== 0,
      tso6: (f & F.TUN_F_TSO6) !== 0,
      tsoEcn: (f & F.TUN_F_TSO_ECN) !== 0,
      uso4: (f & F.TUN_F_USO4) !== 0,
      uso6: (f & F.TUN_F_USO6) !== 0,
      coalesceTcp: (gro & F.GRO_TCP) !== 0,
      coalesceUdp: (gro & F.GRO_UDP) !== 0,
    };
  }

  /** How this device reads: 'multishot' or 'single' (io_uring), or 'poll'. */
  get readMode(): 'multishot' | 'single' | 'poll' {
    this.healthCheck();
    if (this.backend === 'poll') return 'poll';
    return this.core.info()[1] ? 'multishot' : 'single';
  }

  /** True until close() is called. */
  get isOpen(): boolean {
    return this.core.state === 'open';
  }

  private healthCheck(): void {
    if (this.core.state !== 'open') throw new CodedError('ERR_TUN_NOT_RUNNING', 'The TUN device is closed');
  }

  /** The batch handler. Setting one starts reading. */
  get onBatch(): ((batch: PacketBatch) => void) | undefined {
    return this.handler;
  }

  set onBatch(fn: ((batch: PacketBatch) => void) | undefined) {
    if (fn !== undefined && typeof fn !== 'function') throw invalidArgType('onBatch', 'of type function', fn);
    this.healthCheck();
    this.handler = fn;
    if (fn) this.core.start('read');
  }

  /**
   * Queue one IP packet (IPv4 or IPv6, without any header: with packetInfo
   * the device adds it). The packet is copied before this returns. Returns
   * false, and will not call cb, when the write ring is full: wait for
   * 'drain'. A malformed packet (EINVAL) or one over maxPacketSize
   * (EMSGSIZE) fails alone, asynchronously, through cb or 'error'.
   */
  write(packet: Uint8Array, cb?: SendCallback): boolean {
    if (!(packet instanceof Uint8Array)) throw invalidArgType('packet', 'an instance of Buffer or Uint8Array', packet);
    if (cb !== undefined && typeof cb !== 'function') throw invalidArgType('callback', 'of type function', cb);
    this.healthCheck();
    const len = packet.byteLength;
    const bad = checkPacket(packet, this.maxPacketSize);
    if (bad) {
      this.failSoon(bad, cb);
      return true;
    }
    const hdr = this.headroom;
    const queue = this.core.queue;
    this.core.memory.ensure();
    const at = queue.reserve(len + hdr);
    if (at < 0) return false;
    const bytes = this.core.bytes;
    if (this.vnet) {
      // The virtio header is native's to write (offload coalescing).
      bytes.set(packet, at + hdr);
      this.core.push(at + hdr, len, F.QOP_WRITE, 0, cb);
      return true;
    }
    if (hdr) {
      // struct tun_pi: flags 0, then the ethertype chosen by IP version.
      const proto = (packet[0] ?? 0) >> 4 === 6 ? ETH_P_IPV6 : ETH_P_IP;
      bytes[at] = 0;
      bytes[at + 1] = 0;
      bytes[at + 2] = proto >> 8;
      bytes[at + 3] = proto & 0xff;
    }
    bytes.set(packet, at + hdr);
    this.core.push(at, len + hdr, F.QOP_WRITE, 0, cb);
    return true;
  }

  /** Queue many packets; returns how many were accepted (see write()). */
  writeMany(packets: readonly Uint8Array[]): number {
    for (let i = 0; i < packets.length; i++) {
      const p = packets[i];
      if (p === undefined || !this.write(p)) return i;
    }
    return packets.length;
  }

  private readonly copier = new ForeignCopier();

  /**
   * Queue the IP packet of `length` bytes at `offset` of `src` (for example
   * a UDP RecvBatch's `bytes`). Like write(src.subarray(...)), but copies
   * straight from src's memory with no view and no allocation. Same checks,
   * errors and backpressure as write().
   */
  writeFrom(src: Uint8Array, offset: number, length: number, cb?: SendCallback): boolean {
    if (!(src instanceof Uint8Array)) throw invalidArgType('src', 'an instance of Buffer or Uint8Array', src);
    if (typeof offset !== 'number') throw invalidArgType('offset', 'of type number', offset);
    if (typeof length !== 'number') throw invalidArgType('length', 'of type number', length);
    if (!(offset >= 0 && length >= 0 && offset + length <= src.byteLength) || !Number.isInteger(offset) || !Number.isInteger(length)) {
      throw new CodedRangeError('ERR_OUT_OF_RANGE', `bytes [${offset}, ${offset}+${length}) are not inside src (${src.byteLength} bytes)`);
    }
    if (cb !== undefined && typeof cb !== 'function') throw invalidArgType('callback', 'of type function', cb);
    this.healthCheck();
    const from = src.byteOffset + offset;
    const version = length > 0 ? (src[offset] ?? 0) >> 4 : 0;
    const bad = length > this.maxPacketSize ? EMSGSIZE : (version === 4 && length >= 20) || (version === 6 && length >= 40) ? 0 : EINVAL;
    if (bad) {
      this.failSoon(bad, cb);
      return true;
    }
    const hdr = this.headroom;
    const queue = this.core.queue;
    this.core.memory.ensure();
    const reserved = queue.reserve(length + hdr + 7);
    if (reserved < 0) return false;
    const bytes = this.core.bytes;
    const at = alignedAt(reserved + hdr, from) - hdr;
    if (this.vnet) {
      this.copier.copy(bytes, at + hdr, src, offset, length);
      this.core.push(at + hdr, length, F.QOP_WRITE, 0, cb);
      return true;
    }
    if (hdr) {
      const proto = version === 6 ? ETH_P_IPV6 : ETH_P_IP;
      bytes[at] = 0;
      bytes[at + 1] = 0;
      bytes[at + 2] = proto >> 8;
      bytes[at + 3] = proto & 0xff;
    }
    this.copier.copy(bytes, at + hdr, src, offset, length);
    this.core.push(at, length + hdr, F.QOP_WRITE, 0, cb);
    return true;
  }

  private failSoon(negErrno: number, cb: SendCallback | undefined): void {
    const err = errnoException(negErrno, 'write');
    process.nextTick(() => {
      if (cb) cb(err, 0);
      else if (this.core.state === 'open') this.emit('error', err);
    });
  }

  // ---- for native producers (WireGuard, the tunnel's forwarders) ----

  /**
   * @internal The addon's id of this device, to name it to native code
   * that reads its batch (ion_file_batch_get) or fills its write ring
   * (ion_file_window_*); -1 once closing.
   */
  get nativeId(): number {
    return this.core.state === 'open' ? this.core.id : -1;
  }

  /**
   * @internal A window of the write ring for native code to fill (see
   * SendQueue.window()): at most `slots` packets and `bytes` bytes,
   * contiguous. Null when the ring is full ('drain' follows) or the device
   * is not open. Native writes each packet whole (with the packet
   * information header when packetInfo is on: the producer's job); then
   * call commitNativeWindow() with the number of descriptors it filled,
   * before any other write on this device.
   */
  nativeWindow(slots: number, bytes: number): SendWindow | null {
    return this.core.window(slots, bytes);
  }

  /**
   * @internal Account the first n descriptors native filled in window w as
   * queued writes and schedule the flush. False if they were not inside
   * the window (the shared memory was overwritten): the device then fails
   * with ERR_IOURING_NET_PROTOCOL and closes.
   */
  commitNativeWindow(w: SendWindow, n: number): boolean {
    return this.core.commitWindow(w, n);
  }

  /**
   * @internal The packets written to this device from now on carry
   * checksums already vouched for: WireGuard writes only what passed its
   * authenticated decryption, and the kernel's wireguard marks such packets
   * CHECKSUM_UNNECESSARY. With offloads, coalesced writes then skip
   * checking every packet's TCP/UDP checksum (a pass over the data).
   */
  trustWrittenChecksums(): void {
    if (this.core.state === 'open') this.core.native.tunTrustChecksums(this.core.id, true);
  }

  /** Keep the process alive while reading (the default). */
  ref(): this {
    this.core.ref(true);
    return this;
  }

  /** Let the process exit even though this device is reading. */
  unref(): this {
    this.core.ref(false);
    return this;
  }

  /** Counters since the device opened. */
  stats(): TunStats {
    if (this.core.state !== 'closed') this.core.memory.ensure();
    const s = this.core.statsView;
    const r = this.core.native.reactorInfo();
    const v = (i: number): number => s[i] ?? 0;
    return {
      packetsIn: v(F.FS_PKTS_IN),
      bytesIn: v(F.FS_BYTES_IN),
      packetsOut: v(F.FS_PKTS_OUT),
      bytesOut: v(F.FS_BYTES_OUT),
      truncated: v(F.FS_TRUNC),
      enobufs: v(F.FS_ENOBUFS),
      rearms: v(F.FS_REARMS),
      writeErrors: v(F.FS_WRITE_ERRORS),
      readErrors: v(F.FS_READ_ERRORS),
      batches: v(F.FS_BATCHES),
      superSegmentsIn: v(F.FS_SUPER_IN),
      coalescedWrites: v(F.FS_COALESCED),
      coalescedPackets: v(F.FS_COALESCED_PKTS),
      offloadFallbacks: v(F.FS_OFFLOAD_FALLBACKS),
      offloadErrors: v(F.FS_VNET_ERRORS),
      splitDeferred: v(F.FS_SPLIT_DEFERRED),
      ...ringStats(r),
    };
  }

  /**
   * Close: cancels the read in flight and queued writes (their callbacks
   * get ECANCELED); 'close' follows once the kernel has returned every
   * request and the fd is closed. Closing twice throws ERR_TUN_NOT_RUNNING.
   */
  close(cb?: () => void): this {
    if (cb !== undefined && typeof cb !== 'function') throw invalidArgType('callback', 'of type function', cb);
    this.healthCheck();
    if (cb) this.closeCallbacks.push(cb);
    this.core.close();
    return this;
  }

  /** @internal The addon this device lives in (for native producers' exports). */
  get nativeAddon(): F.FileBinding {
    return this.core.native;
  }

  /** @internal CoreOwner */
  onPackets(count: number): void {
    if (!this.handler) return;
    // The views may have been remade (shared-memory.ts).
    this.batch.bytes = this.core.bytes;
    this.batch.meta = this.core.rmeta;
    this.batch.length = count;
    try {
      this.handler(this.batch);
    } finally {
      this.batch.length = 0;
    }
  }

  /** @internal CoreOwner: reading has stopped. */
  onReadError(negErrno: number): void {
    if (negErrno === EPROTO) {
      this.emit('error', protocolError('device'));
      if (this.core.state === 'open') this.close();
      return;
    }
    this.emit('error', tunError(negErrno, 'read'));
  }

  /** @internal CoreOwner */
  onDone(result: number, cb: SendCallback | undefined): void {
    const bytes = result >= PI_LEN && this.packetInfo ? result - PI_LEN : result;
    if (cb) cb(result < 0 ? tunError(result, 'write') : null, result < 0 ? 0 : bytes);
    else if (result < 0 && this.core.state === 'open') this.emit('error', tunError(result, 'write'));
  }

  /** @internal CoreOwner */
  onDrain(): void {
    this.emit('drain');
  }

  /** @internal CoreOwner */
  onClosed(): void {
    this.handler = undefined;
    const cbs = this.closeCallbacks;
    this.closeCallbacks = [];
    for (const cb of cbs) this.once('close', cb);
    this.emit('close');
  }
}

const EBADFD = -77;

/** errnoException, plus the one code libuv cannot name that TUN fds use. */
function tunError(negErrno: number, syscall: string): SystemError {
  const err = errnoException(negErrno, syscall);
  if (negErrno === EBADFD) {
    err.code = 'EBADFD';
    err.message = `${syscall} EBADFD: the TUN interface was deleted or the fd detached from it`;
  }
  return err;
}

/** -errno if the packet cannot be a valid write, else 0. */
function checkPacket(p: Uint8Array, max: number): number {
  const len = p.byteLength;
  if (len > max) return EMSGSIZE;
  const version = len > 0 ? (p[0] ?? 0) >> 4 : 0;
  if (version === 4 && len >= 20) return 0;
  if (version === 6 && len >= 40) return 0;
  return EINVAL;
}
