/**
 * WireGuard keys: 32-byte Curve25519 private/public keys and preshared keys,
 * in the encodings wg(8) uses (base64 in configuration files, lowercase hex
 * over the UAPI socket), with wg's validation rules, and helpers to zero
 * secrets when they are dropped.
 *
 * X25519 is node:crypto's (OpenSSL): raw keys go in through their PKCS#8 /
 * SPKI DER forms, since node:crypto has no raw X25519 import.
 */
import { createPrivateKey, createPublicKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

import { CodedError } from '../core/errors.js';

/** Every WireGuard key (private, public, preshared) is 32 bytes. */
export const KEY_LENGTH = 32;

/** A key's length in base64 (with its one '=') and in hex. */
export const KEY_BASE64_LENGTH = 44;
export const KEY_HEX_LENGTH = 64;

/** RFC 8410 PKCS#8 / SPKI prefixes for a raw 32-byte X25519 key (OID 1.3.101.110). */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/**
 * wg's key_from_base64 accepts exactly 43 base64 characters and one '=':
 * standard alphabet, and the last character must leave the two unused bits
 * zero (only one spelling per key).
 */
const BASE64_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/** Thrown for a key that is not 32 bytes in the expected encoding. */
export class InvalidKeyError extends CodedError {
  constructor(message: string) {
    super('ERR_WIREGUARD_INVALID_KEY', message);
  }
}

/** Whether `text` is a key in wg's base64 form (44 characters, canonical). */
export function isBase64Key(text: string): boolean {
  return BASE64_KEY.test(text);
}

/** Decode a base64 key as wg(8) does; throws InvalidKeyError otherwise. */
export function keyFromBase64(text: string): Buffer {
  if (typeof text !== 'string' || !BASE64_KEY.test(text)) {
    throw new InvalidKeyError('Key is not the correct length or format');
  }
  return Buffer.from(text, 'base64');
}

/** Encode a 32-byte key as base64 (44 characters). */
export function keyToBase64(key: Uint8Array): string {
  checkKey(key, 'key');
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString('base64');
}

/** Decode a 64-character hex key (either case, as wg and wireguard-go accept). */
export function keyFromHex(text: string): Buffer {
  if (typeof text !== 'string' || !HEX_KEY.test(text)) {
    throw new InvalidKeyError('Key is not 64 hexadecimal characters');
  }
  return Buffer.from(text, 'hex');
}

/** Encode a 32-byte key as lowercase hex (the UAPI form). */
export function keyToHex(key: Uint8Array): string {
  checkKey(key, 'key');
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString('hex');
}

/** Throws InvalidKeyError unless `key` is a Uint8Array of 32 bytes. */
export function checkKey(key: unknown, name: string): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== KEY_LENGTH) {
    throw new InvalidKeyError(`${name} must be a Uint8Array of ${KEY_LENGTH} bytes`);
  }
}

/** Whether all 32 bytes are zero, in time independent of the key. */
export function isZeroKey(key: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < key.length; i++) acc |= key[i]!;
  return acc === 0;
}

/** Constant-time equality of two keys (false when their lengths differ). */
export function keysEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Overwrite every given buffer with zeros (null/undefined are skipped). */
export function zero(...buffers: (Uint8Array | null | undefined)[]): void {
  for (const b of buffers) b?.fill(0);
}

/**
 * Clamp a Curve25519 private key in place, as X25519 does to its scalar
 * (RFC 7748 section 5) and as `wg genkey` stores it. Returns `key`.
 */
export function clampPrivateKey(key: Uint8Array): Uint8Array {
  checkKey(key, 'privateKey');
  key[0]! &= 248;
  key[31] = (key[31]! & 127) | 64;
  return key;
}

/** A new random private key, clamped (what `wg genkey` prints). */
export function generatePrivateKey(random: (size: number) => Buffer = randomBytes): Buffer {
  const key = random(KEY_LENGTH);
  checkKey(key, 'random bytes');
  clampPrivateKey(key);
  return key;
}

/** A new random preshared key (`wg genpsk`). */
export function generatePresharedKey(random: (size: number) => Buffer = randomBytes): Buffer {
  const key = random(KEY_LENGTH);
  checkKey(key, 'random bytes');
  return key;
}

/**
 * A node:crypto KeyObject for a raw X25519 private key. OpenSSL clamps the
 * scalar when it uses it, so unclamped keys give the same results as their
 * clamped form (RFC 7748). The DER copy made here is zeroed; the KeyObject
 * keeps the secret in OpenSSL memory, which OpenSSL clears when the object
 * is garbage collected (a KeyObject cannot be wiped on demand).
 */
export function privateKeyObject(key: Uint8Array): KeyObject {
  checkKey(key, 'privateKey');
  const der = Buffer.concat([PKCS8_X25519_PREFIX, key]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

/** A node:crypto KeyObject for a raw X25519 public key. */
export function publicKeyObject(key: Uint8Array): KeyObject {
  checkKey(key, 'publicKey');
  return createPublicKey({ key: Buffer.concat([SPKI_X25519_PREFIX, key]), format: 'der', type: 'spki' });
}

/** The raw 32 bytes of an X25519 public KeyObject (or of a private one's public half). */
export function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const der = pub.export({ format: 'der', type: 'spki' });
  return Buffer.from(der.subarray(der.length - KEY_LENGTH));
}

/** The public key of a raw private key (`wg pubkey`): X25519(clamp(key), 9). */
export function publicKeyFromPrivate(privateKey: Uint8Array): Buffer {
  return rawPublicKey(privateKeyObject(privateKey));
}
