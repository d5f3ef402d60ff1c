/**
 * wg(8) configuration files (config.ts) and the address forms (ip.ts):
 * parsing as wireguard-tools' config.c does, printing as `wg showconf`,
 * round trips, and errors that name the line. The same parser is checked
 * against the real `wg setconf` in wireguard-uapi.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatConfig, parseConfig, resolveEndpoints, type WireGuardConfig } from '../src/wireguard/config.js';
import { formatEndpoint, formatIP, formatPrefix, maskPrefix, parseEndpoint, parseIP, parsePrefix } from '../src/wireguard/ip.js';
import { keyToBase64 } from '../src/wireguard/keys.js';

const K1 = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
const K2 = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const K3 = 'TrMvSoP4jYQlY6RIzBgbssQqY3vxI2Pi+y71lOWWXX0=';
const PSK = 'FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=';

const SAMPLE = `# a comment line
[Interface]
PrivateKey = ${K1}
ListenPort = 51820   # trailing comment
fwmark = 0x2a

[Peer]
PublicKey = ${K2}
PresharedKey = ${PSK}
Endpoint = 192.95.5.67:1234
AllowedIPs = 10.192.122.3/32, 10.192.124.1/24
  AllowedIPs=fd00::1 , ::/0
PersistentKeepalive = 25

[peer]
PUBLICKEY = ${K3}
Endpoint = [2607:5300:60:6b0::c05f:543]:2468
AllowedIPs = 10.10.10.230/32
PersistentKeepalive = off
`;

test('parses wg(8) configuration: comments, any whitespace, case-insensitive names, repeated AllowedIPs', () => {
  const cfg = parseConfig(SAMPLE);
  assert.equal(keyToBase64(cfg.interface.privateKey!), K1);
  assert.equal(cfg.interface.listenPort, 51820);
  assert.equal(cfg.interface.fwmark, 42);
  assert.equal(cfg.peers.length, 2);
  const [a, b] = cfg.peers as [WireGuardConfig['peers'][0], WireGuardConfig['peers'][0]];
  assert.equal(keyToBase64(a.publicKey), K2);
  assert.equal(keyToBase64(a.presharedKey!), PSK);
  assert.deepEqual(a.endpoint, { host: '192.95.5.67', port: 1234 });
  assert.deepEqual(a.allowedIPs.map(formatPrefix), ['10.192.122.3/32', '10.192.124.1/24', 'fd00::1/128', '::/0']);
  assert.equal(a.replaceAllowedIPs, true);
  assert.equal(a.persistentKeepalive, 25);
  assert.equal(keyToBase64(b.publicKey), K3);
  assert.deepEqual(b.endpoint, { host: '2607:5300:60:6b0::c05f:543', port: 2468 });
  assert.equal(b.persistentKeepalive, 0);
  assert.equal(b.presharedKey, undefined);
});

test('prints as wg showconf and round-trips', () => {
  const text = formatConfig(parseConfig(SAMPLE));
  assert.equal(
    text,
    `[Interface]
ListenPort = 51820
FwMark = 0x2a
PrivateKey = ${K1}

[Peer]
PublicKey = ${K2}
PresharedKey = ${PSK}
AllowedIPs = 10.192.122.3/32, 10.192.124.1/24, fd00::1/128, ::/0
Endpoint = 192.95.5.67:1234
PersistentKeepalive = 25

[Peer]
PublicKey = ${K3}
AllowedIPs = 10.10.10.230/32
Endpoint = [2607:5300:60:6b0::c05f:543]:2468
`,
  );
  assert.equal(formatConfig(parseConfig(text)), text);
  // The same configuration back, except what showconf leaves out (a keepalive of 0).
  const norm = (c: WireGuardConfig): WireGuardConfig => ({
    ...c,
    peers: c.peers.map((p) => ({ ...p, persistentKeepalive: p.persistentKeepalive || undefined }) as WireGuardConfig['peers'][0]),
  });
  assert.deepEqual(norm(parseConfig(text)), norm(parseConfig(SAMPLE)));
  // The minimal file: an empty [Interface].
  assert.equal(formatConfig(parseConfig('[Interface]\n')), '[Interface]\n\n');
  assert.equal(formatConfig({ interface: {}, peers: [] }), '[Interface]\n\n');
});

test('values as wg reads them: FwMark hex/decimal/off, PersistentKeepalive off, AllowedIPs +/- entries', () => {
  const cfg = parseConfig(`[Interface]\nFwMark = off\n[Peer]\nPublicKey=${K2}\nAllowedIPs = +10.0.0.0/8, -10.1.0.0/16\n`);
  assert.equal(cfg.interface.fwmark, 0);
  assert.equal(parseConfig('[Interface]\nFwMark = 1234\n').interface.fwmark, 1234);
  assert.equal(parseConfig('[Interface]\nFwMark = 0xffffffff\n').interface.fwmark, 0xffffffff);
  const p = cfg.peers[0]!;
  assert.equal(p.replaceAllowedIPs, false);
  assert.deepEqual(p.allowedIPs.map(formatPrefix), ['10.0.0.0/8']);
  assert.deepEqual(p.removedAllowedIPs.map(formatPrefix), ['10.1.0.0/16']);
  // Host bits are kept as written (wg warns, the device masks).
  assert.deepEqual(parseConfig(`[Peer]\nPublicKey=${K2}\nAllowedIPs=10.1.2.3/8\n`).peers[0]!.allowedIPs.map(formatPrefix), ['10.1.2.3/8']);
  // Later keys win, as in wg.
  assert.equal(parseConfig('[Interface]\nListenPort=1\nListenPort=2\n').interface.listenPort, 2);
  // Hostnames are kept for resolveEndpoints(); an unbracketed IPv6 splits at the last colon.
  assert.deepEqual(parseConfig(`[Peer]\nPublicKey=${K2}\nEndpoint=vpn.example.net:51820\n`).peers[0]!.endpoint, { host: 'vpn.example.net', port: 51820 });
  assert.deepEqual(parseConfig(`[Peer]\nPublicKey=${K2}\nEndpoint=::1:51820\n`).peers[0]!.endpoint, { host: '::1', port: 51820 });
});

test('errors name the line and use wg messages', () => {
  const bad: [string, number, RegExp][] = [
    ['PrivateKey = x', 1, /Line unrecognized: `PrivateKey=x'/],
    ['[Interface]\nPrivateKey = abc', 2, /Key is not the correct length or format: `abc'/],
    ['[Interface]\nPrivateKey =', 2, /Line unrecognized: `PrivateKey='/],
    ['[Interface]\nListenPort = 70000', 2, /Unable to parse port/],
    ['[Interface]\nListenPort = http', 2, /Unable to parse port/],
    ['[Interface]\nFwMark = 0x100000000', 2, /Fwmark is neither 0\/off nor 0-0xffffffff/],
    ['[Interface]\nFwMark = 0X10', 2, /Fwmark is neither/],
    ['[Interface]\nFwMark = -1', 2, /Fwmark is neither/],
    ['[Interface]\nPublicKey = ' + K2, 2, /Line unrecognized/],
    ['[Interface]\nAddress = 10.0.0.1/24', 2, /Line unrecognized: `Address=10.0.0.1\/24' \(address is a wg-quick key/],
    ['[Interface]\nDNS = 1.1.1.1', 2, /wg-quick key/],
    ['[Interface]\n[Bogus]', 2, /Line unrecognized: `\[Bogus\]'/],
    ['[Peer]\nAllowedIPs = 10.0.0.1/32', 1, /A peer is missing a public key/],
    [`[Interface]\n\n[Peer]\nPublicKey = ${K2}\n[Peer]\nEndpoint = 1.2.3.4:5`, 5, /A peer is missing a public key/],
    [`[Peer]\nPublicKey = ${K2}\nEndpoint = 1.2.3.4`, 3, /Unable to find port of endpoint: `1.2.3.4'/],
    [`[Peer]\nPublicKey = ${K2}\nEndpoint = [::1:51820`, 3, /Unable to find matching brace of endpoint/],
    [`[Peer]\nPublicKey = ${K2}\nEndpoint = [::1]51820`, 3, /Unable to find port of endpoint/],
    [`[Peer]\nPublicKey = ${K2}\nEndpoint = 1.2.3.4:99999`, 3, /port of endpoint/],
    [`[Peer]\nPublicKey = ${K2}\nAllowedIPs = 10.0.0.300/32`, 3, /Unable to parse IP address: `10.0.0.300'/],
    [`[Peer]\nPublicKey = ${K2}\nAllowedIPs = 10.0.0.0/33`, 3, /AllowedIP is not in the correct format: `10.0.0.0\/33'/],
    [`[Peer]\nPublicKey = ${K2}\nAllowedIPs = fd00::/129`, 3, /AllowedIP is not in the correct format/],
    [`[Peer]\nPublicKey = ${K2}\nAllowedIPs = 10.0.0.0/x`, 3, /AllowedIP is not in the correct format/],
    [`[Peer]\nPublicKey = ${K2}\nAllowedIPs = 10.0.0.0/8,`, 3, /Unable to parse IP address: `'/],
    [`[Peer]\nPublicKey = ${K2}\nPersistentKeepalive = 65536`, 3, /Persistent keepalive interval is neither 0\/off nor 1-65535/],
    [`[Peer]\nPublicKey = ${K2}\nPersistentKeepalive = 1s`, 3, /Persistent keepalive interval/],
  ];
  for (const [text, line, message] of bad) {
    assert.throws(
      () => parseConfig(text),
      (err: Error & { code?: string; line?: number }) => {
        assert.equal(err.code, 'ERR_WIREGUARD_CONFIG', text);
        assert.equal(err.line, line, text);
        assert.match(err.message, message, text);
        assert.match(err.message, new RegExp(`^line ${line}: `), text);
        return true;
      },
    );
  }
  assert.throws(() => parseConfig(42 as unknown as string), TypeError);
});

test('wg-quick keys are set aside with { wgQuick: true }, as `wg-quick strip` would', () => {
  const cfg = parseConfig(
    `[Interface]\nAddress = 10.0.0.1/24, fd00::1/64\nDNS = 1.1.1.1\nMTU = 1420\nPostUp = iptables -A FORWARD -i %i -j ACCEPT\nPrivateKey = ${K1}\n`,
    { wgQuick: true },
  );
  assert.equal(keyToBase64(cfg.interface.privateKey!), K1);
  assert.deepEqual(cfg.wgQuick, {
    address: ['10.0.0.1/24, fd00::1/64'],
    dns: ['1.1.1.1'],
    mtu: ['1420'],
    postup: ['iptables -A FORWARD -i %i -j ACCEPT'],
  });
  // Still unknown keys are errors.
  assert.throws(() => parseConfig('[Interface]\nFoo = 1\n', { wgQuick: true }), { code: 'ERR_WIREGUARD_CONFIG' });
});

test('resolveEndpoints resolves names and keeps numeric endpoints', async () => {
  const cfg = parseConfig(`[Peer]\nPublicKey=${K2}\nEndpoint=vpn.example.net:51820\n[Peer]\nPublicKey=${K3}\nEndpoint=[fd00::2]:1\n`);
  const asked: string[] = [];
  const out = await resolveEndpoints(cfg, async (host) => {
    asked.push(host);
    return '192.0.2.10';
  });
  assert.deepEqual(asked, ['vpn.example.net']);
  assert.deepEqual(out.peers.map((p) => p.endpoint), [{ host: '192.0.2.10', port: 51820 }, { host: 'fd00::2', port: 1 }]);
  await assert.rejects(
    resolveEndpoints(cfg, async () => {
      throw new Error('getaddrinfo ENOTFOUND vpn.example.net');
    }),
    { code: 'ERR_WIREGUARD_CONFIG', message: /ENOTFOUND vpn.example.net: `vpn.example.net:51820'/ },
  );
});

test('addresses print as inet_ntop prints them (RFC 5952, glibc IPv4 forms)', () => {
  const cases: [string, string][] = [
    ['10.0.0.1', '10.0.0.1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::1', 'fe80::1'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['2001:db8::1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:1:1:1:1:1:0', '2001:db8:1:1:1:1:1:0'],
    ['1:0:1:0:1:0:1:0', '1:0:1:0:1:0:1:0'],
    ['fd00::', 'fd00::'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::ffff:0102:0304', '::ffff:1.2.3.4'],
    ['::1.2.3.4', '::1.2.3.4'],
    ['64:ff9b::1.2.3.4', '64:ff9b::102:304'],
  ];
  for (const [input, want] of cases) assert.equal(formatIP(parseIP(input)!.bytes), want, input);
  for (const bad of ['1.2.3', '1.2.3.04', '256.1.1.1', 'fe80::1%eth0', ':::', '1::2::3', 'example.com', '']) {
    assert.equal(parseIP(bad), null, bad);
  }
  assert.deepEqual(formatPrefix(maskPrefix(parsePrefix('10.1.2.3/12')!)), '10.0.0.0/12');
  assert.deepEqual(formatPrefix(maskPrefix(parsePrefix('fd00:1:2:3::5/49')!)), 'fd00:1:2::/49');
  assert.equal(parsePrefix('10.0.0.1', true), null);
  assert.deepEqual(parseEndpoint('[fe80::1%eth0]:51820'), { address: 'fe80::1%eth0', port: 51820 });
  assert.deepEqual(parseEndpoint('[::FFFF:1.2.3.4]:1'), { address: '::ffff:1.2.3.4', port: 1 });
  for (const bad of ['::1:51820', '1.2.3.4', '[1.2.3.4]:5', '1.2.3.4%x:5', '[::1]:', '[::1]:65536', 'host:1']) {
    assert.equal(parseEndpoint(bad), null, bad);
  }
  assert.equal(formatEndpoint({ address: 'fe80::1%eth0', port: 7 }), '[fe80::1%eth0]:7');
  assert.equal(formatEndpoint({ address: '10.0.0.1', port: 7 }), '10.0.0.1:7');
});
