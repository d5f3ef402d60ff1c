/**
 * WireGuard's DoS mitigation (paper section 5.3, wireguard.com/protocol
 * "Cookie MACs"): every handshake message ends in
 *
 *   mac1 = MAC(HASH("mac1----" || Spub_receiver), msg[0:offset(mac1)])
 *   mac2 = MAC(cookie, msg[0:offset(mac2)])   (zeros without a cookie)
 *
 * where MAC is keyed BLAKE2s-128. A receiver "under load" demands a valid
 * mac2 and otherwise answers with a cookie reply (type 3, 64 bytes):
 *
 *   cookie = MAC(secret, source address and port)   secret rotates every 2 min
 *   reply  = XAEAD(HASH("cookie--" || Spub_receiver), nonce24, cookie, mac1)
 *
 * CookieChecker is the receiving side (our own public key); CookieGenerator
 * is kept per peer (the peer's public key) for the messages we send.
 */
import { randomBytes as cryptoRandomBytes, timingSafeEqual } from 'node:crypto';

import { hash } from './crypto.js';
import { checkKey, zero } from './keys.js';
import { COOKIE_REPLY, COOKIE_REPLY_SIZE, MESSAGE_COOKIE_REPLY, writeIndex, writeType } from './messages.js';
import { blake2sMac, blake2sMacInto, xchachaOpen, xchachaSeal } from './native.js';
import { parseIP } from './ip.js';

const LABEL_MAC1 = Buffer.from('mac1----');
const LABEL_COOKIE = Buffer.from('cookie--');
const MAC_SIZE = 16;

/** How long a cookie secret is used before a new one is drawn (paper: 2 minutes). */
export const COOKIE_SECRET_MAX_AGE_MS = 120_000;
/**
 * How long an initiator keeps using a cookie it received: the secret's age
 * minus a latency margin, as the Linux driver does, so a cookie is not sent
 * just after the responder's secret that made it has rotated.
 */
export const COOKIE_VALID_MS = 120_000 - 5_000;

/** Injected time and randomness (tests use fixed ones). */
export interface CookieOptions {
  /** Monotonic milliseconds. Default: performance.now(). */
  clock?: () => number;
  /** Random bytes. Default: crypto.randomBytes. */
  randomBytes?: (size: number) => Buffer;
}

/** The MAC1 key for messages sent to the holder of `publicKey`. */
export function mac1Key(publicKey: Uint8Array): Buffer {
  return hash(LABEL_MAC1, publicKey);
}

/** The key that seals cookie replies sent by the holder of `publicKey`. */
export function cookieKey(publicKey: Uint8Array): Buffer {
  return hash(LABEL_COOKIE, publicKey);
}

/**
 * The bytes a cookie binds a handshake's source to: the address (4 or 16
 * bytes) then the port, big-endian. Only the responder ever computes them,
 * so any fixed encoding works; this is the Linux driver's.
 */
export function sourceBytes(address: string, port: number): Buffer {
  const ip = parseIP(address.replace(/%.*$/, ''));
  if (!ip) throw new TypeError(`not an IP address: ${address}`);
  const out = Buffer.alloc(ip.bytes.length + 2);
  out.set(ip.bytes);
  out.writeUInt16BE(port & 0xffff, ip.bytes.length);
  return out;
}

function macOffsets(msg: Uint8Array): { mac1: number; mac2: number } {
  if (msg.length < 2 * MAC_SIZE + 4) throw new RangeError('message too short for MACs');
  return { mac1: msg.length - 2 * MAC_SIZE, mac2: msg.length - MAC_SIZE };
}

function macEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The receiving side: checks mac1/mac2 of handshake messages addressed to
 * us and makes cookie replies. One per device, rebuilt when the private key
 * (hence our public key) changes.
 */
export class CookieChecker {
  private readonly mac1Key: Buffer;
  private readonly encryptionKey: Buffer;
  private readonly secret = Buffer.alloc(32);
  private secretSetAt = -Infinity;
  private readonly clock: () => number;
  private readonly random: (size: number) => Buffer;

  /** `publicKey`: our own static public key. */
  constructor(publicKey: Uint8Array, options: CookieOptions = {}) {
    checkKey(publicKey, 'publicKey');
    this.mac1Key = mac1Key(publicKey);
    this.encryptionKey = cookieKey(publicKey);
    this.clock = options.clock ?? (() => performance.now());
    this.random = options.randomBytes ?? cryptoRandomBytes;
  }

  /** Whether `msg` (a whole handshake message) carries a valid mac1. */
  checkMac1(msg: Uint8Array): boolean {
    const { mac1 } = macOffsets(msg);
    const want = blake2sMac(this.mac1Key, msg.subarray(0, mac1), MAC_SIZE);
    return macEqual(want, msg.subarray(mac1, mac1 + MAC_SIZE));
  }

  /**
   * Whether `msg` carries a valid mac2 for a handshake from `source`
   * (sourceBytes()). False once the secret is older than 2 minutes: the
   * sender then needs a fresh cookie.
   */
  checkMac2(msg: Uint8Array, source: Uint8Array): boolean {
    if (this.clock() - this.secretSetAt > COOKIE_SECRET_MAX_AGE_MS) return false;
    const { mac2 } = macOffsets(msg);
    const cookie = blake2sMac(this.secret, source, MAC_SIZE);
    const want = blake2sMac(cookie, msg.subarray(0, mac2), MAC_SIZE);
    zero(cookie);
    return macEqual(want, msg.subarray(mac2));
  }

  /**
   * A cookie reply (64 bytes) to handshake message `msg` from `source`:
   * `receiverIndex` is the sender index of `msg`. Draws a new secret when
   * the current one is older than 2 minutes.
   */
  createReply(msg: Uint8Array, receiverIndex: number, source: Uint8Array): Buffer {
    const now = this.clock();
    if (now - this.secretSetAt > COOKIE_SECRET_MAX_AGE_MS) {
      const fresh = this.random(32);
      if (fresh.length !== 32) throw new RangeError('randomBytes(32) returned a wrong size');
      this.secret.set(fresh);
      zero(fresh);
      this.secretSetAt = now;
    }
    const { mac1 } = macOffsets(msg);
    const cookie = blake2sMac(this.secret, source, MAC_SIZE);
    const reply = Buffer.alloc(COOKIE_REPLY_SIZE);
    writeType(reply, MESSAGE_COOKIE_REPLY);
    writeIndex(reply, COOKIE_REPLY.receiver, receiverIndex);
    const nonce = this.random(24);
    if (nonce.length !== 24) throw new RangeError('randomBytes(24) returned a wrong size');
    reply.set(nonce, COOKIE_REPLY.nonce);
    const sealed = xchachaSeal(this.encryptionKey, nonce, cookie, msg.subarray(mac1, mac1 + MAC_SIZE));
    reply.set(sealed, COOKIE_REPLY.cookie);
    zero(cookie);
    return reply;
  }

  /** Zero the keys and the secret (the checker is unusable afterwards). */
  destroy(): void {
    zero(this.mac1Key, this.encryptionKey, this.secret);
    this.secretSetAt = -Infinity;
  }
}

/**
 * The sending side, per peer: adds mac1 (and mac2 while a cookie from that
 * peer is fresh) to our handshake messages, and takes the peer's cookie
 * replies.
 */
export class CookieGenerator {
  private readonly mac1Key: Buffer;
  private readonly encryptionKey: Buffer;
  private readonly cookie = Buffer.alloc(MAC_SIZE);
  private cookieSetAt = -Infinity;
  private readonly lastMac1 = Buffer.alloc(MAC_SIZE);
  private hasLastMac1 = false;
  private readonly clock: () => number;

  /** `peerPublicKey`: the static public key of the peer we send to. */
  constructor(peerPublicKey: Uint8Array, options: CookieOptions = {}) {
    checkKey(peerPublicKey, 'peerPublicKey');
    this.mac1Key = mac1Key(peerPublicKey);
    this.encryptionKey = cookieKey(peerPublicKey);
    this.clock = options.clock ?? (() => performance.now());
  }

  /** Whether a cookie is held and fresh enough to send mac2 with it. */
  get hasCookie(): boolean {
    return this.clock() - this.cookieSetAt < COOKIE_VALID_MS;
  }

  /**
   * Write mac1 and mac2 into the last 32 bytes of `msg` (a complete
   * handshake message), in place. mac2 is zeros without a fresh cookie.
   */
  addMacs(msg: Uint8Array): void {
    const { mac1, mac2 } = macOffsets(msg);
    blake2sMacInto(msg.subarray(mac1, mac2), this.mac1Key, msg.subarray(0, mac1));
    this.lastMac1.set(msg.subarray(mac1, mac2));
    this.hasLastMac1 = true;
    if (this.hasCookie) {
      blake2sMacInto(msg.subarray(mac2), this.cookie, msg.subarray(0, mac2));
    } else {
      msg.fill(0, mac2);
    }
  }

  /**
   * Take a cookie reply (64 bytes) answering our last message: true when it
   * decrypts with that message's mac1 as associated data, and the cookie is
   * then used for mac2 for the next COOKIE_VALID_MS.
   */
  consumeReply(reply: Uint8Array): boolean {
    if (!this.hasLastMac1 || reply.length !== COOKIE_REPLY_SIZE) return false;
    const nonce = reply.subarray(COOKIE_REPLY.nonce, COOKIE_REPLY.cookie);
    const cookie = xchachaOpen(this.encryptionKey, nonce, reply.subarray(COOKIE_REPLY.cookie), this.lastMac1);
    if (!cookie) return false;
    this.cookie.set(cookie);
    zero(cookie);
    this.cookieSetAt = this.clock();
    return true;
  }

  /** Zero the keys and any cookie. */
  destroy(): void {
    zero(this.mac1Key, this.encryptionKey, this.cookie, this.lastMac1);
    this.cookieSetAt = -Infinity;
    this.hasLastMac1 = false;
  }
}
