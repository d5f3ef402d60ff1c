/**
 * Interop with Debian's wireguard-go and wireguard-tools, as a user would
 * run them: each end in a network namespace of its own on one LAN (a
 * bridge), ours started as `iouring-net wireguard -f NAME`, wireguard-go
 * as `wireguard-go -f NAME`, both configured with `wg set` and `ip` (see
 * test/wg-interop.ts).
 *
 * 1. The harness itself, wireguard-go <-> wireguard-go: handshake, ping, TCP.
 * 2. Ours <-> wireguard-go, the handshake initiated by each side in turn:
 *    ping, `wg show` (dump and human form) field by field on both ends,
 *    transfer counters equal across the ends, clean exit on SIGTERM.
 * 3. TCP each way (sha256 equal at both ends).
 * 4. Three namespaces: ours with two wireguard-go peers, routed by AllowedIPs.
 * 5. Roaming: the wireguard-go end changes its address mid-transfer.
 * 6. Persistent keepalives, seen in the counters of both ends.
 * 7. A wrong public key or a wrong preshared key never completes a handshake
 *    (and the right preshared key does).
 * 8. Replayed and forged transport messages (through a relay) are dropped
 *    and counted by reason, and never counted as received.
 * 9. wg-quick up and down with WG_QUICK_USERSPACE_IMPLEMENTATION set to ours.
 * 10. Handshake and ping on the mmsg and dgram UDP backends.
 *
 * Transfers are 100 MB each way; the roaming transfer is 30 MB (it only
 * needs to be running when the address changes). Skips (saying why) when
 * not root or without wg/wireguard-go (scripts/ensure-tools.sh installs
 * them).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { generatePresharedKey, generatePrivateKey, keyToBase64, publicKeyFromPrivate } from '../src/index.js';
import { tunSkipReason } from './netns.js';
import { interopSkipReason, Lan, netnsPids, RELAY_SCRIPT, tcpTransfer, waitFor, type WgNode } from './wg-interop.js';
import { CLI, type Proc } from './tunnel-pair.js';

const skip = interopSkipReason(tunSkipReason(['ping']));
const MB = 1000 * 1000;

function sockPath(n: WgNode): string {
  return `/var/run/wireguard/${n.name}.sock`;
}

/** Stop our daemon: status 0, interface and socket gone. */
async function stopOurs(n: WgNode): Promise<void> {
  assert.equal(await n.stop(), 0, `exit status after SIGTERM:\n${n.proc.stderr}`);
  assert.equal(n.ns.hasLink(n.name), false, 'the interface is removed');
  assert.equal(existsSync(sockPath(n)), false, 'the UAPI socket is removed');
}

test('harness: wireguard-go <-> wireguard-go (handshake, ping, TCP)', { skip, timeout: 120_000 }, async () => {
  const lan = Lan.create('wgh');
  try {
    const a = lan.node('wggo');
    const b = lan.node('wggo');
    await a.start();
    await b.start();
    a.addPeer(b);
    b.addPeer(a);
    assert.ok(await a.ping(b), 'ping across wireguard-go');
    const t = await tcpTransfer(a, b, 10 * MB, 9000);
    assert.equal(t.got.bytes, 10 * MB);
    assert.equal(t.got.sha256, t.sent.sha256);
    assert.ok(a.peer(b).latestHandshake > 0 && b.peer(a).latestHandshake > 0);
  } finally {
    await lan.destroy();
  }
});

/** `wg show NAME` in human form: the lines of one peer's section. */
function humanPeer(n: WgNode, other: WgNode): string {
  const text = n.wg(['show', n.name]);
  const start = text.indexOf(`peer: ${other.publicKey}`);
  assert.ok(start >= 0, `wg show lists the peer:\n${text}`);
  const rest = text.slice(start);
  const end = rest.indexOf('\n\n');
  return end < 0 ? rest : rest.slice(0, end);
}

for (const initiator of ['ours', 'wggo'] as const) {
  test(`ours <-> wireguard-go, handshake initiated by ${initiator === 'ours' ? 'ours' : 'wireguard-go'}: ping, wg show field by field, exit`, { skip, timeout: 120_000 }, async () => {
    const lan = Lan.create('wgp');
    try {
      const ours = lan.node('ours');
      const go = lan.node('wggo');
      await ours.start();
      await go.start();
      ours.addPeer(go);
      go.addPeer(ours);
      const t0 = Math.floor(Date.now() / 1000);
      const [first, second] = initiator === 'ours' ? [ours, go] : [go, ours];
      assert.ok(await first.ping(second), `ping from ${first.kind}`);
      await waitFor(() => /handshake completed/.test(ours.proc.stdout), 5000, 'our handshake log line', ours.proc);
      assert.match(ours.proc.stdout, new RegExp(`peer ${go.publicKey.replace(/[+/]/g, '\\$&')}: handshake completed \\(${initiator === 'ours' ? 'initiator' : 'responder'}\\)`));
      assert.ok(await second.ping(first), `ping back from ${second.kind}`);
      const t1 = Math.ceil(Date.now() / 1000);

      // Both ends agree, field by field (`wg show NAME dump`).
      const d = ours.dump();
      assert.equal(d.privateKey, ours.privateKey);
      assert.equal(d.publicKey, ours.publicKey);
      assert.equal(d.listenPort, 51820);
      assert.equal(d.fwmark, 'off');
      assert.equal(d.peers.length, 1);
      const p = ours.peer(go);
      const q = go.peer(ours);
      assert.equal(p.presharedKey, '(none)');
      assert.equal(p.endpoint, go.endpoint);
      assert.equal(q.endpoint, ours.endpoint);
      assert.equal(p.allowedIPs, `${go.inner}/32`);
      assert.equal(p.persistentKeepalive, 'off');
      for (const hs of [p.latestHandshake, q.latestHandshake]) assert.ok(hs >= t0 && hs <= t1, `latest handshake ${hs} in [${t0}, ${t1}]`);
      // Every byte one end sent, the other received (handshakes and pings; nothing else flows).
      let counters = '';
      await waitFor(() => {
        const [x, y] = [ours.peer(go), go.peer(ours)];
        counters = JSON.stringify({ ours: x, go: y });
        return x.tx === y.rx && x.rx === y.tx;
      }, 5000, 'the transfer counters of both ends to agree').catch((err: Error) => {
        throw new Error(`${err.message}: ${counters}`);
      });
      const p2 = ours.peer(go);
      assert.ok(p2.rx > 0 && p2.tx > 0, JSON.stringify(p2));

      // The human form shows the same.
      const h = humanPeer(ours, go);
      assert.match(h, new RegExp(`\\n  endpoint: ${go.endpoint.replace(/\./g, '\\.')}\\n`));
      assert.match(h, /\n {2}allowed ips: 10\.78\.0\.2\/32\n/);
      assert.match(h, /\n {2}latest handshake: (Now|\d+ seconds? ago)\n/);
      assert.match(h, /\n {2}transfer: [\d.]+ [KMG]?i?B received, [\d.]+ [KMG]?i?B sent/);
      assert.doesNotMatch(h, /persistent keepalive/);

      await stopOurs(ours);
    } finally {
      await lan.destroy();
    }
  });
}

/** Ours (node 1) and wireguard-go (node 2), configured for each other and pinged once. */
async function pair(lan: Lan, env: Record<string, string> = {}): Promise<[WgNode, WgNode]> {
  const ours = lan.node('ours');
  const go = lan.node('wggo');
  await ours.start(env);
  await go.start();
  ours.addPeer(go);
  go.addPeer(ours);
  assert.ok(await ours.ping(go), 'ping across');
  return [ours, go];
}

test('ours <-> wireguard-go: 100 MB of TCP each way, equal sha256', { skip, timeout: 300_000 }, async () => {
  const lan = Lan.create('wgt');
  try {
    const [ours, go] = await pair(lan);
    for (const [from, to, port] of [[ours, go, 9001], [go, ours, 9002]] as const) {
      const t = await tcpTransfer(from, to, 100 * MB, port);
      assert.equal(t.sent.bytes, 100 * MB);
      assert.equal(t.got.bytes, 100 * MB, `${from.kind} -> ${to.kind}: every byte arrived`);
      assert.equal(t.got.sha256, t.sent.sha256, `${from.kind} -> ${to.kind}: checksums match`);
    }
    // Both directions carried the data: over 100 MB each way in each end's counters.
    const p = ours.peer(go);
    assert.ok(p.tx > 100 * MB && p.rx > 100 * MB, JSON.stringify(p));
    await stopOurs(ours);
  } finally {
    await lan.destroy();
  }
});

test('three namespaces: ours with two wireguard-go peers, routed by AllowedIPs', { skip, timeout: 120_000 }, async () => {
  const lan = Lan.create('wg3');
  try {
    const ours = lan.node('ours');
    const b = lan.node('wggo');
    const c = lan.node('wggo');
    for (const n of [ours, b, c]) await n.start();
    ours.addPeer(b);
    ours.addPeer(c);
    b.addPeer(ours);
    c.addPeer(ours);
    assert.ok(await ours.ping(b), 'ping B');
    const cBefore = c.peer(ours);
    assert.equal(cBefore.rx, 0, 'nothing for B reached C');
    assert.ok(await ours.ping(c), 'ping C');
    assert.ok(await b.ping(ours) && await c.ping(ours), 'pings back');
    const d = ours.dump();
    assert.deepEqual(
      d.peers.map((p) => [p.publicKey, p.allowedIPs, p.endpoint]).sort(),
      [
        [b.publicKey, `${b.inner}/32`, b.endpoint],
        [c.publicKey, `${c.inner}/32`, c.endpoint],
      ].sort(),
    );
    for (const [peer, other] of [[b, c], [c, b]] as const) {
      const mine = ours.peer(peer);
      const theirs = peer.peer(ours);
      assert.ok(mine.latestHandshake > 0 && mine.rx > 0 && mine.tx > 0, JSON.stringify(mine));
      await waitFor(() => ours.peer(peer).tx === peer.peer(ours).rx && ours.peer(peer).rx === peer.peer(ours).tx, 5000, 'counters to agree');
      assert.ok(theirs.latestHandshake > 0);
      // The other peer's key is unknown to this one: only ours talks to it.
      assert.equal(peer.dump().peers.some((p) => p.publicKey === other.publicKey), false);
    }
    // A packet for an address no peer has is not sent to anyone.
    const txBefore = ours.dump().peers.map((p) => p.tx);
    assert.equal(await ours.ping({ inner: '10.78.0.9' } as WgNode, 1, 1), false);
    assert.deepEqual(ours.dump().peers.map((p) => p.tx), txBefore, 'no peer got a packet for 10.78.0.9');
    await stopOurs(ours);
  } finally {
    await lan.destroy();
  }
});

test('roaming: ours changes its address mid-transfer; wireguard-go follows', { skip, timeout: 180_000 }, async () => {
  const lan = Lan.create('wgr');
  try {
    const [ours, go] = await pair(lan);
    const moved = '10.77.0.11';
    const transfer = tcpTransfer(ours, go, 30 * MB, 9003);
    await waitFor(() => ours.peer(go).tx > 2 * MB, 60_000, 'the transfer to start');
    // (In this order: deleting a primary address deletes its secondaries.)
    ours.ns.ip('addr', 'del', `${ours.outer}/24`, 'dev', 'veth0');
    ours.ns.ip('addr', 'add', `${moved}/24`, 'dev', 'veth0');
    const t = await transfer;
    assert.equal(t.got.bytes, 30 * MB);
    assert.equal(t.got.sha256, t.sent.sha256);
    assert.equal(go.peer(ours).endpoint, `${moved}:${ours.port}`, 'wireguard-go follows our move');
    assert.ok(await go.ping(ours), 'ping after the move');
    await stopOurs(ours);
  } finally {
    await lan.destroy();
  }
});

/**
 * wireguard-go behind a relay in its namespace (test/wg-relay-child.ts):
 * our device sees it at the relay's outer address. Ours has no endpoint for
 * it and learns the relay's from wireguard-go's handshake.
 */
async function behindRelay(lan: Lan): Promise<{ ours: WgNode; go: WgNode; relay: Proc; outer: string }> {
  const ours = lan.node('ours');
  const go = lan.node('wggo');
  await ours.start();
  await go.start();
  go.ns.ip('addr', 'add', `${MOVED}/24`, 'dev', 'veth0');
  const relay = lan.run(go.ns, [process.execPath, RELAY_SCRIPT, '127.0.0.1', '40000', go.outer, ours.outer, String(ours.port), MOVED]);
  const outer = (await relay.waitFor(/READY (\S+)\n/, 20_000, 'the relay'))[1] ?? '';
  ours.wg(['set', ours.name, 'peer', go.publicKey, 'allowed-ips', `${go.inner}/32`]);
  go.wg(['set', go.name, 'peer', ours.publicKey, 'allowed-ips', `${ours.inner}/32`, 'endpoint', '127.0.0.1:40000']);
  assert.ok(await go.ping(ours), 'ping through the relay, wireguard-go initiating');
  assert.equal(ours.peer(go).endpoint, outer, 'ours learned the endpoint from the handshake');
  return { ours, go, relay, outer };
}

const MOVED = '10.77.0.12';

test('roaming: the peer\'s address changes mid-transfer (a NAT rebinding); ours follows', { skip, timeout: 180_000 }, async () => {
  const lan = Lan.create('wgn');
  try {
    const { ours, go, relay, outer } = await behindRelay(lan);
    const transfer = tcpTransfer(go, ours, 30 * MB, 9004);
    await waitFor(() => ours.peer(go).rx > 2 * MB, 60_000, 'the transfer to start');
    relay.signal('SIGHUP');
    const moved = (await relay.waitFor(/moved (\S+)\n/, 10_000, 'the relay to move'))[1] ?? '';
    assert.notEqual(moved, outer);
    const t = await transfer;
    assert.equal(t.got.bytes, 30 * MB);
    assert.equal(t.got.sha256, t.sent.sha256);
    assert.equal(ours.peer(go).endpoint, moved, 'our endpoint follows the peer');
    assert.ok(ours.proc.stdout.includes(`endpoint ${moved}`), 'the roam was logged');
    assert.ok(await ours.ping(go), 'ping after the move');
    await stopOurs(ours);
  } finally {
    await lan.destroy();
  }
});

test('persistent keepalives are sent and received (counters of both ends)', { skip, timeout: 120_000 }, async () => {
  const lan = Lan.create('wgk');
  try {
    const [ours, go] = await pair(lan);
    ours.addPeer(go, ['persistent-keepalive', '1']);
    go.addPeer(ours, ['persistent-keepalive', '1']);
    assert.equal(ours.peer(go).persistentKeepalive, '1');
    assert.match(humanPeer(ours, go), /\n {2}persistent keepalive: every 1 second\n?/);
    // With nothing else to send, each end's keepalives (32-byte transport
    // messages) reach the other: three of ours counted by wireguard-go, and
    // three of its counted by ours.
    const s0 = await ours.stats();
    const rx0 = go.peer(ours).rx;
    await waitFor(() => go.peer(ours).rx >= rx0 + 3 * 32, 15_000, 'three keepalives from ours');
    let s1 = await ours.stats();
    await waitFor(
      () => {
        const p0 = s0.peers[0];
        const p1 = s1.peers[0];
        return p0 !== undefined && p1 !== undefined && p1.rxKeepalives >= p0.rxKeepalives + 3 && p1.txKeepalives >= p0.txKeepalives + 3;
      },
      15_000,
      'three keepalives each way in our counters',
      ours.proc,
      async () => {
        await new Promise((r) => setTimeout(r, 200));
        s1 = await ours.stats();
      },
    );
    assert.equal((go.peer(ours).rx - rx0) % 32, 0, 'only keepalives flowed');
    await stopOurs(ours);
  } finally {
    await lan.destroy();
  }
});

/** A base64 key that no node has. */
function strangerKey(): string {
  return keyToBase64(publicKeyFromPrivate(generatePrivateKey()));
}

test('a wrong public key never completes a handshake', { skip, timeout: 120_000 }, async () => {
  const lan = Lan.create('wgw');
  try {
    const ours = lan.node('ours');
    const go = lan.node('wggo');
    await ours.start();
    await go.start();
    // Ours knows the peer by a key that is not its own; wireguard-go knows ours rightly.
    const wrong = strangerKey();
    ours.wg(['set', ours.name, 'peer', wrong, 'allowed-ips', `${go.inner}/32`, 'endpoint', go.endpoint]);
    go.addPeer(ours);
    assert.equal(await ours.ping(go, 2, 1), false, 'no ping from ours');
    assert.equal(await go.ping(ours, 2, 1), false, 'no ping from wireguard-go');
    // Both tried: ours sent initiations (to a key wireguard-go does not
    // have: refused there), and refused wireguard-go's (an unknown peer).
    let s = await ours.stats();
    const deadline = Date.now() + 10_000;
    while (!((s.handshakeDrops['unknown-peer'] ?? 0) >= 1 && s.handshake.initiationsSent >= 1) && Date.now() < deadline) s = await ours.stats();
    assert.ok((s.handshakeDrops['unknown-peer'] ?? 0) >= 1, `wireguard-go's initiation refused: ${JSON.stringify(s.handshakeDrops)}`);
    assert.ok(s.handshake.initiationsSent >= 1, 'ours initiated');
    const mine = ours.dump().peers[0];
    assert.equal(mine?.publicKey, wrong);
    assert.equal(mine?.latestHandshake, 0);
    assert.equal(mine?.rx, 0, 'nothing authenticated came from it');
    assert.equal(go.peer(ours).latestHandshake, 0);
    assert.equal(go.peer(ours).rx, 0);
    await stopOurs(ours);
  } finally {
    await lan.destroy();
  }
});

test('a wrong preshared key never completes a handshake; the right one does', { skip, timeout: 120_000 }, async () => {
  const lan = Lan.create('wgs');
  try {
    const ours = lan.node('ours');
    const go = lan.node('wggo');
    await ours.start();
    await go.start();
    const psk = keyToBase64(generatePresharedKey());
    const other = keyToBase64(generatePresharedKey());
    ours.addPeer(go, ['preshared-key', lan.secretFile(psk)]);
    go.addPeer(ours, ['preshared-key', lan.secretFile(other)]);
    assert.equal(await ours.ping(go, 2, 1), false, 'no ping with different preshared keys');
    let s = await ours.stats();
    const deadline = Date.now() + 10_000;
    while ((s.handshakeDrops['decrypt-failed'] ?? 0) < 1 && Date.now() < deadline) s = await ours.stats();
    assert.ok((s.handshakeDrops['decrypt-failed'] ?? 0) >= 1, `wireguard-go's response did not authenticate: ${JSON.stringify(s.handshakeDrops)}`);
    assert.equal(ours.peer(go).latestHandshake, 0);
    assert.equal(go.peer(ours).latestHandshake, 0);
    assert.equal(ours.peer(go).presharedKey, psk, 'wg show dump shows the preshared key');
    // The same key on both ends: the handshake completes.
    go.addPeer(ours, ['preshared-key', lan.secretFile(psk)]);
    // The next initiation leaves when ours retries (every 5 s, with jitter).
    await waitFor(() => ours.peer(go).latestHandshake > 0, 20_000, 'a handshake with equal preshared keys', ours.proc, async () => {
      await ours.ping(go, 1, 1);
    });
    assert.ok(await ours.ping(go), 'ping with equal preshared keys');
    assert.ok(ours.peer(go).latestHandshake > 0 && go.peer(ours).latestHandshake > 0);
    assert.match(humanPeer(ours, go), /\n {2}preshared key: \(hidden\)\n/);
    await stopOurs(ours);
  } finally {
    await lan.destroy();
  }
});

test('replayed and forged transport messages are dropped, counted, and never received', { skip, timeout: 120_000 }, async () => {
  const lan = Lan.create('wgf');
  try {
    const { ours, go, relay } = await behindRelay(lan);
    const before = await ours.stats();
    const p0 = ours.peer(go);
    relay.signal('SIGUSR1');
    const replayed = Number((await relay.waitFor(/replayed (\d+)\n/, 10_000, 'the replay'))[1]);
    assert.ok(replayed > 0, 'the relay had transport messages to replay');
    let s = before;
    for (let t = Date.now() + 10_000; (s.drops.replay ?? 0) < (before.drops.replay ?? 0) + replayed && Date.now() < t; ) s = await ours.stats();
    assert.equal(s.drops.replay, (before.drops.replay ?? 0) + replayed, 'each replayed message counted as a replay');
    relay.signal('SIGUSR2');
    const forged = Number((await relay.waitFor(/forged (\d+)\n/, 10_000, 'the forgeries'))[1]);
    assert.ok(forged > 0);
    for (let t = Date.now() + 10_000; (s.drops.auth ?? 0) < (before.drops.auth ?? 0) + forged && Date.now() < t; ) s = await ours.stats();
    assert.equal(s.drops.auth, (before.drops.auth ?? 0) + forged, 'each forged message counted as failing authentication');
    // Nothing of them reached the interface: no bytes received, and no
    // echo replies went out for the replayed echo requests.
    const p1 = ours.peer(go);
    assert.equal(p1.rx, p0.rx, 'not counted as received');
    assert.equal(p1.tx, p0.tx, 'nothing answered');
    const peerDrops = s.peers[0]?.drops ?? {};
    assert.equal(peerDrops.replay, replayed, 'counted for the peer');
    assert.ok(await go.ping(ours), 'the tunnel still works');
    await stopOurs(ours);
  } finally {
    await lan.destroy();
  }
});

test('wg-quick up and down with WG_QUICK_USERSPACE_IMPLEMENTATION set to ours', {
  skip: skip || (existsSync('/sys/module/wireguard') ? 'the wireguard kernel module is loaded: wg-quick would use it, not a userspace implementation' : false),
  timeout: 120_000,
}, async () => {
  const lan = Lan.create('wgq');
  try {
    const ours = lan.node('ours');
    const go = lan.node('wggo');
    await go.start();
    go.addPeer(ours);
    // wg-quick runs one command: a wrapper, as `iouring-net-wireguard` is once installed.
    const impl = join(lan.dir, 'iouring-net-wireguard');
    writeFileSync(impl, `#!/bin/sh\nexec "${process.execPath}" "${CLI}" wireguard "$@"\n`, { mode: 0o755 });
    const conf = join(lan.dir, `${ours.name}.conf`);
    writeFileSync(
      conf,
      `[Interface]\nPrivateKey = ${ours.privateKey}\nAddress = ${ours.inner}/24\nListenPort = ${ours.port}\n\n` +
        `[Peer]\nPublicKey = ${go.publicKey}\nAllowedIPs = ${go.inner}/32\nEndpoint = ${go.endpoint}\n`,
      { mode: 0o600 },
    );
    const up = lan.run(ours.ns, ['wg-quick', 'up', conf], { WG_QUICK_USERSPACE_IMPLEMENTATION: impl });
    const ur = await up.exit(60_000);
    assert.equal(ur.code, 0, `wg-quick up:\n${up.stderr}`);
    assert.match(up.stderr, /Falling back to slow userspace implementation/);
    // The daemon runs in the background, the interface is configured and up.
    const pids = (): number[] => netnsPids(ours.ns);
    const running = pids();
    assert.equal(running.length, 1, 'one daemon in the namespace');
    assert.match(readFileSync(`/proc/${running[0]}/cmdline`, 'utf8'), /cli\/main\.js\0wireguard\0/);
    const d = ours.dump();
    assert.equal(d.publicKey, ours.publicKey);
    assert.equal(d.listenPort, ours.port);
    assert.equal(d.peers[0]?.endpoint, go.endpoint);
    assert.match(ours.ns.ip('-o', 'addr', 'show', 'dev', ours.name), new RegExp(`${ours.inner.replace(/\./g, '\\.')}/24`));
    assert.ok(await ours.ping(go), 'ping after wg-quick up');
    const down = lan.run(ours.ns, ['wg-quick', 'down', conf], { WG_QUICK_USERSPACE_IMPLEMENTATION: impl });
    assert.equal((await down.exit(60_000)).code, 0, `wg-quick down:\n${down.stderr}`);
    await waitFor(() => pids().length === 0, 10_000, 'the daemon to exit after wg-quick down');
    assert.equal(ours.ns.hasLink(ours.name), false);
    assert.equal(existsSync(sockPath(ours)), false, 'the UAPI socket is removed');
  } finally {
    await lan.destroy();
  }
});

for (const backend of ['mmsg', 'dgram'] as const) {
  test(`ours on the ${backend} UDP backend <-> wireguard-go: handshake, ping, counters`, { skip, timeout: 120_000 }, async () => {
    const lan = Lan.create(`wgb${backend[0]}`);
    try {
      const [ours, go] = await pair(lan, { IOURING_NET_BACKEND: backend });
      assert.match(ours.proc.stdout, new RegExp(`Device started \\(UDP ${backend},`));
      assert.ok(await go.ping(ours), 'ping back');
      await waitFor(() => ours.peer(go).tx === go.peer(ours).rx && ours.peer(go).rx === go.peer(ours).tx, 5000, 'counters to agree');
      await stopOurs(ours);
    } finally {
      await lan.destroy();
    }
  });
}
