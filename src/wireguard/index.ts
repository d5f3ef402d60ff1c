/**
 * WireGuard's rare, protocol-heavy parts in TypeScript: keys, the Noise
 * handshake, cookies, timers, wg(8) configuration files and the UAPI.
 * The transport data path (per-packet crypto, replay window, AllowedIPs
 * routing) is native.
 */
export * from './keys.js';
export * from './ip.js';
export * from './messages.js';
export * from './tai64n.js';
export { hash, hmac, kdf, aeadSeal, aeadOpen, dh } from './crypto.js';
export { blake2sMac, hchacha20, xchachaSeal, xchachaOpen, AEAD_TAG_LENGTH, wireGuardCrypto, type WireGuardCrypto } from './native.js';
export * from './cookie.js';
export * from './index-table.js';
export * from './noise.js';
export * from './clock.js';
export * from './timers.js';
export * from './config.js';
export * from './uapi.js';
export * from './uapi-server.js';
export * from './device.js';
export { createWireGuard } from './create.js';
export { UapiAdapter } from './uapi-device.js';
export type { KeyInput, EndpointInput } from './peer.js';
export type { LinkCounters } from './link.js';
