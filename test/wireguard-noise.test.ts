/**
 * The handshake (noise.ts) and cookies (cookie.ts): message bytes and
 * transport keys pinned by test/fixtures/wireguard-handshake.json, which
 * test/fixtures/wireguard-handshake.py made with an independent
 * implementation (Python hashlib/hmac, python3-cryptography, python3-nacl);
 * then everything that must not complete: replays, floods, wrong keys and
 * PSKs, bad MACs, forged fields, and the cookie exchange under load.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { CookieGenerator, sourceBytes } from '../src/wireguard/cookie.js';
import { IndexTable } from '../src/wireguard/index-table.js';
import { isZeroKey, publicKeyFromPrivate } from '../src/wireguard/keys.js';
import { INITIATION, RESPONSE } from '../src/wireguard/messages.js';
import { HandshakeEngine, zeroTransportKeys, type IndexOwner, type NoisePeer } from '../src/wireguard/noise.js';
import { tai64n } from '../src/wireguard/tai64n.js';

interface Case {
  name: string;
  initiatorPrivate: string;
  initiatorPublic: string;
  responderPrivate: string;
  responderPublic: string;
  presharedKey: string | null;
  initiatorEphemeral: string;
  responderEphemeral: string;
  initiatorIndex: number;
  responderIndex: number;
  timeNanos: string;
  timestamp: string;
  initiation: string;
  response: string;
  initiatorSendKey: string;
  initiatorReceiveKey: string;
}

interface CookieCase {
  secret: string;
  sourceAddress: string;
  sourcePort: number;
  source: string;
  nonce: string;
  cookie: string;
  reply: string;
  secondEphemeral: string;
  secondIndex: number;
  secondTimeNanos: string;
  secondInitiation: string;
}

const FIXTURE = JSON.parse(readFileSync(new URL('../../test/fixtures/wireguard-handshake.json', import.meta.url), 'utf8')) as {
  cases: Case[];
  cookie: CookieCase;
};
const hex = (s: string): Buffer => Buffer.from(s, 'hex');

/** Random bytes from a script: each call takes the next buffer, which must have the asked size. */
function scripted(...values: Buffer[]): (size: number) => Buffer {
  return (size) => {
    const v = values.shift();
    assert.ok(v, `unexpected randomBytes(${size})`);
    assert.equal(v.length, size);
    return Buffer.from(v);
  };
}

/** Index draws from a script, then counting up from 1000. */
function indexScript(...values: number[]): () => number {
  let next = 1000;
  return () => values.shift() ?? next++;
}

interface Side {
  engine: HandshakeEngine<string>;
  peer: NoisePeer<string>;
  time: { mono: number; wall: bigint };
}

/** One engine with scripted randomness and indices, its one peer, and its clocks. */
function side(c: Case, priv: string, peerPub: string, random: Buffer[], indices: number[], peerPsk: Buffer | null, name: string): Side {
  const time = { mono: 1_000_000, wall: BigInt(c.timeNanos) };
  const engine = new HandshakeEngine<string>({
    privateKey: hex(priv),
    clock: () => time.mono,
    wallClock: () => time.wall,
    randomBytes: scripted(...random),
    indices: new IndexTable<IndexOwner<unknown>>(indexScript(...indices)),
  });
  const peer = engine.addPeer(hex(peerPub), { presharedKey: peerPsk, data: name });
  return { engine, peer, time };
}

/** An initiator and a responder built from a fixture case (extra random values are appended). */
function pair(
  c: Case,
  opts: { initiatorRandom?: Buffer[]; responderRandom?: Buffer[]; responderPsk?: Buffer | null; initiatorIndices?: number[] } = {},
): { i: Side; r: Side } {
  const psk = c.presharedKey ? hex(c.presharedKey) : null;
  return {
    i: side(
      c,
      c.initiatorPrivate,
      c.responderPublic,
      [hex(c.initiatorEphemeral), ...(opts.initiatorRandom ?? [])],
      [c.initiatorIndex, ...(opts.initiatorIndices ?? [])],
      psk,
      'responder',
    ),
    r: side(
      c,
      c.responderPrivate,
      c.initiatorPublic,
      [hex(c.responderEphemeral), ...(opts.responderRandom ?? [])],
      [c.responderIndex],
      opts.responderPsk === undefined ? psk : opts.responderPsk,
      'initiator',
    ),
  };
}

for (const c of FIXTURE.cases) {
  test(`handshake "${c.name}": message bytes and transport keys match the independent implementation`, () => {
    assert.deepEqual(publicKeyFromPrivate(hex(c.initiatorPrivate)), hex(c.initiatorPublic));
    assert.deepEqual(tai64n(BigInt(c.timeNanos)), hex(c.timestamp));
    const { i, r } = pair(c);
    const init = i.engine.createInitiation(i.peer);
    assert.equal(init.toString('hex'), c.initiation);

    const consumed = r.engine.consumeInitiation(init);
    assert.ok(consumed.ok);
    assert.equal(consumed.peer, r.peer);
    assert.equal(consumed.peer.data, 'initiator');
    const { message, keys: rKeys } = r.engine.createResponse(r.peer);
    assert.equal(message.toString('hex'), c.response);
    assert.equal(rKeys.isInitiator, false);
    assert.equal(rKeys.localIndex, c.responderIndex);
    assert.equal(rKeys.remoteIndex, c.initiatorIndex);

    const done = i.engine.consumeResponse(message);
    assert.ok(done.ok);
    const iKeys = done.keys;
    assert.equal(iKeys.peer, i.peer);
    assert.equal(iKeys.isInitiator, true);
    assert.equal(iKeys.localIndex, c.initiatorIndex);
    assert.equal(iKeys.remoteIndex, c.responderIndex);
    assert.equal(iKeys.sendKey.toString('hex'), c.initiatorSendKey);
    assert.equal(iKeys.receiveKey.toString('hex'), c.initiatorReceiveKey);
    assert.deepEqual(rKeys.sendKey, iKeys.receiveKey);
    assert.deepEqual(rKeys.receiveKey, iKeys.sendKey);
    assert.equal(iKeys.createdAt, 1_000_000);

    // The indices now belong to keypairs, and the handshakes are gone: the
    // same response cannot be consumed twice.
    assert.deepEqual(i.engine.indices.get(c.initiatorIndex), { peer: i.peer, kind: 'keypair' });
    assert.deepEqual(r.engine.indices.get(c.responderIndex), { peer: r.peer, kind: 'keypair' });
    assert.deepEqual(i.engine.consumeResponse(message), { ok: false, reason: 'unknown-index' });
    assert.throws(() => r.engine.createResponse(r.peer), { code: 'ERR_WIREGUARD_HANDSHAKE_STATE' });
    i.engine.releaseIndex(c.initiatorIndex);
    assert.equal(i.engine.indices.get(c.initiatorIndex), undefined);
    // Removing a peer frees the indices of its keypairs too.
    assert.equal(r.engine.indices.size, 1);
    r.engine.removePeer(r.peer);
    assert.equal(r.engine.indices.size, 0);

    zeroTransportKeys(iKeys);
    assert.ok(isZeroKey(iKeys.sendKey) && isZeroKey(iKeys.receiveKey));
    assert.ok(!isZeroKey(rKeys.sendKey), 'each side owns its own key buffers');
  });
}

const C = FIXTURE.cases[0]!; // with a preshared key

test('a replayed initiation is refused; only a later timestamp is accepted (TAI64N)', () => {
  const { i, r } = pair(C, { initiatorRandom: [hex(C.responderEphemeral), hex(C.responderEphemeral)] });
  const first = i.engine.createInitiation(i.peer);
  assert.ok(r.engine.consumeInitiation(first).ok);
  r.time.mono += 1000;
  assert.deepEqual(r.engine.consumeInitiation(first), { ok: false, reason: 'replay' });
  // Same whitened timestamp (less than 2^24 ns later): still a replay.
  i.time.wall += 1_000_000n;
  assert.deepEqual(r.engine.consumeInitiation(i.engine.createInitiation(i.peer)), { ok: false, reason: 'replay' });
  i.time.wall += 1_000_000_000n;
  const later = i.engine.createInitiation(i.peer);
  assert.ok(r.engine.consumeInitiation(later).ok);
  assert.deepEqual(r.engine.consumeInitiation(first), { ok: false, reason: 'replay' });
});

test('initiations from one peer closer than 20 ms are refused as a flood', () => {
  const { i, r } = pair(C, { initiatorRandom: [hex(C.responderEphemeral), hex(C.responderEphemeral)] });
  assert.ok(r.engine.consumeInitiation(i.engine.createInitiation(i.peer)).ok);
  i.time.wall += 1_000_000_000n;
  r.time.mono += 20;
  assert.deepEqual(r.engine.consumeInitiation(i.engine.createInitiation(i.peer)), { ok: false, reason: 'flood' });
  i.time.wall += 1_000_000_000n;
  r.time.mono += 1;
  assert.ok(r.engine.consumeInitiation(i.engine.createInitiation(i.peer)).ok);
});

test('a wrong preshared key never completes: the initiator refuses the response', () => {
  const { i, r } = pair(C, { responderPsk: Buffer.alloc(32, 7) });
  const init = i.engine.createInitiation(i.peer);
  assert.ok(r.engine.consumeInitiation(init).ok, 'the PSK is not part of the initiation');
  const { message } = r.engine.createResponse(r.peer);
  assert.deepEqual(i.engine.consumeResponse(message), { ok: false, reason: 'decrypt-failed' });
  // A no-PSK responder against a PSK initiator fails the same way.
  const other = pair(C, { responderPsk: null });
  assert.ok(other.r.engine.consumeInitiation(other.i.engine.createInitiation(other.i.peer)).ok);
  assert.deepEqual(other.i.engine.consumeResponse(other.r.engine.createResponse(other.r.peer).message), {
    ok: false,
    reason: 'decrypt-failed',
  });
});

test('wrong static keys never complete', () => {
  // The initiator believes in another responder key: mac1 (keyed by that key) fails first.
  const { i, r } = pair(C, { initiatorRandom: [Buffer.alloc(32, 1), Buffer.alloc(32, 2)] });
  const stranger = publicKeyFromPrivate(Buffer.alloc(32, 9));
  const wrongPeer = i.engine.addPeer(stranger);
  const init = i.engine.createInitiation(wrongPeer);
  assert.deepEqual(r.engine.consumeInitiation(init), { ok: false, reason: 'bad-mac1' });

  // The responder does not know the initiator: decrypts the static key, finds no peer.
  const r2 = new HandshakeEngine({ privateKey: hex(C.responderPrivate) });
  assert.deepEqual(r2.consumeInitiation(i.engine.createInitiation(i.peer)), { ok: false, reason: 'unknown-peer' });

  // A removed peer is unknown too.
  r.engine.removePeer(r.peer);
  assert.deepEqual(r.engine.consumeInitiation(i.engine.createInitiation(i.peer)), { ok: false, reason: 'unknown-peer' });

  // An initiator whose own key is not the one the responder has for it: unknown peer as well.
  const impostor = new HandshakeEngine({ privateKey: Buffer.alloc(32, 5) });
  const r3 = new HandshakeEngine({ privateKey: hex(C.responderPrivate) });
  r3.addPeer(hex(C.initiatorPublic));
  assert.deepEqual(r3.consumeInitiation(impostor.createInitiation(impostor.addPeer(hex(C.responderPublic)))), {
    ok: false,
    reason: 'unknown-peer',
  });
});

test('bad mac1 is dropped before any Diffie-Hellman; a forged field with a valid mac1 fails to decrypt', () => {
  const { i, r } = pair(C);
  const init = i.engine.createInitiation(i.peer);
  for (const at of [0 + 8, INITIATION.static + 3, INITIATION.timestamp, INITIATION.mac1, INITIATION.mac1 + 15]) {
    const bad = Buffer.from(init);
    bad[at]! ^= 0x01;
    assert.deepEqual(r.engine.consumeInitiation(bad), { ok: false, reason: 'bad-mac1' }, `byte ${at}`);
  }
  // Forge the encrypted static or timestamp and recompute mac1 as an attacker who knows the
  // responder's public key can: the AEAD catches it.
  const macs = new CookieGenerator(hex(C.responderPublic));
  for (const at of [INITIATION.static + 3, INITIATION.timestamp + 20]) {
    const forged = Buffer.from(init);
    forged[at]! ^= 0x01;
    macs.addMacs(forged);
    assert.deepEqual(r.engine.consumeInitiation(forged), { ok: false, reason: 'decrypt-failed' }, `byte ${at}`);
  }
  // A forged response with a valid mac1.
  assert.ok(r.engine.consumeInitiation(init).ok);
  const { message } = r.engine.createResponse(r.peer);
  const forged = Buffer.from(message);
  forged[RESPONSE.empty]! ^= 0x01;
  new CookieGenerator(hex(C.initiatorPublic)).addMacs(forged);
  assert.deepEqual(i.engine.consumeResponse(forged), { ok: false, reason: 'decrypt-failed' });
  // ... which leaves the handshake intact: the genuine response still completes.
  assert.ok(i.engine.consumeResponse(message).ok);
});

test('malformed messages and misuse are refused with reasons and codes', () => {
  const { i, r } = pair(C);
  assert.deepEqual(r.engine.consumeInitiation(Buffer.alloc(147)), { ok: false, reason: 'malformed' });
  const init = i.engine.createInitiation(i.peer);
  const reserved = Buffer.from(init);
  reserved[1] = 1;
  assert.deepEqual(r.engine.consumeInitiation(reserved), { ok: false, reason: 'malformed' });
  assert.deepEqual(i.engine.consumeResponse(init), { ok: false, reason: 'malformed' });
  assert.deepEqual(i.engine.consumeCookieReply(Buffer.alloc(64)), { ok: false, reason: 'malformed' });
  assert.throws(() => r.engine.createResponse(r.peer), { code: 'ERR_WIREGUARD_HANDSHAKE_STATE' });
  const keyless = new HandshakeEngine();
  const p = keyless.addPeer(hex(C.responderPublic));
  assert.throws(() => keyless.createInitiation(p), { code: 'ERR_WIREGUARD_NO_PRIVATE_KEY' });
  assert.deepEqual(keyless.consumeInitiation(init), { ok: false, reason: 'no-private-key' });
  assert.throws(() => keyless.addPeer(hex(C.responderPublic)), { code: 'ERR_WIREGUARD_PEER_EXISTS' });
  assert.throws(() => keyless.addPeer(Buffer.alloc(31)), { code: 'ERR_WIREGUARD_INVALID_KEY' });
  // A peer of another engine is refused; a low-order peer key can never handshake.
  const foreign = new HandshakeEngine({ privateKey: hex(C.initiatorPrivate) }).addPeer(Buffer.alloc(32));
  assert.throws(() => i.engine.createInitiation(foreign as NoisePeer<string>), { code: 'ERR_WIREGUARD_UNKNOWN_PEER' });
  const e = new HandshakeEngine({ privateKey: hex(C.initiatorPrivate) });
  assert.throws(() => e.createInitiation(e.addPeer(Buffer.alloc(32))), { code: 'ERR_WIREGUARD_INVALID_PEER_KEY' });
});

test('changing the private key abandons the handshake in progress', () => {
  const { i, r } = pair(C);
  const init = i.engine.createInitiation(i.peer);
  i.engine.releaseIndex(C.initiatorIndex);
  assert.ok(i.engine.indices.get(C.initiatorIndex), 'a handshake index is not released by releaseIndex()');
  assert.ok(r.engine.consumeInitiation(init).ok);
  const { message } = r.engine.createResponse(r.peer);
  i.engine.setPrivateKey(hex(C.initiatorPrivate));
  assert.equal(i.engine.indices.get(C.initiatorIndex), undefined);
  assert.deepEqual(i.engine.consumeResponse(message), { ok: false, reason: 'unknown-index' });
});

test('crossed initiations: each side answers the other, and both responses are refused (as wireguard-go)', () => {
  const c2 = FIXTURE.cases[1]!;
  const { i, r } = pair(c2, { initiatorRandom: [hex(c2.responderEphemeral)], responderRandom: [hex(c2.initiatorEphemeral)] });
  const initA = i.engine.createInitiation(i.peer);
  const initB = r.engine.createInitiation(r.peer);
  assert.ok(i.engine.consumeInitiation(initB).ok);
  assert.ok(r.engine.consumeInitiation(initA).ok);
  const respA = i.engine.createResponse(i.peer).message;
  const respB = r.engine.createResponse(r.peer).message;
  assert.deepEqual(i.engine.consumeResponse(respB), { ok: false, reason: 'unknown-index' });
  assert.deepEqual(r.engine.consumeResponse(respA), { ok: false, reason: 'unknown-index' });
});

test('cookie flow under load: reply, then mac2 from the cookie, bytes as the independent implementation', () => {
  const k = FIXTURE.cookie;
  const c = FIXTURE.cases[1]!; // the no-PSK case the cookie vectors build on
  const i = side(c, c.initiatorPrivate, c.responderPublic, [hex(c.initiatorEphemeral), hex(k.secondEphemeral)], [c.initiatorIndex, k.secondIndex], null, 'r');
  // The loaded responder draws its cookie secret and the reply's nonce first.
  const r = side(c, c.responderPrivate, c.initiatorPublic, [hex(k.secret), hex(k.nonce), hex(c.responderEphemeral), Buffer.alloc(24)], [c.responderIndex], null, 'i');
  const source = sourceBytes(k.sourceAddress, k.sourcePort);
  assert.equal(source.toString('hex'), k.source);

  const init = i.engine.createInitiation(i.peer);
  assert.equal(init.toString('hex'), c.initiation);
  assert.equal(r.engine.checkMacs(init, {}), null, 'not under load, mac1 alone is enough');
  const refused = r.engine.consumeInitiation(init, { underLoad: true, source });
  assert.ok(!refused.ok && refused.reason === 'cookie-required' && refused.cookieReply);
  assert.equal(refused.cookieReply.toString('hex'), k.reply);

  // A reply that does not match our last mac1, or names no handshake of ours, is refused.
  const wrong = Buffer.from(refused.cookieReply);
  wrong[40]! ^= 1;
  assert.deepEqual(i.engine.consumeCookieReply(wrong), { ok: false, reason: 'decrypt-failed' });
  const unknown = Buffer.from(refused.cookieReply);
  unknown.writeUInt32LE(0xdeadbeef, 4);
  assert.deepEqual(i.engine.consumeCookieReply(unknown), { ok: false, reason: 'unknown-index' });
  const taken = i.engine.consumeCookieReply(refused.cookieReply);
  assert.ok(taken.ok && taken.peer === i.peer);

  // The next initiation carries mac2; the loaded responder processes it and answers.
  i.time.wall = BigInt(k.secondTimeNanos);
  const second = i.engine.createInitiation(i.peer);
  assert.equal(second.toString('hex'), k.secondInitiation);
  r.time.mono += 1000;
  assert.ok(r.engine.consumeInitiation(second, { underLoad: true, source }).ok);
  const { message } = r.engine.createResponse(r.peer);
  assert.ok(i.engine.consumeResponse(message).ok);
  // From another source the same mac2 is wrong: another cookie reply.
  const elsewhere = r.engine.checkMacs(second, { underLoad: true, source: sourceBytes('192.0.2.8', k.sourcePort) });
  assert.ok(elsewhere && elsewhere.reason === 'cookie-required');
});

test('cookies age out: the initiator stops sending mac2 after 115 s, the responder rotates its secret after 120 s', () => {
  const c = FIXTURE.cases[1]!;
  const source = sourceBytes('2001:db8::1', 51820);
  const time = { mono: 0 };
  const responder = new HandshakeEngine({ privateKey: hex(c.responderPrivate), clock: () => time.mono });
  responder.addPeer(hex(c.initiatorPublic));
  const initiator = new HandshakeEngine({ privateKey: hex(c.initiatorPrivate), clock: () => time.mono });
  const peer = initiator.addPeer(hex(c.responderPublic));
  const cookieFor = (): void => {
    const r = responder.consumeInitiation(initiator.createInitiation(peer), { underLoad: true, source });
    assert.ok(!r.ok && r.cookieReply);
    assert.ok(initiator.consumeCookieReply(r.cookieReply).ok);
  };
  const mac2 = (msg: Buffer): Buffer => msg.subarray(INITIATION.mac2);

  time.mono = 1_000;
  cookieFor();
  time.mono = 1_000 + 114_999;
  const fresh = initiator.createInitiation(peer);
  assert.ok(!isZeroKey(mac2(fresh)), 'mac2 set while the cookie is fresh');
  assert.equal(responder.checkMacs(fresh, { underLoad: true, source }), null);
  time.mono = 1_000 + 115_000;
  assert.ok(isZeroKey(mac2(initiator.createInitiation(peer))), 'no mac2 once the cookie is stale');

  // Secret rotation: a message with a mac2 from the old secret is refused after 120 s.
  time.mono = 200_000;
  cookieFor();
  const withMac2 = initiator.createInitiation(peer);
  assert.equal(responder.checkMacs(withMac2, { underLoad: true, source }), null);
  time.mono = 200_000 + 120_001;
  const stale = responder.checkMacs(withMac2, { underLoad: true, source });
  assert.ok(stale && stale.reason === 'cookie-required' && stale.cookieReply);
  assert.throws(() => responder.checkMacs(withMac2, { underLoad: true }), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('index table: unique indices, collisions redrawn, released indices reusable', () => {
  const t = new IndexTable<string>(indexScript(7, 7, 7, 9));
  assert.equal(t.allocate('a'), 7);
  assert.equal(t.allocate('b'), 9);
  assert.equal(t.get(7), 'a');
  t.release(7);
  assert.equal(t.get(7), undefined);
  assert.equal(t.size, 1);
  const stuck = new IndexTable<string>(() => 5);
  stuck.allocate('x');
  assert.throws(() => stuck.allocate('y'), { code: 'ERR_WIREGUARD_NO_INDEX' });
});
