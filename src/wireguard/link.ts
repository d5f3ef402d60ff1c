/**
 * The WireGuard device's data path in JS: one native call per batch, never
 * per packet.
 *
 *   TUN batch  -> wgSealTun: route (AllowedIPs), seal, write each message
 *                 into a window of the UDP socket's send ring; commit the
 *                 window, the socket flushes it (equal-size runs to one
 *                 endpoint leave as UDP GSO sends). A full ring: the rest
 *                 is staged natively (bounded per peer) and flushed on the
 *                 socket's 'drain'.
 *   UDP batch  -> wgOpenUdp: replay check, open in place in the receive
 *                 pool, inner-source check, copy the plaintext into a window
 *                 of the TUN write ring. Handshake messages come back as
 *                 batch indices for the device's handshake code.
 *
 * After each batch the per-peer summaries (what happened to each peer) go
 * to the host in one Float64Array, to drive the timers.
 *
 * On the dgram UDP backend (no native socket) the same steps use the
 * copying exports (wgEncrypt, wgDecrypt) and socket.send(): slower, same
 * behaviour.
 */
import { errnoException } from '../core/errors.js';
import { M_ADDR, M_FAMILY, M_PORT, M_SCOPE } from '../core/layout.js';
import type { SendWindow } from '../core/sendqueue.js';
import type { RecvBatch } from '../udp/batch.js';
import type { UdpSocket } from '../udp/socket.js';
import type { PacketBatch, TunDevice } from '../tun/device.js';
import { formatIP } from './ip.js';
import { OUT, SUMMARY_WORDS, type WgEndpoint, type WgHandle, type WgNative, type WgTxResult } from './wg-native.js';

/**
 * Bytes a window is asked for per packet beyond the packet itself: the
 * message header and tag (32), padding and alignment (15 + 15). A window
 * smaller than asked makes the queue take native's completions first, so
 * the ask should be what the batch needs, not more.
 */
const PER_PACKET = 64;
const MAX_SLOTS = 65536;
const MAX_BYTES = 1 << 30;

/** A window ask for n packets of at most max bytes each. */
function ask(n: number, max: number): [number, number] {
  return [Math.min(n, MAX_SLOTS), Math.min(n * (max + PER_PACKET), MAX_BYTES)];
}
/** Handshake messages handled per native call; more (a flood) are dropped and counted. */
const MAX_HANDSHAKES = 1024;
/** Summaries per native call. */
const SUMMARIES = 256;
/** Windows tried per flush before waiting for 'drain' (each takes one ring wrap). */
const FLUSH_ROUNDS = 4;
/** Packets a flush asks room for (wg's staged queue holds 128 per peer). */
const STAGED_ASK = 256;
/** Rounds of summaries that may cause more summaries (a flush after a handshake...). */
const SUMMARY_ROUNDS = 8;
const EBADF = -9;
const ENOBUFS = -105;

/** What the link asks of the device. */
export interface LinkHost {
  /** The device clock in ns (native times use it). */
  nowNs(): number;
  /** Datagram i of b is a handshake message (type 1, 2 or 3, exact size): valid until the handler returns. */
  handshake(b: RecvBatch, i: number): void;
  /** n summaries of SUMMARY_WORDS doubles in buf (peer, flags, rx/tx bytes and packets, drops, staged). */
  summaries(buf: Float64Array, n: number): void;
  /** The data path failed in a way the user should hear of. */
  linkError(err: Error): void;
}

/** Counters the link keeps (the rest are native). */
export interface LinkCounters {
  /** Handshake messages beyond MAX_HANDSHAKES in one call (a flood): dropped. */
  handshakeOverflow: number;
  /** dgram backend: messages the UDP send ring refused (full). */
  udpQueueFull: number;
  /** dgram backend: plaintext packets the TUN write ring refused (full). */
  tunQueueFull: number;
}

export class Link {
  private readonly native: WgNative;
  private readonly dev: WgHandle;
  private readonly host: LinkHost;
  private readonly tun: TunDevice;
  private udp: UdpSocket;
  private copying: boolean;
  private readonly out = new Int32Array(OUT.words);
  private readonly hs = new Int32Array(MAX_HANDSHAKES);
  private readonly sums = new Float64Array(SUMMARIES * SUMMARY_WORDS);
  private summarizing = false;
  private summariesAgain = false;
  private closed = false;
  /** Zero bytes the TUN device wants before each packet (virtio_net_hdr). */
  private readonly headroom: number;
  readonly counters: LinkCounters = { handshakeOverflow: 0, udpQueueFull: 0, tunQueueFull: 0 };

  constructor(native: WgNative, dev: WgHandle, tun: TunDevice, udp: UdpSocket, host: LinkHost, headroom = 0) {
    this.native = native;
    this.headroom = headroom;
    this.dev = dev;
    this.host = host;
    this.tun = tun;
    this.udp = udp;
    this.copying = udp.backend === 'dgram';
    tun.onBatch = this.fromTun;
    this.attach(udp);
  }

  /** The socket in use. */
  get socket(): UdpSocket {
    return this.udp;
  }

  /** Move the data path to another socket (a new listen port); the old one is left to the caller. */
  setSocket(udp: UdpSocket): void {
    const old = this.udp;
    if (old.isOpen) old.onBatch = undefined;
    old.off('drain', this.onDrain);
    this.udp = udp;
    this.copying = udp.backend === 'dgram';
    this.attach(udp);
  }

  private attach(udp: UdpSocket): void {
    udp.on('drain', this.onDrain);
    udp.onBatch = this.fromUdp;
  }

  /** Stop moving packets (the device closes). */
  close(): void {
    this.closed = true;
    this.udp.off('drain', this.onDrain);
    if (this.udp.isOpen) this.udp.onBatch = undefined;
    if (this.tun.isOpen) this.tun.onBatch = undefined;
  }

  // ---- TUN -> UDP ----

  private readonly fromTun = (b: PacketBatch): void => {
    if (this.closed || b.length === 0) return;
    if (this.copying) this.sealCopy(b);
    else this.sealNative(b);
    this.takeSummaries();
  };

  private sealNative(b: PacketBatch): void {
    const { native, dev, out, udp } = this;
    const n = b.length;
    const tunId = this.tun.nativeId;
    const udpId = udp.nativeId;
    if (tunId < 0 || udpId < 0) return;
    const now = this.host.nowNs();
    let start = 0;
    let full = false;
    // Each round consumes at least one packet (wg_link_seal's promise).
    while (start < n) {
      const [slots, bytes] = ask(n - start, this.tun.maxPacketSize);
      const w = udp.nativeWindow(slots, bytes);
      const rc = w
        ? native.wgSealTun(dev, tunId, start, n, udpId, w.seq, w.slots, w.at, w.bytes, now, out)
        : native.wgSealTun(dev, tunId, start, n, udpId, 0, 0, 0, 0, now, out);
      if (rc < 0) return this.failed(rc, 'seal');
      if (w && !udp.commitNativeWindow(w, out[OUT.used]!)) return;
      const next = out[OUT.next]!;
      if (next <= start) return;
      start = next;
      full = out[OUT.sinkFull] === 1 && w !== null;
    }
    // The window ended before the staged packets did: its ring may have
    // more room past a wrap.
    if (full) this.flushStaged();
  }

  private sealCopy(b: PacketBatch): void {
    const pkts: Uint8Array[] = new Array<Uint8Array>(b.length);
    for (let i = 0; i < b.length; i++) pkts[i] = b.data(i);
    const r = this.native.wgEncrypt(this.dev, pkts, BigInt(Math.floor(this.host.nowNs())));
    this.sendCopied(r);
  }

  // ---- UDP -> TUN ----

  private readonly fromUdp = (b: RecvBatch): void => {
    if (this.closed || b.length === 0) return;
    if (this.copying) this.openCopy(b);
    else this.openNative(b);
    this.takeSummaries();
  };

  private openNative(b: RecvBatch): void {
    const { native, dev, out, hs, tun, udp } = this;
    const n = b.length;
    const udpId = udp.nativeId;
    if (udpId < 0) return;
    const tunId = Math.max(0, tun.nativeId);
    const now = this.host.nowNs();
    let start = 0;
    while (start < n) {
      const [slots, bytes] = ask(n - start, tun.maxPacketSize + this.headroom);
      const w: SendWindow | null = tunId > 0 ? tun.nativeWindow(slots, bytes) : null;
      const rc = w
        ? native.wgOpenUdp(dev, udpId, start, n, tunId, w.seq, w.slots, w.at, w.bytes, now, out, hs)
        : native.wgOpenUdp(dev, udpId, start, n, tunId, 0, 0, 0, 0, now, out, hs);
      if (rc < 0) return this.failed(rc, 'open');
      if (w && !tun.commitNativeWindow(w, out[OUT.used]!)) return;
      const nhs = out[OUT.handshakeCount]!;
      this.counters.handshakeOverflow += out[OUT.handshakes]! - nhs;
      for (let k = 0; k < nhs; k++) this.host.handshake(b, hs[k]!);
      const next = out[OUT.next]!;
      if (next <= start) return;
      start = next;
    }
  }

  private openCopy(b: RecvBatch): void {
    const n = b.length;
    const dgs: Uint8Array[] = new Array<Uint8Array>(n);
    const srcs: WgEndpoint[] = new Array<WgEndpoint>(n);
    for (let i = 0; i < n; i++) {
      dgs[i] = b.data(i);
      srcs[i] = sourceOf(b, i);
    }
    const r = this.native.wgDecrypt(this.dev, dgs, srcs, BigInt(Math.floor(this.host.nowNs())));
    if (typeof r === 'number') return this.failed(r, 'open');
    const tun = this.tun;
    for (const p of r.packets) {
      if (!tun.isOpen || !tun.write(p.data)) this.counters.tunQueueFull++;
    }
    for (const h of r.handshakeMessages) this.host.handshake(b, h.index);
  }

  // ---- staged packets, keepalives ----

  /** Send what peers have staged (keys arrived, the ring drained). */
  flushStaged(): void {
    if (this.closed) return;
    if (this.copying) {
      this.sendCopied(this.native.wgFlushStaged(this.dev, BigInt(Math.floor(this.host.nowNs()))));
    } else {
      const { native, dev, out, udp } = this;
      const udpId = udp.nativeId;
      for (let round = 0; round < FLUSH_ROUNDS && udpId >= 0; round++) {
        // Staged packets: at most the native per-peer bound each.
        const w = udp.nativeWindow(...ask(STAGED_ASK, this.tun.maxPacketSize));
        if (!w) break; // 'drain' brings us back
        const rc = native.wgFlushTo(dev, udpId, w.seq, w.slots, w.at, w.bytes, this.host.nowNs(), out);
        if (rc < 0) return this.failed(rc, 'flush');
        if (!udp.commitNativeWindow(w, out[OUT.used]!) || out[OUT.sinkFull] !== 1) break;
      }
    }
    this.takeSummaries();
  }

  /**
   * A keepalive to the peer with native id `peer` (staged packets go
   * instead when there are any). With no keys it waits staged and a
   * handshake is flagged; with no room it waits for 'drain'.
   */
  keepalive(peer: number, onlyIfOwed = false): void {
    if (this.closed) return;
    const now = this.host.nowNs();
    if (this.copying) {
      this.sendCopied(this.native.wgKeepalive(this.dev, peer, BigInt(Math.floor(now)), onlyIfOwed));
    } else {
      const { native, dev, out, udp } = this;
      const udpId = udp.nativeId;
      if (udpId < 0) return;
      const w = udp.nativeWindow(...ask(STAGED_ASK, this.tun.maxPacketSize));
      const rc = w
        ? native.wgKeepaliveTo(dev, peer, onlyIfOwed, udpId, w.seq, w.slots, w.at, w.bytes, now, out)
        : native.wgKeepaliveTo(dev, peer, onlyIfOwed, udpId, 0, 0, 0, 0, now, out);
      // -ENOBUFS: what fitted is in the window, the rest waits staged.
      if (w && (rc >= 0 || rc === ENOBUFS)) udp.commitNativeWindow(w, out[OUT.used]!);
      if (rc < 0 && rc !== ENOBUFS && rc !== -2 /* ENOENT: peer removed */) this.failed(rc, 'keepalive');
    }
    this.takeSummaries();
  }

  /** Messages from a copying export, sent one by one (dgram backend). */
  private sendCopied(r: WgTxResult | number): void {
    if (typeof r === 'number') return this.failed(r, 'seal');
    const udp = this.udp;
    for (const m of r.messages) {
      const ep = m.endpoint;
      if (!ep.address || !udp.isOpen || !udp.send(m.data, ep.port, formatIP(ep.address))) this.counters.udpQueueFull++;
    }
  }

  // ---- summaries ----

  /** Hand every pending summary to the host; re-entrant calls fold into the running one. */
  takeSummaries(): void {
    if (this.closed) return;
    if (this.summarizing) {
      this.summariesAgain = true;
      return;
    }
    this.summarizing = true;
    try {
      for (let round = 0; round < SUMMARY_ROUNDS; round++) {
        this.summariesAgain = false;
        const n = this.native.wgSummariesInto(this.dev, this.sums);
        if (n > 0) this.host.summaries(this.sums, n);
        if (n < SUMMARIES && !this.summariesAgain) break;
      }
    } finally {
      this.summarizing = false;
    }
  }

  private readonly onDrain = (): void => {
    this.flushStaged();
  };

  private failed(rc: number, what: string): void {
    // A socket or device closing under us: nothing to report.
    if (rc === EBADF || this.closed) return;
    this.host.linkError(errnoException(rc, `wireguard ${what}`));
  }
}

/** The sender of datagram i as the copying export takes it (socket family, 4 or 16 bytes). */
export function sourceOf(b: RecvBatch, i: number): WgEndpoint {
  const base = b.at(i);
  const m = b.meta;
  const family = m[base + M_FAMILY] === 4 ? 4 : 6;
  const bytes = new Uint8Array(m.buffer, m.byteOffset + (base + M_ADDR) * 4, family === 4 ? 4 : 16);
  return { family, address: Uint8Array.from(bytes), port: m[base + M_PORT] ?? 0, scopeId: (m[base + M_SCOPE] ?? 0) >>> 0 };
}
