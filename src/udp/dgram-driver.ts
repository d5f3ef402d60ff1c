/**
 * The 'dgram' backend: node:dgram behind the same shared-memory protocol
 * the addon speaks (src/native/udp/udp.h, core/reactor.h, core/dring.h:
 * ready entries with native-side values, a checked send tail), so
 * UdpSocket, the batch
 * API and the close contract work unchanged where the addon cannot load
 * (not Linux, build failed). It is the slowest backend: one node:dgram send
 * per datagram, and a copy of every received datagram into the pool.
 *
 * Differences it cannot hide: binding completes asynchronously (wait for
 * `socket.ready` or 'listening'; bind errors arrive as 'error'), and
 * reusePort is not available on Node 20's node:dgram.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { formatAddress, parseAddress, toV4Mapped, withZone } from '../core/address.js';
import type { NativeBinding } from '../core/binding.js';
import * as C from '../core/layout.js';
import * as U from './layout.js';

const EBADF = -9;
const EINVAL = -22;
const EFAULT = -14;
const ENOSYS = -38;
const EOPNOTSUPP = -95;
const ECANCELED = -125;
const EPROTO = -71;
const BIND_REUSEADDR = 1;
const BIND_REUSEPORT = 2;
const BIND_V6ONLY = 4;

interface Obj {
  id: number;
  /** The memory (JS's own here: no kernel or native code writes into it). */
  buffer: ArrayBuffer;
  family: 4 | 6;
  ipv6Only: boolean;
  bytes: Uint8Array;
  ctrl: Int32Array;
  stats: Float64Array;
  rmeta: Int32Array;
  rmetaBytes: Uint8Array;
  sdesc: Int32Array;
  sdescBytes: Uint8Array;
  rpool: number;
  rslots: number;
  rslot: number;
  sslots: number;
  sdata: number;
  sdataLen: number;
  maxPayload: number;
  sock: Socket | null;
  bound: boolean;
  receiving: boolean;
  closing: boolean;
  finalized: boolean;
  refd: boolean;
  rcount: number;
  sendNext: number;
  frontier: number;
  sdone: Uint8Array;
  queued: boolean;
  /** Events not yet handed to JS, and the last error (reactor.h). */
  events: number;
  rerr: number;
  /** JS published an impossible send tail: take no more (dring.h). */
  poisoned: boolean;
  /** Buffer sizes asked for before the socket exists. */
  recvBufferSize?: number;
  sendBufferSize?: number;
  error: Error | undefined;
  /** The peer of connect(): node:dgram connects asynchronously. */
  peer: { address: string; port: number } | undefined;
  /** node:dgram refuses address-less sends until 'connect': hold them. */
  connecting: boolean;
  /** An fd to adopt at bind (udpCreate's fd), or -1. */
  adoptFd: number;
  /** A node UDP handle to adopt at bind (udpAdoptHandle). */
  adoptHandle: object | undefined;
}

const DETACHED = Object.assign(new Error("the socket's shared memory was transferred away (detached); it cannot work any more"), {
  code: 'ERR_IOURING_NET_MEMORY_DETACHED',
});

/** Obj.events: JS was handed EV_CLOSED (the id may go). */
const CLOSED_TOLD = 1 << 30;

function align64(n: number): number {
  return (n + 63) & ~63;
}

/** Same layout as ion_udp_layout_of (udp.c). */
function layout(rslots: number, rslot: number, sslots: number, sdataLen: number): number[] {
  const ctrl = 0;
  const stats = 16 * 4; // ION_C_WORDS int32 control words
  const rmeta = stats + 16 * 8;
  const sdesc = rmeta + rslots * C.M_WORDS * 4;
  const rpool = align64(sdesc + sslots * C.M_WORDS * 4);
  const sdata = align64(rpool + rslots * rslot);
  return [ctrl, stats, rmeta, sdesc, rpool, sdata, sdata + sdataLen, U.SLOT_HEADER, rslots];
}

/**
 * The driver's lookup: it only ever has IP literals (node:dgram calls
 * lookup(host, family, cb)). Answering at once makes node:dgram's send
 * reach the kernel at once, as the layer's own flush expects.
 */
function literal(host: string, _family: unknown, cb: (err: Error | null, address: string, family: number) => void): void {
  cb(null, host, isIP(host));
}

function errnoOf(err: unknown): number {
  const n = (err as { errno?: unknown }).errno;
  return typeof n === 'number' && n < 0 ? n : EINVAL;
}

export class DgramDriver implements NativeBinding {
  private readonly objs = new Map<number, Obj>();
  private nextId = 1;
  private dispatch: ((entries: Int32Array, count: number) => void) | undefined;
  private ready = new Int32Array(64);
  private readyN = 0;
  private entries = new Int32Array(64 * C.E_WORDS);
  private scheduled = false;

  init(dispatch: (entries: Int32Array, count: number) => void): number {
    this.dispatch = dispatch;
    return ENOSYS; // no ring here
  }

  probe(): number[] {
    return [-ENOSYS, 0, 0, 0];
  }

  reactorInfo(): number[] {
    return [0, 0, 0, 0, this.objs.size, 0, 0, 0];
  }

  submit(): number {
    return 0;
  }

  /** No offloads here: the flags are ignored and each buffer is one entry. */
  udpLayout(family: number, rslots: number, rslot: number, sslots: number, sdataLen: number, _flags: number): number[] | number {
    if (family !== 4 && family !== 6) return EINVAL;
    return layout(rslots, rslot, sslots, sdataLen);
  }

  udpCreate(
    family: number,
    rslots: number,
    rslot: number,
    sslots: number,
    sdataLen: number,
    _multishot: number,
    ipv6Only: number,
    maxPayload: number,
    _backend: number,
    flags: number,
    fd = -1,
  ): number {
    // node:dgram cannot duplicate a descriptor: adopting a copy is native-only.
    if (fd >= 0 && flags & U.F_DUP) return EOPNOTSUPP;
    const lay = layout(rslots, rslot, sslots, sdataLen);
    const [, stats = 0, rmeta = 0, sdesc = 0, rpool = 0, sdata = 0, total = 0] = lay;
    // A plain ArrayBuffer: V8 collects it promptly (SharedArrayBuffers put
    // no pressure on its GC: 2,000 sockets grew RSS by 860 MB). JS can
    // detach it; the driver then fails the socket (memoryGone).
    const mem = new ArrayBuffer(total);
    const id = this.nextId++;
    const rm = new Int32Array(mem, rmeta, rslots * C.M_WORDS);
    const sd = new Int32Array(mem, sdesc, sslots * C.M_WORDS);
    this.objs.set(id, {
      id,
      buffer: mem,
      family: family === 4 ? 4 : 6,
      ipv6Only: ipv6Only !== 0,
      bytes: new Uint8Array(mem),
      ctrl: new Int32Array(mem, 0, 16),
      stats: new Float64Array(mem, stats, 16),
      rmeta: rm,
      rmetaBytes: new Uint8Array(mem, rmeta, rm.byteLength),
      sdesc: sd,
      sdescBytes: new Uint8Array(mem, sdesc, sd.byteLength),
      rpool,
      rslots,
      rslot,
      sslots,
      sdata,
      sdataLen,
      maxPayload: Math.min(maxPayload || rslot - U.SLOT_HEADER, rslot - U.SLOT_HEADER),
      sock: null,
      bound: false,
      receiving: false,
      closing: false,
      finalized: false,
      refd: true,
      rcount: 0,
      sendNext: 0,
      frontier: 0,
      sdone: new Uint8Array(sslots),
      queued: false,
      events: 0,
      rerr: 0,
      poisoned: false,
      error: undefined,
      peer: undefined,
      connecting: false,
      adoptFd: fd,
      adoptHandle: undefined,
    });
    if (id >= this.ready.length) this.growReady();
    return id;
  }

  private growReady(): void {
    const n = new Int32Array(this.ready.length * 2);
    n.set(this.ready);
    this.ready = n;
    this.entries = new Int32Array(n.length * C.E_WORDS);
  }

  udpMem(id: number): ArrayBuffer | number {
    const o = this.objs.get(id);
    // After a detach this is empty: shared-memory.ts reports it, coded.
    return o ? o.buffer : EBADF;
  }

  /**
   * JS detached the socket's memory (it is JS's own here, unlike the
   * addon's): nothing can be received or sent any more. Report it once, as
   * ERR_IOURING_NET_MEMORY_DETACHED; the socket closes on it.
   */
  private memoryGone(o: Obj): boolean {
    if (o.bytes.byteLength !== 0) return false;
    if (!o.closing && o.error?.message !== DETACHED.message) {
      this.report(o, DETACHED);
    }
    return true;
  }

  udpSdone(id: number): number {
    const o = this.objs.get(id);
    return o ? o.frontier | 0 : EBADF;
  }

  private live(id: number): Obj | undefined {
    const o = this.objs.get(id);
    return o && !o.closing ? o : undefined;
  }

  udpBind(id: number, family: number, addr: Uint8Array, scope: number, port: number, flags: number): number {
    const o = this.live(id);
    if (!o) return EBADF;
    if (o.sock) return EINVAL;
    if (flags & BIND_REUSEPORT) return EOPNOTSUPP; // not in Node 20's node:dgram
    const sock = createSocket({
      type: o.family === 4 ? 'udp4' : 'udp6',
      // Every address it gets is an IP literal: no dns.lookup (which a
      // program may have replaced for its own lookups).
      lookup: literal as never,
      reuseAddr: (flags & BIND_REUSEADDR) !== 0,
      ipv6Only: o.ipv6Only || (flags & BIND_V6ONLY) !== 0,
      ...(o.recvBufferSize !== undefined ? { recvBufferSize: o.recvBufferSize } : {}),
      ...(o.sendBufferSize !== undefined ? { sendBufferSize: o.sendBufferSize } : {}),
    });
    o.sock = sock;
    sock.on('message', (msg, rinfo) => this.onMessage(o, msg, rinfo.address, rinfo.port));
    sock.on('error', (err) => this.report(o, err));
    if (!o.refd) sock.unref();
    const bound = (): void => {
      o.bound = true;
      this.notify(o, C.EV_LISTENING);
    };
    if (flags & U.BIND_IMPLICIT) {
      // Unbound until node:dgram's own implicit bind (addMembership) makes
      // it so, as libuv does for node:dgram: nothing to wait for.
      bound();
      return 0;
    }
    if (o.adoptHandle !== undefined) {
      sock.bind(o.adoptHandle as never, bound);
      return 0;
    }
    if (o.adoptFd >= 0) {
      // node:dgram's checks and errors (ERR_INVALID_FD_TYPE, open EEXIST)
      // are thrown here, synchronously, as from its bind({ fd }).
      sock.bind({ fd: o.adoptFd, exclusive: true }, bound);
      return 0;
    }
    const ip = withZone(formatAddress(family, addr), family, scope);
    sock.bind({ port, address: ip, exclusive: true }, bound);
    return 0;
  }

  udpAdoptHandle(id: number, handle: object): number {
    const o = this.live(id);
    if (!o || o.sock) return EBADF;
    o.adoptHandle = handle;
    return 0;
  }

  udpNodeSocket(id: number): object | undefined {
    return this.objs.get(id)?.sock ?? undefined;
  }

  udpTakeError(id: number): Error | undefined {
    const o = this.objs.get(id);
    const e = o?.error;
    if (o) o.error = undefined;
    return e;
  }

  private report(o: Obj, err: Error): void {
    if (o.closing) return;
    o.error = err;
    o.rerr = errnoOf(err);
    o.stats[U.S_RECV_ERRORS] = (o.stats[U.S_RECV_ERRORS] ?? 0) + 1;
    this.notify(o, C.EV_ERROR);
  }

  private onMessage(o: Obj, msg: Buffer, address: string, port: number): void {
    if (o.closing || !o.receiving || this.memoryGone(o)) return;
    if (o.rcount >= o.rslots) {
      // The pool is full until the handler runs: the datagram is dropped,
      // as the kernel would drop it on a full receive queue.
      o.stats[U.S_DROPS] = (o.stats[U.S_DROPS] ?? 0) + 1;
      return;
    }
    const slot = o.rcount++;
    const at = o.rpool + slot * o.rslot + U.SLOT_HEADER;
    const len = Math.min(msg.length, o.maxPayload);
    o.bytes.set(len === msg.length ? msg : msg.subarray(0, len), at);
    const m = slot * C.M_WORDS;
    const parsed = parseAddress(address);
    o.rmeta[m + C.M_OFF] = at;
    o.rmeta[m + C.M_LEN] = len;
    o.rmeta[m + C.M_FLAGS] = len < msg.length ? C.MF_TRUNC : 0;
    o.rmeta[m + C.M_PORT] = port;
    o.rmeta[m + C.M_FAMILY] = o.family === 6 ? 6 : (parsed?.family ?? 4);
    o.rmeta[m + C.M_SCOPE] = parsed?.scope ?? 0;
    o.rmetaBytes.fill(0, (m + C.M_ADDR) * 4, (m + C.M_ADDR) * 4 + 16);
    if (parsed) {
      const bytes = (o.family === 6 && parsed.family === 4 ? toV4Mapped(parsed) : parsed).bytes;
      o.rmetaBytes.set(bytes.subarray(0, 16), (m + C.M_ADDR) * 4);
    }
    o.stats[U.S_PKTS_IN] = (o.stats[U.S_PKTS_IN] ?? 0) + 1;
    o.stats[U.S_BYTES_IN] = (o.stats[U.S_BYTES_IN] ?? 0) + len;
    if (len < msg.length) o.stats[U.S_TRUNC] = (o.stats[U.S_TRUNC] ?? 0) + 1;
    this.notify(o, C.EV_RECV);
  }

  private notify(o: Obj, events: number): void {
    o.events |= events;
    if (!o.queued) {
      o.queued = true;
      this.ready[this.readyN++] = o.id;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  /** One drain: hand the ready entries to JS, then recycle (reactor.c's twin). */
  private readonly run = (): void => {
    this.scheduled = false;
    const n = this.readyN;
    if (n === 0 || !this.dispatch) return;
    const e = this.entries;
    for (let i = 0; i < n; i++) {
      const o = this.objs.get(this.ready[i] ?? 0);
      const at = i * C.E_WORDS;
      e.fill(0, at, at + C.E_WORDS);
      if (!o) continue;
      e[at + C.E_ID] = o.id;
      e[at + C.E_EVENTS] = o.events;
      e[at + C.E_RCOUNT] = o.rcount;
      e[at + C.E_SDONE] = o.frontier | 0;
      e[at + C.E_RERR] = o.rerr;
      if (o.events & C.EV_CLOSED) o.events |= CLOSED_TOLD;
      o.events &= CLOSED_TOLD;
    }
    this.dispatch(e, n);
    for (let i = 0; i < n; i++) {
      const o = this.objs.get(this.ready[i] ?? 0);
      if (!o) continue;
      o.queued = false;
      o.rcount = 0;
      const unseen = (o.events & ~CLOSED_TOLD) !== 0;
      if (o.finalized && (o.events & CLOSED_TOLD) !== 0 && !unseen) this.objs.delete(o.id);
      else if (unseen) this.notify(o, 0);
      if (!o.finalized) this.udpFlush(o.id);
    }
    this.ready.copyWithin(0, n, this.readyN);
    this.readyN -= n;
  };

  udpConnect(id: number, family: number, addr: Uint8Array, scope: number, port: number): number {
    const o = this.live(id);
    if (!o?.sock) return EBADF;
    const address = withZone(formatAddress(family, addr), family, scope);
    // Sends made before 'connect' are queued by node:dgram itself.
    o.peer = { address, port };
    o.connecting = true;
    o.sock.connect(port, address, () => {
      o.connecting = false;
      this.udpFlush(o.id);
    });
    return 0;
  }

  udpDisconnect(id: number): number {
    const o = this.live(id);
    if (!o?.sock) return EBADF;
    try {
      o.sock.disconnect();
    } catch (err) {
      return errnoOf(err);
    }
    o.peer = undefined;
    return 0;
  }

  udpName(id: number, peer: number, out: Int32Array): number {
    const o = this.live(id);
    if (!o?.sock || !o.bound) return EBADF;
    let info: { address: string; port: number };
    if (peer) {
      if (!o.peer) return -107; // ENOTCONN
      info = o.peer;
    } else {
      try {
        info = o.sock.address();
      } catch (err) {
        return errnoOf(err); // not bound yet (an implicit bind before its first use)
      }
    }
    const parsed = parseAddress(info.address);
    out[C.M_PORT] = info.port;
    out[C.M_FAMILY] = parsed?.family ?? 0;
    out[C.M_SCOPE] = parsed?.scope ?? 0;
    const words = new Uint8Array(out.buffer, out.byteOffset + C.M_ADDR * 4, 16);
    words.fill(0);
    if (parsed) words.set(parsed.bytes.subarray(0, 16));
    return 0;
  }

  udpSetOpt(id: number, opt: number, value: number): number {
    const o = this.live(id);
    if (!o) return EBADF;
    if (!o.sock || !o.bound) {
      // node:dgram takes these only at creation or after bind.
      if (opt === U.OPT_RCVBUF) o.recvBufferSize = value;
      else if (opt === U.OPT_SNDBUF) o.sendBufferSize = value;
      else return EBADF;
      return 0;
    }
    try {
      const s = o.sock;
      if (opt === U.OPT_RCVBUF) s.setRecvBufferSize(value);
      else if (opt === U.OPT_SNDBUF) s.setSendBufferSize(value);
      else if (opt === U.OPT_TTL) s.setTTL(value);
      else if (opt === U.OPT_BROADCAST) s.setBroadcast(value !== 0);
      else if (opt === U.OPT_MULTICAST_TTL) s.setMulticastTTL(value);
      else if (opt === U.OPT_MULTICAST_LOOP) s.setMulticastLoopback(value !== 0);
      else return EINVAL;
    } catch (err) {
      return errnoOf(err);
    }
    return 0;
  }

  udpGetOpt(id: number, opt: number): number {
    const o = this.live(id);
    if (!o?.sock || !o.bound) return EBADF;
    try {
      if (opt === U.OPT_RCVBUF) return o.sock.getRecvBufferSize();
      if (opt === U.OPT_SNDBUF) return o.sock.getSendBufferSize();
    } catch (err) {
      return errnoOf(err);
    }
    return EINVAL;
  }

  udpStart(id: number): number {
    const o = this.live(id);
    if (!o) return EBADF;
    o.receiving = true;
    return 0;
  }

  udpFlush(id: number): number {
    const o = this.live(id);
    if (!o?.sock || o.connecting || this.memoryGone(o)) return 0;
    const tail = this.tail(o);
    if (tail < 0) return 0;
    const mask = o.sslots - 1;
    // Bounded: the tail is at most sslots past the frontier (checked).
    while (o.sendNext !== tail) {
      const slot = o.sendNext & mask;
      o.sendNext = (o.sendNext + 1) >>> 0;
      this.sendOne(o, slot);
    }
    return 0;
  }

  /** The tail JS published, if possible (dring.c's rules), else -1 after failing the socket. */
  private tail(o: Obj): number {
    if (o.poisoned) return -1;
    const t = (o.ctrl[C.C_STAIL] ?? 0) >>> 0;
    if (((t - o.frontier) >>> 0) > o.sslots || ((t - o.sendNext) >>> 0) > ((t - o.frontier) >>> 0)) {
      o.poisoned = true;
      o.rerr = EPROTO;
      this.notify(o, C.EV_ERROR);
      return -1;
    }
    return t;
  }

  private sendOne(o: Obj, slot: number): void {
    const d = slot * C.M_WORDS;
    const off = o.sdesc[d + C.M_OFF] ?? -1;
    const len = o.sdesc[d + C.M_LEN] ?? -1;
    const family = o.sdesc[d + C.M_FAMILY] ?? -1;
    const port = o.sdesc[d + C.M_PORT] ?? -1;
    if (off < o.sdata || len < 0 || len > o.sdataLen || off - o.sdata > o.sdataLen - len) {
      this.sent(o, slot, EFAULT);
      return;
    }
    if ((family !== 0 && family !== o.family) || port < 0 || port > 65535) {
      this.sent(o, slot, EINVAL);
      return;
    }
    // A Buffer over our memory, no copy: the slot stays ours until the
    // callback. (node:dgram's connected send(msg, cb) wants a Buffer.)
    const data = Buffer.from(o.bytes.buffer, o.bytes.byteOffset + off, len);
    const done = (err: Error | null, bytes?: number): void => this.sent(o, slot, err ? errnoOf(err) : (bytes ?? len));
    try {
      if (family === 0) {
        o.sock!.send(data, done);
      } else {
        const start = (d + C.M_ADDR) * 4;
        const ip = formatAddress(family, o.sdescBytes.subarray(start, start + 16));
        o.sock!.send(data, port, withZone(ip, family, o.sdesc[d + C.M_SCOPE] ?? 0), done);
      }
    } catch (err) {
      this.sent(o, slot, errnoOf(err));
    }
  }

  private sent(o: Obj, slot: number, result: number): void {
    if (o.finalized) return; // a late callback after close: already failed
    o.sdesc[slot * C.M_WORDS + C.M_FLAGS] = result;
    o.sdone[slot] = 1;
    if (result >= 0) {
      o.stats[U.S_PKTS_OUT] = (o.stats[U.S_PKTS_OUT] ?? 0) + 1;
      o.stats[U.S_BYTES_OUT] = (o.stats[U.S_BYTES_OUT] ?? 0) + result;
    } else {
      o.stats[U.S_SEND_ERRORS] = (o.stats[U.S_SEND_ERRORS] ?? 0) + 1;
    }
    const mask = o.sslots - 1;
    while (o.frontier !== o.sendNext && o.sdone[o.frontier & mask]) {
      o.sdone[o.frontier & mask] = 0;
      o.frontier = (o.frontier + 1) >>> 0;
    }
    if (result < 0 || o.ctrl[C.C_SWANT]) this.notify(o, C.EV_SENT);
  }

  udpMembership(
    id: number,
    join: number,
    family: number,
    group: Uint8Array,
    source: Uint8Array | null,
    iface: Uint8Array | null,
    scope: number,
  ): number {
    const o = this.live(id);
    if (!o?.sock || !o.bound) return EBADF;
    const g = formatAddress(family, group);
    const i = iface ? this.ifaceText(family, iface, scope) : undefined;
    try {
      if (source) {
        const src = formatAddress(family, source);
        if (join) o.sock.addSourceSpecificMembership(src, g, i);
        else o.sock.dropSourceSpecificMembership(src, g, i);
      } else if (join) {
        o.sock.addMembership(g, i);
      } else {
        o.sock.dropMembership(g, i);
      }
    } catch (err) {
      return errnoOf(err);
    }
    return 0;
  }

  udpMulticastInterface(id: number, addr: Uint8Array | null, scope: number): number {
    const o = this.live(id);
    if (!o?.sock || !o.bound) return EBADF;
    try {
      o.sock.setMulticastInterface(this.ifaceText(o.family, addr ?? new Uint8Array(16), scope));
    } catch (err) {
      return errnoOf(err);
    }
    return 0;
  }

  private ifaceText(family: number, addr: Uint8Array, scope: number): string {
    const text = formatAddress(family, addr);
    return family === 6 && scope ? `${text}%${scope}` : text;
  }

  udpRef(id: number, ref: boolean): number {
    const o = this.live(id);
    if (!o) return EBADF;
    o.refd = ref;
    if (ref) o.sock?.ref();
    else o.sock?.unref();
    return 0;
  }

  udpClose(id: number): number {
    const o = this.live(id);
    if (!o) return EBADF;
    // Sends JS pushed that were never handed to node:dgram fail now (with
    // an impossible tail, none: JS fails its own, sendqueue.ts failRest).
    const tail = this.tail(o);
    const mask = o.sslots - 1;
    while (tail >= 0 && o.sendNext !== tail) {
      const slot = o.sendNext & mask;
      o.sendNext = (o.sendNext + 1) >>> 0;
      this.sent(o, slot, ECANCELED);
    }
    o.closing = true;
    const finish = (): void => {
      // node:dgram drops sends still queued inside it (e.g. before bind
      // completed) without a callback: they were not sent.
      for (let seq = o.frontier, k = 0; seq !== o.sendNext && k < o.sslots; seq = (seq + 1) >>> 0, k++) {
        if (!o.sdone[seq & mask]) this.sent(o, seq & mask, ECANCELED);
      }
      o.finalized = true;
      this.notify(o, C.EV_CLOSED);
    };
    if (o.sock) o.sock.close(finish);
    else setImmediate(finish);
    return 0;
  }

  udpInfo(id: number): number[] {
    return this.objs.has(id) ? [-1, 0, 2] : [];
  }
}

let driver: DgramDriver | undefined;

/** This thread's node:dgram driver. */
export function dgramDriver(): DgramDriver {
  driver ??= new DgramDriver();
  return driver;
}
