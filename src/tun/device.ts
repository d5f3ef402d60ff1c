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
 * Close contract (as for UDP): close() cancels the read in flight and every
 * write; each accepted write's callback fires exactly once (ECANCELED if it
 * was not written), before 'close'; nothing follows 'close'. The fd is
 * closed once the kernel has returned every request, and with it the
 * interface goes away unless it was made persistent.
 */
import { EventEmitter } from 'node:events';
import { Batch } from '../core/batch.js';
import type { FileBackendChoice, FileBackendName } from '../core/backend.js';
import { CodedError, CodedRangeError, errnoException, invalidArgType, invalidArgValue, protocolError, type SystemError } from '../core/errors.js';
import { EPROTO } from '../core/layout.js';
import { ringStats, type RingStats } from '../core/ring-stats.js';
import * as F from '../file/binding.js';
import { FileCore, fileSite, intInRange, powerOfTwo, type CoreOwner, type FileSite } from '../file/file.js';
import type { SendCallback, SendWindow } from '../core/sendqueue.js';
import { alignedAt, ForeignCopier } from '../core/copy.js';

export type TunReadMode = 'auto' | 'multishot' | 'single';

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
  /** Read buffers in the pool (power of two, default 256). */
  readBuffers?: number;
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
}

const PI_LEN = 4;
const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const EINVAL = -22;
const EMSGSIZE = -90;
const MAX_IP_PACKET = 65535;

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

interface ResolvedIo {
  readMode: TunReadMode;
  backend: FileBackendChoice | undefined;
  maxPacketSize: number | undefined;
  readBuffers: number;
  writeQueueSize: number;
  writeBufferBytes: number;
}

function resolveIo(o: TunIoOptions): ResolvedIo {
  const readMode = o.readMode ?? 'auto';
  if (!['auto', 'multishot', 'single'].includes(readMode)) {
    throw invalidArgValue('options.readMode', readMode, "must be 'auto', 'multishot' or 'single'");
  }
  if (o.onBatch !== undefined && typeof o.onBatch !== 'function') throw invalidArgType('options.onBatch', 'of type function', o.onBatch);
  return {
    readMode,
    backend: o.backend,
    maxPacketSize: o.maxPacketSize === undefined ? undefined : intInRange('options.maxPacketSize', o.maxPacketSize, 0, 68, MAX_IP_PACKET),
    readBuffers: powerOfTwo('options.readBuffers', o.readBuffers, 256, 32768),
    writeQueueSize: powerOfTwo('options.writeQueueSize', o.writeQueueSize, 1024, 65536),
    writeBufferBytes: intInRange('options.writeBufferBytes', o.writeBufferBytes, 1 << 20, 2 * (MAX_IP_PACKET + PI_LEN), 1 << 28),
  };
}

function checkBool(name: string, v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw invalidArgType(name, 'of type boolean', v);
  return v;
}

/** Linux's dev_valid_name(), plus room for the kernel's NUL. */
function checkIfName(name: unknown): string {
  if (name === undefined) return '';
  if (typeof name !== 'string') throw invalidArgType('options.name', 'of type string', name);
  if (Buffer.byteLength(name) > 15 || name === '.' || name === '..' || /[/:\s]/.test(name)) {
    throw invalidArgValue('options.name', name, 'must be an interface name of at most 15 bytes without "/", ":" or spaces');
  }
  return name;
}

interface DeviceInfo {
  name: string;
  fd: number;
  mtu: number;
  packetInfo: boolean;
  multiQueue: boolean;
  persist: boolean;
}

/** A TUN queue: one fd of a TUN interface, read and written through io_uring (or poll). */
export class TunDevice extends EventEmitter implements CoreOwner {
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
    // Room for the header, and one byte more so that a longer packet shows.
    const slot = (this.maxPacketSize + PI_LEN + 1 + 7) & ~7;
    this.core = new FileCore(site, this, info.fd, {
      kind: F.KIND_TUN,
      readBuffers: io.readBuffers,
      readSlot: Math.max(slot, 64),
      queueSize: io.writeQueueSize,
      bufferBytes: io.writeBufferBytes,
      multishot: io.readMode !== 'single',
      packetInfo: info.packetInfo,
      maxPacket: this.maxPacketSize,
    });
    this.batch = new PacketBatch(this.core.bytes, this.core.rmeta);
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
    const hdr = this.packetInfo ? PI_LEN : 0;
    const queue = this.core.queue;
    this.core.memory.ensure();
    const at = queue.reserve(len + hdr);
    if (at < 0) return false;
    const bytes = this.core.bytes;
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
    const hdr = this.packetInfo ? PI_LEN : 0;
    const queue = this.core.queue;
    this.core.memory.ensure();
    const reserved = queue.reserve(length + hdr + 7);
    if (reserved < 0) return false;
    const bytes = this.core.bytes;
    const at = alignedAt(reserved + hdr, from) - hdr;
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

/** A Node-style error for a failed open, saying what to fix. */
function openError(negErrno: number, stage: number, name: string): SystemError {
  const what = name ? `the TUN device ${name}` : 'a TUN device';
  let err: SystemError;
  let hint = '';
  if (stage === F.TUN_STAGE_OPEN) {
    err = errnoException(negErrno, 'open', '/dev/net/tun');
    if (err.code === 'ENOENT') hint = '/dev/net/tun is missing: load the tun module (modprobe tun), or pass the device into the container';
    if (err.code === 'EACCES' || err.code === 'EPERM') hint = 'opening /dev/net/tun needs read-write access to it and the CAP_NET_ADMIN capability';
  } else if (stage === F.TUN_STAGE_SETIFF) {
    err = errnoException(negErrno, 'TUNSETIFF', name || undefined);
    if (err.code === 'EPERM') {
      hint = `creating or attaching to ${what} needs the CAP_NET_ADMIN capability: run as root, or grant it (setcap cap_net_admin+ep "$(command -v node)")`;
    }
    if (err.code === 'EBUSY') hint = `${what} is already open (use multiQueue for more queues)`;
    if (err.code === 'EINVAL') hint = `${what} exists with other flags (TAP, packetInfo or multiQueue differ), or the name is taken`;
  } else if (stage === F.TUN_STAGE_PERSIST) {
    err = errnoException(negErrno, 'TUNSETPERSIST', name || undefined);
  } else {
    err = errnoException(negErrno, 'SIOCSIFMTU', name || undefined);
    if (err.code === 'EINVAL') hint = 'the MTU is out of range for a TUN device (68 to 65535)';
  }
  if (hint) err.message = `${err.message}: ${hint}`;
  return err;
}

/**
 * Create a TUN interface through /dev/net/tun (TUNSETIFF), or attach to an
 * existing one by name (for multiQueue or persistent devices). Needs
 * CAP_NET_ADMIN. The interface starts down and without an address: see
 * the helpers in netdev.ts (linkUp, addAddress, setMtu).
 */
export function openTun(options: TunOptions = {}): TunDevice {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const name = checkIfName(options.name);
  const packetInfo = checkBool('options.packetInfo', options.packetInfo);
  const multiQueue = checkBool('options.multiQueue', options.multiQueue);
  const persist = checkBool('options.persist', options.persist);
  const mtu = intInRange('options.mtu', options.mtu, 0, 68, MAX_IP_PACKET);
  const io = resolveIo(options);
  const site = fileSite(io.backend, 'a TUN device'); // fail before creating anything
  const native = site.native;
  const nameOut = new Uint8Array(16);
  const flags = (packetInfo ? F.TUN_PI : 0) | (multiQueue ? F.TUN_MULTI_QUEUE : 0) | (persist ? F.TUN_PERSIST : 0);
  const [fd = -22, stage = 0] = native.tunOpen(name, flags, mtu, nameOut);
  if (fd < 0) throw openError(fd, stage, name);
  const ifname = F.nameFrom(nameOut);
  const got = native.tunMtu(ifname, 0);
  const dev = new TunDevice(site, { name: ifname, fd, mtu: got > 0 ? got : mtu || 1500, packetInfo, multiQueue, persist }, io);
  if (options.onBatch !== undefined) dev.onBatch = options.onBatch;
  return dev;
}

/**
 * Wrap an fd already attached to a TUN interface (TUNSETIFF done, e.g. by
 * another library). An fd that is not an attached TUN fd, or options that
 * do not match it, throw and leave the fd alone; from then on the device
 * owns the fd (close() closes it). The fd is switched to non-blocking mode.
 */
export function wrapTun(fd: number, options: WrapTunOptions = {}): TunDevice {
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw invalidArgValue('fd', fd, 'must be a file descriptor');
  }
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const io = resolveIo(options);
  const site = fileSite(io.backend, 'a TUN device');
  const native = site.native;
  const nameOut = new Uint8Array(16);
  const flags = native.tunInfo(fd, nameOut);
  if (flags < 0) {
    const err = errnoException(flags, 'TUNGETIFF');
    err.message = `${err.message}: fd ${fd} is not attached to a TUN device`;
    throw err;
  }
  if ((flags & 0x000f) !== F.IFF_TUN) throw invalidArgValue('fd', fd, 'is a TAP device; only TUN is supported');
  const packetInfo = (flags & F.IFF_NO_PI) === 0;
  if (options.packetInfo !== undefined && options.packetInfo !== packetInfo) {
    throw invalidArgValue(
      'options.packetInfo',
      options.packetInfo,
      `does not match the fd, which was opened ${packetInfo ? 'without' : 'with'} IFF_NO_PI`,
    );
  }
  const rc = native.fdSetNonblock(fd);
  if (rc < 0) throw errnoException(rc, 'fcntl');
  const name = F.nameFrom(nameOut);
  // By name, in this namespace: after a move to another one, assume 1500.
  const mtu = native.tunMtu(name, 0);
  const dev = new TunDevice(
    site,
    {
      name,
      fd,
      mtu: mtu > 0 ? mtu : 1500,
      packetInfo,
      multiQueue: (flags & F.IFF_MULTI_QUEUE) !== 0,
      persist: (flags & F.IFF_PERSIST) !== 0,
    },
    io,
  );
  if (options.onBatch !== undefined) dev.onBatch = options.onBatch;
  return dev;
}
