/**
 * The UAPI (uapi.ts, uapi-server.ts): get/set against an in-memory device,
 * the socket server's contract (permissions, stale sockets, limits, many
 * clients), and the real `wg` tool (wireguard-tools) talking to our server
 * as it talks to wireguard-go: wg show/showconf/set/setconf/syncconf.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { formatConfig, parseConfig } from '../src/wireguard/config.js';
import { parsePrefix } from '../src/wireguard/ip.js';
import { keyFromBase64, keyToBase64, keyToHex, publicKeyFromPrivate } from '../src/wireguard/keys.js';
import {
  applySetRequest,
  configToSetRequest,
  formatGetResponse,
  handleSet,
  parseSetRequest,
  stateToConfig,
} from '../src/wireguard/uapi.js';
import { serveUapi, uapiRequest, uapiSocketPath, UAPI_SOCKET_DIR } from '../src/wireguard/uapi-server.js';
import { FakeDevice } from './wireguard-fake-device.js';

const PRIV = Buffer.alloc(32, 0x11);
PRIV[0]! &= 248;
PRIV[31] = (PRIV[31]! & 127) | 64;
const PEER_A = publicKeyFromPrivate(Buffer.alloc(32, 0x22));
const PEER_B = publicKeyFromPrivate(Buffer.alloc(32, 0x33));
const PSK = Buffer.alloc(32, 0x44);
const hx = keyToHex;

const dir = mkdtempSync(join(tmpdir(), 'wg-uapi-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A device with a key, a port, and one peer with everything set. */
function populated(): FakeDevice {
  const d = new FakeDevice();
  const errno = handleSet(d, [
    `private_key=${hx(PRIV)}`,
    'listen_port=51820',
    'fwmark=4660',
    `public_key=${hx(PEER_A)}`,
    `preshared_key=${hx(PSK)}`,
    'endpoint=192.0.2.1:51820',
    'persistent_keepalive_interval=25',
    'replace_allowed_ips=true',
    'allowed_ip=10.0.0.0/24',
    'allowed_ip=fd00::1/128',
  ]);
  assert.equal(errno, 0);
  const p = d.peers.get(hx(PEER_A))!;
  p.rxBytes = 1234n;
  p.txBytes = 5678n;
  p.lastHandshakeNanos = 1_700_000_000_123_456_789n;
  return d;
}

test('get=1 answers in wireguard-go order and form', () => {
  const d = populated();
  d.addPeer(PEER_B);
  assert.equal(
    formatGetResponse(d.getState()),
    [
      `private_key=${hx(PRIV)}`,
      'listen_port=51820',
      'fwmark=4660',
      `public_key=${hx(PEER_A)}`,
      `preshared_key=${hx(PSK)}`,
      'protocol_version=1',
      'endpoint=192.0.2.1:51820',
      'last_handshake_time_sec=1700000000',
      'last_handshake_time_nsec=123456789',
      'tx_bytes=5678',
      'rx_bytes=1234',
      'persistent_keepalive_interval=25',
      'allowed_ip=10.0.0.0/24',
      'allowed_ip=fd00::1/128',
      `public_key=${hx(PEER_B)}`,
      `preshared_key=${'0'.repeat(64)}`,
      'protocol_version=1',
      'last_handshake_time_sec=0',
      'last_handshake_time_nsec=0',
      'tx_bytes=0',
      'rx_bytes=0',
      'persistent_keepalive_interval=0',
      '',
    ].join('\n'),
  );
  assert.equal(formatGetResponse(new FakeDevice().getState()), '');
});

test('set=1: update_only, remove, replace_peers, own key, allowed_ip removal, with wireguard-go semantics', () => {
  const d = populated();
  // update_only does not create; it updates an existing peer.
  assert.equal(handleSet(d, [`public_key=${hx(PEER_B)}`, 'update_only=true', 'endpoint=192.0.2.2:1']), 0);
  assert.equal(d.hasPeer(PEER_B), false);
  assert.equal(handleSet(d, [`public_key=${hx(PEER_A)}`, 'update_only=true', 'endpoint=[fd00::5%eth0]:7']), 0);
  assert.deepEqual(d.peers.get(hx(PEER_A))!.endpoint, { address: 'fd00::5%eth0', port: 7 });
  // "-" removes one prefix; replace_allowed_ips clears first.
  assert.equal(handleSet(d, [`public_key=${hx(PEER_A)}`, 'allowed_ip=-10.0.0.0/24', 'allowed_ip=10.1.0.0/16']), 0);
  assert.deepEqual(stateToConfig(d.getState()).peers[0]!.allowedIPs.map((p) => `${p.bits}`), ['128', '16']);
  // Our own public key as a peer is ignored entirely.
  const own = publicKeyFromPrivate(PRIV);
  assert.equal(handleSet(d, [`public_key=${hx(own)}`, 'endpoint=192.0.2.9:9', 'allowed_ip=10.9.0.0/16']), 0);
  assert.equal(d.hasPeer(own), false);
  // remove, then more lines for the removed peer do nothing.
  assert.equal(handleSet(d, [`public_key=${hx(PEER_A)}`, 'remove=true', 'allowed_ip=10.2.0.0/16']), 0);
  assert.equal(d.hasPeer(PEER_A), false);
  assert.equal(d.allowed.size, 0);
  // A new peer, then replace_peers clears all.
  assert.equal(handleSet(d, [`public_key=${hx(PEER_B)}`, 'protocol_version=1']), 0);
  assert.ok(d.hasPeer(PEER_B));
  assert.equal(handleSet(d, ['replace_peers=true']), 0);
  assert.equal(d.peers.size, 0);
  // An all-zero private key clears it; keys are accepted in either case.
  assert.equal(handleSet(d, [`private_key=${'0'.repeat(64)}`]), 0);
  assert.equal(d.privateKey, null);
  assert.equal(handleSet(d, [`private_key=${hx(PRIV).toUpperCase()}`]), 0);
  assert.deepEqual(d.privateKey, PRIV);
  // peerConfigured comes once per peer, after its lines, saying whether it was created.
  d.calls.length = 0;
  assert.equal(handleSet(d, [`public_key=${hx(PEER_A)}`, 'persistent_keepalive_interval=5', `public_key=${hx(PEER_A)}`]), 0);
  assert.deepEqual(
    d.calls.filter((c) => c.startsWith('peerConfigured')),
    [`peerConfigured ${hx(PEER_A).slice(0, 8)} created`, `peerConfigured ${hx(PEER_A).slice(0, 8)} updated`],
  );
});

test('set=1 errors are wireguard-go errnos; a malformed request changes nothing', () => {
  const cases: [string[], number][] = [
    [['listen_port=65536'], -22],
    [['listen_port=-1'], -22],
    [['listen_port='], -22],
    [['fwmark=0x10'], -22],
    [['private_key=1234'], -22],
    [['replace_peers=false'], -22],
    [['bogus=1'], -22],
    [['no equals sign'], -71],
    [[`public_key=${hx(PEER_A)}`, 'listen_port=1'], -22],
    [[`public_key=${hx(PEER_A)}`, 'protocol_version=2'], -22],
    [[`public_key=${hx(PEER_A)}`, 'endpoint=example.com:1'], -22],
    [[`public_key=${hx(PEER_A)}`, 'endpoint=::1:1'], -22],
    [[`public_key=${hx(PEER_A)}`, 'allowed_ip=10.0.0.1'], -22],
    [[`public_key=${hx(PEER_A)}`, 'allowed_ip=10.0.0.0/024'], -22],
    [[`public_key=${hx(PEER_A)}`, 'persistent_keepalive_interval=65536'], -22],
    [[`public_key=${hx(PEER_A)}`, 'remove=yes'], -22],
    [[`public_key=${'x'.repeat(64)}`], -22],
  ];
  for (const [lines, errno] of cases) {
    const d = new FakeDevice();
    const errors: number[] = [];
    assert.equal(
      handleSet(d, ['listen_port=7', ...lines], (e) => errors.push(e.errno)),
      errno,
      lines.join(' | '),
    );
    assert.deepEqual(errors, [errno]);
    assert.equal(d.listenPort, 0, `nothing applied: ${lines.join(' | ')}`);
    assert.equal(d.peers.size, 0);
  }
  // A device refusal is reported as wireguard-go does (EADDRINUSE for the port); what came before stays.
  const d = new FakeDevice();
  d.failListenPort = true;
  assert.equal(handleSet(d, ['fwmark=3', 'listen_port=51820', `public_key=${hx(PEER_A)}`]), -98);
  assert.equal(d.fwmark, 3);
  assert.equal(d.hasPeer(PEER_A), false);
  assert.throws(() => parseSetRequest(['x']), { errno: -71 });
});

test('a wg(8) configuration applied through the UAPI reads back as the same configuration', () => {
  const text = `[Interface]
ListenPort = 51820
FwMark = 0x10
PrivateKey = ${keyToBase64(PRIV)}

[Peer]
PublicKey = ${keyToBase64(PEER_A)}
PresharedKey = ${keyToBase64(PSK)}
AllowedIPs = 10.0.0.0/24, fd00::/64
Endpoint = [fd00::1]:51820
PersistentKeepalive = 25

[Peer]
PublicKey = ${keyToBase64(PEER_B)}
AllowedIPs = 10.0.1.1/32
Endpoint = 192.0.2.3:1
`;
  const d = populated();
  applySetRequest(d, configToSetRequest(parseConfig(text)));
  assert.equal(formatConfig(stateToConfig(d.getState())), text);
  // addconf keeps what is there and adds.
  const add = parseConfig(`[Peer]\nPublicKey = ${keyToBase64(publicKeyFromPrivate(Buffer.alloc(32, 0x55)))}\nAllowedIPs = 10.0.2.0/24\n`);
  applySetRequest(d, configToSetRequest(add, true));
  assert.equal(d.peers.size, 3);
  assert.equal(d.listenPort, 51820);
  assert.throws(() => configToSetRequest(parseConfig(`[Peer]\nPublicKey=${keyToBase64(PEER_A)}\nEndpoint=vpn.example.net:1\n`)), {
    code: 'ERR_WIREGUARD_CONFIG',
  });
});

test('socket server: private socket, many sequential clients, several requests per connection', async () => {
  const d = populated();
  const path = join(dir, 'wgtest0.sock');
  const server = await serveUapi(d, { path });
  try {
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.ok(statSync(path).isSocket());
    const expected = `${formatGetResponse(d.getState())}errno=0\n\n`;
    for (let k = 0; k < 40; k++) assert.equal(await uapiRequest(path, 'get=1\n\n'), expected);
    assert.equal(await uapiRequest(path, `set=1\npublic_key=${hx(PEER_B)}\nallowed_ip=10.7.0.0/16\n\n`), 'errno=0\n\n');
    assert.ok(d.hasPeer(PEER_B));
    // Two requests on one connection, the second a get with a trailing character; CRLF set lines are accepted.
    const both = await rawExchange(path, `set=1\nlisten_port=4000\r\n\r\nget=1\nx`, 2);
    assert.equal(both, 'errno=0\n\nerrno=-22\n\n');
    assert.equal(d.listenPort, 4000);
    // A probe (connect and close, as `wg show` does) and an unknown operation: no answer, server fine.
    await rawExchange(path, '', 0);
    assert.equal(await rawExchange(path, 'del=1\n\n', 0), '');
    assert.equal(await uapiRequest(path, 'get=1\n\n'), `${formatGetResponse(d.getState())}errno=0\n\n`);
  } finally {
    await server.close();
  }
  assert.throws(() => statSync(path), { code: 'ENOENT' });
});

test('socket server: bounded lines and requests; a set cut short by EOF is applied as wireguard-go does', async () => {
  const d = new FakeDevice();
  const path = join(dir, 'wgtest1.sock');
  const server = await serveUapi(d, { path, maxLineLength: 100, maxRequestBytes: 1000 });
  try {
    assert.equal(await rawExchange(path, `set=1\nlisten_port=${'1'.repeat(200)}\n\n`, 1), 'errno=-5\n\n');
    const many = `set=1\n${'fwmark=1\n'.repeat(200)}\n`;
    assert.equal(await rawExchange(path, many, 1), 'errno=-5\n\n');
    assert.equal(d.fwmark, 0);
    assert.equal(await rawExchange(path, 'set=1\nfwmark=9', 1, true), 'errno=0\n\n');
    assert.equal(d.fwmark, 9);
  } finally {
    await server.close();
  }
});

test('socket server: stale sockets are replaced, live ones and other files are not', async () => {
  const path = join(dir, 'wgtest2.sock');
  // A live listener holds the name: EADDRINUSE.
  const other = createServer(() => undefined);
  await new Promise<void>((r) => other.listen(path, r));
  await assert.rejects(serveUapi(new FakeDevice(), { path }), { code: 'EADDRINUSE' });
  // Left behind by a dead process (closed without unlinking): replaced.
  await new Promise<void>((r) => other.close(() => r()));
  const stale = createServer(() => undefined);
  await new Promise<void>((r) => stale.listen(join(dir, 'stale-src.sock'), r));
  const { renameSync } = await import('node:fs');
  renameSync(join(dir, 'stale-src.sock'), path);
  await new Promise<void>((r) => stale.close(() => r()));
  assert.ok(statSync(path).isSocket());
  const server = await serveUapi(new FakeDevice(), { path });
  assert.equal(await uapiRequest(path, 'get=1\n\n'), 'errno=0\n\n');
  await server.close();
  // A regular file is never removed.
  writeFileSync(path, 'not a socket');
  await assert.rejects(serveUapi(new FakeDevice(), { path }), { code: 'EEXIST' });
  assert.ok(statSync(path).isFile());
  rmSync(path);
  assert.throws(() => uapiSocketPath('a/b'), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => uapiSocketPath('sixteen-chars-xx'), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.equal(uapiSocketPath('wg0'), '/var/run/wireguard/wg0.sock');
  await assert.rejects(serveUapi(new FakeDevice(), { path: join(dir, 'x'.repeat(120)) }), { code: 'ERR_INVALID_ARG_VALUE' });
});

/**
 * Write `request`, collect the answer until `answers` errno lines have
 * arrived (0: until the server closes), optionally half-closing first.
 */
function rawExchange(path: string, request: string, answers: number, halfClose = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    let got = '';
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no complete answer; got ${JSON.stringify(got)}`));
    }, 5000);
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(got);
    };
    s.setEncoding('utf8');
    s.on('connect', () => {
      if (request) s.write(request);
      if (halfClose || !request) s.end();
    });
    s.on('data', (chunk: string) => {
      got += chunk;
      if (answers > 0 && (got.match(/errno=-?[0-9]+\n\n/g) ?? []).length >= answers) done();
    });
    s.on('close', () => (answers === 0 ? done() : undefined));
    s.on('error', reject);
  });
}

// ---- the real wg(8) ----

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Asynchronous on purpose: our server answers from this process's event loop.
    execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const wgMissing = await run('wg', ['--version']).then((r) => (r.code === 0 ? null : 'wg (wireguard-tools) is not installed; scripts/ensure-tools.sh installs it as root'));
const needRoot = process.getuid?.() === 0 ? null : `wg looks in ${UAPI_SOCKET_DIR}, which needs root`;
const skipWg = wgMissing ?? needRoot ?? false;

test('the real wg: show, showconf, set, setconf, syncconf against our UAPI server', { skip: skipWg }, async () => {
  const name = `wgts${process.pid}`.slice(0, 15);
  const d = populated();
  const server = await serveUapi(d, { interfaceName: name });
  const files = mkdtempSync(join(tmpdir(), 'wg-cli-'));
  try {
    assert.equal(server.path, `${UAPI_SOCKET_DIR}/${name}.sock`);
    const ifaces = await run('wg', ['show', 'interfaces']);
    assert.equal(ifaces.code, 0, ifaces.stderr);
    assert.ok(ifaces.stdout.trim().split(/\s+/).includes(name), ifaces.stdout);

    // wg show NAME dump, field by field.
    const dump = await run('wg', ['show', name, 'dump']);
    assert.equal(dump.code, 0, dump.stderr);
    const [ifLine, peerLine] = dump.stdout.trim().split('\n').map((l) => l.split('\t'));
    assert.deepEqual(ifLine, [keyToBase64(PRIV), keyToBase64(publicKeyFromPrivate(PRIV)), '51820', '0x1234']);
    assert.deepEqual(peerLine, [
      keyToBase64(PEER_A),
      keyToBase64(PSK),
      '192.0.2.1:51820',
      '10.0.0.0/24,fd00::1/128',
      '1700000000',
      '1234',
      '5678',
      '25',
    ]);

    // wg showconf prints what our formatter prints for the same state.
    const conf = await run('wg', ['showconf', name]);
    assert.equal(conf.code, 0, conf.stderr);
    assert.equal(conf.stdout, formatConfig(stateToConfig(d.getState())));

    // wg set: device and peer options.
    const pskFile = join(files, 'psk');
    writeFileSync(pskFile, `${keyToBase64(Buffer.alloc(32, 0x66))}\n`);
    const set = await run('wg', [
      'set', name, 'listen-port', '51999', 'fwmark', '0x10',
      'peer', keyToBase64(PEER_B), 'allowed-ips', '10.9.0.0/16,fd09::/48', 'endpoint', '[fd00::9]:4',
      'persistent-keepalive', '7', 'preshared-key', pskFile,
    ]);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(d.listenPort, 51999);
    assert.equal(d.fwmark, 16);
    const b = d.peers.get(hx(PEER_B))!;
    assert.deepEqual(b.endpoint, { address: 'fd00::9', port: 4 });
    assert.equal(b.persistentKeepalive, 7);
    assert.deepEqual(b.presharedKey, Buffer.alloc(32, 0x66));
    assert.deepEqual(stateToConfig(d.getState()).peers[1]!.allowedIPs, [parsePrefix('10.9.0.0/16'), parsePrefix('fd09::/48')]);
    const rm = await run('wg', ['set', name, 'peer', keyToBase64(PEER_B), 'remove']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(d.hasPeer(PEER_B), false);

    // wg setconf sends what configToSetRequest() makes of the same file: same resulting state.
    const text = `[Interface]\nPrivateKey = ${keyToBase64(Buffer.alloc(32, 0x70))}\nListenPort = 40000\n\n[Peer]\nPublicKey = ${keyToBase64(PEER_B)}\nAllowedIPs = 10.5.0.0/16, 10.6.0.1/32\nEndpoint = 192.0.2.50:999\nPersistentKeepalive = off\n`;
    const cfgFile = join(files, 'wg.conf');
    writeFileSync(cfgFile, text);
    const setconf = await run('wg', ['setconf', name, cfgFile]);
    assert.equal(setconf.code, 0, setconf.stderr);
    const mine = new FakeDevice();
    applySetRequest(mine, configToSetRequest(parseConfig(text)));
    assert.equal(formatConfig(stateToConfig(d.getState())), formatConfig(stateToConfig(mine.getState())));
    assert.equal(d.peers.size, 1);

    // wg syncconf (a get, then the difference) converges on the file too.
    const sync = await run('wg', ['syncconf', name, join(files, 'wg.conf')]);
    assert.equal(sync.code, 0, sync.stderr);
    writeFileSync(cfgFile, `${text}\n[Peer]\nPublicKey = ${keyToBase64(PEER_A)}\nAllowedIPs = 10.8.0.0/16\n`);
    const sync2 = await run('wg', ['syncconf', name, cfgFile]);
    assert.equal(sync2.code, 0, sync2.stderr);
    assert.equal(d.peers.size, 2);
    assert.equal(d.listenPort, 40000);

    // A device refusal reaches wg as an errno it prints.
    d.failListenPort = true;
    const busy = await run('wg', ['set', name, 'listen-port', '1']);
    assert.notEqual(busy.code, 0);
    assert.match(busy.stderr, /Address already in use/);
    // A key wg itself rejects never reaches us.
    const badKey = await run('wg', ['set', name, 'peer', 'not-a-key']);
    assert.notEqual(badKey.code, 0);
    assert.equal(keyFromBase64(keyToBase64(PEER_A)).length, 32);
  } finally {
    await server.close();
    rmSync(files, { recursive: true, force: true });
  }
  assert.throws(() => statSync(server.path), { code: 'ENOENT' });
  const gone = await run('wg', ['show', name]);
  assert.notEqual(gone.code, 0, 'the interface is gone with the server');
});
