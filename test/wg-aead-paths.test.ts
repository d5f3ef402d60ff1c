/**
 * The data path's ChaCha20-Poly1305 on both OpenSSL paths (src/native/wg/
 * aead.c): the low-level one (OpenSSL's ChaCha20_ctr32 and Poly1305_*
 * called directly) and EVP. Both must give RFC 8439's answer, the same
 * bytes as each other on every length and AAD, open each other's output,
 * and refuse any flipped bit. And the process picks the low-level path
 * exactly when it may: available, agreeing, not forced off.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';

import { chachaCost, chachaOpen, chachaSeal, wireGuardCrypto } from '../src/wireguard/native.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const info = wireGuardCrypto();
const noLowlevel = info.lowlevelAvailable ? false : `this OpenSSL does not export ChaCha20_ctr32/Poly1305_* (${info.reason})`;
const paths: { name: string; lowlevel: boolean; skip: string | false }[] = [
  { name: 'EVP', lowlevel: false, skip: false },
  { name: 'low-level', lowlevel: true, skip: noLowlevel },
];

// RFC 8439 section 2.8.2.
const RFC = {
  key: hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f'),
  nonce: hex('070000004041424344454647'),
  aad: hex('50515253c0c1c2c3c4c5c6c7'),
  pt: Buffer.from(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  ),
  ct: hex(`d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6
    3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36
    92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc
    3ff4def08e4b7a9de576d26586cec64b6116`),
  tag: hex('1ae10b594f09e26a7e902ecbd0600691'),
};

for (const p of paths) {
  test(`${p.name}: RFC 8439 section 2.8.2 seal and open`, { skip: p.skip }, () => {
    const sealed = chachaSeal(RFC.key, RFC.nonce, RFC.pt, RFC.aad, p.lowlevel);
    assert.deepEqual(sealed, Buffer.concat([RFC.ct, RFC.tag]));
    assert.deepEqual(chachaOpen(RFC.key, RFC.nonce, sealed, RFC.aad, p.lowlevel), RFC.pt);
  });

  test(`${p.name}: any flipped bit of ciphertext, tag, AAD or nonce is refused`, { skip: p.skip }, () => {
    const sealed = chachaSeal(RFC.key, RFC.nonce, RFC.pt, RFC.aad, p.lowlevel);
    for (let i = 0; i < sealed.length; i++) {
      const bad = Buffer.from(sealed);
      bad[i] = (bad[i] as number) ^ (1 << i % 8);
      assert.equal(chachaOpen(RFC.key, RFC.nonce, bad, RFC.aad, p.lowlevel), null, `byte ${i}`);
    }
    const aad = Buffer.from(RFC.aad);
    aad[0] = (aad[0] as number) ^ 1;
    assert.equal(chachaOpen(RFC.key, RFC.nonce, sealed, aad, p.lowlevel), null);
    const nonce = Buffer.from(RFC.nonce);
    nonce[11] = (nonce[11] as number) ^ 0x80;
    assert.equal(chachaOpen(RFC.key, nonce, sealed, RFC.aad, p.lowlevel), null);
    assert.equal(chachaOpen(RFC.key, RFC.nonce, sealed.subarray(1), RFC.aad, p.lowlevel), null, 'truncated');
  });
}

test('low-level and EVP agree on every length 0..1500 and on random AAD, keys and nonces', { skip: noLowlevel }, () => {
  for (let len = 0; len <= 1500; len++) {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const aad = randomBytes(len % 41);
    const pt = randomBytes(len);
    const a = chachaSeal(key, nonce, pt, aad, true);
    const b = chachaSeal(key, nonce, pt, aad, false);
    assert.deepEqual(a, b, `length ${len}, aad ${aad.length}`);
    assert.deepEqual(chachaOpen(key, nonce, a, aad, false), pt, `EVP opens low-level, length ${len}`);
    assert.deepEqual(chachaOpen(key, nonce, b, aad, true), pt, `low-level opens EVP, length ${len}`);
    // WireGuard's padding to 16, sealed without copying the zeros in: the
    // same bytes as sealing the zero-extended packet.
    const pad = len % 16 ? 16 - (len % 16) : (len / 16) % 16; // also padding past a 16-byte boundary
    const padded = Buffer.concat([pt, Buffer.alloc(pad)]);
    const want = chachaSeal(key, nonce, padded, aad, false);
    assert.deepEqual(chachaSeal(key, nonce, pt, aad, true, pad), want, `low-level, length ${len} + pad ${pad}`);
    assert.deepEqual(chachaSeal(key, nonce, pt, aad, false, pad), want, `EVP, length ${len} + pad ${pad}`);
    assert.deepEqual(chachaOpen(key, nonce, want, aad, true), padded);
  }
});

test('the data plane uses the low-level path exactly when it is available and not forced off', () => {
  if (!info.lowlevelAvailable) {
    assert.equal(info.name, 'openssl-evp');
    return;
  }
  const forced = process.env.IOURING_NET_WG_CRYPTO === 'evp';
  assert.equal(info.name, forced ? 'openssl-evp' : 'openssl-lowlevel', info.reason);
  // The other choice, in a child process (the choice is made once per process).
  const child = JSON.parse(
    execFileSync(process.execPath, ['--input-type=module', '-e', `import('${new URL('../src/wireguard/native.js', import.meta.url).href}').then((m) => console.log(JSON.stringify(m.wireGuardCrypto())))`], {
      env: { ...process.env, IOURING_NET_WG_CRYPTO: forced ? '' : 'evp' },
      encoding: 'utf8',
    }),
  ) as { name: string; reason: string };
  assert.equal(child.name, forced ? 'openssl-lowlevel' : 'openssl-evp');
  if (!forced) assert.match(child.reason, /IOURING_NET_WG_CRYPTO=evp/);
});

test('the low-level path is refused with a clear error where it is missing, and bad arguments throw coded errors', () => {
  if (!info.lowlevelAvailable) {
    assert.throws(() => chachaSeal(RFC.key, RFC.nonce, RFC.pt, RFC.aad, true), { code: 'ERR_IOURING_NET_UNSUPPORTED' });
  }
  assert.throws(() => chachaSeal(RFC.key, RFC.nonce.subarray(1), RFC.pt, RFC.aad, false), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => chachaSeal(RFC.key.subarray(1), RFC.nonce, RFC.pt, RFC.aad, true), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => chachaSeal(RFC.key, RFC.nonce, RFC.pt, RFC.aad, false, 16), { code: 'ERR_OUT_OF_RANGE' });
});

test('the cost probe the WireGuard benchmark uses: both paths time real work, bad arguments throw', () => {
  for (const lowlevel of info.lowlevelAvailable ? [false, true] : [false]) {
    const r = chachaCost(lowlevel, 1420, 200);
    assert.ok(Number.isFinite(r.sealNs) && r.sealNs > 0 && Number.isFinite(r.openNs) && r.openNs > 0, JSON.stringify(r));
  }
  if (!info.lowlevelAvailable) assert.throws(() => chachaCost(true, 1420, 10), { code: 'ERR_IOURING_NET_UNSUPPORTED' });
  assert.throws(() => chachaCost(false, 65537, 10), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => chachaCost(false, 1420, 0), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => chachaCost(false, -1, 10), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => chachaCost('yes' as unknown as boolean, 1420, 10), { code: 'ERR_INVALID_ARG_TYPE' });
});
