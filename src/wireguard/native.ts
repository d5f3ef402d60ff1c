/**
 * The two WireGuard primitives node:crypto lacks, from the addon
 * (src/native/crypto: OpenSSL's BLAKE2SMAC and XChaCha20-Poly1305 built on
 * its chacha20/chacha20-poly1305). The handshake needs the addon for MAC1
 * on every message; without it, every function here throws
 * ERR_WIREGUARD_NO_ADDON naming why the addon did not load.
 */
import { loadBinding, type NativeBinding } from '../core/binding.js';
import { CodedError } from '../core/errors.js';

type CryptoBinding = Required<
  Pick<
    NativeBinding,
    | 'wgBlake2sMac'
    | 'wgHChaCha20'
    | 'wgXChaCha20Poly1305Seal'
    | 'wgXChaCha20Poly1305Open'
    | 'wgChaCha20Poly1305Seal'
    | 'wgChaCha20Poly1305Open'
    | 'wgAeadBackend'
    | 'wgAeadBench'
  >
>;

let cached: CryptoBinding | undefined;

function binding(): CryptoBinding {
  if (cached) return cached;
  const { binding: b, error } = loadBinding();
  if (!b || typeof b.wgBlake2sMac !== 'function') {
    throw new CodedError(
      'ERR_WIREGUARD_NO_ADDON',
      `WireGuard needs the native addon for keyed BLAKE2s and XChaCha20-Poly1305: ${
        error?.message ?? 'this build of the addon has no WireGuard crypto exports'
      }`,
    );
  }
  cached = b as CryptoBinding;
  return cached;
}

/** Length of an AEAD tag (Poly1305). */
export const AEAD_TAG_LENGTH = 16;

/**
 * Keyed BLAKE2s (RFC 7693) with an output of `outLength` bytes (1..32) and
 * a key of 1..32 bytes: WireGuard's MAC(key, input) is outLength 16.
 */
export function blake2sMac(key: Uint8Array, msg: Uint8Array, outLength = 16): Buffer {
  const out = Buffer.alloc(outLength);
  binding().wgBlake2sMac(out, key, msg);
  return out;
}

/** Keyed BLAKE2s into a caller's buffer (its length is the digest length). */
export function blake2sMacInto(out: Uint8Array, key: Uint8Array, msg: Uint8Array): void {
  binding().wgBlake2sMac(out, key, msg);
}

/** HChaCha20(key32, nonce16) (draft-irtf-cfrg-xchacha-03 section 2.2): 32 bytes. */
export function hchacha20(key: Uint8Array, nonce: Uint8Array): Buffer {
  const out = Buffer.alloc(32);
  binding().wgHChaCha20(out, key, nonce);
  return out;
}

/** XChaCha20-Poly1305 seal: ciphertext || 16-byte tag. */
export function xchachaSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Buffer {
  const out = Buffer.alloc(plaintext.length + AEAD_TAG_LENGTH);
  binding().wgXChaCha20Poly1305Seal(out, key, nonce, plaintext, ad);
  return out;
}

/** XChaCha20-Poly1305 open of ciphertext || tag: the plaintext, or null when it does not authenticate. */
export function xchachaOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array): Buffer | null {
  if (sealed.length < AEAD_TAG_LENGTH) return null;
  const out = Buffer.alloc(sealed.length - AEAD_TAG_LENGTH);
  return binding().wgXChaCha20Poly1305Open(out, key, nonce, sealed, ad) ? out : null;
}

/** Which OpenSSL path seals and opens WireGuard's transport data in this process. */
export interface WireGuardCrypto {
  /**
   * 'openssl-lowlevel': OpenSSL's own ChaCha20 and Poly1305 routines called
   * directly (Node's bundled OpenSSL exports them), checked once against
   * EVP; 'openssl-evp': OpenSSL's EVP interface, slower per packet.
   */
  name: 'openssl-lowlevel' | 'openssl-evp';
  /** Why this path: e.g. "IOURING_NET_WG_CRYPTO=evp". */
  reason: string;
  /** Whether this process's OpenSSL exports the low-level routines at all. */
  lowlevelAvailable: boolean;
}

/** The data path's crypto in this process (fixed at the first WireGuard keypair or call). */
export function wireGuardCrypto(): WireGuardCrypto {
  const r = binding().wgAeadBackend();
  return { name: r.name === 'openssl-lowlevel' ? 'openssl-lowlevel' : 'openssl-evp', reason: r.reason, lowlevelAvailable: r.lowlevelAvailable };
}

/**
 * The data path's ChaCha20-Poly1305 (12-byte nonce) on a chosen path:
 * ciphertext || tag, the plaintext followed by `pad` (0..15) zero bytes as
 * WireGuard pads. For tests.
 */
export function chachaSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array, lowlevel: boolean, pad = 0): Buffer {
  const out = Buffer.alloc(plaintext.length + pad + AEAD_TAG_LENGTH);
  binding().wgChaCha20Poly1305Seal(out, key, nonce, plaintext, ad, lowlevel);
  return out;
}

/** Open of ciphertext || tag on a chosen path: the plaintext, or null when it does not authenticate. For tests. */
export function chachaOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, ad: Uint8Array, lowlevel: boolean): Buffer | null {
  if (sealed.length < AEAD_TAG_LENGTH) return null;
  const out = Buffer.alloc(sealed.length - AEAD_TAG_LENGTH);
  return binding().wgChaCha20Poly1305Open(out, key, nonce, sealed, ad, lowlevel) ? out : null;
}

/**
 * What one seal and one open of a `len`-byte packet cost one core on a
 * path, each the mean of `iterations` calls (blocks while it runs: for
 * benchmarks). Throws ERR_IOURING_NET_UNSUPPORTED for lowlevel where this
 * OpenSSL lacks the routines.
 */
export function chachaCost(lowlevel: boolean, len: number, iterations: number): { sealNs: number; openNs: number } {
  return binding().wgAeadBench(lowlevel, len, iterations);
}
