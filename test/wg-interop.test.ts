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
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { tunSkipReason } from './netns.js';
import { interopSkipReason, Lan, tcpTransfer, waitFor, type WgNode } from './wg-interop.js';

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
