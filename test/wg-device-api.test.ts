/**
 * The WireGuard device's API: option checks, configuration in wg(8)'s
 * terms and in `wg setconf` text, peers added and removed, the listen port
 * moved, the socket's port not shareable (no SO_REUSEADDR), the UAPI
 * adapter driven over a real socket, and the native data-path exports
 * refusing indices and windows that do not match native's own state.
 *
 * The TUN parts need root (TUN devices); those skip saying why otherwise.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  createWireGuard,
  generatePresharedKey,
  generatePrivateKey,
  keyToBase64,
  openTun,
  openUdp,
  publicKeyFromPrivate,
  serveUapi,
  type WireGuardDevice,
} from '../src/index.js';
import { uapiRequest } from '../src/wireguard/uapi-server.js';
import { wgNative } from '../src/wireguard/wg-native.js';
import { tunSkipReason, uniqueIfName } from './netns.js';

const skip = tunSkipReason();

test('createWireGuard refuses bad options with coded errors before opening anything', async () => {
  await assert.rejects(createWireGuard({} as never), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(createWireGuard({ interface: 'a', tun: { name: 'b' } }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(createWireGuard({ interface: 5 as never }), { code: 'ERR_INVALID_ARG_TYPE' });
  await assert.rejects(createWireGuard({ interface: 'wgx', listenPort: 70000 }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(createWireGuard({ tun: { packetInfo: true } }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(createWireGuard({ interface: 'wgx', tunHeadroom: 65 }), { code: 'ERR_INVALID_ARG_VALUE' });
  await assert.rejects(createWireGuard(null as never), { code: 'ERR_INVALID_ARG_TYPE' });
});

async function device(extra: Parameters<typeof createWireGuard>[0] = {}): Promise<WireGuardDevice> {
  return createWireGuard({ interface: uniqueIfName(), quiet: true, ...extra });
}

test('configuration: wg setconf text in, the same configuration out (getConfig, getConfigText)', { skip }, async () => {
  const priv = generatePrivateKey();
  const peer1 = publicKeyFromPrivate(generatePrivateKey());
  const peer2 = publicKeyFromPrivate(generatePrivateKey());
  const psk = generatePresharedKey();
  const dev = await device();
  try {
    await dev.setConfig(
      [
        '[Interface]',
        `PrivateKey = ${keyToBase64(priv)}`,
        'ListenPort = 0',
        '',
        '[Peer]',
        `PublicKey = ${keyToBase64(peer1)}`,
        `PresharedKey = ${keyToBase64(psk)}`,
        'AllowedIPs = 10.1.0.9/24, fd00::1/64',
        'Endpoint = 192.0.2.7:51820',
        'PersistentKeepalive = 25',
        '',
        '[Peer]',
        `PublicKey = ${keyToBase64(peer2)}`,
        'AllowedIPs = 10.2.0.0/16',
      ].join('\n'),
    );
    const c = dev.getConfig();
    assert.equal(c.privateKey, keyToBase64(priv));
    assert.equal(c.publicKey, keyToBase64(publicKeyFromPrivate(priv)));
    assert.equal(c.listenPort, dev.listenPort);
    assert.ok(c.listenPort > 0, 'the bound port, not 0');
    assert.deepEqual(c.peers, [
      {
        publicKey: keyToBase64(peer1),
        presharedKey: keyToBase64(psk),
        endpoint: '192.0.2.7:51820',
        allowedIPs: ['10.1.0.0/24', 'fd00::/64'], // host bits masked, as wg shows them
        persistentKeepalive: 25,
      },
      { publicKey: keyToBase64(peer2), presharedKey: null, endpoint: null, allowedIPs: ['10.2.0.0/16'], persistentKeepalive: 0 },
    ]);
    const text = dev.getConfigText();
    assert.match(text, new RegExp(`\\[Peer\\]\\nPublicKey = ${keyToBase64(peer1).replace(/[+/]/g, '\\$&')}\\nPresharedKey = `));
    assert.match(text, /AllowedIPs = 10\.1\.0\.0\/24, fd00::\/64\nEndpoint = 192\.0\.2\.7:51820\nPersistentKeepalive = 25/);
    // A prefix moves to the peer that adds it last (wg's rule).
    dev.setPeer({ publicKey: peer2, allowedIPs: ['10.1.0.0/24'] }, { replaceAllowedIPs: false });
    assert.deepEqual(dev.getConfig().peers.map((p) => p.allowedIPs), [['fd00::/64'], ['10.1.0.0/24', '10.2.0.0/16']]);
    // Object form, peers replaced.
    await dev.setConfig({ peers: [{ publicKey: keyToBase64(peer2), allowedIPs: '10.3.0.1/32' }] });
    assert.deepEqual(dev.getConfig().peers.map((p) => [p.publicKey, p.allowedIPs]), [[keyToBase64(peer2), ['10.3.0.1/32']]]);
    assert.throws(() => dev.addPeer({ publicKey: peer2 }), { code: 'ERR_WIREGUARD_PEER_EXISTS' });
    assert.throws(() => dev.addPeer({ publicKey: 'not a key' }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => dev.addPeer({ publicKey: peer1, endpoint: 'example.com:1' }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => dev.addPeer({ publicKey: peer1, allowedIPs: ['10.0.0.0/33'] }), { code: 'ERR_INVALID_ARG_VALUE' });
    assert.equal(dev.getConfig().peers.length, 1, 'refused peers were not added');
    assert.equal(dev.removePeer(peer2), true);
    assert.equal(dev.removePeer(peer2), false);
    assert.deepEqual(dev.getConfig().peers, []);
  } finally {
    await dev.close();
  }
});

test('the listen port: not shareable (no SO_REUSEADDR), and moved to a new socket on request', { skip }, async () => {
  const dev = await device({ privateKey: generatePrivateKey() });
  try {
    const first = dev.listenPort;
    assert.throws(() => openUdp({ type: 'udp6', port: first, reuseAddr: true, quiet: true }), { code: 'EADDRINUSE' });
    const free = openUdp({ type: 'udp6', port: 0, quiet: true });
    const next = free.address().port;
    await new Promise<void>((resolve) => free.close(() => resolve()));
    dev.setListenPort(next);
    assert.equal(dev.listenPort, next);
    assert.equal(dev.socket.address().port, next);
    // The old port is free again once the old socket closed.
    await new Promise((resolve) => setImmediate(resolve));
    const again = openUdp({ type: 'udp6', port: first, quiet: true });
    again.close();
    assert.throws(() => dev.setListenPort(70000), { code: 'ERR_INVALID_ARG_VALUE' });
  } finally {
    await dev.close();
  }
});

test('UAPI: get=1 and set=1 over a socket drive the device (wireguard.com/xplatform)', { skip }, async () => {
  const priv = generatePrivateKey();
  const peer = publicKeyFromPrivate(generatePrivateKey());
  const dev = await device({ privateKey: priv });
  const dir = mkdtempSync(join(tmpdir(), 'ionet-wg-'));
  const server = await serveUapi(dev.uapi(), { path: join(dir, 'wg.sock') });
  try {
    const set = [
      'set=1',
      `public_key=${Buffer.from(peer).toString('hex')}`,
      'endpoint=198.51.100.4:4242',
      'persistent_keepalive_interval=0',
      'replace_allowed_ips=true',
      'allowed_ip=10.9.0.0/24',
      '',
      '',
    ].join('\n');
    assert.equal(await uapiRequest(server.path, set), 'errno=0\n\n');
    const got = await uapiRequest(server.path, 'get=1\n\n');
    assert.match(got, new RegExp(`^private_key=${Buffer.from(priv).toString('hex')}\nlisten_port=${dev.listenPort}\n`));
    assert.match(got, new RegExp(`public_key=${Buffer.from(peer).toString('hex')}\n`));
    assert.match(got, /endpoint=198\.51\.100\.4:4242\n/);
    assert.match(got, /tx_bytes=0\nrx_bytes=0\n/);
    assert.match(got, /allowed_ip=10\.9\.0\.0\/24\nerrno=0\n\n$/);
    assert.deepEqual(dev.getConfig().peers[0]!.allowedIPs, ['10.9.0.0/24']);
    const remove = `set=1\npublic_key=${Buffer.from(peer).toString('hex')}\nremove=true\n\n`;
    assert.equal(await uapiRequest(server.path, remove), 'errno=0\n\n');
    assert.deepEqual(dev.getConfig().peers, []);
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    await dev.close();
  }
});

test('native data-path exports refuse what does not match native state: no batch, wrong kinds, bad windows, bad arguments', { skip }, async () => {
  const n = wgNative();
  const dev = n.wgCreate(1420, 0, 0);
  assert.notEqual(typeof dev, 'number');
  const h = dev as object;
  const tun = openTun({ name: uniqueIfName() });
  const udp = openUdp({ type: 'udp4', port: 0, quiet: true });
  const out = new Int32Array(8);
  const hs = new Int32Array(4);
  try {
    const w = udp.nativeWindow(4, 4096)!;
    // Outside a batch handler there is no batch: any count is too many.
    assert.equal(n.wgSealTun(h, tun.nativeId, 0, 1, udp.nativeId, w.seq, w.slots, w.at, w.bytes, 0, out), -22);
    assert.equal(n.wgOpenUdp(h, udp.nativeId, 0, 1, tun.nativeId, 0, 0, 0, 0, 0, out, hs), -22);
    // Ids of the wrong kind, or of nothing.
    assert.equal(n.wgSealTun(h, udp.nativeId, 0, 0, udp.nativeId, w.seq, w.slots, w.at, w.bytes, 0, out), -9);
    assert.equal(n.wgSealTun(h, tun.nativeId, 0, 0, tun.nativeId, w.seq, w.slots, w.at, w.bytes, 0, out), -9);
    assert.equal(n.wgFlushTo(h, 999_999, 0, 0, 0, 0, 0, out), -9);
    // A window that is not the queue's: wrong sequence, too many slots, outside the send region.
    assert.equal(n.wgFlushTo(h, udp.nativeId, w.seq + 1, w.slots, w.at, w.bytes, 0, out), -22);
    assert.equal(n.wgFlushTo(h, udp.nativeId, w.seq, 1 << 20, w.at, w.bytes, 0, out), -22);
    assert.equal(n.wgFlushTo(h, udp.nativeId, w.seq, w.slots, 0, w.bytes, 0, out), -22);
    assert.equal(n.wgFlushTo(h, udp.nativeId, w.seq, w.slots, w.at, 1 << 30, 0, out), -22);
    // The real window is fine (nothing staged: nothing used).
    assert.equal(n.wgFlushTo(h, udp.nativeId, w.seq, w.slots, w.at, w.bytes, 0, out), 0);
    assert.equal(out[1], 0);
    assert.equal(udp.commitNativeWindow(w, 0), true);
    // JS mistakes throw coded errors.
    assert.throws(() => n.wgFlushTo(h, udp.nativeId, 0, 0, 0, 0, 0, new Int32Array(2)), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => n.wgFlushTo(h, udp.nativeId, -1, 0, 0, 0, 0, out), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => n.wgFlushTo(h, udp.nativeId, 0, 0, 0, 0, -5, out), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => n.wgSummariesInto(h, new Float64Array(3)), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => n.wgTunHeadroom(h, 65), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => n.wgKeepaliveTo(h, 0, 1 as never, udp.nativeId, 0, 0, 0, 0, 0, out), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.equal(n.wgKeepaliveTo(h, 0, false, udp.nativeId, 0, 0, 0, 0, 0, out), -2, 'no such peer');
    assert.equal(n.wgStagedClear(h, 7), -2);
    assert.equal(n.wgKeypairDrop(h, 7, 1), -2);
    n.wgClose(h);
    assert.throws(() => n.wgSummariesInto(h, new Float64Array(8)), { code: 'ERR_INVALID_STATE' });
  } finally {
    n.wgClose(h);
    udp.close();
    await new Promise<void>((resolve) => tun.close(() => resolve()));
  }
});
