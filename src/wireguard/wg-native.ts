/**
 * The addon's WireGuard transport exports (src/native/addon/addon_wg*.c),
 * typed: the native device (peers, AllowedIPs trie, keypairs, counters),
 * the batch calls between the UDP socket and the TUN device
 * (addon_wg_link.c), and the copying calls the dgram backend falls back to
 * (addon_wg_batch.c). Only the device (device.ts, link.ts) uses these.
 */
import { loadBinding } from '../core/binding.js';
import { CodedError } from '../core/errors.js';

/** An opaque handle from wgCreate. */
export type WgHandle = object;

/** An endpoint as the native calls take and give it. */
export interface WgEndpoint {
  family: number;
  address: Uint8Array | null;
  port: number;
  scopeId?: number;
}

export interface WgTxMessage {
  peer: number;
  data: Buffer;
  endpoint: WgEndpoint;
}

export interface WgTxResult {
  sent: number;
  staged: number;
  dropped: number;
  sinkFull: boolean;
  messages: WgTxMessage[];
}

export interface WgRxResult {
  delivered: number;
  keepalives: number;
  handshakes: number;
  dropped: number;
  packets: { peer: number; data: Buffer }[];
  handshakeMessages: { index: number; type: number }[];
}

export interface WgPeerStats {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  rxKeepalives: number;
  txKeepalives: number;
  lastRxNs: number;
  lastTxNs: number;
  staged: number;
  currentSendCounter: number;
  owesKeepalive: boolean;
  hasCurrent: boolean;
  hasPrevious: boolean;
  hasNext: boolean;
  drops: number[];
  endpoint: WgEndpoint;
}

/**
 * How the calls that write into the UDP send ring end (tx_setup in
 * addon_wg_link.c): seq..bytes are a window of the socket's send queue
 * (SendQueue.window()), slots 0 for none.
 */
type UdpTx = [udpId: number, seq: number, slots: number, at: number, bytes: number, now: number, out: Int32Array];

/** The wg* exports. Arguments JS gets wrong throw coded errors; failures return -errno. */
export interface WgNative {
  wgCreate(mtu: number, stagedCap: number, maxBatch: number): WgHandle | number;
  wgClose(d: WgHandle): number;
  wgPeerAdd(d: WgHandle, id: number): number;
  wgPeerRemove(d: WgHandle, id: number): number;
  wgPeerEndpoint(d: WgHandle, id: number, ep: WgEndpoint | null): number;
  wgAllowedIpAdd(d: WgHandle, id: number, addr: Uint8Array, cidr: number): number;
  wgAllowedIpRemove(d: WgHandle, id: number, addr: Uint8Array, cidr: number): number;
  wgAllowedIpClear(d: WgHandle, id: number): number;
  wgAllowedIpList(d: WgHandle, id: number): [Buffer, number][] | number;
  wgAllowedIpLookup(d: WgHandle, addr: Uint8Array): number;
  wgKeypairInstall(
    d: WgHandle,
    id: number,
    sendKey: Uint8Array,
    recvKey: Uint8Array,
    localIndex: number,
    remoteIndex: number,
    initiator: boolean,
    now: bigint,
  ): number;
  wgKeypairsClear(d: WgHandle, id: number): number;
  wgKeypairDrop(d: WgHandle, id: number, localIndex: number): number;
  wgStagedClear(d: WgHandle, id: number): number;
  wgIndexInUse(d: WgHandle, index: number): boolean;
  wgPeerStats(d: WgHandle, id: number): WgPeerStats | number;
  wgDrops(d: WgHandle): number[];
  wgTunHeadroom(d: WgHandle, n: number): number;
  wgSummariesInto(d: WgHandle, out: Float64Array): number;
  // The ring-to-ring data path (see addon_wg_link.c for `out`).
  wgSealTun(d: WgHandle, tunId: number, start: number, count: number, ...tx: UdpTx): number;
  wgOpenUdp(
    d: WgHandle,
    udpId: number,
    start: number,
    count: number,
    tunId: number,
    seq: number,
    slots: number,
    at: number,
    bytes: number,
    now: number,
    out: Int32Array,
    hs: Int32Array,
  ): number;
  wgFlushTo(d: WgHandle, ...tx: UdpTx): number;
  wgKeepaliveTo(d: WgHandle, peer: number, onlyIfOwed: boolean, ...tx: UdpTx): number;
  // Copying calls (the dgram backend, which has no native socket).
  wgEncrypt(d: WgHandle, packets: Uint8Array[], now: bigint): WgTxResult | number;
  wgFlushStaged(d: WgHandle, now: bigint): WgTxResult | number;
  wgKeepalive(d: WgHandle, id: number, now: bigint, onlyIfOwed: boolean): WgTxResult | number;
  wgDecrypt(d: WgHandle, datagrams: Uint8Array[], sources: WgEndpoint[] | null, now: bigint): WgRxResult | number;
  wgConstants: { drops: string[]; flags: Record<string, number>; maxPeerId: number };
}

/** Words of the `out` array of the link calls (addon_wg_link.c). */
export const OUT = {
  words: 8,
  next: 0,
  used: 1,
  sent: 2,
  staged: 3,
  dropped: 4,
  sinkFull: 5,
  delivered: 2,
  keepalives: 3,
  handshakes: 4,
  rxDropped: 5,
  handshakeCount: 6,
} as const;

/** Doubles per summary of wgSummariesInto. */
export const SUMMARY_WORDS = 8;

/** Per-peer summary flags (src/native/wg/wg_types.h enum wg_peer_flag). */
export const FLAG = {
  dataSent: 1 << 0,
  keepaliveSent: 1 << 1,
  authSent: 1 << 2,
  dataReceived: 1 << 3,
  keepaliveReceived: 1 << 4,
  authReceived: 1 << 5,
  handshakeWanted: 1 << 6,
  keepaliveWanted: 1 << 7,
  keypairConfirmed: 1 << 8,
  endpointChanged: 1 << 9,
  staged: 1 << 10,
} as const;

let cached: WgNative | undefined;

/** The addon's wg* exports; throws ERR_WIREGUARD_NO_ADDON naming why they are missing. */
export function wgNative(): WgNative {
  if (cached) return cached;
  const { binding, error } = loadBinding();
  const b = binding as unknown as Partial<WgNative> | null;
  if (!b || typeof b.wgSealTun !== 'function' || typeof b.wgCreate !== 'function') {
    throw new CodedError(
      'ERR_WIREGUARD_NO_ADDON',
      `a WireGuard device needs the native addon (its data path and the TUN device are native): ${
        error?.message ?? 'this build of the addon has no WireGuard device exports'
      }`,
    );
  }
  // The flag values are mirrored above: a stale build must not misread them.
  for (const [name, bit] of Object.entries(FLAG)) {
    if (b.wgConstants?.flags[name] !== bit) throw new CodedError('ERR_WIREGUARD_NO_ADDON', `the addon's WireGuard flag ${name} differs (stale build?)`);
  }
  cached = b as WgNative;
  return cached;
}
