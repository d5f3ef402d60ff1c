/**
 * Cryptokey routing with several peers: device A has peers B (reached over
 * IPv4, 127.0.0.1) and C (over IPv6, ::1) on its one dual-stack socket;
 * IPv4 and IPv6 packets go to the peer whose AllowedIPs hold their
 * destination, and each peer's counters see only its own traffic. Three
 * devices in this process, their TUN interfaces in three namespaces.
 *
 * Needs root (namespaces, TUN devices); skips saying why otherwise.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { createWireGuard, generatePrivateKey, publicKeyFromPrivate, type WireGuardDevice } from '../src/index.js';
import { Netns, tunSkipReason, uniqueIfName } from './netns.js';

const skip = tunSkipReason(['ping']);

interface Node {
  dev: WireGuardDevice;
  ns: Netns;
  key: Buffer;
  v4: string;
  v6: string;
}

test('several peers: IPv4 and IPv6 packets routed by AllowedIPs to the right peer, over IPv4 and IPv6 endpoints', { skip, timeout: 60_000 }, async () => {
  const nodes: Node[] = [];
  try {
    for (const [tag, n] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ] as const) {
      const key = generatePrivateKey();
      const dev = await createWireGuard({ interface: uniqueIfName(), privateKey: key, quiet: true });
      const ns = Netns.create(`wgp${tag}`);
      nodes.push({ dev, ns, key, v4: `10.78.0.${n}`, v6: `fd78::${n}` });
    }
    const [a, b, c] = nodes as [Node, Node, Node];
    const pub = (x: Node): Buffer => publicKeyFromPrivate(x.key);
    a.dev.addPeer({ publicKey: pub(b), endpoint: `127.0.0.1:${b.dev.listenPort}`, allowedIPs: [`${b.v4}/32`, `${b.v6}/128`] });
    a.dev.addPeer({ publicKey: pub(c), endpoint: `[::1]:${c.dev.listenPort}`, allowedIPs: [`${c.v4}/32`, `${c.v6}/128`] });
    b.dev.addPeer({ publicKey: pub(a), endpoint: `127.0.0.1:${a.dev.listenPort}`, allowedIPs: ['10.78.0.0/24', 'fd78::/64'] });
    c.dev.addPeer({ publicKey: pub(a), endpoint: `[::1]:${a.dev.listenPort}`, allowedIPs: ['10.78.0.0/24', 'fd78::/64'] });
    for (const x of nodes) {
      const name = x.dev.tun.name;
      execFileSync('ip', ['link', 'set', name, 'netns', x.ns.name], { stdio: 'ignore' });
      x.ns.ip('addr', 'add', `${x.v4}/24`, 'dev', name);
      x.ns.ip('-6', 'addr', 'add', `${x.v6}/64`, 'dev', name, 'nodad');
      x.ns.ip('link', 'set', name, 'up');
    }
    const ping = async (to: string, six = false): Promise<void> => {
      const r = await a.ns.exec('ping', [...(six ? ['-6'] : []), '-c', '2', '-i', '0.2', '-W', '3', to], 20_000);
      assert.equal(r.code, 0, `ping ${to}: ${r.stdout}${r.stderr}`);
    };
    await ping(b.v4);
    const afterB = a.dev.stats().peers;
    const [toB, toC] = [afterB.find((p) => p.publicKey === b.dev.publicKey)!, afterB.find((p) => p.publicKey === c.dev.publicKey)!];
    assert.ok(toB.rxPackets >= 2 && toB.handshakes === 1);
    assert.equal(toC.txPackets + toC.rxPackets, 0, "C's peer saw nothing of B's traffic");
    assert.equal(c.dev.stats().tun.packetsOut, 0);
    await ping(c.v4);
    await ping(c.v6, true);
    await ping(b.v6, true);
    const s = a.dev.stats();
    const peerC = s.peers.find((p) => p.publicKey === c.dev.publicKey)!;
    assert.equal(peerC.endpoint, `[::1]:${c.dev.listenPort}`, 'an IPv6 endpoint on the dual-stack socket');
    assert.ok(peerC.rxPackets >= 4, 'IPv4 and IPv6 replies from C');
    assert.equal(s.peers.find((p) => p.publicKey === b.dev.publicKey)!.endpoint, `127.0.0.1:${b.dev.listenPort}`, 'IPv4 shown as IPv4');
    for (const x of [b, c]) assert.equal(x.dev.stats().drops.sourceNotAllowed, 0);
  } finally {
    await Promise.all(nodes.map((x) => x.dev.close()));
    for (const x of nodes) x.ns.destroy();
  }
});
