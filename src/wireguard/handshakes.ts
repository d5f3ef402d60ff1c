/**
 * The WireGuard device's handshakes: messages the data path left for JS
 * (initiations, responses, cookie replies) go through the HandshakeEngine;
 * completed handshakes hand their keys to the native device (the JS copies
 * are zeroed at once) and feed the peer's timers. Cookies are demanded
 * while the device is under load (too many handshake messages a second).
 * Receiver indices of keypairs the native device dropped are released.
 */
import { errnoException } from '../core/errors.js';
import type { RecvBatch } from '../udp/batch.js';
import type { UdpSocket } from '../udp/socket.js';
import type { TimerClock } from './clock.js';
import { sourceBytes } from './cookie.js';
import { INITIATION_SIZE, MESSAGE_COOKIE_REPLY, MESSAGE_INITIATION, MESSAGE_RESPONSE, RESPONSE_SIZE } from './messages.js';
import { HandshakeEngine, zeroTransportKeys, type ConsumeResult, type HandshakeDropReason, type TransportKeys } from './noise.js';
import type { WgPeer } from './peer.js';
import type { WgHandle, WgNative } from './wg-native.js';

/** How long the device stays under load once the threshold is passed (ms). */
const UNDER_LOAD_MS = 1000;

/** What the handshakes need of the device. */
export interface HandshakeHost {
  readonly native: WgNative;
  readonly dev: WgHandle;
  /** The device's socket now. */
  socket(): UdpSocket;
  /** The device clock in ns. */
  nowNs(): number;
  /** An authenticated handshake message from the peer came as datagram i of b: follow its source. */
  endpointFromPacket(peer: WgPeer, b: RecvBatch, i: number): void;
  /** A handshake with the peer completed. */
  completed(peer: WgPeer, initiator: boolean): void;
  /** Send the peer's staged packets, or a keepalive. */
  keepalive(peer: WgPeer): void;
  error(err: Error): void;
}

/** Handshake messages sent and cookies taken. */
export interface HandshakeCounters {
  initiationsSent: number;
  responsesSent: number;
  cookiesSent: number;
  cookiesReceived: number;
}

export class Handshakes {
  readonly engine: HandshakeEngine<WgPeer>;
  /** Messages refused, by reason. */
  readonly drops: Partial<Record<HandshakeDropReason, number>> = {};
  readonly counters: HandshakeCounters = { initiationsSent: 0, responsesSent: 0, cookiesSent: 0, cookiesReceived: 0 };
  private readonly host: HandshakeHost;
  private readonly clock: TimerClock;
  private readonly threshold: number;
  private loadWindowStart = -Infinity;
  private loadCount = 0;
  private loadUntil = -Infinity;

  constructor(host: HandshakeHost, clock: TimerClock, wallClock: () => bigint, underLoadThreshold: number) {
    this.host = host;
    this.clock = clock;
    this.threshold = underLoadThreshold;
    this.engine = new HandshakeEngine<WgPeer>({ clock: () => clock.now(), wallClock });
  }

  /** Under load (more handshake messages this second than the threshold): demand cookies. */
  private underLoad(): boolean {
    const now = this.clock.now();
    if (now - this.loadWindowStart >= UNDER_LOAD_MS) {
      this.loadWindowStart = now;
      this.loadCount = 0;
    }
    if (++this.loadCount > this.threshold) this.loadUntil = now + UNDER_LOAD_MS;
    return now < this.loadUntil;
  }

  private drop(reason: HandshakeDropReason): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  /** A handshake message: datagram i of b (its size already checked for its type). */
  onMessage(b: RecvBatch, i: number): void {
    const msg = b.data(i);
    const type = msg[0];
    const ctx = this.underLoad() ? { underLoad: true, source: sourceBytes(b.address(i), b.port(i)) } : {};
    if (type === MESSAGE_INITIATION) this.onInitiation(b, i, this.engine.consumeInitiation(msg, ctx));
    else if (type === MESSAGE_RESPONSE) this.onResponse(b, i, this.engine.consumeResponse(msg, ctx));
    else if (type === MESSAGE_COOKIE_REPLY) {
      const r = this.engine.consumeCookieReply(msg);
      if (r.ok) this.counters.cookiesReceived++;
      else this.drop(r.reason);
    }
  }

  /** Count a refused message; answer with a cookie reply when one was made. */
  private refused(b: RecvBatch, i: number, r: { reason: HandshakeDropReason; cookieReply?: Buffer }): void {
    this.drop(r.reason);
    if (r.cookieReply && this.host.socket().reply(b, i, r.cookieReply)) this.counters.cookiesSent++;
  }

  private onInitiation(b: RecvBatch, i: number, r: ConsumeResult<WgPeer>): void {
    if (!r.ok) return this.refused(b, i, r);
    const peer = r.peer.data;
    if (!peer) return;
    peer.handshakeRx += INITIATION_SIZE;
    this.host.endpointFromPacket(peer, b, i);
    let made: { message: Buffer; keys: TransportKeys<WgPeer> };
    try {
      made = this.engine.createResponse(r.peer);
    } catch {
      return this.drop('bad-key');
    }
    peer.timers.authenticatedPacketReceived(false);
    if (!this.install(peer, made.keys)) return;
    if (this.host.socket().reply(b, i, made.message)) {
      this.counters.responsesSent++;
      peer.handshakeTx += RESPONSE_SIZE;
    }
    peer.timers.authenticatedPacketSent();
  }

  private onResponse(b: RecvBatch, i: number, r: ConsumeResult<WgPeer, { keys: TransportKeys<WgPeer> }>): void {
    if (!r.ok) return this.refused(b, i, r);
    const peer = r.peer.data;
    if (!peer) return zeroTransportKeys(r.keys);
    peer.handshakeRx += RESPONSE_SIZE;
    this.host.endpointFromPacket(peer, b, i);
    peer.timers.authenticatedPacketReceived(false);
    if (!this.install(peer, r.keys)) return;
    peer.timers.handshakeComplete();
    this.host.completed(peer, true);
    // Staged packets go now, or a keepalive confirms the keys to the responder.
    this.host.keepalive(peer);
  }

  /** Hand a completed handshake's keys to the native device and zero ours. */
  private install(peer: WgPeer, keys: TransportKeys<WgPeer>): boolean {
    const { native, dev } = this.host;
    const rc = native.wgKeypairInstall(
      dev,
      peer.id,
      keys.sendKey,
      keys.receiveKey,
      keys.localIndex,
      keys.remoteIndex,
      keys.isInitiator,
      BigInt(this.host.nowNs()),
    );
    zeroTransportKeys(keys);
    if (rc < 0) {
      this.engine.releaseIndex(keys.localIndex);
      this.host.error(errnoException(rc, 'wireguard installKeypair'));
      return false;
    }
    peer.keypairs.push(keys.localIndex);
    if (!keys.isInitiator) peer.pendingNext = keys.localIndex;
    peer.timers.sessionDerived({ keypairId: keys.localIndex, isInitiator: keys.isInitiator });
    this.releaseDropped(peer);
    return true;
  }

  /** Free the indices of the peer's keypairs the native device no longer holds. */
  releaseDropped(peer: WgPeer): void {
    const { native, dev } = this.host;
    peer.keypairs = peer.keypairs.filter((idx) => {
      if (native.wgIndexInUse(dev, idx)) return true;
      this.engine.releaseIndex(idx);
      return false;
    });
    if (peer.pendingNext >= 0 && !peer.keypairs.includes(peer.pendingNext)) peer.pendingNext = -1;
  }

  /** Send an initiation to the peer (if it has an endpoint and we a key); the timers hear of it either way. */
  sendInitiation(peer: WgPeer): void {
    const to = peer.sendTo;
    if (to && this.engine.publicKey) {
      let msg: Buffer | undefined;
      try {
        msg = this.engine.createInitiation(peer.noise);
      } catch {
        msg = undefined; // e.g. the peer's key gives a zero shared secret: nothing to send
      }
      if (msg && this.host.socket().sendTo(msg, to)) {
        this.counters.initiationsSent++;
        peer.handshakeTx += INITIATION_SIZE;
        peer.timers.authenticatedPacketSent();
      }
    }
    peer.timers.handshakeInitiated();
  }
}
