/**
 * Loads the native addon, or records why it could not be loaded. Importing
 * the package never throws because of the addon: callers ask `loadBinding()`
 * and fall back (see backend.ts).
 */
import { createRequire } from 'node:module';

/** The addon's exports (src/native/addon.c, addon_udp.c). */
export interface NativeBinding {
  init(dispatch: (ready: Int32Array, count: number) => void): number;
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
    mem: ArrayBuffer,
    /** An existing UDP socket to adopt, or -1 (create one). */
    fd: number,
  ): number;
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
  /** JS driver only: the node:dgram socket underneath. */
  udpNodeSocket?(id: number): object | undefined;
  /** JS driver only: bind to this node UDP handle (node:dgram's bind(handle)). */
  udpAdoptHandle?(id: number, handle: object): number;
  /** [kind, family]: what fd is, in node's guessHandleType order (udp.h ION_FD_*). */
  fdKind?(fd: number): number[];
  /** A close-on-exec duplicate of fd, or -errno. */
  fdDup?(fd: number): number;
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
