/**
 * The native WireGuard transport data path (src/native/wg) through its
 * test exports (addon_wg*.c): two devices whose keys mirror each other as
 * the two ends of one handshake, round trips, every drop counted by its
 * reason, staging, and argument validation with Node-style codes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import { test } from 'node:test';
import { loadBinding } from '../src/core/binding.js';
import type { WgEndpoint, WgHandle, WgNative, WgPeerStats, WgRxResult, WgTxResult } from '../src/wireguard/wg-native.js';

type Endpoint = WgEndpoint;
type TxResult = WgTxResult;
type RxResult = WgRxResult;
type PeerStats = WgPeerStats;
type Device = WgHandle;
/** wgSummaries' entries (the library reads them as a Float64Array: wgSummariesInto). */
interface Summary {
  peer: number;
  flags: number;
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  drops: number;
  staged: number;
}
/** The wg* exports of the addon (src/wireguard/wg-native.ts), and the test-only wgSummaries. */
type WgBinding = WgNative & { wgSummaries(d: Device): Summary[] };

const { binding, error } = loadBinding();
const wg = binding && 'wgCreate' in binding ? (binding as unknown as WgBinding) : null;
const skip = wg ? false : `the native addon is not available: ${error?.message ?? 'no wg exports'}`;

const T0 = 1000n * 1_000_000_000n;
const A_PEER = 7; // A as B knows it
const B_PEER = 1; // B as A knows it

function native(): WgBinding {
  assert.ok(wg);
  return wg;
}

function ok<T>(v: T | number): T {
  assert.notEqual(typeof v, 'number', `native call failed with ${String(v)}`);
  return v as T;
}

/** An IPv4 packet 10.0.0.<s> -> 10.0.0.<d> with a random payload. */
function ip4(s: number, d: number, payload: number): Buffer {
  const p = Buffer.concat([Buffer.alloc(20), randomBytes(payload)]);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  p.set([10, 0, 0, s], 12);
  p.set([10, 0, 0, d], 16);
  return p;
}

/** An IPv6 packet fd00::<s> -> fd00::<d>. */
function ip6(s: number, d: number, payload: number): Buffer {
  const p = Buffer.concat([Buffer.alloc(40), randomBytes(payload)]);
  p[0] = 0x60;
  p.writeUInt16BE(payload, 4);
  p[6] = 17;
  p[7] = 64;
  p[8] = 0xfd;
  p[23] = s;
  p[24] = 0xfd;
  p[39] = d;
  return p;
}

const v4 = (...b: number[]): Uint8Array => Uint8Array.from(b);
const v6 = (last: number): Uint8Array => {
  const a = new Uint8Array(16);
  a[0] = 0xfd;
  a[15] = last;
  return a;
};
const ep = (last: number, port = 51820): Endpoint => ({ family: 4, address: v4(192, 0, 2, last), port });

function drops(d: Device): Record<string, number> {
  const names = native().wgConstants.drops;
  const v = native().wgDrops(d);
  return Object.fromEntries(names.map((n, i) => [n, v[i] ?? -1]));
}

function summary(d: Device, peer: number): Summary | undefined {
  return native().wgSummaries(d).find((s) => s.peer === peer);
}

interface Pair {
  a: Device;
  b: Device;
  close(): void;
}

/** A (initiator) and B (responder) after one handshake; B's keypair is
 * "next" until A's first packet confirms it. */
function pair(withKeys = true, stagedCap = 0): Pair {
  const n = native();
  const a = ok<Device>(n.wgCreate(1420, stagedCap, 0));
  const b = ok<Device>(n.wgCreate(1420, stagedCap, 0));
  assert.equal(n.wgPeerAdd(a, B_PEER), 0);
  assert.equal(n.wgPeerAdd(b, A_PEER), 0);
  assert.equal(n.wgPeerEndpoint(a, B_PEER, ep(2)), 0);
  assert.equal(n.wgPeerEndpoint(b, A_PEER, ep(1)), 0);
  assert.equal(n.wgAllowedIpAdd(a, B_PEER, v4(10, 0, 0, 2), 32), 0);
  assert.equal(n.wgAllowedIpAdd(a, B_PEER, v6(2), 128), 0);
  assert.equal(n.wgAllowedIpAdd(b, A_PEER, v4(10, 0, 0, 1), 32), 0);
  assert.equal(n.wgAllowedIpAdd(b, A_PEER, v6(1), 128), 0);
  if (withKeys) installKeys({ a, b, close() {} }, 0x1111, 0x2222, T0);
  return {
    a,
    b,
    close() {
      n.wgClose(a);
      n.wgClose(b);
    },
  };
}

function installKeys(p: Pair, aIndex: number, bIndex: number, now: bigint): void {
  const ab = randomBytes(32);
  const ba = randomBytes(32);
  assert.equal(native().wgKeypairInstall(p.a, B_PEER, ab, ba, aIndex, bIndex, true, now), 0);
  assert.equal(native().wgKeypairInstall(p.b, A_PEER, ba, ab, bIndex, aIndex, false, now), 0);
  ab.fill(0);
  ba.fill(0);
}

const sources = (n: number, e: Endpoint): Endpoint[] => Array.from({ length: n }, () => e);

test('round trip: packets arrive intact, padded to 16 on the wire, and the reply goes to the roamed endpoint', { skip }, () => {
  const n = native();
  const p = pair();
  try {
    const pkts = [0, 1, 15, 16, 100, 1000, 1380, 1395].flatMap((s) => [ip4(1, 2, s), ip6(1, 2, s)]);
    const tx = ok<TxResult>(n.wgEncrypt(p.a, pkts, T0));
    assert.equal(tx.sent, pkts.length);
    tx.messages.forEach((m, i) => {
      const len = pkts[i]!.length;
      const padded = len > 1420 ? len : Math.min(Math.ceil(len / 16) * 16, 1420); // never past the MTU
      assert.equal(m.data.length, 32 + padded, `message ${i}`);
      assert.equal(m.data.readUInt32LE(0), 4);
      assert.equal(m.data.readUInt32LE(4), 0x2222);
      assert.equal(m.data.readBigUInt64LE(8), BigInt(i));
      assert.equal(m.peer, B_PEER);
      assert.deepEqual(m.endpoint, { family: 4, address: Buffer.from([192, 0, 2, 2]), port: 51820, scopeId: 0 });
    });
    const roamed = ep(99, 4000);
    const rx = ok<RxResult>(n.wgDecrypt(p.b, tx.messages.map((m) => m.data), sources(pkts.length, roamed), T0));
    assert.equal(rx.delivered, pkts.length);
    rx.packets.forEach((r, i) => {
      assert.equal(r.peer, A_PEER);
      assert.deepEqual(r.data, pkts[i], `packet ${i}`);
    });
    const f = n.wgConstants.flags;
    const s = summary(p.b, A_PEER);
    assert.ok(s);
    assert.equal(s.flags & f.keypairConfirmed!, f.keypairConfirmed);
    assert.equal(s.flags & f.endpointChanged!, f.endpointChanged);
    assert.equal(s.flags & f.dataReceived!, f.dataReceived);
    assert.equal(s.rxPackets, pkts.length);
    const back = ok<TxResult>(n.wgEncrypt(p.b, [ip4(2, 1, 300)], T0));
    assert.equal(back.messages[0]?.endpoint.port, 4000);
    const rxA = ok<RxResult>(n.wgDecrypt(p.a, back.messages.map((m) => m.data), null, T0));
    assert.equal(rxA.delivered, 1);
  } finally {
    p.close();
  }
});

test('drops are counted by reason and forged packets change nothing', { skip }, () => {
  const n = native();
  const p = pair();
  try {
    const tx = ok<TxResult>(n.wgEncrypt(p.a, [ip4(1, 2, 64), ip4(99, 2, 64), ip4(1, 77, 64)], T0));
    assert.equal(tx.sent, 2);
    assert.equal(drops(p.a).noRoute, 1);
    const [good, spoofed] = tx.messages.map((m) => m.data);
    assert.ok(good && spoofed);
    const flipped = Buffer.from(good);
    flipped.writeUInt8(flipped.readUInt8(flipped.length - 1) ^ 1, flipped.length - 1); // in the tag
    const jump = Buffer.from(good);
    jump.writeBigUInt64LE(1_000_000n, 8); // a forged counter far ahead
    const stranger = Buffer.from(good);
    stranger.writeUInt32LE(0x9999, 4);
    const init = Buffer.alloc(148);
    init[0] = 1;
    const dgs = [jump, flipped, good, Buffer.from(good), spoofed, stranger, init, Buffer.alloc(147, 1), Buffer.from([9])];
    const rx = ok<RxResult>(n.wgDecrypt(p.b, dgs, sources(dgs.length, ep(1)), T0));
    assert.equal(rx.delivered, 1, 'only the genuine packet: the forged jump did not move the window');
    assert.deepEqual(rx.handshakeMessages, [{ index: 6, type: 1 }]);
    const d = drops(p.b);
    assert.equal(d.auth, 2);
    assert.equal(d.replay, 1);
    assert.equal(d.sourceNotAllowed, 1);
    assert.equal(d.unknownIndex, 1);
    assert.equal(d.malformed, 2);
    assert.equal(rx.dropped, 7);
    const st = ok<PeerStats>(n.wgPeerStats(p.b, A_PEER));
    const names = n.wgConstants.drops;
    assert.equal(st.drops[names.indexOf('auth')], 2);
    assert.equal(st.drops[names.indexOf('unknownIndex')], 0, 'an unknown index names no peer');
  } finally {
    p.close();
  }
});

test('packets wait for keys, then leave first and in order; keepalives are owed and paid', { skip }, () => {
  const n = native();
  const p = pair(false, 8);
  try {
    const pkts = [ip4(1, 2, 10), ip4(1, 2, 20), ip4(1, 2, 30)];
    const tx = ok<TxResult>(n.wgEncrypt(p.a, pkts, T0));
    assert.deepEqual([tx.sent, tx.staged], [0, 3]);
    const s = summary(p.a, B_PEER);
    assert.ok(s && s.flags & n.wgConstants.flags.handshakeWanted! && s.staged === 3);
    installKeys(p, 0x1111, 0x2222, T0);
    const flushed = ok<TxResult>(n.wgFlushStaged(p.a, T0));
    assert.equal(flushed.sent, 3);
    const rx = ok<RxResult>(n.wgDecrypt(p.b, flushed.messages.map((m) => m.data), null, T0));
    assert.deepEqual(
      rx.packets.map((x) => x.data),
      pkts,
    );
    assert.equal(ok<PeerStats>(n.wgPeerStats(p.b, A_PEER)).owesKeepalive, true);
    const ka = ok<TxResult>(n.wgKeepalive(p.b, A_PEER, T0, true));
    assert.equal(ka.messages.length, 1);
    assert.equal(ka.messages[0]?.data.length, 32);
    assert.equal(ok<TxResult>(n.wgKeepalive(p.b, A_PEER, T0, true)).sent, 0, 'paid: not owed again');
    const rxKa = ok<RxResult>(n.wgDecrypt(p.a, ka.messages.map((m) => m.data), null, T0));
    assert.deepEqual([rxKa.keepalives, rxKa.delivered], [1, 0]);
    assert.equal(ok<PeerStats>(n.wgPeerStats(p.a, B_PEER)).rxKeepalives, 1);
  } finally {
    p.close();
  }
});

test('configuration: AllowedIPs listed canonically, keys and indices, errno results', { skip }, () => {
  const n = native();
  const p = pair();
  try {
    assert.equal(n.wgAllowedIpAdd(p.a, B_PEER, v4(10, 1, 2, 3), 16), 0);
    assert.deepEqual(n.wgAllowedIpList(p.a, B_PEER), [
      [Buffer.from([10, 0, 0, 2]), 32],
      [Buffer.from([10, 1, 0, 0]), 16],
      [Buffer.from(v6(2)), 128],
    ]);
    assert.equal(n.wgAllowedIpLookup(p.a, v4(10, 1, 200, 1)), B_PEER);
    assert.equal(n.wgAllowedIpRemove(p.a, B_PEER, v4(10, 1, 0, 0), 16), 0);
    assert.equal(n.wgAllowedIpLookup(p.a, v4(10, 1, 200, 1)), -constants.errno.ENOENT);
    assert.equal(n.wgPeerAdd(p.a, B_PEER), -constants.errno.EEXIST);
    assert.equal(n.wgPeerRemove(p.a, 3), -constants.errno.ENOENT);
    assert.equal(n.wgIndexInUse(p.a, 0x1111), true);
    const k = randomBytes(32);
    assert.equal(n.wgKeypairInstall(p.a, B_PEER, k, k, 0x1111, 1, true, T0), -constants.errno.EEXIST);
    assert.equal(n.wgKeypairsClear(p.a, B_PEER), 0);
    assert.equal(n.wgIndexInUse(p.a, 0x1111), false);
    assert.equal(n.wgPeerRemove(p.a, B_PEER), 0);
    assert.equal(n.wgAllowedIpLookup(p.a, v4(10, 0, 0, 2)), -constants.errno.ENOENT);
  } finally {
    p.close();
  }
});

test('bad arguments throw Node-style coded errors', { skip }, () => {
  const n = native();
  const d = ok<Device>(n.wgCreate(1420, 0, 0));
  const k = randomBytes(32);
  try {
    assert.throws(() => n.wgCreate('1420' as unknown as number, 0, 0), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => n.wgCreate(1420, -1, 0), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => n.wgCreate(1420, 0, 1.5), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => (n.wgPeerAdd as (d: Device) => number)(d), { code: 'ERR_MISSING_ARGS' });
    assert.throws(() => n.wgPeerAdd({}, 1), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => n.wgPeerAdd(d, n.wgConstants.maxPeerId + 1), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => n.wgPeerAdd(d, NaN), { code: 'ERR_OUT_OF_RANGE' });
    assert.equal(n.wgPeerAdd(d, 1), 0);
    assert.throws(() => n.wgAllowedIpAdd(d, 1, new Uint8Array(5), 8), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => n.wgAllowedIpAdd(d, 1, [10, 0, 0, 1] as unknown as Uint8Array, 8), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
    assert.throws(() => n.wgAllowedIpAdd(d, 1, v4(10, 0, 0, 0), 129), { code: 'ERR_OUT_OF_RANGE' });
    assert.equal(n.wgAllowedIpAdd(d, 1, v4(10, 0, 0, 0), 33), -constants.errno.EINVAL);
    assert.throws(() => n.wgKeypairInstall(d, 1, k.subarray(1), k, 1, 2, true, T0), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => n.wgKeypairInstall(d, 1, k, k, 1, 2, true, 5 as unknown as bigint), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
    assert.throws(() => n.wgKeypairInstall(d, 1, k, k, 1, 2, true, -1n), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => n.wgKeypairInstall(d, 1, k, k, 1, 2, 'yes' as unknown as boolean, T0), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
    assert.throws(() => n.wgPeerEndpoint(d, 1, { family: 4, address: v6(1), port: 1 }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => n.wgPeerEndpoint(d, 1, { family: 4, address: v4(1, 2, 3, 4), port: 70000 }), {
      code: 'ERR_OUT_OF_RANGE',
    });
    assert.throws(() => n.wgEncrypt(d, 'x' as unknown as Uint8Array[], T0), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => n.wgEncrypt(d, [Buffer.alloc(20), 'x' as unknown as Uint8Array], T0), {
      code: 'ERR_INVALID_ARG_TYPE',
    });
    assert.throws(() => n.wgDecrypt(d, [Buffer.alloc(32)], [], T0), { code: 'ERR_OUT_OF_RANGE' });
    // Lengths are never trusted: an oversized or empty input is a counted drop.
    const big = ok<TxResult>(n.wgEncrypt(d, [Buffer.alloc(70000, 0x45)], T0));
    assert.equal(big.dropped, 1);
    const rx = ok<RxResult>(n.wgDecrypt(d, [Buffer.alloc(0), Buffer.alloc(70000, 4)], null, T0));
    assert.equal(rx.dropped, 2);
    assert.equal(drops(d).malformed, 2);
  } finally {
    assert.equal(n.wgClose(d), 0);
  }
  assert.throws(() => n.wgPeerAdd(d, 2), { code: 'ERR_INVALID_STATE' });
  assert.equal(n.wgClose(d), 0, 'closing twice is fine');
});
