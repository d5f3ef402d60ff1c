/**
 * A TUN <-> UDP data plane: IP packets read from a TUN device go to one
 * peer in UDP datagrams (one packet per datagram, no header), and
 * datagrams from that peer are written to the device.
 *
 * The data path is batch to batch, in native code (src/native/tunnel/
 * forward.c): one addon call per batch copies a TUN batch into a window
 * of the UDP send ring (runs of equal-size packets then leave as one UDP
 * GSO send), and the peer's datagrams of a UDP batch (many per GRO
 * receive) into a window of the TUN write ring, whose flush coalesces
 * them into TCP/UDP super-segments on a device with offloads. With TUN
 * offloads (the default where the kernel has them) the device hands over
 * 64 KiB super-segments, split into packets before the forwarder sees
 * them. `offload: false`, and the dgram UDP backend (no native object),
 * keep the JS path: packet by packet into the rings (UdpSocket.sendFrom,
 * TunDevice.writeFrom), still with no per-packet objects. When a ring is
 * full the packet is dropped and counted, as a router would: the tunnel
 * never buffers without bound.
 *
 * Only datagrams from the configured peer (address and port) are written
 * to the device; others are dropped and counted (`notFromPeer`).
 *
 * Rebind (in the spirit of Tailscale's RebindingUDPConn): rebind() binds a
 * new socket to the same address and port (SO_REUSEPORT, which Linux only
 * allows between sockets of the same user), switches sends to it at once,
 * and retires the old one so that nothing the kernel delivered to it is
 * lost (src/tunnel/leg.ts: the old socket is connected to itself and
 * drained up to an end marker it sends itself, then closed). Whatever it
 * could not hand over is counted (`rebind`), as are the kernel's receive
 * queue drops of every socket the tunnel had (`receiveQueueFull`).
 */
import { EventEmitter } from 'node:events';
import type { BackendChoice } from '../core/backend.js';
import type { RecvBatch } from '../udp/batch.js';
import type { Endpoint } from '../udp/endpoint.js';
import { CodedError, invalidArgType } from '../core/errors.js';
import { TunDevice, type PacketBatch } from '../tun/device.js';
import { openTun } from '../tun/open.js';
import type { TunOffloadChoice, TunOptions } from '../tun/options.js';
import { badAddress, checkListenAddress, checkPortFree, parseHostPort, resolvePeer, type HostPort, type ResolvedPeer } from './addr.js';
import { openLeg, retireLeg, takeMarker, type Leg, type LegOwner, type SocketConfig, type TunnelError, type TunnelUdpOptions } from './leg.js';
import { DROP, REBINDS, REBIND_UNCONFIRMED, RX_BYTES, RX_PACKETS, snapshot, TunnelCounters, TX_BYTES, TX_PACKETS, type TunnelStats } from './stats.js';
import type { AddressInfo, UdpSocket } from '../udp/socket.js';

export type { TunnelError, TunnelUdpOptions } from './leg.js';

export interface TunnelOptions {
  /**
   * An open device (the tunnel reads and writes it; close() leaves it open),
   * or options for openTun() (the tunnel opens the device after the socket
   * is bound, and closes it on close()).
   */
  tun: TunDevice | TunOptions;
  /** Local UDP address: a port, '[ADDR:]PORT', or { address?, port }. Default address: any. */
  listen: number | string | { address?: string; port: number };
  /** The other end: 'HOST:PORT', '[IPV6]:PORT' or { address, port }; a host name is resolved once. */
  peer: string | { address: string; port: number };
  /** UDP backend: 'auto' (default), 'io_uring', 'mmsg' or 'dgram'. */
  backend?: BackendChoice;
  /**
   * TUN offloads and native forwarding. 'auto' (default) or true: the
   * device the tunnel opens gets offloads where the kernel takes them (true:
   * or the open fails, see TunIoOptions.offload), and packets move in native
   * code. false: no offloads, packets copied by JS (the path before
   * offloads). A device passed in keeps its own offloads either way.
   */
  offload?: TunOffloadChoice;
  /**
   * Socket tuning. Defaults: SO_RCVBUF and SO_SNDBUF 4 MiB (the kernel caps
   * them at net.core.rmem_max / wmem_max), a 2048-entry 4 MiB send ring,
   * GSO and GRO with 64 receive buffers, the rest openUdp's defaults.
   */
  udp?: TunnelUdpOptions;
  /** No IOURING_NET_FALLBACK warning. */
  quiet?: boolean;
}

/** The events of a Tunnel and their arguments (typed `on`/`once`/`emit`). */
export interface TunnelEvents {
  /** `source` 'udp': a receive error of the socket (rebind() may cure it); 'tun': a read error of the device. */
  error: [err: TunnelError];
  /** rebind() replaced the UDP socket. */
  rebind: [];
  /** Closed: nothing follows. */
  close: [];
}

/** The addon's forwarders (src/native/addon/addon_tunnel.c). */
interface ForwardExports {
  tunnelTunToUdp(...args: [number, number, number, number, number, number, number, number, number, number, number, Int32Array, number, Int32Array]): number;
  tunnelUdpToTun(...args: [number, number, number, number, number, number, number, number, number, number, number, Int32Array, number, Int32Array]): number;
}

/** Words of the forwarders' out array (forward.h ion_fwd_counts). */
const OUT_NEXT = 0;
const OUT_USED = 1;
const OUT_PACKETS = 2;
const OUT_BYTES = 3;
const OUT_TOO_BIG = 4;
const OUT_NOT_FROM_PEER = 5;
const OUT_MALFORMED = 6;
/** Windows asked for per batch at most (the ring may wrap once). */
const MAX_WINDOWS = 4;
/** Ask for all the contiguous room there is. */
const ANY_BYTES = 1 << 30;
/** Largest UDP payload per family (udp/socket.ts). */
const MAX_UDP_PAYLOAD = { 4: 65507, 6: 65527 } as const;

/** A direction's counters; `full`: the ring its packets go into was full. */
interface Direction {
  readonly packets: number;
  readonly bytes: number;
  readonly full: number;
}
const TX: Direction = { packets: TX_PACKETS, bytes: TX_BYTES, full: DROP.udpQueueFull };
const RX: Direction = { packets: RX_PACKETS, bytes: RX_BYTES, full: DROP.tunQueueFull };

function closedError(): CodedError {
  return new CodedError('ERR_TUNNEL_CLOSED', 'The tunnel is closed');
}

function toHostPort(v: TunnelOptions['listen'] | TunnelOptions['peer'], what: string, listen: boolean): HostPort {
  if (typeof v === 'number') return parseHostPort(String(v), what, { portOnly: true, allowZero: true });
  if (typeof v === 'string') return parseHostPort(v, what, { portOnly: listen, allowZero: listen });
  if (v === null || typeof v !== 'object') throw invalidArgType(`options.${what}`, 'a string, number or object', v);
  const port = v.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < (listen ? 0 : 1) || port > 65535) {
    throw badAddress(`${what}: port ${String(port)} is out of range`);
  }
  const host = v.address ?? '';
  if (typeof host !== 'string') throw invalidArgType(`options.${what}.address`, 'of type string', host);
  return { host, port };
}

export class Tunnel extends EventEmitter<TunnelEvents> implements LegOwner {
  /** The TUN device. */
  readonly tun: TunDevice;
  /** The peer as resolved at creation. */
  readonly peer: ResolvedPeer;
  private readonly ownsTun: boolean;
  private readonly ep: Endpoint;
  private readonly c = new TunnelCounters();
  private readonly legs = new Set<Leg>();
  private leg: Leg;
  private readonly config: SocketConfig;
  private state: 'open' | 'closing' | 'closed' = 'open';
  private rebinding: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;
  /** The addon's forwarders, or undefined for the JS path. */
  private readonly fwd: ForwardExports | undefined;
  private readonly fwdOut = new Int32Array(8);
  /** An exclusive socket is being replaced: there is none to send on. */
  private switching = false;
  /** Final kernel drop counters of the sockets already closed. */
  private retiredKernelDrops = 0;

  /** @internal use createTunnel() */
  constructor(
    tun: TunDevice,
    ownsTun: boolean,
    first: Leg,
    peer: ResolvedPeer,
    config: SocketConfig,
  ) {
    super();
    this.tun = tun;
    this.ownsTun = ownsTun;
    this.peer = peer;
    this.config = config;
    this.leg = first;
    this.legs.add(first);
    first.owner = this;
    this.ep = first.sock.endpoint(peer.address, peer.port);
    const fwd = tun.nativeAddon as Partial<ForwardExports>;
    const native = config.offload !== false && first.sock.nativeId >= 0 && typeof fwd.tunnelTunToUdp === 'function';
    this.fwd = native ? (fwd as ForwardExports) : undefined;
    tun.on('error', this.onTunError);
    tun.onBatch = this.fromTun;
  }

  /** The UDP socket in use now (it changes with rebind()). */
  get socket(): UdpSocket {
    return this.leg.sock;
  }

  /** The local UDP address (the port stays the same across rebinds). */
  get local(): AddressInfo {
    return this.leg.sock.address();
  }

  get backend(): { udp: string; tun: string } {
    return { udp: this.leg.sock.backend, tun: this.tun.backend };
  }

  /** Packets move in native code (true), or are copied by JS (offload: false, dgram backend). */
  get nativeForwarding(): boolean {
    return this.fwd !== undefined;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Counters since creation, drops by reason, and the backends in use. */
  stats(): TunnelStats {
    const sock = this.leg.sock;
    const offloads = sock.isOpen ? sock.offloads : { gso: false, gro: false };
    let kernelDrops = this.retiredKernelDrops;
    for (const leg of this.legs) kernelDrops += leg.sock.stats().drops;
    return snapshot(this.c, this.backend, sock.stats(), this.tun.stats(), offloads, kernelDrops);
  }

  // ---- the data path: no allocation per packet ----

  /** TUN -> peer. */
  private readonly fromTun = (b: PacketBatch): void => {
    const leg = this.leg;
    const sock = leg.sock;
    if (this.state !== 'open') return;
    if (this.switching) {
      this.c.add(DROP.rebind, b.length);
      return;
    }
    if (!sock.isOpen) {
      // Closed behind the tunnel's back (tunnel.socket.close()): rebind() helps.
      this.c.add(DROP.sendError, b.length);
      return;
    }
    if (this.fwd) {
      this.tunToUdpNative(b.length, leg);
      return;
    }
    const ep = this.ep;
    const bytes = b.bytes;
    const n = b.length;
    let sent = 0;
    let sentBytes = 0;
    let tooBig = 0;
    let full = 0;
    for (let i = 0; i < n; i++) {
      const len = b.size(i);
      if (b.truncated(i)) tooBig++;
      else if (sock.sendFrom(bytes, b.offset(i), len, ep)) {
        sent++;
        sentBytes += len;
      } else full++;
    }
    leg.pushed += sent;
    this.tally(TX, sent, sentBytes, 0, tooBig, 0, full);
  };

  /** TUN -> peer in native code: the n packets of the batch, window by window. */
  private tunToUdpNative(n: number, leg: Leg): void {
    const fwd = this.fwd!;
    const sock = leg.sock;
    const ep = this.ep;
    const out = this.fwdOut;
    const tunId = this.tun.nativeId;
    const udpId = sock.nativeId;
    const maxPayload = MAX_UDP_PAYLOAD[ep.family];
    const c = this.c;
    let i = 0;
    for (let k = 0; k < MAX_WINDOWS && i < n; k++) {
      const w = sock.nativeWindow(n - i, ANY_BYTES);
      if (w === null) break;
      const rc = fwd.tunnelTunToUdp(tunId, udpId, i, n, w.seq, w.slots, w.at, w.bytes, ep.family, ep.port, ep.scope, ep.words, maxPayload, out);
      if (rc < 0 || !sock.commitNativeWindow(w, out[OUT_USED]!)) break;
      leg.pushed += out[OUT_USED]!;
      c.add(TX_PACKETS, out[OUT_PACKETS]!);
      c.add(TX_BYTES, out[OUT_BYTES]!);
      c.add(DROP.tooBig, out[OUT_TOO_BIG]!);
      c.add(DROP.malformed, out[OUT_MALFORMED]!);
      const next = out[OUT_NEXT]!;
      if (next <= i) break; // the window could not take the next packet
      i = next;
    }
    if (i < n) c.add(DROP.udpQueueFull, n - i);
  }

  /** Peer -> TUN in native code: the n datagrams of one socket's batch. */
  private udpToTunNative(n: number, leg: Leg): void {
    const fwd = this.fwd!;
    const tun = this.tun;
    const ep = this.ep;
    const out = this.fwdOut;
    const tunId = tun.nativeId;
    const udpId = leg.sock.nativeId;
    const c = this.c;
    let i = 0;
    for (let k = 0; k < MAX_WINDOWS && i < n; k++) {
      const w = tun.nativeWindow(n - i, ANY_BYTES);
      if (w === null) break;
      const rc = fwd.tunnelUdpToTun(udpId, tunId, i, n, w.seq, w.slots, w.at, w.bytes, ep.family, ep.port, ep.scope, ep.words, tun.maxPacketSize, out);
      if (rc < 0 || !tun.commitNativeWindow(w, out[OUT_USED]!)) break;
      c.add(RX_PACKETS, out[OUT_PACKETS]!);
      c.add(RX_BYTES, out[OUT_BYTES]!);
      c.add(DROP.notFromPeer, out[OUT_NOT_FROM_PEER]!);
      c.add(DROP.tooBig, out[OUT_TOO_BIG]!);
      c.add(DROP.malformed, out[OUT_MALFORMED]!);
      const next = out[OUT_NEXT]!;
      if (next <= i) break;
      i = next;
    }
    if (i < n) c.add(DROP.tunQueueFull, n - i);
  }

  /** @internal Peer -> TUN, for the batches of one socket. */
  fromPeer(b: RecvBatch, leg: Leg): void {
    const tun = this.tun;
    if (this.state !== 'open' || !tun.isOpen) {
      // Closing, or a device the caller owns was closed under the tunnel.
      leg.seen += b.length;
      if (this.state === 'open') this.c.add(DROP.writeError, b.length);
      return;
    }
    // A retiring leg takes the JS path: its end markers (leg.ts) come from
    // its own address, which the native forwarder would drop as strangers.
    if (this.fwd && leg.sock.nativeId >= 0 && leg.marker === undefined) {
      leg.seen += b.length;
      this.udpToTunNative(b.length, leg);
      return;
    }
    const ep = this.ep;
    const max = tun.maxPacketSize;
    const bytes = b.bytes;
    const n = b.length;
    let written = 0;
    let writtenBytes = 0;
    let stranger = 0;
    let tooBig = 0;
    let malformed = 0;
    let full = 0;
    for (let i = 0; i < n; i++) {
      if (!b.isFrom(i, ep)) {
        // A retiring socket's end marker is not a drop (see leg.ts).
        if (!takeMarker(leg, b, i)) stranger++;
        continue;
      }
      const len = b.size(i);
      if (b.truncated(i) || len > max) {
        tooBig++;
        continue;
      }
      const off = b.offset(i);
      const version = len > 0 ? (bytes[off] ?? 0) >> 4 : 0;
      if (!((version === 4 && len >= 20) || (version === 6 && len >= 40))) malformed++;
      else if (tun.writeFrom(bytes, off, len)) {
        written++;
        writtenBytes += len;
      } else full++;
    }
    leg.seen += n;
    this.tally(RX, written, writtenBytes, stranger, tooBig, malformed, full);
  }

  /**
   * The drops come as separate numbers, not an object, so that the JS path
   * allocates nothing per batch; a reason a direction cannot have is 0.
   */
  private tally(dir: Direction, packets: number, bytes: number, stranger: number, tooBig: number, malformed: number, full: number): void {
    const c = this.c;
    c.add(dir.packets, packets);
    c.add(dir.bytes, bytes);
    if (stranger) c.add(DROP.notFromPeer, stranger);
    if (tooBig) c.add(DROP.tooBig, tooBig);
    if (malformed) c.add(DROP.malformed, malformed);
    if (full) c.add(dir.full, full);
  }

  // ---- errors ----

  private readonly onTunError = (err: TunnelError): void => {
    if ((err as { syscall?: string }).syscall === 'write') {
      this.c.add(DROP.writeError, 1);
      return;
    }
    // A read error stops reading (e.g. the interface was deleted): fatal.
    if (this.state !== 'open') return;
    err.source = 'tun';
    this.emit('error', err);
  };

  /** @internal an 'error' of one of the tunnel's sockets. */
  legError(leg: Leg, err: TunnelError): void {
    if ((err as { syscall?: string }).syscall === 'send') {
      leg.sendErrors++;
      this.c.add(DROP.sendError, 1);
      return;
    }
    // Receive errors of the socket in use; a retiring one no longer matters.
    if (!leg.ready || leg !== this.leg || this.state !== 'open') return;
    err.source = 'udp';
    this.emit('error', err);
  }

  // ---- rebind ----

  /**
   * Replace the UDP socket while traffic flows. Resolves once the new
   * socket carries the traffic and the old one is closed. Calls are
   * serialized. If the new socket cannot be bound, the old one stays in
   * use and this rejects (dgram backend without SO_REUSEPORT: the old one
   * is closed first, so the tunnel then has no socket until a later
   * rebind() succeeds).
   */
  rebind(): Promise<void> {
    if (this.state !== 'open') return Promise.reject(closedError());
    const p = this.rebinding.then(() => this.replaceSocket());
    this.rebinding = p.catch(() => undefined);
    return p;
  }

  private async replaceSocket(): Promise<void> {
    if (this.state !== 'open') throw closedError();
    const old = this.leg;
    let next: Leg;
    if (!old.shared && old.sock.isOpen) {
      // The old socket holds the port exclusively (no SO_REUSEPORT on this
      // backend): drain and close it first; until the new one is bound,
      // packets from the TUN are dropped (rebind) and the kernel refuses
      // the peer's datagrams (ICMP port unreachable).
      this.switching = true;
      try {
        await this.retire(old);
        next = await openLeg(this.config);
      } finally {
        this.switching = false;
      }
    } else {
      next = await openLeg(this.config);
    }
    if (this.state !== 'open') {
      next.sock.close();
      await next.closed;
      throw closedError();
    }
    next.owner = this;
    this.legs.add(next);
    this.leg = next; // sends switch now
    this.c.add(REBINDS, 1);
    this.emit('rebind');
    if (old.sock.isOpen) await this.retire(old);
  }

  /** Drain the old socket, close it and count what it lost. */
  private async retire(old: Leg): Promise<void> {
    const r = await retireLeg(old, this.config);
    this.legs.delete(old);
    this.retiredKernelDrops += r.kernelDrops;
    if (r.lost) this.c.add(DROP.rebind, r.lost);
    if (!r.confirmed && this.state === 'open') this.c.add(REBIND_UNCONFIRMED, 1);
  }

  // ---- close ----

  /**
   * Close the sockets and, if the tunnel opened it, the TUN device (the
   * interface goes away unless it is persistent). A device passed in stays
   * open, no longer read by the tunnel. Resolves after 'close'.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.state = 'closing';
    const waits: Promise<void>[] = [];
    for (const leg of this.legs) {
      if (leg.sock.isOpen) leg.sock.close();
      waits.push(leg.closed);
    }
    const tun = this.tun;
    if (tun.isOpen) {
      if (this.ownsTun) waits.push(new Promise<void>((resolve) => tun.close(resolve)));
      else tun.onBatch = undefined;
    }
    await Promise.all(waits);
    await this.rebinding;
    tun.off('error', this.onTunError);
    this.state = 'closed';
    this.emit('close');
  }
}

/**
 * Create a tunnel: resolve the peer, bind the UDP socket (checking that the
 * port is not in use), open the TUN device if options were given, and start
 * moving packets. Bad addresses reject with ERR_TUNNEL_* codes, a port in
 * use with EADDRINUSE; nothing is left open when it rejects.
 */
export async function createTunnel(options: TunnelOptions): Promise<Tunnel> {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const tunOpt = options.tun;
  if (tunOpt === null || typeof tunOpt !== 'object') throw invalidArgType('options.tun', 'a TunDevice or TunOptions', tunOpt);
  const listen = toHostPort(options.listen, 'listen', true);
  const peerHp = toHostPort(options.peer, 'peer', false);
  const listenFamily = listen.host === '' ? 0 : checkListenAddress(listen.host);
  const peer = await resolvePeer(peerHp, listenFamily);
  const type = (listenFamily || peer.family) === 6 ? 'udp6' : 'udp4';
  const address = listen.host || (type === 'udp6' ? '::' : '0.0.0.0');
  if (listen.port !== 0) await checkPortFree(type, address, listen.port);
  const given = tunOpt instanceof TunDevice ? tunOpt : undefined;
  if (given && !given.isOpen) throw new CodedError('ERR_TUN_NOT_RUNNING', 'The TUN device is closed');
  // Longer datagrams are cut and dropped (tooBig), as are ones longer than the device takes.
  const mtu = given?.maxPacketSize ?? (tunOpt as TunOptions).maxPacketSize ?? (tunOpt as TunOptions).mtu ?? 1500;
  const config: SocketConfig = {
    type,
    address,
    port: listen.port,
    maxMessageSize: Math.max(2048, Math.min(65535, mtu)),
    backend: options.backend,
    quiet: options.quiet,
    udp: options.udp,
    offload: options.offload,
  };
  const first = await openLeg(config);
  let tun: TunDevice;
  try {
    if (given) tun = given;
    else {
      // One UDP batch can hold 64 GRO receives of 64 KiB (see leg.ts): the
      // write ring takes all of it, or packets would be dropped (tunQueueFull).
      // Without offloads, 1024 reads per batch; with them the device's
      // default (64 reads of up to 64 KiB each).
      const offload = options.offload ?? 'auto';
      const tunOptions: TunOptions = {
        ...(offload === false ? { readBuffers: 1024 } : {}),
        writeQueueSize: 4096,
        writeBufferBytes: 8 << 20,
        offload,
        ...(tunOpt as TunOptions),
      };
      delete tunOptions.onBatch; // the tunnel reads the device
      tun = openTun(tunOptions);
    }
  } catch (err) {
    first.sock.close();
    await first.closed;
    throw err;
  }
  return new Tunnel(tun, given === undefined, first, peer, { ...config, port: first.sock.address().port });
}
