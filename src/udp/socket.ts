/**
 * The batch-first UDP socket over io_uring.
 *
 * Receive: one handler call per drain with a RecvBatch (no per-packet
 * objects). Send: payloads are copied into the socket's send ring and all
 * sends of one JS turn reach the kernel in one io_uring_enter. When the
 * send ring is full, send() returns false and 'drain' follows.
 *
 * Close contract: close() cancels everything in flight; every accepted
 * send's callback fires exactly once (with an error if it was not sent);
 * no batch, callback or event follows 'close'.
 */
import { EventEmitter } from 'node:events';
import { formatAddress, parseAddress, toV4Mapped, withZone, type Family } from '../core/address.js';
import { RecvBatch } from './batch.js';
import type { NativeBinding } from '../core/binding.js';
import { NATIVE_BACKEND, type BackendName } from '../core/backend.js';
import { Endpoint } from './endpoint.js';
import {
  CodedError,
  CodedRangeError,
  badPort,
  errnoException,
  invalidArgType,
  invalidArgValue,
  notRunning,
  type ObjectError,
  type SystemError,
} from '../core/errors.js';
import * as C from '../core/layout.js';
import * as U from './layout.js';
import { resolveOptions, type ResolvedOptions, type UdpSocketOptions } from './options.js';
import type { Reactor, ReactorClient } from '../core/reactor.js';
import { SendQueue, type SendCallback, type SendSink, type SendWindow } from '../core/sendqueue.js';
import { UdpStats, readStats } from './stats.js';
import { alignedAt, ForeignCopier } from '../core/copy.js';
import { SharedMemory } from '../core/shared-memory.js';

export interface AddressInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

/** The events of a UdpSocket and their arguments (typed `on`/`once`/`emit`). */
export interface UdpSocketEvents {
  /** The socket is bound (at once on io_uring and mmsg; after the bind on dgram). */
  listening: [];
  /**
   * A receive error, a failed send without a callback, (dgram backend) a
   * bind error, or a coded failure that closes the socket (ObjectError).
   */
  error: [err: ObjectError];
  /** A send refused with `false` may be retried now. */
  drain: [];
  /** Closed: nothing follows. */
  close: [];
}

type State = 'open' | 'closing' | 'closed';

/** Largest UDP payload: 65535 - 8 (UDP) - 20 (IPv4) or - 0 (IPv6 header is not counted in its payload length). */
const MAX_PAYLOAD = { 4: 65507, 6: 65527 } as const;

export class UdpSocket extends EventEmitter<UdpSocketEvents> implements ReactorClient, SendSink {
  /** Which backend moves the packets: 'io_uring' or 'mmsg'. */
  readonly backend: BackendName;
  readonly type: 'udp4' | 'udp6';
  private readonly family: Family;
  private readonly native: NativeBinding;
  private readonly reactor: Reactor;
  private readonly id: number;
  /** The addon's memory for this socket; views remade after a detach. */
  private readonly memory: SharedMemory;
  private bytes!: Uint8Array;
  private ctrl!: Int32Array;
  private statsView!: Float64Array;
  private rmeta!: Int32Array;
  private sdesc!: Int32Array;
  private readonly queue: SendQueue;
  private readonly batch: RecvBatch;
  private readonly rmetaEntries: number;
  private readonly copier = new ForeignCopier();
  private readonly opts: ResolvedOptions;
  private readonly nameBuf = new Int32Array(C.M_WORDS);
  private handler: ((batch: RecvBatch) => void) | undefined;
  private state: State = 'open';
  private connected = false;
  private closeCallbacks: (() => void)[] = [];
  private lastAddress = '';
  private lastParsed: Int32Array | null = null;
  private lastScope = 0;

  /** @internal use openUdp() */
  constructor(reactor: Reactor, backend: BackendName, options: UdpSocketOptions) {
    super();
    this.backend = backend;
    const opts = resolveOptions(options);
    this.opts = opts;
    this.type = opts.type;
    this.family = opts.family;
    this.reactor = reactor;
    this.native = reactor.binding;
    // Offloads belong to the addon's backends (node:dgram has none).
    const native = backend !== 'dgram';
    const flags =
      (native && opts.gro ? U.F_GRO : 0) |
      (native && opts.gso ? U.F_GSO : 0) |
      (opts.dupFd ? U.F_DUP : 0);
    // A GRO receive needs room for 64 KiB whatever maxMessageSize says.
    const room = flags & U.F_GRO ? Math.max(U.GRO_PAYLOAD, opts.maxMessageSize) : opts.maxMessageSize;
    const rslot = (room + U.SLOT_HEADER + 7) & ~7;
    const mode = opts.receiveMode === 'single' ? 0 : 1;
    const lay = this.native.udpLayout(opts.family, opts.recvBuffers, rslot, opts.sendQueueSize, opts.sendBufferBytes, flags);
    if (typeof lay === 'number') throw errnoException(lay, 'socket');
    const layout = U.toLayout(lay);
    if (layout.slotHeader !== U.SLOT_HEADER) throw new Error(`iouring-net: addon slot header ${layout.slotHeader}, expected ${U.SLOT_HEADER} (stale build?)`);
    const id = this.native.udpCreate(
      opts.family,
      opts.recvBuffers,
      rslot,
      opts.sendQueueSize,
      opts.sendBufferBytes,
      mode,
      opts.ipv6Only ? 1 : 0,
      opts.maxMessageSize,
      NATIVE_BACKEND[backend],
      flags,
      opts.fd,
    );
    if (id < 0) throw errnoException(id, opts.fd >= 0 ? 'open' : 'socket');
    this.id = id;
    try {
      this.memory = new SharedMemory(
        () => this.native.udpMem(id),
        (buf) => this.mapViews(buf, layout, opts.sendQueueSize),
      );
    } catch (err) {
      this.native.udpClose(id);
      throw err;
    }
    this.queue = new SendQueue(this, this.sdesc, this.ctrl, opts.sendQueueSize, layout.sdata, opts.sendBufferBytes, () =>
      this.native.udpSdone(id),
    );
    this.batch = new RecvBatch(this.bytes, this.rmeta);
    this.rmetaEntries = layout.rmetaEntries;
    reactor.register(id, this);
    try {
      this.configure(opts);
    } catch (err) {
      this.native.udpClose(id);
      this.state = 'closing';
      throw err;
    }
    if (options.onBatch !== undefined) this.onBatch = options.onBatch;
    if (backend === 'dgram') {
      // node:dgram binds asynchronously: 'listening' comes from the driver.
      this.ready = new Promise<void>((resolve, reject) => {
        this.settleReady = (err) => (err ? reject(err) : resolve());
      });
      this.ready.catch(() => undefined); // also reported as 'error'
    } else {
      this.ready = Promise.resolve();
      process.nextTick(() => {
        if (this.state === 'open') this.emit('listening');
      });
    }
  }

  /** Typed arrays over the shared memory (again after a detach). */
  private mapViews(buf: ArrayBuffer, layout: U.UdpLayout, sendQueueSize: number): void {
    this.bytes = new Uint8Array(buf);
    this.ctrl = new Int32Array(buf, 0, C.C_WORDS);
    this.statsView = new Float64Array(buf, layout.stats, 16);
    this.rmeta = new Int32Array(buf, layout.rmeta, layout.rmetaEntries * C.M_WORDS);
    this.sdesc = new Int32Array(buf, layout.sdesc, sendQueueSize * C.M_WORDS);
    // After a detach: the queue and the batch follow (not yet made at first).
    this.queue?.remap(this.sdesc, this.ctrl);
    if (this.batch) {
      this.batch.bytes = this.bytes;
      this.batch.meta = this.rmeta;
    }
  }

  /**
   * Resolves once the socket is bound. Immediately for the io_uring and
   * mmsg backends (binding is synchronous there); the dgram backend binds
   * asynchronously and rejects this on a bind error.
   */
  readonly ready: Promise<void>;
  private settleReady: ((err?: Error) => void) | undefined;

  private configure(o: ResolvedOptions): void {
    const parsed = this.parse(o.address, 'address');
    const implicit = o.dgramBind === 'implicit';
    const flags =
      (o.reuseAddr || implicit ? U.BIND_REUSEADDR : 0) |
      (o.reusePort ? U.BIND_REUSEPORT : 0) |
      (o.ipv6Only ? U.BIND_V6ONLY : 0) |
      (implicit ? U.BIND_IMPLICIT : 0);
    if (o.recvBufferSize !== undefined) this.setOpt(U.OPT_RCVBUF, o.recvBufferSize, 'setsockopt');
    if (o.sendBufferSize !== undefined) this.setOpt(U.OPT_SNDBUF, o.sendBufferSize, 'setsockopt');
    if (o.fd >= 0 && this.backend !== 'dgram') return; // adopted as it is, bound or not
    if (o.dgramHandle !== undefined) {
      const rc = this.native.udpAdoptHandle?.(this.id, o.dgramHandle) ?? -95; // EOPNOTSUPP
      if (rc < 0) throw errnoException(rc, 'open');
    }
    const rc = this.native.udpBind(this.id, parsed.family, parsed.bytes, parsed.scope, o.port, flags);
    if (rc < 0) throw errnoException(rc, 'bind', o.address, o.port);
  }

  private parse(address: string, what: string): { family: Family; bytes: Uint8Array; scope: number } {
    if (typeof address !== 'string') throw invalidArgType(what, 'of type string', address);
    let p = parseAddress(address);
    if (!p) throw invalidArgValue(what, address, 'must be an IP address literal');
    if (p.family === 4 && this.family === 6) p = toV4Mapped(p);
    if (p.family !== this.family) throw invalidArgValue(what, address, `is not usable on a ${this.type} socket`);
    return p;
  }

  private setOpt(opt: number, value: number, syscall: string): void {
    const rc = this.native.udpSetOpt(this.id, opt, value);
    if (rc < 0) throw errnoException(rc, syscall);
  }

  private healthCheck(): void {
    if (this.state !== 'open') throw notRunning();
  }

  /**
   * The type is checked before the state so that a bad argument is reported
   * as such even on a closed socket; the range is left to the kernel, whose
   * EINVAL then carries the public method's name as its syscall.
   */
  private setTtlOpt(opt: number, ttl: number, syscall: string): number {
    if (!Number.isInteger(ttl)) throw invalidArgType('ttl', 'of type number', ttl);
    this.healthCheck();
    this.setOpt(opt, ttl, syscall);
    return ttl;
  }

  /** The batch handler. Setting one starts receiving. */
  get onBatch(): ((batch: RecvBatch) => void) | undefined {
    return this.handler;
  }

  set onBatch(fn: ((batch: RecvBatch) => void) | undefined) {
    if (fn !== undefined && typeof fn !== 'function') throw invalidArgType('onBatch', 'of type function', fn);
    this.healthCheck();
    this.handler = fn;
    if (fn) {
      const rc = this.native.udpStart(this.id);
      if (rc < 0) throw errnoException(rc, 'recvmsg');
    }
  }

  /** How this socket receives: 'multishot', 'single' (io_uring) or 'mmsg'. */
  get receiveMode(): 'multishot' | 'single' | 'mmsg' | 'dgram' {
    this.healthCheck();
    if (this.backend !== 'io_uring') return this.backend;
    return this.native.udpInfo(this.id)[1] ? 'multishot' : 'single';
  }

  /** The UDP offloads in use now (both false on the dgram backend). */
  get offloads(): { gso: boolean; gro: boolean } {
    this.healthCheck();
    if (this.backend === 'dgram') return { gso: false, gro: false };
    const info = this.native.udpInfo(this.id);
    return { gro: info[3] === 1, gso: info[4] === 1 };
  }

  /** The socket's file descriptor; -1 on the dgram backend. */
  get fd(): number {
    this.healthCheck();
    return this.backend === 'dgram' ? -1 : (this.native.udpInfo(this.id)[0] ?? -1);
  }

  /** @internal The node:dgram socket underneath (dgram backend only). */
  get nodeSocket(): object | undefined {
    return this.native.udpNodeSocket?.(this.id);
  }

  /** The largest payload received whole; longer datagrams are truncated. */
  get maxMessageSize(): number {
    return this.opts.maxMessageSize;
  }

  address(): AddressInfo {
    return this.name(0, 'getsockname');
  }

  remoteAddress(): AddressInfo {
    if (!this.connected) throw new CodedError('ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
    return this.name(1, 'getpeername');
  }

  private name(peer: number, syscall: string): AddressInfo {
    this.healthCheck();
    const rc = this.native.udpName(this.id, peer, this.nameBuf);
    if (rc < 0) throw errnoException(rc, syscall);
    const fam = this.nameBuf[C.M_FAMILY] ?? 0;
    const addrBytes = new Uint8Array(this.nameBuf.buffer, C.M_ADDR * 4, 16);
    return {
      address: withZone(formatAddress(fam, addrBytes), fam, this.nameBuf[C.M_SCOPE] ?? 0),
      family: fam === 4 ? 'IPv4' : 'IPv6',
      port: this.nameBuf[C.M_PORT] ?? 0,
    };
  }

  /** Connect to a peer (IP literal): then send() needs no address. */
  connect(port: number, address: string): void {
    this.healthCheck();
    if (this.connected) throw new CodedError('ERR_SOCKET_DGRAM_IS_CONNECTED', 'Already connected');
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw badPort('Port', port, false);
    const p = this.parse(address, 'address');
    const rc = this.native.udpConnect(this.id, p.family, p.bytes, p.scope, port);
    if (rc < 0) throw errnoException(rc, 'connect', address, port);
    this.connected = true;
  }

  disconnect(): void {
    this.healthCheck();
    if (!this.connected) throw new CodedError('ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
    const rc = this.native.udpDisconnect(this.id);
    if (rc < 0) throw errnoException(rc, 'connect');
    this.connected = false;
  }

  /** Parse a destination once, to reuse with sendTo(). */
  endpoint(address: string, port: number): Endpoint {
    return new Endpoint(address, port, this.family);
  }

  /**
   * Queue one datagram. With no port/address the socket must be connected.
   * Returns false (and the callback will not be called) when the send queue
   * is full: wait for 'drain'. The payload is copied before this returns.
   */
  send(data: Uint8Array, port?: number, address?: string, cb?: SendCallback): boolean {
    if (port === undefined && address === undefined) return this.enqueue(data, null, 0, cb);
    if (typeof address !== 'string') throw invalidArgType('address', 'of type string', address);
    if (address !== this.lastAddress || this.lastParsed === null) {
      const p = this.parse(address, 'address');
      this.lastAddress = address;
      this.lastParsed = new Int32Array(p.bytes.buffer, 0, 4);
      this.lastScope = p.scope;
    }
    if (typeof port !== 'number' || !(port >= 1 && port <= 65535) || !Number.isInteger(port)) {
      throw badPort('Port', port, false);
    }
    return this.enqueueTo(data, this.family, port, this.lastScope, this.lastParsed, 0, cb);
  }

  /** Queue one datagram to a parsed endpoint (no parsing, no allocation). */
  sendTo(data: Uint8Array, ep: Endpoint, cb?: SendCallback): boolean {
    if (!(ep instanceof Endpoint)) throw invalidArgType('endpoint', 'an instance of Endpoint', ep);
    if (ep.family !== this.family) throw invalidArgValue('endpoint', ep.address, `is not usable on a ${this.type} socket`);
    return this.enqueueTo(data, ep.family, ep.port, ep.scope, ep.words, 0, cb);
  }

  /**
   * Send to the sender of packet i of a batch. Without data, echo packet i
   * itself (copied inside shared memory, no allocation).
   */
  reply(batch: RecvBatch, i: number, data?: Uint8Array, cb?: SendCallback): boolean {
    if (!(batch instanceof RecvBatch)) throw invalidArgType('batch', 'an instance of RecvBatch', batch);
    if (typeof i !== 'number') throw invalidArgType('index', 'of type number', i);
    const base = i * C.M_WORDS;
    const meta = batch.meta;
    if (data === undefined) {
      const len = batch.size(i); // checks i
      this.healthCheck();
      this.memory.ensure();
      if (meta[base + C.M_FAMILY] !== this.family) {
        throw invalidArgValue('batch', batch.address(i), `is not usable on a ${this.type} socket`);
      }
      const at = this.queue.reserve(len);
      if (at < 0) return false;
      const src = meta[base + C.M_OFF] ?? 0;
      // Same socket: move bytes within the shared memory, allocation-free.
      if (batch.bytes === this.bytes) this.bytes.copyWithin(at, src, src + len);
      else this.bytes.set(batch.bytes.subarray(src, src + len), at);
      return this.commit(at, len, meta, base, cb);
    }
    batch.size(i); // checks i
    return this.enqueueTo(
      data,
      meta[base + C.M_FAMILY] ?? 0,
      meta[base + C.M_PORT] ?? 0,
      meta[base + C.M_SCOPE] ?? 0,
      meta,
      base + C.M_ADDR,
      cb,
    );
  }

  /** Queue many datagrams to one destination; returns how many were accepted. */
  sendMany(list: readonly Uint8Array[], port?: number, address?: string): number {
    if (!Array.isArray(list)) throw invalidArgType('list', 'an Array', list);
    for (let i = 0; i < list.length; i++) {
      const d = list[i];
      if (d === undefined || !this.send(d, port, address)) return i;
    }
    return list.length;
  }

  private commit(at: number, len: number, meta: Int32Array, base: number, cb: SendCallback | undefined): boolean {
    this.queue.push(
      at,
      len,
      meta[base + C.M_FAMILY] ?? 0,
      meta[base + C.M_PORT] ?? 0,
      meta[base + C.M_SCOPE] ?? 0,
      meta,
      base + C.M_ADDR,
      cb,
    );
    this.afterPush();
    return true;
  }

  private enqueue(data: Uint8Array, addr: Int32Array | null, index: number, cb: SendCallback | undefined): boolean {
    if (!this.connected) {
      this.healthCheck();
      throw new CodedError('ERR_SOCKET_DGRAM_NOT_CONNECTED', 'Not connected');
    }
    return this.enqueueTo(data, 0, 0, 0, addr, index, cb);
  }

  private enqueueTo(
    data: Uint8Array,
    family: number,
    port: number,
    scope: number,
    addr: Int32Array | null,
    index: number,
    cb: SendCallback | undefined,
  ): boolean {
    this.healthCheck();
    if (!(data instanceof Uint8Array)) throw invalidArgType('data', 'an instance of Buffer or Uint8Array', data);
    if (cb !== undefined && typeof cb !== 'function') throw invalidArgType('callback', 'of type function', cb);
    const len = data.byteLength;
    if (this.refuseOversize(len, len, cb)) return true;
    this.memory.ensure();
    const at = this.queue.reserve(len);
    if (at < 0) return false;
    this.bytes.set(data, at);
    this.queue.push(at, len, family, port, scope, addr, index, cb);
    this.afterPush();
    return true;
  }

  /**
   * A payload the kernel would refuse (over the UDP limit) or that can never
   * fit the send ring (`room` bytes needed) fails with EMSGSIZE, reported
   * asynchronously as the kernel would. True if it was refused.
   */
  private refuseOversize(len: number, room: number, cb: SendCallback | undefined): boolean {
    if (len <= MAX_PAYLOAD[this.family] && room <= this.queue.capacityBytes) return false;
    this.failSoon(-90 /* EMSGSIZE */, cb);
    return true;
  }

  private failSoon(negErrno: number, cb: SendCallback | undefined): void {
    const err = errnoException(negErrno, 'send');
    process.nextTick(() => {
      if (cb) cb(err, 0);
      else if (this.state === 'open') this.emit('error', err);
    });
  }

  private afterPush(): void {
    // Inside this socket's own batch handler native flushes right after
    // the handler returns; otherwise flush at the end of this JS turn.
    if (this.reactor.current !== this) this.reactor.scheduleFlush(this);
  }

  /** @internal ReactorClient */
  flushNative(): void {
    if (this.state === 'open') this.native.udpFlush(this.id);
  }

  // ---- for native producers (WireGuard, the tunnel's forwarders) ----

  /**
   * @internal The addon's id of this socket, to name it to native code
   * that reads its receive batch (ion_udp_batch_get) or fills its send
   * ring (ion_udp_window_*); -1 on the dgram backend, which has no native
   * object (use send() there).
   */
  get nativeId(): number {
    return this.backend === 'dgram' || this.state !== 'open' ? -1 : this.id;
  }

  /**
   * @internal A window of the send ring for native code to fill (see
   * SendQueue.window()): at most `slots` datagrams and `bytes` payload
   * bytes, contiguous. Null when the ring is full ('drain' follows), the
   * socket is not open, or on the dgram backend. Hand (seq, slots, at,
   * bytes) to the native producer, then call commitNativeWindow() with the
   * number of descriptors it filled, before any other send on this socket.
   */
  nativeWindow(slots: number, bytes: number): SendWindow | null {
    if (this.nativeId < 0) return null;
    this.memory.ensure();
    return this.queue.window(slots, bytes);
  }

  /**
   * @internal Account the first n descriptors native filled in window w as
   * queued sends and schedule the flush (where runs of equal-size
   * datagrams to one destination become GSO sends). False if they were
   * not inside the window (the shared memory was overwritten): the socket
   * then fails with ERR_IOURING_NET_PROTOCOL.
   */
  commitNativeWindow(w: SendWindow, n: number): boolean {
    if (this.state !== 'open') return false;
    if (n === 0) return true;
    if (!this.queue.commitWindow(w, n)) {
      this.protocolFailure('a native producer filled descriptors outside its window');
      return false;
    }
    this.afterPush();
    return true;
  }

  /** @internal SendSink: a send finished. */
  sent(result: number, cb: SendCallback | undefined): void {
    if (cb) {
      cb(result < 0 ? errnoException(result, 'send') : null, result < 0 ? 0 : result);
    } else if (result < 0 && this.state === 'open') {
      this.emit('error', errnoException(result, 'send'));
    }
  }

  /** @internal ReactorClient: events of one drain (native's own values). */
  onEvents(ev: number, rcount: number, sdone: number, rerr: number): void {
    // After EV_CLOSED native has no memory left to give a new view of.
    if (this.state !== 'closed' && !(ev & C.EV_CLOSED) && !this.remap()) return;
    if (ev & C.EV_LISTENING && this.state === 'open') {
      this.settleReady?.();
      this.settleReady = undefined;
      this.emit('listening');
    }
    if (ev & C.EV_ERROR && this.state === 'open') {
      if (rerr === C.EPROTO) {
        this.protocolFailure('the send tail in shared memory is impossible');
      } else {
        const err = (this.native.udpTakeError?.(this.id) as SystemError | undefined) ?? errnoException(rerr < 0 ? rerr : -5 /* EIO */, 'recvmsg');
        if (err.code === 'ERR_IOURING_NET_MEMORY_DETACHED') {
          this.fail(err);
          return;
        }
        this.settleReady?.(err);
        this.settleReady = undefined;
        this.emit('error', err);
      }
    }
    if (ev & C.EV_RECV && this.state === 'open' && this.handler) {
      // Never more entries than the memory holds, whatever the count says.
      this.batch.length = Math.min(rcount >>> 0, this.rmetaEntries);
      try {
        this.handler(this.batch);
      } finally {
        this.batch.length = 0;
      }
    }
    if (ev & (C.EV_SENT | C.EV_CLOSED)) {
      this.queue.reap(true, sdone);
      if (this.queue.corrupt && this.state === 'open') this.protocolFailure('more sends completed than were queued');
      if (this.state === 'open' && this.queue.takeDrain()) this.emit('drain');
    }
    if (ev & C.EV_CLOSED) {
      // Sends native never took (a refused tail) fail now: every accepted
      // send's callback is called exactly once.
      this.queue.failRest(-125 /* ECANCELED */);
      this.finishClose();
    }
  }

  /**
   * Words only this library writes were changed (by code holding a view of
   * the shared memory): the socket cannot be trusted to work. It reports
   * ERR_IOURING_NET_PROTOCOL and closes; native already refused to act on
   * the bad word.
   */
  private protocolFailure(what: string): void {
    this.fail(new CodedError('ERR_IOURING_NET_PROTOCOL', `shared memory of this socket was overwritten (${what}); closing it`));
  }

  /** The views are usable (remade after a detach); false after failing the socket. */
  private remap(): boolean {
    try {
      this.memory.ensure();
      return true;
    } catch (err) {
      // SharedMemory throws only coded errors (mmap errno, or detached).
      this.fail(err as ObjectError);
      return false;
    }
  }

  /** The socket cannot go on: report err (coded) once and close. */
  private fail(err: ObjectError): void {
    if (this.state !== 'open') return;
    this.settleReady?.(err);
    this.settleReady = undefined;
    this.emit('error', err);
    if (this.state === 'open') this.close();
  }

  setTTL(ttl: number): number {
    return this.setTtlOpt(U.OPT_TTL, ttl, 'setTTL');
  }

  setBroadcast(flag: boolean): void {
    this.healthCheck();
    this.setOpt(U.OPT_BROADCAST, flag ? 1 : 0, 'setBroadcast');
  }

  /**
   * SO_MARK: the mark routing rules can match (WireGuard's fwmark; 0 clears
   * it). Needs CAP_NET_ADMIN. The dgram backend cannot set it (EINVAL).
   */
  setMark(mark: number): void {
    if (!Number.isInteger(mark) || mark < 0 || mark > 0xffffffff) throw invalidArgValue('mark', mark, 'must be an integer from 0 to 0xffffffff');
    this.healthCheck();
    this.setOpt(U.OPT_MARK, mark | 0, 'setsockopt');
  }

  setRecvBufferSize(size: number): void {
    this.healthCheck();
    this.setOpt(U.OPT_RCVBUF, size, 'setsockopt');
  }

  setSendBufferSize(size: number): void {
    this.healthCheck();
    this.setOpt(U.OPT_SNDBUF, size, 'setsockopt');
  }

  getRecvBufferSize(): number {
    return this.getOpt(U.OPT_RCVBUF);
  }

  getSendBufferSize(): number {
    return this.getOpt(U.OPT_SNDBUF);
  }

  private getOpt(opt: number): number {
    this.healthCheck();
    const v = this.native.udpGetOpt(this.id, opt);
    if (v < 0) throw errnoException(v, 'getsockopt');
    return v;
  }

  /** IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS (0..255). */
  setMulticastTTL(ttl: number): number {
    return this.setTtlOpt(U.OPT_MULTICAST_TTL, ttl, 'setMulticastTTL');
  }

  /** IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP. */
  setMulticastLoopback(flag: boolean): boolean {
    this.healthCheck();
    this.setOpt(U.OPT_MULTICAST_LOOP, flag ? 1 : 0, 'setMulticastLoopback');
    return flag;
  }

  /**
   * Queue one datagram whose payload is `length` bytes at `offset` of `src`
   * (for example a TUN PacketBatch's `bytes`) to a parsed endpoint. Like
   * sendTo(data.subarray(...)), but copies straight from src's memory with
   * no view and no allocation. Returns false when the send ring is full.
   */
  sendFrom(src: Uint8Array, offset: number, length: number, ep: Endpoint, cb?: SendCallback): boolean {
    if (!(src instanceof Uint8Array)) throw invalidArgType('src', 'an instance of Buffer or Uint8Array', src);
    if (typeof offset !== 'number') throw invalidArgType('offset', 'of type number', offset);
    if (typeof length !== 'number') throw invalidArgType('length', 'of type number', length);
    if (!(offset >= 0 && length >= 0 && offset + length <= src.byteLength) || !Number.isInteger(offset) || !Number.isInteger(length)) {
      throw new CodedRangeError('ERR_OUT_OF_RANGE', `bytes [${offset}, ${offset}+${length}) are not inside src (${src.byteLength} bytes)`);
    }
    if (!(ep instanceof Endpoint)) throw invalidArgType('endpoint', 'an instance of Endpoint', ep);
    if (ep.family !== this.family) throw invalidArgValue('endpoint', ep.address, `is not usable on a ${this.type} socket`);
    if (cb !== undefined && typeof cb !== 'function') throw invalidArgType('callback', 'of type function', cb);
    this.healthCheck();
    if (this.refuseOversize(length, length + 7, cb)) return true;
    this.memory.ensure();
    const reserved = this.queue.reserve(length + 7);
    if (reserved < 0) return false;
    const at = alignedAt(reserved, src.byteOffset + offset);
    this.copier.copy(this.bytes, at, src, offset, length);
    this.queue.push(at, length, ep.family, ep.port, ep.scope, ep.words, 0, cb);
    this.afterPush();
    return true;
  }

  /** Join a multicast group (IP_ADD_MEMBERSHIP / IPV6_ADD_MEMBERSHIP). */
  addMembership(group: string, iface?: string): void {
    this.membership(1, 'addMembership', group, undefined, iface);
  }

  dropMembership(group: string, iface?: string): void {
    this.membership(0, 'dropMembership', group, undefined, iface);
  }

  /** Join a source-specific group (IP_ADD_SOURCE_MEMBERSHIP / MCAST_JOIN_SOURCE_GROUP). */
  addSourceSpecificMembership(source: string, group: string, iface?: string): void {
    this.membership(1, 'addSourceSpecificMembership', group, source, iface);
  }

  dropSourceSpecificMembership(source: string, group: string, iface?: string): void {
    this.membership(0, 'dropSourceSpecificMembership', group, source, iface);
  }

  /** The interface for outgoing multicast: an IPv4 address, or '::%ifname' (IPv6). */
  setMulticastInterface(iface: string): void {
    this.healthCheck();
    const a = this.multicastAddr(iface, 'setMulticastInterface');
    const rc = this.native.udpMulticastInterface(this.id, a.bytes, a.scope);
    if (rc < 0) throw errnoException(rc, 'setMulticastInterface');
  }

  private membership(join: number, syscall: string, group: string, source: string | undefined, iface: string | undefined): void {
    this.healthCheck();
    // Like libuv: the group's family decides; the others must match it.
    const g = this.multicastAddr(group, syscall, 0);
    const src = source === undefined ? null : this.multicastAddr(source, syscall, g.family);
    const ifc = iface === undefined ? null : this.multicastAddr(iface, syscall, g.family);
    const rc = this.native.udpMembership(this.id, join, g.family, g.bytes, src?.bytes ?? null, ifc?.bytes ?? null, ifc?.scope ?? 0);
    if (rc < 0) throw errnoException(rc, syscall);
  }

  /** An IP literal (of `family` unless 0), else EINVAL as libuv says. */
  private multicastAddr(text: string, syscall: string, family: number = this.family): { family: Family; bytes: Uint8Array; scope: number } {
    if (typeof text !== 'string') throw invalidArgType('address', 'of type string', text);
    const p = parseAddress(text);
    if (!p || (family !== 0 && p.family !== family)) throw errnoException(-22, syscall);
    return p;
  }

  /** Keep the process alive while this socket is open (the default). */
  ref(): this {
    if (this.state === 'open') this.native.udpRef(this.id, true);
    return this;
  }

  /** Let the process exit even though this socket is open. */
  unref(): this {
    if (this.state === 'open') this.native.udpRef(this.id, false);
    return this;
  }

  /** Counters since the socket opened. */
  stats(): UdpStats {
    if (this.state !== 'closed') this.memory.ensure();
    return readStats(this.statsView, this.native.reactorInfo());
  }

  /** True until close() is called. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /**
   * Close: cancels receives and in-flight sends. Queued sends' callbacks get
   * an error; 'close' is emitted once the kernel has returned everything.
   */
  close(cb?: () => void): this {
    if (cb !== undefined && typeof cb !== 'function') throw invalidArgType('callback', 'of type function', cb);
    if (this.state !== 'open') throw notRunning();
    this.state = 'closing';
    if (cb) this.closeCallbacks.push(cb);
    this.native.udpClose(this.id);
    return this;
  }

  private finishClose(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.handler = undefined;
    this.reactor.unregister(this.id);
    const cbs = this.closeCallbacks;
    this.closeCallbacks = [];
    for (const cb of cbs) this.once('close', cb);
    this.emit('close');
  }
}
