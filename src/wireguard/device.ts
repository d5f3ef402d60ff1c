/**
 * A WireGuard device: a TUN interface, one UDP socket and the peers, with
 * the transport data path in native code (link.ts, src/native/wglink) and
 * the rare, protocol-heavy parts here: handshakes (HandshakeEngine, with
 * cookies under load), the timers of every peer (PeerTimers, fed once per
 * batch by the native per-peer summaries), key installation and expiry,
 * endpoint roaming, configuration in wg(8)'s terms.
 *
 *   const wg = await createWireGuard({ interface: 'wg0', privateKey, listenPort: 51820,
 *     peers: [{ publicKey, endpoint: '192.0.2.1:51820', allowedIPs: ['10.0.0.2/32'] }] });
 *
 * Keys: a completed handshake's transport keys are copied into the native
 * device and the JS copies zeroed at once; native keys are cleansed when a
 * keypair is displaced, expires (Reject-After-Time), is zeroed (3 x
 * Reject-After-Time without a new one) or the device closes. Only
 * authenticated packets whose inner source is in the sending peer's
 * AllowedIPs ever reach the TUN device (the native data path checks both);
 * everything dropped is counted by reason (stats()).
 *
 * The socket: one dual-stack udp6 socket (IPv4 peers as v4-mapped) unless
 * IPv6 is unavailable (then udp4), with GRO, GSO and large buffers, and no
 * SO_REUSEADDR (no other user can take the port). Works on every UDP
 * backend (io_uring, mmsg, dgram) and TUN backend (io_uring, poll).
 */
import { EventEmitter } from 'node:events';
import { CodedError, errnoException, invalidArgType, invalidArgValue } from '../core/errors.js';
import type { RecvBatch } from '../udp/batch.js';
import type { UdpSocket } from '../udp/socket.js';
import type { TunDevice } from '../tun/device.js';
import { systemClock, type TimerClock } from './clock.js';
import { formatConfig } from './config.js';
import { openSocket, resolvePeers, settingsFromText } from './device-setup.js';
import type {
  HandshakeEvent,
  WireGuardDeviceConfig,
  WireGuardDropReason,
  WireGuardOptions,
  WireGuardPeerOptions,
  WireGuardPeerStats,
  WireGuardSettings,
  WireGuardStats,
} from './device-types.js';
import { Handshakes } from './handshakes.js';
import { formatEndpoint, formatPrefix, type Endpoint, type IPPrefix } from './ip.js';
import { keyToBase64, publicKeyFromPrivate, zero } from './keys.js';
import { Link, sourceOf } from './link.js';
import { endpointFrom, fromWgEndpoint, keepaliveFrom, keyFrom, prefixBytes, prefixesFrom, toWgEndpoint, WgPeer, type KeyInput } from './peer.js';
import { PeerTimers, type TimerAction } from './timers.js';
import { UapiAdapter } from './uapi-device.js';
import { stateToConfig, type UapiDevice } from './uapi.js';
import { FLAG, SUMMARY_WORDS, type WgHandle, type WgNative } from './wg-native.js';

export type * from './device-types.js';

const DEFAULT_UNDER_LOAD = 256;
/** Peers per device at most: the native peer ids (src/native/wg). */
const MAX_PEERS = 1 << 20;

type State = 'open' | 'closing' | 'closed';

/** @internal What createWireGuard resolved before the device exists. */
export interface DeviceParts {
  native: WgNative;
  dev: WgHandle;
  udp: UdpSocket;
  tun: TunDevice;
  ownsTun: boolean;
  options: WireGuardOptions;
}

export class WireGuardDevice extends EventEmitter {
  /** The TUN device. */
  readonly tun: TunDevice;
  private readonly ownsTun: boolean;
  /** @internal */
  readonly native: WgNative;
  /** @internal */
  readonly dev: WgHandle;
  private readonly hs: Handshakes;
  private readonly link: Link;
  private readonly clock: TimerClock;
  private readonly wallClock: () => bigint;
  private readonly options: WireGuardOptions;
  private readonly peers = new Map<string, WgPeer>();
  private readonly byId: (WgPeer | undefined)[] = [];
  private readonly freeIds: number[] = [];
  private privateKey: Buffer | null = null;
  private port: number;
  private mark = 0;
  private state: State = 'open';
  private closing: Promise<void> | undefined;

  /** @internal use createWireGuard() */
  constructor(parts: DeviceParts) {
    super();
    const o = parts.options;
    this.native = parts.native;
    this.dev = parts.dev;
    this.tun = parts.tun;
    this.ownsTun = parts.ownsTun;
    this.options = o;
    this.clock = o.clock ?? systemClock;
    this.wallClock = o.wallClock ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.hs = new Handshakes(
      {
        native: this.native,
        dev: this.dev,
        socket: () => this.link.socket,
        nowNs: () => this.nowNs(),
        endpointFromPacket: (peer, b, i) => this.endpointFromPacket(peer, b, i),
        completed: (peer, initiator) => this.completed(peer, initiator),
        keepalive: (peer) => this.link.keepalive(peer.id),
        error: (err) => this.emit('error', err),
      },
      this.clock,
      this.wallClock,
      o.underLoadThreshold ?? DEFAULT_UNDER_LOAD,
    );
    this.port = parts.udp.address().port;
    this.link = new Link(parts.native, parts.dev, parts.tun, parts.udp, {
      nowNs: () => this.nowNs(),
      handshake: (b, i) => {
        if (this.state === 'open') this.hs.onMessage(b, i);
      },
      summaries: (buf, n) => this.onSummaries(buf, n),
      linkError: (err) => this.emit('error', err),
    }, o.tunHeadroom ?? 0);
    parts.udp.on('error', this.onSocketError);
    parts.tun.on('error', this.onTunError);
  }

  // ---- properties ----

  /** Our public key (base64), or null without a private key. */
  get publicKey(): string | null {
    const k = this.hs.engine.publicKey;
    return k ? keyToBase64(k) : null;
  }

  /** The UDP port in use (the one bound when listenPort was 0). */
  get listenPort(): number {
    return this.port;
  }

  /** The UDP socket in use (it changes with the listen port). */
  get socket(): UdpSocket {
    return this.link.socket;
  }

  get backend(): { udp: string; tun: string } {
    return { udp: this.link.socket.backend, tun: this.tun.backend };
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** The device clock in ns: what native keypair ages are measured in. */
  private nowNs(): number {
    return Math.floor(this.clock.now() * 1e6);
  }

  private healthCheck(): void {
    if (this.state !== 'open') throw new CodedError('ERR_WIREGUARD_CLOSED', 'The WireGuard device is closed');
  }

  // ---- configuration ----

  /**
   * Apply a configuration: an object in wg(8)'s terms (fields absent are
   * left as they are; `peers` replaces every peer unless replacePeers is
   * false), or configuration text in `wg setconf` format (replaces
   * everything, as `wg setconf`). Endpoint host names are resolved first.
   */
  async setConfig(config: WireGuardSettings | string, options: { replacePeers?: boolean } = {}): Promise<void> {
    this.healthCheck();
    const settings = typeof config === 'string' ? settingsFromText(config) : config;
    if (settings === null || typeof settings !== 'object') throw invalidArgType('config', 'an object or configuration text', config);
    const peers = settings.peers === undefined ? undefined : await resolvePeers(settings.peers);
    this.healthCheck();
    if (settings.privateKey !== undefined) this.setPrivateKey(settings.privateKey);
    if (settings.listenPort !== undefined) this.setListenPort(settings.listenPort);
    if (settings.fwmark !== undefined) this.setFwmark(settings.fwmark);
    if (peers === undefined) return;
    if (typeof config === 'string' || options.replacePeers !== false) {
      const keep = new Set(peers.map((p) => keyFrom(p.publicKey, 'publicKey').toString('hex')));
      for (const [hex, peer] of [...this.peers]) if (!keep.has(hex)) this.dropPeer(peer);
    }
    for (const p of peers) this.setPeer(p);
  }

  /** The configuration now, in wg(8)'s terms (keys in base64, the bound port). */
  getConfig(): WireGuardDeviceConfig {
    return {
      privateKey: this.privateKey ? keyToBase64(this.privateKey) : null,
      publicKey: this.publicKey,
      listenPort: this.port,
      fwmark: this.mark,
      peers: [...this.peers.values()].map((p) => ({
        publicKey: keyToBase64(p.publicKey),
        presharedKey: p.presharedKey ? keyToBase64(p.presharedKey) : null,
        endpoint: p.endpoint ? formatEndpoint(p.endpoint) : null,
        allowedIPs: this.allowedIPsOf(p).map(formatPrefix),
        persistentKeepalive: p.persistentKeepalive,
      })),
    };
  }

  /** The configuration as `wg showconf` prints it. */
  getConfigText(): string {
    return formatConfig(stateToConfig(this.uapi().getState()));
  }

  /** Set (or clear, with null) the private key; keypairs made with the old one are dropped. */
  setPrivateKey(key: KeyInput | null): void {
    this.healthCheck();
    const k = key === null ? null : keyFrom(key, 'privateKey');
    if (k && this.privateKey && k.equals(this.privateKey)) return zero(k);
    zero(this.privateKey);
    this.privateKey = k;
    this.hs.engine.setPrivateKey(k);
    // As wireguard-go: a peer with our own public key can never handshake; sessions of the old key end.
    const pub = k ? publicKeyFromPrivate(k) : null;
    for (const peer of [...this.peers.values()]) {
      if (pub && peer.publicKey.equals(pub)) this.dropPeer(peer);
      else this.clearKeys(peer);
    }
  }

  /** Listen on another UDP port (0: any): a new socket takes over, the old one closes. */
  setListenPort(port: number): void {
    this.healthCheck();
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidArgValue('listenPort', port, 'must be an integer from 0 to 65535');
    if (port !== 0 && port === this.port) return;
    const old = this.link.socket;
    const sock = openSocket(this.options, port, old.type);
    try {
      if (this.mark) sock.setMark(this.mark);
    } catch (err) {
      sock.close();
      throw err;
    }
    sock.on('error', this.onSocketError);
    this.link.setSocket(sock);
    old.off('error', this.onSocketError);
    if (old.isOpen) old.close();
    this.port = sock.backend === 'dgram' ? port : sock.address().port;
    if (sock.backend === 'dgram') void sock.ready.then(() => sock.isOpen && (this.port = sock.address().port), () => undefined);
  }

  /** SO_MARK of the socket (0 = none; needs CAP_NET_ADMIN; not on the dgram backend). */
  setFwmark(mark: number): void {
    this.healthCheck();
    if (!Number.isInteger(mark) || mark < 0 || mark > 0xffffffff) throw invalidArgValue('fwmark', mark, 'must be an integer from 0 to 0xffffffff');
    if (mark === this.mark) return;
    this.link.socket.setMark(mark);
    this.mark = mark;
  }

  /** Add a peer; throws ERR_WIREGUARD_PEER_EXISTS if its public key is configured. */
  addPeer(peer: WireGuardPeerOptions): void {
    this.healthCheck();
    if (peer === null || typeof peer !== 'object') throw invalidArgType('peer', 'an object', peer);
    if (this.findPeer(peer.publicKey)) throw new CodedError('ERR_WIREGUARD_PEER_EXISTS', 'a peer with this public key is configured');
    this.setPeer(peer);
  }

  /**
   * Add a peer or change one (as `wg set ... peer`): given fields are set;
   * allowedIPs replaces the peer's prefixes unless replaceAllowedIPs is
   * false. Endpoints must be numeric here.
   */
  setPeer(peer: WireGuardPeerOptions, options: { replaceAllowedIPs?: boolean } = {}): void {
    this.healthCheck();
    if (peer === null || typeof peer !== 'object') throw invalidArgType('peer', 'an object', peer);
    const key = keyFrom(peer.publicKey, 'peer.publicKey');
    // Validate everything before changing anything.
    const psk = peer.presharedKey === undefined || peer.presharedKey === null ? peer.presharedKey : keyFrom(peer.presharedKey, 'peer.presharedKey');
    const ep = peer.endpoint === undefined || peer.endpoint === null ? peer.endpoint : endpointFrom(peer.endpoint, 'peer.endpoint');
    const aips = peer.allowedIPs === undefined ? undefined : prefixesFrom(peer.allowedIPs, 'peer.allowedIPs');
    const ka = peer.persistentKeepalive === undefined ? undefined : keepaliveFrom(peer.persistentKeepalive, 'peer.persistentKeepalive');
    const own = this.hs.engine.publicKey;
    if (own && own.equals(key)) return; // wireguard-go ignores our own key
    let p = this.peers.get(key.toString('hex'));
    const created = !p;
    p ??= this.createPeer(key);
    if (psk !== undefined) this.setPresharedKeyOf(p, psk);
    if (ep !== undefined) this.setEndpointOf(p, ep);
    if (aips !== undefined) {
      if (options.replaceAllowedIPs !== false) this.native.wgAllowedIpClear(this.dev, p.id);
      for (const prefix of aips) this.addAllowedIPOf(p, prefix);
    }
    if (ka !== undefined) this.setKeepaliveOf(p, ka);
    this.peerConfigured(p, created);
  }

  /** Remove a peer (its keys are zeroed); false if it was not configured. */
  removePeer(publicKey: KeyInput): boolean {
    this.healthCheck();
    const p = this.findPeer(publicKey);
    if (!p) return false;
    this.dropPeer(p);
    return true;
  }

  /** The UAPI (wireguard.com/xplatform) view of this device, for serveUapi(). */
  uapi(): UapiDevice {
    return new UapiAdapter(this);
  }

  // ---- per-peer operations (also the UAPI adapter's) ----

  /** @internal */
  findPeer(publicKey: KeyInput): WgPeer | undefined {
    return this.peers.get(keyFrom(publicKey, 'publicKey').toString('hex'));
  }

  /** @internal */
  allPeers(): IterableIterator<WgPeer> {
    return this.peers.values();
  }

  /** @internal */
  get privateKeyBytes(): Buffer | null {
    return this.privateKey;
  }

  /** @internal */
  get fwmark(): number {
    return this.mark;
  }

  /** @internal */
  createPeer(key: Buffer): WgPeer {
    if (this.peers.size >= MAX_PEERS) throw new CodedError('ERR_WIREGUARD_TOO_MANY_PEERS', `at most ${MAX_PEERS} peers`);
    const noise = this.hs.engine.addPeer(key);
    const id = this.freeIds.pop() ?? this.byId.length;
    const rc = this.native.wgPeerAdd(this.dev, id);
    if (rc < 0) {
      this.hs.engine.removePeer(noise);
      this.freeIds.push(id);
      throw errnoException(rc, 'wireguard addPeer');
    }
    // The timers call back into the peer they belong to, made just after.
    const holder: { peer?: WgPeer } = {};
    const timers = new PeerTimers({
      clock: this.clock,
      wallClock: this.wallClock,
      onAction: (a) => holder.peer && this.onTimer(holder.peer, a),
    });
    const peer = new WgPeer(id, Buffer.from(key), noise, timers);
    holder.peer = peer;
    noise.data = peer;
    this.byId[id] = peer;
    this.peers.set(key.toString('hex'), peer);
    return peer;
  }

  /** @internal */
  dropPeer(p: WgPeer): void {
    p.timers.stop();
    this.hs.engine.removePeer(p.noise); // frees its handshake and keypair indices
    this.native.wgPeerRemove(this.dev, p.id); // keypairs cleansed, staged packets dropped
    zero(p.presharedKey);
    p.presharedKey = null;
    p.keypairs = [];
    this.peers.delete(p.publicKey.toString('hex'));
    this.byId[p.id] = undefined;
    this.freeIds.push(p.id);
  }

  /** @internal */
  setPresharedKeyOf(p: WgPeer, psk: Buffer | null): void {
    this.hs.engine.setPresharedKey(p.noise, psk);
    zero(p.presharedKey);
    p.presharedKey = psk && psk.some((b) => b !== 0) ? Buffer.from(psk) : null;
    zero(psk);
  }

  /** @internal */
  setEndpointOf(p: WgPeer, ep: Endpoint | null): void {
    const sock = this.link.socket;
    const family = sock.type === 'udp6' ? 6 : 4;
    const rc = this.native.wgPeerEndpoint(this.dev, p.id, ep ? toWgEndpoint(ep, family) : null);
    if (rc < 0) throw errnoException(rc, 'wireguard setEndpoint');
    this.refreshEndpoint(p);
  }

  /** @internal */
  setKeepaliveOf(p: WgPeer, seconds: number): void {
    p.persistentKeepalive = seconds;
    p.timers.setPersistentKeepalive(seconds);
  }

  /** @internal */
  addAllowedIPOf(p: WgPeer, prefix: IPPrefix): void {
    const rc = this.native.wgAllowedIpAdd(this.dev, p.id, prefixBytes(prefix), prefix.bits);
    if (rc < 0) throw errnoException(rc, 'wireguard allowedIP');
  }

  /** @internal */
  removeAllowedIPOf(p: WgPeer, prefix: IPPrefix): void {
    this.native.wgAllowedIpRemove(this.dev, p.id, prefixBytes(prefix), prefix.bits);
  }

  /** @internal */
  clearAllowedIPsOf(p: WgPeer): void {
    this.native.wgAllowedIpClear(this.dev, p.id);
  }

  /** @internal AllowedIPs of a peer as the native trie holds them (masked). */
  allowedIPsOf(p: WgPeer): IPPrefix[] {
    const list = this.native.wgAllowedIpList(this.dev, p.id);
    if (typeof list === 'number') return [];
    return list.map(([bytes, bits]) => ({ family: bytes.length === 4 ? 4 : 6, bytes: new Uint8Array(bytes), bits }));
  }

  /** @internal The native counters of a peer. */
  peerStats(p: WgPeer): WireGuardPeerStats {
    const s = this.native.wgPeerStats(this.dev, p.id);
    const names = this.native.wgConstants.drops;
    const drops = {} as Record<WireGuardDropReason, number>;
    const ns = p.timers.lastHandshakeNanos;
    const st = typeof s === 'number' ? undefined : s;
    names.forEach((n, i) => (drops[n as WireGuardDropReason] = st?.drops[i] ?? 0));
    return {
      publicKey: keyToBase64(p.publicKey),
      endpoint: p.endpoint ? formatEndpoint(p.endpoint) : null,
      lastHandshake: ns === null ? null : Number(ns / 1_000_000n),
      handshakes: p.handshakes,
      // Transport messages (native) and handshake messages, as wg(8) shows them.
      rxBytes: (st?.rxBytes ?? 0) + p.handshakeRx,
      txBytes: (st?.txBytes ?? 0) + p.handshakeTx,
      rxPackets: st?.rxPackets ?? 0,
      txPackets: st?.txPackets ?? 0,
      rxKeepalives: st?.rxKeepalives ?? 0,
      txKeepalives: st?.txKeepalives ?? 0,
      staged: st?.staged ?? 0,
      keypairs: st ? Number(st.hasCurrent) + Number(st.hasPrevious) + Number(st.hasNext) : 0,
      persistentKeepalive: p.persistentKeepalive,
      drops,
    };
  }

  /**
   * @internal Every change to a peer is in: start what waits for it (as
   * wireguard-go's handlePostConfig): packets staged for it, and a
   * keepalive when persistent keepalive is on for a new peer.
   */
  peerConfigured(p: WgPeer, created: boolean): void {
    if (this.state !== 'open') return;
    if (created && p.persistentKeepalive > 0 && p.endpoint) this.link.keepalive(p.id);
    else if (p.endpoint) this.link.flushStaged();
  }

  // ---- counters ----

  /** Counters: per peer, drops by reason, handshakes, the socket and the TUN device. */
  stats(): WireGuardStats {
    const names = this.native.wgConstants.drops;
    const drops = {} as Record<WireGuardDropReason, number>;
    const all = this.state === 'closed' ? [] : this.native.wgDrops(this.dev);
    names.forEach((n, i) => (drops[n as WireGuardDropReason] = all[i] ?? 0));
    const sock = this.link.socket;
    return {
      backend: this.backend,
      listenPort: this.port,
      peers: [...this.peers.values()].map((p) => this.peerStats(p)),
      drops,
      handshakeDrops: { ...this.hs.drops, ...(this.link.counters.handshakeOverflow ? { overflow: this.link.counters.handshakeOverflow } : {}) },
      handshake: { ...this.hs.counters, indices: this.hs.engine.indices.size },
      link: { ...this.link.counters },
      udp: sock.stats(),
      tun: this.tun.stats(),
    };
  }

  /** An authenticated handshake message came from where the peer is now. */
  private endpointFromPacket(peer: WgPeer, b: RecvBatch, i: number): void {
    this.native.wgPeerEndpoint(this.dev, peer.id, sourceOf(b, i));
    if (this.refreshEndpoint(peer)) this.roamed(peer);
  }

  /** Read the peer's endpoint back from the native device (it roams there); true if it changed. */
  private refreshEndpoint(peer: WgPeer): boolean {
    const s = this.native.wgPeerStats(this.dev, peer.id);
    const before = peer.endpoint;
    peer.endpoint = typeof s === 'number' ? null : fromWgEndpoint(s.endpoint);
    const ep = peer.endpoint;
    const changed = ep ? !before || before.address !== ep.address || before.port !== ep.port : before !== null;
    if (changed) peer.sendTo = ep ? this.link.socket.endpoint(ep.address, ep.port) : null;
    return changed;
  }

  private completed(peer: WgPeer, initiator: boolean): void {
    peer.handshakes++;
    this.emit('handshake', { publicKey: keyToBase64(peer.publicKey), initiator } satisfies HandshakeEvent);
  }

  // ---- timers ----

  private onTimer(peer: WgPeer, a: TimerAction): void {
    if (this.state !== 'open' || this.byId[peer.id] !== peer) return;
    switch (a.type) {
      case 'sendInitiation':
        return this.hs.sendInitiation(peer);
      case 'sendKeepalive':
        return this.link.keepalive(peer.id);
      case 'expireKeys':
        this.native.wgKeypairDrop(this.dev, peer.id, a.keypairId);
        return this.hs.releaseDropped(peer);
      case 'zeroKeys':
        return this.clearKeys(peer);
      case 'giveUp':
        this.native.wgStagedClear(this.dev, peer.id);
        return;
    }
  }

  /** Zero every key of a peer, its handshake in progress included. */
  private clearKeys(peer: WgPeer): void {
    this.native.wgKeypairsClear(this.dev, peer.id);
    this.hs.engine.clearHandshake(peer.noise);
    this.hs.releaseDropped(peer);
  }

  /** What happened to each peer in the last batch: drive its timers. */
  private onSummaries(buf: Float64Array, n: number): void {
    let flush = false;
    for (let k = 0; k < n; k++) {
      const peer = this.byId[buf[k * SUMMARY_WORDS]!];
      const f = buf[k * SUMMARY_WORDS + 1]!;
      if (!peer) continue;
      const t = peer.timers;
      if (f & FLAG.authReceived) t.authenticatedPacketReceived(true);
      if (f & FLAG.keypairConfirmed) {
        t.handshakeComplete(peer.pendingNext >= 0 ? peer.pendingNext : undefined);
        peer.pendingNext = -1;
        this.hs.releaseDropped(peer);
        this.completed(peer, false);
        flush = true;
      }
      if (f & FLAG.authSent) t.authenticatedPacketSent();
      if (f & FLAG.dataSent) t.dataSent();
      // Data came and nothing went back since: the passive keepalive is due.
      if (f & FLAG.keepaliveWanted) t.dataReceived();
      if (f & FLAG.endpointChanged && this.refreshEndpoint(peer)) this.roamed(peer);
      if (f & FLAG.handshakeWanted) t.needHandshake();
    }
    if (flush) this.link.flushStaged();
  }

  /** The peer's endpoint moved (an authenticated packet came from elsewhere): say so. */
  private roamed(peer: WgPeer): void {
    if (peer.endpoint) this.emit('roam', { publicKey: keyToBase64(peer.publicKey), endpoint: formatEndpoint(peer.endpoint) });
  }

  // ---- errors and close ----

  private readonly onSocketError = (err: Error & { source?: string }): void => {
    if ((err as { syscall?: string }).syscall === 'send') return; // a lost datagram, as on the wire
    err.source = 'udp';
    if (this.state === 'open') this.emit('error', err);
  };

  private readonly onTunError = (err: Error & { source?: string }): void => {
    if ((err as { syscall?: string }).syscall === 'write') return;
    err.source = 'tun';
    if (this.state === 'open') this.emit('error', err);
  };

  /**
   * Close: stop the timers, close the socket and (if the device created
   * it) the TUN interface, cleanse every key. Resolves after 'close'.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.state = 'closing';
    this.link.close();
    for (const p of [...this.peers.values()]) this.dropPeer(p);
    const waits: Promise<void>[] = [];
    const sock = this.link.socket;
    if (sock.isOpen) waits.push(new Promise<void>((resolve) => sock.close(() => resolve())));
    if (this.tun.isOpen && this.ownsTun) waits.push(new Promise<void>((resolve) => this.tun.close(() => resolve())));
    await Promise.all(waits);
    sock.off('error', this.onSocketError);
    this.tun.off('error', this.onTunError);
    this.hs.engine.setPrivateKey(null);
    zero(this.privateKey);
    this.privateKey = null;
    this.native.wgClose(this.dev);
    this.state = 'closed';
    this.emit('close');
  }
}
