/**
 * WireGuard's handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s (paper
 * section 5.4, wireguard.com/protocol), with MAC1/MAC2 and cookie replies
 * (cookie.ts), TAI64N replay protection and per-peer flood protection.
 *
 * One HandshakeEngine per device holds our static key, the peers' static
 * keys and preshared keys, and at most one handshake in progress per peer.
 * A completed handshake hands over TransportKeys (32-byte send and receive
 * keys plus the two indices); the engine keeps nothing of it but the index
 * reservation, which the caller releases with releaseIndex() when it drops
 * the keypair.
 *
 * Initiator                                  Responder
 *   createInitiation(peer) -> 148 bytes  -->   consumeInitiation(msg) -> peer
 *                                        <--   createResponse(peer) -> 92 bytes + keys
 *   consumeResponse(msg) -> peer + keys
 *
 * Secrets: chaining keys, hashes, DH outputs and AEAD keys are zeroed as
 * soon as they are used up. Ephemeral private keys live in node:crypto
 * KeyObjects (OpenSSL clears them when they are collected); the raw bytes
 * they were made from are zeroed at once.
 */
import { randomBytes as cryptoRandomBytes, type KeyObject } from 'node:crypto';

import { CodedError } from '../core/errors.js';
import { CookieChecker, CookieGenerator } from './cookie.js';
import { aeadOpen, aeadSeal, dh, hash, kdf } from './crypto.js';
import { IndexTable } from './index-table.js';
import { checkKey, KEY_LENGTH, keyToHex, privateKeyObject, rawPublicKey, zero } from './keys.js';
import {
  INITIATION,
  INITIATION_SIZE,
  MESSAGE_COOKIE_REPLY,
  MESSAGE_INITIATION,
  MESSAGE_RESPONSE,
  messageType,
  readIndex,
  RESPONSE,
  RESPONSE_SIZE,
  writeIndex,
  writeType,
} from './messages.js';
import { TAI64N_SIZE, tai64n, tai64nAfter, wallClockNanos } from './tai64n.js';

const CONSTRUCTION = Buffer.from('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s');
const IDENTIFIER = Buffer.from('WireGuard v1 zx2c4 Jason@zx2c4.com');
const INITIAL_CHAIN_KEY = hash(CONSTRUCTION);
const INITIAL_HASH = hash(INITIAL_CHAIN_KEY, IDENTIFIER);
const EMPTY = Buffer.alloc(0);

/** At most one initiation per peer is consumed per this many ms (50 per second). */
export const INITIATIONS_MIN_INTERVAL_MS = 20;

/** A peer as the handshake knows it; `data` is the caller's own. */
export interface NoisePeer<T = unknown> {
  /** The peer's static public key (32 bytes; do not modify). */
  readonly publicKey: Buffer;
  /** Whatever the caller attached in addPeer(). */
  data: T | undefined;
}

/**
 * The keys of a completed handshake, handed over to the data path. The
 * caller owns sendKey and receiveKey and must zero them (zeroTransportKeys)
 * once it has copied them where the data path keeps keys.
 */
export interface TransportKeys<T = unknown> {
  peer: NoisePeer<T>;
  /** True on the side that sent the initiation (it may rekey on time). */
  isInitiator: boolean;
  /** Our index: the receiver index of the peer's transport packets. */
  localIndex: number;
  /** The peer's index: put it in our transport packets. */
  remoteIndex: number;
  sendKey: Buffer;
  receiveKey: Buffer;
  /** The engine's monotonic clock (ms) when the keys were derived. */
  createdAt: number;
}

/** Zero the two keys of a hand-over once they are copied. */
export function zeroTransportKeys(keys: TransportKeys<unknown>): void {
  zero(keys.sendKey, keys.receiveKey);
}

/** Why a handshake message was not accepted (for drop counters). */
export type HandshakeDropReason =
  /** Wrong type, size or reserved bytes. */
  | 'malformed'
  /** mac1 does not match our public key. */
  | 'bad-mac1'
  /** Under load without a valid mac2: answer with `cookieReply`. */
  | 'cookie-required'
  /** No private key is configured. */
  | 'no-private-key'
  /** An AEAD field did not authenticate (wrong keys, PSK, or forgery). */
  | 'decrypt-failed'
  /** A Diffie-Hellman result was zero (low-order key). */
  | 'bad-key'
  /** The initiator's static key is not a configured peer. */
  | 'unknown-peer'
  /** The timestamp is not newer than the last accepted one from the peer. */
  | 'replay'
  /** A second initiation from the peer within 20 ms. */
  | 'flood'
  /** The receiver index names no handshake in progress. */
  | 'unknown-index';

/** The result of consuming a handshake message. */
export type ConsumeResult<T, Extra = object> =
  | ({ ok: true; peer: NoisePeer<T> } & Extra)
  | { ok: false; reason: HandshakeDropReason; cookieReply?: Buffer };

/** How the caller received a message: needed for mac2 and cookies. */
export interface ReceiveContext {
  /** The device is under load: demand mac2 (a cookie) or answer with a cookie reply. */
  underLoad?: boolean;
  /** The datagram's source as cookie.sourceBytes(address, port); required when underLoad. */
  source?: Uint8Array;
}

/** What the engine draws on; every field has a real default. */
export interface HandshakeEngineOptions {
  /** Our static private key (32 bytes), or null/absent for none yet. */
  privateKey?: Uint8Array | null;
  /** Wall clock for TAI64N timestamps: nanoseconds since the Unix epoch. */
  wallClock?: () => bigint;
  /** Monotonic milliseconds (flood protection, cookie ages, createdAt). */
  clock?: () => number;
  /** Random bytes: ephemeral private keys (32), cookie secrets (32) and nonces (24). */
  randomBytes?: (size: number) => Buffer;
  /** The index table (inject one with a fixed random source in tests). */
  indices?: IndexTable<IndexOwner<unknown>>;
}

/** What a live index names. */
export interface IndexOwner<T> {
  peer: NoisePeer<T>;
  /** A handshake in progress, or a keypair the caller holds. */
  kind: 'handshake' | 'keypair';
}

const enum State {
  Zeroed,
  InitiationCreated,
  InitiationConsumed,
}

interface PeerState<T> {
  peer: NoisePeer<T>;
  psk: Buffer;
  /** DH(our static, peer static), or null when zero or no private key. */
  staticStatic: Buffer | null;
  cookies: CookieGenerator;
  lastTimestamp: Buffer;
  lastInitiationAt: number;
  state: State;
  hash: Buffer | null;
  chainKey: Buffer | null;
  ephemeral: KeyObject | null;
  remoteEphemeral: Buffer | null;
  /** Our index while a handshake owns it, else -1. */
  localIndex: number;
  remoteIndex: number;
}

interface Identity {
  privateKey: KeyObject;
  publicKey: Buffer;
}

type Drop = { ok: false; reason: HandshakeDropReason; cookieReply?: Buffer };

function fail(reason: HandshakeDropReason, cookieReply?: Buffer): Drop {
  return cookieReply ? { ok: false, reason, cookieReply } : { ok: false, reason };
}

/** Zero the secrets of an abandoned computation and report the drop. */
function drop(reason: HandshakeDropReason, ...secrets: (Buffer | null)[]): Drop {
  zero(...secrets);
  return fail(reason);
}

/** h = HASH(h || data); the old h is zeroed. */
function mixHash(h: Buffer, data: Uint8Array): Buffer {
  const next = hash(h, data);
  if (h !== INITIAL_HASH) h.fill(0);
  return next;
}

/** The KDF outputs of `input` under chaining key `ck`; the old ck is zeroed. */
function mixKey<N extends 1 | 2 | 3>(n: N, ck: Buffer, input: Uint8Array): Buffer[] {
  const out = kdf(n, ck, input);
  if (ck !== INITIAL_CHAIN_KEY) ck.fill(0);
  return out;
}

/** Throws with `code` unless `value` is non-null. */
function must<V>(value: V | null, code: string, message: string): V {
  if (value === null) throw new CodedError(code, message);
  return value;
}

/** The handshake side of one WireGuard device. See the module comment. */
export class HandshakeEngine<T = unknown> {
  /** Live indices: handshakes in progress and keypairs not yet released. */
  readonly indices: IndexTable<IndexOwner<T>>;
  private identity: Identity | null = null;
  private checker: CookieChecker | null = null;
  private readonly states = new Map<string, PeerState<T>>();
  private readonly byPeer = new WeakMap<NoisePeer<T>, PeerState<T>>();
  private readonly wallClock: () => bigint;
  private readonly clock: () => number;
  private readonly random: (size: number) => Buffer;

  constructor(options: HandshakeEngineOptions = {}) {
    this.wallClock = options.wallClock ?? wallClockNanos;
    this.clock = options.clock ?? (() => performance.now());
    this.random = options.randomBytes ?? cryptoRandomBytes;
    this.indices = (options.indices as IndexTable<IndexOwner<T>> | undefined) ?? new IndexTable<IndexOwner<T>>();
    if (options.privateKey) this.setPrivateKey(options.privateKey);
  }

  /** Our static public key, or null without a private key. */
  get publicKey(): Buffer | null {
    return this.identity ? Buffer.from(this.identity.publicKey) : null;
  }

  /**
   * Set (or clear, with null) our static private key. Every handshake in
   * progress is abandoned and the per-peer precomputations are redone.
   * Keypairs already handed over are the caller's to expire, as
   * wireguard-go does on a key change; a peer whose public key is our new
   * one is the caller's to remove (it could never complete a handshake).
   */
  setPrivateKey(privateKey: Uint8Array | null): void {
    this.checker?.destroy();
    this.identity = null;
    this.checker = null;
    if (privateKey) {
      const key = privateKeyObject(privateKey);
      const publicKey = rawPublicKey(key);
      this.identity = { privateKey: key, publicKey };
      this.checker = new CookieChecker(publicKey, { clock: this.clock, randomBytes: this.random });
    }
    for (const st of this.states.values()) {
      this.clearState(st);
      this.precompute(st);
    }
  }

  /** Add a peer by its static public key; throws ERR_WIREGUARD_PEER_EXISTS if present. */
  addPeer(publicKey: Uint8Array, options: { presharedKey?: Uint8Array | null; data?: T } = {}): NoisePeer<T> {
    checkKey(publicKey, 'publicKey');
    const id = keyToHex(publicKey);
    if (this.states.has(id)) throw new CodedError('ERR_WIREGUARD_PEER_EXISTS', 'a peer with this public key exists');
    const peer: NoisePeer<T> = { publicKey: Buffer.from(publicKey), data: options.data };
    const st: PeerState<T> = {
      peer,
      psk: Buffer.alloc(KEY_LENGTH),
      staticStatic: null,
      cookies: new CookieGenerator(publicKey, { clock: this.clock }),
      lastTimestamp: Buffer.alloc(TAI64N_SIZE),
      lastInitiationAt: -Infinity,
      state: State.Zeroed,
      hash: null,
      chainKey: null,
      ephemeral: null,
      remoteEphemeral: null,
      localIndex: -1,
      remoteIndex: 0,
    };
    if (options.presharedKey) this.setPresharedKeyOf(st, options.presharedKey);
    this.precompute(st);
    this.states.set(id, st);
    this.byPeer.set(peer, st);
    return peer;
  }

  /** The peer with this public key, if configured. */
  getPeer(publicKey: Uint8Array): NoisePeer<T> | undefined {
    return this.states.get(Buffer.from(publicKey).toString('hex'))?.peer;
  }

  /** Every configured peer. */
  *peers(): IterableIterator<NoisePeer<T>> {
    for (const st of this.states.values()) yield st.peer;
  }

  /**
   * Forget a peer: its handshake, preshared key and cookies are zeroed and
   * every index it owns is freed, its keypairs' included (the caller drops
   * those keypairs with the peer).
   */
  removePeer(peer: NoisePeer<T>): void {
    const st = this.byPeer.get(peer);
    if (!st) return;
    this.clearState(st);
    this.indices.releaseIf((owner) => owner.peer === peer);
    zero(st.psk, st.staticStatic);
    st.cookies.destroy();
    this.states.delete(keyToHex(peer.publicKey));
    this.byPeer.delete(peer);
  }

  /** Set or clear (null or all zeros) the peer's preshared key. */
  setPresharedKey(peer: NoisePeer<T>, presharedKey: Uint8Array | null): void {
    this.setPresharedKeyOf(this.stateOf(peer), presharedKey);
  }

  /** Abandon the peer's handshake in progress (timers gave up, keys zeroed). */
  clearHandshake(peer: NoisePeer<T>): void {
    this.clearState(this.stateOf(peer));
  }

  /**
   * Free the index of a keypair the caller dropped. Only keypair indices:
   * a handshake's index is the engine's to free.
   */
  releaseIndex(index: number): void {
    if (this.indices.get(index)?.kind === 'keypair') this.indices.release(index);
  }

  /**
   * A new initiation (148 bytes, MACs included) to `peer`; the peer's
   * previous handshake in progress is abandoned. Throws
   * ERR_WIREGUARD_NO_PRIVATE_KEY without a private key and
   * ERR_WIREGUARD_INVALID_PEER_KEY when DH with the peer's key is zero.
   */
  createInitiation(peer: NoisePeer<T>): Buffer {
    const st = this.stateOf(peer);
    const id = must(this.identity, 'ERR_WIREGUARD_NO_PRIVATE_KEY', 'no private key is set');
    const ss = must(st.staticStatic, 'ERR_WIREGUARD_INVALID_PEER_KEY', 'the peer public key gives a zero shared secret');
    this.clearState(st);
    const msg = Buffer.alloc(INITIATION_SIZE);
    const { key: eph, publicKey: ephPub } = this.newEphemeral();
    let h = mixHash(mixHash(INITIAL_HASH, peer.publicKey), ephPub);
    const [ck0] = kdf(1, INITIAL_CHAIN_KEY, ephPub) as [Buffer];
    const es = dh(eph, peer.publicKey);
    if (!es) {
      zero(h, ck0);
      throw new CodedError('ERR_WIREGUARD_INVALID_PEER_KEY', 'the peer public key gives a zero shared secret');
    }
    const [ck1, key1] = mixKey(2, ck0, es) as [Buffer, Buffer];
    zero(es);
    const encStatic = aeadSeal(key1, 0n, id.publicKey, h);
    zero(key1);
    h = mixHash(h, encStatic);
    const [ck, key] = mixKey(2, ck1, ss) as [Buffer, Buffer];
    const ts = tai64n(this.wallClock());
    const encTs = aeadSeal(key, 0n, ts, h);
    zero(key);
    h = mixHash(h, encTs);

    st.localIndex = this.indices.allocate({ peer, kind: 'handshake' });
    writeType(msg, MESSAGE_INITIATION);
    writeIndex(msg, INITIATION.sender, st.localIndex);
    msg.set(ephPub, INITIATION.ephemeral);
    msg.set(encStatic, INITIATION.static);
    msg.set(encTs, INITIATION.timestamp);
    st.cookies.addMacs(msg);
    Object.assign(st, { state: State.InitiationCreated, hash: h, chainKey: ck, ephemeral: eph });
    return msg;
  }

  /**
   * Authenticate an initiation addressed to us. On success the peer's
   * handshake holds the initiation and createResponse(peer) answers it.
   * Nothing about the peer changes unless every check passes.
   */
  consumeInitiation(msg: Uint8Array, ctx: ReceiveContext = {}): ConsumeResult<T> {
    if (messageType(msg) !== MESSAGE_INITIATION) return fail('malformed');
    const macs = this.checkMacs(msg, ctx);
    if (macs) return macs;
    const id = this.identity;
    if (!id) return fail('no-private-key');
    const ephPub = msg.subarray(INITIATION.ephemeral, INITIATION.static);
    const encStatic = msg.subarray(INITIATION.static, INITIATION.timestamp);
    const encTs = msg.subarray(INITIATION.timestamp, INITIATION.mac1);
    let h = mixHash(mixHash(INITIAL_HASH, id.publicKey), ephPub);
    const [ck0] = kdf(1, INITIAL_CHAIN_KEY, ephPub) as [Buffer];
    const es = dh(id.privateKey, ephPub);
    if (!es) return drop('bad-key', h, ck0);
    let [ck, key] = mixKey(2, ck0, es) as [Buffer, Buffer];
    zero(es);
    const peerKey = aeadOpen(key, 0n, encStatic, h);
    zero(key);
    if (!peerKey) return drop('decrypt-failed', h, ck);
    h = mixHash(h, encStatic);
    const st = this.states.get(peerKey.toString('hex'));
    if (!st?.staticStatic) return drop(st ? 'bad-key' : 'unknown-peer', h, ck, peerKey);
    [ck, key] = mixKey(2, ck, st.staticStatic) as [Buffer, Buffer];
    const ts = aeadOpen(key, 0n, encTs, h);
    zero(key);
    if (!ts) return drop('decrypt-failed', h, ck);
    h = mixHash(h, encTs);
    const now = this.clock();
    if (!tai64nAfter(ts, st.lastTimestamp)) return drop('replay', h, ck);
    if (now - st.lastInitiationAt <= INITIATIONS_MIN_INTERVAL_MS) return drop('flood', h, ck);

    // Authenticated and fresh: it replaces whatever handshake the peer had,
    // but keeps our handshake index (if any) until the response replaces it.
    const localIndex = st.localIndex;
    this.clearState(st, false);
    st.lastTimestamp = ts;
    st.lastInitiationAt = now;
    Object.assign(st, {
      state: State.InitiationConsumed,
      hash: h,
      chainKey: ck,
      remoteEphemeral: Buffer.from(ephPub),
      remoteIndex: readIndex(msg, INITIATION.sender),
      localIndex,
    });
    return { ok: true, peer: st.peer };
  }

  /**
   * Answer the initiation consumed for `peer`: the response (92 bytes) and
   * the new transport keys (responder side). The keys may be used to
   * receive at once; send with them only after the first packet arrives
   * under them (key confirmation), as the paper requires. Throws
   * ERR_WIREGUARD_HANDSHAKE_STATE without a consumed initiation.
   */
  createResponse(peer: NoisePeer<T>): { message: Buffer; keys: TransportKeys<T> } {
    const st = this.stateOf(peer);
    if (st.state !== State.InitiationConsumed || !st.hash || !st.chainKey || !st.remoteEphemeral) {
      throw new CodedError('ERR_WIREGUARD_HANDSHAKE_STATE', 'no consumed initiation to respond to');
    }
    if (st.localIndex >= 0) this.indices.release(st.localIndex);
    st.localIndex = this.indices.allocate({ peer, kind: 'handshake' });
    const msg = Buffer.alloc(RESPONSE_SIZE);
    const { key: eph, publicKey: ephPub } = this.newEphemeral();
    let h = mixHash(st.hash, ephPub);
    let [ck] = mixKey(1, st.chainKey, ephPub) as [Buffer];
    st.hash = st.chainKey = null;
    for (const pub of [st.remoteEphemeral, peer.publicKey]) {
      const shared = dh(eph, pub);
      if (!shared) {
        zero(h, ck);
        this.clearState(st);
        throw new CodedError('ERR_WIREGUARD_INVALID_PEER_KEY', 'zero shared secret');
      }
      [ck] = mixKey(1, ck, shared) as [Buffer];
      zero(shared);
    }
    const [ck2, tau, key] = mixKey(3, ck, st.psk) as [Buffer, Buffer, Buffer];
    h = mixHash(h, tau);
    const empty = aeadSeal(key, 0n, EMPTY, h);
    zero(tau, key, h);

    writeType(msg, MESSAGE_RESPONSE);
    writeIndex(msg, RESPONSE.sender, st.localIndex);
    writeIndex(msg, RESPONSE.receiver, st.remoteIndex);
    msg.set(ephPub, RESPONSE.ephemeral);
    msg.set(empty, RESPONSE.empty);
    st.cookies.addMacs(msg);
    const keys = this.deriveKeys(st, ck2, false);
    return { message: msg, keys };
  }

  /**
   * Authenticate a response to our initiation: on success, the transport
   * keys (initiator side), usable at once in both directions.
   */
  consumeResponse(msg: Uint8Array, ctx: ReceiveContext = {}): ConsumeResult<T, { keys: TransportKeys<T> }> {
    if (messageType(msg) !== MESSAGE_RESPONSE) return fail('malformed');
    const macs = this.checkMacs(msg, ctx);
    if (macs) return macs;
    const id = this.identity;
    if (!id) return fail('no-private-key');
    const owner = this.indices.get(readIndex(msg, RESPONSE.receiver));
    const st = owner?.kind === 'handshake' ? this.byPeer.get(owner.peer) : undefined;
    if (!st || st.state !== State.InitiationCreated || !st.ephemeral || st.localIndex !== readIndex(msg, RESPONSE.receiver)) {
      return fail('unknown-index');
    }
    // Computed on copies: a forged response must leave our handshake intact.
    const ephPub = msg.subarray(RESPONSE.ephemeral, RESPONSE.empty);
    const h0 = hash(st.hash!, ephPub);
    let [ck] = kdf(1, st.chainKey!, ephPub) as [Buffer];
    for (const priv of [st.ephemeral!, id.privateKey]) {
      const shared = dh(priv, ephPub);
      if (!shared) return drop('bad-key', h0, ck);
      [ck] = mixKey(1, ck, shared) as [Buffer];
      zero(shared);
    }
    const [ck2, tau, key] = mixKey(3, ck, st.psk) as [Buffer, Buffer, Buffer];
    const h = mixHash(h0, tau);
    const opened = aeadOpen(key, 0n, msg.subarray(RESPONSE.empty, RESPONSE.mac1), h);
    zero(tau, key, h);
    if (!opened) return drop('decrypt-failed', ck2);
    st.remoteIndex = readIndex(msg, RESPONSE.sender);
    return { ok: true, peer: st.peer, keys: this.deriveKeys(st, ck2, true) };
  }

  /**
   * Take a cookie reply (type 3) for one of our handshake messages: its
   * receiver index names the peer, whose next messages then carry mac2.
   */
  consumeCookieReply(msg: Uint8Array): ConsumeResult<T> {
    if (messageType(msg) !== MESSAGE_COOKIE_REPLY) return fail('malformed');
    const owner = this.indices.get(readIndex(msg, 4));
    const st = owner && this.byPeer.get(owner.peer);
    if (!st) return fail('unknown-index');
    return st.cookies.consumeReply(msg) ? { ok: true, peer: st.peer } : fail('decrypt-failed');
  }

  /**
   * Check mac1 (always) and mac2 (under load) of a handshake message to us:
   * null when it may be processed, else the drop (with a cookie reply to
   * send back when mac2 is missing under load).
   */
  checkMacs(msg: Uint8Array, ctx: ReceiveContext = {}): Drop | null {
    const checker = this.checker;
    if (!checker) return fail('no-private-key');
    if (!checker.checkMac1(msg)) return fail('bad-mac1');
    if (!ctx.underLoad) return null;
    if (!ctx.source) throw new CodedError('ERR_INVALID_ARG_VALUE', 'a source is required under load');
    if (checker.checkMac2(msg, ctx.source)) return null;
    return fail('cookie-required', checker.createReply(msg, readIndex(msg, 4), ctx.source));
  }

  private stateOf(peer: NoisePeer<T>): PeerState<T> {
    const st = this.byPeer.get(peer);
    if (!st) throw new CodedError('ERR_WIREGUARD_UNKNOWN_PEER', 'the peer is not configured in this engine');
    return st;
  }

  private setPresharedKeyOf(st: PeerState<T>, psk: Uint8Array | null): void {
    if (psk) checkKey(psk, 'presharedKey');
    st.psk.fill(0);
    if (psk) st.psk.set(psk);
  }

  private precompute(st: PeerState<T>): void {
    zero(st.staticStatic);
    st.staticStatic = this.identity ? dh(this.identity.privateKey, st.peer.publicKey) : null;
  }

  private newEphemeral(): { key: KeyObject; publicKey: Buffer } {
    const raw = this.random(KEY_LENGTH);
    checkKey(raw, 'random ephemeral key');
    try {
      const key = privateKeyObject(raw);
      return { key, publicKey: rawPublicKey(key) };
    } finally {
      zero(raw);
    }
  }

  /** KDF2 of the final chaining key into the two transport keys; clears the handshake. */
  private deriveKeys(st: PeerState<T>, ck: Buffer, isInitiator: boolean): TransportKeys<T> {
    const [first, second] = kdf(2, ck, EMPTY) as [Buffer, Buffer];
    zero(ck);
    const localIndex = st.localIndex;
    this.indices.update(localIndex, { peer: st.peer, kind: 'keypair' });
    st.localIndex = -1; // the keypair owns it now
    const keys: TransportKeys<T> = {
      peer: st.peer,
      isInitiator,
      localIndex,
      remoteIndex: st.remoteIndex,
      sendKey: isInitiator ? first : second,
      receiveKey: isInitiator ? second : first,
      createdAt: this.clock(),
    };
    this.clearState(st);
    return keys;
  }

  /** Zero the handshake in progress; free its index unless `keepIndex` is false. */
  private clearState(st: PeerState<T>, releaseIndex = true): void {
    zero(st.hash, st.chainKey, st.remoteEphemeral);
    if (releaseIndex && st.localIndex >= 0) this.indices.release(st.localIndex);
    if (releaseIndex) st.localIndex = -1;
    Object.assign(st, { state: State.Zeroed, hash: null, chainKey: null, ephemeral: null, remoteEphemeral: null });
  }
}
