/**
 * The WireGuard device's timers on a ManualClock shared by both ends (no
 * real waiting: time moves only when a test advances it, in steps after
 * each of which the packets the timers sent are let arrive; packets go
 * through the real TUN and UDP paths): rekey after Rekey-After-Time, keys
 * rejected and dropped after Reject-After-Time (with their receiver
 * indices released), the passive keepalive after Keepalive-Timeout,
 * persistent keepalive, nothing left of a session after 3 x
 * Reject-After-Time, and giving up on a handshake that never completes.
 *
 * Needs root (namespaces, TUN devices); skips saying why otherwise.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  KEEPALIVE_TIMEOUT_MS,
  MAX_TIMER_HANDSHAKES,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_TIME_MS,
  REKEY_TIMEOUT_MS,
} from '../src/wireguard/timers.js';
import { INITIATION_SIZE, KEEPALIVE_SIZE, RESPONSE_SIZE } from '../src/wireguard/messages.js';
import { tunSkipReason } from './netns.js';
import { INNER_B, LocalPair } from './wg-harness.js';

const skip = tunSkipReason(['ping']);
/** Beyond every retransmission jitter (at most 333 ms). */
const JITTER = 400;
/** Inside B's AllowedIPs at A but not B's own address: B's kernel drops it without an answer. */
const SILENT = '10.77.0.50';

/** A pair with a completed handshake (A initiated, B confirmed). */
async function connected(o: Parameters<typeof LocalPair.create>[0] = {}): Promise<LocalPair> {
  const p = await LocalPair.create({ manual: true, peerOfA: { allowedIPs: [`${INNER_B}/32`, `${SILENT}/32`] }, ...o });
  try {
    const r = await p.ping();
    assert.equal(r.code, 0, `ping: ${r.stdout}${r.stderr}`);
    await p.until(() => p.count('b', 'handshake') === 1, 'B confirmed the keys');
    return p;
  } catch (err) {
    await p.destroy();
    throw err;
  }
}

const peer = (p: LocalPair, d: 'a' | 'b') => p[d].stats().peers[0]!;

/** A default ping (84-byte IPv4 packet) padded to 96, plus header and tag: 128 bytes on the wire. */
const PING_MESSAGE = 128;

test('transfer counters count handshake messages too (initiation 148, response 92), as wg(8) shows them', { skip, timeout: 60_000 }, async () => {
  const p = await connected();
  try {
    await p.settle();
    const a = peer(p, 'a');
    const b = peer(p, 'b');
    // Every transport message here is a ping, a pong or a keepalive.
    const transport = (s: typeof a) => PING_MESSAGE * (s.txPackets - s.txKeepalives) + KEEPALIVE_SIZE * s.txKeepalives;
    assert.equal(p.a.stats().handshake.initiationsSent, 1);
    assert.equal(p.b.stats().handshake.responsesSent, 1);
    assert.equal(a.txBytes, INITIATION_SIZE + transport(a), 'A sent one initiation and its transport messages');
    assert.equal(b.txBytes, RESPONSE_SIZE + transport(b), 'B sent one response and its transport messages');
    assert.equal(b.rxBytes, a.txBytes, 'B received all A sent (loopback, settled)');
    assert.equal(a.rxBytes, b.txBytes, 'A received all B sent');
  } finally {
    await p.destroy();
  }
});

test('rekey: the initiator starts a new handshake when it sends under keys older than Rekey-After-Time', { skip, timeout: 60_000 }, async () => {
  const p = await connected();
  try {
    await p.advance(REKEY_AFTER_TIME_MS - 1000);
    assert.equal((await p.ping()).code, 0);
    assert.equal(p.a.stats().handshake.initiationsSent, 1, 'young keys: no rekey');
    await p.advance(2000);
    assert.equal((await p.ping()).code, 0, 'the old keys still carry the packet');
    await p.until(() => p.count('a', 'handshake') === 2 && peer(p, 'a').handshakes === 2, 'A rekeyed');
    assert.equal(p.a.stats().handshake.initiationsSent, 2);
    // B confirms the new keys with A's next data packet.
    assert.equal((await p.ping()).code, 0);
    await p.until(() => p.count('b', 'handshake') === 2, 'B confirmed the new keys');
    assert.equal(peer(p, 'a').keypairs, 2, 'current and previous');
    assert.equal(p.a.stats().handshake.indices, 2, 'one live index per keypair');
  } finally {
    await p.destroy();
  }
});

test('reject: keys older than Reject-After-Time are dropped and their indices released; new data starts a new handshake', { skip, timeout: 60_000 }, async () => {
  const p = await connected();
  try {
    assert.equal(peer(p, 'a').keypairs, 1);
    await p.advance(REJECT_AFTER_TIME_MS + 1);
    assert.equal(peer(p, 'a').keypairs, 0, "A's keys expired");
    assert.equal(peer(p, 'b').keypairs, 0, "B's keys expired");
    assert.equal(p.a.stats().handshake.indices, 0, 'indices released with the keys');
    assert.equal(p.b.stats().handshake.indices, 0);
    assert.equal((await p.ping()).code, 0, 'a fresh handshake carries the packet');
    assert.equal(p.count('a', 'handshake'), 2);
  } finally {
    await p.destroy();
  }
});

test('passive keepalive: data received and nothing sent back for Keepalive-Timeout sends one keepalive', { skip, timeout: 60_000 }, async () => {
  const p = await connected();
  try {
    const before = peer(p, 'a').rxKeepalives;
    await p.ping(SILENT, [], 1); // reaches B, which answers nothing
    await p.until(() => peer(p, 'b').rxPackets >= 2, 'B got the packet');
    await p.advance(KEEPALIVE_TIMEOUT_MS - 100);
    assert.equal(peer(p, 'b').txKeepalives, 0, 'not before the timeout');
    await p.advance(200);
    await p.until(() => peer(p, 'a').rxKeepalives === before + 1, 'A received the keepalive');
    await p.advance(3 * KEEPALIVE_TIMEOUT_MS);
    assert.equal(peer(p, 'b').txKeepalives, 1, 'one keepalive, not a stream of them');
  } finally {
    await p.destroy();
  }
});

test('persistent keepalive: every N seconds without traffic', { skip, timeout: 60_000 }, async () => {
  const p = await connected({ peerOfA: { allowedIPs: [`${INNER_B}/32`], persistentKeepalive: 25 } });
  try {
    const sent = peer(p, 'a').txKeepalives;
    await p.advance(25_000 + 10);
    await p.until(() => peer(p, 'b').rxKeepalives >= 1, 'B received the persistent keepalive');
    await p.advance(25_000 + 10);
    await p.until(() => peer(p, 'a').txKeepalives >= sent + 2, 'a second one');
    assert.equal(p.a.getConfig().peers[0]!.persistentKeepalive, 25);
  } finally {
    await p.destroy();
  }
});

test('after 3 x Reject-After-Time without a new handshake nothing of the sessions is left: no keypair, no receiver index', { skip, timeout: 60_000 }, async () => {
  const p = await connected();
  try {
    // Keep the session busy past Rekey-After-Time so both keypairs exist.
    await p.advance(REKEY_AFTER_TIME_MS + 1000);
    assert.equal((await p.ping()).code, 0);
    await p.until(() => peer(p, 'a').handshakes === 2, 'rekeyed');
    assert.ok(peer(p, 'a').keypairs >= 1);
    await p.advance(3 * REJECT_AFTER_TIME_MS + 1000);
    for (const d of ['a', 'b'] as const) {
      assert.equal(peer(p, d).keypairs, 0, `${d}: no key left`);
      assert.equal(p[d].stats().handshake.indices, 0, `${d}: no index left`);
    }
  } finally {
    await p.destroy();
  }
});

test('give up: a handshake that never completes is retried every Rekey-Timeout, then abandoned with its staged packets', { skip, timeout: 60_000 }, async () => {
  // A's peer points at a port nobody answers on.
  const p = await LocalPair.create({ manual: true, peerOfA: { endpoint: '127.0.0.1:9' } });
  try {
    await p.ping(INNER_B, [], 1);
    await p.until(() => peer(p, 'a').staged === 1, 'the ping waits staged');
    assert.equal(p.a.stats().handshake.initiationsSent, 1);
    for (let i = 0; i < MAX_TIMER_HANDSHAKES + 2; i++) p.clock!.advance(REKEY_TIMEOUT_MS + JITTER);
    const s = p.a.stats();
    assert.equal(s.handshake.initiationsSent, 1 + MAX_TIMER_HANDSHAKES + 1, 'the first, then one per retry until the timers give up');
    assert.equal(s.peers[0]!.staged, 0, 'staged packets dropped on giving up');
    p.clock!.advance(10 * (REKEY_TIMEOUT_MS + JITTER));
    assert.equal(p.a.stats().handshake.initiationsSent, 1 + MAX_TIMER_HANDSHAKES + 1, 'no more attempts without new data');
  } finally {
    await p.destroy();
  }
});
