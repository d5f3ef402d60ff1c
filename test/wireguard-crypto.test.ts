/**
 * Known-answer tests for every primitive the WireGuard handshake uses, with
 * the source of each vector cited, plus the native exports' argument checks
 * and the key encodings/validation of keys.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { loadBinding } from '../src/core/binding.js';
import { aeadOpen, aeadSeal, dh, hash, hmac, kdf } from '../src/wireguard/crypto.js';
import {
  clampPrivateKey,
  generatePresharedKey,
  generatePrivateKey,
  isBase64Key,
  isZeroKey,
  keyFromBase64,
  keyFromHex,
  keysEqual,
  keyToBase64,
  keyToHex,
  privateKeyObject,
  publicKeyFromPrivate,
} from '../src/wireguard/keys.js';
import { blake2sMac, hchacha20, xchachaOpen, xchachaSeal } from '../src/wireguard/native.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const FIXTURE = JSON.parse(readFileSync(new URL('../../test/fixtures/wireguard-handshake.json', import.meta.url), 'utf8')) as {
  blake2s128: { key: string; msg: string; mac: string }[];
};

test('X25519: RFC 7748 section 6.1 (Alice and Bob)', () => {
  const a = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const b = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
  const aPub = hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  const bPub = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  const shared = hex('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
  assert.deepEqual(publicKeyFromPrivate(a), aPub);
  assert.deepEqual(publicKeyFromPrivate(b), bPub);
  assert.deepEqual(dh(privateKeyObject(a), bPub), shared);
  assert.deepEqual(dh(privateKeyObject(b), aPub), shared);
  // Clamping is what X25519 does to the scalar anyway: same public key.
  assert.deepEqual(publicKeyFromPrivate(clampPrivateKey(Buffer.from(a))), aPub);
});

test('X25519: a low-order public key gives no shared secret', () => {
  const priv = privateKeyObject(hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
  // u = 0 and u = 1 are points of small order (RFC 7748 section 6.1: check for all-zero output).
  assert.equal(dh(priv, Buffer.alloc(32)), null);
  const one = Buffer.alloc(32);
  one[0] = 1;
  assert.equal(dh(priv, one), null);
});

test('BLAKE2s-256: RFC 7693 appendix B ("abc") and the empty input (BLAKE2 reference KAT)', () => {
  assert.deepEqual(hash(Buffer.from('abc')), hex('508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982'));
  assert.deepEqual(hash(), hex('69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9'));
  assert.deepEqual(hash(Buffer.from('a'), Buffer.from('bc')), hash(Buffer.from('abc')));
});

test('keyed BLAKE2s-256 (native BLAKE2SMAC): BLAKE2 reference KAT blake2s-kat.txt, key 00..1f, input 00..n-1', () => {
  const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  const input = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => i));
  const kat: [number, string][] = [
    [0, '48a8997da407876b3d79c0d92325ad3b89cbb754d86ab71aee047ad345fd2c49'],
    [1, '40d15fee7c328830166ac3f918650f807e7e01e177258cdc0a39b11f598066f1'],
    [2, '6bb71300644cd3991b26ccd4d274acd1adeab8b1d7914546c1198bbe9fc9d803'],
    [3, '1d220dbe2ee134661fdf6d9e74b41704710556f2f6e5a091b227697445dbea6b'],
    [63, 'c65382513f07460da39833cb666c5ed82e61b9e998f4b0c4287cee56c3cc9bcd'],
    [64, '8975b0577fd35566d750b362b0897a26c399136df07bababbde6203ff2954ed4'],
    [255, '3fb735061abc519dfe979e54c1ee5bfad0a9d858b3315bad34bde999efd724dd'],
  ];
  for (const [n, want] of kat) assert.equal(blake2sMac(key, input(n), 32).toString('hex'), want, `input length ${n}`);
});

test('keyed BLAKE2s-128 (MAC1/MAC2 size) agrees with Python hashlib.blake2s(key=, digest_size=16)', () => {
  // Vectors from test/fixtures/wireguard-handshake.py (an independent implementation).
  assert.ok(FIXTURE.blake2s128.length >= 8);
  for (const v of FIXTURE.blake2s128) {
    assert.equal(blake2sMac(hex(v.key), hex(v.msg), 16).toString('hex'), v.mac, `key ${v.key.length / 2} msg ${v.msg.length / 2}`);
  }
});

test('HMAC-BLAKE2s and the Noise KDF are HMAC chains (RFC 2104 over BLAKE2s, WireGuard paper 5.4)', () => {
  const ck = hash(Buffer.from('chaining key'));
  const input = Buffer.from('input key material');
  const [t1, t2, t3] = kdf(3, ck, input) as [Buffer, Buffer, Buffer];
  const t0 = hmac(ck, input);
  assert.deepEqual(t1, hmac(t0, Buffer.of(1)));
  assert.deepEqual(t2, hmac(t0, t1, Buffer.of(2)));
  assert.deepEqual(t3, hmac(t0, t2, Buffer.of(3)));
  assert.deepEqual(kdf(1, ck, input), [t1]);
  assert.deepEqual(kdf(2, ck, input), [t1, t2]);
});

test('ChaCha20-Poly1305 with the WireGuard nonce (4 zero bytes, le64 counter): RFC 8439 appendix A.5', () => {
  // A.5's nonce 000000000102030405060708 is exactly WireGuard's layout for counter 0x0807060504030201.
  const key = hex('1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0');
  const ad = hex('f33388860000000000004e91');
  const counter = 0x0807060504030201n;
  const pt = hex(`496e7465726e65742d4472616674732061726520647261667420646f63756d656e74732076616c696420666f722061206d
    6178696d756d206f6620736978206d6f6e74687320616e64206d617920626520757064617465642c207265706c616365642c206f72206f62736f
    6c65746564206279206f7468657220646f63756d656e747320617420616e792074696d652e20497420697320696e617070726f70726961746520
    746f2075736520496e7465726e65742d447261667473206173207265666572656e6365206d6174657269616c206f7220746f2063697465207468
    656d206f74686572207468616e206173202fe2809c776f726b20696e2070726f67726573732e2fe2809d`);
  const ct = hex(`64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb24c6cfc18755d43eea09ee94e382d26b0
    bdb7b73c321b0100d4f03b7f355894cf332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c8559797a06ef4f0ef61c186
    324e2b3506383606907b6a7c02b0f9f6157b53c867e4b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523eaf4534d7
    f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a672762709
    7a1049e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29a6ad5cb4022b02709b`);
  const tag = hex('eead9d67890cbb22392336fea1851f38');
  assert.equal(pt.length, 265);
  assert.deepEqual(aeadSeal(key, counter, pt, ad), Buffer.concat([ct, tag]));
  assert.deepEqual(aeadOpen(key, counter, Buffer.concat([ct, tag]), ad), pt);
  assert.equal(aeadOpen(key, counter + 1n, Buffer.concat([ct, tag]), ad), null);
  assert.equal(aeadOpen(key, counter, Buffer.concat([ct, tag]), Buffer.from('x')), null);
  const forged = Buffer.concat([ct, tag]);
  forged[0]! ^= 1;
  assert.equal(aeadOpen(key, counter, forged, ad), null);
  assert.equal(aeadOpen(key, 0n, Buffer.alloc(15), ad), null);
});

test('HChaCha20: draft-irtf-cfrg-xchacha-03 section 2.2.1', () => {
  const key = hex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
  const nonce = hex('000000090000004a0000000031415927');
  const out = hchacha20(key, nonce);
  assert.equal(out.toString('hex'), '82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc');
});

test('XChaCha20-Poly1305: draft-irtf-cfrg-xchacha-03 appendix A.3.1', () => {
  const pt = Buffer.from(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const ad = hex('50515253c0c1c2c3c4c5c6c7');
  const key = hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
  const iv = hex('404142434445464748494a4b4c4d4e4f5051525354555657');
  const ct = hex(`bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb
    731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452
    2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9
    21f9664c97637da9768812f615c68b13b52e`);
  const tag = hex('c0875924c1c7987947deafd8780acf49');
  const sealed = xchachaSeal(key, iv, pt, ad);
  assert.deepEqual(sealed, Buffer.concat([ct, tag]));
  assert.deepEqual(xchachaOpen(key, iv, sealed, ad), pt);
  const forged = Buffer.from(sealed);
  forged[forged.length - 1]! ^= 0x80;
  assert.equal(xchachaOpen(key, iv, forged, ad), null);
  assert.equal(xchachaOpen(key, iv, sealed, Buffer.alloc(0)), null);
  // Empty plaintext and empty AD still authenticate.
  const empty = xchachaSeal(key, iv, Buffer.alloc(0), Buffer.alloc(0));
  assert.equal(empty.length, 16);
  assert.deepEqual(xchachaOpen(key, iv, empty, Buffer.alloc(0)), Buffer.alloc(0));
});

test('native crypto exports refuse bad arguments with Node-style codes', () => {
  const b = loadBinding().binding;
  assert.ok(b?.wgBlake2sMac && b.wgHChaCha20 && b.wgXChaCha20Poly1305Seal && b.wgXChaCha20Poly1305Open, 'addon has the exports');
  const k32 = Buffer.alloc(32, 1);
  const out16 = Buffer.alloc(16);
  assert.throws(() => b.wgBlake2sMac!(out16, k32, 'x' as unknown as Uint8Array), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => b.wgBlake2sMac!(out16, new Uint16Array(16) as unknown as Uint8Array, k32), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => b.wgBlake2sMac!(out16, Buffer.alloc(0), k32), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.wgBlake2sMac!(out16, Buffer.alloc(33), k32), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.wgBlake2sMac!(Buffer.alloc(0), k32, k32), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.wgBlake2sMac!(Buffer.alloc(33), k32, k32), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => (b.wgBlake2sMac as unknown as (x: Uint8Array) => void)(out16), { code: 'ERR_MISSING_ARGS' });
  // Output overlapping an input.
  const shared = Buffer.alloc(64);
  assert.throws(() => b.wgBlake2sMac!(shared.subarray(0, 16), k32, shared.subarray(8, 40)), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => b.wgHChaCha20!(Buffer.alloc(32), k32, Buffer.alloc(15)), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.wgHChaCha20!(Buffer.alloc(31), k32, Buffer.alloc(16)), { code: 'ERR_OUT_OF_RANGE' });
  const n24 = Buffer.alloc(24);
  assert.throws(() => b.wgXChaCha20Poly1305Seal!(Buffer.alloc(20), k32, n24, Buffer.alloc(5), Buffer.alloc(0)), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.wgXChaCha20Poly1305Seal!(Buffer.alloc(21), k32, Buffer.alloc(12), Buffer.alloc(5), Buffer.alloc(0)), {
    code: 'ERR_OUT_OF_RANGE',
  });
  assert.throws(() => b.wgXChaCha20Poly1305Open!(Buffer.alloc(0), k32, n24, Buffer.alloc(15), Buffer.alloc(0)), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => b.wgXChaCha20Poly1305Open!(Buffer.alloc(2), k32, n24, Buffer.alloc(17), Buffer.alloc(0)), { code: 'ERR_OUT_OF_RANGE' });
  const inPlace = Buffer.alloc(48);
  assert.throws(() => b.wgXChaCha20Poly1305Seal!(inPlace, k32, n24, inPlace.subarray(0, 32), Buffer.alloc(0)), {
    code: 'ERR_INVALID_ARG_VALUE',
  });
});

test('keys: wg base64 rules (44 characters, one "=", canonical last character) and hex', () => {
  const key = hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  const b64 = keyToBase64(key);
  assert.equal(b64, 'hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=');
  assert.deepEqual(keyFromBase64(b64), key);
  assert.ok(isBase64Key(b64));
  // A non-canonical last character (unused bits set) decodes in Node but not in wg.
  for (const bad of [
    'hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=',
    'hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo',
    'hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo==',
    'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=',
    ' hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=',
    '',
  ]) {
    assert.equal(isBase64Key(bad), false, bad);
    assert.throws(() => keyFromBase64(bad), { code: 'ERR_WIREGUARD_INVALID_KEY' }, bad);
  }
  assert.equal(keyToHex(key), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  assert.deepEqual(keyFromHex('8520F0098930A754748B7DDCB43EF75A0DBF3A0D26381AF4EBA4A98EAA9B4E6A'), key);
  assert.throws(() => keyFromHex('8520f0'), { code: 'ERR_WIREGUARD_INVALID_KEY' });
  assert.throws(() => keyFromHex(`${'0'.repeat(63)}g`), { code: 'ERR_WIREGUARD_INVALID_KEY' });
  assert.throws(() => keyToBase64(Buffer.alloc(31)), { code: 'ERR_WIREGUARD_INVALID_KEY' });
});

test('keys: generated private keys are clamped like wg genkey; helpers', () => {
  const fixed = Buffer.alloc(32, 0xff);
  const k = generatePrivateKey(() => Buffer.from(fixed));
  assert.equal(k[0], 0xf8);
  assert.equal(k[31], 0x7f);
  for (let i = 0; i < 8; i++) {
    const r = generatePrivateKey();
    assert.equal(r[0]! & 7, 0);
    assert.equal(r[31]! & 0xc0, 0x40);
  }
  assert.equal(generatePresharedKey().length, 32);
  assert.ok(isZeroKey(Buffer.alloc(32)));
  assert.ok(!isZeroKey(k));
  assert.ok(keysEqual(k, Buffer.from(k)));
  assert.ok(!keysEqual(k, Buffer.alloc(32)));
  assert.ok(!keysEqual(k, Buffer.alloc(31)));
});
