/**
 * Loads the native addon, or records why it could not be loaded. Importing
 * the package never throws because of the addon: callers ask `loadBinding()`
 * and fall back (see backend.ts).
 */
import { createRequire } from 'node:module';

/** The addon's exports (src/native/addon.c, addon_udp.c). */
export interface NativeBinding {
  /**
   * dispatch gets `count` ready entries of ENTRY_WORDS int32 each
   * (reactor.h ION_E_*: id, events, rcount, sdone, rerr), in memory the
   * addon owns; native's own values, never read back from shared memory.
   */
  init(dispatch: (entries: Int32Array, count: number) => void): number;
  probe(opsOut: Uint8Array): number[];
  reactorInfo(): number[];
  submit(): number;
  udpLayout(family: number, rslots: number, rslot: number, sslots: number, sdataLen: number, flags: number): number[] | number;
  udpCreate(
    family: number,
    rslots: number,
    rslot: number,
    sslots: number,
    sdataLen: number,
    multishot: number,
    ipv6Only: number,
    maxPayload: number,
    backend: number,
    flags: number,
  ): number;
  /** A view of the socket's shared memory (owned by the addon), or -errno. */
  udpMem(id: number): ArrayBuffer | number;
  /** The send frontier now (every send before it has completed), or -errno. */
  udpSdone(id: number): number;
  udpBind(id: number, family: number, addr: Uint8Array, scope: number, port: number, flags: number): number;
  udpConnect(id: number, family: number, addr: Uint8Array, scope: number, port: number): number;
  udpDisconnect(id: number): number;
  udpName(id: number, peer: number, out: Int32Array): number;
  udpSetOpt(id: number, opt: number, value: number): number;
  udpGetOpt(id: number, opt: number): number;
  udpStart(id: number): number;
  udpFlush(id: number): number;
  udpRef(id: number, ref: boolean): number;
  udpClose(id: number): number;
  udpInfo(id: number): number[];
  udpMembership(
    id: number,
    join: number,
    family: number,
    group: Uint8Array,
    source: Uint8Array | null,
    iface: Uint8Array | null,
    scope: number,
  ): number;
  udpMulticastInterface(id: number, addr: Uint8Array | null, scope: number): number;
  /** JS driver only: the Error behind the last EV_ERROR, with its syscall. */
  udpTakeError?(id: number): Error | undefined;
  /**
   * WireGuard crypto (src/native/crypto/addon_crypto.c). Synchronous, no
   * reactor needed; they throw ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE /
   * ERR_INVALID_ARG_VALUE (output overlapping an input) on bad arguments.
   * Optional: a JS driver or an older build may lack them.
   */
  /** Keyed BLAKE2s; the digest length is out.length (1..32), key 1..32 bytes. */
  wgBlake2sMac?(out: Uint8Array, key: Uint8Array, msg: Uint8Array): void;
  /** HChaCha20 of a 32-byte key and 16-byte nonce into out (32 bytes). */
  wgHChaCha20?(out: Uint8Array, key: Uint8Array, nonce: Uint8Array): void;
  /** XChaCha20-Poly1305 seal; out.length must be plaintext.length + 16. */
  wgXChaCha20Poly1305Seal?(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): void;
  /** XChaCha20-Poly1305 open; out.length must be ciphertext.length - 16; false (out zeroed) on a bad tag. */
  wgXChaCha20Poly1305Open?(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): boolean;
}

export interface BindingResult {
  binding: NativeBinding | null;
  /** Why the addon is unavailable, when it is. */
  error: Error | null;
}

let cached: BindingResult | undefined;

export function loadBinding(): BindingResult {
  if (cached) return cached;
  if (process.env.IOURING_NET_DISABLE_ADDON === '1') {
    // Documented switch: behave as where the addon cannot load (tests of the
    // node:dgram fallback, or to rule the addon out when debugging).
    cached = { binding: null, error: new Error('the native addon is disabled by IOURING_NET_DISABLE_ADDON=1') };
    return cached;
  }
  if (process.platform !== 'linux') {
    cached = { binding: null, error: new Error(`io_uring needs Linux (this is ${process.platform})`) };
    return cached;
  }
  const require = createRequire(import.meta.url);
  // dist/src/core/binding.js -> ../../../build/Release. IOURING_NET_ADDON_PATH loads
  // another build (the sanitizer run of the test suite uses it).
  const custom = process.env.IOURING_NET_ADDON_PATH;
  const candidates = custom
    ? [custom]
    : ['../../../build/Release/iouring_net.node', '../../../build/Debug/iouring_net.node'];
  let lastError: Error | null = null;
  for (const path of candidates) {
    try {
      cached = { binding: require(path) as NativeBinding, error: null };
      return cached;
    } catch (err) {
      lastError = err as Error;
    }
  }
  cached = {
    binding: null,
    error: new Error(`the native addon could not be loaded: ${lastError?.message ?? 'not built'}`),
  };
  return cached;
}
