/**
 * The per-peer timer state machine of the WireGuard paper, section 6 (and
 * of the Linux driver's timers.c, which wireguard-go follows), as a pure
 * class: the data path and the handshake report events, the class answers
 * with actions through one callback. Time comes from an injected TimerClock.
 *
 * Events (inputs)                       Actions (outputs, onAction)
 *   dataSent / dataReceived               sendInitiation {retry}
 *   authenticatedPacketSent / ...Received sendKeepalive
 *   handshakeInitiated                    expireKeys {keypairId}
 *   sessionDerived / handshakeComplete    zeroKeys
 *   needHandshake                         giveUp
 *
 * The data path may report each event once per batch per peer: every rule
 * here depends only on whether something happened, not on how often.
 *
 * Rules (constants below):
 * - rekey: data sent under a keypair we initiated older than
 *   REKEY_AFTER_TIME, or past REKEY_AFTER_MESSAGES, starts a handshake;
 *   a transport packet received under a keypair we initiated older than
 *   REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT starts one too
 *   (once per keypair), so the session does not lapse with no one sending.
 * - retransmission: REKEY_TIMEOUT (+ up to 333 ms jitter) after an
 *   initiation without a completed handshake, send another; after
 *   MAX_TIMER_HANDSHAKES retries give up (flush queued packets) and
 *   schedule zeroing. As in the Linux driver the count restarts whenever a
 *   fresh (non-retry) initiation is wanted, so a peer with data to send
 *   keeps trying.
 * - at most one initiation per REKEY_TIMEOUT.
 * - passive keepalive: data received and nothing sent back within
 *   KEEPALIVE_TIMEOUT: send a keepalive.
 * - new handshake: data sent and nothing received within KEEPALIVE_TIMEOUT
 *   + REKEY_TIMEOUT (+ jitter): start a handshake.
 * - persistent keepalive: every N seconds without any authenticated
 *   packet either way, send a keepalive.
 * - expiry: each keypair expires REJECT_AFTER_TIME after it was derived.
 * - zeroing: 3 * REJECT_AFTER_TIME after the last keypair was derived (or
 *   after giving up), zero every key of the peer.
 */
import { randomInt } from 'node:crypto';

import { systemClock, type TimerClock, type TimerHandle } from './clock.js';

export const REKEY_AFTER_MESSAGES = 2n ** 60n;
export const REJECT_AFTER_MESSAGES = 2n ** 64n - 2n ** 13n - 1n;
export const REKEY_AFTER_TIME_MS = 120_000;
export const REJECT_AFTER_TIME_MS = 180_000;
export const REKEY_ATTEMPT_TIME_MS = 90_000;
export const REKEY_TIMEOUT_MS = 5_000;
export const KEEPALIVE_TIMEOUT_MS = 10_000;
/** Jitter added to retransmissions: 0..333 ms (the paper's "up to 1/3 s"). */
export const REKEY_TIMEOUT_JITTER_MAX_MS = 334;
/** Retries before giving up: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT. */
export const MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME_MS / REKEY_TIMEOUT_MS;

/** What the timers ask the owner of the peer to do. */
export type TimerAction =
  /**
   * Create and send a handshake initiation, then call handshakeInitiated()
   * (also when sending failed: the retransmission timer covers it).
   */
  | { type: 'sendInitiation'; retry: boolean }
  /** Send a keepalive (an empty transport packet; queue it if there is no keypair yet). */
  | { type: 'sendKeepalive' }
  /** The keypair derived with this id is older than REJECT_AFTER_TIME: stop using it (ignore unknown ids). */
  | { type: 'expireKeys'; keypairId: number }
  /** Zero every keypair of the peer and its handshake in progress (HandshakeEngine.clearHandshake). */
  | { type: 'zeroKeys' }
  /** The handshake did not complete in time: drop the packets waiting for it. */
  | { type: 'giveUp' };

/** How a PeerTimers is built. */
export interface PeerTimersOptions {
  /** Receives every action, synchronously, after the timers' state is updated. */
  onAction: (action: TimerAction) => void;
  /** Default: systemClock. */
  clock?: TimerClock;
  /** Jitter in ms for retransmissions and new handshakes; default uniform 0..333. */
  jitter?: () => number;
  /** Wall clock (ns since the Unix epoch) for lastHandshakeNanos; default Date.now(). */
  wallClock?: () => bigint;
  /** Persistent keepalive interval in seconds (0 = off). */
  persistentKeepalive?: number;
}

interface Keypair {
  id: number;
  isInitiator: boolean;
  createdAt: number;
  expiry: TimerHandle;
}

/** Keypairs a peer holds at most (previous, current, next): older expiry timers are dropped. */
const MAX_KEYPAIRS = 3;

/** One named one-shot timer that can be moved or stopped (the driver's mod_timer/del_timer). */
class Timer {
  private handle: TimerHandle | null = null;
  constructor(
    private readonly clock: TimerClock,
    private readonly fire: () => void,
  ) {}
  get pending(): boolean {
    return this.handle !== null;
  }
  mod(ms: number): void {
    this.del();
    this.handle = this.clock.setTimeout(() => {
      this.handle = null;
      this.fire();
    }, ms);
  }
  del(): void {
    if (this.handle !== null) this.clock.clearTimeout(this.handle);
    this.handle = null;
  }
}

/** The timers of one peer. See the module comment for the rules. */
export class PeerTimers {
  private readonly clock: TimerClock;
  private readonly emit: (action: TimerAction) => void;
  private readonly jitter: () => number;
  private readonly wallClock: () => bigint;
  private readonly retransmitHandshake: Timer;
  private readonly sendKeepalive: Timer;
  private readonly newHandshake: Timer;
  private readonly zeroKeyMaterial: Timer;
  private readonly persistentKeepaliveTimer: Timer;
  private keepaliveInterval = 0;
  private attempts = 0;
  private needAnotherKeepalive = false;
  private sentLastMinuteHandshake = false;
  private lastInitiationAt = -Infinity;
  private keypairs: Keypair[] = [];
  private current: Keypair | null = null;
  private running = true;
  private lastHandshake: bigint | null = null;

  constructor(options: PeerTimersOptions) {
    this.clock = options.clock ?? systemClock;
    this.emit = options.onAction;
    this.jitter = options.jitter ?? (() => randomInt(REKEY_TIMEOUT_JITTER_MAX_MS));
    this.wallClock = options.wallClock ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.retransmitHandshake = new Timer(this.clock, () => this.expiredRetransmit());
    this.sendKeepalive = new Timer(this.clock, () => this.expiredSendKeepalive());
    this.newHandshake = new Timer(this.clock, () => this.initiate(false));
    this.zeroKeyMaterial = new Timer(this.clock, () => this.expiredZeroKeys());
    this.persistentKeepaliveTimer = new Timer(this.clock, () => {
      if (this.keepaliveInterval > 0) this.emit({ type: 'sendKeepalive' });
    });
    this.setPersistentKeepalive(options.persistentKeepalive ?? 0, false);
  }

  /** Wall-clock time (ns since the Unix epoch) of the last completed handshake, or null. */
  get lastHandshakeNanos(): bigint | null {
    return this.lastHandshake;
  }

  /** Retransmissions of the current handshake attempt so far. */
  get handshakeAttempts(): number {
    return this.attempts;
  }

  /** The persistent keepalive interval in seconds (0 = off). */
  get persistentKeepalive(): number {
    return this.keepaliveInterval;
  }

  /**
   * Non-keepalive transport data was sent (once per batch is enough).
   * `sendCounter`: the current keypair's next send counter, for the
   * REKEY_AFTER_MESSAGES rule.
   */
  dataSent(sendCounter?: bigint): void {
    if (!this.running) return;
    if (!this.newHandshake.pending) this.newHandshake.mod(KEEPALIVE_TIMEOUT_MS + REKEY_TIMEOUT_MS + this.jitter());
    const cur = this.current;
    const now = this.clock.now();
    if (
      (sendCounter !== undefined && sendCounter > REKEY_AFTER_MESSAGES) ||
      (cur?.isInitiator && now - cur.createdAt > REKEY_AFTER_TIME_MS)
    ) {
      this.initiate(false);
    }
  }

  /** Non-keepalive transport data was received and authenticated. */
  dataReceived(): void {
    if (!this.running) return;
    if (!this.sendKeepalive.pending) this.sendKeepalive.mod(KEEPALIVE_TIMEOUT_MS);
    else this.needAnotherKeepalive = true;
  }

  /** Any authenticated packet was sent: data, keepalive or handshake message. */
  authenticatedPacketSent(): void {
    if (!this.running) return;
    this.sendKeepalive.del();
    this.traversal();
  }

  /**
   * Any authenticated packet was received. `transport`: it was a transport
   * packet (data or keepalive) rather than a handshake message; only those
   * can trigger the last-minute rekey of an ageing keypair.
   */
  authenticatedPacketReceived(transport = true): void {
    if (!this.running) return;
    this.newHandshake.del();
    this.traversal();
    const cur = this.current;
    if (
      transport &&
      !this.sentLastMinuteHandshake &&
      cur?.isInitiator &&
      this.clock.now() - cur.createdAt > REJECT_AFTER_TIME_MS - KEEPALIVE_TIMEOUT_MS - REKEY_TIMEOUT_MS
    ) {
      this.sentLastMinuteHandshake = true;
      this.initiate(false);
    }
  }

  /** A handshake initiation was sent (or its sending was attempted). */
  handshakeInitiated(): void {
    this.lastInitiationAt = this.clock.now();
    if (!this.running) return;
    this.retransmitHandshake.mod(REKEY_TIMEOUT_MS + this.jitter());
  }

  /**
   * Transport keys were derived: on the initiator when a response was
   * consumed, on the responder when it created its response. `keypairId`
   * names the keypair in expireKeys actions. The initiator's keypair is
   * current at once; the responder's once handshakeComplete() names it.
   */
  sessionDerived(keypair: { keypairId: number; isInitiator: boolean }): void {
    if (!this.running) return;
    const now = this.clock.now();
    const kp: Keypair = { id: keypair.keypairId, isInitiator: keypair.isInitiator, createdAt: now, expiry: null };
    kp.expiry = this.clock.setTimeout(() => this.expiredKeypair(kp), REJECT_AFTER_TIME_MS);
    this.keypairs.push(kp);
    while (this.keypairs.length > MAX_KEYPAIRS) this.dropKeypair(this.keypairs[0]!);
    if (kp.isInitiator) this.current = kp;
    this.zeroKeyMaterial.mod(3 * REJECT_AFTER_TIME_MS);
  }

  /**
   * The handshake completed: the initiator consumed the response, or the
   * responder received the first packet under its new keypair (key
   * confirmation). `keypairId` (responder) makes that keypair current.
   */
  handshakeComplete(keypairId?: number): void {
    this.retransmitHandshake.del();
    this.attempts = 0;
    this.sentLastMinuteHandshake = false;
    this.lastHandshake = this.wallClock();
    const kp = keypairId === undefined ? undefined : this.keypairs.find((k) => k.id === keypairId);
    if (kp) this.current = kp;
  }

  /** Packets are waiting and no keypair can send them: start a handshake unless one is under way. */
  needHandshake(): void {
    if (!this.running) return;
    this.initiate(false);
  }

  /**
   * Set the persistent keepalive interval (seconds, 0..65535; 0 = off).
   * Turning it on from off sends a keepalive at once (as wireguard-go does
   * when the UAPI sets it), unless `sendNow` is false.
   */
  setPersistentKeepalive(seconds: number, sendNow = true): void {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > 65535) {
      throw new RangeError(`persistent keepalive must be an integer 0..65535, not ${seconds}`);
    }
    const wasOff = this.keepaliveInterval === 0;
    this.keepaliveInterval = seconds;
    if (seconds === 0) this.persistentKeepaliveTimer.del();
    if (wasOff && seconds > 0 && sendNow && this.running) this.emit({ type: 'sendKeepalive' });
  }

  /** Stop every timer and ignore events until start() (peer removed or device down). */
  stop(): void {
    this.running = false;
    for (const t of [this.retransmitHandshake, this.sendKeepalive, this.newHandshake, this.zeroKeyMaterial, this.persistentKeepaliveTimer]) {
      t.del();
    }
    for (const kp of [...this.keypairs]) this.dropKeypair(kp);
    this.current = null;
  }

  /** Accept events again after stop(), with fresh counters (as a peer being started). */
  start(): void {
    this.running = true;
    this.attempts = 0;
    this.needAnotherKeepalive = false;
    this.sentLastMinuteHandshake = false;
  }

  /** Emit sendInitiation unless one went out less than REKEY_TIMEOUT ago. */
  private initiate(retry: boolean): void {
    if (!retry) this.attempts = 0;
    const now = this.clock.now();
    if (now - this.lastInitiationAt < REKEY_TIMEOUT_MS) return;
    this.lastInitiationAt = now;
    this.emit({ type: 'sendInitiation', retry });
  }

  private traversal(): void {
    if (this.keepaliveInterval > 0) this.persistentKeepaliveTimer.mod(this.keepaliveInterval * 1000);
  }

  private expiredRetransmit(): void {
    if (this.attempts > MAX_TIMER_HANDSHAKES) {
      this.sendKeepalive.del();
      if (!this.zeroKeyMaterial.pending) this.zeroKeyMaterial.mod(3 * REJECT_AFTER_TIME_MS);
      this.emit({ type: 'giveUp' });
      return;
    }
    this.attempts++;
    this.initiate(true);
  }

  private expiredSendKeepalive(): void {
    // Re-armed before the keepalive goes out: when its sending is reported
    // (authenticatedPacketSent) the re-arm is cancelled again, which is what
    // the Linux driver and wireguard-go end up doing too, as their keepalive
    // is sent after this point.
    if (this.needAnotherKeepalive) {
      this.needAnotherKeepalive = false;
      this.sendKeepalive.mod(KEEPALIVE_TIMEOUT_MS);
    }
    this.emit({ type: 'sendKeepalive' });
  }

  private expiredKeypair(kp: Keypair): void {
    this.keypairs = this.keypairs.filter((k) => k !== kp);
    if (this.current === kp) this.current = null;
    this.emit({ type: 'expireKeys', keypairId: kp.id });
  }

  private expiredZeroKeys(): void {
    for (const kp of [...this.keypairs]) this.dropKeypair(kp);
    this.current = null;
    this.emit({ type: 'zeroKeys' });
  }

  private dropKeypair(kp: Keypair): void {
    this.clock.clearTimeout(kp.expiry);
    this.keypairs = this.keypairs.filter((k) => k !== kp);
    if (this.current === kp) this.current = null;
  }
}
