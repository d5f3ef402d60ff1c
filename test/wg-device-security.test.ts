/**
 * What a WireGuard device lets through: only authenticated packets whose
 * inner source belongs to the sending peer reach the TUN device; replayed,
 * forged, unknown-index and malformed datagrams are dropped and counted by
 * reason; a wrong preshared key or public key never completes a
 * handshake; under load, handshakes need a cookie first. Two devices in
 * this process (test/wg-harness.ts), TUN interfaces in namespaces.
 *
 * Needs root (namespaces, TUN devices); skips saying why otherwise.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { generatePresharedKey, generatePrivateKey, publicKeyFromPrivate } from '../src/index.js';
import { tunSkipReason } from './netns.js';
import { INNER_B, LocalPair } from './wg-harness.js';

const skip = tunSkipReason(['ping']);

test('only authenticated packets reach the TUN device: replays, forgeries, unknown indices, malformed and disallowed sources are dropped by reason', { skip, timeout: 60_000 }, async () => {
  const p = await LocalPair.create({ relay: true });
  try {
    const r = await p.ping();
    assert.equal(r.code, 0, `ping: ${r.stdout}${r.stderr}`);
    const relay = p.relay!;
    const transport = relay.fromA.filter((m) => m[0] === 4 && m.length > 32);
    assert.ok(transport.length >= 1, 'A sent data through the relay');
    const before = p.b.stats();
    const tunBefore = before.tun.packetsOut;

    // Replays of every data message A sent.
    for (const m of transport) relay.toB(m);
    // Forgeries: a flipped ciphertext byte, a flipped tag byte.
    const sample = transport[0]!;
    const flip = (at: number): Buffer => {
      const f = Buffer.from(sample);
      f[at]! ^= 0x40;
      // A fresh counter, so the replay window cannot be what refuses it.
      f.writeBigUInt64LE(1n << 40n, 8);
      return f;
    };
    relay.toB(flip(20));
    relay.toB(flip(sample.length - 1));
    // A receiver index nobody has.
    const stranger = Buffer.from(sample);
    stranger.writeUInt32LE((sample.readUInt32LE(4) ^ 0x5a5a5a5a) >>> 0, 4);
    relay.toB(stranger);
    // Malformed: too short, a handshake type with the wrong size, an unknown type.
    relay.toB(Buffer.from([4, 0, 0]));
    relay.toB(Buffer.concat([Buffer.from([1, 0, 0, 0]), randomBytes(100)]));
    relay.toB(Buffer.concat([Buffer.from([9, 0, 0, 0]), randomBytes(60)]));
    // A well-formed initiation with a wrong mac1.
    relay.toB(Buffer.concat([Buffer.from([1, 0, 0, 0]), randomBytes(144)]));

    const want = {
      replay: before.drops.replay + transport.length,
      auth: before.drops.auth + 2,
      unknownIndex: before.drops.unknownIndex + 1,
      malformed: before.drops.malformed + 3,
    };
    await p.until(() => {
      const d = p.b.stats().drops;
      return d.replay >= want.replay && d.auth >= want.auth && d.unknownIndex >= want.unknownIndex && d.malformed >= want.malformed && (p.b.stats().handshakeDrops['bad-mac1'] ?? 0) >= 1;
    }, 'every injected datagram counted');
    const after = p.b.stats();
    assert.equal(after.drops.replay, want.replay);
    assert.equal(after.drops.auth, want.auth);
    assert.equal(after.drops.unknownIndex, want.unknownIndex);
    assert.equal(after.drops.malformed, want.malformed);
    assert.equal(after.handshakeDrops['bad-mac1'], 1);
    assert.equal(after.peers[0]!.drops.replay, transport.length, 'replays are counted against the peer whose keys they name');
    assert.equal(after.tun.packetsOut, tunBefore, 'nothing injected reached the TUN device');
    assert.equal(after.peers[0]!.endpoint, before.peers[0]!.endpoint, 'no forged or replayed packet moved the endpoint');

    // An authenticated packet whose inner source is not A's: dropped at B.
    p.nsA.ip('addr', 'add', '10.77.0.9/32', 'dev', p.a.tun.name);
    const r2 = await p.ping(INNER_B, ['-I', '10.77.0.9'], 1);
    assert.notEqual(r2.code, 0, 'no reply: B dropped it');
    await p.until(() => p.b.stats().drops.sourceNotAllowed === 1, 'sourceNotAllowed counted');
    assert.equal(p.b.stats().tun.packetsOut, tunBefore);
    // The tunnel still works for allowed traffic.
    assert.equal((await p.ping()).code, 0);
  } finally {
    await p.destroy();
  }
});

test('a wrong preshared key never completes a handshake: the response does not authenticate', { skip, timeout: 60_000 }, async () => {
  const p = await LocalPair.create({
    manual: true,
    peerOfA: { presharedKey: generatePresharedKey() },
    peerOfB: { presharedKey: generatePresharedKey() },
  });
  try {
    const ping = p.ping(INNER_B, [], 2);
    await p.until(() => (p.a.stats().handshakeDrops['decrypt-failed'] ?? 0) === 1, 'A refused the response');
    // The retransmission (Rekey-Timeout + jitter) fails the same way.
    p.clock!.advance(5_400);
    await p.until(() => (p.a.stats().handshakeDrops['decrypt-failed'] ?? 0) === 2, 'A refused the second response');
    assert.notEqual((await ping).code, 0);
    assert.equal(p.count('a', 'handshake') + p.count('b', 'handshake'), 0);
    const a = p.a.stats();
    const b = p.b.stats();
    assert.equal(a.peers[0]!.keypairs, 0, 'the initiator never derived keys');
    assert.equal(a.peers[0]!.staged, 1, 'the ping waits for keys that never come');
    assert.equal(b.handshake.responsesSent, 2);
    assert.equal(b.peers[0]!.handshakes, 0, 'the responder never saw its keys confirmed');
    assert.equal(b.tun.packetsOut, 0);
  } finally {
    await p.destroy();
  }
});

test('a wrong public key never completes a handshake: the initiation fails mac1 at the real peer', { skip, timeout: 60_000 }, async () => {
  const p = await LocalPair.create({ manual: true, peerOfA: { publicKey: publicKeyFromPrivate(generatePrivateKey()) } });
  try {
    const ping = p.ping(INNER_B, [], 1);
    await p.until(() => (p.b.stats().handshakeDrops['bad-mac1'] ?? 0) === 1, 'B refused the initiation');
    assert.notEqual((await ping).code, 0);
    assert.equal(p.b.stats().handshake.responsesSent, 0);
    assert.equal(p.count('a', 'handshake') + p.count('b', 'handshake'), 0);
    assert.equal(p.b.stats().peers[0]!.keypairs, 0);
  } finally {
    await p.destroy();
  }
});

test('under load a handshake needs a cookie: the first initiation gets a cookie reply, the retry with mac2 completes', { skip, timeout: 60_000 }, async () => {
  const p = await LocalPair.create({ manual: true, b: { underLoadThreshold: 0 } });
  try {
    const ping = p.ping(INNER_B, [], 10);
    await p.until(() => p.a.stats().handshake.cookiesReceived === 1, 'A took the cookie');
    assert.equal(p.b.stats().handshake.cookiesSent, 1);
    assert.equal(p.b.stats().handshakeDrops['cookie-required'], 1);
    assert.equal(p.count('a', 'handshake'), 0, 'no handshake before the retry');
    p.clock!.advance(5_400); // Rekey-Timeout + jitter: the retry carries mac2
    await p.until(() => p.count('a', 'handshake') === 1, 'handshake after the cookie');
    assert.equal((await ping).code, 0, 'the staged ping went through');
    assert.equal(p.b.stats().handshake.cookiesSent, 1, 'the retry needed no second cookie');
  } finally {
    await p.destroy();
  }
});
