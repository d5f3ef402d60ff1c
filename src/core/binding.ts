/**
 * Loads the native addon, or records why it could not be loaded. Importing
 * the package never throws because of the addon: callers ask `loadBinding()`
 * and fall back (see backend.ts).
 *
 * Where the addon comes from (node-gyp-build's rules, the loader most
 * prebuilt Node addons use): a source build in build/Release (made by
 * `npm install` only when no prebuild loaded, or by a developer), else the
 * prebuild for this platform in prebuilds/<platform>-<arch>/ (N-API, so one
 * file serves every Node version). IOURING_NET_ADDON_PATH loads another
 * file instead (the sanitizer run of the test suite uses it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
    /** An existing UDP socket to adopt, or -1 (create one). */
    fd: number,
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
  /**
   * The data path's ChaCha20-Poly1305 (12-byte nonce) on a chosen OpenSSL
   * path (lowlevel: ChaCha20_ctr32/Poly1305_*, else EVP); seal: out.length
   * = plaintext.length + pad + 16, pad 0..15 zero bytes sealed after the
   * plaintext; open: false (out zeroed) on a bad tag.
   * lowlevel=true throws ERR_IOURING_NET_UNSUPPORTED where this OpenSSL
   * does not export those routines.
   */
  wgChaCha20Poly1305Seal?(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array, lowlevel: boolean): void;
  wgChaCha20Poly1305Open?(out: Uint8Array, key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array, lowlevel: boolean): boolean;
  /** The OpenSSL path the WireGuard data plane uses in this process, and why. */
  wgAeadBackend?(): { name: string; reason: string; lowlevelAvailable: boolean };
  /** One core's ns per seal and open of a len-byte packet on a path (bench/wireguard.ts; blocks while it runs). */
  wgAeadBench?(lowlevel: boolean, len: number, iterations: number): { sealNs: number; openNs: number };
  /** JS driver only: the node:dgram socket underneath. */
  udpNodeSocket?(id: number): object | undefined;
  /** JS driver only: bind to this node UDP handle (node:dgram's bind(handle)). */
  udpAdoptHandle?(id: number, handle: object): number;
  /** [kind, family]: what fd is, in node's guessHandleType order (udp.h ION_FD_*). */
  fdKind?(fd: number): number[];
  /** A close-on-exec duplicate of fd, or -errno. */
  fdDup?(fd: number): number;
}

/**
 * Why the addon is unavailable. `code` says which case it is (probe()
 * reports it as its `code`):
 * - ERR_IOURING_NET_ADDON_DISABLED: IOURING_NET_DISABLE_ADDON=1
 * - ERR_IOURING_NET_UNSUPPORTED_PLATFORM: not Linux
 * - ERR_IOURING_NET_ADDON_MISSING: no prebuild for this platform and no source build
 * - ERR_IOURING_NET_ADDON_LOAD_FAILED: a file was found but would not load
 */
export interface AddonError extends Error {
  code: string;
  /** The file that failed to load (ADDON_LOAD_FAILED). */
  path?: string;
}

export interface BindingResult {
  binding: NativeBinding | null;
  /** Why the addon is unavailable, when it is. */
  error: AddonError | null;
  /** The file the addon was loaded from. */
  path?: string;
}

/** The prebuild's file name in prebuilds/<platform>-<arch>/ (prebuildify's naming). */
export const PREBUILD_FILE = 'node.napi.glibc.node';
/** Written by scripts/install-failed.cjs when the source build at install time failed. */
export const INSTALL_FAILED_FILE = 'install-failed.json';

let cached: BindingResult | undefined;

function addonError(code: string, message: string, path?: string): AddonError {
  const err = new Error(message) as AddonError;
  err.code = code;
  if (path !== undefined) err.path = path;
  return err;
}

/** The package root: dist/src/core/binding.js -> ../../.. */
function packageRoot(): string {
  return fileURLToPath(new URL('../../../', import.meta.url));
}

/** What the install step recorded about a failed source build, as a clause. */
function installFailure(root: string): string {
  const file = join(root, 'build', INSTALL_FAILED_FILE);
  if (!existsSync(file)) return 'no source build was made (`npm install` builds one only when no prebuild fits)';
  try {
    const rec = JSON.parse(readFileSync(file, 'utf8')) as { reason?: string };
    return `the source build during \`npm install\` failed (${rec.reason ?? 'see its output'})`;
  } catch {
    return 'the source build during `npm install` failed';
  }
}

/** The message for "nothing to load": names both places that were looked at. */
function missingMessage(root: string): string {
  const tuple = `${platform()}-${arch()}`;
  const release = join(root, 'build', 'Release', 'iouring_net.node');
  return (
    `the native addon is missing: no prebuild for ${tuple} in ${join(root, 'prebuilds', tuple)}/ ` +
    `(this package ships linux-x64 and linux-arm64, glibc) and no source build at ${release}: ` +
    `${installFailure(root)}. To build it: install a C compiler, make and python3, then run ` +
    '`npm rebuild iouring-net`'
  );
}

function resolveAddon(require: NodeJS.Require, root: string): string | AddonError {
  const custom = process.env.IOURING_NET_ADDON_PATH;
  if (custom) return custom;
  const ngb = require('node-gyp-build') as { path(dir: string): string };
  try {
    return ngb.path(root);
  } catch {
    return addonError('ERR_IOURING_NET_ADDON_MISSING', missingMessage(root));
  }
}

function load(): BindingResult {
  if (process.env.IOURING_NET_DISABLE_ADDON === '1') {
    // Documented switch: behave as where the addon cannot load (tests of the
    // node:dgram fallback, or to rule the addon out when debugging).
    return {
      binding: null,
      error: addonError('ERR_IOURING_NET_ADDON_DISABLED', 'the native addon is disabled by IOURING_NET_DISABLE_ADDON=1'),
    };
  }
  if (process.platform !== 'linux') {
    return {
      binding: null,
      error: addonError('ERR_IOURING_NET_UNSUPPORTED_PLATFORM', `io_uring needs Linux (this is ${process.platform})`),
    };
  }
  const require = createRequire(import.meta.url);
  const path = resolveAddon(require, packageRoot());
  if (typeof path !== 'string') return { binding: null, error: path };
  try {
    return { binding: require(path) as NativeBinding, error: null, path };
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    return {
      binding: null,
      error: addonError('ERR_IOURING_NET_ADDON_LOAD_FAILED', `the native addon ${path} could not be loaded: ${why}`, path),
    };
  }
}

export function loadBinding(): BindingResult {
  cached ??= load();
  return cached;
}
