/**
 * The Noise primitives of WireGuard's handshake (paper section 5.4, and
 * wireguard.com/protocol), all over node:crypto except the keyed BLAKE2s MAC
 * (native.ts):
 *
 *   HASH(x)        BLAKE2s-256
 *   HMAC(k, x)     HMAC-BLAKE2s-256
 *   KDFn(C, x)     HKDF from HMAC: t0 = HMAC(C, x), t1 = HMAC(t0, 0x1),
 *                  t(i) = HMAC(t0, t(i-1) || i)
 *   AEAD(k, n, p, a)  ChaCha20-Poly1305 with a 96-bit nonce of 32 zero bits
 *                  then the 64-bit little-endian counter n
 *   DH(priv, pub)  X25519
 *
 * Intermediate secrets made here (t0, DH outputs) are zeroed before return.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, diffieHellman, type KeyObject } from 'node:crypto';

import { isZeroKey, publicKeyObject } from './keys.js';
import { AEAD_TAG_LENGTH } from './native.js';

/** BLAKE2s-256 of the concatenation of `parts`. */
export function hash(...parts: Uint8Array[]): Buffer {
  const h = createHash('blake2s256');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** HMAC-BLAKE2s-256(key, concatenation of `parts`). */
export function hmac(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('blake2s256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

const ONE = Uint8Array.of(1);

/**
 * Noise's HKDF with n = 1, 2 or 3 outputs of 32 bytes, keyed by the chaining
 * key `key`. The caller owns (and zeroes) the outputs.
 */
export function kdf(n: 1 | 2 | 3, key: Uint8Array, input: Uint8Array): Buffer[] {
  const t0 = hmac(key, input);
  try {
    const out: Buffer[] = [hmac(t0, ONE)];
    for (let i = 2; i <= n; i++) out.push(hmac(t0, out[i - 2]!, Uint8Array.of(i)));
    return out;
  } finally {
    t0.fill(0);
  }
}

function nonce(counter: bigint): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(counter, 4);
  return n;
}

/** ChaCha20-Poly1305 seal: ciphertext || 16-byte tag. */
export function aeadSeal(key: Uint8Array, counter: bigint, plaintext: Uint8Array, ad: Uint8Array): Buffer {
  const c = createCipheriv('chacha20-poly1305', key, nonce(counter), { authTagLength: AEAD_TAG_LENGTH });
  c.setAAD(ad, { plaintextLength: plaintext.length });
  return Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]);
}

/** ChaCha20-Poly1305 open of ciphertext || tag: the plaintext, or null when it does not authenticate. */
export function aeadOpen(key: Uint8Array, counter: bigint, sealed: Uint8Array, ad: Uint8Array): Buffer | null {
  if (sealed.length < AEAD_TAG_LENGTH) return null;
  const body = sealed.subarray(0, sealed.length - AEAD_TAG_LENGTH);
  const d = createDecipheriv('chacha20-poly1305', key, nonce(counter), { authTagLength: AEAD_TAG_LENGTH });
  d.setAuthTag(sealed.subarray(sealed.length - AEAD_TAG_LENGTH));
  d.setAAD(ad, { plaintextLength: body.length });
  const out = d.update(body);
  try {
    d.final();
    return out;
  } catch {
    out.fill(0);
    return null;
  }
}

/**
 * X25519(privateKey, publicKey): the 32-byte shared secret, or null when it
 * is all zeros (a low-order public key: OpenSSL refuses it, and WireGuard
 * must never use it). `publicKey` is raw bytes or a KeyObject.
 */
export function dh(privateKey: KeyObject, publicKey: Uint8Array | KeyObject): Buffer | null {
  const pub = publicKey instanceof Uint8Array ? publicKeyObject(publicKey) : publicKey;
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey: pub });
  } catch {
    return null;
  }
  if (isZeroKey(shared)) return null;
  return shared;
}
